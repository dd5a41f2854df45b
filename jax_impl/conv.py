"""Convolutional blocks with lax ops: the forward correlation and pooling (shared by manual.py and
autodiff.py), and the backward passes that manual.py writes out by hand. No jax.grad or jax.vjp
anywhere in this file.

Seed 003's extension: local connectivity and weights shared across positions. Layout NCHW, kernels
(C_l, C_{l-1}, k, k). A block is a cross-correlation (no kernel flip) with zero padding p and stride
s, output size ⌊(H + 2p − k)/s⌋ + 1, then g, then optional non-overlapping max or avg pooling.

    z^l[n,c,i,j] = b^l[c] + Σ_{c',p',q'} K^l[c,c',p',q'] · pad(a^{l-1})[n,c',s·i+p',s·j+q']
    δ^l = unpool(∂C_x/∂a^l) ⊙ g'(z^l)
    ∂C_x/∂a^{l-1} = the transposed correlation of δ^l with K^l                        (BP2-conv)
    ∂C/∂b^l[c] = (1/m) Σ_{n,i,j} δ^l[n,c,i,j]                                         (BP3-conv)
    ∂C/∂K^l[c,c',p',q'] = (1/m) Σ_{n,i,j} δ^l[n,c,i,j] · pad(a^{l-1})[n,c',s·i+p',s·j+q'] + λ K^l (BP4-conv)
"""

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from .types import Pair

NCHW = ("NCHW", "OIHW", "NCHW")  # (batch, channel, row, column) data, (out, in, row, column) kernels


def correlate(a_prev: jax.Array, K: jax.Array, b: jax.Array, stride: int, padding: int) -> jax.Array:
    """z^l (m, C_l, H_l, W_l) from a^{l-1} (m, C_{l-1}, H, W); lax's convolution is a correlation."""
    window = ((stride, stride), [(padding, padding)] * 2)  # BP-conv z = a ⋆ K: (m, C_l, H_l, W_l)
    z = lax.conv_general_dilated(a_prev, K, *window, dimension_numbers=NCHW)  # BP-conv
    return z + b[:, None, None]  # BP-conv b^l[c] at every position


