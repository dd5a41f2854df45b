"""Result types and the mini-batch SGD loop shared by torch_impl.manual and torch_impl.autograd.

The loop is handed its batch order (a list of index tensors) and takes one step per entry:
W ← W − η ∂C/∂W, b ← b − η ∂C/∂b, recording the batch cost before each update.
"""

from collections.abc import Callable
from typing import NamedTuple, TypeAlias

import torch

from .types import Batches, Params, ParamsIn, Spec
from .validation import check_inputs, check_training


class Gradients(NamedTuple):
    loss: float  # batch cost C
    grads: Params  # [(∂C/∂W^l, ∂C/∂b^l)], shaped like params
    zs: list[torch.Tensor] | None = None  # [z^1..z^L], (m, n_l) each
    activations: list[torch.Tensor] | None = None  # [a^0 = x, a^1..a^L]
    deltas: list[torch.Tensor] | None = None  # [δ^1..δ^L], per example, (m, n_l) each


class Trajectory(NamedTuple):
    losses: list[float]  # one float per step, before that step's update
    params: Params  # final [(W, b)]


# manual.backprop_unchecked or autograd.backprop_unchecked: (spec, params, x, y) -> Gradients, unchecked
BackpropFn: TypeAlias = Callable[[Spec, ParamsIn, torch.Tensor, torch.Tensor], Gradients]


def sgd(
    backprop_unchecked: BackpropFn,
    spec: Spec,
    params: ParamsIn,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    lr: float,
    batches: Batches,
) -> Trajectory:
    """Validate once, then step through ``batches`` with the given gradient function."""
    check_inputs(spec, params, x, y)
    check_training(lr, batches, x.shape[0])
    losses = []
    for idx in batches:
        result = backprop_unchecked(spec, params, x[idx], y[idx])
        losses.append(result.loss)
        with torch.no_grad():
            steps = zip(params, result.grads)  # BP-SGD
            params = [(W - lr * nabla_w, b - lr * nabla_b) for (W, b), (nabla_w, nabla_b) in steps]  # BP-SGD
    assert isinstance(params, list)  # the last step's new list (batches is never empty)
    return Trajectory(losses, params)
