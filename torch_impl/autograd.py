"""The same network, with the gradients from torch.autograd instead of BP1–BP4 by hand.

The forward pass is the one of manual.py; the backward pass is ``torch.autograd.grad`` of the batch
cost with respect to every W^l, b^l and z^l. The gradient with respect to z^l is the batch δ:
∂C/∂z^l_x = (1/m) ∂C_x/∂z^l_x, so multiplying by m gives the contract's per-example δ^l, which the
suite compares with manual.py's BP1/BP2 layer by layer. Conv blocks (seed 003) are F.conv2d (a
cross-correlation, exactly the contract's), the activation and F.max_pool2d/F.avg_pool2d; their
z^l are in the same list, so their δ^l come out of the same autograd.grad call, shaped like z^l.

A spec with ``recurrent`` set (an Elman network, manual's recurrent.py has the maths) runs the
forward as a loop over time, every z^l_t its own tensor in the graph; one autograd.grad call gives
∂C/∂W^l, ∂C/∂U^l, ∂C/∂b^l and every ∂C/∂z^l_t, so δ^l_t = m ∂C/∂z^l_t is backpropagation through
time done by autograd, stacked over t into the contract's (m, T, n_l).
"""

from typing import cast

import torch
import torch.nn.functional as F

from .activations import ACTIVATIONS
from .costs import cost
from .optimizers import supports_optimizer as supports_optimizer  # True for every valid optimizer
from .training import Gradients, Trajectory, train_loop
from .types import Batches, ConvBlock, LearningRate, Params, ParamsIn, RecurrentSpec, Spec
from .validation import check_inputs

supports_recurrent = True  # recurrent specs (the forward over time, autograd for BPTT); read by the harness


def backprop(spec: Spec, params: ParamsIn, x: torch.Tensor, y: torch.Tensor) -> Gradients:
    """Validate, then forward and autograd backward: a Gradients like manual.backprop's."""
    check_inputs(spec, params, x, y)
    return backprop_unchecked(spec, params, x, y)


def pooled(a: torch.Tensor, block: ConvBlock) -> torch.Tensor:
    """torch's pooling; max_pool2d's backward sends δ to the first maximal element of each window."""
    if block.pool is None:
        return a
    return (F.max_pool2d if block.pool == "max" else F.avg_pool2d)(a, block.pool_size)  # BP-pool


def recurrent_backprop(spec: RecurrentSpec, params: ParamsIn, x: torch.Tensor, y: torch.Tensor) -> Gradients:
    """The Elman network's forward, one step at a time, and autograd through every step."""
    outputs = spec.recurrent.outputs
    m, T, _ = x.shape
    g, _ = ACTIVATIONS[spec.activation]
    g_out, _ = ACTIVATIONS[spec.output]
    leaves = [tuple(t.detach().requires_grad_(True) for t in layer) for layer in params]
    with torch.enable_grad():
        step_zs: list[torch.Tensor] = []  # z^l_t, layer by layer, each layer's T steps in order
        activations = [x]
        a_below = list(x.unbind(dim=1))  # a^0_t = x[:, t], (m, n_0) each
        for W, U, b in leaves[:-1]:
            h = torch.zeros(m, W.shape[0], dtype=x.dtype, device=x.device)  # h^l_0 = 0
            hs = []
            for t in range(T):
                z = a_below[t] @ W.T + h @ U.T + b  # BPTT-z (m, n_l): from below and from step t-1
                h = g(z)  # BPTT-h h^l_t = g(z^l_t)
                step_zs.append(z)
                hs.append(h)
            a_below = hs
            activations.append(torch.stack(hs, dim=1))  # (m, T, n_l)
        W, b = leaves[-1]
        steps = range(T) if outputs == "all" else [T - 1]  # the output steps
        targets = [y[:, t] for t in steps] if outputs == "all" else [y]
        z_out = [a_below[t] @ W.T + b for t in steps]  # BPTT-out z^L_t (m, n_L)
        a_out = [g_out(z) for z in z_out]  # BPTT-out a^L_t
        per_step = [cost(spec.loss, z, a, y_t).sum() for z, a, y_t in zip(z_out, a_out, targets)]
        C = torch.stack(per_step).sum() / m  # BPTT-C (1/m) Σ_x Σ_t C_{x,t}
        penalty = sum(torch.sum(w * w) for layer in leaves for w in layer[:-1])  # ‖W^l‖² + ‖U^l‖², not b
        C = C + 0.5 * spec.weight_decay * penalty  # BPTT-C + (λ/2) Σ_l (‖W^l‖² + ‖U^l‖²)
        flat = [t for layer in leaves for t in layer]
        derivatives = torch.autograd.grad(C, flat + step_zs + z_out)  # BPTT-grad ∂C/∂θ, then ∂C/∂z^l_t

    grads: Params = []
    k = 0
    for layer in leaves:  # (∂C/∂W, ∂C/∂U, ∂C/∂b) per hidden layer, then (∂C/∂W^L, ∂C/∂b^L)
        grads.append(tuple(derivatives[k : k + len(layer)]))
        k += len(layer)
    dz = [m * d for d in derivatives[k:]]  # per-example δ^l_t = m ∂C/∂z^l_t
    deltas = [torch.stack(dz[i * T : (i + 1) * T], dim=1) for i in range(len(leaves) - 1)]  # (m, T, n_l)
    out = dz[(len(leaves) - 1) * T :]
    deltas.append(torch.stack(out, dim=1) if outputs == "all" else out[0])  # (m, T, n_L) or (m, n_L)
    zs = [torch.stack(step_zs[i * T : (i + 1) * T], dim=1).detach() for i in range(len(leaves) - 1)]
    stacked = [torch.stack(v, dim=1) if outputs == "all" else v[0] for v in (z_out, a_out)]
    zs.append(stacked[0].detach())
    activations = [a.detach() for a in activations] + [stacked[1].detach()]
    return Gradients(float(C.detach()), grads, zs, activations, deltas)


def backprop_unchecked(spec: Spec, params: ParamsIn, x: torch.Tensor, y: torch.Tensor) -> Gradients:
    if getattr(spec, "recurrent", None) is not None:  # an Elman network: autograd through time
        return recurrent_backprop(cast(RecurrentSpec, spec), params, x, y)
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

    pairs = zip(derivatives[0 : 2 * L : 2], derivatives[1 : 2 * L : 2])
    grads: Params = list(pairs)  # BP-dC (∂C/∂W^l, ∂C/∂b^l)
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
