r"""The exercises: what a learner writes for each chapter, and the starter file for it.

Each exercise names one or more functions. Their *reference* is the package's own function
where the learner writes exactly that (``softmax``, ``forward``, ``gradients``, ...), or a
thin wrapper around it where the exercise cuts a piece out differently (the vocabulary as a
plain string, the two bias gradients on their own, one AdaGrad step as a function). The
reference gives the signature a learner's function must have, and, where it fits, the
docstring of the starter file; the chapter's own module docstring gives its equations.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from charrnn_edu import adagrad, bptt, encoding, forward, gradcheck, loss, sampling
from charrnn_edu.adagrad import AdaGrad
from charrnn_edu.encoding import Vocabulary
from charrnn_edu.forward import RNN

__all__ = ["Function", "Exercise", "EXERCISES", "find_exercise", "equation_lines",
           "signature_text", "starter_source", "starter_filename"]


# ---------------------------------------------------------------- references the package lacks

def vocabulary(text: str) -> str:
    """The vocabulary of ``text``: its distinct characters, each once, in sorted order.

    Parameters
    ----------
    text : str
        A non-empty corpus.

    Returns
    -------
    chars : str
        Character ``chars[k]`` has id ``k``. Sorted, so that the ids depend only on the set
        of characters: the same text gives the same ids in every process (the order of
        ``set(text)`` changes from process to process).
    """
    return Vocabulary.from_text(text).chars


def encode(text: str, chars: str) -> np.ndarray:
    """The id of each character of ``text``: its position in the vocabulary ``chars``.

    Parameters
    ----------
    text : str
        Made only of characters in ``chars``.
    chars : str
        The vocabulary, as :func:`vocabulary` returns it.

    Returns
    -------
    ids : ndarray of shape (len(text),), dtype int64
    """
    return Vocabulary(chars).encode(text).astype(np.int64)  # the package stores the smallest type


def decode(ids: np.ndarray, chars: str) -> str:
    """The text of a sequence of ids: ``decode(encode(s, chars), chars) == s``.

    Parameters
    ----------
    ids : ndarray of shape (tau,), dtype int64
        Ids in ``0..len(chars)-1``.
    chars : str
        The vocabulary.

    Returns
    -------
    str
        The characters ``chars[ids[0]], chars[ids[1]], ...`` joined into one string.
    """
    return Vocabulary(chars).decode(ids)


def bias_gradients(rnn: RNN, x: np.ndarray, y: np.ndarray,
                   h0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The gradients of the loss (3.1) with respect to the two biases, by BPTT.

    Parameters
    ----------
    rnn : RNN
    x, y : ndarray of shape (tau,)
        Input ids and target ids.
    h0 : ndarray of shape (m, 1)
        Hidden state before the first step.

    Returns
    -------
    db : ndarray of shape (m, 1)
        dL/db, equation (4.8): needs dL/da_t from the backward recurrence (4.4)-(4.5).
    dc : ndarray of shape (K, 1)
        dL/dc, equation (4.3).
    """
    _, grads, _ = bptt.gradients(rnn, x, y, h0)
    return grads.b, grads.c


def adagrad_step(rnn: RNN, grads: RNN, memory: RNN, eta: float = 0.1,
                 eps: float = 1e-8) -> None:
    """One AdaGrad step, equations (6.2)-(6.3), updating ``memory`` and ``rnn`` in place.

    Parameters
    ----------
    rnn : RNN
        The parameters theta (b, c, U, W, V); updated in place: the arrays stay the same
        objects, their values change.
    grads : RNN
        The gradients g, one array per parameter; left unchanged.
    memory : RNN
        The accumulators m_theta, one array per parameter (zeros before the first step);
        updated in place.
    eta : float
        Learning rate.
    eps : float
        Added *inside* the square root.

    Returns
    -------
    None
    """
    AdaGrad(eta=eta, eps=eps, memory=memory).step(rnn, grads)


# ---------------------------------------------------------------- the catalog

