"""Diagnoses beyond the mutants (tests/diagnosis/test_mutants.py): the training-only readings, grouped lines,
an unknown bug that says so instead of guessing, no match on non-finite values, and a diagnosis
that survives any output and a broken signature. (That the shipped implementations get no
diagnosis is asserted by the conformance matrix itself, conformance/suite, on every problem.)"""

import functools
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reference
from conformance import CATALOGUE
from conformance.compare import CheckResult
from conformance.diagnosis import diagnose
from conformance.diagnosis.diagnose import run
from conformance.diagnosis.evidence import Diagnosis, Evidence
from conformance.mutants.dense import Mutant
from tests.helpers.mutants import ASCENT_OVERFLOWS

PROBLEM = CATALOGUE["square-4-4-4-4"]  # λ = 0, m = 10 in batches of 3, 3, 3, 1


class Doctored:
    """The reference with what it returns changed by ``gradients``/``train`` (result -> result)."""

    name = "doctored"

    def __init__(self, gradients=lambda g: g, train=lambda t: t, lr_factor=1.0):
        self.doctor_gradients, self.doctor_train, self.lr_factor = gradients, train, lr_factor

    def gradients(self, spec, params, x, y):
        return self.doctor_gradients(reference.backprop(spec, params, x, y))

    def train(self, spec, params, x, y, *, lr, batches):
        return self.doctor_train(reference.train(spec, params, x, y, lr=lr * self.lr_factor, batches=batches))


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
    from conformance.diagnosis.multiples import describe

    named = {c: describe(c, 10, 3, 2e-11)[0] for c in (10, 0.1, 2, 0.5, 3, 1 / 3, -1, 20, 3.7)}
    assert named == {
        10: "c = 10 = m",
        0.1: "c = 0.1 = 1/m",
        2: "c = 2",
        0.5: "c = 0.5 = 1/2",
        3: "c = 3 = n_L",
        1 / 3: "c = 0.333333 = 1/n_L",
        -1: "c = -1",
        20: "c = 20 = m · 2",
        3.7: "c = 3.7",
    }
    assert "not one we recognise" in describe(3.7, 10, 3, 2e-11)[1]


def evidence(problem=PROBLEM, **fields):
    """Evidence on a problem as diagnose.run builds it: float64 copies, the float64 reference."""
    p = problem.as_dtype("float64")
    want = {
        "gradients": reference.backprop(p.spec, p.params, p.x, p.y),
        "train": reference.train(p.spec, p.params, p.x, p.y, lr=p.lr, batches=p.batches),
    }
    return Evidence(**{"problem": p, "dtype": "float64", "failing": {}, "want": want, "got": {}, **fields})


def test_non_finite_values_are_never_close_on_either_side():
    """A replay that overflowed (inf ≤ tol·inf) or a NaN matches nothing; huge finite values are
    compared exactly rather than overflowing; per-step losses are compared step by step, as the check
    does, so one huge step cannot hide a wrong small one."""
    ev, a = evidence(), np.array([1.0, 2.0])
    for got, want in (
        (a, [1.0, np.inf]),
        ([1.0, np.inf], a),
        ([np.inf, np.inf], [np.inf, np.inf]),
        ([np.nan, 2.0], a),
        (a, [np.nan, 2.0]),
    ):
        assert not ev.close("dW", np.asarray(got), np.asarray(want)), (got, want)
    assert ev.close("dW", 1e300 * a, 1e300 * a) and not ev.close("dW", 1e300 * a, 1e300 * a[::-1])
    assert ev.close("losses", np.array([1e200, 1.0]), np.array([1e200, 1.0]))
    assert not ev.close("losses", np.array([1e200, 1.0]), np.array([1e200, 1.001]))
    assert ev.close("dW", np.zeros(2), np.zeros(2)) and not ev.close("dW", np.full(2, 1e-300), np.zeros(2))


def test_a_learning_rate_off_by_1e_8_is_not_gradient_ascent():
    """On ASCENT_OVERFLOWS the ascent replay reaches inf at its last step; it used to "match" any
    trajectory there. η × (1 + 1e-8) is now read where it first shows (step 1, the gradients right)."""
    outcome = run(Doctored(lr_factor=1 + 1e-8), ASCENT_OVERFLOWS)
    assert signatures(outcome) == ["first_step"], outcome.lines()


def test_a_learning_rate_rounded_to_float32_is_named_with_its_numbers():
    [d] = run(Mutant("lr_float32"), ASCENT_OVERFLOWS).diagnoses
    assert d.signature == "lr_float32" and "0.10000000149011612 instead of 0.1" in d.line, d.line
    assert "relative error 1.5e-08" in d.line and "np.float32(lr)" in d.line


