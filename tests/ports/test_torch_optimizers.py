"""The optimizer extension of the single-process PyTorch ports (torch.manual, torch.autograd,
torch.module) against reference.train: trajectories and state on catalogue optimizer problems, what
each port declines, bad optimizer and schedule input, and plain SGD left as it was."""

from types import SimpleNamespace

import numpy as np
import pytest

import reference
from conformance import Optimizer
from conformance.problems import optimizer_problems

torch = pytest.importorskip("torch")
from torch_impl import autograd, manual, module  # noqa: E402  (after the importorskip)

PORTS = {"torch.manual": manual, "torch.autograd": autograd, "torch.module": module}
PROBLEMS = {p.name: p for p in optimizer_problems()}
# what torch.optim cannot express (torch_impl/module.py's docstring): velocity momentum, ε inside √,
# clip_grad_norm_'s fixed 1e-6
MODULE_DECLINES = {
    "opt-momentum-velocity-lr-drop",
    "opt-nesterov-velocity-lr-drop-kink",
    "opt-rmsprop-eps-in-sqrt-small-grads",
    "opt-rmsprop-momentum-velocity-lr-drop",
    "opt-adagrad-eps-in-sqrt-initial-accumulator",
    "opt-momentum-clip-norm",
    "opt-conv-adam-clip-norm",
    "opt-rnn-adagrad-clip-value",  # ε inside Adagrad's root
}
# a schedule, every transform, ε̂, λ with λ_d, both clippings (one with λ in the cost), Adagrad's s₀
FLOAT64 = [
    "opt-nesterov-buffer-lr-drop",
    "opt-rmsprop-momentum-buffer-lr-drop",
    "opt-adam-eps-hat-small-grads",
    "opt-adamw-decay-kink",
    "opt-adagrad-small-grads",
    "opt-adam-clip-norm-eps",
    "opt-sgd-clip-value-even",
    "opt-momentum-velocity-lr-drop",  # the hand-written ports only: torch.module declines these two
    "opt-adagrad-eps-in-sqrt-initial-accumulator",
]


def tensors(params):
    return [(torch.from_numpy(W.copy()), torch.from_numpy(b.copy())) for W, b in params]


def run(port, problem, **changes):
    args = dict(lr=list(problem.lr) if isinstance(problem.lr, tuple) else problem.lr)
    args |= dict(batches=[torch.from_numpy(i) for i in problem.batches], optimizer=problem.optimizer)
    args |= changes
    x, y = torch.from_numpy(problem.x.copy()), torch.from_numpy(problem.y.copy())
    return PORTS[port].train(problem.spec, tensors(problem.params), x, y, **args)


def relative(got, want):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-300)


@pytest.mark.parametrize("port", PORTS)
@pytest.mark.parametrize(
    "name, dtype", [(name, np.float64) for name in FLOAT64] + [("opt-adam-decay", np.float32)]
)
def test_trajectory_and_state_match_the_reference(port, name, dtype):
    problem = PROBLEMS[name].as_dtype(dtype)
    if port == "torch.module" and name in MODULE_DECLINES:
        pytest.skip("torch.optim cannot express it (test_supports_optimizer)")
    wide = [(W.astype(np.float64), b.astype(np.float64)) for W, b in problem.params]
    lr = list(problem.lr) if isinstance(problem.lr, tuple) else problem.lr
    want = reference.train(
        problem.spec,
        wide,
        problem.x.astype(np.float64),
        problem.y.astype(np.float64),
        lr=lr,
        batches=problem.batches,
        optimizer=problem.optimizer,
    )
    before = tensors(problem.params)
    got = run(port, problem)
    tol = 1e-10 if dtype == np.float64 else 1e-3
    assert all(abs(g - w) <= tol * abs(w) for g, w in zip(got.losses, want.losses, strict=True))
    for pair, wanted in zip(got.params, want.params, strict=True):
        assert all(t.dtype == torch.from_numpy(problem.x).dtype for t in pair)
        assert max(relative(t.numpy(), w) for t, w in zip(pair, wanted)) <= tol
    assert got.state is not None and got.state.keys() == want.state.keys()
    assert got.state["t"] == want.state["t"] == len(problem.batches)
    for key in want.state.keys() - {"t"}:
        for pair, wanted in zip(got.state[key], want.state[key], strict=True):
            assert max(relative(t.numpy(), w) for t, w in zip(pair, wanted)) <= tol, key
    assert all(torch.equal(a, b) for pa, pb in zip(before, tensors(problem.params)) for a, b in zip(pa, pb))


