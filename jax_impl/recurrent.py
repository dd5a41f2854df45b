"""Recurrent layers (an Elman network) and backpropagation through time, by hand in jax.numpy.

Every hidden layer l = 1..L-1 is recurrent: besides its input weights W^l it has recurrent weights
U^l that feed its own previous output h^l_{t-1} back in. The output layer L is dense, read at every
step (outputs "all") or only at the last (outputs "last"). With h^l_0 = 0 and a^0_t = x[:, t]:

    z^l_t = a^{l-1}_t W^lᵀ + h^l_{t-1} U^lᵀ + b^l        h^l_t = a^l_t = g(z^l_t)
    z^L_t = a^{L-1}_t W^Lᵀ + b^L                         a^L_t = g_L(z^L_t)
    C = (1/m) Σ_x Σ_{output t} C_{x,t} + (λ/2) Σ_l (‖W^l‖² + ‖U^l‖²)

Backward, with δ^l_{T+1} = 0: the output error is BP1 at each output step, and a hidden layer's
error at step t comes from two places, the layer above at the same step and itself one step later:

    δ^L_t = ∇_a C_{x,t} ⊙ g_L'(z^L_t)                   ("last": δ^L_t = 0 for t < T)
    δ^l_t = (δ^{l+1}_t W^{l+1} + δ^l_{t+1} U^l) ⊙ g'(z^l_t)
    ∂C/∂W^l = (1/m) Σ_t (δ^l_t)ᵀ a^{l-1}_t + λW^l      ∂C/∂U^l = (1/m) Σ_{t≥2} (δ^l_t)ᵀ h^l_{t-1} + λU^l
    ∂C/∂b^l = (1/m) Σ_t Σ_x δ^l_t                        (the output layer: its output steps only)

The forward pass is one ``jax.lax.scan`` over t = 1..T, the backward one more in reverse
(``reverse=True``), t = T..1: the errors δ^l_{t+1} are its carry, as the activations h^l_{t-1} are
the forward's. Inside, arrays are time-major, (T, m, n), because scan walks the leading axis; the
contract's (m, T, n), examples first, appears only at the boundary (``batch_major``).

Parameters are [(W^1, U^1, b^1), ..., (W^{L-1}, U^{L-1}, b^{L-1}), (W^L, b^L)], gradients alike.
manual.py and autodiff.py dispatch here when a spec's ``recurrent`` is set; with T = 1 this is the
dense network exactly (U multiplies h^l_0 = 0, so it contributes only λU to its gradient).
"""

from typing import Any

import jax
import jax.numpy as jnp

from .activations import ACTIVATIONS
from .costs import cost, output_error
from .types import Layer, Params, ParamsIn


def output_layer(g_L: Any, z: jax.Array) -> jax.Array:
    """a^L = g_L(z^L) on (..., n_L): softmax normalises each example at each step, so the steps
    are flattened into rows first (ACTIVATIONS' softmax works on (rows, n_L))."""
    return g_L(z.reshape(-1, z.shape[-1])).reshape(z.shape)