def windows(a: jax.Array, size: int) -> jax.Array:
    """(m, C, H, W) -> (m, C, H/size, W/size, size²): each pooling window's elements in row-major order."""
    m, C, H, W = a.shape
    tiles = a.reshape(m, C, H // size, size, W // size, size).transpose(0, 1, 2, 4, 3, 5)
    return tiles.reshape(m, C, H // size, W // size, size * size)


def from_windows(tiles: jax.Array, size: int) -> jax.Array:
    """The inverse of ``windows``: (m, C, H/size, W/size, size²) -> (m, C, H, W)."""
    m, C, rows, cols, _ = tiles.shape
    grid = tiles.reshape(m, C, rows, cols, size, size).transpose(0, 1, 2, 4, 3, 5)
    return grid.reshape(m, C, rows * size, cols * size)


def pool(a: jax.Array, kind: str | None, size: int) -> jax.Array:
    """a^l from g(z^l): the max or the mean of each non-overlapping size × size window (or a as is).

    lax.reduce_window, not a reshape and max: autodiff.py differentiates this, and reduce_window
    max's gradient goes to the first maximal element of a window (the contract), where a reshape's
    max would split a tie evenly among the maxima.
    """
    if kind is None:
        return a
    window = (1, 1, size, size)  # (m, C) untouched; strides = window: non-overlapping
    if kind == "max":
        return lax.reduce_window(a, -jnp.inf, lax.max, window, window, "VALID")  # BP-pool
    return lax.reduce_window(a, 0.0, lax.add, window, window, "VALID") / size**2  # BP-pool


def unpool(nabla_a: jax.Array, a_unpooled: jax.Array, kind: str | None, size: int) -> jax.Array:
    """∂C_x/∂g(z^l) from ∂C_x/∂a^l, given g(z^l) (the pooling's input).

    max: each window's gradient goes whole to its FIRST maximal element in row-major order (jnp.argmax
    returns the first index of the maximum, as torch and lax.reduce_window's gradient do; at a tie,
    routing to another maximum would change ∂K). avg: 1/size² of it to every element of the window.
    """
    if kind is None:
        return nabla_a
    first_max = jnp.argmax(windows(a_unpooled, size), axis=-1)  # BP-unpool
    if kind == "max":  # BP-unpool
        share = jax.nn.one_hot(first_max, size * size, dtype=nabla_a.dtype)  # BP-unpool (size²,)
    else:  # BP-unpool
        share = jnp.full(size * size, 1 / size**2, dtype=nabla_a.dtype)  # BP-unpool (size²,)
    return from_windows(nabla_a[..., None] * share, size)  # BP-unpool (m, C_l, H_l, W_l)


def correlate_transpose(
    delta: jax.Array, K: jax.Array, stride: int, padding: int, shape: Sequence[int]
) -> jax.Array:
    """∂C_x/∂a^{l-1} (m, C_{l-1}, H, W) from δ^l: every δ^l[n,c,i,j] goes back through K^l to the inputs
    that z^l[n,c,i,j] read. As one correlation: spread δ^l out by the stride (s − 1 zeros between
    entries, lhs_dilation), pad it by k − 1 ("full"), plus r = (H + 2p − k) mod s more rows/columns
    after it (inputs the floor left unread get zero gradient), and correlate with K rotated 180° with
    in and out channels swapped. That is ∂C_x/∂pad(a^{l-1}), (H + 2p) × (W + 2p); the gradient on the
    padding zeros is dropped by cutting p from each side.
    """
    k, (H, W) = K.shape[-1], shape[-2:]
    r_h, r_w = (H + 2 * padding - k) % stride, (W + 2 * padding - k) % stride
    dilated: dict[str, Any]  # keyword arguments of mixed types for conv_general_dilated
    rotated = jnp.flip(K, axis=(2, 3)).transpose(1, 0, 2, 3)  # BP2-conv (C_{l-1}, C_l, k, k)
    full = [(k - 1, k - 1 + r_h), (k - 1, k - 1 + r_w)]  # BP2-conv "full" padding, plus r
    dilated = dict(lhs_dilation=(stride, stride), dimension_numbers=NCHW)  # BP2-conv δ spread by s
    nabla_padded = lax.conv_general_dilated(delta, rotated, (1, 1), full, **dilated)  # BP2-conv δ ⋆ rotated
    return nabla_padded[:, :, padding : padding + H, padding : padding + W]  # BP2-conv (m, C_{l-1}, H, W)


def conv_gradients(
    delta: jax.Array, a_prev: jax.Array, K: jax.Array, stride: int, padding: int, weight_decay: float
) -> Pair:
    """(∂C/∂K^l, ∂C/∂b^l): sums over examples and positions, since K^l and b^l are shared by all.

    ∂K as im2col: patches[n, (c',p',q'), i, j] = pad(a^{l-1})[n, c', s·i+p', s·j+q'] (channel-major,
    then kernel row, then column: K's own order), so ∂K is one contraction of δ^l with the patches.
    """
    m, k = delta.shape[0], K.shape[-1]
    nabla_b = delta.sum(axis=(0, 2, 3)) / m  # BP3-conv (C_l,)
    window = ((k, k), (stride, stride), [(padding, padding)] * 2)  # BP4-conv
    patches = lax.conv_general_dilated_patches(a_prev, *window, dimension_numbers=NCHW)  # BP4-conv
    nabla_k = jnp.einsum("ncij,nfij->cf", delta, patches).reshape(K.shape)  # BP4-conv (C_l, C_{l-1}·k·k)
    return nabla_k / m + weight_decay * K, nabla_b  # BP4-conv (C_l, C_{l-1}, k, k)
