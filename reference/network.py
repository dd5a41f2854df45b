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

A spec with conv blocks (seed 003's extension) puts layers 1..c of conv.py in front: x is
(m, C_0, H_0, W_0), the pooled a^c is flattened in C order into the first dense layer, and the
backward pass un-flattens δ^{c+1} W^{c+1} into ∂C_x/∂a^c for conv.backward. The penalty and λ cover
every kernel K^l as well as every W^l.

A spec with ``recurrent`` set (an Elman network, backprop through time) is handed to recurrent.py,
which returns the same :class:`Gradients` with W, U, b triples for its recurrent layers.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

from .activations import ACTIVATIONS, PRIME_FROM_OUTPUT
from .conv import backward as conv_backward
from .conv import conv_stack
from .conv import forward as conv_forward
from .costs import cost, output_error
from .recurrent import backprop_unchecked as recurrent_backprop
from .recurrent import feedforward as recurrent_feedforward
from .types import ConvBlock, FloatArray, Gradients, Params, ParamsIn, Recurrent, Spec
from .validation import check_inputs


def feedforward(
    params: ParamsIn,
    x: FloatArray,
    activation: str,
    output: str,
    *,
    conv: Sequence[ConvBlock] = (),
    recurrent: Recurrent | None = None,
) -> tuple[list[FloatArray], list[FloatArray]]:
    """Return (zs, activations): every weighted input z^l and activation a^l, layers 1..L.
    ``conv``: the spec's conv blocks, whose (K, b) pairs come first in ``params``; ``recurrent``:
    the spec's recurrence, for an Elman network (recurrent.py: x (m, T, n_0), per-step arrays)."""
    if recurrent is not None:
        return recurrent_feedforward(params, x, activation, output, recurrent.outputs)
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


def batch_cost(
    spec: Spec, params: ParamsIn, zs: list[FloatArray], activations: list[FloatArray], y: FloatArray
) -> float:
    """C = (1/m) Σ_x C_x + (λ/2) Σ_l ‖W^l‖²  (biases are not decayed; kernels K^l are, as W^l)."""
    lam = spec.weight_decay
    data_cost = float(cost(spec.loss, zs[-1], activations[-1], y).sum()) / len(y)  # BP-C (1/m) Σ_x C_x
    if lam:  # BP-C (no penalty work at all when λ = 0, the usual case)
        data_cost += 0.5 * lam * sum(float(np.vdot(W, W)) for W, _ in params)  # BP-C ‖W‖² = W·W
    return data_cost


def backprop(spec: Spec, params: ParamsIn, x: FloatArray, y: FloatArray) -> Gradients:
    """Validate the inputs, then run forward and backward; return a :class:`Gradients`."""
    check_inputs(spec, params, x, y)
    return backprop_unchecked(spec, params, x, y)


def backprop_unchecked(spec: Spec, params: ParamsIn, x: FloatArray, y: FloatArray) -> Gradients:
    """The forward and backward pass proper, for callers that have validated already (training)."""
    if getattr(spec, "recurrent", None) is not None:  # an Elman network: backprop through time
        return recurrent_backprop(spec, params, x, y)
    activation, output, loss, lam = spec.activation, spec.output, spec.loss, spec.weight_decay
    conv = conv_stack(spec)[1]
    m, L, c = x.shape[0], len(params), len(conv)

    zs, activations = feedforward(params, x, activation, output, conv=conv)
    g_prime = PRIME_FROM_OUTPUT[activation]  # g'(z^l) from the cached a^l = g(z^l): σ once per layer
    assert g_prime is not None, "a hidden activation (check_spec) has an elementwise g'"

    deltas: list[Any] = [None] * L  # one slot per layer, each filled below (None until then)
    delta = output_error(loss, activations[-1], y, PRIME_FROM_OUTPUT[output])  # BP1 (m, n_L)
    deltas[L - 1] = delta
    for l in range(L - 1, c, -1):  # dense layers L-1 .. c+1; list index l-1 holds layer l
        W_next = params[l][0]  # W^{l+1}: (n_{l+1}, n_l)
        delta = (delta @ W_next) * g_prime(activations[l])  # BP2 (m, n_l) = (m, n_{l+1}) @ (n_{l+1}, n_l)
        deltas[l - 1] = delta

    grads: Params = []
    if c:  # ∂C_x/∂a^c = δ^{c+1} W^{c+1} (as in BP2, before g'), C order back to a^c's shape
        nabla_a = (delta @ params[c][0]).reshape(activations[c].shape)  # BP-unflatten (m, C_c, H_c, W_c)
        deltas[:c], grads = conv_backward(conv, params, zs, activations, nabla_a, activation, lam)
    for l in range(c + 1, L + 1):
        delta, a_prev, W = deltas[l - 1], activations[l - 1].reshape(m, -1), params[l - 1][0]
        nabla_b = delta.sum(axis=0) / m  # BP3 (n_l,)
        nabla_w = (delta.T / m) @ a_prev  # BP4 (n_l, n_{l-1}) = (n_l, m) @ (m, n_{l-1}); 1/m on the small δ
        if lam:  # BP4 + λ W^l (skipped when λ = 0: no work for a term that is zero)
            nabla_w += lam * W  # BP4
        grads.append((nabla_w, nabla_b))

    return Gradients(batch_cost(spec, params, zs, activations, y), grads, zs, activations, deltas)
