"""PyTorch-specific checks. The ports against the reference are in the conformance matrix
(conformance/suite); here: manual vs autograd deltas directly (dense and conv), the max-pool tie
rule, dtype/device following, no global state changed, the copy test, and CUDA when there is one."""

from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import conformance  # noqa: E402
from conformance import CATALOGUE  # noqa: E402
from conformance.tolerances import tolerance  # noqa: E402
from tests.helpers.copy import run_copied  # noqa: E402
from torch_impl import autograd, manual, module  # noqa: E402

# manual and autograd deltas: two float64 computations of the same δ, each within ~1e-15 of the
# reference (matrix); between themselves the same 1e-11 as against the reference.
DELTA_TOL = tolerance("deltas", "float64")


def tensors(problem, dtype=torch.float64, device="cpu"):
    conv = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(dtype=dtype, device=device)  # noqa: E731
    return [(conv(W), conv(b)) for W, b in problem.params], conv(problem.x), conv(problem.y)


@pytest.mark.parametrize(
    "name", ["relu-kink", "deep-relu-softmax", "square-4-4-4-4", "sigmoid-sigmoid-cross_entropy"]
)
def test_manual_and_autograd_deltas_agree(name):
    p = CATALOGUE[name]
    params, x, y = tensors(p)
    d_manual = manual.backprop(p.spec, params, x, y).deltas
    d_auto = autograd.backprop(p.spec, params, x, y).deltas
    for l, (a, b) in enumerate(zip(d_manual, d_auto), start=1):
        rel = float(torch.linalg.norm(a - b) / max(float(torch.linalg.norm(a)), 1e-300))
        assert rel <= DELTA_TOL, f"torch manual vs autograd: delta[layer {l}] rel {rel:.1e} [{name}]"


def block(channels, kernel, stride=1, padding=0, pool=None, pool_size=2):
    return SimpleNamespace(
        channels=channels, kernel=kernel, stride=stride, padding=padding, pool=pool, pool_size=pool_size
    )


# name -> (input_shape, conv blocks, sizes, activation, output, loss, λ): duck-typed conv specs.
# Padding and stride in both blocks; "stride-floor" drops the last input row (⌊(9 − 2)/2⌋ + 1 = 4).
CONV_SPECS = {
    "max-pad": ((1, 8, 8), (block(4, 3, 1, 1, "max"),), (64, 10), "relu", "softmax", "log_likelihood", 0.0),
    "stride-floor": (
        (2, 9, 9),
        (block(3, 2, 2, 0), block(2, 3, 1, 1, "avg")),
        (8, 4),
        "tanh",
        "identity",
        "quadratic",
        0.1,
    ),
    "two-pools": (
        (2, 9, 9),
        (block(3, 2, 1, 0, "max"), block(4, 3, 1, 1, "avg")),
        (16, 6, 3),
        "sigmoid",
        "sigmoid",
        "cross_entropy",
        0.05,
    ),
}


def conv_problem(name, dtype=torch.float64, m=5):
    input_shape, blocks, sizes, activation, output, loss, lam = CONV_SPECS[name]
    spec = SimpleNamespace(
        sizes=sizes,
        activation=activation,
        output=output,
        loss=loss,
        weight_decay=lam,
        input_shape=input_shape,
        conv=blocks,
    )
    g = torch.Generator().manual_seed(0)
    shapes = [
        (b.channels, c_in, b.kernel, b.kernel)
        for b, c_in in zip(blocks, [input_shape[0]] + [b.channels for b in blocks])
    ]
    shapes += [(n_out, n_in) for n_in, n_out in zip(sizes, sizes[1:])]
    params = [
        (torch.randn(s, generator=g, dtype=dtype) / 2, torch.randn(s[0], generator=g, dtype=dtype) / 10)
        for s in shapes
    ]
    x = torch.rand(m, *input_shape, generator=g, dtype=dtype)
    y = torch.nn.functional.one_hot(torch.arange(m) % sizes[-1], sizes[-1]).to(dtype)
    return spec, params, x, y


def rel(a, b):
    return float(torch.linalg.norm(a - b) / max(float(torch.linalg.norm(b)), 1e-300))


@pytest.mark.parametrize("name", CONV_SPECS)
def test_conv_manual_autograd_and_module_agree(name):
    """z, a, δ (4-D in the conv layers), ∂K, ∂b, ∂W and C: the unfold/fold backward against torch's
    own conv2d/pooling backward, within the same DELTA_TOL as the dense deltas."""
    spec, params, x, y = conv_problem(name)
    got, want = manual.backprop(spec, params, x, y), autograd.backprop(spec, params, x, y)
    pairs = [
        (f"{q}[{l}]", a, b)
        for q in ("zs", "activations", "deltas")
        for l, (a, b) in enumerate(zip(getattr(got, q), getattr(want, q)))
    ]
    for who, grads in (("manual", got.grads), ("module", module.gradients(spec, params, x, y).grads)):
        pairs += [
            (f"{who} grads[{l}]", a, b)
            for l, (g, w) in enumerate(zip(grads, want.grads))
            for a, b in zip(g, w)
        ]
    for what, a, b in pairs:
        assert a.shape == b.shape and rel(a, b) <= DELTA_TOL, f"{what}: rel {rel(a, b):.1e} [{name}]"
    assert got.deltas[0].dim() == 4 and abs(got.loss - want.loss) <= DELTA_TOL * abs(want.loss)


