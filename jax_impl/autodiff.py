"""The same network with gradients from jax.value_and_grad instead of BP1–BP4 by hand.

The per-example deltas come from differentiating with respect to zero shifts s^l added to every
z^l: ∂C/∂s^l = ∂C/∂z^l = (1/m) δ^l (the batch cost averages over the m examples), so m ∂C/∂s^l is
the contract's per-example δ^l, compared layer by layer with manual.py's BP1/BP2.

Conv blocks (seed 003's extension) run conv.py's forward, lax.conv_general_dilated then
lax.reduce_window pooling, whose gradient at a tie goes to the first maximal element in row-major
window order, as the contract says. The backward is value_and_grad's, never conv.py's.

A recurrent spec (an Elman network, ``spec.recurrent`` set) runs recurrent.py's forward, a lax.scan
over the T steps, and differentiates it with the same value_and_grad: backpropagation through time
is JAX's reverse-mode pass through the scan, never recurrent.py's hand-written backward. Its shifts
s^l are added to every z^l_t, so m ∂C/∂s^l is δ^l_t per example and per step, (m, T, n_l).
"""

from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp

from . import recurrent
from .activations import ACTIVATIONS
from .conv import correlate, pool
from .costs import cost
from .optimizers import supports_optimizer as supports_optimizer  # the opt-in: every rule
from .training import Gradients, Trajectory, train_steps
from .types import Batches, Params, ParamsIn, Spec
from .validation import Blocks, Rnn, Structure, check_network, layer_shapes

supports_recurrent = True  # the opt-in to recurrent specs: value_and_grad through recurrent.py's scan


def batch_cost(
    params: ParamsIn,
    shifts: list[jax.Array],
    x: jax.Array,
    y: jax.Array,
    weight_decay: float,
    activation: str,
    output: str,
    loss: str,
    conv: Blocks = (),
) -> tuple[jax.Array, tuple[list[jax.Array], list[jax.Array]]]:
    """C = (1/m) Σ_x C_x + (λ/2) (Σ_l ‖K^l‖² + Σ_l ‖W^l‖²), with z^l shifted by s^l;
    returns (C, (zs, activations))."""
    c, L = len(conv), len(params)
    zs, activations = [], [x]
    a = x
    g = ACTIVATIONS[activation][0]
    for (K, b), s, block in zip(params, shifts, conv):  # conv layers 1..c
        z = correlate(a, K, b, block.stride, block.padding) + s  # (m, C_l, H_l, W_l)
        a = pool(g(z), block.pool, block.pool_size)  # a^l, pooled: (m, C_l, H_l/size, W_l/size)
        zs.append(z)
        activations.append(a)
    a = a.reshape(a.shape[0], -1)  # BP-flatten (m, C_c·H_c·W_c); an MLP's x stays as is
    for l, ((W, b), s) in enumerate(zip(params[c:], shifts[c:]), start=c + 1):
        g, _ = ACTIVATIONS[output if l == L else activation]
        z = a @ W.T + b + s  # BP-z (m, n_l) = (m, n_{l-1}) @ (n_{l-1}, n_l) + (n_l,) + (m, n_l)
        a = g(z)  # BP-a
        zs.append(z)
        activations.append(a)
    C = cost(loss, zs[-1], activations[-1], y).mean()  # BP-C
    C = C + 0.5 * weight_decay * sum(jnp.sum(W * W) for W, _ in params)  # BP-C
    return C, (zs, activations)


def recurrent_cost(
    params: ParamsIn,
    shifts: list[jax.Array] | None,
    x: jax.Array,
    y: jax.Array,
    weight_decay: float,
    activation: str,
    output: str,
    loss: str,
    outputs: str,
) -> tuple[jax.Array, tuple[list[jax.Array], list[jax.Array]]]:
    """C of a recurrent spec through recurrent.py's scan, z^l_t shifted by s^l (time-major, like the
    scan's own arrays); returns (C, (zs, activations)), time-major."""
    zs, activations = recurrent.feedforward(params, x, activation, output, outputs, shifts)
    ys = recurrent.time_major(y, outputs)
    return recurrent.batch_cost(params, zs[-1], activations[-1], ys, weight_decay, loss), (zs, activations)


