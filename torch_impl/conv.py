"""Convolutional blocks by hand with torch tensor ops: the correlation, the pooling and their backward.

Seed 003's first extension of backprop: a conv layer is a dense layer whose weights are shared
across positions and connect only a k×k neighbourhood. Layout NCHW, kernels K^l (C_l, C_{l-1}, k, k),
cross-correlation (no kernel flip), zero padding p, stride s, output size ⌊(H + 2p − k)/s⌋ + 1:

    z^l[n,c,i,j] = b^l[c] + Σ_{c',p',q'} K^l[c,c',p',q'] · pad(a^{l-1})[n,c',s·i+p',s·j+q']

The tool is im2col. ``F.unfold`` lists, for every output position, the C'kk = C_{l-1}·k·k padded
inputs the kernel sees there, so the correlation is one matrix product per example, BP4-conv is the
same product with δ^l in place of K^l, and BP2-conv is its transpose: ``F.fold`` is unfold's adjoint
(it adds every column back onto the patch it came from, overlaps summed, padding dropped), which is
exactly the full correlation of δ^l with the 180°-rotated kernel, stride and padding included.

Pooling is non-overlapping, so each pooled value is a weighted sum of one window: the ``route``
weights are 1/s² everywhere for "avg" and a one-hot of the FIRST maximal element in row-major window
order for "max" (what torch and JAX do; it matters at ties). The backward pass sends δ back along
the same weights, so the forward's routing is the backward's, by construction.
No autograd anywhere: manual.py calls these under ``torch.no_grad()``.
"""

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from .activations import ACTIVATIONS
from .types import Activation, ConvBlock, Pair, Params, ParamsIn


def output_size(n: int, block: ConvBlock) -> int:
    """Positions along one side of z^l: ⌊(n + 2p − k)/s⌋ + 1 (torch's floor)."""
    return (n + 2 * block.padding - block.kernel) // block.stride + 1


def patches(a: torch.Tensor, block: ConvBlock) -> torch.Tensor:
    """im2col: (m, C', H, W) -> (m, C'·k·k, H_z·W_z), the padded input under the kernel at each position."""
    return F.unfold(a, block.kernel, padding=block.padding, stride=block.stride)


def correlate(a_prev: torch.Tensor, K: torch.Tensor, b: torch.Tensor, block: ConvBlock) -> torch.Tensor:
    """z^l from a^{l-1}: every position's patch times the flattened kernels, plus the bias."""
    m, _, H, W = a_prev.shape
    C = K.shape[0]
    z = K.reshape(C, -1) @ patches(a_prev, block) + b[:, None]  # BP-conv (C, C'kk) @ (m, C'kk, H_z·W_z)
    return z.reshape(m, C, output_size(H, block), output_size(W, block))  # BP-conv (m, C, H_z, W_z)


