"""Numerical stability: saturated sigmoids, saturated cross-entropy and large softmax logits are
finite and raise no warning (warnings are errors for the project's code, pyproject.toml)."""

import warnings

import numpy as np

import reference
from reference.activations import sigmoid, softmax
from reference.costs import cost


def test_sigmoid_of_plus_minus_1000_is_finite_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = sigmoid(np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0]))
    assert s[0] == 0.0 and s[-1] == 1.0 and s[2] == 0.5
    np.testing.assert_allclose(s[1], np.exp(-40.0), rtol=1e-15)


def test_cross_entropy_finite_when_output_saturates():
    """z = ±800 gives a = 0 or 1 exactly in float64; the cost must still be the limit |z|, not inf."""
    z = np.array([[800.0, -800.0]])
    a = sigmoid(z)
    y = np.array([[0.0, 1.0]])  # both outputs maximally wrong
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = cost("cross_entropy", z, a, y)
    np.testing.assert_allclose(c, [1600.0], rtol=1e-15)


def test_softmax_and_log_likelihood_of_large_logits():
    z = np.array([[1000.0, 0.0, -1000.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = softmax(z)
        c = cost("log_likelihood", z, a, np.array([[0.0, 0.0, 1.0]]))
    np.testing.assert_array_equal(a, [[1.0, 0.0, 0.0]])
    np.testing.assert_allclose(c, [2000.0], rtol=1e-15)


def test_saturated_network_gradients_are_finite():
    spec = type(
        "S",
        (),
        dict(sizes=(2, 3, 2), activation="sigmoid", output="sigmoid", loss="cross_entropy", weight_decay=0.0),
    )
    params = [(np.full((3, 2), 500.0), np.zeros(3)), (np.full((2, 3), -500.0), np.zeros(2))]
    g = reference.backprop(spec, params, np.ones((2, 2)), np.array([[1.0, 1.0], [1.0, 0.0]]))
    assert np.isfinite(g.loss) and all(np.all(np.isfinite(t)) for pair in g.grads for t in pair)


def test_diverging_training_raises_instead_of_returning_inf():
    import pytest

    from conformance import Spec, make_problem

    p = make_problem(Spec((5, 4, 3), "identity", "identity", "quadratic"), 0)
    with pytest.raises(FloatingPointError, match="lr=100"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the overflow on the way is expected here
        reference.train(p.spec, p.params, p.x, p.y, lr=100.0, batches=p.batches * 20)
