"""Backpropagation written out by hand with jax.numpy: pure functions over a list of (W, b).

A line-by-line translation of reference/network.py (compare them side by side), in the style of
JAX's own ``mnist_classifier_fromscratch.py``, and jit-compiled. No jax.grad anywhere in this file.

    BP1  δ^L = ∇_a C_x ⊙ g'(z^L)            BP3  ∂C/∂b^l = (1/m) Σ_x δ^l_x
    BP2  δ^l = (δ^{l+1} W^{l+1}) ⊙ g'(z^l)   BP4  ∂C/∂W^l = (1/m) (δ^l).T a^{l-1} + λ W^l

A conv spec (seed 003's extension) puts conv blocks 1..c in front: their (K, b) pairs come first in
params, ``conv`` is the tuple of validation.Block (static under jit), and conv.py holds their
forward and backward pieces. With ``conv=()`` every line below is the MLP's.

A recurrent spec (``spec.recurrent`` set: every hidden layer an Elman layer, trained by
backpropagation through time) passes validation.Rnn(steps, outputs) where the conv blocks go, and
``backprop_arrays`` hands it to recurrent.py: the forward pass a lax.scan over t = 1..T, the
backward pass by hand in a second lax.scan, t = T..1.
"""

from collections.abc import Sequence
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp

from . import recurrent
from .activations import ACTIVATIONS
from .conv import conv_gradients, correlate, correlate_transpose, pool, unpool
from .costs import cost, output_error
from .optimizers import supports_optimizer as supports_optimizer  # the opt-in: every rule
from .training import Gradients, Trajectory, train_scan, train_steps
from .types import Batches, ConvBlock, Params, ParamsIn, Spec
from .validation import Rnn, Structure, check_network

supports_recurrent = True  # the opt-in to recurrent specs: recurrent.py, backprop through time


def feedforward(
    params: ParamsIn, x: jax.Array, activation: str, output: str, conv: Sequence[ConvBlock] = ()
) -> tuple[list[jax.Array], list[jax.Array]]:
    """Return (zs, activations) for layers 1..L, with activations[0] = x; conv layers come first."""
    c, L = len(conv), len(params)
    zs, activations = [], [x]
    a = x
    g = ACTIVATIONS[activation][0]
    for (K, b), block in zip(params, conv):  # conv layers 1..c
        z = correlate(a, K, b, block.stride, block.padding)  # (m, C_l, H_l, W_l)
        a = pool(g(z), block.pool, block.pool_size)  # a^l, pooled: (m, C_l, H_l/size, W_l/size)
        zs.append(z)
        activations.append(a)
    a = a.reshape(a.shape[0], -1)  # BP-flatten (m, C_c·H_c·W_c) in C order; an MLP's x stays as is
    for l, (W, b) in enumerate(params[c:], start=c + 1):
        g, _ = ACTIVATIONS[output if l == L else activation]
        z = a @ W.T + b  # BP-z (m, n_l) = (m, n_{l-1}) @ (n_{l-1}, n_l) + (n_l,)
        a = g(z)  # BP-a
        zs.append(z)
        activations.append(a)
    return zs, activations


