"""The reference's recurrent (Elman) networks, backprop through time (reference/recurrent.py): against
finite differences, the complex-step derivative on a long sequence, closed forms, the dense network
at T = 1, its input checks, and training with every optimizer on (W, U, b) triples.

Specs here are duck-typed (the reference reads any object with the attribute names), so this file
needs nothing of the harness but the pairings' list.

Threshold 1e-7 on ‖a − n‖/(‖a‖ + ‖n‖) per tensor for the five-point differences, as for the dense
layers (reference/gradcheck.py; tests/reference/test_gradcheck.py): these problems are small and
smooth (measured worst 8e-10, on an identity hidden layer; 2e-11 per tensor even at T = 32), and a
wrong U (tried on a copy: U^l transposed in δ^l_{t+1} U^l, ∂C/∂U^l pairing δ^l_t with h^l_t or
δ^l_{t-1} with h^l_{t-1}) errs by 4e-3 to 4e-2 at least and 0.3 typically, in every one of the 96
cases of test_finite_differences. ReLU is piecewise linear, so a ReLU problem is drawn with
every ReLU pre-activation at least MARGIN = 0.05 from the kink at 0 (as smooth_problem does for the
dense ones): a step of ±2h = 2e-3 in one weight moves any z^l_t by far less.
"""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import reference
from conformance.problems import OUTPUT_LOSSES
from reference.costs import cost
from reference.gradcheck import THRESHOLD
from reference.optimizers import clip
from reference.recurrent import feedforward, rows
from reference.validation import check_optimizer

FD_TOL = THRESHOLD  # 1e-7
MARGIN = 0.05


@dataclass(frozen=True)
class Rec:
    steps: int
    outputs: str = "all"


@dataclass(frozen=True)
class RSpec:
    """A spec as the reference reads it; recurrent=None is the dense network."""

    sizes: tuple
    activation: str
    output: str
    loss: str
    weight_decay: float = 0.0
    recurrent: Any = None
    input_shape: Any = None
    conv: tuple = ()


@dataclass(frozen=True)
class Opt:
    """An optimizer as the reference reads it: a name and whatever hyperparameters are set."""

    name: str
    momentum: float = 0.0
    decoupled_decay: float = 0.0
    clip_norm: float | None = None


def targets(rng, spec, shape):
    if spec.loss == "log_likelihood":  # one-hot rows, one class per (example, step)
        return np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])]
    if spec.loss == "cross_entropy" or spec.output == "sigmoid":
        return rng.uniform(size=shape)
    return rng.standard_normal(shape)


def draw(spec, seed, m=3):
    """(params, x, y) from one PCG64 stream; for ReLU the first seed from ``seed`` whose ReLU
    pre-activations all lie MARGIN away from 0."""
    T, outputs, n_L = spec.recurrent.steps, spec.recurrent.outputs, spec.sizes[-1]
    for s in range(seed, seed + 1000):
        rng = np.random.Generator(np.random.PCG64(s))
        params = reference.init_params(spec.sizes, rng, recurrent=True)
        x = rng.standard_normal((m, T, spec.sizes[0]))
        y = targets(rng, spec, (m, T, n_L) if outputs == "all" else (m, n_L))
        zs = feedforward(params, x, spec.activation, spec.output, outputs)[0]
        relu = [
            z for l, z in enumerate(zs, 1) if (spec.output if l == len(zs) else spec.activation) == "relu"
        ]
        if all(np.min(np.abs(z)) > MARGIN for z in relu):
            return params, x, y
    raise AssertionError(f"no seed keeps the ReLU pre-activations away from 0 for {spec}")


def assert_gradcheck(spec, params, x, y):
    """Every layer's dW, dU (recurrent layers) and db within FD_TOL; returns the worst error."""
    results = reference.gradcheck(spec, params, x, y)
    L = len(params)
    every = sorted((l, q) for l in range(1, L + 1) for q in (("dW", "dU", "db") if l < L else ("dW", "db")))
    assert sorted((r.layer, r.quantity) for r in results) == every
    worst = max(results, key=lambda r: r.rel_error)
    assert worst.rel_error < FD_TOL, (
        f"{spec}: {worst.quantity}[layer {worst.layer}] rel {worst.rel_error:.1e}"
    )
    return worst.rel_error


CASES = [
    (a, mode, ol) for a in reference.HIDDEN_ACTIVATIONS for mode in ("all", "last") for ol in OUTPUT_LOSSES
]


