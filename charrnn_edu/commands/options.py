"""The options several ``charrnn`` commands share, each with its bound and its default.

A bound is stated once, as the option's callback (:func:`bounded`), and refused with a
message that names the flag; a default that a preset changes is shown from
``charrnn_edu.settings`` (:func:`preset_default`), never retyped.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from charrnn_edu.commands.common import UsageError
from charrnn_edu.settings import DEFAULT_PRESET, MAX_ITERATIONS, PRESETS

# Upper bounds of the options: beyond them a run would not fit in memory or would never end.
MAX_SAMPLE = 10_000                   # per sample in training or a report (a signal waits for it)
MAX_LENGTH = 100_000_000              # characters of `charrnn sample` (streamed)
MAX_SEED = 2**63 - 1
MAX_HIDDEN = 1_000_000                # and within half the machine's memory
MAX_BATCH = 4_096                     # streams; the text must also hold batch * (tau + 1)


def in_range(flag: str, value: float | None, low: float, high: float = math.inf, *,
             above: bool = False) -> None:
    """Raise UsageError unless ``value`` is finite and in [low, high] (low excluded if ``above``).

    ``None`` (an option not given) passes.
    """
    if value is None:
        return
    if (math.isfinite(value) and (value > low if above else value >= low) and value <= high):
        return
    if isinstance(value, int):
        bound = (f"an integer from {_show(low + above)} to {_show(high)}" if high < math.inf
                 else f"an integer of at least {_show(low + above)}")
    else:
        bound = "a finite number " + (f"above {_show(low)}" if above else f"at least {_show(low)}")
        if high < math.inf:
            bound += f" and at most {_show(high)}"
    raise UsageError(f"{flag} must be {bound}, got {value}")


def _show(v: float) -> str:
    return f"{v:,}" if isinstance(v, int) or float(v).is_integer() else f"{v:g}"


def bounded(low: float, high: float = math.inf, *,
            above: bool = False) -> Callable[[typer.CallbackParam, Any], Any]:
    """An option's callback: :func:`in_range` on its value, named by its flag.

    Typer refuses nan below a lower bound but lets inf through; this refuses both.
    """
    def check(param: typer.CallbackParam, value: Any) -> Any:
        in_range(param.opts[0], value, low, high, above=above)
        return value
    return check


def nonempty_folder(flag: str) -> Callable[[str], Path]:
    """A folder option's parser: an empty value is refused, not taken for the current folder.

    ``Path("")`` is ``Path(".")``, so ``--out "$OUT"`` with OUT unset would write a run
    straight into the current folder; the parser sees the string before it becomes a Path.
    """
    def parse(value: str) -> Path:
        if isinstance(value, Path):
            return value
        if not value.strip():
            raise UsageError(f"{flag} is empty: give the folder's name (an unset shell "
                             f"variable, perhaps?); for the current folder say {flag} .")
        return Path(value)
    return parse


def figure_file(flag: str, out: Path) -> None:
    """Refuse a figure file whose suffix matplotlib cannot draw, or a directory."""
    from charrnn_edu.report import FIGURE_FORMATS

    if out.suffix.lower() not in FIGURE_FORMATS:
        raise UsageError(f"{flag} {out}: cannot draw a {out.suffix or 'suffix-less'} file; "
                         f"use {', '.join(FIGURE_FORMATS[:-1])} or {FIGURE_FORMATS[-1]}")
    if out.is_dir():
        raise UsageError(f"{flag} {out} is a directory: give a file name")


ITERATIONS = bounded(1, MAX_ITERATIONS)
EPOCHS = bounded(0, MAX_ITERATIONS, above=True)
SEED = bounded(0, MAX_SEED)


def preset_default(field: str, note: str = "") -> str:
    """``[default: 100; 256 tuned]``: a setting's default, then each preset's that differs."""
    def show(value: object) -> str:
        return f"{value:g}" if isinstance(value, float) else str(value)

    values = {name: getattr(preset, field) for name, preset in PRESETS.items()}
    base = values[DEFAULT_PRESET]
    if len(values) > 2 and len(set(values.values())) == len(values):     # each its own
        return "[default: " + ", ".join(f"{show(v)} {n}" for n, v in values.items()) + "]"
    others = ", ".join(f"{show(v)} {n}" for n, v in values.items() if v != base)
    return f"[default: {show(base)}{note}{'; ' + others if others else ''}]"


DataOption = Annotated[Path | None, typer.Option(
    "--data", help="Text file to use [default: the bundled data/shakespeare.txt].",
    show_default=False)]
EncodingOption = Annotated[str | None, typer.Option(
    "--encoding", help="Text encoding of --data (the report's novel needs latin-1) "
                       "[default: utf-8, or the resumed run's].", show_default=False)]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of every random draw.",
                                         callback=SEED)]
QuietOption = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]


class Preset(StrEnum):
    """The course's editions and the tuned presets (``charrnn_edu.settings.PRESETS``)."""

    classic = "classic"
    edition_2026 = "2026"
    tuned_vanilla = "tuned-vanilla"
    tuned = "tuned"


