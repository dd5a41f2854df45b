"""The recurrent (BPTT) extension of the single-process PyTorch ports against the NumPy reference:
torch.manual (BPTT by hand, torch_impl/recurrent.py), torch.autograd (the forward over time,
autograd through it) and torch.module (nn.RNN + nn.Linear, torch.optim). Gradients and the
per-step zs/activations/deltas for both output modes, tanh/relu/sigmoid, stacked layers, λ > 0,
T = 1, T = 32 and one sequence; SGD and Adam training; nn.RNN's two biases; bad input."""

from types import SimpleNamespace

import numpy as np
import pytest

import reference

torch = pytest.importorskip("torch")
from torch_impl import autograd, manual, module  # noqa: E402  (after the importorskip)

PORTS = {"torch.manual": manual, "torch.autograd": autograd, "torch.module": module}

# name -> (sizes, activation, output, loss, λ, T, outputs, m)
CASES = {
    "tanh-all": ((3, 5, 2), "tanh", "identity", "quadratic", 0.0, 4, "all", 3),
    "tanh-last-softmax-decay": ((3, 5, 4), "tanh", "softmax", "log_likelihood", 0.1, 6, "last", 4),
    "relu-all-stacked-equal": ((3, 6, 6, 2), "relu", "sigmoid", "cross_entropy", 0.05, 5, "all", 3),
    "relu-last-stacked-unequal": ((4, 6, 3, 3), "relu", "softmax", "log_likelihood", 0.0, 5, "last", 3),
    "sigmoid-all-decay": ((3, 4, 2), "sigmoid", "sigmoid", "cross_entropy", 0.1, 3, "all", 2),
    "sigmoid-last": ((3, 4, 2), "sigmoid", "identity", "quadratic", 0.0, 4, "last", 3),
    "t1-last-decay": ((3, 5, 2), "tanh", "identity", "quadratic", 0.1, 1, "last", 3),
    "t1-all": ((3, 5, 3), "relu", "softmax", "log_likelihood", 0.0, 1, "all", 3),
    "t32-all-stacked": ((2, 4, 4, 2), "tanh", "identity", "quadratic", 0.01, 32, "all", 2),
    "batch1-all": ((3, 5, 3), "relu", "softmax", "log_likelihood", 0.0, 7, "all", 1),
}
NO_RNN_CELL = ("sigmoid", "identity")  # nn.RNN's nonlinearity is tanh or relu: torch.module declines

# float64: every port sums the same products in another order, so it agrees with the reference to
# a few ε64 ≈ 2.2e-16 per rounding, grown by the T ≤ 32 steps of the recurrence; 1e-12 has a wide margin.
TOL64 = 1e-12
# float32 (the reference in float64 on the same float32-rounded inputs): each δ^l_t is a product of
# length n ≤ 6 and a ⊙ g', about (n + 2) ε32 of new rounding per step, carried through up to T = 32
# steps by U (‖U‖ ≈ 1 with the scaled init), then summed over m·T ≤ 64 rows for ∂W, ∂U, ∂b:
# ε32 · (T (n + 2) + m T) = 1.19e-7 · (32 · 8 + 64) ≈ 3.8e-5, so 1e-4 (measured worst: ~1e-6).
TOL32 = 1e-4


def spec_of(case):
    sizes, activation, output, loss, lam, T, outputs, _ = CASES[case]
    return SimpleNamespace(
        sizes=sizes,
        activation=activation,
        output=output,
        loss=loss,
        weight_decay=lam,
        recurrent=SimpleNamespace(steps=T, outputs=outputs),
    )