@pytest.mark.parametrize("decay", [0.0, 0.2], ids=["no-decay", "decay"])
@pytest.mark.parametrize(
    ("activation", "outputs", "output_loss"), CASES, ids=[f"{a}-{m}-{o}+{c}" for a, m, (o, c) in CASES]
)
def test_finite_differences(activation, outputs, output_loss, decay):
    """Every hidden activation × both output modes × every output/cost pairing × λ off and on."""
    spec = RSpec((3, 4, 2), activation, *output_loss, decay, Rec(4, outputs))
    assert_gradcheck(spec, *draw(spec, 10 * CASES.index((activation, outputs, output_loss))))


@pytest.mark.parametrize("outputs", ["all", "last"])
@pytest.mark.parametrize("activation", reference.HIDDEN_ACTIVATIONS)
def test_two_stacked_recurrent_layers(activation, outputs):
    """Layer 2's δ^2_t W^2 reaches layer 1 at the same step; unequal widths catch a transposed W or U."""
    spec = RSpec((2, 3, 4, 2), activation, "sigmoid", "cross_entropy", 0.1, Rec(4, outputs))
    assert_gradcheck(spec, *draw(spec, 500 + 10 * reference.HIDDEN_ACTIVATIONS.index(activation)))


@pytest.mark.parametrize("outputs", ["all", "last"])
def test_batch_of_one(outputs):
    spec = RSpec((3, 4, 3), "tanh", "softmax", "log_likelihood", 0.05, Rec(5, outputs))
    assert_gradcheck(spec, *draw(spec, 900, m=1))


def complex_cost(spec, params, x, y):
    """C of params and x promoted to complex, every operation analytic (tanh, identity output,
    quadratic cost, and the penalty as Σ w·w without a conjugate): C(θ + ih) = C(θ) + ih C'(θ) + O(h²)."""
    zs, activations = feedforward(params, x, spec.activation, spec.output, spec.recurrent.outputs)
    data = cost(spec.loss, rows(zs[-1]), rows(activations[-1]), rows(y)).sum() / len(y)
    return data + 0.5 * spec.weight_decay * sum(np.sum(w * w) for *weights, _ in params for w in weights)


def test_long_tanh_sequence_complex_step():
    """T = 32 tanh, one output at the end: the error reaching step 1 has shrunk by about 1e5 (each step
    multiplies it by U^lᵀ and tanh' < 1), so ∂C/∂x_1 = (1/m) δ^1_1 W^1 is of order 1e-7.

    Five-point differences cannot check that elementwise: their rounding error is about
    1.5 ε |C| / h ≈ 1.5 · 2.2e-16 · 0.4 / 1e-3 ≈ 1e-13, relative 1e-6 to entries of 1e-7 (measured:
    3e-9 to 2e-7, above FD_TOL). The complex step Im C(θ + ih)/h has no subtraction, hence no
    cancellation, and a truncation error of h² |C'''| / 6 ≈ 1e-60 at h = 1e-30: it is as accurate as
    C itself. Both it and backprop then differ only by rounding along the 32-step chain, a few ε per
    operation (measured 4e-16 on the weights, 3e-15 on ∂C/∂x_1), so every element, however small,
    is held to COMPLEX_TOL = 1e-12 relative to itself: 300× the measured worst, while a wrong U term
    errs by order 1.
    """
    COMPLEX_TOL, h, m, T = 1e-12, 1e-30, 2, 32
    spec = RSpec((2, 4, 1), "tanh", "identity", "quadratic", 0.1, Rec(T, "last"))
    rng = np.random.Generator(np.random.PCG64(0))
    params = reference.init_params(spec.sizes, rng, recurrent=True)
    x, y = rng.standard_normal((m, T, 2)), rng.standard_normal((m, 1))
    g = reference.backprop(spec, params, x, y)
    delta = g.deltas[0]  # (m, T, 4)
    assert np.linalg.norm(delta[:, 0]) < 1e-4 * np.linalg.norm(delta[:, -1])  # vanished by > 1e4

    p = [tuple(a.astype(complex) for a in layer) for layer in params]
    xc = x.astype(complex)

    def derivative(array, index):
        saved = array[index]
        array[index] = saved + 1j * h
        d = complex_cost(spec, p, xc, y).imag / h
        array[index] = saved
        return d

    for l, layer in enumerate(p):
        for i, theta in enumerate(layer):
            numeric = np.array([derivative(theta, k) for k in np.ndindex(theta.shape)]).reshape(theta.shape)
            np.testing.assert_allclose(g.grads[l][i], numeric, rtol=COMPLEX_TOL, atol=0)
    numeric_x1 = np.array([derivative(xc, (n, 0, j)) for n in range(m) for j in range(2)]).reshape(m, 2)
    assert np.max(np.abs(numeric_x1)) < 1e-5  # the vanishing gradient itself
    np.testing.assert_allclose(delta[:, 0] @ params[0][0] / m, numeric_x1, rtol=COMPLEX_TOL, atol=0)


