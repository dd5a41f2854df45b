"""The recurrent (BPTT) extension of the single-process JAX ports against the NumPy reference:
jax.manual (a lax.scan forward, the backward by hand in a reverse lax.scan: jax_impl/recurrent.py),
jax.autodiff (value_and_grad through the same scan), jax.scan (the compiled training) and jax.flax
(nnx.RNN(nnx.SimpleCell) + nnx.Linear, Optax). Gradients and the per-step zs/activations/deltas for
both output modes, tanh/relu/sigmoid, stacked layers, λ > 0, T = 1, T = 32 and one sequence, in
float64 and float32; SGD and Adam training (every optimizer through jax.scan); SimpleCell's one
bias; bad input. Each case is one structure, so each port compiles it once (problems are reused)."""

from functools import cache
from types import SimpleNamespace

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

import reference  # noqa: E402
from conformance import Optimizer  # noqa: E402
from conformance.runtime.environment import available  # noqa: E402
from jax_impl import autodiff, manual, sharded, training, validation  # noqa: E402

FLAX = available("flax") and available("optax")
if FLAX:
    from flax import nnx

    from jax_impl import flax_module

# port -> its gradients entry point (jax.scan shares jax.manual's backprop; it is a training port)
GRADIENTS = {
    "jax.manual": lambda: manual.backprop,
    "jax.autodiff": lambda: autodiff.backprop,
    "jax.flax": lambda: flax_module.gradients,
}
TRAIN = {
    "jax.manual": lambda: manual.train,
    "jax.autodiff": lambda: autodiff.train,
    "jax.scan": lambda: manual.train_compiled,
    "jax.flax": lambda: flax_module.train,
}


def ports(table):
    needs_flax = pytest.mark.skipif(not FLAX, reason="needs flax and optax")
    return [pytest.param(p, marks=needs_flax) if p == "jax.flax" else p for p in table]


# name -> (sizes, activation, output, loss, λ, T, outputs, m)
CASES = {
    "tanh-all-decay": ((3, 5, 2), "tanh", "sigmoid", "cross_entropy", 0.1, 4, "all", 3),
    "relu-last-stacked-unequal": ((4, 6, 3, 3), "relu", "softmax", "log_likelihood", 0.05, 5, "last", 3),
    "relu-all-stacked": ((3, 4, 4, 2), "relu", "identity", "quadratic", 0.0, 4, "all", 2),
    "sigmoid-last": ((3, 4, 2), "sigmoid", "identity", "quadratic", 0.0, 4, "last", 3),
    "t1-all": ((3, 5, 3), "tanh", "softmax", "log_likelihood", 0.1, 1, "all", 3),
    "t32-last": ((2, 4, 2), "tanh", "tanh", "quadratic", 0.01, 32, "last", 2),
    "batch1-all": ((3, 5, 3), "relu", "softmax", "log_likelihood", 0.0, 7, "all", 1),
}

# float64: each port sums the reference's products in another order (a scan step, einsum over (t, x)
# instead of row products), so it differs by a few ε64 ≈ 2.2e-16 per rounding, grown by the ≤ 32
# steps of the recurrence (‖U‖ ≈ 1 with the scaled init). Measured worst over every case, port and
# quantity: 5.8e-16 (gradients), 2.2e-15 (trajectories); 1e-12 has a wide margin.
TOL64 = 1e-12
# float32 (against the float64 reference on the same float32-rounded inputs): δ^l_t gains about
# (n + 2) ε32 of rounding per step (a length-n ≤ 6 product, the sum with the step above, ⊙ g'), carried
# back through up to T = 32 steps, then ∂W, ∂U, ∂b sum m·T ≤ 64 rows: ε32 · (T (n + 2) + m T) =
# 1.19e-7 · (32 · 8 + 64) ≈ 3.8e-5 < 1e-4. Measured worst: 5.1e-7 (jax.flax's ∂U).
TOL32 = 1e-4


def spec_of(case, **changes):
    sizes, activation, output, loss, lam, T, outputs, _ = CASES[case]
    fields = dict(sizes=sizes, activation=activation, output=output, loss=loss, weight_decay=lam)
    fields["recurrent"] = SimpleNamespace(steps=T, outputs=outputs)
    return SimpleNamespace(**(fields | changes))  # duck-typed: jax_impl needs nothing of conformance


@cache
def problem(case):
    """(spec, params, x, y) in float64 NumPy: the reference's recurrent init, random sequences."""
    sizes, *_, T, outputs, m = CASES[case]
    spec = spec_of(case)
    params = reference.init_params(sizes, 7, recurrent=True)
    rng = np.random.default_rng(8)
    x = rng.normal(size=(m, T, sizes[0]))
    shape = (m, T, sizes[-1]) if outputs == "all" else (m, sizes[-1])
    if spec.loss == "quadratic":
        y = rng.normal(size=shape)
    else:
        y = np.eye(sizes[-1])[rng.integers(sizes[-1], size=shape[:-1])]
    return spec, params, x, y