def windows(a: torch.Tensor, size: int) -> torch.Tensor:
    """(m, C, H, W) -> (m, C, H/size, W/size, size·size): each pooling window, row-major inside."""
    m, C, H, W = a.shape
    split = a.reshape(m, C, H // size, size, W // size, size).transpose(3, 4)
    return split.reshape(m, C, H // size, W // size, size * size)


def unwindow(w: torch.Tensor, size: int) -> torch.Tensor:
    """The inverse of windows: (m, C, H', W', size·size) -> (m, C, H'·size, W'·size)."""
    m, C, H, W, _ = w.shape
    return w.reshape(m, C, H, W, size, size).transpose(3, 4).reshape(m, C, H * size, W * size)


def pool(a: torch.Tensor, block: ConvBlock) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Return (pooled a^l, route): route holds each window element's weight in its pooled value."""
    if block.pool is None:
        return a, None
    w = windows(a, block.pool_size)  # BP-pool (m, C, H_z/s, W_z/s, s·s)
    if block.pool == "max":  # BP-pool
        route = F.one_hot(w.argmax(dim=-1), w.shape[-1]).to(a.dtype)  # BP-pool max: the first argmax
    else:  # BP-pool
        route = torch.full_like(w, 1 / w.shape[-1])  # BP-pool avg: 1/s² each
    return (route * w).sum(dim=-1), route  # BP-pool (m, C, H_z/s, W_z/s)


def block_error(
    nabla_a: torch.Tensor, z: torch.Tensor, route: torch.Tensor | None, block: ConvBlock, g_prime: Activation
) -> torch.Tensor:
    """δ^l = unpool(∂C_x/∂a^l) ⊙ g'(z^l): back through the pooling along the route, then g."""
    if route is not None:
        nabla_a = unwindow(route * nabla_a[..., None], block.pool_size)  # BP-unpool (m, C, H_z, W_z)
    return nabla_a * g_prime(z)  # BP-unpool ⊙ g'(z^l)


def correlate_transpose(
    delta: torch.Tensor, K: torch.Tensor, block: ConvBlock, shape: tuple[int, ...]
) -> torch.Tensor:
    """∂C_x/∂a^{l-1} from δ^l: each position sends its kernels back onto its patch (fold adds them)."""
    m, C = delta.shape[:2]
    columns = K.reshape(C, -1).T @ delta.reshape(m, C, -1)  # BP2-conv (C'kk, C) @ (m, C, H_z·W_z)
    geometry = dict(padding=block.padding, stride=block.stride)  # BP2-conv
    return F.fold(columns, shape[-2:], block.kernel, **geometry)  # BP2-conv (m, C', H, W)


def kernel_gradients(
    delta: torch.Tensor, a_prev: torch.Tensor, K: torch.Tensor, block: ConvBlock, weight_decay: float
) -> Pair:
    """(∂C/∂K^l, ∂C/∂b^l): sums over examples AND positions, because K and b are shared by all."""
    m, C = delta.shape[:2]
    delta = delta.reshape(m, C, -1)  # (m, C, H_z·W_z)
    nabla_b = delta.sum(dim=(0, 2)) / m  # BP3-conv (C,)
    nabla_K = torch.tensordot(delta, patches(a_prev, block), dims=([0, 2], [0, 2]))  # BP4-conv (C, C'kk)
    nabla_K = nabla_K.reshape(K.shape) / m + weight_decay * K  # BP4-conv (C, C', k, k)
    return nabla_K, nabla_b


def forward(
    blocks: Sequence[ConvBlock], params: ParamsIn, x: torch.Tensor, activation: str
) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor | None]]:
    """(zs, activations, routes) of the conv blocks 1..c: z^l before activation and pooling, a^l
    pooled, and each block's pooling route for the backward pass."""
    g = ACTIVATIONS[activation][0]
    zs, activations, routes = [], [x], []
    for block, (K, b) in zip(blocks, params):
        zs.append(correlate(activations[-1], K, b, block))
        a, route = pool(g(zs[-1]), block)
        activations.append(a)
        routes.append(route)
    return zs, activations, routes


def backward(
    blocks: Sequence[ConvBlock],
    params: ParamsIn,
    zs: list[torch.Tensor],
    activations: list[torch.Tensor],
    routes: list[torch.Tensor | None],
    nabla_a: torch.Tensor,
    activation: str,
    weight_decay: float,
) -> tuple[list[torch.Tensor], Params]:
    """(deltas, grads) of the conv blocks c..1, from ∂C_x/∂a^c (the un-flattened δ^{c+1} W^{c+1}).

    Per block: δ^l through the pooling and g'; BP3-conv and BP4-conv from δ^l; BP2-conv carries
    ∂C_x/∂a^{l-1} down to the block below.
    """
    g_prime = ACTIVATIONS[activation][1]
    assert g_prime is not None, "a hidden activation (check_spec) has an elementwise g'"
    c = len(blocks)
    # one slot per block, filled from block c down to 1 (None until then, so typed loosely)
    deltas: list[Any] = [None] * c
    grads: list[Any] = [None] * c
    for l in range(c, 0, -1):
        block, K, a_prev = blocks[l - 1], params[l - 1][0], activations[l - 1]
        deltas[l - 1] = delta = block_error(nabla_a, zs[l - 1], routes[l - 1], block, g_prime)
        grads[l - 1] = kernel_gradients(delta, a_prev, K, block, weight_decay)
        if l > 1:
            nabla_a = correlate_transpose(delta, K, block, a_prev.shape)
    return deltas, grads
