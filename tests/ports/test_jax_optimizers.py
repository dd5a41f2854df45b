"""The optimizer extension of the single-process JAX ports (jax_impl/optimizers.py, training.py,
flax_module.py): trajectories and final state against reference.train, one compiled program for
problems of one shape, the dtypes kept, the opt-in answers and the bad-input errors. The whole
catalogue runs in the conformance matrix; here a few problems, few compiles."""

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

import reference  # noqa: E402
from conformance import CATALOGUE, Optimizer  # noqa: E402
from conformance.problems import optimizer_problems  # noqa: E402
from conformance.runtime.environment import available  # noqa: E402
from conformance.tolerances import tolerance  # noqa: E402
from jax_impl import autodiff, manual  # noqa: E402

FLAX = available("flax") and available("optax")
if FLAX:
    from jax_impl import flax_module

# port -> (train, supports_optimizer), looked up only when the test runs (flax may be missing)
PORTS = {
    "jax.manual": lambda: (manual.train, manual.supports_optimizer),
    "jax.autodiff": lambda: (autodiff.train, autodiff.supports_optimizer),
    "jax.scan": lambda: (manual.train_compiled, manual.supports_optimizer),
    "jax.flax": lambda: (flax_module.train, flax_module.supports_optimizer),
}
EACH_PORT = pytest.mark.parametrize(
    "port",
    [
        pytest.param(p, marks=pytest.mark.skipif(not FLAX, reason="needs flax and optax"))
        if p == "jax.flax"
        else p
        for p in PORTS
    ],
)
# what Optax's transformations cannot express (flax_module's docstring); the others decline nothing
FLAX_DECLINES = {
    "opt-adam-eps-hat-small-grads",
    "opt-adagrad-small-grads",
    "opt-adam-clip-norm-eps",
    "opt-rnn-adam-clip-norm-decay",  # clip_eps = 1e-6: Optax's clip_by_global_norm adds nothing to ‖g‖
}

COMPILES: list[str] = []  # one entry per XLA compile in this process
jax.monitoring.register_event_duration_secs_listener(
    lambda event, _duration, **_: (
        COMPILES.append(event) if event == "/jax/core/compile/backend_compile_duration" else None
    )
)


def run(port, problem, dtype="float64", *, x64=None, **overrides):
    """(reference.train's Trajectory, the port's) for ``problem`` in ``dtype``; x64 on for float64."""
    p = problem.as_dtype(np.dtype(dtype))
    kw = dict(lr=list(p.lr) if isinstance(p.lr, tuple) else p.lr, optimizer=p.optimizer, **overrides)
    want = reference.train(p.spec, p.params, p.x, p.y, batches=p.batches, **kw)
    train = PORTS[port]()[0]
    with jax.enable_x64(dtype == "float64" if x64 is None else x64):
        params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in p.params]
        batches = [jnp.asarray(idx) for idx in p.batches]
        got = train(p.spec, params, jnp.asarray(p.x), jnp.asarray(p.y), batches=batches, **kw)
    return want, got


def worst(got, want):
    """The largest |got − want| / max(|want|, 1) over a list of (W, b) pairs."""
    return max(
        float(np.max(np.abs(np.asarray(a) - b) / np.maximum(np.abs(b), 1.0)))
        for pa, pb in zip(got, want)
        for a, b in zip(pa, pb)
    )


def assert_matches(want, got, dtype):
    """Every step's loss, the final parameters and the final state (reference layout, "t" an int)
    within the trajectory tolerance, and every array still in ``dtype``."""
    tol = tolerance("trajectory", dtype)
    np.testing.assert_allclose(got.losses, want.losses, rtol=tol, atol=0)
    assert worst(got.params, want.params) <= tol
    assert got.state is not None and set(got.state) == set(want.state)
    assert type(got.state["t"]) is int and got.state["t"] == want.state["t"]
    for key in set(want.state) - {"t"}:
        assert worst(got.state[key], want.state[key]) <= tol, key
    arrays = [a for pair in got.params for a in pair]
    arrays += [a for key, pairs in got.state.items() if key != "t" for pair in pairs for a in pair]
    assert {np.dtype(a.dtype) for a in arrays} == {np.dtype(dtype)}  # nothing promoted or demoted


@EACH_PORT
def test_trajectories_and_state_match_the_reference(port):
    """Float64: a schedule with Nesterov's velocity form (relu at a kink), and AdamW. Float32 with
    x64 on, so every Python hyperparameter is a float64 scalar: RMSprop's buffer form after an η
    drop, still float32 throughout."""
    for name in ("opt-nesterov-velocity-lr-drop-kink", "opt-adamw-decay-kink"):
        assert_matches(*run(port, CATALOGUE[name]), "float64")
    problem = CATALOGUE["opt-rmsprop-momentum-buffer-lr-drop"]
    assert_matches(*run(port, problem, "float32", x64=True), "float32")


@EACH_PORT
def test_problems_of_one_shape_share_one_compiled_program(port):
    """Adam at a constant η, then other β₁, β₂, ε and a schedule on the same shapes: no new compile,
    and the second run still matches the reference (its numbers are traced, not baked in)."""
    first = CATALOGUE["opt-adam-decay"]
    second = replace(
        first,
        optimizer=Optimizer("adam", beta1=0.8, beta2=0.99, eps=1e-6),
        lr=tuple(np.linspace(0.02, 0.005, len(first.batches))),
    )
    run(port, first)
    before = len(COMPILES)
    assert_matches(*run(port, second), "float64")
    assert len(COMPILES) == before


@EACH_PORT
def test_supports_optimizer(port):
    """The hand-written ports take every catalogue optimizer; Flax declines exactly the conventions
    Optax cannot express. An invalid optimizer is an error, not a quiet False."""
    supports = PORTS[port]()[1]
    declined = {p.name for p in optimizer_problems() if supports(p.optimizer) is not True}
    assert declined == (FLAX_DECLINES if port == "jax.flax" else set())
    with pytest.raises(ValueError, match=r"^optimizer\.beta1:"):
        supports(SimpleNamespace(name="adam", beta1=1.0))


BAD = {
    "unknown name": dict(optimizer=SimpleNamespace(name="lamb")),
    "beta1 = 1": dict(optimizer=SimpleNamespace(name="adam", beta1=1.0)),
    "eps = 0": dict(optimizer=SimpleNamespace(name="rmsprop", eps=0.0)),
    "clip_norm < 0": dict(optimizer=SimpleNamespace(name="sgd", clip_norm=-1.0)),
    "schedule too short": dict(lr=[0.1, 0.1]),
    "a zero in the schedule": dict(lr=[0.1] * 8 + [0.0] + [0.1] * 23),
}


@EACH_PORT
def test_bad_optimizer_input_raises_the_reference_error(port):
    """Each bad argument raises the reference's error type with the reference's message."""
    problem = CATALOGUE["opt-momentum-clip-norm"]  # 32 steps
    for what, overrides in BAD.items():
        errors = []
        for train in (reference.train, PORTS[port]()[0]):
            with pytest.raises((TypeError, ValueError)) as caught:
                p = problem.as_dtype(np.float32)
                kw = dict(lr=p.lr, optimizer=p.optimizer, **overrides)
                with jax.enable_x64(False):
                    train(p.spec, p.params, p.x, p.y, batches=p.batches, **kw)
            errors.append((type(caught.value), str(caught.value)))
        assert errors[1] == errors[0], what
