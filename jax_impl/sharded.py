"""Data-parallel training with JAX sharding: every mini-batch split over a 1-D mesh of k devices.

Each mini-batch of m examples is cut into k contiguous shards whose sizes differ by at most one (the
first m mod k shards get ⌈m/k⌉ examples, the others ⌊m/k⌋, as torch's ``tensor_split``; a shard is
empty when k > m). Devices need equal shapes, so every shard is padded to s = ⌈m/k⌉ rows, each row
with a weight: 1 for a real example, 0 for padding (padding repeats example 0, so its cost is
finite and weighted away). Inside ``jax.shard_map`` each device computes the weighted *sum*
S_r = Σ_x w_x C_x of its shard and the gradient of that sum; one ``psum`` (the all-reduce) adds
the k sums, and only then is anything divided, by the true m:

    C = (1/m) Σ_r S_r + (λ/2) Σ_l ‖W^l‖²,   ∂C/∂W = (1/m) Σ_r ∂S_r/∂W + λW

Averaging the k shard means instead would weight the examples of a short shard more. The decay is
added once, after the all-reduce; the weights are the caller's, replicated to every device.

The forward pass, the costs and the update are jax_impl's own (manual.feedforward, costs.cost,
training.update): only the split and the reduction are new. A conv spec runs the same way: its
blocks are manual.feedforward's, and a shard is a slice of the examples (s, C, H, W) like any other.
With an ``optimizer``, training.update is optimizers.step (clip, transform, decoupled decay) on the
combined gradient, after the all-reduce: global-norm clipping sees ‖g‖ of the full gradient, never
one shard's, and the parameters and the state stay replicated, the same on every device. The
devices are JAX's: on GPUs or TPUs the real ones; on a CPU, JAX makes k of them when the process
starts with ``XLA_FLAGS=--xla_force_host_platform_device_count=k`` (read once, before JAX first
uses a device). Float64 needs ``jax.enable_x64(True)`` around the calls, as everywhere in jax_impl.
"""

from collections.abc import Sequence
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpy.typing as npt
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from . import optimizers
from .costs import cost
from .manual import feedforward
from .optimizers import State, supports_optimizer
from .training import Gradients, Trajectory, finish, update
from .types import Batches, Params, ParamsIn, Spec
from .validation import Blocks, Hyper, check_inputs, check_optimizer, check_training

AXIS = "batch"  # the mesh's one axis: the examples


