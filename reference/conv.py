"""Convolutional blocks in front of the dense layers (seed 003's extension): shapes, forward, backward.

A block l turns a^{l-1} (m, C_{l-1}, H, W) into z^l by cross-correlation with a kernel K^l
(C_l, C_{l-1}, k, k), zero padding p and stride s (no kernel flip, as every framework computes it):

    z^l[n,c,i,j] = b^l[c] + Σ_{c',p',q'} K^l[c,c',p',q'] · pad(a^{l-1})[n,c', s·i+p', s·j+q']

with H_l = ⌊(H + 2p − k)/s⌋ + 1 (floor, as torch), then a^l = pool(g(z^l)) over non-overlapping
pool_size windows ("max", "avg" or none). Layout NCHW; examples first, as the dense rows.
"""

from typing import NamedTuple


class BlockShapes(NamedTuple):
    """The shapes one conv block works with (per example, without the batch axis m)."""

    kernel: tuple  # K^l: (C_l, C_{l-1}, k, k)
    z: tuple  # z^l before activation and pooling: (C_l, H_l, W_l)
    a: tuple  # a^l after pooling: (C_l, H_l / pool_size, W_l / pool_size)


def conv_stack(spec):
    """(input_shape, blocks) of a spec; (None, ()) for an MLP or any spec without the conv fields."""
    return getattr(spec, "input_shape", None), tuple(getattr(spec, "conv", ()) or ())


def conv_shapes(input_shape, conv):
    """[BlockShapes per block]: the one place the conv shape arithmetic lives. Raises ValueError,
    naming the block, for a kernel larger than its padded input or a pooling that does not divide."""
    shapes, (C, H, W) = [], input_shape
    for i, block in enumerate(conv):
        k, s, p = block.kernel, block.stride, block.padding
        if k > H + 2 * p or k > W + 2 * p:
            raise ValueError(f"spec.conv[{i}]: kernel {k} is larger than the padded input "
                             f"{H + 2 * p}×{W + 2 * p} ({C}×{H}×{W} with padding {p})")
        H_z, W_z = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1  # floor, as torch
        pool = block.pool_size if block.pool else 1
        if H_z % pool or W_z % pool:
            raise ValueError(f"spec.conv[{i}]: pool_size {pool} does not divide the "
                             f"{H_z}×{W_z} convolution output")
        shapes.append(BlockShapes((block.channels, C, k, k), (block.channels, H_z, W_z),
                                  (block.channels, H_z // pool, W_z // pool)))
        C, H, W = shapes[-1].a
    return shapes
