"""Train several implementations side by side: same seed, same initial weights, same batch order.

After every epoch each implementation's task score (tasks.py: test accuracy, or test reconstruction
cost), mean training cost over the epoch's steps, and largest parameter divergence from the
reference (max |θ_impl − θ_ref| over all layers) are recorded. The score uses the reference forward
pass on each implementation's own parameters, so the numbers differ only where the parameters do.
A conv spec is fed images (m, C, H, W); a dense one the flat rows.
"""

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

import reference
from conformance.contract import Array, Named, Params
from conformance.spec import Spec
from conformance.training.datasets import Dataset, aligned
from conformance.training.tasks import Autoencoder, Classify


@dataclass
class History:
    impl: str
    epochs: list = field(default_factory=list)  # dicts: epoch, accuracy, cost, divergence, seconds
    step_losses: list = field(default_factory=list)  # every step's batch cost, in order
    # the latest parameters (not written to train.json); Any: Params once set, None until then
    params: Any = field(default=None, repr=False)

    def record(self) -> dict[str, object]:
        return {"impl": self.impl, "epochs": self.epochs, "step_losses": self.step_losses}


def divergence(params: Params, ref_params: Params) -> float:
    """max over layers and entries of |θ − θ_ref| (0.0 for the reference itself)."""
    return max(
        float(np.max(np.abs(a - b))) for pair, ref in zip(params, ref_params) for a, b in zip(pair, ref)
    )


def inputs(spec: Spec, x: np.ndarray) -> np.ndarray:
    """The flat rows x (m, n) as the spec's input layer takes them: images (m, C, H, W) for conv."""
    if not getattr(spec, "conv", ()):
        return x
    assert spec.input_shape is not None  # a Spec with conv blocks has one (check_spec)
    return x.reshape(len(x), *spec.input_shape)


def forward(spec: Spec, params: Params, x: np.ndarray) -> tuple[list[Array], list[Array]]:
    """The reference forward pass (zs, activations) on float64 copies of any implementation's
    parameters: what the scores and the pictures are computed from."""
    p64 = [(W.astype(np.float64), b.astype(np.float64)) for W, b in params]
    return reference.feedforward(p64, x.astype(np.float64), spec.activation, spec.output, conv=spec.conv)


def train_side_by_side(
    impls: Sequence[Named],
    spec: Spec,
    task: type[Classify] | type[Autoencoder],
    data: Dataset,
    *,
    lr: float,
    batch_size: int,
    epochs: int,
    seed: int,
    dtype: npt.DTypeLike,
    init: str,
    progress: Callable[[str, int, dict], object] | None = None,
) -> dict[str, History]:
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
