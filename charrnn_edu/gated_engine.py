r"""The training engine for the gated cells: chapters 10 (LSTM) and 10b (GRU), made fast.

Not a chapter. :class:`LSTMEngine` and :class:`GRUEngine` compute what ``charrnn_edu.lstm``
and ``charrnn_edu.gru`` compute — the loss (3.1), every gradient by BPTT, clipping (6.1) and
the optimiser's step — with the tricks of ``charrnn_edu.engine`` (``docs/chapters/8b-fast.md``)
that pay for these cells, and share its flat buffers and fused updates
(:class:`~charrnn_edu.engine.FlatEngine`). ``tests/test_gated_engine.py`` proves them equal to
the chapters; ``benchmarks/speed.py --cell lstm|gru`` measures them against the chapters:
with one stream, an iteration (gradients, clipping, AdaGrad) is 6 to 8 times faster than
the chapter's in float64 and 8 to 16 times in float32, at m = 100 and 256 and tau = 25 and
50 (measured on a busy 2-core AMD EPYC, numpy 2.4).

What pays, measured at m = 100:

1. **Everything but the recurrences outside the loop.** The input term U x_t + b of every
   gate for all t is one gather of rows of U^T; the output layer (10.8)–(10.10), the
   gates' local derivatives (the factors of (10.14)–(10.18)), and the sums (10.11)–(10.12),
   (10.19)–(10.21) are one operation each over all tau * B rows.
2. **Time-major buffers (tau, B, .), allocated once**, written with ``out=``; each step
   reads and writes rows, the loops walk lists of views made once.
3. **Fewer calls per step.** The stacked gates are one product per step. The LSTM keeps
   c_{t-1} beside the candidate g_t in one row, so i_t * g_t and f_t * c_{t-1} of (10.6)
   are one multiplication; backwards it keeps dL/dc_{t+1} beside dL/dh_t, so (10.14) is one
   multiplication and one addition, and (10.16)–(10.18) are one broadcast multiplication.
   The sigmoid is computed in place (negate, exp, add 1, reciprocal).
4. **dU** (10.20): for one stream one product with the one-hot inputs, as the vanilla
   engine does; for B streams (where that product would do K times the work) a stable sort
   of the ids and one ``reduceat`` that adds the rows sharing an id, as its batched path does.

Not taken, measured: trick 4 of the vanilla engine (the input term inside the product, with
unit columns) — the product is 4m wide here, so tau extra rows cost more than the addition
they save; and the sigmoid as 0.5 + 0.5 tanh(a/2), one call fewer, slower in float64 because
numpy's tanh costs more than its exp.

**The state.** The state carried from one piece to the next is one array: for the GRU h,
shape (m, B); for the LSTM h on top of c, shape (2m, B), rows 0..m-1 h_t and rows m..2m-1
c_t. With B = 1 these are (m, 1) and (2m, 1).

**Streams.** With B > 1 streams the pieces are (B, tau), the loss is the mean over the
streams of the chapter's loss (as the vanilla engine's (M.5)) and so is every gradient; with
the mean loss both are divided by tau as well.
"""

from __future__ import annotations

import numpy as np

from charrnn_edu.adagrad import AdaGrad, Adam
from charrnn_edu.engine import FlatEngine
from charrnn_edu.gru import GRU
from charrnn_edu.gru import NAMES as GRU_NAMES
from charrnn_edu.lstm import LSTM
from charrnn_edu.lstm import NAMES as LSTM_NAMES

__all__ = ["LSTMEngine", "GRUEngine"]