@pytest.mark.parametrize("outputs", ["all", "last"])
def test_linear_one_unit_closed_form(outputs):
    """One linear unit, h_t = w x_t + u h_{t-1} + c, output ŷ_t = v h_t + d, C = (1/m) Σ ½(ŷ_t − y_t)²
    over the output steps. Unrolled: h_t = Σ_{s<=t} u^{t-s} (w x_s + c), so with e_t = ŷ_t − y_t
        ∂C/∂w = (1/m) Σ_t e_t v Σ_{s<=t} u^{t-s} x_s      ∂C/∂c = (1/m) Σ_t e_t v Σ_{s<=t} u^{t-s}
        ∂C/∂u = (1/m) Σ_t e_t v Σ_{s<t} (t − s) u^{t-s-1} (w x_s + c)
        ∂C/∂v = (1/m) Σ_t e_t h_t                           ∂C/∂d = (1/m) Σ_t e_t
    written with scalar loops, nothing shared with reference/recurrent.py."""
    T, m = 5, 2
    spec = RSpec((1, 1, 1), "identity", "identity", "quadratic", 0.0, Rec(T, outputs))
    w, u, c, v, d = 0.7, -0.8, 0.3, 1.5, -0.2
    rng = np.random.Generator(np.random.PCG64(1))
    x = rng.standard_normal((m, T, 1))
    y = rng.standard_normal((m, T, 1) if outputs == "all" else (m, 1))
    steps = range(T) if outputs == "all" else [T - 1]
    dw = du = dc = dv = dd = loss = 0.0
    for n in range(m):
        xs = x[n, :, 0]
        h = [sum(u ** (t - s) * (w * xs[s] + c) for s in range(t + 1)) for t in range(T)]
        for t in steps:
            e = v * h[t] + d - (y[n, t, 0] if outputs == "all" else y[n, 0])
            loss += 0.5 * e * e / m
            dw += e * v * sum(u ** (t - s) * xs[s] for s in range(t + 1)) / m
            dc += e * v * sum(u ** (t - s) for s in range(t + 1)) / m
            du += e * v * sum((t - s) * u ** (t - s - 1) * (w * xs[s] + c) for s in range(t)) / m
            dv += e * h[t] / m
            dd += e / m
    params = [(np.array([[w]]), np.array([[u]]), np.array([c])), (np.array([[v]]), np.array([d]))]
    g = reference.backprop(spec, params, x, y)
    got = [g.grads[0][0], g.grads[0][1], g.grads[0][2], g.grads[1][0], g.grads[1][1]]
    np.testing.assert_allclose([float(a.item()) for a in got], [dw, du, dc, dv, dd], rtol=1e-13)
    assert math.isclose(g.loss, loss, rel_tol=1e-13)


