"""Result types and mini-batch training for the JAX ports, in two forms that must agree:

- ``train_steps``: one jitted step per batch, driven from a Python loop;
- ``train_scan``: the whole run compiled as ``jax.lax.scan`` inside ``jax.jit``. Consecutive batches of
  the same size are stacked into one (k, batch_size) index array and scanned over, with their η_t as
  a (k,) array beside it; a ragged last batch (batch size not dividing n) becomes a second, one-step
  scan.

Both take ``loss_and_grads(params, x, y, weight_decay, activation, output, loss, conv) -> (C, grads)``,
a pure function from manual.py or autodiff.py, and record C before each update. ``conv`` is the
spec's conv blocks as a tuple of validation.Block (hashable, so jit can treat it as static), () for
an MLP; x is then (m, C_0, H_0, W_0) and params start with the (K, b) pairs. For a recurrent spec
it is the spec's validation.Rnn (steps, outputs), static too: x is (m, T, n_0), the batches pick
whole sequences, and the recurrent layers are (W, U, b) triples, updated array by array like pairs.

The update is plain SGD (``optimizer=None``) or optimizers.py's (clip, transform, decoupled decay),
its state carried beside the parameters. The optimizer's numbers and η_t are traced arguments, so
problems of one shape share one compiled step; only the rule and its switches are static.
"""

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, NamedTuple, TypeAlias

import jax
import jax.numpy as jnp
import numpy as np

from . import optimizers
from .optimizers import State
from .types import Batches, Params, ParamsIn, Spec
from .validation import Hyper, Structure, check_network, check_optimizer, check_training

supports_recurrent = True  # train_steps and train_scan take a recurrent spec's Rnn as they take conv


class Gradients(NamedTuple):
    loss: float  # batch cost C
    grads: Params  # [(∂C/∂K^l, ∂C/∂b^l)] per conv block, then [(∂C/∂W^l, ∂C/∂b^l)], shaped like params
    # ((∂C/∂W^l, ∂C/∂U^l, ∂C/∂b^l) for a recurrent layer)
    zs: list[jax.Array] | None = None  # [z^1..z^L], (m, n_l) each; (m, C_l, H_l, W_l) for a conv layer
    # (recurrent: (m, T, n_l) for the hidden layers; the output layer's too for "all", (m, n_L) for "last")
    activations: list[jax.Array] | None = None  # [a^0 = x, a^1..a^L]; conv ones pooled, 4-D
    deltas: list[jax.Array] | None = None  # [δ^1..δ^L], per example (and per step), shaped like zs


class Trajectory(NamedTuple):
    losses: list[float]  # one float per step, before that step's update
    params: Params  # final [(K, b)] + [(W, b)]; [(W, U, b)] + [(W, b)] for a recurrent spec
    state: State | None = None  # the optimizer's final state (optimizers.py, "t" an int); None for SGD


# manual.loss_and_grads or autodiff.loss_and_grads:
# (params, x, y, weight_decay, activation, output, loss, conv) -> (C, grads)
LossAndGrads: TypeAlias = Callable[
    [ParamsIn, jax.Array, jax.Array, float, str, str, str, Structure], tuple[jax.Array, Params]
]


def sgd_update(params: ParamsIn, grads: ParamsIn, lr: float) -> Params:
    """W ← W − η ∂C/∂W, b ← b − η ∂C/∂b (and U ← U − η ∂C/∂U in a recurrent layer's triple)."""
    return [
        tuple(theta - lr * d for theta, d in zip(layer, nabla))  # BP-SGD θ ← θ − η ∂C/∂θ, array by array
        for layer, nabla in zip(params, grads)
    ]


def update(
    hyper: Hyper | None, params: ParamsIn, grads: ParamsIn, state: State | None, lr: Any
) -> tuple[Params, State | None]:
    """Plain SGD without an optimizer (no state), else optimizers.step (clip, transform, decay)."""
    if hyper is None:
        return sgd_update(params, grads, lr), None
    assert state is not None  # init_state's, for every optimizer
    return optimizers.step(hyper, params, grads, state, lr)


STATIC = ("loss_and_grads", "activation", "output", "loss", "conv")


@partial(jax.jit, static_argnames=STATIC)
def step(
    params: ParamsIn,
    state: State | None,
    x: jax.Array,
    y: jax.Array,
    idx: jax.Array,
    lr: Any,
    weight_decay: float,
    hyper: Hyper | None,
    *,
    loss_and_grads: LossAndGrads,
    activation: str,
    output: str,
    loss: str,
    conv: Structure,
) -> tuple[Params, State | None, jax.Array]:
    """One step on the mini-batch x[idx], y[idx] at rate lr = η_t. The rows are gathered inside the
    compiled step: gathered outside, each new batch shape would cost two more (op-by-op)
    compilations. ``hyper`` is a pytree (validation.Hyper): its numbers are traced, like lr."""
    C, grads = loss_and_grads(params, x[idx], y[idx], weight_decay, activation, output, loss, conv)
    params, state = update(hyper, params, grads, state, lr)
    return params, state, C


