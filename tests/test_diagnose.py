"""Diagnoses beyond the mutants (tests/test_mutants.py): the training-only readings, grouped lines,
and an unknown bug that says so instead of guessing. (That the shipped implementations get no
diagnosis is asserted by the conformance matrix itself, conformance/suite, on every problem.)"""

from types import SimpleNamespace

import numpy as np

import reference
from conformance import CATALOGUE
from conformance.diagnose import run
from conformance.mutants import Mutant

PROBLEM = CATALOGUE["square-4-4-4-4"]  # λ = 0, m = 10 in batches of 3, 3, 3, 1


class Doctored:
    """The reference with what it returns changed by ``gradients``/``train`` (result -> result)."""

    name = "doctored"

    def __init__(self, gradients=lambda g: g, train=lambda t: t, lr_factor=1.0):
        self.doctor_gradients, self.doctor_train, self.lr_factor = gradients, train, lr_factor

    def gradients(self, spec, params, x, y):
        return self.doctor_gradients(reference.backprop(spec, params, x, y))

    def train(self, spec, params, x, y, *, lr, batches):
        return self.doctor_train(reference.train(spec, params, x, y, lr=lr * self.lr_factor,
                                                 batches=batches))


def signatures(outcome):
    return [d.signature for d in outcome.diagnoses]


def test_float32_run_of_a_float32_computation_is_clean():
    """The float32-internally mutant is a bug only when float64 came in."""
    assert run(Mutant("float32_internally"), PROBLEM, "float32").diagnoses == []


def test_training_alone_reads_a_summed_gradient_as_a_step_m_times_too_long():
    """The suite's training test has no gradient evidence: the replay still names c = m."""
    [d] = run(Mutant("summed_not_averaged"), PROBLEM, kinds=("train",)).diagnoses
    assert d.signature == "step_scale" and "c = m" in d.line


def test_a_different_step_size_is_read_from_where_the_trajectory_first_diverges():
    """η × 1.5 matches no replay: step 0 is right, step 1 is not, and the gradients pass."""
    outcome = run(Doctored(lr_factor=1.5), PROBLEM)
    assert signatures(outcome) == ["first_step"], outcome.lines()
    assert "the gradients pass, so the first update is wrong" in outcome.lines()[-1]
    [d] = run(Doctored(lr_factor=1.5), PROBLEM, kinds=("train",)).diagnoses
    assert "see this problem's gradients check" in d.line


def test_recorded_losses_alone_wrong():
    outcome = run(Doctored(train=lambda t: t._replace(losses=[c + 1e-3 for c in t.losses])), PROBLEM)
    assert signatures(outcome) == ["losses_only"], outcome.lines()


def test_an_unknown_bug_says_no_signature_matched_and_groups_its_layers():
    def noisy(g):
        rng = np.random.default_rng(0)
        return g._replace(grads=[(dW + 1e-3 * rng.standard_normal(dW.shape), db) for dW, db in g.grads])

    outcome = run(Doctored(gradients=noisy), PROBLEM, kinds=("gradients",))
    lines = outcome.lines()
    assert lines[0].startswith("doctored [square-4-4-4-4] grads: dW[layers 1, 2, 3] max|Δ|=")
    assert lines[-1] == "  no known signature matched: grads dW" and len(lines) == 2, lines


def test_outputs_that_are_not_arrays_fail_without_breaking_the_diagnosis():
    odd = Doctored(gradients=lambda g: SimpleNamespace(loss="1.0", grads=None))
    outcome = run(odd, PROBLEM, kinds=("gradients",))
    assert not outcome.passed and signatures(outcome) == ["unmatched"], outcome.lines()


def test_constant_factors_are_named_from_m_2_and_n_L():
    from conformance.multiples import describe

    named = {c: describe(c, 10, 3, 2e-11)[0] for c in (10, 0.1, 2, 0.5, 3, 1 / 3, -1, 20, 3.7)}
    assert named == {10: "c = 10 = m", 0.1: "c = 0.1 = 1/m", 2: "c = 2", 0.5: "c = 0.5 = 1/2",
                     3: "c = 3 = n_L", 1 / 3: "c = 0.333333 = 1/n_L", -1: "c = -1", 20: "c = 20 = m · 2",
                     3.7: "c = 3.7"}
    assert "not one we recognise" in describe(3.7, 10, 3, 2e-11)[1]
