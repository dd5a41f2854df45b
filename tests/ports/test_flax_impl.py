"""The Flax NNX + Optax template (jax_impl/flax_module.py). Its numbers against the reference are
in the conformance matrix (jax.flax); here: kernels are the contract's W and K rearranged, parameter
dtypes follow the input, only kernels are decayed, jax.flax is a skip (never an import crash) without
flax, and the copy test."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
pytest.importorskip("flax")
pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402
from flax import nnx  # noqa: E402

import conformance  # noqa: E402
from conformance import CATALOGUE  # noqa: E402
from jax_impl import flax_module  # noqa: E402
from jax_impl.validation import check_inputs  # noqa: E402
from tests.helpers.copy import run_copied  # noqa: E402


def arrays(problem):
    return (
        [(jnp.asarray(W), jnp.asarray(b)) for W, b in problem.params],
        jnp.asarray(problem.x),
        jnp.asarray(problem.y),
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["deep-relu-softmax", "conv-lenet-1x8x8"])
def test_parameters_follow_the_input_dtype_and_kernels_are_converted(name, dtype):
    """Both dtypes under x64, as the harness runs float64: Flax's Params are float32 unless
    param_dtype says otherwise, so the model must be created in the input's dtype (not only loaded).
    Kernels hold the contract's weights rearranged: dense W.T (in, out); conv K as (k, k, in, out)."""
    p = CATALOGUE[name].as_dtype(dtype)
    with jax.enable_x64(True):
        params, x, y = arrays(p)
        blocks = check_inputs(p.spec, params, x, y)
        fresh = flax_module.Network(
            p.spec.sizes,
            p.spec.activation,
            p.spec.output,
            dtype=dtype,
            rngs=nnx.Rngs(0),
            input_shape=p.spec.input_shape,
            blocks=blocks,
        )
        assert {v.dtype for v in jax.tree.leaves(nnx.state(fresh, nnx.Param))} == {np.dtype(dtype)}
        model = flax_module.build(p.spec, params, blocks)
        layers = [*model.convs, *model.linears]
        assert len(layers) == len(p.params)
        for layer, (W, b) in zip(layers, p.params):
            want = W.transpose(2, 3, 1, 0) if W.ndim == 4 else W.T
            np.testing.assert_array_equal(np.asarray(layer.kernel[...]), want)  # exact copy, no cast
            np.testing.assert_array_equal(np.asarray(layer.bias[...]), b)
            assert layer.kernel[...].dtype == layer.bias[...].dtype == dtype
        assert nnx.eval_shape(lambda m: m(x), model).dtype == dtype  # traced, not run: no compile
        for (W, b), (W0, b0) in zip(model.params(), p.params):  # read back: unchanged
            np.testing.assert_array_equal(np.asarray(W), W0)
            np.testing.assert_array_equal(np.asarray(b), b0)
        g = flax_module.gradients(p.spec, params, x, y)
        run = flax_module.train(p.spec, params, x, y, lr=p.lr, batches=[jnp.asarray(i) for i in p.batches])
    assert all(t.dtype == dtype for pair in g.grads + run.params for t in pair)


def test_only_kernels_are_decayed():
    p = CATALOGUE["conv-two-blocks-pad"].as_dtype(np.float32)
    params, x, y = arrays(p)
    model = flax_module.build(p.spec, params, check_inputs(p.spec, params, x, y))
    mask = flax_module.decay_kernels(nnx.as_pure(nnx.state(model, nnx.Param)))
    assert [
        (kind, l, bool(m["kernel"]), bool(m["bias"]))
        for kind in ("convs", "linears")
        for l, m in mask[kind].items()
    ] == [("convs", 0, True, False), ("convs", 1, True, False), ("linears", 0, True, False)]


def test_without_flax_jax_flax_is_unavailable_not_a_crash(monkeypatch, tmp_path):
    """The registry reports it (a skip in the suite, one line in the CLI); jax_impl still imports."""
    from conformance.targets import registry

    monkeypatch.setattr(registry, "available", lambda module: module not in ("flax", "optax"))
    with pytest.raises(
        conformance.Unavailable,
        match=r"^jax\.flax: flax, optax are not installed "
        r"\(pip install 'backprop-conformance\[flax\]'\)",
    ):
        registry.load("jax.flax")
    assert "jax.flax" not in registry.available_names() and "jax.manual" in registry.available_names()
    result = run_copied(
        "jax_impl",
        """
        class _NoFlax(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split('.')[0] in ('flax', 'optax'):
                    raise ImportError(f'No module named {name!r}')
        sys.meta_path.insert(0, _NoFlax())
        import jax_impl
        assert jax_impl.manual and jax_impl.autodiff
        try:
            import jax_impl.flax_module
        except ImportError as exc:
            print("refused:", exc)
    """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(("refused: No module named 'flax'", "refused: No module named 'optax'"))