def shard_layout(
    m: int, k: int, s: int | None = None
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_], npt.NDArray[np.intp]]:
    """The k padded shards of a batch of m examples, s rows each (default ⌈m/k⌉): (rows (k·s,) the
    batch position each padded row takes, real (k·s,) True for an example and False for padding,
    keep (m,) where the m examples sit in the padded layout, in their original order)."""
    s = -(-m // k) if s is None else s
    sizes = [m // k + (r < m % k) for r in range(k)]
    starts = np.cumsum([0, *sizes[:-1]])
    real = np.arange(s)[None, :] < np.asarray(sizes)[:, None]  # (k, s)
    rows = np.where(real, starts[:, None] + np.arange(s)[None, :], 0)  # padding repeats example 0
    return rows.ravel(), real.ravel(), np.flatnonzero(real)


def shard_cost(
    params: ParamsIn,
    x: jax.Array,
    y: jax.Array,
    weights: jax.Array,
    activation: str,
    output: str,
    loss: str,
    conv: Blocks,
) -> tuple[jax.Array, tuple[list[jax.Array], list[jax.Array]]]:
    """S_r = Σ_x w_x C_x over one device's padded shard, with its (zs, activations)."""
    zs, activations = feedforward(params, x, activation, output, conv)
    return jnp.sum(weights * cost(loss, zs[-1], activations[-1], y)), (zs, activations)


def backprop_padded(
    params: ParamsIn,
    x: jax.Array,
    y: jax.Array,
    weights: jax.Array,
    weight_decay: float,
    mesh: Mesh,
    activation: str,
    output: str,
    loss: str,
    conv: Blocks,
) -> tuple[jax.Array, Params, list[jax.Array], list[jax.Array]]:
    """(C, grads, zs, activations) of a padded batch (k·s rows, sharded s per device); m = Σ weights."""

    @partial(
        jax.shard_map,
        mesh=mesh,
        in_specs=(P(), P(AXIS), P(AXIS), P(AXIS)),
        out_specs=(P(), P(), P(AXIS), P(AXIS)),
    )
    def per_device(
        params: ParamsIn, x: jax.Array, y: jax.Array, weights: jax.Array
    ) -> tuple[jax.Array, Params, list[jax.Array], list[jax.Array]]:
        # Each device differentiates its own replica of the weights, so its gradient is its shard's
        # alone (differentiating the shared replica would make JAX insert the all-reduce itself).
        params = jax.lax.pcast(params, AXIS, to="varying")
        value_and_grad = jax.value_and_grad(shard_cost, has_aux=True)
        (S, (zs, activations)), nabla = value_and_grad(params, x, y, weights, activation, output, loss, conv)
        return jax.lax.psum(S, AXIS), jax.lax.psum(nabla, AXIS), zs, activations  # the all-reduce

    S, nabla, zs, activations = per_device(params, x, y, weights)
    m = jnp.sum(weights)  # the true batch size, exactly (a sum of ones)
    C = S / m + 0.5 * weight_decay * sum(jnp.sum(W * W) for W, _ in params)
    grads = [
        (nabla_w / m + weight_decay * W, nabla_b / m)  # decay once, after the all-reduce
        for (nabla_w, nabla_b), (W, _) in zip(nabla, params)
    ]
    return C, grads, zs, activations


STATIC = ("mesh", "activation", "output", "loss", "conv")


@partial(jax.jit, static_argnames=STATIC)
def gradients_arrays(
    params: ParamsIn,
    x: jax.Array,
    y: jax.Array,
    rows: jax.Array,
    weights: jax.Array,
    keep: jax.Array,
    weight_decay: float,
    mesh: Mesh,
    activation: str,
    output: str,
    loss: str,
    conv: Blocks,
) -> tuple[jax.Array, Params, list[jax.Array], list[jax.Array]]:
    """One pass over the batch x[rows]; zs and activations without the padding (m rows)."""
    C, grads, zs, activations = backprop_padded(
        params, x[rows], y[rows], weights, weight_decay, mesh, activation, output, loss, conv
    )
    return C, grads, [z[keep] for z in zs], [a[keep] for a in activations]


@partial(jax.jit, static_argnames=STATIC)
def step(
    params: ParamsIn,
    state: State | None,
    x: jax.Array,
    y: jax.Array,
    rows: jax.Array,
    weights: jax.Array,
    lr: Any,
    weight_decay: float,
    hyper: Hyper | None,
    mesh: Mesh,
    activation: str,
    output: str,
    loss: str,
    conv: Blocks,
) -> tuple[Params, State | None, jax.Array]:
    """One step on the batch x[rows] at rate lr = η_t: plain SGD for ``hyper`` None, else
    optimizers.step on the all-reduced gradient; returns (new params, new state, C before it)."""
    C, grads, _, _ = backprop_padded(
        params, x[rows], y[rows], weights, weight_decay, mesh, activation, output, loss, conv
    )
    params, state = update(hyper, params, grads, state, lr)  # replicated: the same on every device
    return params, state, C


class Sharded:
    """``gradients`` and ``train`` over a mesh of the first ``workers`` devices (jax.Arrays in and
    out, as the other ports)."""

    supports_optimizer = staticmethod(supports_optimizer)  # every rule: optimizers.py's own step

    def __init__(self, workers: int, devices: Sequence[jax.Device] | None = None) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int):
            raise TypeError(f"workers: expected an int >= 1, got {workers!r}")
        if workers < 1:
            raise ValueError(f"workers: expected an int >= 1, got {workers}")
        devices = list(jax.devices() if devices is None else devices)
        if len(devices) < workers:
            raise ValueError(
                f"workers: {workers} devices needed, JAX has {len(devices)}; on a CPU "
                f"start the process with XLA_FLAGS=--xla_force_host_platform_device_count"
                f"={workers} (JAX reads it once, when it starts)"
            )
        self.mesh = Mesh(np.array(devices[:workers]), (AXIS,))

    def _static(self, spec: Spec, conv: Blocks) -> dict[str, Any]:
        return dict(mesh=self.mesh, activation=spec.activation, output=spec.output, loss=spec.loss, conv=conv)

    def gradients(self, spec: Spec, params: ParamsIn, x: jax.Array, y: jax.Array) -> Gradients:
        conv = check_inputs(spec, params, x, y)
        rows, real, keep = shard_layout(x.shape[0], self.mesh.size)
        C, grads, zs, activations = gradients_arrays(
            params, x, y, rows, real.astype(x.dtype), keep, spec.weight_decay, **self._static(spec, conv)
        )
        return Gradients(float(C), grads, zs, activations)

    def train(
        self,
        spec: Spec,
        params: ParamsIn,
        x: jax.Array,
        y: jax.Array,
        *,
        lr: float | Sequence[float],
        batches: Batches,
        optimizer: object = None,
    ) -> Trajectory:
        """Step by step: plain SGD for ``optimizer=None``, else clip → transform → decay after the
        all-reduce, with state fresh for this call (returned as ``state``); ``lr`` is η or one η_t
        per step. Every step is padded to the shard length of the largest batch, so the step
        compiles once however the batch sizes vary."""
        conv = check_inputs(spec, params, x, y)
        hyper = None if optimizer is None else check_optimizer(optimizer)
        rates = check_training(lr, batches, x.shape[0])
        # x, y, the weights and the state replicated on the mesh once. The weights as every step
        # returns them: handed in with another placement, the first step would compile a second program.
        replicated = NamedSharding(self.mesh, P())
        x, y, params = jax.device_put((x, y, [(W, b) for W, b in params]), replicated)
        state = None if hyper is None else jax.device_put(optimizers.init_state(hyper, params), replicated)
        s = -(-max(i.shape[0] for i in batches) // self.mesh.size)
        losses = []
        for idx, lr_t in zip(batches, rates):
            rows, real, _ = shard_layout(idx.shape[0], self.mesh.size, s)
            # One step in flight at a time: with several queued, XLA's in-process CPU all-reduce can
            # wait forever for a device whose turn never comes (seen with 2 CPU devices under load).
            params, state, C = jax.block_until_ready(
                step(
                    params,
                    state,
                    x,
                    y,
                    np.asarray(idx)[rows],
                    real.astype(x.dtype),
                    lr_t,
                    spec.weight_decay,
                    hyper,
                    **self._static(spec, conv),
                )
            )
            losses.append(float(C))
        assert isinstance(params, list)  # the last step's new list (batches is never empty)
        return finish(losses, params, state)
