"""Result types and the mini-batch SGD loop shared by torch_impl.manual and torch_impl.autograd.

The loop is handed its batch order (a list of index tensors) and takes one step per entry:
W ← W − η ∂C/∂W, b ← b − η ∂C/∂b, recording the batch cost before each update.
"""

from typing import NamedTuple

import torch

from .validation import check_inputs, check_training


class Gradients(NamedTuple):
    loss: float  # batch cost C
    grads: list  # [(∂C/∂W^l, ∂C/∂b^l)], shaped like params
    zs: list | None = None  # [z^1..z^L], (m, n_l) each
    activations: list | None = None  # [a^0 = x, a^1..a^L]
    deltas: list | None = None  # [δ^1..δ^L], per example, (m, n_l) each


class Trajectory(NamedTuple):
    losses: list  # one float per step, before that step's update
    params: list  # final [(W, b)]


def sgd(backprop_unchecked, spec, params, x, y, *, lr, batches):
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
    return Trajectory(losses, params)
