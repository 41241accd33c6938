"""A learner's own RNN in the report's columns: every vector a column, time steps columns too.

h_t = tanh(W h_{t-1} + U x_t + b), o_t = V h_t + c; U (m, K), W (m, m), V (K, m), b (m, 1),
c (K, 1), h0 (m, 1). Vectorised numpy, as a student writes it (the tests plant slips in it).
With the report's AdaGrad step, in columns too (``charrnn exercises train --yours``).
"""

import numpy as np

LOSS = "sum"            # "sum" or "mean" over the tau steps
CLIP = None             # clip the gradients at +-CLIP before returning them
DTYPE = np.float64


def loss_and_gradients(params, x, y, h0):
    b, c, U, W, V = (params[k].astype(DTYPE) for k in ("b", "c", "U", "W", "V"))
    tau, (m, K) = len(x), U.shape
    X, Y = np.eye(K, dtype=DTYPE)[:, x], np.eye(K, dtype=DTYPE)[:, y]   # (K, tau) one-hot
    H = np.zeros((m, tau + 1), dtype=DTYPE)                            # column 0 is h0
    H[:, 0] = h0[:, 0]
    for t in range(tau):
        H[:, t + 1] = np.tanh(W @ H[:, t] + U @ X[:, t] + b[:, 0])
    O = V @ H[:, 1:] + c                                               # (K, tau)
    P = np.exp(O - O.max(axis=0, keepdims=True))
    P /= P.sum(axis=0, keepdims=True)
    loss = -np.log(P[y, np.arange(tau)]).sum()
    G = P - Y                                                          # dL/do, (K, tau)
    if LOSS == "mean":
        loss, G = loss / tau, G / tau
    dV = G @ H[:, 1:].T
    dc = G.sum(axis=1, keepdims=True)
    dA = np.zeros((m, tau), dtype=DTYPE)
    da = np.zeros(m, dtype=DTYPE)
    for t in reversed(range(tau)):
        dh = V.T @ G[:, t] + W.T @ da
        da = dh * (1 - H[:, t + 1] ** 2)
        dA[:, t] = da
    dW = dA @ H[:, :-1].T
    dU = dA @ X.T
    db = dA.sum(axis=1, keepdims=True)
    grads = {"b": db, "c": dc, "U": dU, "W": dW, "V": dV}
    if CLIP is not None:
        for g in grads.values():
            np.clip(g, -CLIP, CLIP, out=g)
    return loss, grads


def adagrad_step(params, grads, memory, eta, eps):
    for k in params:
        memory[k] += grads[k] ** 2
        params[k] -= eta * grads[k] / np.sqrt(memory[k] + eps)
