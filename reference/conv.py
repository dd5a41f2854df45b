"""Convolutional blocks in front of the dense layers (seed 003's extension): shapes, forward, backward.

A block l turns a^{l-1} (m, C_{l-1}, H, W) into z^l by cross-correlation with a kernel K^l
(C_l, C_{l-1}, k, k), zero padding p and stride s (no kernel flip, as every framework computes it):

    z^l[n,c,i,j] = b^l[c] + Σ_{c',p',q'} K^l[c,c',p',q'] · pad(a^{l-1})[n,c', s·i+p', s·j+q']

with H_l = ⌊(H + 2p − k)/s⌋ + 1 (floor, as torch), then a^l = pool(g(z^l)) over non-overlapping
pool_size windows ("max", "avg" or none). Layout NCHW; examples first, as the dense rows.
"""

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .activations import ACTIVATIONS
from .types import ConvBlock, FloatArray, Params, ParamsIn, Spec


class BlockShapes(NamedTuple):
    """The shapes one conv block works with (per example, without the batch axis m)."""

    kernel: tuple[int, int, int, int]  # K^l: (C_l, C_{l-1}, k, k)
    z: tuple[int, int, int]  # z^l before activation and pooling: (C_l, H_l, W_l)
    a: tuple[int, int, int]  # a^l after pooling: (C_l, H_l / pool_size, W_l / pool_size)


def conv_stack(spec: Spec) -> tuple[Sequence[int] | None, tuple[ConvBlock, ...]]:
    """(input_shape, blocks) of a spec; (None, ()) for an MLP or any spec without the conv fields."""
    return getattr(spec, "input_shape", None), tuple(getattr(spec, "conv", ()) or ())


