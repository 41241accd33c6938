"""A learner's own RNN, as the course's 2026 edition writes it: every vector a row.

h_t = tanh(h_{t-1} W + x_t U + b), o_t = h_t V + c; U (K, m), W (m, m), V (m, K), b (1, m),
c (1, K), h0 (1, m). Vectorised numpy, as a student writes it (the tests plant slips in it).
With the edition's Adam step, in rows too (``charrnn exercises train --yours``).
"""

import numpy as np

LOSS = "mean"           # "sum" or "mean" over the tau steps
CLIP = None             # clip the gradients at +-CLIP before returning them
DTYPE = np.float64


def loss_and_gradients(params, x, y, h0):
    U, W, V, b, c = (params[k].astype(DTYPE) for k in ("U", "W", "V", "b", "c"))
    tau, K, m = len(x), U.shape[0], W.shape[0]
    X, Y = np.eye(K, dtype=DTYPE)[x], np.eye(K, dtype=DTYPE)[y]    # (tau, K) one-hot rows
    H = np.zeros((tau + 1, m), dtype=DTYPE)                        # row 0 is h0
    H[0] = h0[0]
    for t in range(tau):
        H[t + 1] = np.tanh(H[t] @ W + X[t] @ U + b[0])
    O = H[1:] @ V + c                                              # (tau, K)
    P = np.exp(O - O.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    loss = -np.log(P[np.arange(tau), y]).sum()
    G = P - Y                                                      # dL/do, (tau, K)
    if LOSS == "mean":
        loss, G = loss / tau, G / tau
    dV = H[1:].T @ G
    dc = G.sum(axis=0, keepdims=True)
    dA = np.zeros((tau, m), dtype=DTYPE)
    da = np.zeros(m, dtype=DTYPE)
    for t in reversed(range(tau)):
        dh = G[t] @ V.T + da @ W.T
        da = dh * (1 - H[t + 1] ** 2)
        dA[t] = da
    dW = H[:-1].T @ dA
    dU = X.T @ dA
    db = dA.sum(axis=0, keepdims=True)
    grads = {"b": db, "c": dc, "U": dU, "W": dW, "V": dV}
    if CLIP is not None:
        for g in grads.values():
            np.clip(g, -CLIP, CLIP, out=g)
    return loss, grads


def adam_step(params, grads, first, second, t, eta, beta1, beta2, eps):
    for k in params:
        first[k] = beta1 * first[k] + (1 - beta1) * grads[k]
        second[k] = beta2 * second[k] + (1 - beta2) * grads[k] ** 2
        s_hat = first[k] / (1 - beta1 ** t)
        r_hat = second[k] / (1 - beta2 ** t)
        params[k] -= eta * s_hat / (np.sqrt(r_hat) + eps)
