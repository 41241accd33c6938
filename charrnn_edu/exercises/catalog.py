r"""The exercises: what a learner writes for each chapter, and the starter file for it.

Each exercise names the package's own functions to write again (``softmax``, ``step``,
``backward_step``, ``gradients``, ...), or the plain versions in
:mod:`~charrnn_edu.exercises.references`. Their signatures are the ones a learner's file must
match and their docstrings go into the starter, under the chapter's equations.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from charrnn_edu import adagrad, bptt, encoding, forward, gradcheck, loss, sampling
from charrnn_edu.exercises import references

__all__ = ["Exercise", "EXERCISES", "find_exercise", "equation_lines", "signature_text",
           "starter_source", "starter_filename"]


@dataclass(frozen=True)
class Exercise:
    """One exercise: a chapter's function(s) to write, and where their equations are.

    Attributes
    ----------
    name, title : str
        What ``charrnn exercises`` calls it, and one line for its list.
    chapter : int
    module : ModuleType
        The chapter's module; its docstring holds the equations.
    functions : tuple of callable
        The package's functions: their names and signatures are the ones to write.
    equations : tuple of str
        Tags like ``"2.1"`` of the equations the starter shows.
    imports : str
        The starter's import lines: what the learner may use from earlier chapters.
    promise : str
        Added to the starter's docstring: what the checks test that the docstring leaves out.
    """

    name: str
    chapter: int
    module: ModuleType
    title: str
    functions: tuple[Callable, ...]
    equations: tuple[str, ...] = ()
    imports: str = ""
    promise: str = ""

    @property
    def function_names(self) -> tuple[str, ...]:
        """Names of the functions to write, in order."""
        return tuple(f.__name__ for f in self.functions)

    @property
    def references(self) -> dict[str, Callable]:
        """The package's implementation of every function, by name."""
        return {f.__name__: f for f in self.functions}


RNN_IMPORT = "from charrnn_edu.forward import RNN"

EXERCISES: tuple[Exercise, ...] = (
    Exercise("encoding", 1, encoding, "vocabulary, encode and decode",
             (references.vocabulary, references.encode, references.decode)),
    Exercise("one-hot", 1, encoding, "one-hot columns of a sequence of ids, (1.1)",
             (encoding.one_hot,), ("1.1",), "from collections.abc import Iterable"),
    Exercise("softmax", 2, forward, "column-wise softmax that never overflows, (2.4)",
             (forward.softmax,), ("2.4",)),
    Exercise("forward-step", 2, forward, "one time step of the forward pass, (2.1)-(2.4)",
             (forward.step,), ("2.1", "2.2", "2.3", "2.4"),
             "from charrnn_edu.forward import RNN, Step, softmax"),
    Exercise("forward", 2, forward, "the forward pass over a sequence, (2.1)-(2.4)",
             (forward.forward,), ("2.1", "2.2", "2.3", "2.4"),
             "from charrnn_edu.forward import RNN, Forward, softmax"),
    Exercise("cross-entropy", 3, loss, "the summed cross-entropy loss, (3.1)",
             (loss.cross_entropy,), ("3.1",)),
    Exercise("backward-step", 4, bptt, "one time step of BPTT, (4.1)-(4.8)",
             (bptt.backward_step,), tuple(f"4.{i}" for i in range(1, 9)), RNN_IMPORT),
    Exercise("bptt", 4, bptt, "the loss and all five gradients by BPTT, (4.1)-(4.8)",
             (bptt.gradients,), tuple(f"4.{i}" for i in range(1, 9)),
             "from charrnn_edu.forward import RNN, forward\n"
             "from charrnn_edu.loss import cross_entropy"),
    Exercise("numerical-gradients", 5, gradcheck, "centred-difference gradients, (5.1)",
             (gradcheck.numerical_gradients,), ("5.1",),
             "from charrnn_edu.forward import RNN, forward\n"
             "from charrnn_edu.loss import cross_entropy"),
    Exercise("relative-error", 5, gradcheck, "the report's relative error, (5.2)",
             (gradcheck.relative_error,), ("5.2",)),
    Exercise("clip", 6, adagrad, "element-wise gradient clipping, (6.1)",
             (adagrad.clip,), ("6.1",), RNN_IMPORT,
             "Raises\n------\nValueError\n    If ``bound`` is not positive; the message names "
             "it."),
    Exercise("adagrad", 6, adagrad, "one AdaGrad step, (6.2)-(6.3)",
             (references.adagrad_step,), ("6.2", "6.3"), RNN_IMPORT),
    Exercise("temperature", 7, sampling, "one sampling step with temperature, (7.1)",
             (sampling.next_distribution,), ("7.1",),
             "from charrnn_edu.forward import RNN, softmax"),
    Exercise("top-p", 7, sampling, "nucleus (top-p) filtering of a distribution",
             (sampling.nucleus,)),
)


