"""Backpropagation written out by hand with torch tensor operations, no autograd.

A line-by-line translation of reference/network.py (compare them side by side): the same forward
pass, the same four equations (seeds 001, 003, 004), on tensors of the caller's dtype and device.
Everything runs under ``torch.no_grad()``: no graph is built, so these really are manual deltas.

    BP1  δ^L = ∇_a C_x ⊙ g'(z^L)            BP3  ∂C/∂b^l = (1/m) Σ_x δ^l_x
    BP2  δ^l = (δ^{l+1} W^{l+1}) ⊙ g'(z^l)   BP4  ∂C/∂W^l = (1/m) (δ^l).T a^{l-1} + λ W^l

A spec with ``conv`` blocks (seed 003's convolutional extension) puts layers 1..c in front: each a
correlation, the hidden activation and an optional pooling (conv.py). a^c is flattened in C order
into the first dense layer; backwards, δ^{c+1} W^{c+1} is un-flattened to a^c's shape and enters
the conv stack, where BP2–BP4 become their -conv forms (conv.py). Without blocks this is the MLP,
line for line as before.

A spec with ``recurrent`` set (an Elman network: x (m, T, n_0), a (W, U, b) triple per hidden
layer) goes to recurrent.py instead: the same forward per time step, and backpropagation through
time, by hand, in reverse time.
"""

from collections.abc import Sequence
from typing import Any, cast

import torch

from .activations import ACTIVATIONS, PRIME_FROM_OUTPUT
from .conv import backward as conv_backward
from .conv import forward as conv_forward
from .costs import cost, output_error
from .optimizers import supports_optimizer as supports_optimizer  # True for every valid optimizer
from .recurrent import backprop_unchecked as recurrent_backprop
from .training import Gradients, Trajectory, train_loop
from .types import Batches, ConvBlock, LearningRate, Params, ParamsIn, RecurrentSpec, Spec
from .validation import check_inputs

supports_recurrent = True  # recurrent specs (BPTT by hand, recurrent.py); read by the harness


def feedforward(
    params: ParamsIn, x: torch.Tensor, activation: str, output: str, *, conv: Sequence[ConvBlock] = ()
) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor | None]]:
    """Return (zs, activations, routes) for layers 1..L, with activations[0] = x.

    ``conv``: the spec's conv blocks, whose (K, b) pairs come first in ``params``; routes holds
    their pooling routes (conv.pool), which the backward pass reuses. An MLP has none.
    """
    L, c = len(params), len(conv)
    zs, activations, routes = conv_forward(conv, params[:c], x, activation) if c else ([], [x], [])
    a = activations[-1].flatten(1) if c else x  # BP-flatten (m, C_c·H_c·W_c), C order
    for l, (W, b) in enumerate(params[c:], start=c + 1):
        g, _ = ACTIVATIONS[output if l == L else activation]
        z = a @ W.T + b  # BP-z (m, n_l) = (m, n_{l-1}) @ (n_{l-1}, n_l) + (n_l,)
        a = g(z)  # BP-a
        zs.append(z)
        activations.append(a)
    return zs, activations, routes


def backprop(spec: Spec, params: ParamsIn, x: torch.Tensor, y: torch.Tensor) -> Gradients:
    """Validate, then forward and backward: a Gradients with loss, grads, zs, activations, deltas."""
    check_inputs(spec, params, x, y)
    return backprop_unchecked(spec, params, x, y)


@torch.no_grad()
def backprop_unchecked(spec: Spec, params: ParamsIn, x: torch.Tensor, y: torch.Tensor) -> Gradients:
    if getattr(spec, "recurrent", None) is not None:  # an Elman network: BPTT (recurrent.py)
        return recurrent_backprop(cast(RecurrentSpec, spec), params, x, y)
    conv = getattr(spec, "conv", ()) or ()
    m, L, c = x.shape[0], len(params), len(conv)
    zs, activations, routes = feedforward(params, x, spec.activation, spec.output, conv=conv)
    lam = spec.weight_decay
    g_prime = PRIME_FROM_OUTPUT[spec.activation]  # g'(z^l) from the cached a^l = g(z^l)
    assert g_prime is not None, "a hidden activation (check_spec) has an elementwise g'"

    deltas: list[Any] = [None] * L  # one slot per layer, each filled below (None until then)
    delta = output_error(spec.loss, activations[-1], y, PRIME_FROM_OUTPUT[spec.output])  # BP1
    deltas[L - 1] = delta
    for l in range(L - 1, c, -1):  # dense layers L-1 .. c+1; list index l-1 holds layer l
        W_next = params[l][0]  # W^{l+1}: (n_{l+1}, n_l)
        delta = (delta @ W_next) * g_prime(activations[l])  # BP2 (m, n_l) = (m, n_{l+1}) @ (n_{l+1}, n_l)
        deltas[l - 1] = delta

    grads: Params = []
    if c:  # ∂C_x/∂a^c = δ^{c+1} W^{c+1} (BP2 before g'), back to a^c's shape in C order
        nabla_a = (delta @ params[c][0]).reshape(activations[c].shape)  # BP-unflatten (m, C_c, H_c, W_c)
        deltas[:c], grads = conv_backward(
            conv, params, zs, activations, routes, nabla_a, spec.activation, lam
        )
    for l in range(c + 1, L + 1):
        delta, a_prev, W = deltas[l - 1], activations[l - 1].flatten(1), params[l - 1][0]
        nabla_b = delta.sum(dim=0) / m  # BP3 (n_l,)
        nabla_w = (delta.T / m) @ a_prev  # BP4 (n_l, n_{l-1}) = (n_l, m) @ (m, n_{l-1}); 1/m on the small δ
        if lam:  # BP4 + λ W^l (skipped when λ = 0: no work for a term that is zero)
            nabla_w += lam * W  # BP4
        grads.append((nabla_w, nabla_b))

    # C = (1/m) Σ_x C_x + (λ/2) Σ_l ‖W^l‖²
    loss = float(cost(spec.loss, zs[-1], activations[-1], y).sum()) / m  # BP-C (1/m) Σ_x C_x
    if lam:  # BP-C (no penalty work at all when λ = 0, the usual case)
        loss += 0.5 * lam * sum(float(torch.sum(W * W)) for W, _ in params)  # BP-C
    return Gradients(loss, grads, zs, activations, deltas)


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
    """Mini-batch training over the given batch order with the hand-written gradients: plain SGD, or the
    ``optimizer``'s update (optimizers.py) with ``lr`` a rate or a per-step schedule."""
    return train_loop(backprop_unchecked, spec, params, x, y, lr=lr, batches=batches, optimizer=optimizer)
