"""Train several implementations side by side: same seed, same initial weights, same batch order.

After every epoch each implementation's test accuracy, mean training cost over the epoch's steps,
and largest parameter divergence from the reference (max |W_impl − W_ref| over all layers) are
recorded. Accuracy uses the reference forward pass on each implementation's own parameters, so
the numbers differ only where the parameters do.
"""

import time
from dataclasses import dataclass, field

import numpy as np

import reference

from ..spec import Spec


@dataclass
class History:
    impl: str
    epochs: list = field(default_factory=list)  # dicts: epoch, accuracy, cost, divergence, seconds
    step_losses: list = field(default_factory=list)  # every step's batch cost, in order


def divergence(params, ref_params):
    """max over layers and entries of |θ − θ_ref| (0.0 for the reference itself)."""
    return max(float(np.max(np.abs(a - b))) for pair, ref in zip(params, ref_params)
               for a, b in zip(pair, ref))


def train_side_by_side(impls, spec: Spec, data, *, lr, batch_size, epochs, seed, dtype, init,
                       progress=None):
    """Returns {name: History}. ``impls`` must start with the reference (the divergence baseline)."""
    dtype = np.dtype(dtype)
    x, y = data.x_train.astype(dtype), data.y_train(dtype)
    x_test = data.x_test.astype(np.float64)
    params0 = reference.init_params(spec.sizes, seed, scheme=init, dtype=dtype)
    order = reference.batch_order(len(x), batch_size, epochs, seed + 1)  # separate, seeded stream
    steps = -(-len(x) // batch_size)
    state = {impl.name: params0 for impl in impls}
    histories = {impl.name: History(impl.name) for impl in impls}
    for epoch in range(1, epochs + 1):
        batches = order[(epoch - 1) * steps:epoch * steps]
        for impl in impls:
            start = time.perf_counter()
            run = impl.train(spec, state[impl.name], x, y, lr=lr, batches=batches)
            seconds = time.perf_counter() - start
            state[impl.name] = run.params
            p64 = [(W.astype(np.float64), b.astype(np.float64)) for W, b in run.params]
            acc = reference.accuracy(p64, x_test, data.labels_test, spec.activation, spec.output)
            histories[impl.name].step_losses.extend(float(c) for c in run.losses)
            histories[impl.name].epochs.append(dict(
                epoch=epoch, accuracy=acc, cost=float(np.mean(run.losses)),
                divergence=divergence(run.params, state[impls[0].name]), seconds=seconds))
            if progress is not None:
                progress(impl.name, epoch, histories[impl.name].epochs[-1])
    return histories
