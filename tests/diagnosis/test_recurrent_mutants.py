"""Meta-test for backprop through time: every known-bad recurrent mutant (conformance/mutants/recurrent.py)
is caught, by the check that names the quantity, the layer and — for a per-step quantity — the first
time step it breaks, and diagnosed by the signature of its bug (conformance/diagnosis/signatures/
recurrent.py) and by that one alone, on every recurrent problem of the catalogue where the bug can
show; the bug-free control and the reference pass and get no diagnosis; and no signature, the dense
and conv ones included, breaks on the (W, U, b) triples of a recurrent problem."""

import functools
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

import reference
from conformance import CATALOGUE, load
from conformance.checks import check
from conformance.compare import CheckResult
from conformance.diagnosis import diagnose
from conformance.diagnosis.diagnose import run
from conformance.diagnosis.evidence import Diagnosis
from conformance.diagnosis.signatures.recurrent import bptt
from conformance.mutants.recurrent import BUGS, RecurrentMutant
from tests.helpers.mutants import assert_caught, assert_one_diagnosis

# Every plain-SGD recurrent problem of the catalogue (12 rnn-* and the 2 golden ones): together they
# hold both output modes under every output and cost, T = 1, T = 32, stacked layers of equal and
# unequal sizes, m = 1, λ on and off, ReLU kinks and next-character data. All of them, not a
# covering few: 10 mutants × 14 problems run in about 2 s on one core. (The two optimizer problems
# opt-rnn-* train with Adagrad and Adam, which these mutants, plain SGD, do not declare.)
PROBLEMS = [n for n, p in CATALOGUE.items() if p.spec.recurrent is not None and p.optimizer is None]
RECURRENT = [n for n, p in CATALOGUE.items() if p.spec.recurrent is not None]


def _steps(p):
    return p.spec.recurrent.steps


def _per_step(result):
    """z, a or δ with a time axis: a hidden layer's, or the output layer's for outputs="all"."""
    p = CATALOGUE[result.problem]
    return p.spec.recurrent.outputs == "all" or result.layer < len(p.params)


# bug -> (the signature that must diagnose it, the problems where it must show: the rest are blind
# to it by construction — T = 1 has no step after another, "last" no time axis at the output, λ = 0 no
# decay term)
EXPECTED = {
    "time_term_forgotten": ("time_term_forgotten", lambda p: _steps(p) > 1),
    "u_transposed_in_delta": ("u_transposed", lambda p: _steps(p) > 1),
    "dU_pairs_h_t": ("du_pairs_h_t", lambda p: True),
    "db_last_step_only": ("last_step_only", lambda p: _steps(p) > 1),
    "dW_last_step_only": ("last_step_only", lambda p: _steps(p) > 1),
    "state_carried_over": ("hidden_state_not_reset", lambda p: True),
    "targets_shifted": ("targets_shifted", lambda p: _steps(p) > 1 and p.spec.recurrent.outputs == "all"),
    "U_not_decayed": ("u_not_decayed", lambda p: p.spec.weight_decay > 0),
    "output_error_every_step": (
        "output_error_every_step",
        lambda p: _steps(p) > 1 and p.spec.recurrent.outputs == "last",
    ),
    "mean_over_time": ("mean_over_time", lambda p: _steps(p) > 1 and p.spec.recurrent.outputs == "all"),
}


@functools.cache
def outcome(bug, name):
    """One check of a fresh mutant on one problem, diagnosed. A hidden state carried over from call to
    call shows only from the second call of a batch size (the suite and the CLI hand one instance every
    problem in turn), so for that bug one gradients call on the same problem comes first."""
    impl, p = RecurrentMutant(bug), CATALOGUE[name]
    if bug == "state_carried_over":
        impl.gradients(p.spec, p.params, p.x, p.y)
    return run(impl, p, "float64")


def test_every_bug_has_a_signature_and_problems_that_expose_it():
    assert set(EXPECTED) == set(BUGS) and len(PROBLEMS) >= 14
    assert all(any(shows(CATALOGUE[n]) for n in PROBLEMS) for _, shows in EXPECTED.values())