def as_jax(params, x, y, dtype):
    """jax arrays of ``dtype`` (float64 inside the caller's ``with jax.enable_x64(True)``); put on
    the device as they are, where jnp.asarray would compile a conversion for every new shape."""
    t = lambda a: jax.device_put(np.asarray(a, dtype))  # noqa: E731
    return [tuple(t(w) for w in layer) for layer in params], t(x), t(y)


def widened(params, x, y, dtype):
    """The inputs rounded to ``dtype`` and back to float64: what the reference must see to be the
    exact answer for a port computing on the rounded inputs."""
    r = lambda a: np.asarray(a, dtype).astype(np.float64)  # noqa: E731
    return [tuple(r(w) for w in layer) for layer in params], r(x), r(y)


@cache
def reference_backprop(case, dtype=np.float64):
    spec, *args = problem(case)
    return reference.backprop(spec, *widened(*args, dtype))


def rel(got, want):
    return float(np.linalg.norm(np.asarray(got, np.float64) - want) / max(np.linalg.norm(want), 1e-300))


def compare(result, want, dtype, tol):
    """Every quantity the port returns against the reference, dtype and shape asserted; returns the
    worst relative error per quantity."""
    errors = {"loss": abs(result.loss - want.loss) / abs(want.loss)}
    assert len(result.grads) == len(want.grads)
    for l, (layer, wanted) in enumerate(zip(result.grads, want.grads, strict=True)):
        assert len(layer) == len(wanted), f"grads[{l}]: {len(layer)} arrays, want {len(wanted)}"
        for name, g, w in zip("WUb" if len(wanted) == 3 else "Wb", layer, wanted, strict=True):
            assert g.dtype == dtype and g.shape == w.shape, (l, name, g.dtype, g.shape)
            errors[f"d{name}[{l}]"] = rel(g, w)
    for field in ("zs", "activations", "deltas"):
        got = getattr(result, field)
        if got is None:  # jax.flax exposes no internals, as for dense specs
            continue
        for l, (g, w) in enumerate(zip(got, getattr(want, field), strict=True)):
            assert g.dtype == dtype and g.shape == w.shape, (field, l, g.shape, w.shape)
            errors[f"{field}[{l}]"] = rel(g, w)
    bad = {k: v for k, v in errors.items() if not v <= tol}
    assert not bad, f"relative errors above {tol:g}: {bad}"
    return errors


@pytest.mark.parametrize("port", ports(GRADIENTS))
@pytest.mark.parametrize("case", CASES)
def test_gradients_match_the_reference_float64(port, case):
    spec, *args = problem(case)
    with jax.enable_x64(True):
        result = GRADIENTS[port]()(spec, *as_jax(*args, np.float64))
    compare(result, reference_backprop(case), np.float64, TOL64)
    if port != "jax.flax":  # the contract's shapes: (m, T, n_l) hidden; the output layer per mode
        *_, T, outputs, m = CASES[case]
        assert [d.shape for d in result.deltas[:-1]] == [(m, T, n) for n in spec.sizes[1:-1]]
        out = (m, T, spec.sizes[-1]) if outputs == "all" else (m, spec.sizes[-1])
        assert result.deltas[-1].shape == result.zs[-1].shape == result.activations[-1].shape == out


@pytest.mark.parametrize("port", ports(GRADIENTS))
@pytest.mark.parametrize("case", ["relu-last-stacked-unequal", "t32-last"])
def test_gradients_match_the_reference_float32(port, case):
    """float32 in, float32 out, both with x64 on (as the harness runs) and off (JAX's default)."""
    spec, *args = problem(case)
    with jax.enable_x64(case == "t32-last"):
        result = GRADIENTS[port]()(spec, *as_jax(*args, np.float32))
    compare(result, reference_backprop(case, np.float32), np.float32, TOL32)


def test_manual_deltas_are_autodiff_deltas_at_every_step():
    """manual's reverse scan by hand against value_and_grad's m ∂C/∂z^l_t through the forward scan:
    two float64 computations of the same numbers (each within TOL64 of the reference above), and
    the earliest steps of T = 32 carry errors orders of magnitude smaller than the last step's."""
    spec, *args = problem("t32-last")
    with jax.enable_x64(True):
        jargs = as_jax(*args, np.float64)
        got, want = manual.backprop(spec, *jargs), autodiff.backprop(spec, *jargs)
    for a, b in zip(got.deltas, want.deltas, strict=True):
        assert rel(a, np.asarray(b)) <= TOL64
    first, last = (float(np.abs(np.asarray(got.deltas[0])[:, t]).max()) for t in (0, -1))
    assert 0 < first < last