class _GatedEngine(FlatEngine):
    """What the two gated engines share: the output layer, dU, and the checks of a piece.

    ``G`` is the number of stacked blocks (4 for the LSTM, 3 for the GRU) and ``S`` the
    state's rows per hidden unit (2 for the LSTM's h and c, 1 for the GRU's h).
    """

    G: int
    S: int

    def __init__(self, model: LSTM | GRU, optimizer: AdaGrad | Adam, best: LSTM | GRU, *,
                 kind: type, names: tuple[str, ...], tau: int, clip: float, mean_loss: bool,
                 batch: int) -> None:
        m, K, G = model.m, model.K, self.G
        shapes = {"b": (G * m, 1), "d": (K, 1), "U": (G * m, K), "W": (G * m, m),
                  "V": (K, m)}
        super().__init__(model, optimizer, best, kind=kind,
                         shapes={name: shapes[name] for name in names}, tau=tau, clip=clip,
                         mean_loss=mean_loss, batch=batch)
        B, dtype = self.B, self.theta.dtype
        self.H = np.zeros((tau + 1, B, m), dtype)              # H[t + 1] = h_t^T; H[0] = h_0^T
        self.A_in = np.empty((tau, B, G * m), dtype)           # (U x_t + b)^T, all gates
        self.P = np.empty((tau * B, K), dtype)                 # row t * B + b: p_t of stream b
        self.VTdo = np.empty((tau, B, m), dtype)               # (V^T dL/do_t)^T
        self.dA = np.zeros((tau + 1, B, G * m), dtype)         # dL/da_t^T; dA[tau] = 0
        self.dUT = np.empty((K, G * m), dtype) if B > 1 else None   # dU^T, rows by id
        self.onehot = np.zeros((tau, K), dtype) if B == 1 else None   # row t = x_t^T
        self.rows = np.arange(tau * B)

    def _check(self, x: np.ndarray, y: np.ndarray, state0: np.ndarray) -> tuple[np.ndarray,
                                                                                 np.ndarray]:
        """The piece as (B, tau) arrays, after checking the shapes the engine was built for."""
        expected = (self.tau,) if self.B == 1 else (self.B, self.tau)
        if np.shape(x) != expected or np.shape(y) != expected:
            raise ValueError(f"the engine was built for pieces of shape {expected}, got "
                             f"{np.shape(x)} inputs and {np.shape(y)} targets")
        state = (self.S * self.m, self.B)
        if np.shape(state0) != state:
            raise ValueError(f"the engine was built for states of shape {state}, got "
                             f"{np.shape(state0)}")
        return np.reshape(x, (self.B, self.tau)), np.reshape(y, (self.B, self.tau))

    def _input_term(self, X: np.ndarray) -> None:
        """(U x_t + b)^T of every gate for all t and streams, into ``A_in``: one gather."""
        U = self.model.U                                       # (G m, K)
        if self.B == 1:   # measured: columns of U, then one transposed copy, is faster here
            np.copyto(self.A_in[:, 0], U[:, X[0]].T)           # (tau, G m)
        else:
            np.take(U.T, X.T, axis=0, out=self.A_in)           # (tau, B, G m)
        self.A_in += self.model.b.T

    def _output_layer(self, Y: np.ndarray) -> float:
        """(10.8)–(10.12) over all tau * B rows: the loss; dV, dd and V^T dL/do_t in place."""
        m, tau, B, model, g = self.m, self.tau, self.B, self.model, self.grads
        P, Hs = self.P, self.H[1:].reshape(tau * B, m)         # (tau B, m), h_1 ... h_tau
        np.dot(Hs, model.V.T, out=P)                           # (10.8)  (tau B, K)
        P += model.d.T
        P -= P.max(axis=1, keepdims=True)                      # (10.9), overflow-free
        np.exp(P, out=P)
        P /= P.sum(axis=1, keepdims=True)
        targets = Y.T.reshape(tau * B)                         # row t * B + b: y_t of stream b
        loss = -np.log(P[self.rows, targets]).sum() / B        # (3.1), the mean over streams
        do = P
        do[self.rows, targets] -= 1                            # (10.10)  p_t - y_t
        if self.mean_loss or B > 1:
            do *= (1 / (B * tau)) if self.mean_loss else (1 / B)   # every gradient is linear
        if self.mean_loss:
            loss = loss / tau
        np.dot(do.T, Hs, out=g.V)                              # (10.11)  (K, m)
        do.sum(axis=0, out=g.d[:, 0])                          # (10.12)  (K, 1)
        np.dot(do, model.V, out=self.VTdo.reshape(tau * B, m))   # rows (V^T dL/do_t)^T
        return float(loss)

    def _input_gradient(self, X: np.ndarray) -> None:
        """(10.20): the rows of dL/da that share an input id add up to that column of dU.

        One stream: dU = dA^T X^T with X one-hot, one product (measured: 2 to 4 times faster
        than sorting at m = 100 and 256). B streams: a one-hot product would do K times the
        work, so sort the ids (stably) and add each run of equal ids with one ``reduceat``.
        """
        tau, B, dAs = self.tau, self.B, self.dA[:self.tau].reshape(self.tau * self.B, -1)
        if B == 1:   # the one-hot rows are set and cleared, so the buffer stays all zeros
            self.onehot[self.rows, X[0]] = 1
            np.dot(dAs.T, self.onehot, out=self.grads.U)       # (G m, K)
            self.onehot[self.rows, X[0]] = 0
            return
        inputs = X.T.reshape(tau * B)
        order = np.argsort(inputs, kind="stable")
        ids = inputs[order]
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        self.dUT[:] = 0
        self.dUT[ids[starts]] = np.add.reduceat(dAs[order], starts, axis=0)
        np.copyto(self.grads.U, self.dUT.T)                    # (G m, K)