def test_supports_optimizer():
    """The hand-written ports implement every rule; torch.module declines exactly what torch.optim
    cannot express, and nothing that is not a valid optimizer is supported."""
    for name, problem in PROBLEMS.items():
        assert manual.supports_optimizer(problem.optimizer) and autograd.supports_optimizer(problem.optimizer)
        assert module.supports_optimizer(problem.optimizer) == (name not in MODULE_DECLINES), name
    assert module.supports_optimizer(Optimizer("adam", eps_hat=True))  # a per-step ε (module docstring)
    assert module.supports_optimizer(Optimizer("rmsprop", momentum_form="velocity"))  # μ = 0: no momentum
    assert module.supports_optimizer(Optimizer("adam", clip_norm=1.0, clip_eps=1e-6))
    for port in PORTS.values():
        assert not port.supports_optimizer(SimpleNamespace(name="adamax"))
        assert not port.supports_optimizer(SimpleNamespace(name="adam", beta1=1.0))


def test_module_train_refuses_what_it_declines():
    problem = PROBLEMS["opt-momentum-velocity-lr-drop"]
    with pytest.raises(ValueError, match=r"^optimizer\.momentum_form: 'velocity' is not expressible"):
        run("torch.module", problem)


def bad(**hyper):
    return SimpleNamespace(name=hyper.pop("name", "adam"), **hyper)  # past conformance.Optimizer's checks


BAD = {
    "unknown-name": dict(optimizer=bad(name="adamax")),
    "beta1-one": dict(optimizer=bad(beta1=1.0)),
    "eps-zero": dict(optimizer=bad(eps=0.0)),
    "clip-norm-negative": dict(optimizer=bad(clip_norm=-1.0)),
    "schedule-too-short": dict(lr=[0.01] * 5),
    "schedule-zero": dict(lr=[0.01] * 31 + [0.0]),
}


@pytest.mark.parametrize("port", PORTS)
@pytest.mark.parametrize("case", BAD)
def test_bad_optimizer_input_raises_the_references_error(port, case):
    problem = PROBLEMS["opt-adam-decay"]  # 32 steps
    changes = dict(optimizer=Optimizer("adam"), lr=0.01) | BAD[case]
    with pytest.raises((TypeError, ValueError)) as want:
        reference.train(
            problem.spec, problem.params, problem.x, problem.y, batches=problem.batches, **changes
        )
    with pytest.raises(want.type) as got:
        run(port, problem, **changes)
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("port", PORTS)
def test_sgd_at_a_constant_rate_is_plain_sgd_bit_for_bit(port):
    """optimizer=None keeps the plain path (no state); Optimizer("sgd") computes θ + (−ηg), which is
    θ − ηg exactly, so both trajectories are identical."""
    problem = PROBLEMS["opt-adam-decay"]
    plain = run(port, problem, lr=0.1, optimizer=None)
    sgd = run(port, problem, lr=0.1, optimizer=Optimizer("sgd"))
    assert plain.state is None and sgd.state == {"t": len(problem.batches)}
    assert plain.losses == sgd.losses
    assert all(torch.equal(a, b) for pa, pb in zip(plain.params, sgd.params) for a, b in zip(pa, pb))