def recurrent_backprop(
    params: ParamsIn,
    x: jax.Array,
    y: jax.Array,
    weight_decay: float,
    activation: str,
    output: str,
    loss: str,
    outputs: str,
) -> tuple[jax.Array, Params, list[jax.Array], list[jax.Array], list[jax.Array]]:
    """(C, grads, zs, activations, deltas) of a recurrent spec from one value_and_grad call; zs,
    activations and deltas in the contract's (m, T, n_l)."""
    (m, T), hidden = x.shape[:2], params[:-1]
    shifts = [jnp.zeros((T, m, W.shape[0]), x.dtype) for W, *_ in hidden]  # one s^l_t per z^l_t
    n_L = params[-1][0].shape[0]
    shifts.append(jnp.zeros((T, m, n_L) if outputs == "all" else (m, n_L), x.dtype))
    value_and_grad = jax.value_and_grad(recurrent_cost, argnums=(0, 1), has_aux=True)  # BPTT-grad
    args = (params, shifts, x, y, weight_decay, activation, output, loss, outputs)  # BPTT-grad
    (C, (zs, activations)), (grads, dC_dz) = value_and_grad(*args)  # BPTT-grad through the scan
    deltas = [m * d for d in dC_dz]  # per-example δ^l_t = m ∂C/∂z^l_t
    # (∂C/∂W^l, ∂C/∂U^l, ∂C/∂b^l) per recurrent layer, then the output layer's (∂C/∂W^L, ∂C/∂b^L)
    grads = [tuple(g) for g in grads]
    batch_major = recurrent.batch_major
    return C, grads, batch_major(zs, outputs), batch_major(activations, outputs), batch_major(deltas, outputs)


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
    """(C, grads, zs, activations, deltas) from one jax.value_and_grad call."""
    if isinstance(conv, Rnn):  # a recurrent spec: through time, recurrent.py's scan
        return recurrent_backprop(params, x, y, weight_decay, activation, output, loss, conv.outputs)
    m = x.shape[0]
    z_shapes: list[tuple[int, ...]]  # the shape of each z^l, without the batch axis
    z_shapes = [z for z, _ in layer_shapes(x.shape[1:], conv)]  # (C_l, H_l, W_l) per conv layer
    z_shapes += [(W.shape[0],) for W, _ in params[len(conv) :]]  # (n_l,) per dense layer
    shifts = [jnp.zeros((m, *shape), dtype=x.dtype) for shape in z_shapes]
    value_and_grad = jax.value_and_grad(batch_cost, argnums=(0, 1), has_aux=True)  # BP-grad
    args = (params, shifts, x, y, weight_decay, activation, output, loss, conv)  # BP-grad
    (C, (zs, activations)), (grads, dC_dz) = value_and_grad(*args)  # BP-grad
    deltas = [m * d for d in dC_dz]  # BP-delta per-example δ^l = m ∂C/∂z^l
    grads = [tuple(g) for g in grads]  # BP-dC (∂C/∂W^l, ∂C/∂b^l) per layer
    return C, grads, zs, activations, deltas


@partial(jax.jit, static_argnames=("activation", "output", "loss", "conv"))
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
    """(C, grads) by jax.value_and_grad with respect to the parameters only (no shifts)."""
    if isinstance(conv, Rnn):  # a recurrent spec: the same scan, differentiated through time

        def C_recurrent(params: ParamsIn) -> jax.Array:
            args = (x, y, weight_decay, activation, output, loss, conv.outputs)
            return recurrent_cost(params, None, *args)[0]

        C, grads = jax.value_and_grad(C_recurrent)(params)
        return C, [tuple(g) for g in grads]

    def C_only(params: ParamsIn) -> jax.Array:
        shifts = [jnp.zeros((), dtype=x.dtype)] * len(params)
        return batch_cost(params, shifts, x, y, weight_decay, activation, output, loss, conv)[0]

    C, grads = jax.value_and_grad(C_only)(params)
    return C, [tuple(g) for g in grads]


def backprop(spec: Spec, params: ParamsIn, x: jax.Array, y: jax.Array) -> Gradients:
    """Validate in Python, then the compiled autodiff pass: a Gradients like manual.backprop's."""
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
    """Step by step from Python with jax.value_and_grad gradients; ``optimizer`` None is plain SGD,
    otherwise optimizers.py's update (``lr`` a float or one η_t per step)."""
    return train_steps(loss_and_grads, spec, params, x, y, lr=lr, batches=batches, optimizer=optimizer)
