"""Backpropagation written out by hand with jax.numpy: pure functions over a list of (W, b).

A line-by-line translation of reference/network.py (compare them side by side), in the style of
JAX's own ``mnist_classifier_fromscratch.py``, and jit-compiled. No jax.grad anywhere in this file.

    BP1  δ^L = ∇_a C_x ⊙ g'(z^L)            BP3  ∂C/∂b^l = (1/m) Σ_x δ^l_x
    BP2  δ^l = (δ^{l+1} W^{l+1}) ⊙ g'(z^l)   BP4  ∂C/∂W^l = (1/m) (δ^l).T a^{l-1} + λ W^l
"""

from functools import partial

import jax
import jax.numpy as jnp

from .activations import ACTIVATIONS
from .costs import cost, output_error
from .training import Gradients, train_scan, train_steps
from .validation import check_inputs


def feedforward(params, x, activation, output):
    """Return (zs, activations) for layers 1..L, with activations[0] = x."""
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


@partial(jax.jit, static_argnames=("activation", "output", "loss"))
def backprop_arrays(params, x, y, weight_decay, activation, output, loss):
    """(C, grads, zs, activations, deltas) of one forward and backward pass."""
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
        nabla_w = (delta.T @ a_prev) / m + weight_decay * W  # BP4 (n_l, n_{l-1})
        grads.append((nabla_w, nabla_b))

    # C = (1/m) Σ_x C_x + (λ/2) Σ_l ‖W^l‖²
    C = cost(loss, zs[-1], activations[-1], y).mean()  # BP-C
    C = C + 0.5 * weight_decay * sum(jnp.sum(W * W) for W, _ in params)  # BP-C
    return C, grads, zs, activations, deltas


def loss_and_grads(params, x, y, weight_decay, activation, output, loss):
    """(C, grads): the pure function the training loops step with."""
    C, grads, *_ = backprop_arrays(params, x, y, weight_decay, activation, output, loss)
    return C, grads


def backprop(spec, params, x, y):
    """Validate in Python, then run the compiled pass: a Gradients with every intermediate."""
    check_inputs(spec, params, x, y)
    C, grads, zs, activations, deltas = backprop_arrays(
        params, x, y, spec.weight_decay, spec.activation, spec.output, spec.loss)
    return Gradients(float(C), grads, zs, activations, deltas)


def train(spec, params, x, y, *, lr, batches):
    """SGD step by step from Python with the hand-written gradients."""
    return train_steps(loss_and_grads, spec, params, x, y, lr=lr, batches=batches)


def train_compiled(spec, params, x, y, *, lr, batches):
    """The same run compiled end to end with jax.lax.scan."""
    return train_scan(loss_and_grads, spec, params, x, y, lr=lr, batches=batches)
