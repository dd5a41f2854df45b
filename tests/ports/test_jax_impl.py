"""JAX-specific checks. The ports against the reference are in the conformance matrix; here:
manual vs autodiff deltas (dense and conv), the max-pool tie, scan vs step-by-step training, no x64
leak, the copy test, GPU. Bad conv input is in tests/ports/test_bad_input.py with every backend's."""

from types import SimpleNamespace

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

import conformance  # noqa: E402
from conformance import CATALOGUE  # noqa: E402
from conformance.runtime.environment import available  # noqa: E402
from conformance.tolerances import tolerance  # noqa: E402
from jax_impl import autodiff, manual  # noqa: E402
from jax_impl.conv import pool, unpool  # noqa: E402
from tests.helpers.copy import run_copied  # noqa: E402

# Between two float64 computations of the same quantity, each ~1e-15 from the reference: the
# matrix's single-pass 1e-11 and trajectory 1e-10 apply unchanged.
DELTA_TOL, TRAJECTORY_TOL = tolerance("deltas", "float64"), tolerance("trajectory", "float64")


def arrays(problem):
    return (
        [(jnp.asarray(W), jnp.asarray(b)) for W, b in problem.params],
        jnp.asarray(problem.x),
        jnp.asarray(problem.y),
    )


def rel(a, b):
    return float(jnp.linalg.norm(a - b) / max(float(jnp.linalg.norm(b)), 1e-300))


def block(channels, kernel, stride=1, padding=0, pool=None, pool_size=2):
    """A duck-typed conv block: the implementations need nothing from conformance."""
    return SimpleNamespace(
        channels=channels, kernel=kernel, stride=stride, padding=padding, pool=pool, pool_size=pool_size
    )


def conv_spec(sizes, activation, output, loss, weight_decay, input_shape, conv):
    return SimpleNamespace(
        sizes=sizes,
        activation=activation,
        output=output,
        loss=loss,
        weight_decay=weight_decay,
        input_shape=input_shape,
        conv=conv,
    )


# Small conv stacks: padding with max pooling; stride 2 with padding, then padding again on a second
# block with avg pooling (padding and stride in the backward pass); stride 3 on a non-square input,
# where ⌊(H + 2p − k)/s⌋ drops rows and columns, then a 1×1 kernel with padding.
CONV_SPECS = {
    "max-pad": conv_spec(
        (48, 5, 3), "tanh", "sigmoid", "cross_entropy", 0.1, (1, 8, 8), (block(3, 3, 1, 1, "max"),)
    ),
    "two-blocks-avg": conv_spec(
        (36, 4),
        "sigmoid",
        "softmax",
        "log_likelihood",
        0.0,
        (2, 9, 9),
        (block(3, 3, 2, 1), block(4, 2, 1, 1, "avg")),
    ),
    "stride-3-floor": conv_spec(
        (84, 3), "relu", "identity", "quadratic", 0.05, (1, 10, 13), (block(2, 3, 3, 2), block(2, 1, 1, 1))
    ),
}


def conv_problem(spec, m=4, seed=0):
    """Random float64 (K, b) + (W, b), x (m, C_0, H_0, W_0) and one-hot y, as jax arrays."""
    rng, params, C = np.random.default_rng(seed), [], spec.input_shape[0]
    for b in spec.conv:
        K = rng.standard_normal((b.channels, C, b.kernel, b.kernel))
        params.append((K, rng.standard_normal(b.channels)))
        C = b.channels
    for n_in, n_out in zip(spec.sizes, spec.sizes[1:]):
        params.append((rng.standard_normal((n_out, n_in)) / np.sqrt(n_in), rng.standard_normal(n_out)))
    x = rng.standard_normal((m, *spec.input_shape))
    y = np.eye(spec.sizes[-1])[rng.integers(0, spec.sizes[-1], m)]
    return [(jnp.asarray(K), jnp.asarray(b)) for K, b in params], jnp.asarray(x), jnp.asarray(y)


@pytest.mark.parametrize("name", ["relu-kink", "deep-relu-softmax", "square-4-4-4-4"])
def test_manual_and_autodiff_deltas_agree(name):
    p = CATALOGUE[name]
    with jax.enable_x64(True):
        args = arrays(p)
        d_manual = manual.backprop(p.spec, *args).deltas
        d_auto = autodiff.backprop(p.spec, *args).deltas
        for l, (a, b) in enumerate(zip(d_manual, d_auto), start=1):
            assert a.dtype == jnp.float64
            assert rel(b, a) <= DELTA_TOL, f"jax manual vs autodiff: delta[layer {l}] [{name}]"


