"""Result types and mini-batch SGD for the JAX ports, in two forms that must agree:

- ``train_steps``: one jitted SGD step per batch, driven from a Python loop;
- ``train_scan``: the whole run compiled as ``jax.lax.scan`` inside ``jax.jit``. Consecutive batches of
  the same size are stacked into one (k, batch_size) index array and scanned over; a ragged last
  batch (batch size not dividing n) becomes a second, one-step scan.

Both take ``loss_and_grads(params, x, y, weight_decay, activation, output, loss, conv) -> (C, grads)``,
a pure function from manual.py or autodiff.py, and record C before each update. ``conv`` is the
spec's conv blocks as a tuple of validation.Block (hashable, so jit can treat it as static), () for
an MLP; x is then (m, C_0, H_0, W_0) and params start with the (K, b) pairs.
"""

from collections.abc import Callable
from functools import partial
from typing import NamedTuple, TypeAlias

import jax
import jax.numpy as jnp
import numpy as np

from .types import Batches, Params, ParamsIn, Spec
from .validation import Blocks, check_inputs, check_training


class Gradients(NamedTuple):
    loss: float  # batch cost C
    grads: Params  # [(∂C/∂K^l, ∂C/∂b^l)] per conv block, then [(∂C/∂W^l, ∂C/∂b^l)], shaped like params
    zs: list[jax.Array] | None = None  # [z^1..z^L], (m, n_l) each; (m, C_l, H_l, W_l) for a conv layer
    activations: list[jax.Array] | None = None  # [a^0 = x, a^1..a^L]; conv ones pooled, 4-D
    deltas: list[jax.Array] | None = None  # [δ^1..δ^L], per example, shaped like zs


class Trajectory(NamedTuple):
    losses: list[float]  # one float per step, before that step's update
    params: Params  # final [(K, b)] + [(W, b)]


# manual.loss_and_grads or autodiff.loss_and_grads:
# (params, x, y, weight_decay, activation, output, loss, conv) -> (C, grads)
LossAndGrads: TypeAlias = Callable[
    [ParamsIn, jax.Array, jax.Array, float, str, str, str, Blocks], tuple[jax.Array, Params]
]


def sgd_update(params: ParamsIn, grads: ParamsIn, lr: float) -> Params:
    """W ← W − η ∂C/∂W, b ← b − η ∂C/∂b."""
    return [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(params, grads)]  # BP-SGD


@partial(jax.jit, static_argnames=("loss_and_grads", "activation", "output", "loss", "conv"))
def step(
    params: ParamsIn,
    x: jax.Array,
    y: jax.Array,
    idx: jax.Array,
    lr: float,
    weight_decay: float,
    *,
    loss_and_grads: LossAndGrads,
    activation: str,
    output: str,
    loss: str,
    conv: Blocks,
) -> tuple[Params, jax.Array]:
    """One SGD step on the mini-batch x[idx], y[idx]. The rows are gathered inside the compiled
    step: gathered outside, each new batch shape would cost two more (op-by-op) compilations."""
    C, grads = loss_and_grads(params, x[idx], y[idx], weight_decay, activation, output, loss, conv)
    return sgd_update(params, grads, lr), C


def train_steps(
    loss_and_grads: LossAndGrads,
    spec: Spec,
    params: ParamsIn,
    x: jax.Array,
    y: jax.Array,
    *,
    lr: float,
    batches: Batches,
) -> Trajectory:
    """Step by step from Python: one compiled step per batch size, called once per batch."""
    conv = check_inputs(spec, params, x, y)
    check_training(lr, batches, x.shape[0])
    params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in params]
    losses = []
    for idx in batches:
        params, C = step(
            params,
            x,
            y,
            idx,
            lr,
            spec.weight_decay,
            loss_and_grads=loss_and_grads,
            activation=spec.activation,
            output=spec.output,
            loss=spec.loss,
            conv=conv,
        )
        losses.append(C)
    assert isinstance(params, list)  # the last step's new list (batches is never empty)
    return Trajectory([float(C) for C in jax.device_get(losses)], params)  # one transfer, not one per step


@partial(jax.jit, static_argnames=("loss_and_grads", "activation", "output", "loss", "conv"))
def scan_run(
    params: Params,  # the carry: train_scan's list, as every step returns it
    x: jax.Array,
    y: jax.Array,
    index_rows: jax.Array,
    lr: float,
    weight_decay: float,
    *,
    loss_and_grads: LossAndGrads,
    activation: str,
    output: str,
    loss: str,
    conv: Blocks,
) -> tuple[Params, jax.Array]:
    """SGD over every row of index_rows (k, batch_size) in one compiled loop."""

    def body(params: Params, idx: jax.Array) -> tuple[Params, jax.Array]:
        return step(
            params,
            x,
            y,
            idx,
            lr,
            weight_decay,
            loss_and_grads=loss_and_grads,
            activation=activation,
            output=output,
            loss=loss,
            conv=conv,
        )

    return jax.lax.scan(body, params, index_rows)


def train_scan(
    loss_and_grads: LossAndGrads,
    spec: Spec,
    params: ParamsIn,
    x: jax.Array,
    y: jax.Array,
    *,
    lr: float,
    batches: Batches,
) -> Trajectory:
    """The whole run compiled with lax.scan; runs of equal-size batches are scanned together."""
    conv = check_inputs(spec, params, x, y)
    check_training(lr, batches, x.shape[0])
    params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in params]
    # consecutive batches of one size -> one (k, batch_size) array, stacked on the host
    runs: list[list[np.ndarray]] = []
    for idx in batches:
        if runs and runs[-1][-1].shape == idx.shape:
            runs[-1].append(np.asarray(idx))
        else:
            runs.append([np.asarray(idx)])
    losses = []
    for run in runs:  # one transfer of the stacked indices per run, in, and of its losses, out
        params, C = scan_run(
            params,
            x,
            y,
            jax.device_put(np.stack(run)),
            lr,
            spec.weight_decay,
            loss_and_grads=loss_and_grads,
            activation=spec.activation,
            output=spec.output,
            loss=spec.loss,
            conv=conv,
        )
        losses.append(C)
    assert isinstance(params, list)  # the last step's new list (batches is never empty)
    return Trajectory(np.concatenate(jax.device_get(losses)).tolist(), params)
