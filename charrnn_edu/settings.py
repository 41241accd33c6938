"""Settings of a training run: the hyper-parameters, the presets, and how a command picks them.

Not a chapter: the machinery around :mod:`charrnn_edu.training`. A run's settings are a
preset (the report's ``classic`` unless another is named) with the options given on top;
:func:`resolve_settings` makes them, :func:`resume_requests` says what a command line asks of
a run it continues, and :func:`target_iterations` turns ``--iterations`` or ``--epochs``
into the iteration to train to. Everything here raises ``ValueError`` with a message that
names the bad value; only the command layer turns that into an exit code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace

from charrnn_edu.adagrad import OPTIMIZERS
from charrnn_edu.cells import CELLS, DEFAULT_CELL

__all__ = ["Settings", "PRESETS", "DEFAULT_PRESET", "PRESET_FIELDS", "MAX_VAL_FRAC",
           "DEFAULT_ITERATIONS", "MAX_ITERATIONS", "resolve_settings", "resume_requests",
           "target_iterations"]

MAX_VAL_FRAC = 0.5
"""At most half of the text is held out: the rest must still teach the network."""


@dataclass(frozen=True)
class Settings:
    """Hyper-parameters of a training run; the defaults are the report's.

    Attributes
    ----------
    cell : {"vanilla", "lstm", "gru"}
        The network: the report's (chapters 2-4), the LSTM (chapter 10) or the GRU
        (chapter 10b); ``charrnn_edu.cells``.
    hidden : int
        m, the hidden size.
    seq_length : int
        tau, the characters per piece of text.
    eta : float
        AdaGrad's learning rate.
    sigma : float
        Standard deviation of the initial weights.
    clip : float
        Gradients are clipped to [-clip, clip].
    seed : int
        Seeds the one random generator (initial weights, then every sample).
    sample_every : int
        Synthesise text every this many iterations.
    sample_length : int
        Characters per synthesised sample.
    optimizer : {"adagrad", "adam"}
        Chapter 6's update rule.
    loss : {"sum", "mean"}
        The loss (3.1) summed over the tau steps, or its mean (the 2026 edition's), which
        divides the loss and every gradient by tau.
    init : {"classic", "scaled"}
        ``RNN.init`` with sigma, or :func:`~charrnn_edu.training.init_scaled` (the 2026
        edition's).
    dtype : {"float64", "float32"}
        Precision of the parameters and of every computation. float32 is faster and
        learns the same; gradient checks need float64 (chapter 5).
    batch : int
        B, the number of streams read side by side (``charrnn_edu.batches``); 1 is the
        report's loop. The loss is averaged over the streams.
    val_frac : float in [0, 0.5]
        The last ``val_frac`` of the text is held out of training and used only to measure
        the loss on text the network has not seen (0, the report's way, holds out nothing).
    eval_every : int
        With a held-out part, measure its loss every this many iterations.

    Notes
    -----
    :data:`PRESETS` holds the course's two editions, ``classic`` (the defaults) and ``2026``,
    and this project's choices, measured to beat both: ``tuned-vanilla`` within the report's
    network, and ``tuned``, the same settings with the GRU at the same parameter count.
    """

    cell: str = DEFAULT_CELL
    hidden: int = 100
    seq_length: int = 25
    eta: float = 0.1
    sigma: float = 0.01
    clip: float = 5.0
    seed: int = 0
    sample_every: int = 10_000
    sample_length: int = 200
    optimizer: str = "adagrad"
    loss: str = "sum"
    init: str = "classic"
    dtype: str = "float64"
    batch: int = 1
    val_frac: float = 0.0
    eval_every: int = 5_000

    def __post_init__(self) -> None:
        for name, allowed in (("cell", tuple(CELLS)), ("optimizer", tuple(OPTIMIZERS)),
                              ("loss", ("sum", "mean")),
                              ("init", ("classic", "scaled")),
                              ("dtype", ("float64", "float32"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}; "
                                 f"got {getattr(self, name)!r}")
        if not 0 <= self.val_frac <= MAX_VAL_FRAC:
            raise ValueError(f"val_frac must lie in [0, {MAX_VAL_FRAC}], got {self.val_frac}")
        for name in ("hidden", "seq_length", "eta", "clip", "sample_every", "batch",
                     "eval_every"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("sigma", "sample_length"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)}")

    def to_dict(self) -> dict[str, int | float | str]:
        """The settings as a plain dict (for JSON)."""
        return asdict(self)


PRESETS: dict[str, Settings] = {
    # The report's edition: AdaGrad, summed loss, sigma = 0.01.
    "classic": Settings(),
    # The 2026 edition: Adam (beta1 0.9, beta2 0.999, eps 1e-8), mean loss, scaled init.
    "2026": Settings(eta=0.001, optimizer="adam", loss="mean", init="scaled"),
    # The 2026 edition with m = 256 and tau = 50, at half the step (a larger network takes
    # smaller steps), in float32 to pay for it, and 5% of the text held out to measure it.
    # Chosen by measurement on two novel-sized texts, held-out bits per character first
    # (docs/measured/tuned-*.md, made by benchmarks/tuned.py).
    "tuned-vanilla": Settings(hidden=256, seq_length=50, eta=0.0005, optimizer="adam",
                              loss="mean", init="scaled", dtype="float32", val_frac=0.05,
                              eval_every=10_000),
    # The same with chapter 10b's GRU at the same parameter count (m = 143 at K = 76): it
    # learns more per epoch and per second than the vanilla network or the LSTM
    # (docs/measured/cells.md, made by benchmarks/cells.py).
    "tuned": Settings(cell="gru", hidden=143, seq_length=50, eta=0.0005, optimizer="adam",
                      loss="mean", init="scaled", dtype="float32", val_frac=0.05,
                      eval_every=10_000),
}
"""The course's two editions and this project's tuned ones, by name (``--preset``)."""

DEFAULT_PRESET = "classic"
"""The preset a run takes when none is named: the report's."""

# The optimiser, loss and initialisation first: they tell the presets apart most plainly.
PRESET_FIELDS = tuple(sorted((f.name for f in fields(Settings)
                              if len({getattr(p, f.name) for p in PRESETS.values()}) > 1),
                             key=lambda name: name not in ("optimizer", "loss", "init")))
"""The settings in which the presets differ: what naming a preset asks of a resumed run."""

DEFAULT_ITERATIONS = 100_000
"""The iteration a run trains to unless told otherwise: the report's 100,000."""

MAX_ITERATIONS = 100_000_000
"""The most iterations a run may ask for: its two float lists of losses take ~6 GB."""


def resolve_settings(preset: str | None = None,
                     overrides: Mapping[str, object] | None = None) -> Settings:
    """The settings of a new run: the preset's, with every override that is not None.

    Parameters
    ----------
    preset : str, optional
        A name in :data:`PRESETS`; :data:`DEFAULT_PRESET` if None.
    overrides : mapping of str to object, optional
        Settings fields and their values; None stands for an option not given.

    Raises
    ------
    ValueError
        If the preset or a field is unknown, or :class:`Settings` refuses a value.
    """
    name = DEFAULT_PRESET if preset is None else preset
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
    chosen = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(set(chosen) - {f.name for f in fields(Settings)})
    if unknown:
        raise ValueError(f"unknown settings {', '.join(unknown)}: the settings are "
                         f"{', '.join(f.name for f in fields(Settings))}")
    return replace(PRESETS[name], **chosen)


def resume_requests(preset: str | None = None, overrides: Mapping[str, object] | None = None
                    ) -> list[tuple[str, str, object]]:
    """What a command line asks of a run it continues: (option as typed, field, value).

    Each override given is asked as typed (``("--hidden 64", "hidden", 64)``); a preset asks
    for what it sets in every field where the presets differ (:data:`PRESET_FIELDS`), unless
    an override names that field. ``runs.resume`` refuses any value unlike the run's, so a
    preset on ``--resume`` means what it means on a new run.

    Raises
    ------
    ValueError
        If the preset is unknown.
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    asked: list[tuple[str, str, object]] = [(f"--{k.replace('_', '-')} {v}", k, v)
                                            for k, v in overrides.items()]
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
        asked += [(f"--preset {preset}", k, getattr(PRESETS[preset], k))
                  for k in PRESET_FIELDS if k not in overrides]
    return asked


def target_iterations(per_epoch: int, *, iterations: int | None = None,
                      epochs: float | None = None) -> int:
    """The iteration a run trains to: ``iterations``, or ``epochs`` passes of ``per_epoch``.

    Neither given: :data:`DEFAULT_ITERATIONS`. ``epochs`` is rounded to whole iterations.

    Raises
    ------
    ValueError
        If both are given, or ``epochs`` comes to fewer than 1 or more than
        :data:`MAX_ITERATIONS` iterations.
    """
    if iterations is not None and epochs is not None:
        raise ValueError("give --iterations or --epochs, not both")
    if epochs is None:
        return DEFAULT_ITERATIONS if iterations is None else iterations
    if not math.isfinite(epochs):
        raise ValueError(f"--epochs must be a finite number of passes, got {epochs}")
    total = round(epochs * per_epoch)
    if not 1 <= total <= MAX_ITERATIONS:
        raise ValueError(f"--epochs {epochs:g} is {total:,} iterations of this text "
                         f"({per_epoch:,} per epoch); it must be 1 to {MAX_ITERATIONS:,}")
    return total