@pytest.mark.parametrize("name", list(CONV_SPECS))
def test_conv_manual_and_autodiff_agree(name):
    """Hand-written conv backward (conv.py) vs value_and_grad through lax.conv_general_dilated and
    lax.reduce_window: every z, a, δ and gradient, in float64, within the single-pass tolerance."""
    spec = CONV_SPECS[name]
    with jax.enable_x64(True):
        args = conv_problem(spec)
        got, want = manual.backprop(spec, *args), autodiff.backprop(spec, *args)
        assert got.loss == pytest.approx(want.loss, rel=DELTA_TOL)
        for quantity in ("zs", "activations", "deltas"):
            for l, (a, b) in enumerate(zip(getattr(got, quantity), getattr(want, quantity))):
                assert a.dtype == jnp.float64 and a.shape == b.shape
                assert rel(a, b) <= DELTA_TOL, f"jax manual vs autodiff: {quantity}[{l}] [{name}]"
        for l, (pair_got, pair_want) in enumerate(zip(got.grads, want.grads), start=1):
            for what, a, b in zip(("dK/dW", "db"), pair_got, pair_want):
                assert rel(a, b) <= DELTA_TOL, f"jax manual vs autodiff: {what}[layer {l}] [{name}]"


def test_max_pool_tie_goes_to_the_first_maximum():
    """Two 2×2 windows with tied maxima: the whole gradient goes to the first maximal element in
    row-major order (the contract), both by hand and through lax.reduce_window's gradient."""
    a = jnp.array(
        [[[[1.0, 1.0, 0.0, 2.0], [1.0, 0.0, 2.0, 2.0]]]]
    )  # windows [[1, 1], [1, 0]] and [[0, 2], [2, 2]]
    nabla_a = jnp.array([[[[3.0, 5.0]]]])  # ∂C_x/∂(pooled a), one value per window
    want = jnp.array([[[[3.0, 0.0, 0.0, 5.0], [0.0, 0.0, 0.0, 0.0]]]])
    assert jnp.array_equal(unpool(nabla_a, a, "max", 2), want)
    assert jnp.array_equal(jax.grad(lambda a: jnp.sum(pool(a, "max", 2) * nabla_a))(a), want)


@pytest.mark.parametrize("name", ["mnist-784-30-10", "deep-relu-softmax", "neuron", "batch-1"])
def test_scan_and_step_by_step_agree(name):
    """Including ragged batch orders (a last batch smaller than the others: two scan segments)."""
    p = CATALOGUE[name]
    with jax.enable_x64(True):
        params, x, y = arrays(p)
        batches = [jnp.asarray(i) for i in p.batches]
        steps = manual.train(p.spec, params, x, y, lr=p.lr, batches=batches)
        scan = manual.train_compiled(p.spec, params, x, y, lr=p.lr, batches=batches)
        np.testing.assert_allclose(scan.losses, steps.losses, rtol=TRAJECTORY_TOL)
        for (W1, b1), (W2, b2) in zip(scan.params, steps.params):
            assert rel(W1, W2) <= TRAJECTORY_TOL and rel(b1, b2) <= TRAJECTORY_TOL


def test_conv_scan_and_step_by_step_agree():
    """A conv stack trained by lax.scan and step by step, with a ragged last batch."""
    spec = CONV_SPECS["max-pad"]
    with jax.enable_x64(True):
        params, x, y = conv_problem(spec, m=5)
        batches = [jnp.array([0, 1]), jnp.array([2, 3]), jnp.array([4])] * 2
        steps = manual.train(spec, params, x, y, lr=0.5, batches=batches)
        scan = manual.train_compiled(spec, params, x, y, lr=0.5, batches=batches)
        assert steps.losses[-1] != steps.losses[0] and len(scan.losses) == len(batches)
        np.testing.assert_allclose(scan.losses, steps.losses, rtol=TRAJECTORY_TOL)
        for (K1, b1), (K2, b2) in zip(scan.params, steps.params):
            assert rel(K1, K2) <= TRAJECTORY_TOL and rel(b1, b2) <= TRAJECTORY_TOL


def test_no_x64_leak_around_a_float64_run():
    """float32 work before and after a float64 conformance run stays float32, and x64 stays off."""
    probe = lambda: jnp.asarray(np.ones(3)).dtype  # noqa: E731  (float64 input, x64 off -> float32)
    assert probe() == jnp.float32
    p32 = CATALOGUE["nielsen-2-3-1"].as_dtype(np.float32)
    before = manual.backprop(p32.spec, *arrays(p32)).grads[0][0].dtype
    results = conformance.check(conformance.load("jax.manual"), CATALOGUE["relu-kink"], "float64")
    assert all(r.passed for r in results)
    after = manual.backprop(p32.spec, *arrays(p32)).grads[0][0].dtype
    assert (before, after, probe()) == (jnp.float32, jnp.float32, jnp.float32)
    assert not jax.config.jax_enable_x64


