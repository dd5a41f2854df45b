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

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .validation import check_inputs, check_training


class Gradients(NamedTuple):
    loss: float  # batch cost C
    grads: list  # [(∂C/∂K^l, ∂C/∂b^l)] per conv block, then [(∂C/∂W^l, ∂C/∂b^l)], shaped like params
    zs: list | None = None  # [z^1..z^L], (m, n_l) each; (m, C_l, H_l, W_l) for a conv layer
    activations: list | None = None  # [a^0 = x, a^1..a^L]; conv ones pooled, 4-D
    deltas: list | None = None  # [δ^1..δ^L], per example, shaped like zs


class Trajectory(NamedTuple):
    losses: list  # one float per step, before that step's update
    params: list  # final [(K, b)] + [(W, b)]


def sgd_update(params, grads, lr):
    """W ← W − η ∂C/∂W, b ← b − η ∂C/∂b."""
    return [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(params, grads)]  # BP-SGD


@partial(jax.jit, static_argnames=("loss_and_grads", "activation", "output", "loss", "conv"))
def step(params, x, y, idx, lr, weight_decay, *, loss_and_grads, activation, output, loss, conv):
    """One SGD step on the mini-batch x[idx], y[idx]. The rows are gathered inside the compiled
    step: gathered outside, each new batch shape would cost two more (op-by-op) compilations."""
    C, grads = loss_and_grads(params, x[idx], y[idx], weight_decay, activation, output, loss, conv)
    return sgd_update(params, grads, lr), C


def train_steps(loss_and_grads, spec, params, x, y, *, lr, batches):
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
    return Trajectory([float(C) for C in jax.device_get(losses)], params)  # one transfer, not one per step


@partial(jax.jit, static_argnames=("loss_and_grads", "activation", "output", "loss", "conv"))
def scan_run(params, x, y, index_rows, lr, weight_decay, *, loss_and_grads, activation, output, loss, conv):
    """SGD over every row of index_rows (k, batch_size) in one compiled loop."""

    def body(params, idx):
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


def train_scan(loss_and_grads, spec, params, x, y, *, lr, batches):
    """The whole run compiled with lax.scan; runs of equal-size batches are scanned together."""
    conv = check_inputs(spec, params, x, y)
    check_training(lr, batches, x.shape[0])
    params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in params]
    runs = []  # consecutive batches of one size -> one (k, batch_size) array, stacked on the host
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
    return Trajectory(np.concatenate(jax.device_get(losses)).tolist(), params)
