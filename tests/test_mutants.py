"""Meta-test: every known-bad mutant is caught, by the check that names the quantity it breaks,
with a message that names the layer (or the step); the bug-free control passes everything."""

import pytest

from conformance import CATALOGUE, check
from conformance.mutants import BUGS, Mutant

# Problems that together expose every bug: square layers (W vs W.T both fit), exact ReLU kinks,
# weight decay with a quadratic sigmoid-family output, and a deep softmax net with m > 1.
PROBLEMS = ["square-4-4-4-4", "relu-kink", "sigmoid-tanh-quadratic-decay", "deep-relu-softmax"]


def run(impl):
    return [r for name in PROBLEMS for r in check(impl, CATALOGUE[name], "float64")]


@pytest.mark.parametrize("bug", list(BUGS))
def test_mutant_is_caught_by_the_right_check(bug):
    _, family, quantity = BUGS[bug]
    failures = [r for r in run(Mutant(bug)) if not r.passed]
    assert failures, f"mutant.{bug} passed every check: the suite cannot see {BUGS[bug][0]}"
    named = [r for r in failures if r.check == family and quantity in r.quantity]
    assert named, (f"mutant.{bug} was not caught by a {family} check on {quantity}...; failures: "
                   + "; ".join(sorted({f'{r.check}:{r.quantity}' for r in failures})))
    for r in named:
        assert f"mutant.{bug}" in r.message and r.problem in r.message
        assert ("layer" in r.message) or ("step" in r.message) or r.check == "loss", r.message


def test_stale_gradient_names_the_first_diverging_step():
    """Steps 0 and 1 see the same parameters as the reference; step 1 applies step 0's gradient, so
    the loss first differs at step 2."""
    [r] = [r for r in check(Mutant("stale_gradient"), CATALOGUE["relu-kink"], "float64")
           if r.quantity == "losses"]
    assert not r.passed and "first diverging step 2 of" in r.message


def test_bug_free_control_passes_everything():
    results = run(Mutant(None))
    assert results and all(r.passed for r in results), [r.message for r in results if not r.passed]
