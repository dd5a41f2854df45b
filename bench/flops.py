"""The FLOP-bound column: how far a training row is from the hardware.

Two numbers, one per recipe and one per dtype, which ``run.py`` combines into each row's achieved
GFLOP/s (FLOPs per example × examples/s) and its "% of GEMM" (achieved ÷ the machine's GEMM rate of
that dtype, measured in the same run):

- :func:`flops_per_example`: the recipe's matrix-product FLOPs for one example, in closed form from
  the spec;
- :func:`gemm_rate`: what NumPy's matmul (the BLAS the reference runs on) reaches on this machine.

    python -m doctest bench/flops.py    (the hand counts of bench/README.md)
"""

import math
import time

import numpy as np

GEMM_SIZE = 1024  # on the 2-core machine 512, 1024 and 2048 all sit on the same plateau (within 3%)
GEMM_REPEATS = 5


def layer_macs(spec):
    """Multiply-adds per example of each layer's product z^l = W^l a^{l-1}, conv blocks first:
    C_{l-1}·k²·C_l·H_l·W_l for a conv block (every kernel weight meets every output position of z^l),
    n_{l-1}·n_l for a dense layer."""
    # imported here, not at the top: run.py imports this module before it puts its own checkout's
    # reference ahead of any installed one on sys.path
    from reference import conv_shapes

    conv = getattr(spec, "conv", ()) or ()
    blocks = conv_shapes(spec.input_shape, conv) if conv else []
    return [math.prod(s.kernel) * s.z[1] * s.z[2] for s in blocks] + [
        n_in * n_out for n_in, n_out in zip(spec.sizes[:-1], spec.sizes[1:])
    ]


def flops_per_example(spec):
    """FLOPs of one example's forward and backward pass, counting the matrix products only.

    A multiply-add is 2 FLOPs. Each layer costs its product's multiply-adds (:func:`layer_macs`)
    three times over: forward z = W a, BP4 ∂C/∂W = δ aᵀ (the same pairs of numbers, summed over the
    batch instead of over the inputs) and BP2 δ Wᵀ, which carries δ to the layer below (BP2-conv, the
    transposed correlation, for a conv block) — except the first layer, whose input x needs no δ.
    Left out, being elementwise and memory-bound rather than GEMM work: biases, activations and
    their derivatives, pooling, the cost, and the SGD update (2 FLOPs per parameter per step, i.e.
    per example 2·#params / m: for 784-30-10 at mini-batch 10 about 5% more).

    >>> from conformance import Conv, Spec
    >>> flops_per_example(Spec((784, 30, 10), "sigmoid", "sigmoid", "quadratic"))
    95880
    >>> flops_per_example(Spec((64, 30, 10), "sigmoid", "sigmoid", "quadratic", input_shape=(1, 8, 8),
    ...                        conv=(Conv(4, 3, stride=1, padding=1, pool="max", pool_size=2),)))
    22536
    """
    macs = layer_macs(spec)
    return 2 * (2 * sum(macs) + sum(macs[1:]))


def gemm_rate(dtype, n=GEMM_SIZE, repeats=GEMM_REPEATS):
    """GFLOP/s of NumPy's n × n matmul (2n³ FLOPs), the best of ``repeats`` after one warm-up product
    (which starts the BLAS threads). BLAS threading is left at its default, one thread per core:
    both cores are the hardware the rows run on."""
    rng = np.random.default_rng(0)
    A, B = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
    A @ B
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        A @ B
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9