def problem(case, seed=0):
    """(spec, params, x, y) in float64 NumPy: the reference's recurrent init and random sequences."""
    spec, (sizes, *_, T, outputs, m) = spec_of(case), CASES[case]
    params = reference.init_params(sizes, seed, recurrent=True)
    rng = np.random.default_rng(seed + 1)
    x = rng.normal(size=(m, T, sizes[0]))
    shape = (m, T, sizes[-1]) if outputs == "all" else (m, sizes[-1])
    if spec.loss == "log_likelihood":
        y = np.eye(sizes[-1])[rng.integers(sizes[-1], size=shape[:-1])]
    else:
        y = rng.uniform(size=shape)
    return spec, params, x, y


def as_torch(params, x, y, dtype):
    t = lambda a: torch.from_numpy(np.array(a)).to(dtype)  # noqa: E731
    return [tuple(t(w) for w in layer) for layer in params], t(x), t(y)


def widened(params, x, y, dtype):
    """The inputs rounded to ``dtype`` and back to float64: what the reference must see to be the
    exact answer for a port computing on the rounded inputs."""
    r = lambda a: np.asarray(a, dtype).astype(np.float64)  # noqa: E731
    return [tuple(r(w) for w in layer) for layer in params], r(x), r(y)


def rel(got, want):
    got = got.detach().cpu().double().numpy() if isinstance(got, torch.Tensor) else np.asarray(got)
    return float(np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-300))


def compare(result, want, dtype, tol):
    """Every quantity the port returns against the reference: the worst relative error per name."""
    errors = {"loss": abs(result.loss - want.loss) / abs(want.loss)}
    assert len(result.grads) == len(want.grads)
    for l, (layer, wanted) in enumerate(zip(result.grads, want.grads, strict=True)):
        assert len(layer) == len(wanted), f"grads[{l}]: {len(layer)} arrays, want {len(wanted)}"
        for name, g, w in zip("WUb" if len(wanted) == 3 else "Wb", layer, wanted, strict=True):
            assert g.dtype == dtype and tuple(g.shape) == w.shape, (l, name, g.dtype, g.shape)
            errors[f"d{name}[{l}]"] = rel(g, w)
    for field in ("zs", "activations", "deltas"):
        got = getattr(result, field)
        if got is None:  # torch.module exposes no internals, as for dense specs
            continue
        for l, (g, w) in enumerate(zip(got, getattr(want, field), strict=True)):
            assert g.dtype == dtype and tuple(g.shape) == w.shape, (field, l, g.shape, w.shape)
            errors[f"{field}[{l}]"] = rel(g, w)
    bad = {k: v for k, v in errors.items() if not v <= tol}
    assert not bad, f"relative errors above {tol:g}: {bad}"
    return errors


def supported(port, case):
    return not (port == "torch.module" and CASES[case][1] in NO_RNN_CELL)


@pytest.mark.parametrize("port", PORTS)
@pytest.mark.parametrize("case", CASES)
def test_gradients_match_the_reference_float64(port, case):
    if not supported(port, case):
        pytest.skip("nn.RNN has no sigmoid or identity cell (test_module_declines_what_nn_rnn_lacks)")
    spec, params, x, y = problem(case)
    want = reference.backprop(spec, params, x, y)
    fn = module.gradients if port == "torch.module" else PORTS[port].backprop
    result = fn(spec, *as_torch(params, x, y, torch.float64))
    compare(result, want, torch.float64, TOL64)
    if port != "torch.module":  # the contract's shapes: (m, T, n_l) hidden; the output per mode
        _, _, _, _, _, T, outputs, m = CASES[case]
        assert [tuple(d.shape) for d in result.deltas[:-1]] == [(m, T, n) for n in spec.sizes[1:-1]]
        out = (m, T, spec.sizes[-1]) if outputs == "all" else (m, spec.sizes[-1])
        assert tuple(result.deltas[-1].shape) == tuple(result.zs[-1].shape) == out


