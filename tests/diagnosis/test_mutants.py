"""Meta-test: every known-bad mutant is caught, by the check that names the quantity it breaks, with
a message that names the layer (or the step), and diagnosed by the signature of its bug — the same
one on every problem where it fails; the bug-free control passes everything and gets no diagnosis."""

import pytest

from conformance import CATALOGUE
from conformance.diagnosis.diagnose import run
from conformance.mutants.dense import BUGS, Mutant
from conformance.selfcheck import Verdicts, self_consistency
from tests.helpers.mutants import ASCENT_OVERFLOWS, assert_caught, assert_one_diagnosis

# Problems that together expose every bug: square layers (W vs W.T both fit), exact ReLU kinks,
# weight decay with a quadratic sigmoid-family output, and a deep softmax net with m > 1.
PROBLEMS = ["square-4-4-4-4", "relu-kink", "sigmoid-tanh-quadratic-decay", "deep-relu-softmax"]

# bug -> the signature that must diagnose it wherever it fails (diagnose.SIGNATURES)
EXPECTED = {
    "missing_sigma_prime_bp1": "missing_sigma_prime_bp1",
    "bp2_w_not_transposed": "bp2_w_not_transposed",
    "bias_summed": "constant_multiple",
    "update_sign": "update_sign",
    "relu_prime_one_at_zero": "relu_kink",
    "decay_on_biases": "decay_terms",
    "float32_internally": "float32_sized",
    "quadratic_half_dropped": "constant_multiple",
    "stale_gradient": "stale_gradient",
    "summed_not_averaged": "constant_multiple",
    "dW_transposed": "transposed",
    "sigma_prime_with_cross_entropy": "sigma_prime_with_cross_entropy",
    "decay_sign": "decay_terms",
    "decay_missing_from_loss": "decay_terms",
    "mean_over_outputs": "constant_multiple",
    "loss_after_update": "loss_after_update",
    "drops_last_batch": "dropped_batches",
    "penalty_per_example": "decay_terms",
    "decay_per_example": "decay_terms",
    "lr_float32": "lr_float32",
    "data_term_overwritten": "data_gradient_lost",
}

# One failure cause, one diagnosis: every dense problem of the catalogue (each pair of features meets
# in one), and ASCENT_OVERFLOWS. Measured: 21 mutants × 46 problems in 5.5 s on one core (the conv
# meta-test: 9 × 16 in 2.5 s).
ONE_DIAGNOSIS = [p for p in CATALOGUE.values() if not p.spec.conv]


@pytest.fixture(scope="module")
def verdicts():
    """Self-consistency, once per mutant (it decides convention or bug in the diagnoses): computed when
    a diagnosis first asks, then shared (selfcheck.Verdicts)."""
    found = Verdicts()
    return lambda m: found.of(m.name, m).passed


def outcomes(impl, verdicts):
    return [run(impl, CATALOGUE[name], "float64", consistency=lambda: verdicts(impl)) for name in PROBLEMS]


@pytest.mark.parametrize("bug", list(BUGS))
def test_mutant_is_caught_and_diagnosed(bug, verdicts):
    _, family, quantity = BUGS[bug]
    runs = outcomes(Mutant(bug), verdicts)
    for r in assert_caught(runs, f"mutant.{bug}", BUGS[bug][0], family, quantity):
        assert ("layer" in r.message) or ("step" in r.message) or r.check == "loss", r.message
    for o in runs:  # a run that only raised (W^{l+1} on non-square layers, overflow) shows the exception
        if o.passed or all(r.check == "call" for r in o.results if not r.passed):
            continue
        found = {d.signature for d in o.diagnoses}
        assert EXPECTED[bug] in found and "unmatched" not in found, "\n".join(o.lines())


@pytest.mark.parametrize("bug", list(BUGS))
def test_one_failure_cause_gets_one_diagnosis(bug):
    """A mutant gets the same signature on every problem where it fails (no self-consistency here:
    it decides a diagnosis's verdict, never which signature matches)."""
    impl = Mutant(bug)
    runs = [run(impl, p, "float64") for p in [*ONE_DIAGNOSIS, ASCENT_OVERFLOWS]]
    assert_one_diagnosis(runs, impl.name, EXPECTED[bug])


def test_stale_gradient_names_the_first_diverging_step():
    """Steps 0 and 1 see the same parameters as the reference; step 1 applies step 0's gradient, so
    the loss first differs at step 2."""
    [r] = [r for r in run(Mutant("stale_gradient"), CATALOGUE["relu-kink"]).results if r.quantity == "losses"]
    assert not r.passed and "first diverging step 2 of" in r.message


def test_convention_or_bug_follows_self_consistency(verdicts):
    """A cost averaged over the outputs, with gradients to match, is a convention; a bias gradient
    summed over the batch, with the loss still averaged, is a bug."""
    [convention] = [
        d
        for d in outcomes(Mutant("mean_over_outputs"), verdicts)[0].diagnoses
        if d.signature == "constant_multiple"
    ]
    assert convention.verdict == "convention" and "c = 0.25 = 1/n_L" in convention.line
    assert "consistent convention" in convention.line
    [bug] = [
        d
        for d in outcomes(Mutant("bias_summed"), verdicts)[0].diagnoses
        if d.signature == "constant_multiple"
    ]
    assert bug.verdict == "bug" and "c = 10 = m" in bug.line and "(BP3)" in bug.line


def test_bug_free_control_passes_everything_without_a_diagnosis(verdicts):
    runs = outcomes(Mutant(None), verdicts)
    assert all(o.results and o.passed and not o.diagnoses for o in runs), [o.lines() for o in runs]


def test_self_consistency_fails_for_a_loss_that_does_not_match_its_gradients():
    """The loss lacks (λ/2)Σ‖W‖² while BP4 keeps λW: the planted pair disagrees in every dW."""
    verdict = self_consistency(Mutant("decay_missing_from_loss"))
    assert verdict.passed is False and "tol 1e-07: dW[layer 1], dW[layer 2] on batch-1" in verdict.line
    assert "db" not in verdict.line  # the biases are not decayed: their gradient still matches
    assert self_consistency(Mutant(None)).passed is True
