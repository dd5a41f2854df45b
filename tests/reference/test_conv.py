"""The reference's conv blocks against finite differences, against a plain per-pixel loop, and at
max-pooling ties.

Threshold 1e-7 on ‖a − n‖/(‖a‖ + ‖n‖), as for the dense layers (tests/reference/test_gradcheck.py):
on these small, smooth problems the five-point difference at h = 1e-3 agrees to 3e-11 at worst (all
68 configurations below, measured), while a wrong stride, padding, flip or pooling factor errs by 1e-1
or more. ReLU and max-pooling are only piecewise smooth, so the problems are drawn with every ReLU
pre-activation and every max-pool runner-up at least MARGIN = 0.02 away (smooth_problem,
tests/helpers/problems.py): a step of 2h = 2e-3 in one weight moves z by about 2e-3 · max|a| ≈ 6e-3,
too little to cross a kink or swap a window's maximum (a crossing would show as an error of 1e-4 or
more: measured 1e-4 to 3e-3 on unscreened draws).
"""

import itertools

import numpy as np
import pytest

import reference
from conformance import Conv, Spec, make_problem
from conformance.problems import OUTPUT_LOSSES
from conformance.tolerances import GRADCHECK
from reference.conv import conv_shapes, correlate, correlate_transpose, unpool
from tests.helpers.problems import smooth_problem

FD_TOL = GRADCHECK  # 1e-7, derived in conformance/tolerances.py (the module docstring above says why)
MARGIN = 0.02

# (stride, padding) -> a square input side whose convolution output (k = 3) pools evenly by 2:
# 6 -> 4 and 6 -> 6 at stride 1; 6 -> 2 (⌊3/2⌋ + 1: the floor) and 8 -> 4 (⌊7/2⌋ + 1) at stride 2.
SIDES = {(1, 0): 6, (1, 1): 6, (2, 0): 6, (2, 1): 8}
POOLS = (None, "max", "avg")
SINGLE = list(itertools.product(reference.HIDDEN_ACTIVATIONS, POOLS, SIDES))
STACKS = {  # two blocks: input shape, blocks; padding and stride on the second reach the first's δ
    "max-then-pad-avg": ((1, 6, 6), (Conv(2, 3, padding=1, pool="max"), Conv(3, 2, padding=1, pool="avg"))),
    "stride-pad-then-pad-max": (
        (2, 8, 8),
        (Conv(2, 3, stride=2, padding=1), Conv(2, 3, padding=1, pool="max")),
    ),
}


def conv_spec(activation, input_shape, conv, i, decay):
    """A spec with one dense layer after the stack; output and cost rotate through the pairings."""
    C, H, W = conv_shapes(input_shape, conv)[-1].a
    output, loss = OUTPUT_LOSSES[i % len(OUTPUT_LOSSES)]
    return Spec((C * H * W, 2), activation, output, loss, decay, input_shape=input_shape, conv=conv)


def worst_error(spec, seed):
    p = smooth_problem(spec, seed, margin=MARGIN, m=2)
    results = reference.gradcheck(p.spec, p.params, p.x, p.y)
    assert {r.quantity for r in results if r.layer <= len(spec.conv)} == {"dK", "db"}
    worst = max(results, key=lambda r: r.rel_error)
    assert worst.rel_error < FD_TOL, (
        f"reference vs finite differences [{spec.label}]: {worst.quantity}"
        f"[layer {worst.layer}] rel {worst.rel_error:.1e} > {FD_TOL:.0e}"
    )


@pytest.mark.parametrize(
    ("activation", "pool", "stride_padding"), SINGLE, ids=[f"{a}-{p}-s{s}p{q}" for a, p, (s, q) in SINGLE]
)
def test_one_block_finite_differences(activation, pool, stride_padding):
    """Every hidden activation × no/max/avg pooling × stride 1, 2 × padding 0, 1; λ on every other."""
    i = SINGLE.index((activation, pool, stride_padding))
    (stride, padding), side = stride_padding, SIDES[stride_padding]
    conv = (Conv(2, 3, stride=stride, padding=padding, pool=pool),)
    worst_error(conv_spec(activation, (2, side, side), conv, i, 0.1 * (i % 2)), 20 * i)


