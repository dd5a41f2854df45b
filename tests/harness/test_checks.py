"""The harness turns whatever an implementation does wrong into a failed check that names it,
never an exception out of the suite: raising, wrong shapes, wrong dtypes, NaN, missing fields."""

from types import SimpleNamespace

import numpy as np
import pytest

import conformance
import reference
from conformance import CATALOGUE, check

PROBLEM = CATALOGUE["nielsen-2-3-1"]


class Broken:
    """The reference, with one thing done wrong to what it returns."""

    def __init__(self, name, gradients=lambda g: g, train=lambda t: t):
        self.name, self._g, self._t = name, gradients, train

    def gradients(self, spec, params, x, y):
        return self._g(reference.backprop(spec, params, x, y))

    def train(self, spec, params, x, y, *, lr, batches):
        return self._t(reference.train(spec, params, x, y, lr=lr, batches=batches))


def raise_(exc):
    raise exc


CASES = [
    (
        Broken("raises", gradients=lambda g: raise_(RuntimeError("boom"))),
        "call",
        "call gradients",
        "raised RuntimeError: boom",
    ),
    (
        Broken("transposed-dW", gradients=lambda g: g._replace(grads=[(dW.T, db) for dW, db in g.grads])),
        "structure",
        "dW[layer 1]",
        "shape (2, 3), expected (3, 2)",
    ),
    (
        Broken(
            "float32-db",
            gradients=lambda g: g._replace(grads=[(dW, db.astype(np.float32)) for dW, db in g.grads]),
        ),
        "structure",
        "db[layer 1]",
        "dtype float32, expected float64",
    ),
    (
        Broken(
            "nan-delta", gradients=lambda g: g._replace(deltas=[np.full_like(d, np.nan) for d in g.deltas])
        ),
        "deltas",
        "delta[layer 2]",
        "NaN/Inf values",
    ),
    (
        Broken("list-not-array", gradients=lambda g: g._replace(zs=[z.tolist() for z in g.zs])),
        "structure",
        "z[layer 1]",
        "expected a numpy float64 array",
    ),
    (
        Broken("loss-as-array", gradients=lambda g: g._replace(loss=np.array([g.loss]))),
        "structure",
        "loss",
        "expected a float",
    ),
    (
        Broken("one-loss-short", train=lambda t: t._replace(losses=t.losses[:-1])),
        "structure",
        "losses",
        f"expected {len(PROBLEM.batches)} per-step losses",
    ),
    (
        Broken("no-params", train=lambda t: SimpleNamespace(losses=t.losses)),
        "structure",
        "final ",
        "expected a list of 2 pairs",
    ),
]


@pytest.mark.parametrize(("impl", "check_name", "quantity", "detail"), CASES, ids=[c[0].name for c in CASES])
def test_bad_output_is_a_named_failure(impl, check_name, quantity, detail):
    results = check(impl, PROBLEM, "float64")  # must not raise
    failed = [r for r in results if not r.passed]
    assert any(
        r.check == check_name and r.quantity.startswith(quantity) and detail in r.message for r in failed
    ), [r.message for r in failed]


def test_the_unbroken_wrapper_passes():
    results = check(Broken("intact"), PROBLEM, "float64")
    assert results and all(r.passed for r in results)


class DenseOnly:
    """A bring-your-own implementation written before the conv extension: its ``supports`` accepts
    every spec because it never looks at ``spec.conv``."""

    name = "dense-only"

    def supports(self, spec):
        return True

    def gradients(self, spec, params, x, y):
        return reference.backprop(spec, params, x, y)

    def train(self, spec, params, x, y, *, lr, batches):
        return reference.train(spec, params, x, y, lr=lr, batches=batches)


@pytest.mark.parametrize("opt_in", [False, True])
def test_conv_problems_are_opt_in(opt_in):
    """Conv problems reach an implementation only through ``supports_conv = True``; dense ones always."""
    from conformance.calls import supports

    impl = DenseOnly()
    if opt_in:
        impl.supports_conv = True
    conv = [p for p in CATALOGUE.values() if p.spec.conv]
    assert conv and all(supports(impl, p.spec) is opt_in for p in conv)
    dense = [p for p in CATALOGUE.values() if not p.spec.conv and p.spec.recurrent is None]
    assert all(supports(impl, p.spec) for p in dense)


@pytest.mark.parametrize("name", conformance.NAMES)
def test_shipped_implementations_meet_the_typed_contract(name):
    """The Protocols of conformance/contract.py describe what the harness really gets: every shipped
    implementation is an Implementation with a name, its gradients a Recorded, its train a Trajectory."""
    try:
        impl = conformance.load(name)
    except conformance.Unavailable as exc:
        pytest.skip(str(exc))
    p = conformance.CATALOGUE["nielsen-2-3-1"]
    assert isinstance(impl, conformance.Implementation) and isinstance(impl.name, str)
    assert isinstance(impl.gradients(p.spec, p.params, p.x, p.y), conformance.Recorded)
    assert isinstance(
        impl.train(p.spec, p.params, p.x, p.y, lr=p.lr, batches=p.batches), conformance.Trajectory
    )
    assert not isinstance(object(), conformance.Implementation)  # the Protocol can say no
