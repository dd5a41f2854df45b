"""Train several implementations side by side: same seed, same initial weights, same batch order.

After every epoch each implementation's task score (tasks.py: test accuracy, or test reconstruction
cost), mean training cost over the epoch's steps, and largest parameter divergence from the
reference (max |θ_impl − θ_ref| over all layers) are recorded. The score uses the reference forward
pass on each implementation's own parameters, so the numbers differ only where the parameters do.
A conv spec is fed images (m, C, H, W); a dense one the flat rows.
"""

import time
from dataclasses import dataclass, field

import numpy as np

import reference
from conformance.spec import Spec
from conformance.training.datasets import aligned


@dataclass
class History:
    impl: str
    epochs: list = field(default_factory=list)  # dicts: epoch, accuracy, cost, divergence, seconds
    step_losses: list = field(default_factory=list)  # every step's batch cost, in order
    params: list = field(default=None, repr=False)  # the latest parameters (not written to train.json)

    def record(self):
        return {"impl": self.impl, "epochs": self.epochs, "step_losses": self.step_losses}


def divergence(params, ref_params):
    """max over layers and entries of |θ − θ_ref| (0.0 for the reference itself)."""
    return max(
        float(np.max(np.abs(a - b))) for pair, ref in zip(params, ref_params) for a, b in zip(pair, ref)
    )


def inputs(spec, x):
    """The flat rows x (m, n) as the spec's input layer takes them: images (m, C, H, W) for conv."""
    return x.reshape(len(x), *spec.input_shape) if getattr(spec, "conv", ()) else x


def forward(spec, params, x):
    """The reference forward pass (zs, activations) on float64 copies of any implementation's
    parameters: what the scores and the pictures are computed from."""
    p64 = [(W.astype(np.float64), b.astype(np.float64)) for W, b in params]
    return reference.feedforward(p64, x.astype(np.float64), spec.activation, spec.output, conv=spec.conv)


def train_side_by_side(
    impls, spec: Spec, task, data, *, lr, batch_size, epochs, seed, dtype, init, progress=None
):
    """Returns {name: History}. ``impls`` must start with the reference (the divergence baseline)."""
    dtype = np.dtype(dtype)
    x, y = aligned(inputs(spec, data.x_train), dtype), task.targets(data, dtype)  # data.py: aligned
    x_test = inputs(spec, data.x_test)
    params0 = reference.init_params(
        spec.sizes, seed, scheme=init, dtype=dtype, input_shape=spec.input_shape, conv=spec.conv
    )
    order = reference.batch_order(len(x), batch_size, epochs, seed + 1)  # separate, seeded stream
    steps = -(-len(x) // batch_size)
    histories = {impl.name: History(impl.name, params=params0) for impl in impls}
    for epoch in range(1, epochs + 1):
        batches = order[(epoch - 1) * steps : epoch * steps]
        for impl in impls:
            history = histories[impl.name]
            start = time.perf_counter()
            run = impl.train(spec, history.params, x, y, lr=lr, batches=batches)
            seconds = time.perf_counter() - start
            history.params = run.params
            zs, activations = forward(spec, run.params, x_test)
            history.step_losses.extend(float(c) for c in run.losses)
            history.epochs.append(
                {
                    "epoch": epoch,
                    task.metric: task.score(spec, zs, activations, data),
                    "cost": float(np.mean(run.losses)),
                    "divergence": divergence(run.params, histories[impls[0].name].params),
                    "seconds": seconds,
                }
            )
            if progress is not None:
                progress(impl.name, epoch, history.epochs[-1])
    return histories