def find_exercise(name: str) -> Exercise:
    """The exercise called ``name``; ValueError naming the closest one if there is none."""
    for exercise in EXERCISES:
        if exercise.name == name:
            return exercise
    from difflib import get_close_matches
    close = get_close_matches(name, [e.name for e in EXERCISES], n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise ValueError(f"there is no exercise called '{name}': {hint}"
                     "'charrnn exercises list' shows them all")


# ---------------------------------------------------------------- starter files

def equation_lines(module: ModuleType, tags: tuple[str, ...]) -> list[str]:
    """The lines of the equation blocks of ``module``'s docstring that state ``tags``.

    An equation block is the indented block after a line ending in ``::``; prose that only
    mentions an equation is never taken. A block whose lines carry no tag, like chapter 1's
    one-hot rule, is taken whole when the line before it names the tag, and gets the tag.

    Raises
    ------
    LookupError
        If a tag is stated nowhere (the chapter's docstring changed its numbering).
    """
    doc, lines, found = (inspect.getdoc(module) or "").splitlines(), [], set()
    for i, intro in enumerate(doc):
        if not intro.rstrip().endswith("::"):
            continue
        block = []
        for line in doc[i + 2:]:
            if not line.startswith("    "):
                break
            block.append(line.strip())
        tagged = {t: line for line in block for t in tags if line.startswith(f"({t})")}
        named = [t for t in tags if f"({t})" in intro]
        if not any(re.match(r"\(\d+\.\d+\)", line) for line in block) and named:
            lines += [f"({named[0]})  {block[0]}", *block[1:]]
            found.add(named[0])
        lines += [line for line in block if line in tagged.values()]
        found |= set(tagged)
    missing = [t for t in tags if t not in found]
    if missing:
        raise LookupError(f"equation ({missing[0]}) is not in the docstring of {module.__name__}")
    return lines


def signature_text(function: Callable, width: int | None = 90) -> str:
    """``name(param: annotation = default, ...) -> annotation``, as written in the source.

    Longer than ``width``, it has one parameter per line; ``width=None`` keeps it on one.
    """
    sig = inspect.signature(function)
    parts = []
    for p in sig.parameters.values():
        text = p.name + (f": {p.annotation}" if p.annotation is not p.empty else "")
        if p.default is not p.empty:
            text += f" = {p.default!r}" if p.annotation is not p.empty else f"={p.default!r}"
        parts.append(text)
    returns = "" if sig.return_annotation is sig.empty else f" -> {sig.return_annotation}"
    one_line = f"{function.__name__}({', '.join(parts)}){returns}"
    if width is None or len(one_line) <= width:
        return one_line
    return f"{function.__name__}(\n" + "".join(f"    {part},\n" for part in parts) + f"){returns}"


def starter_filename(exercise: Exercise) -> str:
    """The default file of ``charrnn exercises start``: ``one_hot.py`` for ``one-hot``."""
    return exercise.name.replace("-", "_") + ".py"


def starter_source(exercise: Exercise, filename: str) -> str:
    """The text of a starter file: equations, imports, signatures, docstrings, no bodies."""
    chapter_file = exercise.module.__name__.replace(".", "/") + ".py"
    names = ", ".join(exercise.function_names)
    header = [f'r"""Exercise {exercise.name}: {exercise.title}.', "",
              f"Chapter {exercise.chapter}, {chapter_file}.",
              f"Write {names} below, replacing each ``raise NotImplementedError``."]
    if exercise.equations:
        header += ["", "The equations, from the chapter::", ""]
        header += ["    " + line for line in equation_lines(exercise.module, exercise.equations)]
    header += ["", "Check your work as often as you like; a failure comes with the smallest "
               "example", "that shows it, and often with the name of the mistake::", "",
               f"    charrnn exercises check {exercise.name} {filename}", '"""', "",
               "from __future__ import annotations", ""]
    standard = [line for line in exercise.imports.splitlines() if "collections" in line]
    header += [*standard, *([""] if standard else []), "import numpy as np", ""]
    header += [line for line in exercise.imports.splitlines() if "collections" not in line]
    body = []
    for function in exercise.functions:
        doc = inspect.getdoc(function) or ""
        if exercise.promise:
            doc += "\n\n" + exercise.promise
        doc = "\n".join(("    " + line).rstrip() for line in doc.splitlines())[4:]
        body += ["", "", f"def {signature_text(function)}:", f'    r"""{doc}', '    """',
                 f'    raise NotImplementedError("{function.__name__}: not written yet")']
    return "\n".join(header + body).replace("\n\n\n\n", "\n\n\n") + "\n"
