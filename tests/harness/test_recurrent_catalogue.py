"""The recurrent part of the catalogue and what the harness does with it: the problems have the
contract's shapes, T = 1 is exactly the dense network, the next-character targets are one step ahead,
recurrent specs are opt-in (supports_recurrent), a layer's triple is checked as a triple, and a
failing per-step quantity names its first wrong time step."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

import reference
from conformance import CATALOGUE, Recurrent, Spec, make_problem
from conformance.calls import supports
from conformance.checks import check
from conformance.compare import compare
from conformance.coverage import missing_pairs

RECURRENT = {n: p for n, p in CATALOGUE.items() if p.spec.recurrent is not None}


def test_the_catalogue_has_the_recurrent_problems_the_contract_asks_for():
    specs = [p.spec for p in RECURRENT.values()]
    assert {s.recurrent.outputs for s in specs} == {"all", "last"}
    assert 1 in {s.recurrent.steps for s in specs}  # T = 1: the dense network
    assert max(s.recurrent.steps for s in specs) >= 32  # vanishing gradients
    assert any(len(s.sizes) >= 4 for s in specs)  # stacked recurrent layers
    assert any(len(p.x) == 1 for p in RECURRENT.values())  # a batch of one
    assert any(s.weight_decay > 0 for s in specs)
    assert any(p.optimizer is not None for p in RECURRENT.values())
    assert {"golden-rnn-char", "golden-rnn-classify"} <= set(RECURRENT)


@pytest.mark.parametrize("name", sorted(RECURRENT))
def test_recurrent_problem_shapes(name):
    p = RECURRENT[name]
    (m, T, n_0), r = p.x.shape, p.spec.recurrent
    assert (T, n_0) == (r.steps, p.spec.sizes[0])
    assert p.y.shape == ((m, T, p.spec.sizes[-1]) if r.outputs == "all" else (m, p.spec.sizes[-1]))
    for l, layer in enumerate(p.params[:-1], start=1):
        n, n_prev = p.spec.sizes[l], p.spec.sizes[l - 1]
        assert [a.shape for a in layer] == [(n, n_prev), (n, n), (n,)]
    assert len(p.params[-1]) == 2  # the dense output layer


def test_next_character_targets_are_the_next_input():
    p = CATALOGUE["rnn-char-next"]
    np.testing.assert_array_equal(p.y[:, :-1], p.x[:, 1:])  # y_t = x_{t+1}
    assert set(np.unique(p.x)) == {0.0, 1.0} and np.all(p.x.sum(axis=2) == 1)  # one-hot


def test_t1_is_exactly_the_dense_network():
    """With T = 1 there is no h_0 term: the contract says the recurrent net is the dense one, U
    entering only through λU in ∂C/∂U and the penalty (λ/2)‖U‖² in C."""
    p = CATALOGUE["rnn-last-t1"]
    lam = p.spec.weight_decay
    assert p.spec.recurrent.steps == 1 and lam > 0
    rnn = reference.backprop(p.spec, p.params, p.x, p.y)
    dense_spec = dataclasses.replace(p.spec, recurrent=None)
    dense = reference.backprop(dense_spec, [(layer[0], layer[-1]) for layer in p.params], p.x[:, 0], p.y)
    penalty = 0.5 * lam * sum(float(np.vdot(layer[1], layer[1])) for layer in p.params[:-1])
    assert rnn.loss == pytest.approx(dense.loss + penalty, rel=1e-15)
    for l, (got, want, layer) in enumerate(zip(rnn.grads, dense.grads, p.params), start=1):
        np.testing.assert_array_equal(got[0], want[0], err_msg=f"dW[layer {l}]")
        np.testing.assert_array_equal(got[-1], want[-1], err_msg=f"db[layer {l}]")
        if len(got) == 3:
            np.testing.assert_array_equal(got[1], lam * layer[1], err_msg=f"dU[layer {l}]")


def test_recurrent_specs_are_opt_in():
    spec = CATALOGUE["rnn-char-next"].spec
    assert not supports(SimpleNamespace(), spec)  # written before recurrent nets: never handed one
    assert not supports(SimpleNamespace(supports_recurrent="yes"), spec)  # exactly True
    assert supports(SimpleNamespace(supports_recurrent=True), spec)
    assert supports(SimpleNamespace(), CATALOGUE["nielsen-2-3-1"].spec)  # dense unchanged


def test_recurrent_pairs_are_covered():
    """Every allowed pair with the recurrent output modes occurs (coverage.py); test_coverage.py holds
    the general tests, this one names the recurrent gaps alone."""
    gaps = [pair for pair in missing_pairs(CATALOGUE) if any(f == "recurrent" for f, _ in pair)]
    assert not gaps, gaps


class Reference:
    name = "wrapped"
    supports_recurrent = True

    def __init__(self, change=lambda g: g):
        self.change = change

    def gradients(self, spec, params, x, y):
        return self.change(reference.backprop(spec, params, x, y))

    def train(self, spec, params, x, y, *, lr, batches):
        return reference.train(spec, params, x, y, lr=lr, batches=batches)


def test_the_reference_passes_every_recurrent_problem():
    for name, p in RECURRENT.items():
        if p.optimizer is None:
            failed = [r.message for r in check(Reference(), p).results if not r.passed]
            assert not failed, (name, failed)


def test_a_pair_where_a_triple_belongs_is_a_structure_failure():
    def drop_dU(g):
        return g._replace(grads=[(layer[0], layer[-1]) for layer in g.grads])

    p = CATALOGUE["rnn-all-tanh-decay-even"]
    failed = [r for r in check(Reference(drop_dU), p, kinds=("gradients",)).results if not r.passed]
    assert failed and all(r.check == "structure" for r in failed)
    assert "expected a triple (dW, dU, db), got a tuple of 2" in failed[0].detail


def test_a_wrong_time_step_is_named():
    """δ^1 wrong from step 3 on (0-based 2): the failure names t=3 first."""

    def from_step_3(g):
        deltas = [d.copy() for d in g.deltas]
        deltas[0][:, 2:] *= 1.01
        return g._replace(deltas=deltas)

    p = CATALOGUE["rnn-all-tanh-decay-even"]
    failed = [r for r in check(Reference(from_step_3), p, kinds=("gradients",)).results if not r.passed]
    assert [r.quantity for r in failed] == ["delta[layer 1]"]
    assert "first time step off t=3 of T=5" in failed[0].detail


def test_first_step_off_is_measured_against_the_whole_sequence():
    """A vanishing first step's own relative error is large but tiny against the sequence: it is not
    the step named; the step that really differs is."""
    want = np.ones((2, 4, 3))
    want[:, 0] = 1e-9  # vanished
    got = want.copy()
    got[:, 0] *= 1 + 1e-6  # 1e-6 off on its own (above tol 1e-11), 1e-15 against the whole
    got[:, 3] += 1e-3  # off against the whole
    r = compare(
        got, want, impl="i", problem="p", dtype="float64", check="deltas", quantity="delta", time_axis=1
    )
    assert not r.passed and "first time step off t=4 of T=4" in r.detail


def test_recurrent_spec_label_and_validation():
    spec = Spec((3, 4, 2), "tanh", "softmax", "log_likelihood", recurrent=Recurrent(6, "all"))
    assert spec.label == "rnn T=6 all | 3-4-2 tanh/softmax log_likelihood"
    with pytest.raises(ValueError, match=r"^spec\.recurrent"):
        Spec((3, 4, 2), "tanh", "softmax", "log_likelihood", recurrent=Recurrent(6, "every"))
    with pytest.raises(ValueError, match=r"^spec\.recurrent"):
        Spec((3, 4, 2), "tanh", "softmax", "log_likelihood", recurrent=Recurrent(0, "all"))


def test_make_problem_recurrent_shapes_and_kinks():
    spec = Spec((3, 5, 2), "relu", "sigmoid", "quadratic", recurrent=Recurrent(4, "all"))
    p = make_problem(spec, 0, m=6, relu_kink=True)
    assert p.x.shape == (6, 4, 3) and p.y.shape == (6, 4, 2)
    z1 = reference.backprop(p.spec, p.params, p.x, p.y).zs[0]
    assert np.all(z1[:, :, 0] == 0.0)  # the first unit is exactly at the kink at every step
