"""Backpropagation through time (BPTT) for an Elman network, in NumPy.

Every hidden layer is recurrent: at step t it reads the layer below at the same step and its own
activation of the step before; the output layer is the dense layer of network.py, read at every step
(``outputs="all"``) or at the last step only (``"last"``). With h^l_0 = 0 and a^0_t = x[:, t]:

    BPTT-z     z^l_t = a^{l-1}_t W^l.T + h^l_{t-1} U^l.T + b^l          l = 1..L-1, t = 1..T
    BPTT-h     h^l_t = a^l_t = g(z^l_t)
    BPTT-out   z^L_t = a^{L-1}_t W^L.T + b^L,   a^L_t = g_L(z^L_t)      t = 1..T, or t = T only
    BPTT-C     C = (1/m) Σ_x Σ_{output t} C_{x,t} + (λ/2) Σ_l (‖W^l‖² + ‖U^l‖²)

C_{x,t} is network.py's per-example cost at step t; W^L is decayed too, biases are not. Backwards,
with δ^l_{T+1} = 0 (no step after the last) and δ^L_t = 0 at the steps without an output ("last"):

    BPTT-delta-out  δ^L_t = ∇_a C_{x,t} ⊙ g_L'(z^L_t)                           (BP1, per step)
    BPTT-delta      δ^l_t = (δ^{l+1}_t W^{l+1} + δ^l_{t+1} U^l) ⊙ g'(z^l_t)      t = T..1 (BP2 + time)
    BPTT-dW         ∂C/∂W^l = (1/m) Σ_t (δ^l_t).T a^{l-1}_t + λ W^l
    BPTT-dU         ∂C/∂U^l = (1/m) Σ_{t>=2} (δ^l_t).T h^l_{t-1} + λ U^l
    BPTT-db         ∂C/∂b^l = (1/m) Σ_t Σ_x δ^l_t

δ^l_t = ∂C_x/∂z^l_t per example, as in network.py: the error reaches z^l_t from the layer above at
the same step and from the same layer one step later, through U^l. The weights are shared by every
step, so their gradients sum over t. With T = 1 nothing flows through U (h^l_0 = 0, no step 2) and
this is network.py's dense network exactly, with ∂C/∂U^l = λU^l.

Shapes: x (m, T, n_0); W^l (n_l, n_{l-1}), U^l (n_l, n_l), b^l (n_l,); z^l, a^l, δ^l (m, T, n_l) for
the hidden layers; the output layer's (m, T, n_L) for "all" and (m, n_L) for "last", as y. The time
loop is a Python loop; each step is vectorised over the m examples (rows, as in network.py).
"""

from typing import Any

import numpy as np

from .activations import ACTIVATIONS, PRIME_FROM_OUTPUT
from .costs import cost, output_error
from .types import FloatArray, Gradients, Params, ParamsIn, Spec
from .validation import check_inputs


def rows(a: FloatArray) -> FloatArray:
    """(m, T, n) -> (m·T, n): every (example, step) a row of its own, so that one product sums over
    both (an (m, n) array, one row per example, is left as it is)."""
    return a.reshape(-1, a.shape[-1])


def feedforward(
    params: ParamsIn, x: FloatArray, activation: str, output: str, outputs: str = "all"
) -> tuple[list[FloatArray], list[FloatArray]]:
    """Return (zs, activations): z^l and a^l of every layer, activations[0] = x (m, T, n_0). Hidden
    layers (m, T, n_l); the output layer (m, T, n_L) for ``outputs="all"``, (m, n_L) for "last"."""
    m, T = x.shape[:2]
    g = ACTIVATIONS[activation][0]
    zs, activations = [], [x]
    a_prev = x
    for W, U, b in params[:-1]:  # the recurrent layers 1..L-1, each over the whole sequence
        z = np.empty((m, T, len(b)), dtype=x.dtype)
        a = np.empty_like(z)
        h = np.zeros((m, len(b)), dtype=x.dtype)  # h^l_0 = 0: nothing before the first step
        for t in range(T):
            # (m, n_l) = (m, n_{l-1}) @ (n_{l-1}, n_l) + (m, n_l) @ (n_l, n_l) + (n_l,)
            z[:, t] = a_prev[:, t] @ W.T + h @ U.T + b  # BPTT-z
            a[:, t] = g(z[:, t])  # BPTT-h
            h = a[:, t]  # h^l_t, which step t+1 reads through U^l
        zs.append(z)
        activations.append(a)
        a_prev = a
    W, b = params[-1]  # the output layer shares nothing across time: one product over its rows
    g_L = ACTIVATIONS[output][0]
    a_in = rows(a_prev) if outputs == "all" else a_prev[:, -1]  # (m·T, n_{L-1}) every step, or (m, n_{L-1})
    z_L = a_in @ W.T + b  # BPTT-out (m·T or m, n_L) = (·, n_{L-1}) @ (n_{L-1}, n_L) + (n_L,)
    a_L = g_L(z_L)  # BPTT-out: row by row, so a softmax normalises each (example, step) on its own
    shape = (m, T, len(b)) if outputs == "all" else (m, len(b))
    zs.append(z_L.reshape(shape))
    activations.append(a_L.reshape(shape))
    return zs, activations


