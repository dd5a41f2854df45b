"""The training loop the conv and recurrent mutants share: their bugs are in the backward pass, so
each trains with the plain SGD a student writes around it (dense.py's mutants keep their own loop,
whose lines carry bugs of their own)."""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from conformance.contract import Array, IndexArray
from conformance.spec import Spec
from reference.training import Trajectory, sgd_step
from reference.types import Gradients
from reference.validation import check_batches, check_inputs, check_lr


def sgd_training(
    backprop: Callable[[Spec, Any, Array, Array], Gradients],
    spec: Spec,
    params: Any,  # Any: Params, handed back in a reference Trajectory, whose params are a list
    x: Array,
    y: Array,
    *,
    lr: float,
    batches: Sequence[IndexArray],
) -> Trajectory:
    """Validate, then one SGD step per batch with ``backprop``'s gradients, recording each step's
    loss before its update. A diverging run goes on quietly to inf and NaN, as a student's NumPy
    loop does (and so that pytest's warnings-as-errors do not turn the trajectory into a raised call)."""
    check_inputs(spec, params, x, y)
    lr, batches = check_lr(lr), check_batches(batches, x.shape[0])
    losses = []
    with np.errstate(over="ignore", invalid="ignore"):
        for idx in batches:
            result = backprop(spec, params, x[idx], y[idx])
            losses.append(result.loss)
            params = sgd_step(params, result.grads, lr)
    return Trajectory(losses, params)