class LSTMEngine(_GatedEngine):
    """One fast training iteration of chapter 10's LSTM for a bound model, optimiser and best.

    Parameters
    ----------
    lstm : LSTM
        The parameters; rebound to views into the engine's buffer (same numbers).
    optimizer : AdaGrad or Adam
        Its state is rebound the same way, created at zero if it has none yet.
    best : LSTM
        The best parameters so far; rebound too, so keeping a new best is one copy.
    tau : int
        Characters per piece.
    clip : float
        Gradients are clipped to [-clip, clip], equation (6.1).
    mean_loss : bool
        Divide the loss and every gradient by tau.
    batch : int
        B, the number of streams: pieces (B, tau), states (2m, B).
    """

    G, S = 4, 2

    def __init__(self, lstm: LSTM, optimizer: AdaGrad | Adam, best: LSTM, *, tau: int,
                 clip: float, mean_loss: bool = False, batch: int = 1) -> None:
        super().__init__(lstm, optimizer, best, kind=LSTM, names=LSTM_NAMES, tau=tau,
                         clip=clip, mean_loss=mean_loss, batch=batch)
        m, B, dtype = self.m, self.B, self.theta.dtype
        # Row t of A: [i f q g] of step t (0-based), then c_{t-1}: (10.6)'s two products are
        # [i, f] * [g, c_{t-1}], one call. Step t writes c_t into the next row's last block.
        self.A = np.zeros((tau + 1, B, 5 * m), dtype)          # (tau + 1, B, 5m)
        self.Z = np.empty((B, 4 * m), dtype)                   # W h_{t-1}, before the input
        self.prod = np.empty((B, 2 * m), dtype)                # [i g, f c_{t-1}]
        self.TC = np.empty((tau, B, m), dtype)                 # tanh c_t
        # Backwards, step t's row of R (R[t + 1]) is [dL/dh_t, dL/dc_{t+1}]; times row t of
        # K2 = [q_t (1 - tanh^2 c_t), f_{t+1}], halves added, it is (10.14) in two calls.
        # Step t writes dL/dc_t into the row before its own (R[0] takes dL/dc_0). Nothing
        # writes dL/dc_{tau+1}, which stays 0, and K2's f_{tau+1} is 0 too.
        self.R = np.zeros((tau + 1, B, 2 * m), dtype)          # (tau + 1, B, 2m)
        self.K2 = np.zeros((tau, B, 2 * m), dtype)
        # The factors of (10.16)-(10.18) by block i, f, (q: 0), g, and (10.15)'s.
        self.F4 = np.zeros((tau, B, 4, m), dtype)
        self.Fq = np.empty((tau, B, m), dtype)
        self.WTda = np.empty((B, m), dtype)                    # (W^T dL/da_{t+1})^T
        A, R, dA = self.A, self.R, self.dA
        self.forward_rows = [
            (self.H[t], A[t, :, :4 * m], A[t, :, :3 * m], A[t, :, 3 * m:4 * m],
             A[t, :, :2 * m], A[t, :, 3 * m:], A[t + 1, :, 4 * m:], self.TC[t],
             A[t, :, 2 * m:3 * m], self.H[t + 1], self.A_in[t]) for t in range(tau)]
        self.backward_rows = [
            (dA[t + 1], R[t + 1, :, :m], self.VTdo[t], R[t + 1], self.K2[t],
             R[t, :, m:], R[t, :, None, m:], self.F4[t],
             dA[t].reshape(B, 4, m), self.Fq[t], dA[t, :, 2 * m:3 * m])
            for t in reversed(range(tau))]

    def loss_and_gradients(self, x: np.ndarray, y: np.ndarray, state0: np.ndarray) -> float:
        """Forward pass, loss and BPTT for one piece; the gradients land in :attr:`grads`.

        Parameters
        ----------
        x, y : ndarray of shape (tau,), or (B, tau) for B streams
            Input and target ids.
        state0 : ndarray of shape (2m, 1), or (2m, B)
            h_0 on top of c_0: the states before the piece.

        Returns
        -------
        float
            The loss (3.1), or its mean over tau for the mean loss; for B streams the mean
            over the streams.
        """
        X, Y = self._check(x, y, state0)
        m, tau, B, lstm, g = self.m, self.tau, self.B, self.model, self.grads
        dot, add, multiply, tanh, exp = np.dot, np.add, np.multiply, np.tanh, np.exp
        negative, reciprocal = np.negative, np.reciprocal
        A, H, TC, prod, Z = self.A, self.H, self.TC, self.prod, self.Z
        left, right = prod[:, :m], prod[:, m:]                 # views made once: each costs
        one = self.theta.dtype.type(1)                         # a call, as does casting 1

        self._input_term(X)                                    # (tau, B, 4m)
        H[0] = state0[:m].T
        A[0, :, 4 * m:] = state0[m:].T
        WT = lstm.W.T                                          # (m, 4m)
        for h_prev, a, s, g_t, i_f, g_c, c, tanh_c, q, h, a_in in self.forward_rows:
            dot(h_prev, WT, out=Z)
            add(Z, a_in, out=a)                                # (10.1)   (B, 4m)
            negative(s, out=s)                                 # (10.2)-(10.4): sigmoid of
            exp(s, out=s)                                      # the blocks i, f, q in place
            add(s, one, out=s)
            reciprocal(s, out=s)
            tanh(g_t, out=g_t)                                 # (10.5)
            multiply(i_f, g_c, out=prod)                       # [i g, f c_{t-1}]
            add(left, right, out=c)                            # (10.6)
            tanh(c, out=tanh_c)
            multiply(q, tanh_c, out=h)                         # (10.7)
        loss = self._output_layer(Y)                           # (10.8)-(10.12)

        # The gates' local derivatives, for all steps at once.
        gates = A[:tau]
        I, F, Q, G = (gates[:, :, k * m:(k + 1) * m] for k in range(4))
        C_prev = gates[:, :, 4 * m:]                           # c_{t-1}
        F4, K2 = self.F4, self.K2
        multiply(TC, TC, out=self.Fq)
        np.subtract(1, self.Fq, out=K2[:, :, :m])
        K2[:, :, :m] *= Q                                      # q_t (1 - tanh^2 c_t)
        K2[:tau - 1, :, m:] = F[1:]                            # f_{t+1}; 0 after step tau
        np.subtract(1, I, out=F4[:, :, 0])
        F4[:, :, 0] *= I
        F4[:, :, 0] *= G                                       # g_t i_t (1 - i_t)   (10.16)
        np.subtract(1, F, out=F4[:, :, 1])
        F4[:, :, 1] *= F
        F4[:, :, 1] *= C_prev                                  # c_{t-1} f_t (1 - f_t) (10.17)
        multiply(G, G, out=F4[:, :, 3])
        np.subtract(1, F4[:, :, 3], out=F4[:, :, 3])
        F4[:, :, 3] *= I                                       # i_t (1 - g_t^2)     (10.18)
        np.subtract(1, Q, out=self.Fq)
        self.Fq *= Q
        self.Fq *= TC                                          # tanh c_t q_t (1 - q_t) (10.15)

        W = lstm.W                                             # (4m, m)
        WTda = self.WTda
        for (da_next, dh, vt_do, r, k2, dc, dc_b, f4, da4, fq, da_q) in self.backward_rows:
            dot(da_next, W, out=WTda)
            add(WTda, vt_do, out=dh)                           # (10.13)
            multiply(r, k2, out=prod)
            add(left, right, out=dc)                           # (10.14)
            multiply(dc_b, f4, out=da4)                        # (10.16)-(10.18), q block 0
            multiply(dh, fq, out=da_q)                         # (10.15)
        dAs = self.dA[:tau].reshape(tau * B, 4 * m)
        dot(dAs.T, H[:tau].reshape(tau * B, m), out=g.W)       # (10.19)  (4m, m), h_0 included
        dAs.sum(axis=0, out=g.b[:, 0])                         # (10.21)  (4m, 1)
        self._input_gradient(X)                                # (10.20)  (4m, K)
        return loss

    @property
    def h(self) -> np.ndarray:
        """A copy of the last state of the last pass, h_tau on top of c_tau: (2m, B)."""
        # Row-major, as every other state: a checkpoint refuses Fortran-ordered arrays.
        return np.ascontiguousarray(np.vstack([self.H[self.tau].T,
                                               self.A[self.tau, :, 4 * self.m:].T]))


