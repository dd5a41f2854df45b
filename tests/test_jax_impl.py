"""JAX-specific checks. The ports against the reference are in the conformance matrix; here:
manual vs autodiff deltas, scan vs step-by-step training, no x64 leak, the copy test, GPU."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

import conformance  # noqa: E402
from conformance import CATALOGUE  # noqa: E402
from conformance.environment import available  # noqa: E402
from jax_impl import autodiff, manual  # noqa: E402
from tests.helpers_copy import run_copied  # noqa: E402

# Between two float64 computations of the same quantity, each ~1e-15 from the reference: the
# matrix's single-pass 1e-11 and trajectory 1e-10 apply unchanged.
DELTA_TOL, TRAJECTORY_TOL = 1e-11, 1e-10


def arrays(problem):
    return ([(jnp.asarray(W), jnp.asarray(b)) for W, b in problem.params], jnp.asarray(problem.x),
            jnp.asarray(problem.y))


def rel(a, b):
    return float(jnp.linalg.norm(a - b) / max(float(jnp.linalg.norm(b)), 1e-300))


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
        run = manual.train_compiled(p32.spec, *arrays(p32), lr=0.1,
                                    batches=[jnp.asarray(i) for i in p32.batches])
    assert all(t.dtype == jnp.float32 for pair in g.grads for t in pair)
    assert all(t.dtype == jnp.float32 for pair in run.params for t in pair)


def test_copy_jax_impl_alone_trains(tmp_path):
    result = run_copied("jax_impl", """
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
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "trained" in result.stdout


@pytest.mark.gpu
@pytest.mark.skipif(jax.default_backend() != "gpu", reason="no GPU visible to JAX on this machine")
@pytest.mark.parametrize("name", ["jax.manual", "jax.autodiff", "jax.scan", pytest.param(
    "jax.flax", marks=pytest.mark.skipif(not available("flax"), reason="flax is not installed"))])
@pytest.mark.parametrize("problem", ["mnist-784-30-10", "deep-relu-softmax", "relu-kink"])
def test_gpu_float64_conformance(name, problem):
    """The float64 matrix on the GPU with matmul precision 'highest' (environment.configure)."""
    results = conformance.check(conformance.load(name), CATALOGUE[problem], "float64")
    assert all(r.passed for r in results), [r.message for r in results if not r.passed]
