"""Shared Hypothesis strategies, problem builders and properties for the chapter tests.

They live in the package, :mod:`charrnn_edu.exercises.properties` (plain functions that take
the function under test and raise ``AssertionError``) and
:mod:`charrnn_edu.exercises.strategies`, because ``charrnn exercises check`` grades a
learner's own ``softmax``, ``forward`` or ``gradients`` with the very same properties. This
module only gathers them under the name the tests import.
"""

from charrnn_edu.exercises.properties import (
    ATOL,
    CENTRED_ATOL,
    CENTRED_RTOL,
    COMPLEX_ATOL,
    COMPLEX_RTOL,
    NUMERICAL_STEP,
    RTOL,
    Case,
    Problem,
    assert_gradients_close,
    check_cross_entropy_is_sum_of_steps,
    check_forward_chaining,
    check_forward_complex,
    check_forward_properties,
    check_gradient_shapes,
    check_one_hot_properties,
    check_output_bias_gradient,
    check_roundtrip,
    check_softmax_extreme_logits,
    check_softmax_properties,
    check_uniform_loss,
    norm_relative_error,
    textbook_gradients,
)
from charrnn_edu.exercises.strategies import cases, corpus_and_text, logits_and_shifts, seeds

__all__ = [
    "ATOL", "CENTRED_ATOL", "CENTRED_RTOL", "COMPLEX_ATOL", "COMPLEX_RTOL", "NUMERICAL_STEP",
    "RTOL", "Case", "Problem", "assert_gradients_close", "cases",
    "check_cross_entropy_is_sum_of_steps", "check_forward_chaining", "check_forward_complex",
    "check_forward_properties", "check_gradient_shapes", "check_one_hot_properties",
    "check_output_bias_gradient", "check_roundtrip", "check_softmax_extreme_logits",
    "check_softmax_properties", "check_uniform_loss", "corpus_and_text", "logits_and_shifts",
    "norm_relative_error", "seeds", "textbook_gradients",
]
