r"""The training engine: one training iteration of chapters 2–6, made fast.

Not a chapter. The chapters are written to be read; this module computes exactly the same
numbers — loss (3.1), gradients (4.1)–(4.8), clipping (6.1) and the optimiser's update
(6.2)–(6.3) or (6.4)–(6.6) — with every trick that pays at m = 100, where numpy's cost per
call, not the arithmetic, dominates. The test suite proves it equal to the chapters
(``tests/test_engine.py``), and ``docs/chapters/8b-fast.md`` walks through the tricks one at a
time with their measured gains (``benchmarks/speed.py``).

The tricks, in the order the page teaches them:

1. **Whole-matrix products outside the recurrence.** Only (2.1)–(2.2) and (4.4)–(4.5) must
   run step by step. The input term U x_t + b for all t is one gather of rows of U^T; (2.3),
   (2.4), (3.1), (4.1)–(4.3) and (4.6)–(4.8) are one matrix operation each over all tau steps.
2. **Time-major rows.** Row t of every (tau, .) buffer is the report's column t, so each step
   reads and writes one contiguous row. A row vector times W^T is W times the column.
3. **Buffers allocated once.** Every array an iteration needs is made in ``__init__``; the
   iteration writes into them with ``out=``, so it allocates (almost) nothing.
4. **The additive term inside the product.** Step t computes h_{t-1}^T W^T + (U x_t + b)^T.
   Stacking the tau input rows under W^T and appending the unit row vector e_t to h_{t-1}
   makes that one product, ``[h_{t-1}^T, e_t^T] [W^T; A_in]``: two numpy calls per step (product,
   tanh) instead of three. The same trick puts (4.4)'s V^T g_t inside W^T da_{t+1}.
5. **One flat buffer for all five parameters**, and the same layout for the gradients and
   the optimiser's state, so clipping is one call and AdaGrad or Adam a handful of calls over
   all 26,000 numbers instead of a handful per parameter.
6. **Not taken: AdaGrad on the touched columns of U only.** A piece of 25 characters
   touches at most 25 of the K columns of U; the others have zero gradient, so skipping them
   is exact. But gathering and scattering strided columns costs more than the arithmetic it
   saves at K = 76 (measured in ``benchmarks/speed.py --ladder``), so the engine updates all
   of U with the rest.
7. **float32** when asked: half the bytes per number, and twice the numbers per vector
   instruction.

The engine owns the memory of the parameters: on binding, the arrays of the ``RNN`` it is
given (and of the optimiser's state, and of the best copy) are replaced by views into its flat
buffers, holding the same numbers. Anyone who reads ``trainer.rnn.W`` sees the live values.
That machinery (the flat buffers, clipping, the fused AdaGrad and Adam, the best copy) is
:class:`FlatEngine`, which the gated cells' engines (``charrnn_edu.gated_engine``) share.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from charrnn_edu.adagrad import AdaGrad, Adam
from charrnn_edu.forward import NAMES, RNN

__all__ = ["FlatEngine", "Engine"]

Model = Any
"""A parameter container: ``RNN``, or chapter 10's ``LSTM`` or 10b's ``GRU`` (same interface)."""


def _flat_views(flat: np.ndarray, kind: type, shapes: dict[str, tuple[int, ...]]) -> Model:
    """The parameter-shaped views into one flat buffer, in the order of ``shapes`` (NAMES)."""
    views, start = {}, 0
    for name, shape in shapes.items():
        stop = start + math.prod(shape)
        views[name] = flat[start:stop].reshape(shape)
        start = stop
    return kind(**views)


def _bind(model: Model, flat: np.ndarray, kind: type,
          shapes: dict[str, tuple[int, ...]]) -> Model:
    """Copy ``model``'s numbers into ``flat`` and point ``model``'s attributes at the views."""
    views = _flat_views(flat, kind, shapes)
    for name in shapes:
        np.copyto(getattr(views, name), getattr(model, name))
        setattr(model, name, getattr(views, name))
    return views


class FlatEngine:
    """What every engine shares: the flat buffers of trick 5 and the fused update over them.

    One flat buffer each holds the parameters, the best copy, the gradients and the
    optimiser's state, in the same layout; clipping and the update are a few calls over it.
    A cell's engine (:class:`Engine`, and ``charrnn_edu.gated_engine``'s) passes its
    container class and the arrays' shapes in the order of the container's NAMES, then
    builds its own buffers and computes :attr:`grads` in ``loss_and_gradients``.

    Parameters
    ----------
    model : RNN, LSTM or GRU
        The parameters; rebound to views into the engine's buffer (same numbers).
    optimizer : AdaGrad or Adam
        Its state (the arrays its ``state_names`` name) is rebound the same way, created at
        zero if it has none yet; the fused update is the one its ``name`` names.
    best : RNN, LSTM or GRU
        The best parameters so far; rebound too, so keeping a new best is one copy.
    kind : type
        The container class, called with the views by name.
    shapes : dict of str to tuple of int
        Each array's shape, in the order of the container's NAMES: the flat layout.
    tau, clip, mean_loss, batch
        As for :class:`Engine`.
    """

    def __init__(self, model: Model, optimizer: AdaGrad | Adam, best: Model, *, kind: type,
                 shapes: dict[str, tuple[int, ...]], tau: int, clip: float, mean_loss: bool,
                 batch: int) -> None:
        dtype = model.W.dtype
        if dtype not in (np.float64, np.float32):
            raise ValueError(f"the engine computes in float64 or float32, not {dtype}")
        if not tau >= 1:
            raise ValueError(f"tau must be at least 1, got {tau}")
        if not batch >= 1:
            raise ValueError(f"the batch must have at least 1 stream, got {batch}")
        for what, container in (("the model", model), ("the best copy", best)):
            wrong = {name: np.shape(getattr(container, name)) for name in shapes
                     if np.shape(getattr(container, name)) != shapes[name]}
            if wrong:
                raise ValueError(f"{what}'s arrays have shapes {wrong}; this engine needs "
                                 f"{ {name: shapes[name] for name in wrong} }")
        self.m, self.K, self.tau, self.clip, self.B = model.m, model.K, tau, clip, batch
        self.optimizer, self.mean_loss = optimizer, mean_loss
        n = sum(math.prod(shape) for shape in shapes.values())

        # Trick 5: parameters, gradients and optimiser state share one flat layout.
        self.theta = np.empty(n, dtype)
        self.model = _bind(model, self.theta, kind, shapes)
        self.best_theta = np.empty(n, dtype)
        _bind(best, self.best_theta, kind, shapes)
        self.grad = np.zeros(n, dtype)
        self.grads = _flat_views(self.grad, kind, shapes)
        self._step = getattr(self, f"_{optimizer.name}", None)    # _adagrad or _adam
        if self._step is None:
            raise ValueError(f"the engine has no fused update for {optimizer.name}; train it "
                             "with the chapters (engine 'chapters')")
        self.state = {}                                        # by name: flat, as theta
        for name in optimizer.state_names:
            if getattr(optimizer, name) is None:
                setattr(optimizer, name, model.map(np.zeros_like))
            self.state[name] = np.empty(n, dtype)
            _bind(getattr(optimizer, name), self.state[name], kind, shapes)
        self.tmp, self.tmp2 = np.empty(n, dtype), np.empty(n, dtype)
        self._bound = self._state(model, optimizer, best)

    def bound_to(self, model: Model, optimizer: AdaGrad | Adam, best: Model) -> bool:
        """Whether these objects still hold this engine's views (nobody swapped an array)."""
        return optimizer is self.optimizer and all(
            map(operator.is_, self._state(model, optimizer, best), self._bound))

    @staticmethod
    def _state(model: Model, optimizer: AdaGrad | Adam, best: Model) -> tuple[object, ...]:
        moments = (getattr(optimizer, name) for name in optimizer.state_names)
        return (*model, *best, *(a for state in moments for a in (state or (None,))))

    def update(self) -> None:
        """Clip the gradients and take one optimiser step, in place, (6.1)–(6.6)."""
        np.clip(self.grad, -self.clip, self.clip, out=self.grad)   # (6.1), all five at once
        self._step()

    # --8<-- [start:adagrad]
    def _adagrad(self) -> None:
        opt, g, mem, theta, tmp, tmp2 = (self.optimizer, self.grad, self.state["memory"],
                                          self.theta, self.tmp, self.tmp2)
        np.multiply(g, g, out=tmp)
        mem += tmp                                             # (6.2)
        np.add(mem, opt.eps, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.multiply(g, opt.eta, out=tmp2)                      # eta g / sqrt(m + eps), in the
        tmp2 /= tmp                                            # chapter's order of operations
        theta -= tmp2                                          # (6.3)
    # --8<-- [end:adagrad]

    def _adam(self) -> None:
        opt, g, tmp, tmp2 = self.optimizer, self.grad, self.tmp, self.tmp2
        opt.t += 1
        c1, c2 = 1 - opt.beta1 ** opt.t, 1 - opt.beta2 ** opt.t
        first, second = self.state["first"], self.state["second"]     # s and r
        first *= opt.beta1
        np.multiply(g, 1 - opt.beta1, out=tmp)
        first += tmp                                           # (6.4)
        second *= opt.beta2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - opt.beta2
        second += tmp                                          # (6.5)
        np.divide(second, c2, out=tmp)
        np.sqrt(tmp, out=tmp)
        tmp += opt.eps                                         # sqrt(r-hat) + eps
        np.divide(first, c1, out=tmp2)                         # s-hat
        tmp2 *= opt.eta
        tmp2 /= tmp
        self.theta -= tmp2                                     # (6.6)

    def keep_best(self) -> None:
        """Copy the current parameters into the best copy: one call for all five."""
        np.copyto(self.best_theta, self.theta)


class Engine(FlatEngine):
    """One fast training iteration of the vanilla RNN for a bound model, optimiser and best copy.

    Parameters
    ----------
    rnn : RNN
        The parameters; rebound to views into the engine's buffer (same numbers).
    optimizer : AdaGrad or Adam
        Its state (the arrays its ``state_names`` name) is rebound the same way, created at
        zero if it has none yet; the fused update is the one its ``name`` names.
    best : RNN
        The best parameters so far; rebound too, so keeping a new best is one copy.
    tau : int
        Characters per piece.
    clip : float
        Gradients are clipped to [-clip, clip], equation (6.1).
    mean_loss : bool
        Divide the loss and every gradient by tau (the 2026 edition's mean loss).
    batch : int
        B, the number of streams (``charrnn_edu.batches``). With B > 1, pieces are (B, tau)
        arrays, hidden states (m, B), and the loss is averaged over the streams.
    """

    def __init__(self, rnn: RNN, optimizer: AdaGrad | Adam, best: RNN, *, tau: int,
                 clip: float, mean_loss: bool = False, batch: int = 1) -> None:
        m, K = rnn.m, rnn.K
        shapes = {"b": (m, 1), "c": (K, 1), "U": (m, K), "W": (m, m), "V": (K, m)}
        super().__init__(rnn, optimizer, best, kind=RNN,
                         shapes={name: shapes[name] for name in NAMES}, tau=tau, clip=clip,
                         mean_loss=mean_loss, batch=batch)
        self.rnn = self.model
        if batch == 1:
            self._one_stream_buffers()
        else:
            self._stream_buffers()

    def _one_stream_buffers(self) -> None:
        m, K, tau, dtype = self.m, self.K, self.tau, self.theta.dtype
        # Tricks 2-4. Row t of Hx is [h_t^T, e_{t+1}^T]: the hidden state, then the unit row
        # that picks input row t + 1 out of the stacked matrix Mf = [W^T; A_in].
        self.Hx = np.zeros((tau + 1, m + tau), dtype)          # (tau + 1, m + tau)
        self.Hx[np.arange(tau), m + np.arange(tau)] = 1
        self.Mf = np.empty((m + tau, m), dtype)                # (m + tau, m): [W^T; A_in]
        self.H = self.Hx[:, :m]                                # (tau + 1, m), row t = h_t^T
        # Backwards, row t of Dx is [da_t^T, e_{t-1}^T], and Mb = [W; dH_out] with row t of
        # dH_out = (V^T g_t)^T, so [da_{t+1}^T, e_t^T] Mb = (W^T da_{t+1} + V^T g_t)^T: (4.4).
        self.Dx = np.zeros((tau + 1, m + tau), dtype)          # (tau + 1, m + tau)
        self.Dx[np.arange(1, tau + 1), m + np.arange(tau)] = 1
        self.Mb = np.empty((m + tau, m), dtype)                # (m + tau, m): [W; dH_out]
        self.dA = self.Dx[:tau, :m]                            # (tau, m), row t = dL/da_t^T
        self.P = np.empty((tau, K), dtype)                     # (tau, K), row t = p_t^T
        self.tanh_grad = np.empty((tau, m), dtype)             # (tau, m), 1 - h_t^2
        self.onehot = np.zeros((tau, K), dtype)                # (tau, K), row t = x_t^T
        self.steps = np.arange(tau)
        # The loops walk lists of row views made once: a view costs as much as a small add.
        self.forward_rows = list(zip(self.Hx[:tau], self.H[1:], strict=True))
        self.backward_rows = list(zip(self.Dx[tau:0:-1], self.dA[::-1], self.tanh_grad[::-1],
                                      strict=True))

    def _stream_buffers(self) -> None:
        m, K, tau, B, dtype = self.m, self.K, self.tau, self.B, self.theta.dtype
        # Block t of each (tau, B, .) buffer is step t, one row per stream. With B rows the
        # per-call cost is shared by B streams, so trick 4 (which would need tau * B unit
        # columns) no longer pays: each step is product, add, tanh.
        self.H = np.zeros((tau + 1, B, m), dtype)              # H[t] = H_t^T
        self.A_in = np.empty((tau, B, m), dtype)               # (U X_t + b 1^T)^T
        self.P = np.empty((tau * B, K), dtype)                 # row t * B + b: p_t of stream b
        self.dH_out = np.empty((tau, B, m), dtype)             # (V^T G_t)^T
        self.dA = np.zeros((tau + 1, B, m), dtype)             # dA[t] = dL/dA_t^T; dA[tau] = 0
        self.tanh_grad = np.empty((tau, B, m), dtype)
        self.dUT = np.empty((K, m), dtype)                     # dU^T, rows by input id
        self.rows = np.arange(tau * B)
        self.forward_rows = list(zip(self.H[:tau], self.H[1:], self.A_in, strict=True))
        self.backward_rows = list(zip(self.dA[tau:0:-1], self.dA[tau - 1::-1],
                                      self.dH_out[::-1], self.tanh_grad[::-1], strict=True))

    def loss_and_gradients(self, x: np.ndarray, y: np.ndarray, h0: np.ndarray) -> float:
        """Forward pass, loss and BPTT for one piece; the gradients land in :attr:`grads`.

        Parameters
        ----------
        x, y : ndarray of shape (tau,), or (B, tau) for B streams
            Input and target ids.
        h0 : ndarray of shape (m, 1), or (m, B)
            The hidden state before the piece.

        Returns
        -------
        float
            The loss (3.1), or its mean over tau for the mean loss; for B streams the
            mean over the streams, (M.5).
        """
        m, tau, rnn, g = self.m, self.tau, self.rnn, self.grads
        expected = (tau,) if self.B == 1 else (self.B, tau)
        if np.shape(x) != expected or np.shape(y) != expected:
            raise ValueError(f"the engine was built for pieces of shape {expected}, got "
                             f"{np.shape(x)} inputs and {np.shape(y)} targets")
        if self.B > 1:
            return self._streams(x, y, h0)
        dot, tanh, multiply = np.dot, np.tanh, np.multiply
        H, P, Mf, Mb, Dx = self.H, self.P, self.Mf, self.Mb, self.Dx

        # Forward. A_in = U^T[x] + b^T (trick 1), stacked under W^T (trick 4).
        Mf[:m] = rnn.W.T
        np.take(rnn.U.T, x, axis=0, out=Mf[m:])                # (tau, m): row t = (U x_t)^T
        Mf[m:] += rnn.b.T
        H[0] = h0[:, 0]
        # --8<-- [start:forward-recurrence]
        for h_prev, h in self.forward_rows:                    # (2.1)-(2.2), 2 calls a step
            dot(h_prev, Mf, out=h)
            tanh(h, out=h)
        # --8<-- [end:forward-recurrence]
        Hs = H[1:]                                             # (tau, m), rows h_1 ... h_tau
        dot(Hs, rnn.V.T, out=P)                                # (2.3) for all t: (tau, K)
        P += rnn.c.T
        P -= P.max(axis=1, keepdims=True)                      # (2.4), overflow-free
        np.exp(P, out=P)
        P /= P.sum(axis=1, keepdims=True)
        loss = -np.log(P[self.steps, y]).sum()                 # (3.1)

        # Backward. P becomes G, row t = g_t^T = (p_t - y_t)^T: (4.1).
        G = P
        G[self.steps, y] -= 1
        if self.mean_loss:
            G *= 1 / tau                                       # every gradient is linear in G
            loss = loss / tau
        dot(G.T, Hs, out=g.V)                                  # (4.2)  (K, m)
        G.sum(axis=0, out=g.c[:, 0])                           # (4.3)  (K, 1)
        Mb[:m] = rnn.W
        dot(G, rnn.V, out=Mb[m:])                              # (tau, m), rows (V^T g_t)^T
        multiply(Hs, Hs, out=self.tanh_grad)
        np.subtract(1, self.tanh_grad, out=self.tanh_grad)     # (tau, m), 1 - h_t^2
        # --8<-- [start:backward-recurrence]
        Dx[tau, :m] = 0                                        # dL/da_{tau+1} = 0
        for da_next, da, d_tanh in self.backward_rows:         # (4.4)-(4.5), 2 calls a step
            dot(da_next, Mb, out=da)
            multiply(da, d_tanh, out=da)
        # --8<-- [end:backward-recurrence]
        dA = self.dA                                           # (tau, m)
        dot(dA.T, H[:tau], out=g.W)                            # (4.6)  (m, m), h_0 included
        dA.sum(axis=0, out=g.b[:, 0])                          # (4.8)  (m, 1)
        # (4.7): dU = dA^T X^T with X one-hot, as one product; the one-hot rows are set and
        # cleared again so the buffer stays all zeros between iterations.
        self.onehot[self.steps, x] = 1
        dot(dA.T, self.onehot, out=g.U)                        # (m, K)
        self.onehot[self.steps, x] = 0
        return float(loss)

    def _streams(self, X: np.ndarray, Y: np.ndarray, H0: np.ndarray) -> float:
        """:meth:`loss_and_gradients` for B > 1 streams, equations (M.1)–(M.6)."""
        m, tau, B, rnn, g = self.m, self.tau, self.B, self.rnn, self.grads
        dot, add, tanh, multiply = np.dot, np.add, np.tanh, np.multiply
        H, P, dA = self.H, self.P, self.dA
        np.take(rnn.U.T, X.T, axis=0, out=self.A_in)           # (tau, B, m): rows (U x)^T
        self.A_in += rnn.b.T
        H[0] = H0.T
        WT = rnn.W.T
        for h_prev, h, a_in in self.forward_rows:              # (M.1)-(M.2), (B, m) each
            dot(h_prev, WT, out=h)
            add(h, a_in, out=h)
            tanh(h, out=h)
        Hs = H[1:].reshape(tau * B, m)                         # (tau B, m), all steps
        dot(Hs, rnn.V.T, out=P)                                # (M.3)  (tau B, K)
        P += rnn.c.T
        P -= P.max(axis=1, keepdims=True)                      # (M.4)
        np.exp(P, out=P)
        P /= P.sum(axis=1, keepdims=True)
        targets = Y.T.reshape(tau * B)                         # row t * B + b: y_t of stream b
        loss = -np.log(P[self.rows, targets]).sum() / B        # (M.5)
        G = P
        G[self.rows, targets] -= 1
        G *= (1 / (B * tau)) if self.mean_loss else (1 / B)    # (M.6), and the mean over tau
        if self.mean_loss:
            loss = loss / tau
        dot(G.T, Hs, out=g.V)                                  # (4.2)
        G.sum(axis=0, out=g.c[:, 0])                           # (4.3)
        dot(G, rnn.V, out=self.dH_out.reshape(tau * B, m))     # rows (V^T G_t)^T
        multiply(H[1:], H[1:], out=self.tanh_grad)
        np.subtract(1, self.tanh_grad, out=self.tanh_grad)
        W = rnn.W
        for da_next, da, dh_out, d_tanh in self.backward_rows:   # (4.4)-(4.5), (B, m) each
            dot(da_next, W, out=da)
            add(da, dh_out, out=da)
            multiply(da, d_tanh, out=da)
        dAs = dA[:tau].reshape(tau * B, m)
        dot(dAs.T, H[:tau].reshape(tau * B, m), out=g.W)       # (4.6)
        dAs.sum(axis=0, out=g.b[:, 0])                         # (4.8)
        # (4.7): the rows of dA that share an input id add up to that column of dU. With
        # tau * B rows a one-hot product would do K times the work: sort the ids instead and
        # add each run of equal ids with one reduceat.
        inputs = X.T.reshape(tau * B)
        order = np.argsort(inputs, kind="stable")
        ids = inputs[order]
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        self.dUT[:] = 0
        self.dUT[ids[starts]] = np.add.reduceat(dAs[order], starts, axis=0)
        np.copyto(g.U, self.dUT.T)                             # (m, K)
        return float(loss)

    @property
    def h(self) -> np.ndarray:
        """A copy of the last hidden state of the last pass, shape (m, 1), or (m, B)."""
        return self.H[self.tau].T.copy() if self.B > 1 else self.H[self.tau][:, None].copy()
