"""Forward pass and backpropagation (BP1–BP4) for a fully connected network, in NumPy.

This is the oracle every other implementation is measured against. It follows Nielsen's
``network.py`` (seed 004) and the four equations of seeds 001 and 003, vectorised over a batch of
examples held as rows (docs/contract.md):

    z^l = a^{l-1} W^l.T + b^l,     a^l = g_l(z^l),    a^0 = x
    BP1  δ^L = ∇_a C_x ⊙ g'(z^L)
    BP2  δ^l = (δ^{l+1} W^{l+1}) ⊙ g'(z^l)
    BP3  ∂C/∂b^l = (1/m) Σ_x δ^l_x
    BP4  ∂C/∂W^l = (1/m) (δ^l).T a^{l-1} + λ W^l

with C = (1/m) Σ_x C_x + (λ/2) Σ_l ‖W^l‖². Row x of ``delta[l]`` is ∂C_x/∂z^l_x, the per-example
δ of the seeds; the 1/m of the batch cost appears only in BP3 and BP4.
Shapes: W^l (n_l, n_{l-1}), b^l (n_l,), x (m, n_0), y (m, n_L), z^l, a^l, δ^l (m, n_l).
"""

from typing import NamedTuple

import numpy as np

from .activations import ACTIVATIONS
from .costs import cost, output_error
from .validation import check_data, check_params, check_spec


class Gradients(NamedTuple):
    """What one backward pass returns (the harness contract's attribute names)."""

    loss: float  # batch cost C before any update
    grads: list  # [(∂C/∂W^l, ∂C/∂b^l) for l = 1..L], shaped like params
    zs: list  # [z^1, ..., z^L], each (m, n_l)
    activations: list  # [a^0 = x, a^1, ..., a^L]
    deltas: list  # [δ^1, ..., δ^L], each (m, n_l), per example


def feedforward(params, x, activation, output):
    """Return (zs, activations): every weighted input z^l and activation a^l, layers 1..L."""
    L = len(params)
    zs, activations = [], [x]
    a = x
    for l, (W, b) in enumerate(params, start=1):
        g, _ = ACTIVATIONS[output if l == L else activation]
        z = a @ W.T + b  # BP-z (m, n_l) = (m, n_{l-1}) @ (n_{l-1}, n_l) + (n_l,)
        a = g(z)  # BP-a
        zs.append(z)
        activations.append(a)
    return zs, activations


def batch_cost(spec, params, zs, activations, y):
    """C = (1/m) Σ_x C_x + (λ/2) Σ_l ‖W^l‖²  (biases are not decayed)."""
    data_cost = np.mean(cost(spec.loss, zs[-1], activations[-1], y))  # BP-C
    penalty = 0.5 * spec.weight_decay * sum(np.sum(W * W) for W, _ in params)  # BP-C
    return float(data_cost + penalty)


def backprop(spec, params, x, y):
    """Validate the inputs, then run forward and backward; return a :class:`Gradients`."""
    sizes, _, _, loss, _ = check_spec(spec)
    check_data(x, y, sizes, check_params(params, sizes), loss)
    return backprop_unchecked(spec, params, x, y)


def backprop_unchecked(spec, params, x, y):
    """The forward and backward pass proper, for callers that have validated already (training)."""
    activation, output, loss, lam = spec.activation, spec.output, spec.loss, spec.weight_decay
    m, L = x.shape[0], len(params)

    zs, activations = feedforward(params, x, activation, output)
    g_prime = ACTIVATIONS[activation][1]

    deltas = [None] * L
    delta = output_error(loss, zs[-1], activations[-1], y, ACTIVATIONS[output][1])  # BP1 (m, n_L)
    deltas[L - 1] = delta
    for l in range(L - 1, 0, -1):  # layers L-1 .. 1; list index l-1 holds layer l
        W_next = params[l][0]  # W^{l+1}: (n_{l+1}, n_l)
        delta = (delta @ W_next) * g_prime(zs[l - 1])  # BP2 (m, n_l) = (m, n_{l+1}) @ (n_{l+1}, n_l)
        deltas[l - 1] = delta

    grads = []
    for l in range(1, L + 1):
        delta, a_prev, W = deltas[l - 1], activations[l - 1], params[l - 1][0]
        nabla_b = delta.sum(axis=0) / m  # BP3 (n_l,)
        nabla_w = (delta.T @ a_prev) / m + lam * W  # BP4 (n_l, n_{l-1}) = (n_l, m) @ (m, n_{l-1})
        grads.append((nabla_w, nabla_b))

    return Gradients(batch_cost(spec, params, zs, activations, y), grads, zs, activations, deltas)