@pytest.mark.parametrize("decay", [0.0, 0.1], ids=["no-decay", "decay"])
@pytest.mark.parametrize("activation", reference.HIDDEN_ACTIVATIONS)
@pytest.mark.parametrize("stack", list(STACKS))
def test_two_blocks_finite_differences(stack, activation, decay):
    input_shape, conv = STACKS[stack]
    i = reference.HIDDEN_ACTIVATIONS.index(activation)
    worst_error(conv_spec(activation, input_shape, conv, i, decay), 1000 + 20 * i)


def loop_correlation(a, K, b, s, p):
    """z[n,c,i,j] = b[c] + Σ K[c,c',p',q'] · pad(a)[n,c',s·i+p',s·j+q'], one output pixel at a time."""
    a_pad = np.pad(a, ((0, 0), (0, 0), (p, p), (p, p)))
    k = K.shape[-1]
    H_z, W_z = (a_pad.shape[2] - k) // s + 1, (a_pad.shape[3] - k) // s + 1
    z = np.zeros((a.shape[0], K.shape[0], H_z, W_z))
    for n, c, i, j in np.ndindex(z.shape):
        z[n, c, i, j] = b[c] + np.sum(K[c] * a_pad[n, :, s * i : s * i + k, s * j : s * j + k])
    return z


@pytest.mark.parametrize(("stride", "padding"), [(1, 0), (1, 1), (2, 0), (2, 1), (3, 2)])
def test_vectorised_correlation_equals_a_loop_over_pixels(stride, padding):
    """Forward against the loop; BP2-conv against the brute-force adjoint: ∂/∂a of Σ (z − b)·d, one
    input pixel at a time (z − b is linear in a, so a unit pixel gives its column exactly)."""
    rng = np.random.Generator(np.random.PCG64(stride * 10 + padding))
    a, K, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    z = correlate(a, K, b, stride, padding)
    np.testing.assert_allclose(z, loop_correlation(a, K, b, stride, padding), rtol=0, atol=1e-13)
    d = rng.standard_normal(z.shape)
    brute = np.zeros_like(a)
    for index in np.ndindex(a.shape):
        unit = np.zeros_like(a)
        unit[index] = 1.0
        brute[index] = np.sum(correlate(unit, K, 0 * b, stride, padding) * d)  # checked just above
    np.testing.assert_allclose(correlate_transpose(d, K, stride, padding, a.shape), brute, rtol=0, atol=1e-13)


def test_max_pool_tie_routes_to_the_first_element():
    """A 2×2 window of equal values sends the whole gradient to its top-left element (row-major first,
    as torch and JAX); a window whose maximum is unique sends it there."""
    h = np.array([[[[1.0, 1.0, 0.0, 2.0], [1.0, 1.0, 3.0, 3.0]]]])
    routed = unpool(np.array([[[[5.0, 7.0]]]]), h, "max", 2)
    np.testing.assert_array_equal(routed, [[[[5.0, 0.0, 0.0, 0.0], [0.0, 0.0, 7.0, 0.0]]]])