def start(params: ParamsIn, hyper: Hyper | None) -> tuple[Params, State | None]:
    """The parameters as jax.Arrays and the optimizer's fresh state (None for plain SGD)."""
    params = [tuple(jnp.asarray(theta) for theta in layer) for layer in params]  # pairs and triples
    return params, None if hyper is None else optimizers.init_state(hyper, params)


def finish(losses: list[float], params: Params, state: State | None) -> Trajectory:
    """The Trajectory, with the state in the reference's layout: "t" an int, pairs (triples) as tuples."""
    if state is not None:
        state = {k: int(v) if k == "t" else [tuple(layer) for layer in v] for k, v in state.items()}
    return Trajectory(losses, params, state)


def train_steps(
    loss_and_grads: LossAndGrads,
    spec: Spec,
    params: ParamsIn,
    x: jax.Array,
    y: jax.Array,
    *,
    lr: float | Sequence[float],
    batches: Batches,
    optimizer: object = None,
) -> Trajectory:
    """Step by step from Python: one compiled step per batch size (and rule), called once per batch."""
    conv = check_network(spec, params, x, y)  # conv blocks, or a recurrent spec's Rnn
    hyper = None if optimizer is None else check_optimizer(optimizer)
    rates = check_training(lr, batches, x.shape[0])
    params, state = start(params, hyper)
    losses = []
    for idx, lr_t in zip(batches, rates):
        params, state, C = step(
            params,
            state,
            x,
            y,
            idx,
            lr_t,
            spec.weight_decay,
            hyper,
            loss_and_grads=loss_and_grads,
            activation=spec.activation,
            output=spec.output,
            loss=spec.loss,
            conv=conv,
        )
        losses.append(C)
    assert isinstance(params, list)  # the last step's new list (batches is never empty)
    return finish([float(C) for C in jax.device_get(losses)], params, state)  # one transfer, not one per step


@partial(jax.jit, static_argnames=STATIC)
def scan_run(
    params: Params,  # the carry, with state: train_scan's list, as every step returns it
    state: State | None,
    x: jax.Array,
    y: jax.Array,
    index_rows: jax.Array,
    rates: jax.Array,
    weight_decay: float,
    hyper: Hyper | None,
    *,
    loss_and_grads: LossAndGrads,
    activation: str,
    output: str,
    loss: str,
    conv: Structure,
) -> tuple[tuple[Params, State | None], jax.Array]:
    """Every row of index_rows (k, batch_size), at the rates η_t (k,), in one compiled loop; the
    optimizer's state travels in the carry with the parameters."""

    def body(
        carry: tuple[Params, State | None], row: tuple[jax.Array, jax.Array]
    ) -> tuple[tuple[Params, State | None], jax.Array]:
        (params, state), (idx, lr) = carry, row
        params, state, C = step(
            params,
            state,
            x,
            y,
            idx,
            lr,
            weight_decay,
            hyper,
            loss_and_grads=loss_and_grads,
            activation=activation,
            output=output,
            loss=loss,
            conv=conv,
        )
        return (params, state), C

    return jax.lax.scan(body, (params, state), (index_rows, rates))


def train_scan(
    loss_and_grads: LossAndGrads,
    spec: Spec,
    params: ParamsIn,
    x: jax.Array,
    y: jax.Array,
    *,
    lr: float | Sequence[float],
    batches: Batches,
    optimizer: object = None,
) -> Trajectory:
    """The whole run compiled with lax.scan; runs of equal-size batches are scanned together."""
    conv = check_network(spec, params, x, y)  # conv blocks, or a recurrent spec's Rnn
    hyper = None if optimizer is None else check_optimizer(optimizer)
    rates = check_training(lr, batches, x.shape[0])
    params, state = start(params, hyper)
    # consecutive batches of one size -> one (k, batch_size) array and their (k,) rates, on the host
    runs: list[list[np.ndarray]] = []
    for idx in batches:
        if runs and runs[-1][-1].shape == idx.shape:
            runs[-1].append(np.asarray(idx))
        else:
            runs.append([np.asarray(idx)])
    losses, done = [], 0
    for run in runs:  # one transfer of the stacked indices and rates per run, in, and of its losses, out
        run_rates = np.asarray(rates[done : done + len(run)], dtype=x.dtype)
        done += len(run)
        (params, state), C = scan_run(
            params,
            state,
            x,
            y,
            jax.device_put(np.stack(run)),
            jax.device_put(run_rates),
            spec.weight_decay,
            hyper,
            loss_and_grads=loss_and_grads,
            activation=spec.activation,
            output=spec.output,
            loss=spec.loss,
            conv=conv,
        )
        losses.append(C)
    assert isinstance(params, list)  # the last step's new list (batches is never empty)
    return finish(np.concatenate(jax.device_get(losses)).tolist(), params, state)