@pytest.mark.parametrize("decay", [0.0, 0.3], ids=["no-decay", "decay"])
@pytest.mark.parametrize("outputs", ["all", "last"])
@pytest.mark.parametrize("output_loss", OUTPUT_LOSSES, ids=[f"{o}+{c}" for o, c in OUTPUT_LOSSES])
def test_one_step_is_the_dense_network_bit_for_bit(output_loss, outputs, decay):
    """T = 1: h^l_0 = 0 and there is no step 2, so U^l changes nothing but ∂C/∂U^l = λU^l (exactly) and
    the penalty. dW, db and every z, a, δ equal the dense network's bit for bit; so does the loss when
    U = 0 (the penalty's sum then adds exact zeros) and, without λ, for any U."""
    sizes = (3, 5, 4, 2)
    rec = RSpec(sizes, "tanh", *output_loss, decay, Rec(1, outputs))
    dense = RSpec(sizes, "tanh", *output_loss, decay)
    params, x, y = draw(rec, 7, m=6)
    dense_params = [(layer[0], layer[-1]) for layer in params]
    y_dense = y[:, 0] if outputs == "all" else y
    gd = reference.backprop(dense, dense_params, x[:, 0], y_dense)
    gr = reference.backprop(rec, params, x, y)
    for l, (a, b) in enumerate(zip(gd.grads, gr.grads)):
        np.testing.assert_array_equal(a[0], b[0]), np.testing.assert_array_equal(a[-1], b[-1])
        if l < len(params) - 1:
            np.testing.assert_array_equal(b[1], decay * params[l][1])
    internals = zip(gd.zs + gd.activations[1:] + gd.deltas, gr.zs + gr.activations[1:] + gr.deltas)
    for a, b in internals:
        np.testing.assert_array_equal(a, b.reshape(a.shape))
    penalty = 0.5 * decay * sum(np.sum(layer[1] ** 2) for layer in params[:-1])
    if decay:
        assert math.isclose(gr.loss, gd.loss + penalty, rel_tol=1e-14)
        no_u = [(W, np.zeros_like(U), b) for W, U, b in params[:-1]] + [params[-1]]
        assert reference.backprop(rec, no_u, x, y).loss == gd.loss
    else:
        assert gr.loss == gd.loss


def test_per_step_shapes_and_dtype():
    """The contract's layout of zs, activations, deltas; float32 stays float32 throughout."""
    for outputs, out_shape in (("all", (2, 3, 2)), ("last", (2, 2))):
        spec = RSpec((3, 4, 5, 2), "sigmoid", "sigmoid", "quadratic", 0.1, Rec(3, outputs))
        params, x, y = draw(spec, 0, m=2)
        params = [tuple(a.astype(np.float32) for a in layer) for layer in params]
        g = reference.backprop(spec, params, x.astype(np.float32), y.astype(np.float32))
        assert [z.shape for z in g.zs] == [(2, 3, 4), (2, 3, 5), out_shape]
        assert [a.shape for a in g.activations] == [(2, 3, 3), (2, 3, 4), (2, 3, 5), out_shape]
        assert [d.shape for d in g.deltas] == [z.shape for z in g.zs]
        assert [tuple(a.shape for a in layer) for layer in g.grads] == [
            tuple(a.shape for a in layer) for layer in params
        ]
        arrays = [*g.zs, *g.activations, *g.deltas, *(a for layer in g.grads for a in layer)]
        assert {a.dtype for a in arrays} == {np.dtype(np.float32)}


