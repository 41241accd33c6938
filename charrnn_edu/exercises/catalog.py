r"""Every exercise and every mistake, in chapter order, and the files made from them.

Each chapter's file (``ch1_encoding.py`` ... ``ch10b_gru.py``) defines its exercises with
their checks and probes, and its classic mistakes; this module collects them, finds them by
name, and writes what a learner gets: the starter file of an exercise (the chapter's
equations, the signatures and docstrings of the package's functions, no bodies) and the
planted file of a mistake (the chapter's source with the mistake's edits applied).
"""

from __future__ import annotations

import functools
import inspect
import re
import sys
from collections.abc import Callable
from difflib import get_close_matches
from types import ModuleType

from charrnn_edu.exercises import (
    ch1_encoding,
    ch2_forward,
    ch3_loss,
    ch4_bptt,
    ch5_gradcheck,
    ch6_adagrad,
    ch7_sampling,
    ch8_training,
    ch10_lstm,
    ch10b_gru,
)
from charrnn_edu.exercises.model import Exercise, Mistake

__all__ = ["EXERCISES", "MISTAKES", "find_exercise", "find_mistake", "planted_source",
           "wrong_functions", "equation_lines", "signature_text", "starter_source",
           "starter_filename"]

CHAPTERS = (ch1_encoding, ch2_forward, ch3_loss, ch4_bptt, ch5_gradcheck, ch6_adagrad,
            ch7_sampling, ch8_training, ch10_lstm, ch10b_gru)
EXERCISES: tuple[Exercise, ...] = tuple(e for chapter in CHAPTERS for e in chapter.EXERCISES)
# In chapter order, each exercise's mistakes together: a diagnosis tries them in this order.
MISTAKES: tuple[Mistake, ...] = tuple(m for chapter in CHAPTERS for m in chapter.MISTAKES)


def find_exercise(name: str) -> Exercise:
    """The exercise called ``name``; ValueError naming the closest one if there is none."""
    for exercise in EXERCISES:
        if exercise.name == name:
            return exercise
    close = get_close_matches(name, [e.name for e in EXERCISES], n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    raise ValueError(f"there is no exercise called '{name}': {hint}"
                     "'charrnn exercises list' shows them all")


def find_mistake(key: str) -> Mistake:
    """The mistake called ``key``; ValueError naming the closest one if there is none."""
    for mistake in MISTAKES:
        if mistake.key == key:
            return mistake
    close = get_close_matches(key, [m.key for m in MISTAKES], n=1)
    raise ValueError(f"there is no mistake called '{key}': "
                     + (f"did you mean '{close[0]}'? " if close else "")
                     + "'charrnn lab list' shows them all")


# ---------------------------------------------------------------- planted files

def planted_source(mistake: Mistake) -> str:
    """The source of the mistake's chapter with its edits applied.

    Raises
    ------
    LookupError
        If a piece to edit is not in the chapter exactly once (the chapter changed).
    """
    source = inspect.getsource(mistake.module)
    for old, new in mistake.edits:
        if source.count(old) != 1:
            raise LookupError(f"mistake {mistake.key}: {old!r} is not in "
                              f"{mistake.module.__name__} exactly once")
        if "\n" not in old and len(new) < len(old):
            new = new.ljust(len(old)) if source.split(old, 1)[1][:2] == "  " else new
        source = source.replace(old, new)
    return source


@functools.cache
def wrong_functions(key: str) -> dict[str, Callable]:
    """The mistake's chapter run as a module of its own: its functions, by name."""
    mistake = find_mistake(key)
    name = f"charrnn_mistake_{key.replace('-', '_')}"
    module = ModuleType(name)
    module.__file__ = f"<mistake {key}>"
    sys.modules[name] = module          # dataclasses look their module up there
    exec(compile(planted_source(mistake), module.__file__, "exec"), module.__dict__)
    return {n: v for n, v in vars(module).items() if inspect.isfunction(v)}


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
    lines = exercise.imports.splitlines()
    standard = [line for line in lines if "collections" in line or line.startswith("import ")]
    header += [*standard, *([""] if standard else []), "import numpy as np", ""]
    header += [line for line in lines if line not in standard]
    body = []
    for function in exercise.functions:
        doc = inspect.getdoc(function) or ""
        if exercise.promise:
            doc += "\n\n" + exercise.promise
        doc = "\n".join(("    " + line).rstrip() for line in doc.splitlines())[4:]
        body += ["", "", f"def {signature_text(function)}:", f'    r"""{doc}', '    """',
                 f'    raise NotImplementedError("{function.__name__}: not written yet")']
    return "\n".join(header + body).replace("\n\n\n\n", "\n\n\n") + "\n"