def conv_shapes(input_shape: Sequence[int] | None, conv: Sequence[ConvBlock]) -> list[BlockShapes]:
    """[BlockShapes per block]: the one place the conv shape arithmetic lives. Raises ValueError,
    naming the block, for a kernel larger than its padded input or a pooling that does not divide,
    and TypeError for no input_shape (None, a dense spec's)."""
    if input_shape is None:
        raise TypeError("input_shape: conv blocks need the input shape (C_0, H_0, W_0), got None")
    shapes, (C, H, W) = [], input_shape
    for i, block in enumerate(conv):
        k, s, p = block.kernel, block.stride, block.padding
        if k > H + 2 * p or k > W + 2 * p:
            raise ValueError(
                f"spec.conv[{i}]: kernel {k} is larger than the padded input "
                f"{H + 2 * p}×{W + 2 * p} ({C}×{H}×{W} with padding {p})"
            )
        H_z, W_z = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1  # floor, as torch
        pool = block.pool_size if block.pool else 1
        if H_z % pool or W_z % pool:
            raise ValueError(
                f"spec.conv[{i}]: pool_size {pool} does not divide the {H_z}×{W_z} convolution output"
            )
        shapes.append(
            BlockShapes(
                (block.channels, C, k, k),
                (block.channels, H_z, W_z),
                (block.channels, H_z // pool, W_z // pool),
            )
        )
        C, H, W = shapes[-1].a
    return shapes


def windows(a: FloatArray, k: int, stride: int, padding: int) -> FloatArray:
    """im2col as a strided view: every k×k patch of pad(a) the kernel meets, (m, C, H_l, W_l, k, k).
    No copy is made here; patches[n, c', i, j] = pad(a)[n, c', s·i : s·i+k, s·j : s·j+k]."""
    a_pad = np.pad(a, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    return sliding_window_view(a_pad, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]


def correlate(a_prev: FloatArray, K: FloatArray, b: FloatArray, stride: int, padding: int) -> FloatArray:
    """z^l = b^l + K^l ⋆ pad(a^{l-1}): cross-correlation, one tensor contraction over c', p', q'."""
    patches = windows(a_prev, K.shape[-1], stride, padding)  # BP-conv (m, C_{l-1}, H_l, W_l, k, k)
    z = np.einsum("ncijpq,dcpq->ndij", patches, K, optimize=True)  # BP-conv (m, C_l, H_l, W_l)
    return z + b[:, None, None]  # BP-conv (m, C_l, H_l, W_l) + (C_l, 1, 1)


def pool_windows(h: FloatArray, size: int) -> FloatArray:
    """(m, C, H, W) -> (m, C, H/size, W/size, size²): each pooling window's elements in row-major
    order, so that argmax finds the first maximum in the order torch and JAX use."""
    m, C, H, W = h.shape
    grid = h.reshape(m, C, H // size, size, W // size, size).transpose(0, 1, 2, 4, 3, 5)
    return grid.reshape(m, C, H // size, W // size, size * size)


def unpool_windows(routed: FloatArray, size: int) -> FloatArray:
    """The inverse of :func:`pool_windows`: (m, C, H', W', size²) -> (m, C, H'·size, W'·size)."""
    m, C, H, W, _ = routed.shape
    return (
        routed.reshape(m, C, H, W, size, size).transpose(0, 1, 2, 4, 3, 5).reshape(m, C, H * size, W * size)
    )


def pool(h: FloatArray, kind: str | None, size: int) -> FloatArray:
    """a^l = pool(g(z^l)): the maximum or the mean of every non-overlapping size × size window."""
    if kind is None:  # BP-pool
        return h  # BP-pool
    win = pool_windows(h, size)  # BP-pool (m, C_l, H_l/size, W_l/size, size²)
    return win.max(axis=-1) if kind == "max" else win.mean(axis=-1)  # BP-pool (m, C_l, H_l/size, W_l/size)


def unpool(nabla_a: FloatArray, h: FloatArray, kind: str | None, size: int) -> FloatArray:
    """∂C_x/∂(g(z^l)) from ∂C_x/∂a^l: max pooling routes each window's gradient to its first maximal
    element (torch and JAX do; at a tie the choice changes ∂K), avg pooling shares it out /size²."""
    if kind is None:  # BP-unpool
        return nabla_a  # BP-unpool
    if kind == "max":  # BP-unpool: a one-hot mask at the first argmax of each window
        first = np.arange(size * size) == pool_windows(h, size).argmax(axis=-1)[..., None]  # BP-unpool
        return unpool_windows(first * nabla_a[..., None], size)  # BP-unpool (m, C_l, H_l, W_l)
    return unpool_windows(np.repeat(nabla_a[..., None] / size**2, size * size, axis=-1), size)  # BP-unpool


def correlate_transpose(
    delta: FloatArray, K: FloatArray, stride: int, padding: int, shape: Sequence[int]
) -> FloatArray:
    """BP2-conv ∂C_x/∂a^{l-1} = Σ_c δ^l[n,c,i,j] K^l[c,c',p',q'] added at pad(a^{l-1})[n,c',s·i+p',s·j+q'],
    the adjoint of :func:`correlate`: the full correlation of the stride-dilated δ^l with the kernel
    rotated 180°. Written as a scatter-add, one strided slice per kernel offset (a k×k loop, never a
    loop over pixels); the padding ring is cut off at the end, and rows the floored output size never
    reached get nothing."""
    m, C, H, W = shape
    k, p, s = K.shape[-1], padding, stride
    H_l, W_l = delta.shape[2:]
    cols = np.einsum("ndij,dcpq->ncijpq", delta, K, optimize=True)  # BP2-conv (m, C_{l-1}, H_l, W_l, k, k)
    nabla_pad = np.zeros((m, C, H + 2 * p, W + 2 * p), dtype=delta.dtype)  # BP2-conv
    for u, v in np.ndindex(k, k):  # BP2-conv: kernel offset (p', q') = (u, v)
        rows, columns = slice(u, u + s * H_l, s), slice(v, v + s * W_l, s)  # BP2-conv
        nabla_pad[..., rows, columns] += cols[..., u, v]  # BP2-conv (m, C_{l-1}, H_l, W_l)
    return nabla_pad[:, :, p : p + H, p : p + W]  # BP2-conv (m, C_{l-1}, H, W)


def forward(
    conv: Sequence[ConvBlock], params: ParamsIn, x: FloatArray, activation: str
) -> tuple[list[FloatArray], list[FloatArray]]:
    """(zs, activations) of the conv blocks 1..c: z^l before activation and pooling, a^l pooled."""
    g = ACTIVATIONS[activation][0]
    zs, activations = [], [x]
    for block, (K, b) in zip(conv, params):
        zs.append(correlate(activations[-1], K, b, block.stride, block.padding))
        activations.append(pool(g(zs[-1]), block.pool, block.pool_size))
    return zs, activations


def backward(
    conv: Sequence[ConvBlock],
    params: ParamsIn,
    zs: list[FloatArray],
    activations: list[FloatArray],
    nabla_a: FloatArray,
    activation: str,
    lam: float,
) -> tuple[list[FloatArray], Params]:
    """(deltas, grads) of the conv blocks c..1, starting from ∂C_x/∂a^c, the un-flattened δ^{c+1} W^{c+1}.

    Per block: δ^l = unpool(∂C_x/∂a^l) ⊙ g'(z^l); BP3-conv and BP4-conv sum over the positions the
    kernel and bias are shared across (and average over the batch); BP2-conv carries ∂C_x/∂a^{l-1}
    to the block below.
    """
    g, g_prime = ACTIVATIONS[activation]
    assert g_prime is not None, "a hidden activation (check_spec) has an elementwise g'"
    m, c = nabla_a.shape[0], len(conv)
    # one slot per block, filled from block c down to 1 (None until then, so typed loosely)
    deltas: list[Any] = [None] * c
    grads: list[Any] = [None] * c
    for l in range(c, 0, -1):
        block, (K, _), z, a_prev = conv[l - 1], params[l - 1], zs[l - 1], activations[l - 1]
        k, s, p = K.shape[-1], block.stride, block.padding
        delta = unpool(nabla_a, g(z), block.pool, block.pool_size) * g_prime(z)  # (m, C_l, H_l, W_l)
        patches = windows(a_prev, k, s, p)  # (m, C_{l-1}, H_l, W_l, k, k)
        nabla_b = delta.sum(axis=(0, 2, 3)) / m  # BP3-conv (C_l,): summed over the shared positions
        nabla_K = np.einsum("ndij,ncijpq->dcpq", delta, patches, optimize=True) / m  # BP4-conv, like K^l
        nabla_K = nabla_K + lam * K  # BP4-conv: every kernel is decayed, as every W
        deltas[l - 1], grads[l - 1] = delta, (nabla_K, nabla_b)
        if l > 1:  # ∂C_x/∂a^{l-1} for the block below (correlate_transpose: the BP2-conv lines)
            nabla_a = correlate_transpose(delta, K, s, p, a_prev.shape)
    return deltas, grads
