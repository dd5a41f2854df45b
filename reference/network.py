"""Forward pass and backpropagation (BP1–BP4) for a fully connected network, in NumPy.

This is the oracle every other implementation is measured against. It follows Nielsen's
``network.py`` (seed 004) and the four equations of seeds 001 and 003, vectorised over a batch of
examples held as rows (shared/design.md):

    z^l = a^{l-1} W^l.T + b^l,     a^l = g_l(z^l),    a^0 = x
    BP1  δ^L = ∇_a C_x ⊙ g'(z^L)
    BP2  δ^l = (δ^{l+1} W^{l+1}) ⊙ g'(z^l)
    BP3  ∂C/∂b^l = (1/m) Σ_x δ^l_x
    BP4  ∂C/∂W^l = (1/m) (δ^l).T a^{l-1} + λ W^l

with C = (1/m) Σ_x C_x + (λ/2) Σ_l ‖W^l‖². Row x of ``delta[l]`` is ∂C_x/∂z^l_x, the per-example
δ of the seeds; the 1/m of the batch cost appears only in BP3 and BP4.
Shapes: W^l (n_l, n_{l-1}), b^l (n_l,), x (m, n_0), y (m, n_L), z^l, a^l, δ^l (m, n_l).

A spec with conv blocks (seed 003's extension) puts layers 1..c of conv.py in front: x is
(m, C_0, H_0, W_0), the pooled a^c is flattened in C order into the first dense layer, and the
backward pass un-flattens δ^{c+1} W^{c+1} into ∂C_x/∂a^c for conv.backward. The penalty and λ cover
every kernel K^l as well as every W^l.
"""

from typing import NamedTuple

import numpy as np

from .activations import ACTIVATIONS
from .conv import backward as conv_backward
from .conv import conv_stack
from .conv import forward as conv_forward
from .costs import cost, output_error
from .validation import check_inputs


class Gradients(NamedTuple):
    """What one backward pass returns (the harness contract's attribute names)."""

    loss: float  # batch cost C before any update
    grads: list  # [(∂C/∂W^l, ∂C/∂b^l) for l = 1..L], shaped like params ((∂C/∂K^l, ∂C/∂b^l) for conv)
    zs: list  # [z^1, ..., z^L], each (m, n_l); conv: (m, C_l, H_l, W_l) before activation and pooling
    activations: list  # [a^0 = x, a^1, ..., a^L]; conv: pooled, 4-D
    deltas: list  # [δ^1, ..., δ^L], each (m, n_l), per example; conv: shaped like z^l


def feedforward(params, x, activation, output, *, conv=()):
    """Return (zs, activations): every weighted input z^l and activation a^l, layers 1..L.
    ``conv``: the spec's conv blocks, whose (K, b) pairs come first in ``params``."""
    L, c = len(params), len(conv)
    zs, activations = conv_forward(conv, params[:c], x, activation) if c else ([], [x])
    a = activations[-1].reshape(len(x), -1) if c else x  # BP-flatten (m, C_c·H_c·W_c), C order
    for l, (W, b) in enumerate(params[c:], start=c + 1):
        g, _ = ACTIVATIONS[output if l == L else activation]
        z = a @ W.T + b  # BP-z (m, n_l) = (m, n_{l-1}) @ (n_{l-1}, n_l) + (n_l,)
        a = g(z)  # BP-a
        zs.append(z)
        activations.append(a)
    return zs, activations


def batch_cost(spec, params, zs, activations, y):
    """C = (1/m) Σ_x C_x + (λ/2) Σ_l ‖W^l‖²  (biases are not decayed; kernels K^l are, as W^l)."""
    data_cost = np.mean(cost(spec.loss, zs[-1], activations[-1], y))  # BP-C
    penalty = 0.5 * spec.weight_decay * sum(np.sum(W * W) for W, _ in params)  # BP-C
    return float(data_cost + penalty)


def backprop(spec, params, x, y):
    """Validate the inputs, then run forward and backward; return a :class:`Gradients`."""
    check_inputs(spec, params, x, y)
    return backprop_unchecked(spec, params, x, y)


def backprop_unchecked(spec, params, x, y):
    """The forward and backward pass proper, for callers that have validated already (training)."""
    activation, output, loss, lam = spec.activation, spec.output, spec.loss, spec.weight_decay
    conv = conv_stack(spec)[1]
    m, L, c = x.shape[0], len(params), len(conv)

    zs, activations = feedforward(params, x, activation, output, conv=conv)
    g_prime = ACTIVATIONS[activation][1]

    deltas = [None] * L
    delta = output_error(loss, zs[-1], activations[-1], y, ACTIVATIONS[output][1])  # BP1 (m, n_L)
    deltas[L - 1] = delta
    for l in range(L - 1, c, -1):  # dense layers L-1 .. c+1; list index l-1 holds layer l
        W_next = params[l][0]  # W^{l+1}: (n_{l+1}, n_l)
        delta = (delta @ W_next) * g_prime(zs[l - 1])  # BP2 (m, n_l) = (m, n_{l+1}) @ (n_{l+1}, n_l)
        deltas[l - 1] = delta

    grads = []
    if c:  # ∂C_x/∂a^c = δ^{c+1} W^{c+1} (as in BP2, before g'), C order back to a^c's shape
        nabla_a = (delta @ params[c][0]).reshape(activations[c].shape)  # BP-unflatten (m, C_c, H_c, W_c)
        deltas[:c], grads = conv_backward(conv, params, zs, activations, nabla_a, activation, lam)
    for l in range(c + 1, L + 1):
        delta, a_prev, W = deltas[l - 1], activations[l - 1].reshape(m, -1), params[l - 1][0]
        nabla_b = delta.sum(axis=0) / m  # BP3 (n_l,)
        nabla_w = (delta.T @ a_prev) / m + lam * W  # BP4 (n_l, n_{l-1}) = (n_l, m) @ (m, n_{l-1})
        grads.append((nabla_w, nabla_b))

    return Gradients(batch_cost(spec, params, zs, activations, y), grads, zs, activations, deltas)
