"""The V-shaped curve of chapter 5: how the error of a numerical gradient depends on the step h.

    python docs/scripts/gradcheck_steps.py --out gradcheck-steps.svg

For the gradient check's network (m = 5, sigma = 0.01, h0 = 0, the first 25 characters of the
bundled corpus) and steps h = 1e-13 ... 1e-1, it computes every element of every gradient
three ways with the package's chapter 5 functions and compares each with BPTT's gradient
(chapter 4), which the check has already confirmed:

* centred differences (5.1), ``numerical_gradients``: error O(h^2) from truncation plus
  O(eps_mach / h) from rounding, so a V with its bottom near h = 1e-4 to 1e-5;
* forward differences (L(θ + h) - L(θ)) / h, written out below: truncation only O(h), so its
  V is shallower and its best error far larger;
* complex steps (5.3), ``complex_step_gradients``: no subtraction, so no rounding branch;
  once h is small the error stays at machine precision.

The docs build calls :func:`write_figure`, and the test suite calls :func:`step_errors` and
checks the shape of the curves.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from charrnn_edu.bptt import gradients  # noqa: E402
from charrnn_edu.encoding import Vocabulary  # noqa: E402
from charrnn_edu.files import default_corpus, read_text  # noqa: E402
from charrnn_edu.forward import RNN  # noqa: E402
from charrnn_edu.gradcheck import complex_step_gradients, numerical_gradients  # noqa: E402
from charrnn_edu.loss import sequence_loss  # noqa: E402

STEPS = np.logspace(-13, -1, 13)


def forward_differences(rnn: RNN, x: np.ndarray, y: np.ndarray, h0: np.ndarray,
                        step: float) -> RNN:
    """One-sided differences (L(θ + h) - L(θ)) / h for every element, for comparison."""
    model, base = rnn.copy(), sequence_loss(rnn, x, y, h0)
    grads = []
    for theta in model:
        g = np.empty(theta.shape)
        for index in np.ndindex(theta.shape):
            old = theta[index]
            theta[index] = old + step
            g[index] = (sequence_loss(model, x, y, h0) - base) / step
            theta[index] = old
        grads.append(g)
    return RNN(*grads)


def step_errors(steps: np.ndarray = STEPS, m: int = 5, sigma: float = 0.01,
                seed: int = 0) -> dict[str, np.ndarray]:
    """Largest absolute error against BPTT, over every element, for each step and method.

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


def write_figure(path: Path, errors: dict[str, np.ndarray] | None = None) -> None:
    """Draw the three error curves against h, log-log, to ``path`` (.svg or .png)."""
    errors = step_errors() if errors is None else errors
    steps = errors["steps"]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
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
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Date": None} if path.suffix == ".svg" else None)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    """Command line: write the figure where --out says."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gradcheck-steps.svg"))
    args = parser.parse_args(argv)
    write_figure(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