def old_init_params(sizes, seed, scheme="scaled", dtype=np.float64, *, input_shape=None, conv=()):
    """init_params as it was before recurrent layers (commit 18e327d), kept to pin the draws."""
    rng = reference.rng_from(seed)
    shapes = [s.kernel for s in (reference.conv_shapes(input_shape, conv) if conv else [])]
    shapes += [(n_out, n_in) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    params = []
    for shape in shapes:
        scale = 1.0 if scheme == "standard" else 1.0 / np.sqrt(np.prod(shape[1:]))
        W = rng.standard_normal(shape) * scale
        b = rng.standard_normal(shape[0])
        params.append((W.astype(dtype), b.astype(dtype)))
    return params


@dataclass(frozen=True)
class Block:
    channels: int
    kernel: int
    stride: int = 1
    padding: int = 0
    pool: str | None = None
    pool_size: int = 2


def test_dense_and_conv_draws_unchanged_and_recurrent_draw_order():
    conv = (Block(2, 3, padding=1, pool="max"), Block(3, 2))
    for scheme in ("standard", "scaled"):
        for dtype in (np.float32, np.float64):
            for kwargs in ({}, {"input_shape": (1, 6, 6), "conv": conv}):
                sizes = (12, 3) if kwargs else (4, 5, 3, 2)
                new = reference.init_params(sizes, 11, scheme, dtype, **kwargs)
                old = old_init_params(sizes, 11, scheme, dtype, **kwargs)
                assert len(new) == len(old)
                for a, b in zip(new, old):
                    assert len(a) == 2 and all(
                        np.array_equal(p, q) and p.dtype == q.dtype for p, q in zip(a, b)
                    )
    # recurrent: W, then U, then b per recurrent layer, then the output layer's W, b, one stream
    rng = np.random.Generator(np.random.PCG64(3))
    want = []
    for n_in, n in ((4, 5), (5, 3)):
        W, U, b = rng.standard_normal((n, n_in)), rng.standard_normal((n, n)), rng.standard_normal(n)
        want.append((W * (1 / np.sqrt(n_in)), U * (1 / np.sqrt(n)), b))  # as init_params scales
    want.append((rng.standard_normal((2, 3)) * (1 / np.sqrt(3)), rng.standard_normal(2)))
    got = reference.init_params((4, 5, 3, 2), 3, recurrent=True)
    assert [len(layer) for layer in got] == [3, 3, 2]
    for a, b in zip(got, want):
        assert all(np.array_equal(p, q) for p, q in zip(a, b))
    standard = reference.init_params((4, 5, 2), 3, "standard", recurrent=True)
    np.testing.assert_allclose(standard[0][1], got[0][1] * np.sqrt(5), rtol=1e-15)
    with pytest.raises(ValueError, match=r"^recurrent: "):
        reference.init_params((3, 2), 0, recurrent=True)
    with pytest.raises(ValueError, match=r"^recurrent: "):
        reference.init_params((12, 3, 2), 0, input_shape=(1, 6, 6), conv=conv, recurrent=True)


# ---- input checks: each bad input of the contract, the error and the start of its message ----

GOOD = RSpec((3, 4, 2), "tanh", "sigmoid", "cross_entropy", 0.0, Rec(5, "all"))


def good(spec=GOOD, m=2):
    params, x, y = draw(spec, 0, m=m)
    return spec, params, x, y


def with_spec(**changes):
    fields = {**GOOD.__dict__, **changes}
    return lambda s, p, x, y: (RSpec(**fields), p, x, y)


class NoOutputs:
    steps = 5


BAD = {
    "steps-0": (with_spec(recurrent=Rec(0)), ValueError, r"spec\.recurrent\.steps: expected a positive"),
    "steps-float": (with_spec(recurrent=Rec(5.0)), ValueError, r"spec\.recurrent\.steps: "),
    "steps-bool": (with_spec(recurrent=Rec(True)), ValueError, r"spec\.recurrent\.steps: "),
    "outputs": (
        with_spec(recurrent=Rec(5, "first")),
        ValueError,
        r"spec\.recurrent\.outputs: expected 'all'",
    ),
    "missing-outputs": (with_spec(recurrent=NoOutputs()), TypeError, r"spec\.recurrent: missing attribute"),
    "conv": (
        with_spec(sizes=(18, 4, 2), input_shape=(2, 3, 3), conv=(Block(2, 1),)),
        ValueError,
        r"spec\.recurrent: a recurrent network has no conv blocks",
    ),
    "no-hidden-layer": (with_spec(sizes=(3, 2)), ValueError, r"spec\.recurrent: a recurrent network needs"),
    "x-2d": (
        lambda s, p, x, y: (s, p, x[:, 0], y),
        ValueError,
        r"x: expected shape \(m, T, n_0\) = \(2, 5, 3\)",
    ),
    "x-wrong-T": (lambda s, p, x, y: (s, p, x[:, :4], y), ValueError, r"x: expected shape \(m, T, n_0\) = "),
    "x-wrong-n0": (
        lambda s, p, x, y: (s, p, x[..., :2], y),
        ValueError,
        r"x: expected shape \(m, T, n_0\) = ",
    ),
    "x-list": (lambda s, p, x, y: (s, p, x.tolist(), y), ValueError, r"x: expected shape \(m, T, n_0\)"),
    "x-empty": (lambda s, p, x, y: (s, p, x[:0], y[:0]), ValueError, r"x: empty batch"),
    "x-float32": (lambda s, p, x, y: (s, p, x.astype(np.float32), y), TypeError, r"x: dtype float32"),
    "x-nan": (lambda s, p, x, y: (s, p, x * np.nan, y), ValueError, r"x: contains NaN"),
    "y-rank-all": (
        lambda s, p, x, y: (s, p, x, y[:, -1]),
        ValueError,
        r"y: expected shape \(m, T, n_L\) = \(2, 5, 2\) for outputs='all'",
    ),
    "y-rank-last": (
        lambda s, p, x, y: (RSpec(**{**s.__dict__, "recurrent": Rec(5, "last")}), p, x, y),
        ValueError,
        r"y: expected shape \(m, n_L\) = \(2, 2\) for outputs='last'",
    ),
    "y-wrong-m": (lambda s, p, x, y: (s, p, x, y[:1]), ValueError, r"y: expected shape \(m, T, n_L\)"),
    "y-range": (lambda s, p, x, y: (s, p, x, y + 2), ValueError, r"y: targets for cross_entropy"),
    "U-not-square": (
        lambda s, p, x, y: (s, [(p[0][0], p[0][1][:, :3], p[0][2]), p[1]], x, y),
        ValueError,
        r"params\[0\]\.U \(layer 1\): expected shape \(4, 4\)",
    ),
    "pair-for-triple": (
        lambda s, p, x, y: (s, [(p[0][0], p[0][2]), p[1]], x, y),
        TypeError,
        r"params\[0\]: expected a \(W, U, b\) triple for recurrent layer 1",
    ),
    "triple-for-pair": (
        lambda s, p, x, y: (s, [p[0], (p[1][0], p[1][0], p[1][1])], x, y),
        TypeError,
        r"params\[1\]: expected a \(W, b\) pair for layer 2",
    ),
    "layer-count": (lambda s, p, x, y: (s, p[:1], x, y), ValueError, r"params: expected a list of 2 layers"),
    "U-float32": (
        lambda s, p, x, y: (s, [(p[0][0], p[0][1].astype(np.float32), p[0][2]), p[1]], x, y),
        TypeError,
        r"params\[0\]\.U \(layer 1\): dtype float32",
    ),
    "dense-spec-given-triples": (
        lambda s, p, x, y: (RSpec(**{**s.__dict__, "recurrent": None}), p, x[:, 0], y[:, 0]),
        TypeError,
        r"params\[0\]: expected a \(W, b\) pair for layer 1",
    ),
}


@pytest.mark.parametrize(("make", "error", "message"), list(BAD.values()), ids=list(BAD))
def test_bad_input(make, error, message):
    spec, params, x, y = make(*good())
    with pytest.raises(error, match="^" + message):
        reference.backprop(spec, params, x, y)


def test_train_checks_its_inputs_too():
    spec, params, x, y = good()
    with pytest.raises(ValueError, match=r"^x: expected shape \(m, T, n_0\)"):
        reference.train(spec, params, x[:, 0], y, lr=0.1, batches=[np.arange(2)])


# ---- training on (W, U, b) triples ----


def training_problem(outputs="last", m=8):
    spec = RSpec((3, 4, 2), "tanh", "identity", "quadratic", 0.05, Rec(6, outputs))
    params, x, y = draw(spec, 3, m=m)
    return spec, params, x, y, reference.batch_order(m, 3, 2, 0)


OPTIMIZER_CASES = {
    "sgd": Opt("sgd"),
    "momentum": Opt("momentum", momentum=0.9),
    "nesterov": Opt("nesterov", momentum=0.9),
    "rmsprop": Opt("rmsprop"),
    "adam": Opt("adam"),
    "adamw": Opt("adamw", decoupled_decay=0.1),
    "adagrad": Opt("adagrad"),
    "adam-clip-norm": Opt("adam", clip_norm=0.5),
}


@pytest.mark.parametrize("optimizer", list(OPTIMIZER_CASES.values()), ids=list(OPTIMIZER_CASES))
def test_every_optimizer_trains_triples_with_state_shaped_like_params(optimizer):
    spec, params, x, y, batches = training_problem()
    rates = [0.05 * 0.9**k for k in range(len(batches))]  # a schedule: one η per step
    t = reference.train(spec, params, x, y, lr=rates, batches=batches, optimizer=optimizer)
    assert len(t.losses) == len(batches) and all(math.isfinite(c) for c in t.losses)
    shapes = [tuple(a.shape for a in layer) for layer in params]
    assert [tuple(a.shape for a in layer) for layer in t.params] == shapes
    assert t.state is not None and t.state["t"] == len(batches)
    for key in set(t.state) - {"t"}:
        assert [tuple(a.shape for a in layer) for layer in t.state[key]] == shapes, key
    assert all(not np.array_equal(a, b) for old, new in zip(params, t.params) for a, b in zip(old, new))


def test_plain_sgd_is_theta_minus_eta_gradient_on_triples():
    spec, params, x, y, _ = training_problem("all")
    g = reference.backprop(spec, params, x[:4], y[:4])
    t = reference.train(spec, params, x, y, lr=0.25, batches=[np.arange(4)])
    for old, grad, new in zip(params, g.grads, t.params):
        assert len(new) == len(old)
        for theta, d, theta1 in zip(old, grad, new):
            np.testing.assert_array_equal(theta1, theta - 0.25 * d)
    assert t.losses == [g.loss]
    same = reference.train(spec, params, x, y, lr=0.25, batches=[np.arange(4)], optimizer=Opt("sgd"))
    assert all(np.array_equal(a, b) for p, q in zip(t.params, same.params) for a, b in zip(p, q))


def test_adamw_decays_w_and_u_not_b():
    """One step from the same state: AdamW's θ is Adam's minus ηλ_d θ for W and U, b untouched."""
    spec, params, x, y, _ = training_problem()
    lr, lam_d, batch = 0.01, 0.5, [np.arange(8)]
    adam = reference.train(spec, params, x, y, lr=lr, batches=batch, optimizer=Opt("adam")).params
    adamw = reference.train(
        spec, params, x, y, lr=lr, batches=batch, optimizer=Opt("adamw", decoupled_decay=lam_d)
    )
    for old, a, w in zip(params, adam, adamw.params):
        for theta, theta_adam, theta_w in zip(old[:-1], a[:-1], w[:-1]):  # W (and U)
            np.testing.assert_allclose(theta_w, theta_adam - lr * lam_d * theta, rtol=1e-13, atol=1e-16)
        np.testing.assert_array_equal(w[-1], a[-1])  # b


def test_clip_norm_is_global_over_u_too():
    """‖g‖ over every array: 3 in W, 4 in U, 0 elsewhere is 5, so clip_norm 1 scales all by 1/5."""
    grads = [(np.array([[3.0]]), np.array([[4.0]]), np.array([0.0])), (np.array([[0.0]]), np.array([0.0]))]
    clipped = clip(grads, None, 1.0, 0.0)
    assert [len(layer) for layer in clipped] == [3, 2]
    assert float(clipped[0][0][0, 0]) == 3 * 0.2 and float(clipped[0][1][0, 0]) == 4 * 0.2  # 1/‖g‖ = 0.2
    state = reference.init_state(check_optimizer(Opt("adam")), grads)
    assert [len(layer) for layer in state["m"]] == [3, 2]


def test_training_lowers_the_cost():
    """Adam on a fixed batch: predict the mean of a sequence's inputs, a task the recurrence must carry."""
    spec = RSpec((1, 6, 1), "tanh", "identity", "quadratic", 0.0, Rec(5, "last"))
    rng = np.random.Generator(np.random.PCG64(2))
    params = reference.init_params(spec.sizes, rng, recurrent=True)
    x = rng.standard_normal((16, 5, 1))
    y = x.mean(axis=1)
    t = reference.train(spec, params, x, y, lr=0.02, batches=[np.arange(16)] * 150, optimizer=Opt("adam"))
    assert t.losses[-1] < 0.2 * t.losses[0]


def test_accuracy():
    """ "last": one argmax per sequence; "all": one per step over all m·T, labels (m, T) or (m,)."""
    spec = RSpec((3, 4, 3), "tanh", "softmax", "log_likelihood", 0.0, Rec(4, "all"))
    params, x, _ = draw(spec, 1, m=6)
    a_all = feedforward(params, x, "tanh", "softmax", "all")[1][-1]  # (6, 4, 3)
    per_step = np.argmax(a_all, axis=2)
    labels = per_step.copy()
    labels[:3, 0] = (labels[:3, 0] + 1) % 3  # 3 of 24 steps wrong
    assert reference.accuracy(params, x, labels, "tanh", "softmax", recurrent=spec.recurrent) == 21 / 24
    one = per_step[:, -1]  # a label per sequence: right at every step whose argmax equals it
    want = float(np.mean(per_step == one[:, None]))
    assert reference.accuracy(params, x, one, "tanh", "softmax", recurrent=spec.recurrent) == want
    last = Rec(4, "last")
    a_last = feedforward(params, x, "tanh", "softmax", "last")[1][-1]  # (6, 3)
    np.testing.assert_allclose(a_last, a_all[:, -1], rtol=1e-14)
    right = np.argmax(a_last, axis=1)
    right[0] = (right[0] + 1) % 3
    assert reference.accuracy(params, x, right, "tanh", "softmax", recurrent=last) == 5 / 6
