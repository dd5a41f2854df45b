"""The diagnosis' wrong variants of backprop (conformance/diagnosis/perturb.py) against the teaching
mutants (conformance/mutants/dense.py): two independent codings of each bug, which must agree, and
both differ from the reference; a variant that does not exist on a problem raises ValueError."""

from collections.abc import Callable

import numpy as np
import pytest

import reference
from conformance import CATALOGUE
from conformance.diagnosis.perturb import (
    PERTURBATIONS,
    bp2_w_transposed,
    missing_g_prime_bp1,
    sigma_prime_with_cross_entropy,
)
from conformance.mutants.dense import Mutant
from conformance.problems import Problem, make_problem
from conformance.spec import Spec

# The two codings order their float operations differently ((δᵀ/m) a vs (δᵀ a)/m, Σ/m vs np.mean, vdot
# vs ΣW², g' read from a or from z), so they agree to a few ulps, about 1e-16 relative, carried through
# at most five layers; 1e-12 leaves four orders of headroom for that and none for a different bug,
# which changes δ by a factor g' or a transpose: O(1), far above DIFFERENT.
SAME = 1e-12
DIFFERENT = 1e-6

# The catalogue has two square networks (n_1 = ... = n_L), neither with weight decay: this one adds λ,
# a sigmoid output and the cross-entropy, so the BP2 variant meets the decay terms of BP4 and the loss.
SQUARE_DECAY = make_problem(
    Spec((3, 4, 4, 4), "sigmoid", "sigmoid", "cross_entropy", 0.05), 7, name="square-decay"
)

# bug -> (its perturbation, problems where it applies: each loss/output it is defined for, with and
# without λ, m = 1 and m > 1)
APPLIES = {
    "missing_sigma_prime_bp1": (
        missing_g_prime_bp1,
        # quadratic, output ≠ identity: sigmoid λ = 0; tanh λ > 0; relu λ > 0
        [
            CATALOGUE[n]
            for n in ("nielsen-2-3-1", "sigmoid-tanh-quadratic-decay", "tanh-relu-quadratic-decay")
        ],
    ),
    "sigma_prime_with_cross_entropy": (
        sigma_prime_with_cross_entropy,
        # cross-entropy (sigmoid output): λ = 0 with kinks; λ > 0 and m = 1; λ > 0 and m > 1
        [CATALOGUE[n] for n in ("relu-kink", "batch-1", "sigmoid-sigmoid-cross_entropy-decay-even")],
    ),
    "bp2_w_not_transposed": (
        bp2_w_transposed,
        # square layers: the catalogue's two, and SQUARE_DECAY
        [CATALOGUE["square-4-4-4-4"], CATALOGUE["golden-square-linear"], SQUARE_DECAY],
    ),
}

CASES = [(bug, p) for bug, (_, problems) in APPLIES.items() for p in problems]


def arrays(g: reference.Gradients) -> dict[str, np.ndarray]:
    """Every quantity of a Gradients, by name: loss, z/a/delta and dW/db per layer."""
    named = {"loss": np.asarray(g.loss)}
    for l, (dW, db) in enumerate(g.grads, start=1):
        named[f"dW{l}"], named[f"db{l}"] = dW, db
    named |= {f"z{l}": z for l, z in enumerate(g.zs, start=1)}
    named |= {f"a{l}": a for l, a in enumerate(g.activations)}
    named |= {f"delta{l}": d for l, d in enumerate(g.deltas, start=1)}
    return named


def rel(got: np.ndarray, want: np.ndarray) -> float:
    """Normwise relative difference ‖got − want‖ / ‖want‖ (0 for two zero arrays)."""
    return float(np.linalg.norm(got - want) / max(np.linalg.norm(want), np.finfo(np.float64).tiny))


def test_every_signature_that_tests_a_guess_has_a_perturbation_and_problems():
    assert set(PERTURBATIONS) == set(APPLIES)
    assert all(PERTURBATIONS[bug] is f for bug, (f, _) in APPLIES.items())


@pytest.mark.parametrize(("bug", "problem"), CASES, ids=[f"{b}-{p.name}" for b, p in CASES])
def test_perturbation_equals_the_mutant_and_differs_from_the_reference(bug: str, problem: Problem):
    perturb, _ = APPLIES[bug]
    args = (problem.spec, problem.params, problem.x, problem.y)
    got = arrays(perturb(*args))
    mutant = arrays(Mutant(bug).gradients(*args))
    right = arrays(reference.backprop(*args))
    assert got.keys() == mutant.keys() == right.keys()
    for name, value in got.items():
        assert value.shape == mutant[name].shape and value.dtype == mutant[name].dtype, name
        assert rel(value, mutant[name]) <= SAME, (name, rel(value, mutant[name]))
    # the bug changes δ (and so ∂C/∂W, ∂C/∂b) but never the forward pass or the loss
    differ = {name for name in got if rel(got[name], right[name]) > DIFFERENT}
    assert any(name.startswith("delta") for name in differ), differ
    assert any(name.startswith("dW") for name in differ), differ
    assert not any(name.startswith(("z", "a")) or name == "loss" for name in differ), differ


@pytest.mark.parametrize(
    ("perturb", "problem"),
    [
        (missing_g_prime_bp1, "tanh-identity-quadratic-even"),  # g' = 1: the reference itself
        (missing_g_prime_bp1, "sigmoid-sigmoid-cross_entropy"),  # the log costs' δ^L is a − y already
        (missing_g_prime_bp1, "deep-relu-softmax"),
        (sigma_prime_with_cross_entropy, "nielsen-2-3-1"),  # not the cross-entropy
        (sigma_prime_with_cross_entropy, "deep-relu-softmax"),
        (bp2_w_transposed, "relu-kink"),  # 4, 4, 3: W^3 is not square
        (bp2_w_transposed, "nielsen-2-3-1"),
        (bp2_w_transposed, "neuron"),  # one layer: no BP2 at all
        (missing_g_prime_bp1, "conv-avg-max-tanh-output"),  # conv blocks: the variants are dense
        (sigma_prime_with_cross_entropy, "conv-relu-kink"),
    ],
)
def test_a_variant_that_does_not_exist_on_the_problem_raises(
    perturb: Callable[..., reference.Gradients], problem: str
):
    p = CATALOGUE[problem]
    with pytest.raises(ValueError, match=r"^perturb: "):
        perturb(p.spec, p.params, p.x, p.y)