def batch_cost(
    spec: Spec, params: ParamsIn, zs: list[FloatArray], activations: list[FloatArray], y: FloatArray
) -> float:
    """C = (1/m) Σ_x Σ_t C_{x,t} + (λ/2) Σ_l (‖W^l‖² + ‖U^l‖²): every array of a layer but its bias."""
    lam = spec.weight_decay
    # one row per (example, output step); (1/m), not 1/(m·T): a sequence's cost is the sum over its steps
    data_cost = float(cost(spec.loss, rows(zs[-1]), rows(activations[-1]), rows(y)).sum()) / len(y)  # BPTT-C
    if lam:  # BPTT-C (no penalty work at all when λ = 0)
        squares = sum(float(np.vdot(w, w)) for *weights, _ in params for w in weights)  # BPTT-C W, U; not b
        data_cost += 0.5 * lam * squares  # BPTT-C
    return data_cost


def backprop(spec: Spec, params: ParamsIn, x: FloatArray, y: FloatArray) -> Gradients:
    """Validate the inputs, then run forward and backward through time; return a :class:`Gradients`."""
    check_inputs(spec, params, x, y)
    return backprop_unchecked(spec, params, x, y)


def backprop_unchecked(spec: Spec, params: ParamsIn, x: FloatArray, y: FloatArray) -> Gradients:
    """The forward and backward pass proper, for callers that have validated already (training)."""
    activation, output, loss, lam = spec.activation, spec.output, spec.loss, spec.weight_decay
    recurrent = getattr(spec, "recurrent", None)  # optional in a spec, so read with getattr
    assert recurrent is not None, "a recurrent spec (network.backprop dispatches here on it)"
    outputs = recurrent.outputs
    (m, T), L = x.shape[:2], len(params)

    zs, activations = feedforward(params, x, activation, output, outputs)
    g_prime = PRIME_FROM_OUTPUT[activation]  # g'(z^l_t) from the cached a^l_t, as network.py
    assert g_prime is not None, "a hidden activation (check_spec) has an elementwise g'"

    deltas: list[Any] = [None] * L  # one slot per layer, filled top down (None until then)
    # (m, T, n_L) for "all", (m, n_L) for "last": BP1 at every output step, elementwise
    deltas[L - 1] = output_error(loss, activations[-1], y, PRIME_FROM_OUTPUT[output])  # BPTT-delta-out
    above = deltas[L - 1]  # δ^{l+1}_t at every step t, for the layer below
    if outputs == "last":  # δ^L_t = 0 for t < T: no output there, so no error enters from above
        above = np.zeros((m, T, deltas[L - 1].shape[-1]), dtype=x.dtype)
        above[:, -1] = deltas[L - 1]
    for l in range(L - 1, 0, -1):  # recurrent layers L-1 .. 1; list index l-1 holds layer l
        W_next, U = params[l][0], params[l - 1][1]  # W^{l+1} (n_{l+1}, n_l), U^l (n_l, n_l)
        delta = np.empty_like(zs[l - 1])  # δ^l_t for every t: (m, T, n_l)
        for t in range(T - 1, -1, -1):  # backwards in time: step t needs δ^l_{t+1}
            nabla_h = above[:, t] @ W_next  # BPTT-delta (m, n_l) = (m, n_{l+1}) @ (n_{l+1}, n_l): from above
            if t < T - 1:  # BPTT-delta (δ^l_{T+1} = 0: the last step has no future)
                nabla_h = nabla_h + delta[:, t + 1] @ U  # BPTT-delta (m, n_l) @ (n_l, n_l): from step t+1
            delta[:, t] = nabla_h * g_prime(activations[l][:, t])  # BPTT-delta ⊙ g'(z^l_t), (m, n_l)
        deltas[l - 1] = above = delta

    grads: Params = []
    for l in range(1, L + 1):  # every (example, step) is a row: one product sums over x and t
        delta, a_prev, weights = deltas[l - 1], activations[l - 1], params[l - 1]
        if l == L and outputs == "last":
            a_prev = a_prev[:, -1]  # the output layer read a^{L-1}_T only: (m, n_{L-1})
        d_rows = rows(delta)  # (m·T, n_l), or (m, n_L) for the output layer of "last"
        nabla_b = d_rows.sum(axis=0) / m  # BPTT-db (n_l,): Σ_t Σ_x δ^l_t, 1/m (not 1/(m·T))
        nabla_w = (d_rows.T / m) @ rows(a_prev)  # BPTT-dW (n_l, n_{l-1}) = (n_l, m·T) @ (m·T, n_{l-1})
        if lam:  # BPTT-dW + λ W^l (skipped when λ = 0)
            nabla_w += lam * weights[0]  # BPTT-dW
        if l == L:  # the output layer has no U: a (dW, db) pair
            grads.append((nabla_w, nabla_b))
            break
        # δ^l_t meets h^l_{t-1} for t = 2..T (h^l_0 = 0 adds nothing): m·(T−1) rows, none when T = 1
        # (n_l, n_l) = (n_l, m·(T−1)) @ (m·(T−1), n_l)
        nabla_u = (rows(delta[:, 1:]).T / m) @ rows(activations[l][:, :-1])  # BPTT-dU
        if lam:  # BPTT-dU + λ U^l
            nabla_u += lam * weights[1]  # BPTT-dU
        grads.append((nabla_w, nabla_u, nabla_b))

    return Gradients(batch_cost(spec, params, zs, activations, y), grads, zs, activations, deltas)