def test_avg_unpool_shares_out_by_the_window_area():
    routed = unpool(np.array([[[[8.0]]]]), np.zeros((1, 1, 2, 2)), "avg", 2)
    np.testing.assert_array_equal(routed, np.full((1, 1, 2, 2), 2.0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_follows_the_input(dtype):
    input_shape, conv = STACKS["max-then-pad-avg"]
    p = smooth_problem(conv_spec("tanh", input_shape, conv, 0, 0.1), 0, m=2).as_dtype(dtype)
    g = reference.backprop(p.spec, p.params, p.x, p.y)
    arrays = [*g.zs, *g.activations, *g.deltas, *(a for pair in g.grads for a in pair)]
    assert {a.dtype for a in arrays} == {np.dtype(dtype)}
    assert [z.shape for z in g.zs[:2]] == [(2, 2, 6, 6), (2, 3, 4, 4)]
    assert [a.shape for a in g.activations[1:3]] == [(2, 2, 3, 3), (2, 3, 2, 2)]


def test_tie_problem_routing_to_the_last_maximum_changes_dK(monkeypatch):
    """The catalogue's max-pool tie problem really has ties that matter: routing each window's
    gradient to its last maximum instead (the first one of the window flipped in both axes, which
    reverses the row-major order) moves ∂K^1 by far more than any tolerance; ∂b^1 sums over all
    positions and cannot tell."""
    from conformance import CATALOGUE

    p = CATALOGUE["conv-max-pool-tie"]
    first = reference.backprop(p.spec, p.params, p.x, p.y).grads[0]

    def flip(a):
        return a[..., ::-1, ::-1]

    def unpool_last(nabla_a, h, kind, size):
        return flip(unpool(flip(nabla_a), flip(h), kind, size))

    monkeypatch.setattr(reference.conv, "unpool", unpool_last)
    last = reference.backprop(p.spec, p.params, p.x, p.y).grads[0]
    assert np.linalg.norm(last[0] - first[0]) > 0.1 * np.linalg.norm(first[0])
    np.testing.assert_allclose(last[1], first[1], rtol=1e-12)


def test_init_params_draws_kernels_first_then_dense():
    """Conv (K, b) per block, then dense (W, b), from one PCG64 stream; "scaled" divides a kernel by
    √(C_{l-1} k²), its fan-in; a dense-only call draws exactly what it always drew."""
    input_shape, conv = STACKS["max-then-pad-avg"]
    params = reference.init_params((12, 3), 5, input_shape=input_shape, conv=conv)
    rng = np.random.Generator(np.random.PCG64(5))
    want = [
        (rng.standard_normal((2, 1, 3, 3)) / 3.0, rng.standard_normal(2)),
        (rng.standard_normal((3, 2, 2, 2)) / np.sqrt(8), rng.standard_normal(3)),
        (rng.standard_normal((3, 12)) / np.sqrt(12), rng.standard_normal(3)),
    ]
    for (K, b), (K_want, b_want) in zip(params, want, strict=True):
        np.testing.assert_allclose(K, K_want, rtol=1e-15)
        np.testing.assert_array_equal(b, b_want)
    dense = reference.init_params((4, 3), 5, "standard")
    rng = np.random.Generator(np.random.PCG64(5))
    np.testing.assert_array_equal(dense[0][0], rng.standard_normal((3, 4)))


def test_accuracy_runs_the_conv_stack():
    input_shape, conv = STACKS["max-then-pad-avg"]
    p = make_problem(conv_spec("tanh", input_shape, conv, 5, 0.0), 0, m=6)  # softmax output
    labels = np.argmax(p.y, axis=1)
    a_L = reference.backprop(p.spec, p.params, p.x, p.y).activations[-1]
    want = np.mean(np.argmax(a_L, axis=1) == labels)
    assert reference.accuracy(p.params, p.x, labels, "tanh", "softmax", conv=conv) == want


def test_spec_labels():
    """A dense spec's label is what it always was; a conv spec's names the input and every block."""
    assert Spec((64, 30, 10), "sigmoid", "sigmoid", "quadratic", 0.1).label == (
        "64-30-10 sigmoid/sigmoid quadratic λ=0.1"
    )
    spec = Spec(
        (4, 10),
        "relu",
        "softmax",
        "log_likelihood",
        input_shape=[1, 8, 8],
        conv=[Conv(4, 3, padding=1, pool="max"), Conv(4, 3, stride=2, pool="avg", pool_size=1)],
    )
    assert spec.label == "1x8x8 c4k3p1max2 c4k3s2avg1 | 4-10 relu/softmax log_likelihood"
    assert spec.conv == (Conv(4, 3, 1, 1, "max", 2), Conv(4, 3, 2, 0, "avg", 1))
    assert spec.input_shape == (1, 8, 8)