def test_one_step_is_the_dense_network():
    """T = 1: the same numbers as the dense port on x[:, 0] with (W, b) (U only adds λU)."""
    spec, params, x, y = problem("t1-all")
    dense = SimpleNamespace(**{k: v for k, v in vars(spec).items() if k != "recurrent"})
    with jax.enable_x64(True):
        rnn = manual.backprop(spec, *as_jax(params, x, y, np.float64))
        flat = manual.backprop(dense, *as_jax([(W, b) for W, *_, b in params], x[:, 0], y[:, 0], np.float64))
    for (dW, dU, db), (_, U, _), (fW, fb) in zip(rnn.grads[:-1], params[:-1], flat.grads[:-1]):
        assert rel(dW, np.asarray(fW)) <= TOL64 and rel(db, np.asarray(fb)) <= TOL64
        assert rel(dU, spec.weight_decay * U) <= TOL64
    assert rel(rnn.deltas[0][:, 0], np.asarray(flat.deltas[0])) <= TOL64


# name -> (case, optimizer, lr); batches over the m sequences: a ragged order (two scan segments)
TRAINING = {
    "sgd-all-decay": ("tanh-all-decay", None, 0.5),
    "adam-last-stacked": ("relu-last-stacked-unequal", Optimizer("adam"), 0.02),
}


@cache
def training_run(name):
    case, optimizer, lr = TRAINING[name]
    spec, params, x, y = problem(case)
    m = x.shape[0]
    batches = [np.arange(m), np.array([m - 1, 0]), np.array([1])] * 2
    args = dict(lr=lr) if optimizer is None else dict(lr=lr, optimizer=optimizer)
    return (spec, params, x, y), batches, args, reference.train(spec, params, x, y, batches=batches, **args)


def assert_same_run(got, want, tol):
    assert max(abs(g - w) / abs(w) for g, w in zip(got.losses, want.losses, strict=True)) <= tol
    for layer, wanted in zip(got.params, want.params, strict=True):
        assert len(layer) == len(wanted) and max(rel(g, w) for g, w in zip(layer, wanted)) <= tol
    if want.state is None:
        assert got.state is None
        return
    assert got.state["t"] == want.state["t"] and got.state.keys() == want.state.keys()
    for key in want.state.keys() - {"t"}:  # the state shaped like params: triples, then a pair
        for layer, wanted in zip(got.state[key], want.state[key], strict=True):
            assert len(layer) == len(wanted) and max(rel(g, w) for g, w in zip(layer, wanted)) <= tol


@pytest.mark.parametrize("port", ports(TRAIN))
@pytest.mark.parametrize("name", TRAINING)
def test_training_matches_reference_train(port, name):
    """Losses, trained (W, U, b) and the optimizer's state after 6 steps, float64."""
    (spec, *args), batches, kwargs, want = training_run(name)
    with jax.enable_x64(True):
        got = TRAIN[port]()(spec, *as_jax(*args, np.float64), batches=batches, **kwargs)
    assert {t.dtype for layer in got.params for t in layer} == {np.dtype(np.float64)}
    assert_same_run(got, want, TOL64)


# every rule, switch and clip of optimizers.py once, through jax.scan (one compile each), and through
# jax.flax's Optax chain where supports_optimizer takes it (not adam eps_hat, nor adagrad with ε
# outside the root: Optax has neither form)
OPTIMIZERS = {
    "momentum-velocity-schedule": Optimizer("momentum", momentum=0.9, momentum_form="velocity"),
    "nesterov-clip-value": Optimizer("nesterov", momentum=0.5, clip_value=0.1),
    "rmsprop-momentum": Optimizer("rmsprop", momentum=0.5, eps_in_sqrt=True),
    "adamw-clip-norm": Optimizer("adamw", decoupled_decay=0.1, clip_norm=0.5),
    "adam-eps-hat": Optimizer("adam", eps_hat=True),
    "adagrad": Optimizer("adagrad", initial_accumulator=0.1),
}


@pytest.mark.parametrize("port", ports(["jax.scan", "jax.flax"]))
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_trains_a_recurrent_net(name, port):
    """jax.scan and jax.flax against reference.train on a stacked recurrent spec: AdamW's decoupled
    decay reaches W and U but not b, the global clip norm is over every array of every layer."""
    if port == "jax.flax" and not flax_module.supports_optimizer(OPTIMIZERS[name]):
        pytest.skip("Optax has no transformation for this convention (flax_module.supports_optimizer)")
    spec, params, x, y = problem("relu-last-stacked-unequal")
    batches = [np.arange(3), np.array([2, 0, 0]), np.array([1, 2, 1]), np.array([2, 1, 0])]  # one scan
    lr = [0.02, 0.02, 0.01, 0.01] if name.endswith("schedule") else 0.02
    want = reference.train(spec, params, x, y, lr=lr, batches=batches, optimizer=OPTIMIZERS[name])
    with jax.enable_x64(True):
        got = TRAIN[port]()(
            spec, *as_jax(params, x, y, np.float64), lr=lr, batches=batches, optimizer=OPTIMIZERS[name]
        )
    assert_same_run(got, want, TOL64)


