"""Shared helpers for the unit tests (the conformance matrix lives in conformance/suite)."""

import numpy as np

from conformance import Spec, make_problem


def smooth_problem(spec, seed, margin=0.05, **kwargs):
    """A problem whose ReLU pre-activations all stay ``margin`` away from the kink at 0, so that
    the five-point differences (θ ± 2h, h = 1e-3) never straddle it: the first seed from ``seed``
    that gives one."""
    import reference

    for s in range(seed, seed + 1000):
        p = make_problem(spec, s, **kwargs)
        zs = reference.feedforward(p.params, p.x, spec.activation, spec.output)[0]
        relu_zs = [z for l, z in enumerate(zs, 1)
                   if (spec.output if l == len(zs) else spec.activation) == "relu"]
        if all(np.min(np.abs(z)) > margin for z in relu_zs):
            return p
    raise AssertionError(f"no seed gives ReLU pre-activations away from 0 for {spec.label}")


__all__ = ["Spec", "smooth_problem"]
