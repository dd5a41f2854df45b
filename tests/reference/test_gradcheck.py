"""The reference against centred finite differences: every allowed activation × cost pairing,
several architectures, batch size 1 and > 1, with and without weight decay.

Threshold 1e-7 on ‖a − n‖/(‖a‖ + ‖n‖) (docs/contract.md): the five-point difference at h = 1e-3 is
accurate to about 1e-8 relative even on the vanishing gradients of a deep sigmoid net
(reference/gradcheck.py), while any wrong factor (a missing ½ or 1/m, a missing σ') gives an
error of order 1e-1 or more.
"""

import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference
from conformance import Spec
from conformance.problems import OUTPUT_LOSSES
from conformance.tolerances import GRADCHECK
from tests.helpers.problems import smooth_problem

FD_TOL = GRADCHECK  # 1e-7, derived in conformance/tolerances.py (the module docstring above says why)
ARCHITECTURES = {
    "neuron-3-1": (3, 1),
    "2-3-1": (2, 3, 1),
    "deep-4-5-4-3-3-2": (4, 5, 4, 3, 3, 2),
    "square-3-3-3": (3, 3, 3),
}


def assert_gradcheck(problem, m):
    """Every layer's dW and db within FD_TOL of the differences; a result that leaves a tensor out
    (or none at all) fails, so that no drawn problem can pass without being checked."""
    spec = problem.spec
    x, y = problem.x[:m], problem.y[:m]
    results = reference.gradcheck(spec, problem.params, x, y)
    checked = sorted((r.layer, r.quantity) for r in results)
    every = sorted((l, q) for l in range(1, len(problem.params) + 1) for q in ("dW", "db"))
    assert checked == every, f"gradcheck [{spec.label}] checked {checked}, expected {every}"
    for r in results:
        assert r.rel_error < FD_TOL, (
            f"reference vs finite differences [{spec.label}, m={m}]: "
            f"{r.quantity}[layer {r.layer}] rel {r.rel_error:.1e} "
            f"> {FD_TOL:.0e}"
        )


CASES = [
    (act, ol, arch)
    for act in reference.HIDDEN_ACTIVATIONS
    for ol in OUTPUT_LOSSES
    for arch in ARCHITECTURES
    if len(ARCHITECTURES[arch]) > 2 or act == "sigmoid"
]  # one layer: no hidden activation


@pytest.mark.parametrize("decay", [0.0, 0.3], ids=["no-decay", "decay"])
@pytest.mark.parametrize("m", [1, 4], ids=["m=1", "m=4"])
@pytest.mark.parametrize(
    ("activation", "output_loss", "arch"), CASES, ids=[f"{a}-{o}+{c}-{arch}" for a, (o, c), arch in CASES]
)
def test_finite_differences(activation, output_loss, arch, m, decay):
    spec = Spec(ARCHITECTURES[arch], activation, *output_loss, decay)
    assert_gradcheck(smooth_problem(spec, 7, m=4), m)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    sizes=st.lists(st.integers(1, 5), min_size=2, max_size=5),
    activation=st.sampled_from(reference.HIDDEN_ACTIVATIONS),
    output_loss=st.sampled_from(OUTPUT_LOSSES),
    m=st.integers(1, 6),
    decay=st.sampled_from([0.0, 0.05, 1.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_finite_differences_hypothesis(sizes, activation, output_loss, m, decay, seed):
    spec = Spec(sizes, activation, *output_loss, decay)
    assert_gradcheck(smooth_problem(spec, seed, m=m), m)


def test_gradcheck_catches_a_wrong_gradient(monkeypatch):
    """The checker itself can fail: a reference with BP3's 1/m dropped is reported above 1e-7."""
    problem = smooth_problem(Spec((3, 4, 2), "tanh", "sigmoid", "quadratic"), 0, m=4)
    true = reference.backprop

    def summed_bias(spec, params, x, y):
        g = true(spec, params, x, y)
        return g._replace(grads=[(dW, db * len(x)) for dW, db in g.grads])

    monkeypatch.setattr(sys.modules["reference.gradcheck"], "backprop", summed_bias)
    worst = {
        (r.quantity, r.layer): r.rel_error
        for r in reference.gradcheck(problem.spec, problem.params, problem.x, problem.y)
    }
    assert worst[("db", 1)] > 0.1 and worst[("db", 2)] > 0.1
    assert worst[("dW", 1)] < FD_TOL


def test_gradcheck_refuses_float32():
    problem = smooth_problem(Spec((2, 3, 1), "sigmoid", "sigmoid", "quadratic"), 0).as_dtype(np.float32)
    with pytest.raises(TypeError, match="float64"):
        reference.gradcheck(problem.spec, problem.params, problem.x, problem.y)
