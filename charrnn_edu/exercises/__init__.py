r"""Exercises — write each chapter's functions yourself, checked by the package's own tests.

Reading a chapter is not the same as being able to write it. Each exercise asks for one piece
of the network (the vocabulary, one-hot columns, softmax, the forward pass, the loss, the bias
gradients, all of BPTT, numerical gradients, the relative error, clipping, an AdaGrad step,
temperature and top-p sampling) and grades it with the *same* Hypothesis properties the
package's own tests run, plus a comparison with the package's implementation on random cases::

    charrnn exercises list                      # the exercises and where you stand
    charrnn exercises start softmax             # writes softmax.py: signature, docstring, no body
    charrnn exercises check softmax softmax.py  # pass/fail per check, the smallest failing
                                                # example, and what the mistake usually is

A failing check shows the smallest example Hypothesis could shrink it to, and a *diagnosis*
names the classic mistake behind it when it recognises one (dL/dc off by the one-hot target,
softmax overflowing on large logits, h0 ignored in the first step, epsilon outside the square
root, ...). ``charrnn lab`` shows those mistakes as small mutations of the package's own
functions, and which check catches each. Your progress is kept in ``~/.charrnn/exercises.json``
(or under ``$CHARRNN_HOME``).

The modules, in reading order:

- :mod:`~charrnn_edu.exercises.properties` — the properties every implementation must have
- :mod:`~charrnn_edu.exercises.strategies` — the Hypothesis strategies that feed them
- :mod:`~charrnn_edu.exercises.catalog` — the exercises and their starter files
- :mod:`~charrnn_edu.exercises.checks` — each exercise's checks and diagnoses
- :mod:`~charrnn_edu.exercises.runner` — running the checks, the report
- :mod:`~charrnn_edu.exercises.lab` — the bug lab's mutations
- :mod:`~charrnn_edu.exercises.learner`, :mod:`~charrnn_edu.exercises.progress` — loading a
  learner's file, keeping their progress
- :mod:`~charrnn_edu.exercises.commands` — the ``charrnn exercises`` and ``charrnn lab``
  commands

Nothing is imported here: ``charrnn exercises list`` and ``start`` work without Hypothesis,
which only the checks need.
"""
