r"""Experiments and figures of chapters 2 to 5: what the pages show, computed by the package.

Every figure on the site and in the chapter notebooks comes from a function here or in
:mod:`charrnn_edu.training_experiments`, drawn with matplotlib's object-oriented API (a
:class:`~matplotlib.figure.Figure` of its own, no pyplot state, no backend switched), so the
pages cannot drift from the code. :func:`charrnn_edu.files.save_figure` writes any of them to
SVG or PNG, byte for byte the same each time.

Pictures of the network
    :func:`draw_unrolled` — the network unrolled over tau steps, optionally with the two
    paths along which BPTT sends the gradient into dL/dh_t (chapter 4).
    :func:`draw_states` — heat maps of H (m, tau) and P (K, tau) for a real piece of text.

Exploding and vanishing gradients (chapter 4b)
    :func:`jacobian_norms` — the norm of the product of k backward Jacobians
    diag(1 - h_t^2) W^T, against k; :func:`spectral_radius`; :func:`h0_gradients` — how
    much each step's loss sends back to h_0; :func:`norm_clip` beside chapter 6's
    element-wise clip, and :func:`clipping_numbers` comparing the two on one gradient.

The gradient check's step size (chapter 5)
    :func:`forward_differences`, :func:`step_errors`, :func:`draw_step_errors`.

The numeric answers
    :func:`answers` — the numbers the "Check yourself" questions quote, computed.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from charrnn_edu.adagrad import AdaGrad, clip
from charrnn_edu.bptt import gradients
from charrnn_edu.encoding import Vocabulary
from charrnn_edu.files import default_corpus, read_text
from charrnn_edu.forward import RNN, forward
from charrnn_edu.gradcheck import complex_step_gradients, elementwise, numerical_gradients
from charrnn_edu.loss import cross_entropy, sequence_loss

__all__ = ["draw_unrolled", "char_label", "draw_states", "spectral_radius", "jacobian_norms",
           "draw_jacobian_norms", "h0_gradients", "draw_h0_gradients", "norm_clip",
           "largest_element", "forward_differences", "step_errors", "STEPS",
           "draw_step_errors", "clipping_numbers", "answers"]


# ------------------------------------------------------------------ the unrolled network

def _node(ax: Axes, xy: tuple[float, float], label: str, color: str = "white",
          edge: str = "black") -> None:
    ax.text(*xy, label, ha="center", va="center", fontsize=12, zorder=3,
            bbox={"boxstyle": "circle,pad=0.3", "facecolor": color, "edgecolor": edge})


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], label: str = "",
           color: str = "black", width: float = 1.2, label_at: float = 0.5,
           offset: tuple[float, float] = (0.12, 0.0), rad: float = 0.0,
           ha: str = "left") -> None:
    ax.annotate("", xy=end, xytext=start, zorder=2,
                arrowprops={"arrowstyle": "-|>", "color": color, "linewidth": width,
                            "shrinkA": 15, "shrinkB": 15,
                            "connectionstyle": f"arc3,rad={rad}"})
    if label:
        x = start[0] + label_at * (end[0] - start[0]) + offset[0]
        y = start[1] + label_at * (end[1] - start[1]) + offset[1]
        ax.text(x, y, label, color=color, fontsize=10, ha=ha, va="center", zorder=4)


def draw_unrolled(tau: int = 4, bptt_at: int | None = None) -> Figure:
    r"""The network unrolled over ``tau`` steps: x_t, h_t, o_t, p_t, the targets y_t, the losses.

    Every step uses the same U (input to hidden), W (hidden to hidden) and V (hidden to
    output); h_0 comes in from the left. With ``bptt_at = t`` the figure shows BPTT at step
    t instead: the forward graph in grey and, in colour, the two paths along which the
    gradient reaches dL/dh_t, through o_t (V^T g_t, (4.4)'s first term) and through
    a_{t+1} (W^T dL/da_{t+1}, its second term).

    Parameters
    ----------
    tau : int
        Number of time steps to draw, at least 2.
    bptt_at : int, optional
        The step t (1 <= t < tau) whose dL/dh_t is highlighted.

    Returns
    -------
    Figure
    """
    if tau < 2:
        raise ValueError(f"tau must be at least 2 to show the recurrence, got {tau}")
    if bptt_at is not None and not 1 <= bptt_at < tau:
        raise ValueError(f"bptt_at must lie in 1..{tau - 1} (a step with a next step), "
                         f"got {bptt_at}")
    fig = Figure(figsize=(1.5 * tau + 2.4, 5.0), dpi=110)
    ax = fig.add_axes((0.0, 0.0, 1.0, 0.93))
    ax.set_axis_off()
    ax.set_xlim(-0.6, 2 * tau + 2.4)
    ax.set_ylim(-0.5, 7.0)
    rows = {"x": 0.0, "h": 2.0, "o": 3.8, "p": 5.2, "l": 6.6}
    forward_color = "black" if bptt_at is None else "0.7"
    _node(ax, (0, rows["h"]), "$h_0$", edge=forward_color)
    for t in range(1, tau + 1):
        x = 2.0 * t
        for row in ("x", "h", "o", "p"):
            _node(ax, (x, rows[row]), f"${row}_{t}$", edge=forward_color)
        _node(ax, (x, rows["l"]), rf"$\ell_{t}$", edge=forward_color)
        ax.text(x + 0.85, rows["l"], f"$y_{t}$", ha="center", va="center", fontsize=11,
                color=forward_color)
        _arrow(ax, (x + 0.75, rows["l"]), (x, rows["l"]), color=forward_color, width=0.8)
        _arrow(ax, (x, rows["x"]), (x, rows["h"]), "$U$", forward_color)
        _arrow(ax, (x - 2, rows["h"]), (x, rows["h"]), "$W$", forward_color,
               offset=(-0.1, 0.25))
        _arrow(ax, (x, rows["h"]), (x, rows["o"]), "$V$", forward_color)
        _arrow(ax, (x, rows["o"]), (x, rows["p"]), "softmax" if t == 1 else "",
               forward_color)
        _arrow(ax, (x, rows["p"]), (x, rows["l"]), color=forward_color)
    if bptt_at is None:
        fig.suptitle(f"The network unrolled over tau = {tau} steps: the same U, W, V "
                     "(and b, c) at every step", fontsize=11)
        ax.text(2.0 * tau + 0.9, rows["h"], f"$h_{{{tau}}}$\n→ next\nsequence",
                fontsize=9, va="center", ha="left")
        return fig

    t, x = bptt_at, 2.0 * bptt_at
    _node(ax, (x, rows["h"]), f"$h_{t}$", color="#fff2cc", edge="tab:red")
    _node(ax, (x, rows["o"]), f"$o_{t}$", edge="tab:blue")
    _node(ax, (x + 2, rows["h"]), f"$h_{t + 1}$", edge="tab:green")
    _arrow(ax, (x, rows["o"]), (x, rows["h"]), rf"via $o_{t}$: $V^\top g_{t}$",
           "tab:blue", width=2.5, offset=(-0.45, 0.0), rad=0.45, ha="right")
    _arrow(ax, (x + 2, rows["h"]), (x, rows["h"]),
           rf"via $a_{{{t + 1}}}$: $W^\top \partial L/\partial a_{{{t + 1}}}$",
           "tab:green", width=2.5, offset=(-0.9, -0.55), rad=-0.35)
    for later in range(t + 1, tau + 1):     # everything after t reaches h_t through a_{t+1}
        _node(ax, (2.0 * later, rows["l"]), rf"$\ell_{later}$", edge="tab:green")
    _node(ax, (x, rows["l"]), rf"$\ell_{t}$", edge="tab:blue")
    fig.suptitle(rf"BPTT at t = {t}: $\partial L/\partial h_{{{t}}}$ adds the gradients of "
                 "two paths (4.4)", fontsize=11)
    ax.text(2.0 * tau + 0.9, rows["p"] - 0.4,
            "blue: the loss\nof this step\n\ngreen: the\nlosses of all\nlater steps",
            fontsize=9, va="center", ha="left")
    return fig


# ------------------------------------------------------------------ what H and P look like

def char_label(c: str) -> str:
    """A character as a readable tick label: space and newline shown as symbols."""
    return {" ": "␣", "\n": "↵", "\t": "⇥", "$": r"\$"}.get(c, c)


def draw_states(rnn: RNN, vocab: Vocabulary, text: str, h0: np.ndarray | None = None) -> Figure:
    r"""Heat maps of H (m, tau) and P (K, tau) for ``text``, read from ``h0`` (zeros).

    Each column is one time step, labelled with the character read (x_t). In P, the row of
    the character that really came next (y_t) is marked with a circle: a good model puts
    its brightest square of each column there (P is drawn on a log scale, so that the
    small probabilities show too). The last character of ``text`` is only a target.
    """
    ids = vocab.encode(text)
    x, y = ids[:-1], ids[1:]
    h0 = np.zeros((rnn.m, 1)) if h0 is None else h0
    H, P, _ = forward(rnn, x, h0)
    tau = len(x)
    fig = Figure(figsize=(3.2 + 0.42 * tau, 12), dpi=110, layout="constrained")
    ax_h, ax_p = fig.subplots(2, 1, height_ratios=[1, 1.4])
    image = ax_h.imshow(H, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1,
                        interpolation="nearest")
    fig.colorbar(image, ax=ax_h, label="$h_t[i]$", shrink=0.9)
    ax_h.set_ylabel(f"hidden unit i (of m = {rnn.m})")
    ax_h.set_title("H: the hidden states, one column per step (2.2)", fontsize=10)
    image = ax_p.imshow(P, aspect="auto", cmap="viridis", interpolation="nearest",
                        norm=LogNorm(vmin=1e-3, vmax=1))
    fig.colorbar(image, ax=ax_p, label="$p_t[k]$ (log scale)", shrink=0.9)
    ax_p.scatter(np.arange(tau), y, s=40, facecolors="none", edgecolors="tab:red",
                 linewidths=1.0, label="the true next character $y_t$")
    ax_p.set_yticks(range(len(vocab)), [char_label(c) for c in vocab.chars], fontsize=6)
    ax_p.set_ylabel("next character k")
    ax_p.set_title("P: the probabilities of the next character (2.4)", fontsize=10)
    ax_p.legend(loc="lower right", fontsize=8, bbox_to_anchor=(1.0, 1.0))
    for ax in (ax_h, ax_p):
        ax.set_xticks(range(tau), [char_label(vocab.chars[i]) for i in x], fontsize=9)
        ax.set_xlabel("input character $x_t$")
    return fig


# ------------------------------------------------------------------ exploding and vanishing

def spectral_radius(W: np.ndarray) -> float:
    """The largest absolute eigenvalue of the square matrix ``W``."""
    return float(np.abs(np.linalg.eigvals(W)).max())


# --8<-- [start:jacobian-norms]
def jacobian_norms(rnn: RNN, x: np.ndarray, h0: np.ndarray) -> np.ndarray:
    r"""Norms of the products of backward Jacobians, from the last step of ``x`` back.

    By (4.4)–(4.5), the gradient that reaches a_{t} from a_{t+1} is
    :math:`\partial L/\partial a_t \ni \operatorname{diag}(1 - h_t^2) W^\top
    \partial L/\partial a_{t+1}`. Over k steps back from the end, tau, it is multiplied by
    :math:`J_k = \prod_{j=\tau-k}^{\tau-1} \operatorname{diag}(1 - h_j^2)\, W^\top`, (4b.2)
    (the factor for j = tau - 1 applied first). Entry k - 1 of the result is the spectral
    norm of J_k: the most any gradient can grow over k steps.

    Parameters
    ----------
    rnn : RNN
    x : ndarray of shape (tau,)
        Input ids; the hidden states h_1 .. h_tau come from the forward pass over them.
    h0 : ndarray of shape (m, 1)

    Returns
    -------
    ndarray of shape (tau - 1,)
        ``||J_k||_2`` for k = 1, ..., tau - 1.
    """
    H = forward(rnn, x, h0).H                              # (m, tau)
    J = np.eye(rnn.m)
    norms = []
    for j in reversed(range(len(x) - 1)):                  # h_{tau-1}, ..., h_1 (0-based)
        J = (1 - H[:, [j]] ** 2) * (rnn.W.T @ J)           # diag(1 - h_j^2) W^T J
        norms.append(np.linalg.norm(J, 2))
    return np.array(norms)
# --8<-- [end:jacobian-norms]


def _decades(ax: Axes, curves: list[np.ndarray]) -> None:
    """Log y-limits that fit ``curves``, with a tick every 10, 20, ... decades."""
    floor = np.finfo(float).tiny
    shown = np.log10(np.concatenate([np.maximum(c, floor) for c in curves]))
    low, high = np.floor(shown.min()) - 3, np.ceil(shown.max()) + 3
    ax.set_ylim(10.0**low, 10.0**high)
    every = max(1, int(np.ceil((high - low) / 80)) * 10)
    ax.set_yticks(10.0 ** np.arange(np.ceil(low / every) * every, high + 1, every))
    ax.minorticks_off()


def draw_jacobian_norms(curves: dict[str, np.ndarray],
                        radii: dict[str, float] | None = None) -> Figure:
    r"""Log-scale plot of ``||J_k||`` against k, one curve per model, with rho(W)^k dashed.

    Parameters
    ----------
    curves : dict of str to ndarray
        A label and the output of :func:`jacobian_norms` for each model.
    radii : dict of str to float, optional
        The spectral radius of each model's W (same labels): rho^k is drawn dashed, the
        size of W^T's k-th power alone, without the tanh factors.
    """
    fig = Figure(figsize=(8, 4.6), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    floor = np.finfo(float).tiny
    for (label, norms), color in zip(curves.items(), ("tab:blue", "tab:orange", "tab:green",
                                                       "tab:red"), strict=False):
        k = np.arange(1, len(norms) + 1)
        ax.semilogy(k, np.maximum(norms, floor), "-", color=color, linewidth=1.8, label=label)
        if radii is not None and label in radii:
            ax.semilogy(k, np.maximum(radii[label] ** k, floor), "--", color=color,
                        linewidth=0.9, label=rf"$\rho(W)^k$ = {radii[label]:.3g}$^k$")
    _decades(ax, list(curves.values()))                    # the dashed lines may run off
    ax.axhline(1.0, color="0.4", linewidth=0.8)
    ax.set_xlabel("k, steps back in time")
    ax.set_ylabel(r"$\|\prod \operatorname{diag}(1-h_t^2)\,W^\top\|_2$ over k steps")
    ax.set_title("How much a gradient can grow or shrink on its way back k steps", fontsize=11)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower left")
    return fig


# --8<-- [start:h0-gradients]
def h0_gradients(rnn: RNN, x: np.ndarray, y: np.ndarray, h0: np.ndarray) -> np.ndarray:
    r"""``||d l_t / d h_0||`` for each step t: what the loss of step t sends back to h_0.

    For one step's loss :math:`\ell_t` alone, (4.4)–(4.5) start with
    :math:`\partial \ell_t / \partial a_t = (1 - h_t^2) \odot V^\top g_t`, then go back with
    :math:`\operatorname{diag}(1 - h_j^2) W^\top` for j = t - 1, ..., 1, and finally
    :math:`\partial \ell_t / \partial h_0 = W^\top \partial \ell_t / \partial a_1`. Computed
    per step, not as differences of sums, so tiny values keep their digits.

    Returns
    -------
    ndarray of shape (tau,)
        Entry t - 1 is ``||d l_t / d h_0||_2``.
    """
    H, P, _ = forward(rnn, x, h0)
    sizes = []
    for t in range(len(x)):
        g = P[:, [t]].copy()
        g[y[t]] -= 1                                       # (4.1)
        da = (rnn.V.T @ g) * (1 - H[:, [t]] ** 2)          # (4.4) first term, (4.5)
        for j in reversed(range(t)):
            da = (rnn.W.T @ da) * (1 - H[:, [j]] ** 2)     # (4.4) second term, (4.5)
        sizes.append(np.linalg.norm(rnn.W.T @ da))         # d l_t / d h_0
    return np.array(sizes)
# --8<-- [end:h0-gradients]


def draw_h0_gradients(curves: dict[str, np.ndarray], tau: int = 25) -> Figure:
    """Log-scale plot of :func:`h0_gradients` against t, with truncated BPTT's tau marked."""
    fig = Figure(figsize=(8, 4.4), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    floor = np.finfo(float).tiny
    for label, sizes in curves.items():
        ax.semilogy(np.arange(1, len(sizes) + 1), np.maximum(sizes, floor), linewidth=1.6,
                    label=label)
    _decades(ax, list(curves.values()))
    ax.axvline(tau, color="0.3", linestyle="--", linewidth=1)
    ax.text(tau, 1.0, f" tau = {tau}: BPTT stops here", transform=ax.get_xaxis_transform(),
            va="top", fontsize=8, color="0.3")
    ax.set_xlabel("t: the step whose loss is differentiated")
    ax.set_ylabel(r"$\|\partial \ell_t / \partial h_0\|_2$")
    ax.set_title("How much the loss t steps later depends on the state at the start",
                 fontsize=11)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return fig


# --8<-- [start:norm-clip]
def norm_clip(grads: RNN, max_norm: float) -> RNN:
    r"""Rescale all gradients together so that their joint norm is at most ``max_norm``.

    The joint norm is :math:`\|g\| = \sqrt{\sum_\theta \sum (\partial L/\partial\theta)^2}`
    over all five arrays. If it exceeds ``max_norm`` every array is multiplied by
    ``max_norm / ||g||``: the direction is kept, only the length changes (d2l's and most
    libraries' clipping; chapter 6's :func:`~charrnn_edu.adagrad.clip` clips each element).
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    norm = _norm(grads)
    scale = min(1.0, max_norm / norm) if norm > 0 else 1.0
    return grads.map(lambda g: g * scale)
# --8<-- [end:norm-clip]


def largest_element(grads: RNN) -> float:
    """The largest |element| of all five gradients: what the report's clipping (6.1) looks at."""
    return max(float(np.abs(g).max()) for g in grads)


# ------------------------------------------------------------------ the gradient check's V

STEPS = np.logspace(-13, -1, 13)


# --8<-- [start:step-errors]
def forward_differences(rnn: RNN, x: np.ndarray, y: np.ndarray, h0: np.ndarray,
                        step: float) -> RNN:
    """One-sided differences (L(θ + h) - L(θ)) / h for every element, for comparison."""
    model = rnn.copy()

    def loss(_: np.ndarray) -> float:      # the moved element is one of model's arrays
        return sequence_loss(model, x, y, h0)

    return RNN(*(elementwise(loss, theta, method="forward", step=step) for theta in model))


def step_errors(steps: np.ndarray = STEPS, m: int = 5, sigma: float = 0.01,
                seed: int = 0) -> dict[str, np.ndarray]:
    """Largest absolute error against BPTT, over every element, for each step and method.

    The gradient check's network (m hidden units, weights N(0, sigma^2) from ``seed``,
    h0 = 0, the first 25 characters of the bundled text), every gradient element computed by
    centred differences (5.1), forward differences and complex steps (5.3) at each step h.

    Returns
    -------
    dict
        ``"steps"`` and, of the same shape, ``"centred"``, ``"forward"``, ``"complex"``.
    """
    text = read_text(default_corpus())
    vocab = Vocabulary.from_text(text)
    ids = vocab.encode(text[:26])                  # the check's 25 inputs and their targets
    x, y = ids[:-1], ids[1:]
    rnn = RNN.init(len(vocab), m, sigma, rng=np.random.default_rng(seed))
    h0 = np.zeros((m, 1))
    _, analytic, _ = gradients(rnn, x, y, h0)

    def worst(numerical: RNN) -> float:
        return max(float(np.abs(a - n).max()) for a, n in zip(analytic, numerical, strict=True))

    return {"steps": np.asarray(steps),
            "centred": np.array([worst(numerical_gradients(rnn, x, y, h0, h)) for h in steps]),
            "forward": np.array([worst(forward_differences(rnn, x, y, h0, h)) for h in steps]),
            "complex": np.array([worst(complex_step_gradients(rnn, x, y, h0, h))
                                 for h in steps])}
# --8<-- [end:step-errors]


def draw_step_errors(errors: dict[str, np.ndarray]) -> Figure:
    """The three error curves of :func:`step_errors` against h, log-log."""
    steps = errors["steps"]
    fig = Figure(figsize=(7, 4.2), dpi=120, layout="constrained")
    ax = fig.add_subplot()
    floor = np.finfo(float).tiny  # an exact 0 cannot be drawn on a log scale
    for key, label, style in (("forward", "forward differences, O(h)", "s--"),
                              ("centred", "centred differences (5.1), O(h²)", "o-"),
                              ("complex", "complex step (5.3), O(h²), no rounding", "^-")):
        ax.loglog(steps, np.maximum(errors[key], floor), style, label=label, markersize=4)
    ax.set_xlabel("step h")
    ax.set_ylabel("largest |numerical − BPTT| over all elements")
    ax.set_title("Error of numerical gradients against the step h")
    ax.set_ylim(bottom=1e-18)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper center", fontsize=8)
    return fig


# ------------------------------------------------------------------ the numbers the pages cite

def _cosine(a: RNN, b: RNN) -> float:
    dot = sum(float((g * h).sum()) for g, h in zip(a, b, strict=True))
    return dot / (_norm(a) * _norm(b))


def _norm(grads: RNN) -> float:
    return float(np.sqrt(sum(float((g**2).sum()) for g in grads)))


def clipping_numbers(grads: RNN, bound: float = 5.0) -> dict[str, float]:
    """What element-wise clipping (6.1) and norm clipping do to one gradient, in numbers.

    Returns the largest element and the joint norm before; the share of elements that
    clipping changes, the norm after it and the cosine between its direction and the
    original one; and the factor that norm clipping to the same ``bound`` multiplies every
    element by (its cosine is 1 by construction), with the largest element of dL/dV after it.
    """
    clipped, rescaled = clip(grads, bound), norm_clip(grads, bound)
    elements = sum(g.size for g in grads)
    return {"largest": largest_element(grads), "norm": _norm(grads),
            "clipped_share": sum(int((np.abs(g) > bound).sum()) for g in grads) / elements,
            "clipped_norm": _norm(clipped), "clipped_cosine": _cosine(grads, clipped),
            "norm_clip_factor": min(1.0, bound / _norm(grads)),
            "norm_clip_largest_V": float(np.abs(rescaled.V).max()),
            "largest_V": float(np.abs(grads.V).max())}


def answers() -> dict[str, float]:
    """The numeric answers of the pages' "Check yourself" questions, by name.

    Each is computed with the package's own functions, not typed in: a parameter count from
    the arrays ``RNN.init`` draws, losses from ``cross_entropy`` on the distributions the
    question describes, AdaGrad's first move from an ``AdaGrad`` step.
    """
    def loss(tau: int, K: int, p_true: float | None = None) -> float:
        """The loss (3.1) of tau steps that give the truth probability p_true (1/K: uniform)."""
        p = 1 / K if p_true is None else p_true
        P = np.full((K, tau), (1 - p) / (K - 1))
        P[0] = p
        return float(cross_entropy(P, np.zeros(tau, dtype=np.int64)))

    theta = RNN.init(3, 2, 0.0, rng=np.random.default_rng(0))
    AdaGrad(eta=0.1).step(theta, theta.map(lambda a: np.full_like(a, 1000.0)))
    report_sized = RNN.init(76, 100, rng=np.random.default_rng(0))
    return {"answer.parameters": sum(a.size for a in report_sized),
            "answer.loss_half": loss(25, 2, 0.5),
            "answer.ln80": loss(1, 80), "answer.uniform80": loss(25, 80),
            "answer.uniform76": loss(25, 76), "answer.uniform83": loss(25, 83),
            "answer.adagrad_first_move": float(-theta.b[0, 0])}