def trained_losses(problem, impl):
    p = problem
    with np.errstate(all="ignore"):  # the ascent overflows, as it is meant to
        return np.asarray(impl.train(p.spec, p.params, p.x, p.y, lr=p.lr, batches=p.batches).losses)


def test_gradient_ascent_that_overflows_is_still_read_as_ascent():
    """The ascent's losses reach inf at step 11 and its parameters NaN: the replay blows up at the
    same step and agrees with every step before it."""
    outcome = run(Mutant("update_sign"), ASCENT_OVERFLOWS)
    assert not np.isfinite(trained_losses(ASCENT_OVERFLOWS, Mutant("update_sign"))[-1])
    assert signatures(outcome) == ["update_sign"], outcome.lines()


def test_weight_gradients_of_the_decay_alone_and_zero_bias_gradients():
    """torch's zero_grad() between backward() and step() with weight decay: ∂C/∂W = λW, ∂C/∂b = 0."""

    class ZeroedThenDecayed:
        name = "zeroed"

        def gradients(self, spec, params, x, y):
            result = reference.backprop(spec, params, x, y)
            return result._replace(grads=[(spec.weight_decay * W, np.zeros_like(b)) for W, b in params])

    [d] = run(ZeroedThenDecayed(), CATALOGUE["deep-relu-softmax"], kinds=("gradients",)).diagnoses
    assert d.signature == "data_gradient_lost" and "∂C/∂b is 0 too" in d.line, d.line
    assert set(d.explains) == {("grads", "dW"), ("grads", "db")}


def test_a_loss_near_but_not_at_m_times_the_penalty_is_not_read_as_it():
    """The loss is one number, which any fitted multiple of the penalty reproduces: a reading needs the
    difference to be the integer multiple itself, to the loss check's tolerance."""
    problem = CATALOGUE["deep-relu-softmax"]  # λ = 0.01, m = 10: the m-times reading is 9 more penalties
    lam, m = problem.spec.weight_decay, problem.x.shape[0]
    penalty = 0.5 * lam * sum(float(np.vdot(W, W)) for W, _ in problem.params)

    def off_by(k):
        return Doctored(gradients=lambda g: g._replace(loss=g.loss + k * penalty))

    exact = run(off_by(m - 1), problem, kinds=("gradients",))
    assert signatures(exact) == ["decay_terms"] and "once per example, m times" in exact.lines()[-1]
    near = run(off_by(m - 1 + 0.05), problem, kinds=("gradients",))
    assert signatures(near) == ["unmatched"], near.lines()


def test_a_signature_that_raises_is_skipped_and_the_others_still_speak(monkeypatch, caplog):
    def broken(ev):
        raise RuntimeError("a defect in one reading")

    monkeypatch.setattr(diagnose, "SIGNATURES", (broken, *diagnose.SIGNATURES))
    outcome = run(Mutant("bias_summed"), PROBLEM)
    assert signatures(outcome) == ["constant_multiple", "consequence"], outcome.lines()
    assert "signature broken raised" in caplog.text
    monkeypatch.setattr(diagnose, "SIGNATURES", (broken,))
    assert signatures(run(Mutant("bias_summed"), PROBLEM)) == ["unmatched"]


class Hostile:
    """An object whose every attribute raises on reading, as a buggy property would."""

    def __getattr__(self, name):
        raise RuntimeError(f"reading {name}")


# What an implementation might hand back instead of the contract's arrays (tests/harness/test_checks.py
# and tests/harness/test_structure.py have the checks' side of it): nothing, numbers, text, containers
# of the wrong kind, unknown objects.
JUNK = [None, 0, 2.5, float("nan"), "x", b"", {}, {"dW": 1}, (), [], object(), Hostile(), True, np.int64(3)]
ARRAY_VARIANTS = [
    lambda a: a,
    lambda a: a.T,
    lambda a: a.astype(int),
    lambda a: a.tolist(),
    lambda a: a * np.nan,
    lambda a: a + np.inf,
    lambda a: a.reshape(-1)[:1],
    lambda a: a.astype(np.float32),
    lambda a: 1e300 * a,
    lambda a: np.zeros_like(a),
    lambda a: a.astype(object),
    lambda a: a[None],
    lambda a: a.astype(complex),
]