@pytest.mark.parametrize("port", PORTS)
@pytest.mark.parametrize("case", ["tanh-last-softmax-decay", "relu-all-stacked-equal", "t32-all-stacked"])
def test_gradients_match_the_reference_float32(port, case):
    spec, params, x, y = problem(case)
    want = reference.backprop(spec, *widened(params, x, y, np.float32))
    fn = module.gradients if port == "torch.module" else PORTS[port].backprop
    compare(fn(spec, *as_torch(params, x, y, torch.float32)), want, torch.float32, TOL32)


def test_manual_is_backprop_through_time_by_hand():
    """manual under no_grad builds no graph; its δ equals autograd's m ∂C/∂z^l_t (two float64
    computations of the same numbers, both within TOL64 of the reference above)."""
    spec, params, x, y = problem("t32-all-stacked")
    got = manual.backprop(spec, *as_torch(params, x, y, torch.float64))
    assert all(not t.requires_grad for layer in got.grads for t in layer)
    want = autograd.backprop(spec, *as_torch(params, x, y, torch.float64))
    for a, b in zip(got.deltas, want.deltas, strict=True):
        assert rel(a, b.numpy()) <= TOL64


ADAM = SimpleNamespace(name="adam", beta1=0.9, beta2=0.999, eps=1e-8)
TRAINING = {  # name -> (case, optimizer, lr)
    "sgd-last-decay": ("tanh-last-softmax-decay", None, 0.5),
    "sgd-all-stacked": ("relu-all-stacked-equal", None, 0.5),
    "adam-last-stacked": ("relu-last-stacked-unequal", ADAM, 0.02),
    "adam-all-decay": ("tanh-all", ADAM, 0.02),
    "sgd-sigmoid": ("sigmoid-all-decay", None, 0.5),
}


@pytest.mark.parametrize("port", PORTS)
@pytest.mark.parametrize("name", TRAINING)
def test_training_matches_reference_train(port, name):
    """Losses, trained (W, U, b) and Adam's state after 6 steps over the m sequences; torch.module's
    b is bias_ih + bias_hh (bias_hh frozen at zero) and must move exactly as the contract's one b."""
    case, optimizer, lr = TRAINING[name]
    if not supported(port, case):
        pytest.skip("nn.RNN has no sigmoid cell")
    spec, params, x, y = problem(case)
    if name == "adam-all-decay":
        spec.weight_decay = 0.05  # λ with Adam: torch.optim.Adam adds λW (and λU) to the gradient
    m = x.shape[0]
    batches = [np.arange(m), np.array([m - 1, 0]), np.array([1])] * 2
    args = dict(lr=lr, optimizer=optimizer) if optimizer else dict(lr=lr)
    want = reference.train(spec, params, x, y, batches=batches, **args)
    p, xt, yt = as_torch(params, x, y, torch.float64)
    got = PORTS[port].train(spec, p, xt, yt, batches=[torch.from_numpy(i) for i in batches], **args)
    assert max(abs(g - w) / abs(w) for g, w in zip(got.losses, want.losses, strict=True)) <= TOL64
    for layer, wanted in zip(got.params, want.params, strict=True):
        assert len(layer) == len(wanted) and max(rel(g, w) for g, w in zip(layer, wanted)) <= TOL64
    if optimizer is None:
        assert got.state is None
        return
    assert got.state["t"] == want.state["t"] == len(batches) and got.state.keys() == want.state.keys()
    for key in want.state.keys() - {"t"}:
        for layer, wanted in zip(got.state[key], want.state[key], strict=True):
            assert len(layer) == len(wanted) and max(rel(g, w) for g, w in zip(layer, wanted)) <= TOL64