@pytest.mark.parametrize("bug", list(BUGS))
def test_recurrent_mutant_is_caught_where_it_shows_and_diagnosed(bug):
    """It fails exactly the problems where the bug can show, by a check of its BUGS family on its
    quantity, naming the layer and (z, a, δ: per step) the first time step off; each failing run gets
    its signature, then the training failures as its consequence, and nothing else."""
    what, family, quantity = BUGS[bug]
    signature, shows = EXPECTED[bug]
    runs = [outcome(bug, name) for name in PROBLEMS]
    assert [o.problem for o in runs if not o.passed] == [n for n in PROBLEMS if shows(CATALOGUE[n])]
    for r in assert_caught(runs, f"recurrent_mutant.{bug}", what, family, quantity):
        assert "layer" in r.message or r.check == "loss", r.message
        if r.check in ("forward", "deltas") and _per_step(r):
            assert "first time step off t=1 of T=" in r.message, r.message
    for o in runs:
        if not o.passed:
            trained = any(not r.passed for r in o.results if r.check == "trajectory")
            assert [d.signature for d in o.diagnoses] == [signature] + ["consequence"] * trained, "\n".join(
                o.lines()
            )


def test_a_carried_hidden_state_passes_its_first_call_and_is_named_from_the_second():
    """A fresh instance's first gradients call starts from zeros; the second starts from the first's
    h^l_T, which the diagnosis reads back from z^l at t = 1."""
    impl, p = RecurrentMutant("state_carried_over"), CATALOGUE["rnn-all-stacked-unequal-cross-entropy"]
    assert check(impl, p, kinds=("gradients",)).passed
    second = run(impl, p, kinds=("gradients",))
    [z] = [r for r in second.results if r.quantity == "z[layer 1]"]
    assert not z.passed and "first time step off t=1 of T=5" in z.message
    [d] = second.diagnoses
    assert d.signature == "hidden_state_not_reset" and "an earlier call on these same sequences" in d.line


def test_a_carried_hidden_state_on_fresh_instances_is_read_from_the_trajectory():
    """One check of a fresh instance per problem: the gradients call starts from zeros and passes;
    training carries each batch's h^l_T into the next batch of as many sequences. The replay reads
    that from the trajectory alone, on every problem where it shows."""
    runs = [run(RecurrentMutant("state_carried_over"), CATALOGUE[n]) for n in PROBLEMS]
    failing = [o for o in runs if not o.passed]
    assert failing and all({r.check for r in o.results if not r.passed} == {"trajectory"} for o in failing)
    assert_one_diagnosis(runs, "recurrent_mutant.state_carried_over", "hidden_state_not_reset")
    assert all("carried from call to call" in o.diagnoses[0].line for o in failing)


def test_bug_free_control_and_the_reference_pass_without_a_diagnosis():
    runs = [outcome(None, name) for name in PROBLEMS]
    runs += [run(load("reference"), CATALOGUE[name]) for name in RECURRENT]
    assert all(o.results and o.passed and not o.diagnoses for o in runs), [o.lines() for o in runs]


@pytest.mark.parametrize("name", PROBLEMS)
def test_the_signatures_own_pass_without_a_change_is_the_reference(name):
    """signatures/recurrent.py computes its variants with its own BPTT: unchanged, it is the reference."""
    p = CATALOGUE[name]
    got, want = bptt(p.spec, p.params, p.x, p.y), reference.backprop(p.spec, p.params, p.x, p.y)
    assert np.isclose(got.loss, want.loss, rtol=1e-13)
    for g, w in zip(
        [*got.zs, *got.activations, *got.deltas, *(a for layer in got.grads for a in layer)],
        [*want.zs, *want.activations, *want.deltas, *(a for layer in want.grads for a in layer)],
    ):
        assert g.shape == w.shape and np.allclose(g, w, rtol=1e-12, atol=1e-14)


def _malformed(result):
    """What an implementation might return in place of a recurrent result: the grads as pairs (no dU),
    a layer short, junk, the per-step arrays transposed or missing."""
    grads = result.grads
    fields = {f: getattr(result, f) for f in result._fields}
    yield SimpleNamespace(**{**fields, "grads": [layer[::2] for layer in grads]})
    yield SimpleNamespace(**{**fields, "grads": grads[:-1], "zs": None})
    yield SimpleNamespace(**{**fields, "grads": [(*layer, layer[0]) for layer in grads]})
    yield SimpleNamespace(**{**fields, "zs": [z.T for z in result.zs], "activations": [0, 1]})
    yield SimpleNamespace(**{**fields, "deltas": "x", "grads": {"dW": 1}})
    yield SimpleNamespace(loss=float("nan"))


