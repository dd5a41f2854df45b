"""Meta-test for the conv extension: every known-bad conv mutant is caught, by the check that names
the quantity it breaks, with a message that names the layer; the bug-free control passes every conv
problem of the catalogue."""

import pytest

from conformance import CATALOGUE, check
from conformance.conv_mutants import BUGS, ConvMutant

# Problems that together expose every bug: padding on a second block and both poolings
# (conv-lenet-2x9x9), stride 2 (conv-stride2-pad1), weight decay on two blocks (conv-decay), and
# max-pooling over 3×3 windows (conv-max-pool-3).
PROBLEMS = ["conv-lenet-2x9x9", "conv-stride2-pad1", "conv-decay", "conv-max-pool-3"]
CONV_PROBLEMS = [name for name, p in CATALOGUE.items() if p.spec.conv]


def run(impl, problems):
    return [r for name in problems for r in check(impl, CATALOGUE[name], "float64")]


@pytest.mark.parametrize("bug", list(BUGS))
def test_conv_mutant_is_caught_by_the_right_check(bug):
    _, family, quantity = BUGS[bug]
    failures = [r for r in run(ConvMutant(bug), PROBLEMS) if not r.passed]
    assert failures, f"conv_mutant.{bug} passed every check: the suite cannot see {BUGS[bug][0]}"
    named = [r for r in failures if r.check == family and quantity in r.quantity]
    assert named, (f"conv_mutant.{bug} was not caught by a {family} check on {quantity}...; failures: "
                   + "; ".join(sorted({f'{r.check}:{r.quantity}' for r in failures})))
    for r in named:
        assert f"conv_mutant.{bug}" in r.message and r.problem in r.message
        assert "layer" in r.message, r.message


def test_flatten_order_is_caught_at_the_first_dense_layer():
    """conv-lenet-2x9x9 has two conv blocks: the F-order flatten first shows in z of layer 3."""
    failures = [r for r in check(ConvMutant("flatten_f_order"), CATALOGUE["conv-lenet-2x9x9"], "float64")
                if not r.passed and r.check == "forward"]
    assert min(r.layer for r in failures) == 3


def test_bug_free_control_passes_every_conv_problem():
    assert len(CONV_PROBLEMS) >= 12
    results = run(ConvMutant(None), CONV_PROBLEMS)
    assert results and all(r.passed for r in results), [r.message for r in results if not r.passed]
