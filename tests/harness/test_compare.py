"""The one comparison routine over the whole float64 range: a normwise error is a number (or a
failure) for values whose squares overflow or underflow, and never a warning out of the harness."""

import warnings

import numpy as np
import pytest

from conformance.compare import compare


def rel(got, want):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning would be an exception under pytest
        return compare(
            np.asarray(got),
            np.asarray(want),
            impl="i",
            problem="p",
            dtype="float64",
            check="grads",
            quantity="q",
        )


@pytest.mark.parametrize("scale", [1e-300, 1e-150, 1.0, 1e150, 1e300])
def test_a_relative_error_does_not_depend_on_the_scale(scale):
    """‖(1 + 1e-12, 2) − (1, 2)‖ / ‖(1, 2)‖ = 1e-12/√5 at every scale (squares of 1e300 overflow,
    of 1e-300 underflow to 0, in a plain norm)."""
    r = rel(np.array([1 + 1e-12, 2.0]) * scale, np.array([1.0, 2.0]) * scale)
    assert r.rel == pytest.approx(1e-12 / np.sqrt(5), rel=1e-3)
    assert r.passed


def test_diverged_finite_values_are_far_not_equal():
    r = rel([1e200, 1e200], [1.0, 2.0])
    assert not r.passed and r.rel == pytest.approx(np.sqrt(2) * 1e200 / np.sqrt(5), rel=1e-12)
    r = rel([1e308], [-1e308])  # the difference itself overflows
    assert not r.passed and r.rel == np.inf


def test_anything_but_an_exact_zero_fails_against_an_all_zero_reference():
    assert rel(np.zeros(3), np.zeros(3)).passed
    assert not rel(np.full(3, 1e-300), np.zeros(3)).passed  # a plain norm underflows to 0 and passes
