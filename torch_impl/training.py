"""Result types and the mini-batch training loop shared by torch_impl.manual and torch_impl.autograd.

The loop is handed its batch order (a list of index tensors) and takes one step per entry,
recording the batch cost before each update: W ← W − η_t ∂C/∂W, b ← b − η_t ∂C/∂b (plain SGD), or
the update of optimizers.py when an ``optimizer`` is given. ``lr`` is η, or one η_t per step.
For a recurrent spec the batches index the m sequences (x[idx] is (|idx|, T, n_0)) and a layer's
(W, U, b) steps array by array like a (W, b) pair.
"""

from collections.abc import Callable
from typing import NamedTuple, TypeAlias

import torch

from . import optimizers
from .optimizers import State
from .types import Batches, LearningRate, Params, ParamsIn, Spec
from .validation import check_inputs, check_optimizer, check_training


class Gradients(NamedTuple):
    loss: float  # batch cost C
    grads: Params  # [(∂C/∂W^l, ∂C/∂b^l)], shaped like params ((∂C/∂W^l, ∂C/∂U^l, ∂C/∂b^l) recurrent)
    zs: list[torch.Tensor] | None = None  # [z^1..z^L], (m, n_l) each; recurrent (m, T, n_l)
    activations: list[torch.Tensor] | None = None  # [a^0 = x, a^1..a^L]
    deltas: list[torch.Tensor] | None = None  # [δ^1..δ^L], per example, shaped like zs


class Trajectory(NamedTuple):
    losses: list[float]  # one float per step, before that step's update
    params: Params  # final [(W, b)] ([(W, U, b)] for recurrent layers)
    state: State | None = None  # the optimizer's final state (optimizers.py); None for plain SGD


# manual.backprop_unchecked or autograd.backprop_unchecked: (spec, params, x, y) -> Gradients, unchecked
BackpropFn: TypeAlias = Callable[[Spec, ParamsIn, torch.Tensor, torch.Tensor], Gradients]


@torch.no_grad()
def sgd_step(params: ParamsIn, grads: ParamsIn, lr: float) -> Params:
    """W ← W − η ∂C/∂W, b ← b − η ∂C/∂b (the 1/m already in grads); array by array, so a recurrent
    layer's (W, U, b) steps the same way (U ← U − η ∂C/∂U)."""
    steps = zip(params, grads)  # BP-SGD
    return [tuple(theta - lr * g for theta, g in zip(*step)) for step in steps]  # BP-SGD


def train_loop(
    backprop_unchecked: BackpropFn,
    spec: Spec,
    params: ParamsIn,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    lr: LearningRate,
    batches: Batches,
    optimizer: object = None,
) -> Trajectory:
    """Validate once, then step through ``batches`` with the given gradient function: plain SGD
    (:func:`sgd_step`) for ``optimizer=None``, else optimizers.step with state fresh for this call,
    returned as ``state``."""
    check_inputs(spec, params, x, y)
    hyper = None if optimizer is None else check_optimizer(optimizer)
    rates = check_training(lr, batches, x.shape[0])
    state = None if hyper is None else optimizers.init_state(hyper, params)
    losses = []
    for idx, lr_t in zip(batches, rates):
        result = backprop_unchecked(spec, params, x[idx], y[idx])
        losses.append(result.loss)
        if hyper is None or state is None:
            params = sgd_step(params, result.grads, lr_t)
        else:
            params, state = optimizers.step(hyper, params, result.grads, state, lr_t)
    assert isinstance(params, list)  # the last step's new list (batches is never empty)
    return Trajectory(losses, params, state)