@partial(jax.jit, static_argnames=("activation", "output", "loss", "conv"))
def backprop_arrays(
    params: ParamsIn,
    x: jax.Array,
    y: jax.Array,
    weight_decay: float,
    activation: str,
    output: str,
    loss: str,
    conv: Structure = (),
) -> tuple[jax.Array, Params, list[jax.Array], list[jax.Array], list[jax.Array]]:
    """(C, grads, zs, activations, deltas) of one forward and backward pass; through time for a
    recurrent spec (``conv`` its Rnn)."""
    if isinstance(conv, Rnn):  # BPTT: recurrent.py's two scans, zs/activations/deltas (m, T, n_l)
        return recurrent.backprop_arrays(params, x, y, weight_decay, activation, output, loss, conv.outputs)
    m, c, L = x.shape[0], len(conv), len(params)
    zs, activations = feedforward(params, x, activation, output, conv)
    g, g_prime = ACTIVATIONS[activation]
    assert g_prime is not None, "a hidden activation (check_spec) has an elementwise g'"

    deltas: list[Any] = [None] * L  # one slot per layer, each filled below (None until then)
    delta = output_error(loss, zs[-1], activations[-1], y, ACTIVATIONS[output][1])  # BP1 (m, n_L)
    deltas[L - 1] = delta
    for l in range(L - 1, c, -1):  # dense layers L-1 .. c+1; list index l-1 holds layer l
        W_next = params[l][0]  # W^{l+1}: (n_{l+1}, n_l)
        delta = (delta @ W_next) * g_prime(zs[l - 1])  # BP2 (m, n_l) = (m, n_{l+1}) @ (n_{l+1}, n_l)
        deltas[l - 1] = delta

    if c:  # ∂C_x/∂a^c: BP2's product with the first dense layer, back in a^c's 4-D shape
        nabla_a = (delta @ params[c][0]).reshape(activations[c].shape)  # BP-unflatten (m, C_c, H_c, W_c)
    for l in range(c, 0, -1):  # conv layers c .. 1
        block, K = conv[l - 1], params[l - 1][0]
        # δ^l = unpool(∂C_x/∂a^l) ⊙ g'(z^l); max pooling needs g(z^l) to find each window's maximum
        delta = unpool(nabla_a, g(zs[l - 1]), block.pool, block.pool_size) * g_prime(zs[l - 1])
        deltas[l - 1] = delta
        if l > 1:  # ∂C_x/∂a^{l-1} for the block below: the transposed correlation
            nabla_a = correlate_transpose(delta, K, block.stride, block.padding, activations[l - 1].shape)

    grads = [
        conv_gradients(
            deltas[l - 1], activations[l - 1], params[l - 1][0], block.stride, block.padding, weight_decay
        )
        for l, block in enumerate(conv, start=1)
    ]
    for l in range(c + 1, L + 1):
        delta, a_prev, W = deltas[l - 1], activations[l - 1], params[l - 1][0]
        a_prev = a_prev.reshape(m, -1)  # layer c+1 reads a^c flattened; 2-D activations stay as they are
        nabla_b = delta.sum(axis=0) / m  # BP3 (n_l,)
        nabla_w = (delta.T @ a_prev) / m + weight_decay * W  # BP4 (n_l, n_{l-1})
        grads.append((nabla_w, nabla_b))

    # C = (1/m) Σ_x C_x + (λ/2) Σ_l ‖W^l‖²
    C = cost(loss, zs[-1], activations[-1], y).mean()  # BP-C
    C = C + 0.5 * weight_decay * sum(jnp.sum(W * W) for W, _ in params)  # BP-C
    return C, grads, zs, activations, deltas


def loss_and_grads(
    params: ParamsIn,
    x: jax.Array,
    y: jax.Array,
    weight_decay: float,
    activation: str,
    output: str,
    loss: str,
    conv: Structure = (),
) -> tuple[jax.Array, Params]:
    """(C, grads): the pure function the training loops step with."""
    C, grads, *_ = backprop_arrays(params, x, y, weight_decay, activation, output, loss, conv)
    return C, grads


def backprop(spec: Spec, params: ParamsIn, x: jax.Array, y: jax.Array) -> Gradients:
    """Validate in Python, then run the compiled pass: a Gradients with every intermediate."""
    conv = check_network(spec, params, x, y)  # the conv blocks, or a recurrent spec's Rnn
    C, grads, zs, activations, deltas = backprop_arrays(
        params, x, y, spec.weight_decay, spec.activation, spec.output, spec.loss, conv
    )
    return Gradients(float(C), grads, zs, activations, deltas)


def train(
    spec: Spec,
    params: ParamsIn,
    x: jax.Array,
    y: jax.Array,
    *,
    lr: float | Sequence[float],
    batches: Batches,
    optimizer: object = None,
) -> Trajectory:
    """Step by step from Python with the hand-written gradients; ``optimizer`` None is plain SGD,
    otherwise optimizers.py's update (``lr`` a float or one η_t per step)."""
    return train_steps(loss_and_grads, spec, params, x, y, lr=lr, batches=batches, optimizer=optimizer)


def train_compiled(
    spec: Spec,
    params: ParamsIn,
    x: jax.Array,
    y: jax.Array,
    *,
    lr: float | Sequence[float],
    batches: Batches,
    optimizer: object = None,
) -> Trajectory:
    """The same run compiled end to end with jax.lax.scan (the optimizer state in the carry)."""
    return train_scan(loss_and_grads, spec, params, x, y, lr=lr, batches=batches, optimizer=optimizer)