@dataclass(frozen=True)
class Function:
    """One function a learner writes.

    Attributes
    ----------
    reference : callable
        The package's implementation: its name and signature are the ones to write.
    todo : str
        What the unimplemented starter says when it is called.
    extra_doc : str
        Added to the reference's docstring in the starter (a promise the checks test that
        the package's docstring leaves implicit).
    """

    reference: Callable
    todo: str
    extra_doc: str = ""

    @property
    def name(self) -> str:
        """The function's name, as the learner's file must define it."""
        return self.reference.__name__


@dataclass(frozen=True)
class Exercise:
    """One exercise: a chapter's function(s) to write, and where their equations are.

    Attributes
    ----------
    name : str
        What ``charrnn exercises start/check`` call it.
    chapter : int
    module : ModuleType
        The chapter's module; its docstring holds the equations.
    title : str
        One line for ``charrnn exercises list``.
    functions : tuple of Function
    equations : tuple of str
        Tags like ``"2.1"`` of the chapter docstring's equation lines to copy into the starter.
    imports : str
        The import lines of the starter: what the learner may use from earlier chapters.
    """

    name: str
    chapter: int
    module: ModuleType
    title: str
    functions: tuple[Function, ...]
    equations: tuple[str, ...] = ()
    imports: str = ""

    @property
    def function_names(self) -> tuple[str, ...]:
        """Names of the functions to write, in order."""
        return tuple(f.name for f in self.functions)

    @property
    def references(self) -> dict[str, Callable]:
        """The package's implementation of every function, by name."""
        return {f.name: f.reference for f in self.functions}


RNN_IMPORT = "from charrnn_edu.forward import RNN"

EXERCISES: tuple[Exercise, ...] = (
    Exercise("encoding", 1, encoding, "vocabulary, encode and decode",
             (Function(vocabulary, "build the sorted vocabulary"),
              Function(encode, "map each character to its id"),
              Function(decode, "map ids back to characters"))),
    Exercise("one-hot", 1, encoding, "one-hot columns of a sequence of ids, (1.1)",
             (Function(encoding.one_hot, "build X, equation (1.1)"),)),
    Exercise("softmax", 2, forward, "column-wise softmax that never overflows, (2.4)",
             (Function(forward.softmax, "equation (2.4), safe for large logits"),),
             equations=("2.4",)),
    Exercise("forward", 2, forward, "the forward pass over a sequence, (2.1)-(2.4)",
             (Function(forward.forward, "run equations (2.1)-(2.4) over the sequence"),),
             equations=("2.1", "2.2", "2.3", "2.4"),
             imports="from charrnn_edu.forward import RNN, Forward, softmax"),
    Exercise("cross-entropy", 3, loss, "the summed cross-entropy loss, (3.1)",
             (Function(loss.cross_entropy, "equation (3.1)"),),
             equations=("3.1",)),
    Exercise("bias-gradients", 4, bptt, "dL/db and dL/dc by BPTT, (4.1)-(4.5), (4.8)",
             (Function(bias_gradients, "equations (4.1), (4.3)-(4.5) and (4.8)"),),
             equations=("4.1", "4.3", "4.4", "4.5", "4.8"),
             imports="from charrnn_edu.forward import RNN, forward"),
    Exercise("bptt", 4, bptt, "all five gradients by BPTT, (4.1)-(4.8)",
             (Function(bptt.gradients, "equations (4.1)-(4.8)"),),
             equations=("4.1", "4.2", "4.3", "4.4", "4.5", "4.6", "4.7", "4.8"),
             imports="from charrnn_edu.forward import RNN, forward\n"
                     "from charrnn_edu.loss import cross_entropy"),
    Exercise("numerical-gradients", 5, gradcheck, "centred-difference gradients, (5.1)",
             (Function(gradcheck.numerical_gradients, "equation (5.1) for every element"),),
             equations=("5.1",),
             imports="from charrnn_edu.forward import RNN\n"
                     "from charrnn_edu.loss import sequence_loss"),
    Exercise("relative-error", 5, gradcheck, "the report's relative error, (5.2)",
             (Function(gradcheck.relative_error, "equation (5.2), element-wise"),),
             equations=("5.2",)),
    Exercise("clip", 6, adagrad, "element-wise gradient clipping, (6.1)",
             (Function(adagrad.clip, "equation (6.1) for every gradient",
                       extra_doc="Raises\n------\nValueError\n"
                                 "    If ``bound`` is not positive; the message names it."),),
             equations=("6.1",), imports=RNN_IMPORT),
    Exercise("adagrad", 6, adagrad, "one AdaGrad step, (6.2)-(6.3)",
             (Function(adagrad_step, "equations (6.2) and (6.3)"),),
             equations=("6.2", "6.3"), imports=RNN_IMPORT),
    Exercise("temperature", 7, sampling, "one sampling step with temperature, (7.1)",
             (Function(sampling.next_distribution, "equation (7.1) up to the draw"),),
             equations=("7.1",), imports="from charrnn_edu.forward import RNN, softmax"),
    Exercise("top-p", 7, sampling, "nucleus (top-p) filtering of a distribution",
             (Function(sampling.nucleus, "keep the smallest most likely set of mass top_p"),)),
)


