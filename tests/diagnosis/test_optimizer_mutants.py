"""Meta-test of the optimizer extension: every optimizer mutant (conformance/mutants/optimizers.py) is
caught on the catalogue's optimizer problems, by the check that names the quantity it breaks, and
diagnosed by the signature of its bug (conformance/diagnosis/signatures/optimizer.py) — that one
alone, on every optimizer problem it declares and fails; the bug-free control passes every optimizer
problem and gets no diagnosis."""

import functools

import pytest

from conformance import CATALOGUE
from conformance.calls import supports
from conformance.diagnosis.diagnose import run
from conformance.mutants.optimizers import BUGS, Mutant
from tests.helpers.mutants import assert_caught, assert_one_diagnosis

# Problems that together expose every bug, each the one the catalogue built for it: Adam over 48 steps
# (the bias correction, β₁ against β₂, a carried-over t and moments), AdamW with λ_d (the three decay
# bugs), ε outside the root with small gradients and ε inside it with s₀ = 0.1 (both directions of
# the ε placement), an η drop at step 16 (the momentum forms), velocity-form Nesterov (Sutskever's θ)
# and a global-norm clip that triggers at step 0 (both clipping bugs).
PROBLEMS = [
    "opt-adam-decay",
    "opt-adamw-decay-kink",
    "opt-rmsprop-small-grads",
    "opt-adagrad-eps-in-sqrt-initial-accumulator",
    "opt-momentum-buffer-lr-drop",
    "opt-nesterov-velocity-lr-drop-kink",
    "opt-momentum-clip-norm",
]

# every optimizer problem of the catalogue (21: conformance.problems.optimizer_problems); the mutants
# are dense and conv nets (no supports_recurrent), so the two recurrent ones never reach them
OPTIMIZER_PROBLEMS = [name for name, p in CATALOGUE.items() if p.optimizer is not None]

# bug -> the signature that must diagnose it wherever it fails (diagnose.SIGNATURES)
EXPECTED = {
    "adam_no_bias_correction": "adam_no_bias_correction",
    "adam_t_off_by_one": "adam_step_count",
    "adam_betas_swapped": "adam_betas_swapped",
    "eps_placement_flipped": "eps_placement",
    "velocity_for_buffer": "momentum_form",
    "nesterov_sutskever_theta": "nesterov_theta",
    "decoupled_decay_on_biases": "decoupled_decay_on_biases",
    "decoupled_decay_without_lr": "decoupled_decay_without_lr",
    "decoupled_decay_coupled": "decoupled_decay_coupled",
    "state_carried_over": "state_carried_over",
    "clip_per_layer": "clip_per_layer",
    "clip_update": "clip_update",
}


@functools.cache
def outcome(bug, name, dtype="float64"):
    """One check of a fresh mutant on one problem, diagnosed. The harness calls train once per check,
    and a first call starts from a fresh state whatever the implementation keeps: a state carried over
    from call to call shows only from the second call, so for that bug the second is the one checked
    (as in the suite and the CLI, which hand one instance every problem in turn)."""
    impl, problem = Mutant(bug), CATALOGUE[name]
    if bug == "state_carried_over":
        run(impl, problem, dtype)
    return run(impl, problem, dtype)


def declared(bug, names):
    impl = Mutant(bug)
    return [n for n in names if supports(impl, CATALOGUE[n].spec, CATALOGUE[n].optimizer)]


def test_every_bug_has_a_signature_and_a_problem_that_exposes_it():
    assert set(EXPECTED) == set(BUGS) and len(OPTIMIZER_PROBLEMS) == 21
    assert all(declared(bug, PROBLEMS) for bug in BUGS)


@pytest.mark.parametrize("bug", list(BUGS))
def test_mutant_is_caught_and_diagnosed(bug):
    """Every problem of PROBLEMS that the mutant declares fails, a check of its BUGS family on its
    quantity among the failures, and each failure gets exactly its signature, naming a step or a layer."""
    what, family, quantity = BUGS[bug]
    runs = [outcome(bug, name) for name in declared(bug, PROBLEMS)]
    assert all(not o.passed for o in runs), [o.problem for o in runs if o.passed]
    assert_caught(runs, f"mutant.{bug}", what, family, quantity)
    for o in runs:
        assert [d.signature for d in o.diagnoses] == [EXPECTED[bug]], "\n".join(o.lines())
        assert "step" in o.diagnoses[0].line or "layer" in o.diagnoses[0].line, o.diagnoses[0].line


@pytest.mark.parametrize("bug", list(BUGS))
def test_one_failure_cause_gets_one_diagnosis(bug):
    """The same signature on every optimizer problem the mutant declares and fails."""
    runs = [outcome(bug, name) for name in declared(bug, OPTIMIZER_PROBLEMS)]
    assert_one_diagnosis(runs, f"mutant.{bug}", EXPECTED[bug])


def test_the_velocity_form_is_named_at_the_first_step_after_eta_drops():
    """η × 0.1 at step 16: the buffer form's step 16 is −0.01·b, the velocity form's 0.9·v − 0.01·g
    with v = −0.1·b, so the parameters part there and the loss at step 17."""
    o = outcome("velocity_for_buffer", "opt-momentum-buffer-lr-drop")
    [losses] = [r for r in o.results if r.quantity == "losses"]
    assert "first diverging step 17 of 32" in losses.message
    assert "it diverges at step 17, the first step after η changes at step 16 (0.1 → 0.01)" in o.lines()[-1]
    # with η constant the trajectory is the reference's: only the state's key (v for b) shows it
    o = outcome("velocity_for_buffer", "opt-momentum-clip-norm")
    assert {r.check for r in o.results if not r.passed} == {"structure"}, o.lines()
    assert "your state keeps v = −ηb where the buffer form keeps b" in o.lines()[-1]


def test_sutskevers_theta_shows_only_in_the_final_parameters():
    o = outcome("nesterov_sutskever_theta", "opt-nesterov-velocity-lr-drop-kink")
    assert {r.quantity.split("[")[0] for r in o.results if not r.passed} == {"final W", "final b"}
    assert "the final parameters of layer(s) 1, 2, 3 are the look-ahead φ minus μv" in o.lines()[-1]


def test_a_carried_over_state_passes_its_first_call_and_fails_the_second():
    """What one check cannot see: the first train call of a fresh instance is right."""
    impl, problem = Mutant("state_carried_over"), CATALOGUE["opt-adam-decay"]
    assert run(impl, problem).passed
    second = run(impl, problem)
    assert not second.passed and "your state says t = 96 after this call's 48 steps" in second.lines()[-1]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_bug_free_control_passes_every_optimizer_problem_without_a_diagnosis(dtype):
    runs = [outcome(None, name, dtype) for name in declared(None, OPTIMIZER_PROBLEMS)]
    assert len(runs) == len(OPTIMIZER_PROBLEMS) - 2  # all but the two recurrent problems
    assert all(o.results and o.passed and not o.diagnoses for o in runs), [o.lines() for o in runs]