def feedforward(
    params: ParamsIn,
    x: jax.Array,
    activation: str,
    output: str,
    outputs: str,
    shifts: list[jax.Array] | None = None,
) -> tuple[list[jax.Array], list[jax.Array]]:
    """(zs, activations), time-major: zs[l-1] and activations[l] (T, m, n_l) for hidden layer l,
    activations[0] = x (T, m, n_0), and the output layer's z^L, a^L (T, m, n_L) for "all", (m, n_L)
    for "last". ``shifts`` (autodiff.py: zero arrays shaped like zs) are added to every z."""
    g = ACTIVATIONS[activation][0]
    hidden, (W_out, b_out) = params[:-1], params[-1]
    xs = x.swapaxes(0, 1)  # (T, m, n_0): scan steps over the leading axis
    m = x.shape[0]
    s_hidden = None if shifts is None else shifts[:-1]

    def step(
        h_prev: list[jax.Array], inputs: tuple[jax.Array, list[jax.Array] | None]
    ) -> tuple[list[jax.Array], tuple[list[jax.Array], list[jax.Array]]]:
        a, s = inputs  # a^0_t = x[:, t] (m, n_0); this step's shifts, or None
        zs_t, hs_t = [], []
        for l, ((W, U, b), h) in enumerate(zip(hidden, h_prev)):
            # the layer below at this step, and this layer's own output one step back:
            # (m, n_l) = (m, n_{l-1}) @ (n_{l-1}, n_l) + (m, n_l) @ (n_l, n_l) + (n_l,)
            z = a @ W.T + h @ U.T + b  # BPTT-z z^l_t = a^{l-1}_t W^lᵀ + h^l_{t-1} U^lᵀ + b^l
            if s is not None:
                z = z + s[l]
            a = g(z)  # BPTT-h h^l_t = a^l_t = g(z^l_t): (m, n_l), the next step's h^l_{t-1}
            zs_t.append(z)
            hs_t.append(a)
        return hs_t, (zs_t, hs_t)

    h_0 = [jnp.zeros((m, W.shape[0]), x.dtype) for W, *_ in hidden]  # h^l_0 = 0
    _, (zs, hs) = jax.lax.scan(step, h_0, (xs, s_hidden))  # zs[l-1], hs[l-1]: (T, m, n_l)

    # the dense output layer, on every step at once, or on the last: h^{L-1}_T = hs[-1][-1]
    a_top = hs[-1] if outputs == "all" else hs[-1][-1]  # (T, m, n_{L-1}) or (m, n_{L-1})
    z_out = a_top @ W_out.T + b_out  # BPTT-out (..., n_L) = (..., n_{L-1}) @ (n_{L-1}, n_L) + (n_L,)
    if shifts is not None:
        z_out = z_out + shifts[-1]
    a_out = output_layer(ACTIVATIONS[output][0], z_out)  # BPTT-out a^L_t = g_L(z^L_t)
    return [*zs, z_out], [xs, *hs, a_out]


def penalty(params: ParamsIn, weight_decay: Any) -> jax.Array:
    """(λ/2) Σ_l (‖W^l‖² + ‖U^l‖²): every array of a layer but its last, the bias."""
    return 0.5 * weight_decay * sum(jnp.sum(w * w) for layer in params for w in layer[:-1])


def batch_cost(
    params: ParamsIn, z_out: jax.Array, a_out: jax.Array, y: jax.Array, weight_decay: Any, loss: str
) -> jax.Array:
    """C = (1/m) Σ_x Σ_{output t} C_{x,t} + penalty; y time-major like z_out."""
    m = z_out.shape[-2]  # (T, m, n_L) or (m, n_L): examples are the second-last axis either way
    n_L = z_out.shape[-1]
    rows = cost(loss, z_out.reshape(-1, n_L), a_out.reshape(-1, n_L), y.reshape(-1, n_L))  # C_{x,t} (T·m,)
    C = rows.sum() / m  # BPTT-C (1/m) Σ_x Σ_t C_{x,t}: summed over the steps, averaged over examples
    return C + penalty(params, weight_decay)  # BPTT-C + (λ/2) Σ_l (‖W^l‖² + ‖U^l‖²)


def time_major(y: jax.Array, outputs: str) -> jax.Array:
    """y (m, T, n_L) -> (T, m, n_L) for "all"; (m, n_L) for "last" is already what the output layer gives."""
    return y.swapaxes(0, 1) if outputs == "all" else y


def batch_major(arrays: list[jax.Array], outputs: str) -> list[jax.Array]:
    """Time-major zs/activations/deltas back to the contract's (m, T, n), examples first; the
    output layer's (m, n_L) for "last" stays as it is."""
    last = arrays[-1] if outputs == "last" else arrays[-1].swapaxes(0, 1)
    return [a.swapaxes(0, 1) for a in arrays[:-1]] + [last]