class GRUEngine(_GatedEngine):
    """One fast training iteration of chapter 10b's GRU for a bound model, optimiser and best.

    Parameters
    ----------
    gru : GRU
        The parameters; rebound to views into the engine's buffer (same numbers).
    optimizer : AdaGrad or Adam
        Its state is rebound the same way, created at zero if it has none yet.
    best : GRU
        The best parameters so far; rebound too.
    tau : int
        Characters per piece.
    clip : float
        Gradients are clipped to [-clip, clip], equation (6.1).
    mean_loss : bool
        Divide the loss and every gradient by tau.
    batch : int
        B, the number of streams: pieces (B, tau), states (m, B).
    """

    G, S = 3, 1

    def __init__(self, gru: GRU, optimizer: AdaGrad | Adam, best: GRU, *, tau: int,
                 clip: float, mean_loss: bool = False, batch: int = 1) -> None:
        super().__init__(gru, optimizer, best, kind=GRU, names=GRU_NAMES, tau=tau, clip=clip,
                         mean_loss=mean_loss, batch=batch)
        m, B, dtype = self.m, self.B, self.theta.dtype
        self.A = np.empty((tau, B, 3 * m), dtype)              # row t: [z r n] of step t
        self.Zzr = np.empty((B, 2 * m), dtype)                 # [W^z; W^r] h_{t-1}
        self.Zn = np.empty((B, m), dtype)                      # W^n (r_t * h_{t-1})
        self.scratch = np.empty((B, m), dtype)                 # the step's scratch row
        self.RH = np.empty((tau, B, m), dtype)                 # (r_t * h_{t-1})^T
        # Backwards: the factors of (10b.11) and (10b.10) by block z, (r: 0), n, and (10b.13)'s.
        self.F3 = np.zeros((tau, B, 3, m), dtype)
        self.Fr = np.empty((tau, B, m), dtype)
        self.dRH = np.empty((tau, B, m), dtype)                # (10b.12), transposed
        self.dH = np.empty((tau + 1, B, m), dtype)             # dH[t + 1] = dL/dh_t^T
        A, dA, H = self.A, self.dA, self.H
        self.forward_rows = [
            (H[t], A[t, :, :2 * m], A[t, :, :m], A[t, :, m:2 * m], A[t, :, 2 * m:],
             self.RH[t], H[t + 1], self.A_in[t, :, :2 * m], self.A_in[t, :, 2 * m:])
            for t in range(tau)]
        self.backward_rows = [
            (self.dH[t + 1], self.dH[t + 1, :, None, :], self.F3[t], dA[t].reshape(B, 3, m),
             dA[t, :, 2 * m:], self.dRH[t], self.Fr[t], dA[t, :, m:2 * m], dA[t, :, :2 * m],
             self.dH[t], A[t, :, :m], A[t, :, m:2 * m], self.VTdo[t - 1] if t else None)
            for t in reversed(range(tau))]

    def loss_and_gradients(self, x: np.ndarray, y: np.ndarray, state0: np.ndarray) -> float:
        """Forward pass, loss and BPTT for one piece; the gradients land in :attr:`grads`.

        Parameters
        ----------
        x, y : ndarray of shape (tau,), or (B, tau) for B streams
            Input and target ids.
        state0 : ndarray of shape (m, 1), or (m, B)
            h_0, the state before the piece.

        Returns
        -------
        float
            The loss (3.1), or its mean over tau for the mean loss; for B streams the mean
            over the streams.
        """
        X, Y = self._check(x, y, state0)
        m, tau, B, gru, g = self.m, self.tau, self.B, self.model, self.grads
        dot, add, multiply, subtract = np.dot, np.add, np.multiply, np.subtract
        negative, exp, reciprocal, tanh = np.negative, np.exp, np.reciprocal, np.tanh
        A, H, Zzr, Zn, tmp = self.A, self.H, self.Zzr, self.Zn, self.scratch
        one = self.theta.dtype.type(1)                         # casting 1 costs a call

        self._input_term(X)                                    # (tau, B, 3m)
        H[0] = state0.T
        W = gru.W                                              # (3m, m): blocks z, r, n
        WzrT, WnT = W[:2 * m].T, W[2 * m:].T                   # (m, 2m), (m, m)
        for h_prev, zr, z, r, n, rh, h, zr_in, n_in in self.forward_rows:
            dot(h_prev, WzrT, out=Zzr)
            add(Zzr, zr_in, out=zr)
            negative(zr, out=zr)                               # (10b.1)-(10b.2): sigmoid of
            exp(zr, out=zr)                                    # both blocks in place
            add(zr, one, out=zr)
            reciprocal(zr, out=zr)
            multiply(r, h_prev, out=rh)                        # r_t * h_{t-1}
            dot(rh, WnT, out=Zn)
            add(Zn, n_in, out=n)
            tanh(n, out=n)                                     # (10b.3)
            subtract(h_prev, n, out=tmp)
            multiply(z, tmp, out=tmp)
            add(n, tmp, out=h)                                 # (10b.4): n + z (h_{t-1} - n)
        loss = self._output_layer(Y)                           # (10b.5)-(10b.8)

        # The gates' local derivatives, for all steps at once.
        Zg, Rg, N, H_prev, F3 = A[:, :, :m], A[:, :, m:2 * m], A[:, :, 2 * m:], H[:tau], self.F3
        subtract(1, Zg, out=F3[:, :, 2])
        multiply(N, N, out=F3[:, :, 0])
        subtract(1, F3[:, :, 0], out=F3[:, :, 0])
        F3[:, :, 2] *= F3[:, :, 0]                             # (1 - z_t)(1 - n_t^2)  (10b.10)
        subtract(1, Zg, out=F3[:, :, 0])
        F3[:, :, 0] *= Zg
        subtract(H_prev, N, out=self.Fr)                       # (Fr as scratch)
        F3[:, :, 0] *= self.Fr                                 # (h_{t-1} - n_t) z_t (1 - z_t)
        subtract(1, Rg, out=self.Fr)
        self.Fr *= Rg
        self.Fr *= H_prev                                      # h_{t-1} r_t (1 - r_t) (10b.13)

        Wn, Wzr = W[2 * m:], W[:2 * m]                         # (m, m), (2m, m)
        self.dH[tau] = self.VTdo[tau - 1]                      # dL/dh_tau = V^T dL/do_tau
        for (dh, dh_b, f3, da3, da_n, drh, fr, da_r, da_zr, dh_prev, z, r,
             vt_do) in self.backward_rows:
            multiply(dh_b, f3, out=da3)                        # (10b.10)-(10b.11), r block 0
            dot(da_n, Wn, out=drh)                             # (10b.12)
            multiply(drh, fr, out=da_r)                        # (10b.13)
            if vt_do is None:                                  # t = 1: dL/dh_0 is not needed
                break
            dot(da_zr, Wzr, out=dh_prev)                       # (10b.16), then the 3 others
            multiply(z, dh, out=tmp)
            add(dh_prev, tmp, out=dh_prev)
            multiply(r, drh, out=tmp)
            add(dh_prev, tmp, out=dh_prev)
            add(dh_prev, vt_do, out=dh_prev)                   # (10b.9) for step t - 1
        dAs = self.dA[:tau].reshape(tau * B, 3 * m)
        dot(dAs[:, :2 * m].T, H_prev.reshape(tau * B, m), out=g.W[:2 * m])     # (10b.14)
        dot(dAs[:, 2 * m:].T, self.RH.reshape(tau * B, m), out=g.W[2 * m:])
        dAs.sum(axis=0, out=g.b[:, 0])                         # (10b.15)
        self._input_gradient(X)                                # (10b.15)
        return loss

    @property
    def h(self) -> np.ndarray:
        """A copy of the last hidden state of the last pass, shape (m, B)."""
        return self.H[self.tau].T.copy()