_c, _v, _t = PRESETS["classic"], PRESETS["tuned-vanilla"], PRESETS["tuned"]
PRESET_HELP = (f"classic: AdaGrad, summed loss, sigma {_c.sigma:g} (the report); 2026: Adam, "
               f"mean loss, scaled initialisation; tuned-vanilla: 2026 with m = {_v.hidden}, "
               f"tau = {_v.seq_length}, eta = {_v.eta:g}, {_v.dtype} and {_v.val_frac:.0%} held "
               f"out (beats the report; chapter 9); tuned: the same with the {_t.cell.upper()} "
               f"at m = {_t.hidden}, as many parameters (chapter 10b).")
PresetOption = Annotated[Preset | None, typer.Option(
    "--preset", help=f"{PRESET_HELP} [default: {DEFAULT_PRESET}]", show_default=False)]


class Dtype(StrEnum):
    """Floating-point precision of training."""

    float64 = "float64"
    float32 = "float32"


DtypeOption = Annotated[Dtype | None, typer.Option(
    "--dtype", help="float32 trains faster; gradient checks always use float64 "
                    f"{preset_default('dtype')}.", show_default=False)]


class Cell(StrEnum):
    """The recurrent cell (``charrnn_edu.cells.CELLS``): the report's, or a gated one."""

    vanilla = "vanilla"
    lstm = "lstm"
    gru = "gru"


CellOption = Annotated[Cell | None, typer.Option(
    "--cell", help="The network: vanilla (the report's, chapters 2-4), lstm (chapter 10) or "
                   f"gru (chapter 10b) {preset_default('cell')}.", show_default=False)]


class EngineChoice(StrEnum):
    """Who computes each training iteration (``charrnn_edu.training.ENGINES``)."""

    fast = "fast"
    chapters = "chapters"


EngineOption = Annotated[EngineChoice, typer.Option(
    "--engine", help="fast: charrnn_edu.engine; chapters: chapters 4 and 6 as written (slow, "
                     "the same numbers to rounding).")]
BatchOption = Annotated[int | None, typer.Option(
    "--batch", help="Streams read side by side, B (1 is the report's loop) "
                    f"{preset_default('batch')}.", show_default=False,
    callback=bounded(1, MAX_BATCH))]


class Layout(StrEnum):
    """Where the learner's vectors stand: columns (the report) or rows (the 2026 edition)."""

    columns = "columns"
    rows = "rows"


class Loss(StrEnum):
    """The learner's loss over the tau steps: the sum (3.1) or the mean."""

    sum = "sum"
    mean = "mean"


LAYOUT_HELP = ("Your arrays: columns, U (m, K), V (K, m), b (m, 1) (the report); or rows, "
               "U (K, m), V (m, K), b (1, m), h W (the 2026 edition).")
FUNCTION_HELP = "The name of your function in the --yours file."