@pytest.mark.skipif(not FLAX, reason="needs flax and optax")
def test_flax_cell_has_one_bias_and_decays_both_kernels():
    """SimpleCell keeps one bias, on dense_i (dense_h has none): the contract's b goes there, W.T and
    U.T into the two kernels, and reads back unchanged; parameters follow the input dtype; the
    decay mask covers both kernels and the head's, never a bias."""
    spec, params, x, y = problem("relu-last-stacked-unequal")
    with jax.enable_x64(True):
        jparams, jx, _ = as_jax(params, x, y, np.float64)
        model = flax_module.build(spec, jparams)
        for cell, (W, U, b) in zip(model.cells(), params[:-1], strict=True):
            assert cell.dense_h.bias is None and cell.dense_i.bias is not None
            np.testing.assert_array_equal(np.asarray(cell.dense_i.kernel[...]), W.T)
            np.testing.assert_array_equal(np.asarray(cell.dense_h.kernel[...]), U.T)
            np.testing.assert_array_equal(np.asarray(cell.dense_i.bias[...]), b)
            assert cell.dense_i.kernel[...].dtype == np.float64
        for layer, wanted in zip(model.params(), params, strict=True):
            assert all(np.array_equal(np.asarray(g), w) for g, w in zip(layer, wanted, strict=True))
        assert nnx.eval_shape(lambda m: m(jx), model).shape == (3, 3)  # "last": (m, n_L), traced only
        mask = flax_module.decay_kernels(nnx.as_pure(nnx.state(model, nnx.Param)))
    cells = [mask["rnns"][l]["cell"] for l in range(2)]
    assert all(c["dense_i"]["kernel"] and c["dense_h"]["kernel"] and not c["dense_i"]["bias"] for c in cells)
    assert mask["linears"][0]["kernel"] and not mask["linears"][0]["bias"]


def test_recurrence_is_opt_in():
    """The four ports declare supports_recurrent; jax.sharded does not, and its validation refuses a
    recurrent spec by name rather than misreading x (m, T, n_0) as a dense batch."""
    declared = [manual, autodiff, training] + ([flax_module] if FLAX else [])
    assert all(module.supports_recurrent is True for module in declared)
    assert not hasattr(sharded, "supports_recurrent") and not hasattr(sharded.Sharded, "supports_recurrent")
    spec, *args = problem("tanh-all-decay")
    with jax.enable_x64(True), pytest.raises(ValueError, match=r"^spec\.recurrent: this implementation"):
        validation.check_inputs(spec, *as_jax(*args, np.float64))


# the bad inputs JAX adds to the shared ones (tests/ports/test_bad_input.py): dtypes and x64
def test_bad_recurrent_input_is_named():
    spec, params, x, y = problem("tanh-all-decay")
    with jax.enable_x64(True):
        p64, x64, y64 = as_jax(params, x, y, np.float64)
        p32, x32, _ = as_jax(params, x, y, np.float32)
        with pytest.raises(TypeError, match=r"^params\[0\]\.U \(layer 1\): dtype float32 does not match"):
            manual.backprop(spec, [(p64[0][0], p32[0][1], p64[0][2]), p64[1]], x64, y64)
        with pytest.raises(TypeError, match=r"^x: dtype float32 does not match the parameters' float64"):
            autodiff.backprop(spec, p64, x32, y64)
        with pytest.raises(ValueError, match=r"^x: expected shape \(m, T, n_0\) = \(3, 4, 3\)"):
            manual.train_compiled(spec, p64, x64[:, :, :2], y64, lr=0.1, batches=[np.arange(3)])
        with pytest.raises(TypeError, match=r"^spec\.recurrent: missing attribute 'outputs'"):
            manual.backprop(spec_of("tanh-all-decay", recurrent=SimpleNamespace(steps=4)), p64, x64, y64)
        with pytest.raises(ValueError, match=r"^params\[1\]\.W \(layer 2\): contains NaN"):
            manual.backprop(spec, [p64[0], (p64[1][0] * jnp.nan, p64[1][1])], x64, y64)
    with pytest.raises(TypeError, match=r"^params\[0\]\.W \(layer 1\): float64 input while JAX's x64"):
        manual.backprop(spec, [tuple(np.asarray(a) for a in layer) for layer in params], x, y)
