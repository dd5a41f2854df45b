"""Problems built for the tests: smooth_problem, whose finite differences never straddle a kink or
swap a max-pooling window's maximum (the reference's gradcheck tests, tests/reference)."""

import numpy as np

from conformance import make_problem


def _top_two_gap(z, size):
    """Per max-pooling window of z: (largest, largest − second largest)."""
    from reference.conv import pool_windows

    top2 = np.sort(pool_windows(z, size), axis=-1)[..., -2:]
    return top2[..., 1], top2[..., 1] - top2[..., 0]


def smooth_problem(spec, seed, margin=0.05, **kwargs):
    """A problem whose ReLU pre-activations all stay ``margin`` away from the kink at 0, so that
    the five-point differences (θ ± 2h, h = 1e-3) never straddle it, and whose max-pooling windows
    have their largest z ``margin`` above the next (or, under ReLU, all of it dead below 0), so that
    no perturbation moves an argmax: the first seed from ``seed`` that gives one."""
    import reference
    from reference.conv import conv_stack

    conv = conv_stack(spec)[1]
    for s in range(seed, seed + 1000):
        p = make_problem(spec, s, **kwargs)
        zs = reference.feedforward(p.params, p.x, spec.activation, spec.output, conv=conv)[0]
        relu_zs = [
            z for l, z in enumerate(zs, 1) if (spec.output if l == len(zs) else spec.activation) == "relu"
        ]
        windows = [_top_two_gap(z, block.pool_size) for block, z in zip(conv, zs) if block.pool == "max"]
        if all(np.min(np.abs(z)) > margin for z in relu_zs) and all(
            np.all((gap > margin) | ((top < 0) & (spec.activation == "relu"))) for top, gap in windows
        ):
            return p
    raise AssertionError(f"no seed gives ReLU pre-activations away from 0 for {spec.label}")