def backprop_arrays(
    params: ParamsIn,
    x: jax.Array,
    y: jax.Array,
    weight_decay: Any,
    activation: str,
    output: str,
    loss: str,
    outputs: str,
) -> tuple[jax.Array, Params, list[jax.Array], list[jax.Array], list[jax.Array]]:
    """(C, grads, zs, activations, deltas) of one forward and one backward pass through time;
    zs, activations and deltas in the contract's shapes (m, T, n_l), per example. Traced by
    manual.backprop_arrays' jit."""
    m, H = x.shape[0], len(params) - 1  # H = L - 1 recurrent layers
    hidden, (W_out, _) = params[:-1], params[-1]
    zs, activations = feedforward(params, x, activation, output, outputs)
    ys = time_major(y, outputs)
    C = batch_cost(params, zs[-1], activations[-1], ys, weight_decay, loss)
    _, g_prime = ACTIVATIONS[activation]
    assert g_prime is not None, "a hidden activation (check_spec) has an elementwise g'"

    # BP1 at each output step, on the steps flattened into rows (softmax's a − y needs whole rows)
    z_out, a_out, n_L = zs[-1], activations[-1], W_out.shape[0]
    rows = output_error(
        loss, z_out.reshape(-1, n_L), a_out.reshape(-1, n_L), ys.reshape(-1, n_L), ACTIVATIONS[output][1]
    )
    delta_out = rows.reshape(z_out.shape)  # BPTT-delta-out δ^L_t: (T, m, n_L) for "all", (m, n_L) for "last"
    # what the output layer sends down to the top recurrent layer at each step: δ^L_t W^L, all at once
    from_out = delta_out @ W_out  # (..., n_{L-1}) = (..., n_L) @ (n_L, n_{L-1})
    if outputs == "last":  # δ^L_t = 0 for t < T: only the last step hears from the output layer
        from_out = jnp.zeros((x.shape[1], *from_out.shape), x.dtype).at[-1].set(from_out)

    def step(
        delta_next: list[jax.Array], inputs: tuple[jax.Array, list[jax.Array]]
    ) -> tuple[list[jax.Array], list[jax.Array]]:
        above, zs_t = inputs  # δ^L_t W^L (m, n_{L-1}); z^l_t for every recurrent layer
        deltas_t: list[Any] = [None] * H
        for l in range(H - 1, -1, -1):  # recurrent layers L-1 .. 1, top down; index l holds layer l+1
            W, U, _ = hidden[l]
            # δ^{l+1}_t W^{l+1} from above at this step, δ^l_{t+1} U^l from this layer one step later:
            # (m, n_l) = ((m, n_l) + (m, n_l) @ (n_l, n_l)) ⊙ (m, n_l)
            delta = (above + delta_next[l] @ U) * g_prime(zs_t[l])  # BPTT-delta
            deltas_t[l] = delta
            above = delta @ W  # δ^l_t W^l: (m, n_{l-1}) = (m, n_l) @ (n_l, n_{l-1}), for the layer below
        return deltas_t, deltas_t  # δ^l_t is the carry of step t - 1

    delta_end = [jnp.zeros((m, W.shape[0]), x.dtype) for W, *_ in hidden]  # δ^l_{T+1} = 0
    _, deltas = jax.lax.scan(step, delta_end, (from_out, zs[:-1]), reverse=True)  # (T, m, n_l) each

    grads: list[Layer] = []
    for l, ((W, U, _), delta) in enumerate(zip(hidden, deltas)):
        a_prev, h = activations[l], activations[l + 1]  # a^{l-1}_t (T, m, n_{l-1}); h^l_t (T, m, n_l)
        nabla_w = jnp.einsum("tmi,tmj->ij", delta, a_prev) / m + weight_decay * W  # BPTT-dW (n_l, n_{l-1})
        # h^l_{t-1} for t >= 2 (h^l_0 = 0 adds nothing): δ at steps 2..T against h at steps 1..T-1
        nabla_u = jnp.einsum("tmi,tmj->ij", delta[1:], h[:-1]) / m + weight_decay * U  # BPTT-dU (n_l, n_l)
        nabla_b = delta.sum(axis=(0, 1)) / m  # BPTT-db (n_l,)
        grads.append((nabla_w, nabla_u, nabla_b))
    a_top = activations[-2] if outputs == "all" else activations[-2][-1]  # as the forward read it
    n_in = a_top.shape[-1]  # BP4/BP3 for the dense output layer, summed over its output steps
    rows_out, rows_in = delta_out.reshape(-1, n_L), a_top.reshape(-1, n_in)  # every (t, x) a row
    nabla_w = rows_out.T @ rows_in / m + weight_decay * W_out  # BPTT-dW (n_L, n_{L-1})
    nabla_b = rows_out.sum(axis=0) / m  # BPTT-db (n_L,)
    grads.append((nabla_w, nabla_b))

    deltas = [*deltas, delta_out]
    return C, grads, batch_major(zs, outputs), batch_major(activations, outputs), batch_major(deltas, outputs)
