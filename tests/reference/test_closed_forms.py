"""Closed forms from the seeds, computed here independently of reference/network.py."""

import numpy as np

import reference
from conformance import Spec, make_problem


def test_single_neuron_matches_seed_000():
    """Seed 000: ∂E/∂w_i = (y − t)·y(1 − y)·x_i for one sigmoid neuron and E = ½(t − y)²; the bias
    is the weight of a constant input 1. One example (m = 1), so C = E."""
    rng = np.random.Generator(np.random.PCG64(0))
    w, bias, x, t = rng.standard_normal(4), rng.standard_normal(), rng.standard_normal(4), 0.3
    y = 1 / (1 + np.exp(-(w @ x + bias)))  # seed 000 writes f(u) = 1/(1+e^u); sign flipped there
    expected = (y - t) * y * (1 - y) * x
    spec = Spec((4, 1), "sigmoid", "sigmoid", "quadratic")
    g = reference.backprop(spec, [(w[None, :], np.array([bias]))], x[None, :], np.array([[t]]))
    np.testing.assert_allclose(g.grads[0][0][0], expected, rtol=1e-13)
    np.testing.assert_allclose(g.grads[0][1][0], (y - t) * y * (1 - y), rtol=1e-13)
    np.testing.assert_allclose(g.loss, 0.5 * (t - y) ** 2, rtol=1e-13)


def _output_delta(spec, seed):
    p = make_problem(spec, seed, m=6)
    g = reference.backprop(p.spec, p.params, p.x, p.y)
    return p, g


def test_sigmoid_cross_entropy_delta_is_a_minus_y():
    p, g = _output_delta(Spec((4, 5, 3), "tanh", "sigmoid", "cross_entropy"), 1)
    a = 1 / (1 + np.exp(-g.zs[-1]))
    np.testing.assert_allclose(g.deltas[-1], a - p.y, rtol=1e-13, atol=1e-15)


def test_softmax_log_likelihood_delta_is_a_minus_y():
    p, g = _output_delta(Spec((4, 5, 3), "relu", "softmax", "log_likelihood"), 2)
    e = np.exp(g.zs[-1])
    np.testing.assert_allclose(g.deltas[-1], e / e.sum(axis=1, keepdims=True) - p.y, rtol=1e-13, atol=1e-15)


def test_quadratic_delta_is_bp1():
    """δ^L = (a − y) ⊙ σ'(z^L) for the quadratic cost with sigmoid output (seed 004, eq. 1)."""
    p, g = _output_delta(Spec((4, 5, 3), "sigmoid", "sigmoid", "quadratic"), 3)
    a = 1 / (1 + np.exp(-g.zs[-1]))
    np.testing.assert_allclose(g.deltas[-1], (a - p.y) * a * (1 - a), rtol=1e-13, atol=1e-15)


def test_weight_decay_adds_lambda_w_to_weights_only():
    base = make_problem(Spec((3, 4, 2), "tanh", "identity", "quadratic"), 4)
    decayed = Spec((3, 4, 2), "tanh", "identity", "quadratic", 0.7)
    g0 = reference.backprop(base.spec, base.params, base.x, base.y)
    g1 = reference.backprop(decayed, base.params, base.x, base.y)
    for (W, _), (dW0, db0), (dW1, db1) in zip(base.params, g0.grads, g1.grads):
        np.testing.assert_allclose(dW1, dW0 + 0.7 * W, rtol=1e-14)
        np.testing.assert_array_equal(db1, db0)
    penalty = 0.35 * sum(np.sum(W**2) for W, _ in base.params)
    np.testing.assert_allclose(g1.loss, g0.loss + penalty, rtol=1e-14)


def test_relu_derivative_at_zero_is_zero():
    """A unit with zero weights and bias has z = 0.0 exactly: its δ and its gradients are 0."""
    p = make_problem(Spec((5, 4, 4, 3), "relu", "sigmoid", "cross_entropy"), 5, relu_kink=True)
    g = reference.backprop(p.spec, p.params, p.x, p.y)
    assert np.all(g.zs[0][:, 0] == 0.0)
    assert np.all(g.deltas[0][:, 0] == 0.0)
    assert np.all(g.grads[0][0][0] == 0.0) and g.grads[0][1][0] == 0.0


def test_sgd_step_is_w_minus_eta_gradient():
    p = make_problem(Spec((3, 4, 2), "sigmoid", "sigmoid", "quadratic"), 6)
    t = reference.train(p.spec, p.params, p.x, p.y, lr=0.25, batches=[np.arange(4)])
    g = reference.backprop(p.spec, p.params, p.x[:4], p.y[:4])
    for (W, b), (dW, db), (W1, b1) in zip(p.params, g.grads, t.params):
        np.testing.assert_allclose(W1, W - 0.25 * dW, rtol=1e-15)
        np.testing.assert_allclose(b1, b - 0.25 * db, rtol=1e-15)
    assert t.losses == [g.loss]


def test_initialisation_and_batch_order_are_reproducible():
    a = reference.init_params((784, 30, 10), 42, scheme="standard")
    b = reference.init_params((784, 30, 10), 42, scheme="standard")
    assert all(np.array_equal(W1, W2) and np.array_equal(b1, b2) for (W1, b1), (W2, b2) in zip(a, b))
    scaled = reference.init_params((784, 30, 10), 42, scheme="scaled")
    np.testing.assert_allclose(scaled[0][0], a[0][0] / np.sqrt(784), rtol=1e-15)
    assert abs(np.std(a[0][0]) - 1) < 0.01  # N(0, 1): 23,520 draws, std error of the std ≈ 0.005
    order = reference.batch_order(10, 3, 2, 0)
    assert [len(i) for i in order] == [3, 3, 3, 1] * 2
    assert all(sorted(np.concatenate(order[k : k + 4])) == list(range(10)) for k in (0, 4))