def test_float32_stays_float32_even_with_x64_on():
    p32 = CATALOGUE["deep-relu-softmax"].as_dtype(np.float32)
    with jax.enable_x64(True):
        g = autodiff.backprop(p32.spec, *arrays(p32))
        run = manual.train_compiled(
            p32.spec, *arrays(p32), lr=0.1, batches=[jnp.asarray(i) for i in p32.batches]
        )
    assert all(t.dtype == jnp.float32 for pair in g.grads for t in pair)
    assert all(t.dtype == jnp.float32 for pair in run.params for t in pair)


@pytest.mark.slow
def test_copy_jax_impl_alone_trains(tmp_path):
    """jax_impl/ copied alone trains with jax only: manual, autodiff and scan, dense and conv; and
    the Flax template too where flax and optax are installed (one interpreter for all of it)."""
    result = run_copied(
        "jax_impl",
        """
        import jax, jax.numpy as jnp, jax_impl
        from types import SimpleNamespace
        spec = SimpleNamespace(sizes=(4, 5, 3), activation="tanh", output="sigmoid",
                               loss="cross_entropy", weight_decay=0.01)
        k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
        params = [(jax.random.normal(k1, (5, 4)), jnp.zeros(5)),
                  (jax.random.normal(k2, (3, 5)), jnp.zeros(3))]
        x = jax.random.normal(k3, (12, 4))
        y = jax.nn.one_hot(jnp.arange(12) % 3, 3)
        batches = [jnp.arange(k, k + 4) for k in (0, 4, 8)] * 5
        for train in (jax_impl.manual.train, jax_impl.autodiff.train, jax_impl.manual.train_compiled):
            run = train(spec, params, x, y, lr=0.5, batches=batches)
            assert run.losses[-1] < run.losses[0], run.losses
        print("trained", run.losses[0], run.losses[-1])

        # a conv block (4 channels, 3x3, padding 1, 2x2 max pool) in front: 1x4x4 -> 4x2x2 -> 16 -> 3
        block = SimpleNamespace(channels=4, kernel=3, stride=1, padding=1, pool="max", pool_size=2)
        conv_spec = SimpleNamespace(sizes=(16, 3), activation="tanh", output="sigmoid",
                                    loss="cross_entropy", weight_decay=0.01, input_shape=(1, 4, 4),
                                    conv=(block,))
        k4, k5 = jax.random.split(k1)
        conv_params = [(0.5 * jax.random.normal(k4, (4, 1, 3, 3)), jnp.zeros(4)),
                       (0.5 * jax.random.normal(k5, (3, 16)), jnp.zeros(3))]
        images = x.reshape(12, 1, 2, 2).repeat(2, axis=2).repeat(2, axis=3)  # (12, 1, 4, 4)
        for train in (jax_impl.manual.train, jax_impl.autodiff.train, jax_impl.manual.train_compiled):
            run = train(conv_spec, conv_params, images, y, lr=0.5, batches=batches)
            assert run.losses[-1] < run.losses[0], run.losses
        print("conv trained", run.losses[0], run.losses[-1])

        try:  # the Flax template, where flax and optax are installed
            from jax_impl import flax_module
        except ImportError:
            flax_module = None
        if flax_module is not None:
            for s, p, xs in ((spec, params, x), (conv_spec, conv_params, images)):
                run = flax_module.train(s, p, xs, y, lr=0.5, batches=batches)
                assert run.losses[-1] < run.losses[0], run.losses
                a = flax_module.build(s, run.params).predict(xs)
                assert a.shape == (12, 3) and bool(jnp.all((a > 0) & (a < 1)))
            print("flax trained", run.losses[0], run.losses[-1])
    """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "trained" in result.stdout and "conv trained" in result.stdout
    assert ("flax trained" in result.stdout) == (available("flax") and available("optax"))


@pytest.mark.gpu
@pytest.mark.skipif(jax.default_backend() != "gpu", reason="no GPU visible to JAX on this machine")
@pytest.mark.parametrize(
    "name",
    [
        "jax.manual",
        "jax.autodiff",
        "jax.scan",
        pytest.param(
            "jax.flax", marks=pytest.mark.skipif(not available("flax"), reason="flax is not installed")
        ),
    ],
)
@pytest.mark.parametrize("problem", ["mnist-784-30-10", "deep-relu-softmax", "relu-kink", "conv-lenet-1x8x8"])
def test_gpu_float64_conformance(name, problem):
    """The float64 matrix on the GPU with matmul precision 'highest' (environment.configure)."""
    results = conformance.check(conformance.load(name), CATALOGUE[problem], "float64")
    assert all(r.passed for r in results), [r.message for r in results if not r.passed]