def _pass(p):
    return reference.backprop(p.spec, p.params, p.x, p.y)


# every (check, family) group a recurrent check can report
KEYS = [
    ("grads", "dW"),
    ("grads", "dU"),
    ("grads", "db"),
    ("deltas", "delta"),
    ("forward", "z"),
    ("forward", "a"),
    ("loss", "loss"),
    ("trajectory", "losses"),
    ("trajectory", "final W"),
    ("trajectory", "final U"),
    ("trajectory", "final b"),
    ("structure", "dU"),
    ("call", "call train"),
]


@pytest.mark.parametrize(
    "name",
    ["rnn-all-stacked-unequal-cross-entropy", "rnn-classify-relu-decay-kink", "opt-rnn-adam-clip-norm-decay"],
)
def test_no_signature_breaks_on_recurrent_evidence(name):
    """Every signature on its own (not shielded by diagnose's guard), the dense, conv, optimizer and
    trajectory ones included, on a recurrent problem's evidence with every group failing: the arrays
    as returned (triples), malformed or absent. Each group ends up explained or unmatched. (The
    optimizer problem's arrays are the reference's: these mutants train by plain SGD only.)"""
    p = CATALOGUE[name]
    ev = diagnose.evidence(
        check(load("reference") if p.optimizer else RecurrentMutant("time_term_forgotten"), p)
    )
    every = {
        k: [CheckResult("junk", name, "float64", *k, l, 0.5, 1.0, 1e-11, False) for l in (1, 2)] for k in KEYS
    }
    training = {k: v for k, v in every.items() if k[0] == "trajectory"}  # the training replays' case
    gots = [ev.got, {}, {"gradients": None, "train": None}]
    gots += [{**ev.got, "gradients": bad} for bad in _malformed(ev.want.get("gradients") or _pass(p))]
    gots += [{**ev.got, "train": SimpleNamespace(losses=[0.0], params=[(1, 2, 3)])}]
    for got in gots:
        for failing in (every, training):
            doctored = replace(ev, failing=failing, got=got, _consistent=[])
            with np.errstate(all="ignore"):  # as diagnose runs them
                for sig in diagnose.SIGNATURES:
                    sig(doctored)
            found = diagnose.diagnose(doctored)
            assert all(isinstance(d, Diagnosis) for d in found)
            assert set().union(*(d.explains for d in found)) == set(failing)


class ReluPrimeOneAtZero:
    """The reference's BPTT with ReLU′(0) = 1 in the hidden layer: the dense bug (a ``z >= 0`` mask),
    in a recurrent net. g′ is read from a = relu(z) there, which cannot tell z = 0 from z < 0, so the
    double takes the units at the kink from the weights (relu_kink zeroes a unit's W, U and b rows:
    its z is exactly 0 at every step) — for the problems below, whose output is not a ReLU."""

    name = "relu-prime-one-at-zero"
    supports_recurrent = True

    def gradients(self, spec, params, x, y):
        from reference import recurrent

        W, U, b = params[0]
        kink = ~(W.any(axis=1) | U.any(axis=1) | (b != 0))  # (n_1,): z^1_t = 0 exactly
        prime = recurrent.PRIME_FROM_OUTPUT["relu"]
        recurrent.PRIME_FROM_OUTPUT["relu"] = lambda a: ((a > 0) | kink).astype(a.dtype)  # BUG at z = 0
        try:
            return reference.backprop(spec, params, x, y)
        finally:
            recurrent.PRIME_FROM_OUTPUT["relu"] = prime

    def train(self, spec, params, x, y, *, lr, batches):
        return reference.train(spec, params, x, y, lr=lr, batches=batches)


@pytest.mark.parametrize("name", ["rnn-last-relu-kink-m1", "rnn-classify-relu-decay-kink"])
def test_relu_prime_at_the_kink_is_diagnosed_in_a_recurrent_net(name):
    """The ReLU-kink signature reads a recurrent z^l_t's units on its last axis, not its time axis
    (read on the time axis, it once claimed a last-step-only ∂b whose T equals n_1)."""
    assert CATALOGUE[name].spec.output != "relu" and len(CATALOGUE[name].params) == 2
    o = run(ReluPrimeOneAtZero(), CATALOGUE[name], "float64", ("gradients",))
    assert not o.passed
    assert [d.signature for d in o.diagnoses] == ["relu_kink"], "\n".join(o.lines())