def test_max_pool_ties_route_to_the_first_maximum():
    """x = 1 everywhere, a 1×1 kernel of 1: every 2×2 window of a^1 is a four-way tie. The contract
    (and torch) send each window's δ to its FIRST element in row-major order. Closed form: a^2 =
    1+2+3+4 = 10, δ^2 = a^2 − y = 10, δ^2 W^2 = (10, 20, 30, 40) lands on the top-left corners."""
    spec = SimpleNamespace(
        sizes=(4, 1),
        activation="identity",
        output="identity",
        loss="quadratic",
        weight_decay=0.0,
        input_shape=(1, 4, 4),
        conv=(block(1, 1, pool="max"),),
    )
    one = torch.ones(1, dtype=torch.float64)
    params = [(one.reshape(1, 1, 1, 1), 0 * one), (torch.tensor([[1.0, 2.0, 3.0, 4.0]]).double(), 0 * one)]
    expected = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
    expected[0, 0, ::2, ::2] = torch.tensor([[10.0, 20.0], [30.0, 40.0]])
    for impl in (manual, autograd):
        x, y = torch.ones(1, 1, 4, 4, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)
        delta = impl.backprop(spec, params, x, y).deltas[0]
        assert torch.equal(delta, expected), (impl.__name__, delta)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("fn", [manual.backprop, autograd.backprop, module.gradients])
@pytest.mark.parametrize("problem", ["nielsen-2-3-1", "max-pad"])
def test_dtype_follows_input_and_global_default_untouched(fn, dtype, problem):
    before = torch.get_default_dtype(), torch.backends.cuda.matmul.allow_tf32
    if problem in CONV_SPECS:
        g = fn(*conv_problem(problem, dtype))
    else:
        p = CATALOGUE[problem]
        g = fn(p.spec, *tensors(p, dtype))
    assert all(t.dtype == dtype for pair in g.grads for t in pair)
    assert (torch.get_default_dtype(), torch.backends.cuda.matmul.allow_tf32) == before


def test_module_is_an_nn_module_built_from_torch_layers():
    p = CATALOGUE["deep-relu-softmax"]
    net = module.build(p.spec, tensors(p)[0])
    assert isinstance(net, torch.nn.Module)
    assert [tuple(m.weight.shape) for m in net.weighted()] == [W.shape for W, _ in p.params]
    spec, params, _, _ = conv_problem("two-pools")
    kinds = [type(layer).__name__ for layer in module.build(spec, params).net]
    assert kinds[:7] == ["Conv2d", "Sigmoid", "MaxPool2d", "Conv2d", "Sigmoid", "AvgPool2d", "Flatten"]


@pytest.mark.slow
def test_copy_torch_impl_alone_trains(tmp_path):
    """torch_impl/ copied into an empty directory imports and trains an MLP and a conv net with only torch."""
    result = run_copied(
        "torch_impl",
        """
        import torch, torch_impl
        from types import SimpleNamespace
        spec = SimpleNamespace(sizes=(4, 5, 3), activation="relu", output="softmax",
                               loss="log_likelihood", weight_decay=0.01)
        g = torch.Generator().manual_seed(0)
        params = [(torch.randn(5, 4, generator=g, dtype=torch.float64), torch.zeros(5, dtype=torch.float64)),
                  (torch.randn(3, 5, generator=g, dtype=torch.float64), torch.zeros(3, dtype=torch.float64))]
        x = torch.randn(12, 4, generator=g, dtype=torch.float64)
        y = torch.nn.functional.one_hot(torch.arange(12) % 3, 3).to(torch.float64)
        batches = [torch.arange(k, k + 4) for k in (0, 4, 8)] * 5
        block = SimpleNamespace(channels=2, kernel=3, stride=1, padding=1, pool="max", pool_size=2)
        conv = SimpleNamespace(sizes=(8, 3), activation="relu", output="softmax", loss="log_likelihood",
                               weight_decay=0.01, input_shape=(1, 4, 4), conv=(block,))
        conv_params = [(torch.randn(2, 1, 3, 3, generator=g).double(), torch.zeros(2).double()),
                       (torch.randn(3, 8, generator=g).double(), torch.zeros(3).double())]
        images = torch.randn(12, 1, 4, 4, generator=g).double()
        for impl in (torch_impl.manual, torch_impl.autograd, torch_impl.module):
            for s, p, inputs in ((spec, params, x), (conv, conv_params, images)):
                run = impl.train(s, p, inputs, y, lr=0.5, batches=batches)
                assert run.losses[-1] < run.losses[0], (impl.__name__, run.losses)
        print("trained", run.losses[0], run.losses[-1])
    """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "trained" in result.stdout


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
@pytest.mark.parametrize("name", ["torch.manual", "torch.autograd", "torch.module"])
@pytest.mark.parametrize("problem", ["mnist-784-30-10", "deep-relu-softmax", "relu-kink"])
def test_cuda_float64_conformance(name, problem):
    """The float64 matrix on CUDA with TF32 off (conformance.runtime.environment.configure)."""
    impl = conformance.load(name, device="cuda")
    results = conformance.check(impl, CATALOGUE[problem], "float64")
    assert all(r.passed for r in results), [r.message for r in results if not r.passed]
