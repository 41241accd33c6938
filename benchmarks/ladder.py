r"""From the chapters to the engine, one technique at a time: the rungs that ``speed.py --ladder``
times. Each rung is one training iteration (forward, loss, BPTT, clipping, AdaGrad) that adds
one technique to the rung before it; the last rungs are ``charrnn_edu.engine`` itself.

Every rung returns the loss and the next hidden state and updates the parameters in place,
exactly like the chapters (tests/test_engine.py proves the engine equal; ``check`` below runs
every rung against the chapters on real text before anything is timed).
"""

from __future__ import annotations

import numpy as np

from charrnn_edu.adagrad import AdaGrad, clip
from charrnn_edu.bptt import gradients
from charrnn_edu.engine import Engine
from charrnn_edu.forward import RNN


def chapters(rnn: RNN, opt: AdaGrad, tau: int):
    """Rung 1: chapters 4 and 6 as written, a step function per time step."""
    def iterate(x, y, h):
        loss, grads, h = gradients(rnn, x, y, h)
        opt.step(rnn, clip(grads))
        return loss, h
    return iterate


def outside_the_recurrence(rnn: RNN, opt: AdaGrad, tau: int):
    """Rung 2: only (2.1)-(2.2) and (4.4)-(4.5) loop over t; the input term is one gather,
    everything else one matrix operation over all tau steps, rows are time steps."""
    def iterate(x, y, h0):
        A = rnn.U.T[x] + rnn.b.T                       # (tau, m), row t = (U x_t + b)^T
        H = np.zeros((tau + 1, rnn.m))
        H[0] = h0[:, 0]
        for t in range(tau):
            H[t + 1] = np.tanh(np.dot(rnn.W, H[t]) + A[t])
        logits = np.dot(H[1:], rnn.V.T) + rnn.c.T      # (tau, K), rows o_t^T
        P = np.exp(logits - logits.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        loss = -np.log(P[np.arange(tau), y]).sum()
        G = P
        G[np.arange(tau), y] -= 1                      # (4.1)
        dH_out = np.dot(G, rnn.V)                      # (tau, m), rows (V^T g_t)^T
        D = 1 - H[1:] ** 2
        dA = np.zeros((tau, rnn.m))
        da = np.zeros(rnn.m)
        for t in range(tau - 1, -1, -1):
            da = dA[t] = (dH_out[t] + np.dot(da, rnn.W)) * D[t]
        dU = np.zeros((rnn.K, rnn.m))
        np.add.at(dU, x, dA)                           # (4.7) as rows of dU^T
        grads = RNN(b=dA.sum(axis=0)[:, None], c=G.sum(axis=0)[:, None], U=dU.T,
                    W=np.dot(dA.T, H[:tau]), V=np.dot(G.T, H[1:]))
        opt.step(rnn, clip(grads))
        return loss, H[tau][:, None].copy()
    return iterate


def buffers_once(rnn: RNN, opt: AdaGrad, tau: int):
    """Rung 3: rung 2 writing into buffers made once (``out=``), loops over lists of row
    views made once, dU as one product with a one-hot matrix; AdaGrad per parameter, in place,
    with temporaries made once. Still three numpy calls per forward step."""
    m, K = rnn.m, rnn.K
    A, H, P = np.empty((tau, m)), np.zeros((tau + 1, m)), np.empty((tau, K))
    D, dH_out, dA = np.empty((tau, m)), np.empty((tau, m)), np.empty((tau + 1, m))
    onehot, steps = np.zeros((tau, K)), np.arange(tau)
    grads = rnn.map(np.zeros_like)
    temps = [(np.empty_like(a), np.empty_like(a)) for a in rnn]
    forward_rows = list(zip(H[:tau], H[1:], A, strict=True))
    backward_rows = list(zip(dA[tau:0:-1], dA[tau - 1::-1], dH_out[tau - 1::-1], D[::-1],
                             strict=True))
    if opt.memory is None:
        opt.memory = rnn.map(np.zeros_like)

    def iterate(x, y, h0):
        dot, tanh, add, multiply = np.dot, np.tanh, np.add, np.multiply
        np.take(rnn.U.T, x, axis=0, out=A)
        add(A, rnn.b.T, out=A)
        H[0] = h0[:, 0]
        for h_prev, h, a in forward_rows:
            dot(h_prev, rnn.W.T, out=h)
            add(h, a, out=h)
            tanh(h, out=h)
        dot(H[1:], rnn.V.T, out=P)
        add(P, rnn.c.T, out=P)
        np.subtract(P, P.max(axis=1, keepdims=True), out=P)
        np.exp(P, out=P)
        np.divide(P, P.sum(axis=1, keepdims=True), out=P)
        loss = -np.log(P[steps, y]).sum()
        P[steps, y] -= 1
        dot(P, rnn.V, out=dH_out)
        multiply(H[1:], H[1:], out=D)
        np.subtract(1, D, out=D)
        dA[tau] = 0
        for da_next, da, dh_out, d_tanh in backward_rows:
            dot(da_next, rnn.W, out=da)
            add(da, dh_out, out=da)
            multiply(da, d_tanh, out=da)
        dot(P.T, H[1:], out=grads.V)
        P.sum(axis=0, out=grads.c[:, 0])
        dot(dA[:tau].T, H[:tau], out=grads.W)
        dA[:tau].sum(axis=0, out=grads.b[:, 0])
        onehot[steps, x] = 1
        dot(dA[:tau].T, onehot, out=grads.U)
        onehot[steps, x] = 0
        for theta, g, mem, (tmp, tmp2) in zip(rnn, grads, opt.memory, temps, strict=True):
            np.clip(g, -5, 5, out=g)
            multiply(g, g, out=tmp)
            mem += tmp
            add(mem, opt.eps, out=tmp)
            np.sqrt(tmp, out=tmp)
            multiply(g, opt.eta, out=tmp2)
            tmp2 /= tmp
            theta -= tmp2
        return loss, H[tau][:, None].copy()
    return iterate


def engine(rnn: RNN, opt: AdaGrad, tau: int, kind: type[Engine] = Engine):
    """Rungs 4 and beyond: ``charrnn_edu.engine`` (the additive terms inside the products,
    one flat buffer for parameters, gradients and optimiser state)."""
    fast = kind(rnn, opt, rnn.copy(), tau=tau, clip=5.0)

    def iterate(x, y, h):
        loss = fast.loss_and_gradients(x, y, h)
        fast.update()
        return loss, fast.h
    return iterate


class _StreamsAtOne(Engine):
    """The engine's batched path (``_streams``) run with B = 1: one fused path for every B."""

    def _one_stream_buffers(self) -> None:
        self._stream_buffers()

    def loss_and_gradients(self, x, y, h0):
        return self._streams(x[None, :], y[None, :], h0)

    @property
    def h(self):
        return self.H[self.tau].T.copy()                # (1, m) -> (m, 1)


def engine_batched_path(rnn: RNN, opt: AdaGrad, tau: int):
    """Tried for issue 19: B = 1 through the batched path, without tricks 3-4's single-stream
    buffers (the one-hot product of dU is replaced by the sort-and-reduceat of B streams)."""
    return engine(rnn, opt, tau, kind=_StreamsAtOne)


def engine_touched_columns(rnn: RNN, opt: AdaGrad, tau: int):
    """Tried and not taken: the engine with AdaGrad restricted to the columns of U that the
    piece touches (exact, since the other columns have zero gradient)."""
    fast = Engine(rnn, opt, rnn.copy(), tau=tau, clip=5.0)
    start = rnn.m + rnn.K                             # the flat layout is b, c, U, W, V
    dense = (slice(0, start), slice(start + rnn.m * rnn.K, None))      # all but U

    def iterate(x, y, h):
        loss = fast.loss_and_gradients(x, y, h)
        np.clip(fast.grad, -5, 5, out=fast.grad)
        for part in dense:
            g, mem, theta = fast.grad[part], fast.state["memory"][part], fast.theta[part]
            tmp, tmp2 = fast.tmp[part], fast.tmp2[part]
            np.multiply(g, g, out=tmp)
            mem += tmp
            np.add(mem, opt.eps, out=tmp)
            np.sqrt(tmp, out=tmp)
            np.multiply(g, opt.eta, out=tmp2)
            tmp2 /= tmp
            theta -= tmp2
        cols = np.flatnonzero(np.bincount(x, minlength=rnn.K))
        gc, mc = fast.grads.U[:, cols], opt.memory.U[:, cols]
        mc += gc * gc
        opt.memory.U[:, cols] = mc
        rnn.U[:, cols] -= opt.eta * gc / np.sqrt(mc + opt.eps)
        return loss, fast.h
    return iterate


RUNGS = [
    ("chapters (the lesson)", chapters, np.float64),
    ("+ whole-matrix products outside the recurrence", outside_the_recurrence, np.float64),
    ("+ buffers made once, out=, row views made once", buffers_once, np.float64),
    ("+ input term inside the product, one flat buffer (the engine)", engine, np.float64),
    ("  tried: AdaGrad on the touched columns of U only", engine_touched_columns, np.float64),
    ("  tried: the batched path at B = 1 (one engine path)", engine_batched_path, np.float64),
    ("+ float32 (the engine with --dtype float32)", engine, np.float32),
]
"""(name, builder, dtype): each builder takes (rnn, optimiser, tau) and returns iterate."""


def check(data: np.ndarray, K: int, iterations: int = 10) -> None:
    """Every rung computes the chapters' iteration; raise AssertionError if one does not.

    Along a run of the chapters from the report's initial model, each rung takes one
    iteration from the same state, and its loss and parameters must match the chapters'.
    (Run against run, any two roundings part ways within ten iterations: AdaGrad's first
    steps multiply differences by up to eta / sqrt(eps) = 1,000.)
    """
    tau, m = 25, 100
    rnn, opt = RNN.init(K, m, 0.01, rng=np.random.default_rng(0)), AdaGrad()
    h = np.zeros((m, 1))
    for i in range(iterations):
        x, y = data[i * tau:(i + 1) * tau], data[i * tau + 1:(i + 1) * tau + 1]
        for name, build, dtype in RUNGS:
            copy = rnn.map(lambda a, d=dtype: a.astype(d))
            state = opt.memory.map(lambda a, d=dtype: a.astype(d)) if opt.memory else None
            loss, _ = build(copy, AdaGrad(memory=state), tau)(x, y, h.astype(dtype))
            reference = rnn.copy()
            expected, _ = chapters(reference, AdaGrad(memory=state and opt.memory.copy()),
                                   tau)(x, y, h)
            tolerance = 1e-10 if dtype == np.float64 else 1e-2
            assert abs(loss - expected) <= tolerance * expected, (name, i, loss, expected)
            for a, b in zip(copy, reference, strict=True):
                scale = tolerance * float(np.abs(b).max())
                assert np.allclose(a, b, rtol=tolerance, atol=scale), (
                    name, i, float(np.abs(a - b).max()), float(np.abs(b).max()))
        _, h = chapters(rnn, opt, tau)(x, y, h)