def find_exercise(name: str) -> Exercise:
    """The exercise called ``name``; ValueError naming the closest ones if there is none."""
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
    """The lines of ``module``'s docstring that state the equations ``tags``, like ``(2.1)``.

    Raises
    ------
    LookupError
        If a tag has no line (the chapter's docstring changed its numbering).
    """
    doc = inspect.getdoc(module) or ""
    lines = []
    for tag in tags:
        # "(2.3)  o_t = ..." states (2.3); "(2.3)–(2.4) do not ..." only mentions it.
        found = [line.strip() for line in doc.splitlines()
                 if re.match(rf"\({re.escape(tag)}\)\s", line.strip())]
        if not found:
            raise LookupError(f"equation ({tag}) is not in the docstring of {module.__name__}")
        lines += found
    return lines


def signature_text(function: Callable, width: int | None = 90) -> str:
    """``name(param: annotation = default, ...) -> annotation``, as written in the source.

    Longer than ``width``, it has one parameter per line; ``width=None`` keeps it on one.
    """
    sig = inspect.signature(function)
    parts, star_done = [], False
    for p in sig.parameters.values():
        if p.kind is p.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        text = p.name
        if p.annotation is not p.empty:
            text += f": {p.annotation}"
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


def _docstring(function: Function) -> str:
    doc = inspect.getdoc(function.reference) or ""
    if function.extra_doc:
        doc += "\n\n" + function.extra_doc
    return "\n".join(("    " + line).rstrip() for line in doc.splitlines())


def starter_source(exercise: Exercise, filename: str) -> str:
    """The text of a starter file: signatures, docstrings and ``raise NotImplementedError``."""
    chapter_file = exercise.module.__name__.replace(".", "/") + ".py"
    header = [f'r"""Exercise {exercise.name}: {exercise.title}.', "",
              f"Chapter {exercise.chapter}, {chapter_file}."]
    names = ", ".join(exercise.function_names)
    header.append(f"\nWrite {names} below, replacing each ``raise NotImplementedError``.")
    if exercise.equations:
        header += ["", "The equations, from the chapter::", ""]
        header += ["    " + line for line in equation_lines(exercise.module, exercise.equations)]
    header += ["", "Check your work as often as you like (it also tells you what a failure usually "
               "means)::", "", f"    charrnn exercises check {exercise.name} {filename}", '"""',
               "", "from __future__ import annotations", "", "import numpy as np", ""]
    if exercise.imports:
        header += [exercise.imports, ""]
    body = []
    for function in exercise.functions:
        body += ["", f"def {signature_text(function.reference)}:",
                 f'    r"""{_docstring(function)[4:]}', '    """',
                 f'    raise NotImplementedError("{function.name}: {function.todo}")', ""]
    return "\n".join(header + body).rstrip() + "\n"