def test_module_two_biases_are_one_b():
    """nn.RNN's b_ih + b_hh is the contract's b: b goes into bias_ih, bias_hh is frozen at zero and
    given to no optimizer, so one SGD step moves b by exactly η ∂C/∂b (two trainable biases would
    each move by it: 2η in all)."""
    spec, params, x, y = problem("relu-all-stacked-equal")
    p, xt, yt = as_torch(params, x, y, torch.float64)
    net = module.build_recurrent(spec, p)
    for _, _, b_ih, b_hh in net.recurrent():
        assert not b_hh.requires_grad and not bool(b_hh.any()) and b_ih.requires_grad
    lr, grads = 0.5, reference.backprop(spec, params, x, y).grads
    after = module.train(spec, p, xt, yt, lr=lr, batches=[torch.arange(x.shape[0])]).params
    for l in range(len(spec.sizes) - 2):
        expected = params[l][2] - lr * grads[l][2]
        assert rel(after[l][2], expected) <= TOL64, l
        assert rel(after[l][2], params[l][2] - 2 * lr * grads[l][2]) > 1e-3  # not the doubled step


def test_module_layers_are_nn_rnn():
    """Equal hidden sizes: one nn.RNN(num_layers=k); unequal: one nn.RNN per layer; an nn.Linear head."""
    for case, expected in (("relu-all-stacked-equal", [2]), ("relu-last-stacked-unequal", [1, 1])):
        spec, params, x, y = problem(case)
        net = module.build_recurrent(spec, as_torch(params, x, y, torch.float64)[0])
        assert all(isinstance(r, torch.nn.RNN) and r.batch_first for r in net.rnns)
        assert [r.num_layers for r in net.rnns] == expected
        assert all(r.nonlinearity == spec.activation for r in net.rnns)
        assert isinstance(net.head, torch.nn.Linear)
        assert [tuple(map(tuple, (t.shape for t in layer))) for layer in net.layers()] == [
            tuple(w.shape for w in layer) for layer in params
        ]


def test_module_declines_what_nn_rnn_lacks():
    spec, params, x, y = problem("sigmoid-all-decay")
    assert not module.supports(spec)
    args = as_torch(params, x, y, torch.float64)
    with pytest.raises(
        ValueError, match=r"^spec\.activation: 'sigmoid' is not expressible with torch\.nn\.RNN"
    ):
        module.gradients(spec, *args)
    with pytest.raises(ValueError, match=r"^spec\.activation: 'sigmoid'"):
        module.train(spec, *args, lr=0.1, batches=[torch.arange(2)])
    spec.activation = "identity"
    assert not module.supports(spec)
    spec.activation = "tanh"
    assert module.supports(spec)
    spec.recurrent = None  # dense specs: every activation, as before
    spec.activation = "sigmoid"
    assert module.supports(spec)
    assert manual.supports_recurrent is autograd.supports_recurrent is module.supports_recurrent is True


def _change(case, **changes):
    """A bad variant of a good recurrent problem: spec fields, recurrent fields, params, x or y."""

    def make():
        spec, params, x, y = problem(case)
        rec = dict(vars(spec.recurrent))
        for key in ("steps", "outputs"):
            if key in changes:
                rec[key] = changes[key]
        spec.recurrent = SimpleNamespace(**{k: v for k, v in rec.items() if v is not _DROP})
        for key in ("sizes", "conv", "input_shape"):
            if key in changes:
                setattr(spec, key, changes[key])
        if "params" in changes:
            params = changes["params"](params)
        x = changes.get("x", lambda a: a)(x)
        y = changes.get("y", lambda a: a)(y)
        return spec, params, x, y

    return make


