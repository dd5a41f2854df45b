"""The same network, with the gradients from torch.autograd instead of BP1–BP4 by hand.

The forward pass is the one of manual.py; the backward pass is ``torch.autograd.grad`` of the batch
cost with respect to every W^l, b^l and z^l. The gradient with respect to z^l is the batch δ:
∂C/∂z^l_x = (1/m) ∂C_x/∂z^l_x, so multiplying by m gives the contract's per-example δ^l, which the
suite compares with manual.py's BP1/BP2 layer by layer. Conv blocks (seed 003) are F.conv2d (a
cross-correlation, exactly the contract's), the activation and F.max_pool2d/F.avg_pool2d; their
z^l are in the same list, so their δ^l come out of the same autograd.grad call, shaped like z^l.
"""

import torch
import torch.nn.functional as F

from .activations import ACTIVATIONS
from .costs import cost
from .optimizers import supports_optimizer as supports_optimizer  # True for every valid optimizer
from .training import Gradients, Trajectory, train_loop
from .types import Batches, ConvBlock, LearningRate, ParamsIn, Spec
from .validation import check_inputs


def backprop(spec: Spec, params: ParamsIn, x: torch.Tensor, y: torch.Tensor) -> Gradients:
    """Validate, then forward and autograd backward: a Gradients like manual.backprop's."""
    check_inputs(spec, params, x, y)
    return backprop_unchecked(spec, params, x, y)


def pooled(a: torch.Tensor, block: ConvBlock) -> torch.Tensor:
    """torch's pooling; max_pool2d's backward sends δ to the first maximal element of each window."""
    if block.pool is None:
        return a
    return (F.max_pool2d if block.pool == "max" else F.avg_pool2d)(a, block.pool_size)  # BP-pool


def backprop_unchecked(spec: Spec, params: ParamsIn, x: torch.Tensor, y: torch.Tensor) -> Gradients:
    conv = getattr(spec, "conv", ()) or ()
    m, L, c = x.shape[0], len(params), len(conv)
    leaves = [(W.detach().requires_grad_(True), b.detach().requires_grad_(True)) for W, b in params]
    with torch.enable_grad():
        zs, activations = [], [x]
        for block, (K, b) in zip(conv, leaves):  # K^l (C_l, C_{l-1}, k, k)
            z = F.conv2d(activations[-1], K, b, stride=block.stride, padding=block.padding)  # BP-conv
            zs.append(z)
            activations.append(pooled(ACTIVATIONS[spec.activation][0](z), block))
        a = activations[-1].flatten(1) if c else x  # BP-flatten (m, C_c·H_c·W_c), C order
        for l, (W, b) in enumerate(leaves[c:], start=c + 1):
            g, _ = ACTIVATIONS[spec.output if l == L else spec.activation]
            z = a @ W.T + b  # BP-z (m, n_l) = (m, n_{l-1}) @ (n_{l-1}, n_l) + (n_l,)
            a = g(z)  # BP-a
            zs.append(z)
            activations.append(a)
        C = cost(spec.loss, zs[-1], activations[-1], y).mean()  # BP-C (1/m) Σ_x C_x
        C = C + 0.5 * spec.weight_decay * sum(torch.sum(W * W) for W, _ in leaves)  # BP-C + (λ/2)Σ‖W‖²
        flat = [t for pair in leaves for t in pair]
        derivatives = torch.autograd.grad(C, flat + zs)  # BP-grad ∂C/∂W^l, ∂C/∂b^l, then ∂C/∂z^l

    grads = list(zip(derivatives[0 : 2 * L : 2], derivatives[1 : 2 * L : 2]))  # BP-dC (∂C/∂W^l, ∂C/∂b^l)
    deltas = [m * dz for dz in derivatives[2 * L :]]  # BP-delta per-example δ^l = m ∂C/∂z^l
    detach = [t.detach() for t in zs], [t.detach() for t in activations]
    return Gradients(float(C.detach()), grads, *detach, deltas)


def train(
    spec: Spec,
    params: ParamsIn,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    lr: LearningRate,
    batches: Batches,
    optimizer: object = None,
) -> Trajectory:
    """Mini-batch training over the given batch order with autograd gradients: plain SGD, or the
    ``optimizer``'s update (optimizers.py) with ``lr`` a rate or a per-step schedule."""
    return train_loop(backprop_unchecked, spec, params, x, y, lr=lr, batches=batches, optimizer=optimizer)