def like(value):
    """A strategy for a malformed version of ``value`` (part of a reference result): itself, junk, an
    array changed in kind, shape or values, a list or pair too short, too long or of the wrong type."""
    junk = st.sampled_from(JUNK)
    if isinstance(value, np.ndarray):
        return st.one_of(junk, st.sampled_from(ARRAY_VARIANTS).map(lambda f: f(value)))
    if isinstance(value, (list, tuple)):
        items = st.tuples(*(like(v) for v in value))
        return st.one_of(
            junk,
            items.map(type(value)),
            items.map(list),
            items.map(lambda t: t[:-1]),
            items.map(lambda t: (*t, None)),
            items.map(lambda t: dict(enumerate(t))),
        )
    return st.one_of(junk, st.just(value), st.floats(allow_nan=True, allow_infinity=True))


def result_like(result):
    """An object with some of ``result``'s attributes (a NamedTuple's fields), each malformed or absent;
    or one whose attributes cannot be read."""
    absent = object()
    fields = st.fixed_dictionaries(
        {f: st.one_of(st.just(absent), like(getattr(result, f))) for f in result._fields}
    )
    return st.one_of(
        fields.map(lambda d: SimpleNamespace(**{k: v for k, v in d.items() if v is not absent})),
        st.just(Hostile()),
    )


# the groups the checks report, by check and quantity family (values, structure, calls)
KEYS = [
    ("grads", "dW"),
    ("grads", "db"),
    ("grads", "dK"),
    ("deltas", "delta"),
    ("forward", "z"),
    ("forward", "a"),
    ("loss", "loss"),
    ("trajectory", "losses"),
    ("trajectory", "final W"),
    ("trajectory", "final b"),
    ("trajectory", "final K"),
    ("structure", "dW"),
    ("structure", "grads"),
    ("structure", "losses"),
    ("structure", "final params"),
    ("structure", "result"),
    ("call", "call gradients"),
    ("call", "call train"),
]
JUNK_PROBLEMS = ["batch-1", "deep-relu-softmax", "relu-kink", "conv-stride2-pad1", "conv-relu-kink"]


@functools.cache
def reference_evidence(name):
    return evidence(CATALOGUE[name])


@st.composite
def malformed_evidence(draw):
    ev = reference_evidence(draw(st.sampled_from(JUNK_PROBLEMS)))
    got = {}
    for kind in ("gradients", "train"):
        choice = draw(st.sampled_from(["absent", "none", "malformed"]))
        if choice != "absent":
            got[kind] = None if choice == "none" else draw(result_like(ev.want[kind]))
    keys = draw(st.sets(st.sampled_from(KEYS), min_size=1, max_size=6))
    rel = st.sampled_from([float("nan"), float("inf"), 1e-9, 3e-8, 0.5])
    layer = st.sampled_from([None, 1, 2])
    failing = {
        (check, fam): [
            CheckResult("junk", "p", "float64", check, fam, draw(layer), draw(rel), 1.0, 1e-11, False)
        ]
        for check, fam in keys
    }
    consistency = draw(st.sampled_from([None, lambda: True, lambda: False, lambda: 1 / 0, lambda: "yes"]))
    return replace(
        ev,
        got=got,
        failing=failing,
        consistency=consistency,
        _consistent=[],
        dtype=draw(st.sampled_from(["float64", "float32"])),
    )


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(malformed_evidence())
def test_malformed_or_missing_evidence_never_breaks_a_signature_or_the_diagnosis(ev):
    """Every signature on its own (not shielded by diagnose's guard) and the diagnosis as a whole take
    whatever the implementation returned; every failing group ends up explained or unmatched."""
    with np.errstate(all="ignore"):  # as diagnose runs them: non-finite numbers are judged, not warned
        for sig in diagnose.SIGNATURES:
            sig(ev)
    found = diagnose.diagnose(ev)
    assert all(isinstance(d, Diagnosis) for d in found)
    assert set().union(*(d.explains for d in found)) == set(ev.failing)


def test_the_diagnosis_reads_the_gradients_as_they_were_returned():
    """An implementation that reuses its buffers (train overwrites the arrays gradients returned, as a
    torch tensor's .numpy() view would be): the diagnosis still reads ∂C/∂b = m times the reference's."""

    class ReusesBuffers:
        name = "reuses"

        def gradients(self, spec, params, x, y):
            result = reference.backprop(spec, params, x, y)
            self.last = result._replace(grads=[(dW, len(x) * db) for dW, db in result.grads])
            return self.last

        def train(self, spec, params, x, y, *, lr, batches):
            for dW, db in self.last.grads:
                dW[...], db[...] = 0.0, 0.0
            return reference.train(spec, params, x, y, lr=lr, batches=batches)

    [d] = run(ReusesBuffers(), PROBLEM).diagnoses
    assert d.signature == "constant_multiple" and "c = 10 = m" in d.line, d.line
