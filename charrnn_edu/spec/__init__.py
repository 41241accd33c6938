r"""The executable specification: what every chapter's functions must do, for any author.

The package's own tests and ``charrnn exercises check`` run the same code from here, so a
learner's ``softmax`` or ``gradients`` is graded by exactly the properties that prove the
package's. It comes right after the chapters and imports only them:

:mod:`~charrnn_edu.spec.properties`
    Plain functions that take the function under test and raise ``AssertionError`` when a
    property fails; the problems (:class:`~charrnn_edu.spec.properties.Case`) they run on;
    the tolerances.
:mod:`~charrnn_edu.spec.strategies`
    The Hypothesis strategies that feed them: bounded float64 values, explicit seeds.
:mod:`~charrnn_edu.spec.oracles`
    References that share no code with the chapters: the textbook BPTT loop and the
    complex-step derivatives of one step.
"""
