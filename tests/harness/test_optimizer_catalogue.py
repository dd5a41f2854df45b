"""The optimizer problems of the catalogue do what their comments in conformance/problems.py say."""

import numpy as np
import pytest

import reference
from conformance import CATALOGUE
from reference import optimizers
from reference.validation import check_optimizer

CLIPPED = [
    n for n, p in CATALOGUE.items() if p.optimizer and (p.optimizer.clip_norm or p.optimizer.clip_value)
]


@pytest.mark.parametrize("name", CLIPPED)
def test_clipping_triggers_on_some_steps_only(name):
    """A clipping threshold that always or never triggers would not tell clipping's placement and
    norm apart from no clipping at all: each problem's threshold sits inside the range of its own
    gradients' norms (max |g| for clip_value) along the reference trajectory."""
    p = CATALOGUE[name]
    hyper = check_optimizer(p.optimizer)
    params, state, clipped = p.params, optimizers.init_state(hyper, p.params), 0
    rates = p.lr if isinstance(p.lr, tuple) else [p.lr] * len(p.batches)
    for idx, lr in zip(p.batches, rates):
        grads = reference.backprop(p.spec, params, p.x[idx], p.y[idx]).grads
        arrays = [a for layer in grads for a in layer]
        if p.optimizer.clip_norm:
            clipped += np.sqrt(sum(float(np.vdot(a, a)) for a in arrays)) > p.optimizer.clip_norm
        else:
            clipped += max(float(np.max(np.abs(a))) for a in arrays) > p.optimizer.clip_value
        params, state = optimizers.step(hyper, params, grads, state, lr)
    assert 0 < clipped < len(p.batches), f"{name}: clipped on {clipped} of {len(p.batches)} steps"
