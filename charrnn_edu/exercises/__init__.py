r"""Exercises — write each chapter's functions yourself, checked by the package's own tests.

Reading a chapter is not the same as being able to write it. Each exercise asks for one piece
of the network, from the vocabulary to one step of BPTT to top-p sampling, and grades it with
the *same* Hypothesis properties the package's own tests run, plus a comparison with the
package on random cases::

    charrnn exercises list                      # the exercises and where you stand
    charrnn exercises start softmax             # writes softmax.py: equations, signature
    charrnn exercises check softmax softmax.py  # pass/fail per check, the smallest failing
                                                # example, and the name of the mistake
    charrnn exercises train                     # your bptt and adagrad (or adam) train the
                                                # network, step by step beside the package

Your file runs in a child process with a time limit, in a temporary copy, under the operating
system's limits and confinement, unable to import the answer; the checks compare its results
in the parent (:mod:`~charrnn_edu.exercises.sandbox`). A failing check is *diagnosed*: the learner's
outputs on a few probes are compared with those of every classic mistake of their chapter,
each the package's own code with one line changed. ``charrnn lab start NAME`` plants one of
them in a copy of its chapter for you to find with the gradient check, and
``charrnn lab check NAME FILE`` says when it is repaired. Your progress is kept in
``~/.charrnn/exercises.json`` (or ``$CHARRNN_HOME/exercises.json``).

One exercise is one entry of its chapter's file, ``ch1_encoding.py`` ... ``ch10b_gru.py``:
the functions to write, the checks (the properties of :mod:`charrnn_edu.spec`, or a
comparison with the package), the probe, and the mistakes. The modules, in reading order:
model, references, wire, confine, child, sandbox, the ten chapter files, catalog, runner,
feedback, train, notebook (``check`` in a notebook, imported from here on first use), progress,
grade, autograder. The commands `charrnn exercises` and `charrnn lab` are in
:mod:`charrnn_edu.commands`.
"""


def __getattr__(name: str) -> object:
    # ``from charrnn_edu.exercises import check`` in a notebook, loaded on first use so that
    # importing one exercise module does not import the whole grader.
    if name == "check":
        from charrnn_edu.exercises.notebook import check
        return check
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
