r"""The textbook baseline: one training iteration written step by step, as course solutions do.

``benchmarks/speed.py`` measures the package against this file. It computes the same loss,
gradients and AdaGrad update as ``charrnn_edu`` (same notation, same initial parameters for the
same seed), but in the per-time-step style of most DD2424 solutions and of Karpathy's
min-char-rnn, written here from scratch::

    a_t = W h_{t-1} + U x_t + b,   h_t = tanh(a_t),   o_t = V h_t + c,   p_t = softmax(o_t)
    L = -sum_t ln p_t[y_t]

It is slow, and deliberately so, for three reasons:

- per-step allocation: every step builds a fresh one-hot x_t (K, 1) and stores h_t, p_t in
  dictionaries, so each iteration makes hundreds of small arrays;
- one-hot products: ``np.dot(U, x_t)`` multiplies all K columns of U to pick out one of them
  (the package gathers column x_t instead), and ``np.dot(da, x_t.T)`` builds a full (m, K)
  matrix to change one column of dU;
- per-step outer products: dV, dW and dU are sums of tau outer products, one np.dot call each,
  instead of one matrix product over all time steps.

At m = 100 the cost is the number of numpy calls, not the arithmetic, so all three add up.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

Params = dict[str, np.ndarray]


def init(K: int, m: int = 100, sigma: float = 0.01, *, rng: np.random.Generator) -> Params:
    """Biases zero; U, W, V from N(0, sigma^2), drawn in that order like ``RNN.init``."""
    return {"b": np.zeros((m, 1)),                          # (m, 1)
            "c": np.zeros((K, 1)),                          # (K, 1)
            "U": sigma * rng.standard_normal((m, K)),       # (m, K)
            "W": sigma * rng.standard_normal((m, m)),       # (m, m)
            "V": sigma * rng.standard_normal((K, m))}       # (K, m)


def loss_and_gradients(params: Params, inputs: np.ndarray, targets: np.ndarray,
                       hprev: np.ndarray) -> tuple[float, Params, np.ndarray]:
    """Loss, gradients (unclipped) and last hidden state for one sequence, step by step."""
    b, c, U, W, V = (params[name] for name in "bcUWV")
    K, tau = V.shape[0], len(inputs)
    xs, hs, ps = {}, {}, {}
    hs[-1] = np.copy(hprev)                                 # (m, 1), h_0
    loss = 0.0

    # Forward, one time step at a time.
    for t in range(tau):
        xs[t] = np.zeros((K, 1))                            # (K, 1), one-hot x_t
        xs[t][inputs[t]] = 1.0
        a = np.dot(U, xs[t]) + np.dot(W, hs[t - 1]) + b     # (m, 1)
        hs[t] = np.tanh(a)                                  # (m, 1)
        o = np.dot(V, hs[t]) + c                            # (K, 1)
        e = np.exp(o - np.max(o))                           # shift so exp cannot overflow
        ps[t] = e / np.sum(e)                               # (K, 1)
        loss += -np.log(ps[t][targets[t], 0])

    # Backward, from t = tau-1 down to 0.
    grads = {name: np.zeros_like(p) for name, p in params.items()}
    dh_next = np.zeros_like(hs[0])                          # (m, 1), W^T da_{t+1}
    for t in reversed(range(tau)):
        g = np.copy(ps[t])                                  # (K, 1), g_t = p_t - y_t
        g[targets[t]] -= 1.0
        grads["V"] += np.dot(g, hs[t].T)                    # (K, m)
        grads["c"] += g
        dh = np.dot(V.T, g) + dh_next                       # (m, 1)
        da = (1.0 - hs[t] ** 2) * dh                        # (m, 1), tanh' = 1 - h^2
        grads["b"] += da
        grads["U"] += np.dot(da, xs[t].T)                   # (m, K)
        grads["W"] += np.dot(da, hs[t - 1].T)               # (m, m)
        dh_next = np.dot(W.T, da)                           # (m, 1)
    return float(loss), grads, hs[tau - 1]


def train(data_ids: np.ndarray, K: int, iterations: int, m: int = 100, seq_length: int = 25,
          eta: float = 0.1, sigma: float = 0.01, clip: float = 5.0, seed: int = 0) -> list[float]:
    """Train with the report's loop; return the loss of every iteration."""
    if len(data_ids) < seq_length + 1:
        raise ValueError(f"need at least seq_length + 1 = {seq_length + 1} characters, "
                         f"got {len(data_ids)}")
    params = init(K, m, sigma, rng=np.random.default_rng(seed))
    mem = {name: np.zeros_like(p) for name, p in params.items()}
    h = np.zeros((m, 1))
    e = 0
    losses = []
    # Its own loop on purpose, not charrnn_edu's Trainer: the baseline that speed.py and the
    # README compare the package against shares no code with the package.
    for _ in range(iterations):
        if len(data_ids) - e < seq_length + 1:              # end of the data: new epoch
            e, h = 0, np.zeros((m, 1))
        X = data_ids[e:e + seq_length]
        Y = data_ids[e + 1:e + seq_length + 1]
        loss, grads, h = loss_and_gradients(params, X, Y, h)
        for name in params:
            g = np.clip(grads[name], -clip, clip)
            mem[name] += g * g
            params[name] -= eta * g / np.sqrt(mem[name] + 1e-8)
        losses.append(loss)
        e += seq_length
    return losses


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description="Train the textbook loop on the bundled corpus.")
    parser.add_argument("--iterations", type=int, default=2000)
    n = parser.parse_args().iterations
    text = (Path(__file__).resolve().parent.parent / "data" / "shakespeare.txt").read_text("utf-8")
    chars = sorted(set(text))
    char_to_id = {ch: k for k, ch in enumerate(chars)}
    data = np.array([char_to_id[ch] for ch in text], dtype=np.int64)
    start = time.perf_counter()
    losses = train(data, len(chars), n)
    seconds = time.perf_counter() - start
    print(f"textbook: K={len(chars)}, {n} iterations in {seconds:.2f} s = {n / seconds:.0f} it/s; "
          f"loss {losses[0]:.2f} -> {losses[-1]:.2f}")
