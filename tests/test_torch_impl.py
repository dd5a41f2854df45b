"""PyTorch-specific checks. The ports against the reference are in the conformance matrix
(conformance/suite); here: manual vs autograd deltas directly, dtype/device following, no global
state changed, the copy test, and CUDA when there is one."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import conformance  # noqa: E402
from conformance import CATALOGUE  # noqa: E402
from tests.helpers_copy import run_copied  # noqa: E402
from torch_impl import autograd, manual, module  # noqa: E402

# manual and autograd deltas: two float64 computations of the same δ, each within ~1e-15 of the
# reference (matrix); between themselves the same 1e-11 as against the reference.
DELTA_TOL = 1e-11


def tensors(problem, dtype=torch.float64, device="cpu"):
    conv = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(dtype=dtype, device=device)  # noqa: E731
    return [(conv(W), conv(b)) for W, b in problem.params], conv(problem.x), conv(problem.y)


@pytest.mark.parametrize("name", ["relu-kink", "deep-relu-softmax", "square-4-4-4-4",
                                  "sigmoid-sigmoid-cross_entropy"])
def test_manual_and_autograd_deltas_agree(name):
    p = CATALOGUE[name]
    params, x, y = tensors(p)
    d_manual = manual.backprop(p.spec, params, x, y).deltas
    d_auto = autograd.backprop(p.spec, params, x, y).deltas
    for l, (a, b) in enumerate(zip(d_manual, d_auto), start=1):
        rel = float(torch.linalg.norm(a - b) / max(float(torch.linalg.norm(a)), 1e-300))
        assert rel <= DELTA_TOL, f"torch manual vs autograd: delta[layer {l}] rel {rel:.1e} [{name}]"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("fn", [manual.backprop, autograd.backprop, module.gradients])
def test_dtype_follows_input_and_global_default_untouched(fn, dtype):
    before = torch.get_default_dtype(), torch.backends.cuda.matmul.allow_tf32
    p = CATALOGUE["nielsen-2-3-1"]
    g = fn(p.spec, *tensors(p, dtype))
    assert all(t.dtype == dtype for pair in g.grads for t in pair)
    assert (torch.get_default_dtype(), torch.backends.cuda.matmul.allow_tf32) == before


def test_module_is_an_nn_module_built_from_linear_layers():
    p = CATALOGUE["deep-relu-softmax"]
    net = module.build(p.spec, tensors(p)[0])
    assert isinstance(net, torch.nn.Module)
    assert [tuple(m.weight.shape) for m in net.linears()] == [W.shape for W, _ in p.params]


def test_copy_torch_impl_alone_trains(tmp_path):
    """torch_impl/ copied into an empty directory imports and trains with only torch."""
    result = run_copied("torch_impl", """
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
        for impl in (torch_impl.manual, torch_impl.autograd, torch_impl.module):
            run = impl.train(spec, params, x, y, lr=0.5, batches=batches)
            assert run.losses[-1] < run.losses[0], (impl.__name__, run.losses)
        print("trained", run.losses[0], run.losses[-1])
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "trained" in result.stdout


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
@pytest.mark.parametrize("name", ["torch.manual", "torch.autograd", "torch.module"])
@pytest.mark.parametrize("problem", ["mnist-784-30-10", "deep-relu-softmax", "relu-kink"])
def test_cuda_float64_conformance(name, problem):
    """The float64 matrix on CUDA with TF32 off (conformance.environment.configure)."""
    impl = conformance.load(name, device="cuda")
    results = conformance.check(impl, CATALOGUE[problem], "float64")
    assert all(r.passed for r in results), [r.message for r in results if not r.passed]