_DROP = object()
BLOCK = SimpleNamespace(channels=1, kernel=1, stride=1, padding=0, pool=None, pool_size=1)
BAD = {  # name -> (problem maker, exception type, the message's start)
    "steps-zero": (_change("tanh-all", steps=0), ValueError, r"spec\.recurrent\.steps: "),
    "steps-float": (_change("tanh-all", steps=4.0), ValueError, r"spec\.recurrent\.steps: "),
    "steps-bool": (_change("tanh-all", steps=True), ValueError, r"spec\.recurrent\.steps: "),
    "steps-missing": (_change("tanh-all", steps=_DROP), TypeError, r"spec\.recurrent: missing attribute"),
    "outputs-unknown": (_change("tanh-all", outputs="first"), ValueError, r"spec\.recurrent\.outputs: "),
    "with-conv": (
        _change("tanh-all", conv=(BLOCK,), input_shape=(1, 1, 3)),
        ValueError,
        r"spec\.recurrent: a recurrent network has no conv blocks",
    ),
    "no-hidden-layer": (
        _change("tanh-all", sizes=(3, 2), params=lambda p: p[1:]),
        ValueError,
        r"spec\.recurrent: a recurrent network needs at least one hidden layer",
    ),
    "x-2d": (
        _change("tanh-all", x=lambda x: x[:, 0]),
        ValueError,
        r"x: expected shape \(m, T, n_0\) = \(3, 4, 3\)",
    ),
    "x-wrong-T": (_change("tanh-all", x=lambda x: x[:, :3]), ValueError, r"x: expected shape \(m, T, n_0\)"),
    "x-empty": (_change("tanh-all", x=lambda x: x[:0]), ValueError, r"x: empty batch"),
    "x-nan": (_change("tanh-all", x=lambda x: x * np.nan), ValueError, r"x: contains NaN"),
    "y-last-3d": (
        _change("t1-last-decay", y=lambda y: y[:, None]),
        ValueError,
        r"y: expected shape \(m, n_L\) = \(3, 2\) for outputs='last'",
    ),
    "y-all-2d": (
        _change("tanh-all", y=lambda y: y[:, 0]),
        ValueError,
        r"y: expected shape \(m, T, n_L\) = \(3, 4, 2\) for outputs='all'",
    ),
    "U-not-square": (
        _change("tanh-all", params=lambda p: [(p[0][0], p[0][1][:, :4], p[0][2]), p[1]]),
        ValueError,
        r"params\[0\]\.U \(layer 1\): expected shape \(5, 5\)",
    ),
    "pair-for-triple": (
        _change("tanh-all", params=lambda p: [(p[0][0], p[0][2]), p[1]]),
        TypeError,
        r"params\[0\]: expected a \(W, U, b\) triple for recurrent layer 1",
    ),
    "triple-for-pair": (
        _change("tanh-all", params=lambda p: [p[0], (p[1][0], p[1][0], p[1][1])]),
        TypeError,
        r"params\[1\]: expected a \(W, b\) pair for layer 2",
    ),
    "too-few-layers": (
        _change("relu-all-stacked-equal", params=lambda p: p[1:]),
        ValueError,
        r"params: expected a list of 3 layers",
    ),
    "U-float32": (
        _change("tanh-all", params=lambda p: [(p[0][0], p[0][1].astype(np.float32), p[0][2]), p[1]]),
        TypeError,
        r"params\[0\]\.U \(layer 1\): ",
    ),
}


def _to_torch(value):
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value))
    if isinstance(value, (list, tuple)):
        return type(value)(_to_torch(v) for v in value)
    return value


@pytest.mark.parametrize("case", BAD)
def test_bad_input_raises_the_references_error(case):
    """The reference and every port raise the same type, and the message starts as the contract
    says; the recurrent messages are the reference's word for word (dtype wording aside: a
    torch.Tensor, not an ndarray)."""
    make, kind, start = BAD[case]
    with pytest.raises(kind, match="^" + start) as want:
        reference.backprop(*make())
    spec, params, x, y = make()
    args = (spec, _to_torch(params), _to_torch(x), _to_torch(y))
    for name, port in PORTS.items():
        fn = module.gradients if name == "torch.module" else port.backprop
        with pytest.raises(kind, match="^" + start) as got:
            fn(*args)
        if case not in ("U-float32", "x-nan"):
            assert str(got.value) == str(want.value), name
        with pytest.raises(kind, match="^" + start):
            port.train(*args, lr=0.1, batches=[torch.arange(1)])
