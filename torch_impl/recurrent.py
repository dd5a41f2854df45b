"""Backpropagation through time (BPTT) for an Elman network, written out by hand with torch tensor
operations, no autograd (manual.py dispatches here when ``spec.recurrent`` is set).

Every hidden layer is recurrent: it sees the layer below at the same step and its own state at the
step before; the output layer is dense, applied at every step ("all") or only at t = T ("last").

    forward, h^l_0 = 0, a^0_t = x[:, t]
        z^l_t = a^{l-1}_t W^lᵀ + h^l_{t-1} U^lᵀ + b^l,    h^l_t = a^l_t = g(z^l_t)
        z^L_t = a^{L-1}_t W^Lᵀ + b^L,                     a^L_t = g_L(z^L_t)
    cost   C = (1/m) Σ_x Σ_{output t} C_{x,t} + (λ/2) Σ_l (‖W^l‖² + ‖U^l‖²)
    backward, δ^l_{T+1} = 0, layers top down, each in reverse time t = T..1
        δ^L_t = ∇_a C_{x,t} ⊙ g_L'(z^L_t)                    (BP1 per output step; 0 elsewhere)
        δ^l_t = (δ^{l+1}_t W^{l+1} + δ^l_{t+1} U^l) ⊙ g'(z^l_t)
        ∂C/∂W^l = (1/m) Σ_t (δ^l_t)ᵀ a^{l-1}_t + λW^l,   ∂C/∂U^l = (1/m) Σ_{t>=2} (δ^l_t)ᵀ h^l_{t-1} + λU^l
        ∂C/∂b^l = (1/m) Σ_t Σ_x δ^l_t

δ^l_t is ∂C_x/∂z^l_t, per example, as in the dense network. It has two paths back from z^l_t: up
(z^{l+1}_t reads a^l_t through W^{l+1}) and forward in time (z^l_{t+1} reads h^l_t through U^l).
The second is why the loop runs backwards: δ^l_t needs δ^l_{t+1}. With T = 1 this is the dense
network exactly (h^l_0 = 0, so U only meets its λU).

Params: a (W^l, U^l, b^l) triple per hidden layer, W^l (n_l, n_{l-1}), U^l (n_l, n_l), then the
output (W^L, b^L). x (m, T, n_0); y (m, T, n_L) for "all", (m, n_L) for "last". The exposed zs,
activations, deltas are stacked over time: (m, T, n_l) per hidden layer; the output layer's are
(m, T, n_L) for "all", (m, n_L) for "last"; activations[0] = x.
"""

from typing import Any

import torch

from .activations import ACTIVATIONS, PRIME_FROM_OUTPUT
from .costs import cost, output_error
from .training import Gradients
from .types import Params, ParamsIn, RecurrentSpec


def output_layer(
    W: torch.Tensor, b: torch.Tensor, a: torch.Tensor, output: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """z^L and a^L = g_L(z^L) for a^{L-1} of shape (m, T, n_{L-1}) or (m, n_{L-1}). g_L works on
    rows (softmax normalises each), so the steps are folded into the rows and unfolded again."""
    g, _ = ACTIVATIONS[output]
    z = a @ W.T + b  # BPTT-out (…, n_L) = (…, n_{L-1}) @ (n_{L-1}, n_L) + (n_L,)
    a_out = g(z.reshape(-1, z.shape[-1])).reshape(z.shape)  # BPTT-out a^L_t = g_L(z^L_t), one row per (x, t)
    return z, a_out


def feedforward(
    params: ParamsIn, x: torch.Tensor, activation: str, output: str, outputs: str
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(zs, activations) for layers 1..L, stacked over time as the module docstring says."""
    m, T, _ = x.shape
    g, _ = ACTIVATIONS[activation]
    zs, activations = [], [x]
    a_below = x  # a^{l-1}_t for every t: (m, T, n_{l-1})
    for W, U, b in params[:-1]:  # hidden layers, bottom up; each runs through all T steps
        h = torch.zeros(m, W.shape[0], dtype=x.dtype, device=x.device)  # h^l_0 = 0
        z_steps, h_steps = [], []
        for t in range(T):
            # (m, n_l) = (m, n_{l-1}) @ (n_{l-1}, n_l) + (m, n_l) @ (n_l, n_l) + (n_l,)
            z = a_below[:, t] @ W.T + h @ U.T + b  # BPTT-z z^l_t: from below, from the step before
            h = g(z)  # BPTT-h h^l_t = a^l_t = g(z^l_t), the state the next step reads
            z_steps.append(z)
            h_steps.append(h)
        zs.append(torch.stack(z_steps, dim=1))  # (m, T, n_l)
        a_below = torch.stack(h_steps, dim=1)  # (m, T, n_l)
        activations.append(a_below)
    W, b = params[-1]
    # "all": every step at once, (m, T, n_{L-1}) @ W^Lᵀ; "last": only a^{L-1}_T, (m, n_{L-1})
    z_out, a_out = output_layer(W, b, a_below if outputs == "all" else a_below[:, -1], output)
    zs.append(z_out)
    activations.append(a_out)
    return zs, activations


def per_step_cost(loss: str, z: torch.Tensor, a: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Σ_x Σ_{output t} C_{x,t}: the dense C_x on one row per (example, output step)."""
    n = z.shape[-1]
    return cost(loss, z.reshape(-1, n), a.reshape(-1, n), y.reshape(-1, n)).sum()  # BPTT-C


@torch.no_grad()
def backprop_unchecked(spec: RecurrentSpec, params: ParamsIn, x: torch.Tensor, y: torch.Tensor) -> Gradients:
    """Forward, then BPTT: a Gradients with loss, grads ([(∂W, ∂U, ∂b)] + [(∂W^L, ∂b^L)]), zs,
    activations and deltas (per example, stacked over time)."""
    outputs = spec.recurrent.outputs
    m, T, _ = x.shape
    L = len(params)
    zs, activations = feedforward(params, x, spec.activation, spec.output, outputs)
    lam = spec.weight_decay
    g_prime = PRIME_FROM_OUTPUT[spec.activation]  # g'(z^l_t) from the cached h^l_t = g(z^l_t)
    assert g_prime is not None, "a hidden activation (check_spec) has an elementwise g'"

    # BP1 at every output step: the dense output error on one row per (example, step)
    a_out, n_L = activations[-1], activations[-1].shape[-1]
    delta_out = output_error(
        spec.loss, a_out.reshape(-1, n_L), y.reshape(-1, n_L), PRIME_FROM_OUTPUT[spec.output]
    ).reshape(a_out.shape)  # BPTT-delta-out δ^L_t: (m, T, n_L) for "all", (m, n_L) for "last"

    deltas: list[Any] = [None] * L  # one slot per layer, each filled below
    deltas[L - 1] = delta_out
    W_above = params[-1][0]  # W^{l+1}: (n_{l+1}, n_l)
    if outputs == "all":
        from_above = delta_out @ W_above  # δ^{L}_t W^{L} for every t: (m, T, n_{L-1})
    else:  # "last": δ^L_t = 0 for t < T, so only step T hears from the output layer
        from_above = torch.zeros_like(activations[L - 1])
        from_above[:, -1] = delta_out @ W_above  # (m, n_{L-1}) = (m, n_L) @ (n_L, n_{L-1})
    for l in range(L - 1, 0, -1):  # hidden layers L-1 .. 1, top down; list index l-1 holds layer l
        U, h = params[l - 1][1], activations[l]  # U^l (n_l, n_l); h^l_t for every t (m, T, n_l)
        delta_steps: list[Any] = [None] * T
        delta_next = torch.zeros_like(h[:, 0])  # δ^l_{T+1} = 0: nothing after the last step
        for t in range(T - 1, -1, -1):  # t = T..1: δ^l_t needs δ^l_{t+1}
            # (m, n_l) = ((m, n_l) + (m, n_l) @ (n_l, n_l)) ⊙ (m, n_l); delta_next is δ^l_{t+1} here
            delta_next = (from_above[:, t] + delta_next @ U) * g_prime(h[:, t])  # BPTT-delta δ^l_t
            delta_steps[t] = delta_next
        delta = torch.stack(delta_steps, dim=1)  # (m, T, n_l)
        deltas[l - 1] = delta
        from_above = delta @ params[l - 1][0]  # δ^l_t W^l for layer l-1: (m, T, n_{l-1})

    grads: Params = []
    for l in range(1, L):
        W, U, _ = params[l - 1]
        delta, a_prev, h = deltas[l - 1], activations[l - 1], activations[l]
        n, n_in = W.shape
        # Σ over examples and steps at once: fold (m, T) into m·T rows, so each product sums both
        # (n_l, n_{l-1}) = (n_l, m·T) @ (m·T, n_{l-1}); the 1/m on the small δ, as in manual.py
        nabla_w = (delta.reshape(-1, n).T / m) @ a_prev.reshape(-1, n_in)  # BPTT-dW
        # U^l meets h^l_{t-1} at steps t = 2..T only (h^l_0 = 0): δ^l_2..T against h^l_1..T-1
        # (n_l, n_l) = (n_l, m·(T−1)) @ (m·(T−1), n_l)
        nabla_u = (delta[:, 1:].reshape(-1, n).T / m) @ h[:, :-1].reshape(-1, n)  # BPTT-dU
        nabla_b = delta.sum(dim=(0, 1)) / m  # BPTT-db (n_l,)
        if lam:  # + λW^l, λU^l (skipped when λ = 0)
            nabla_w += lam * W  # BPTT-dW
            nabla_u += lam * U  # BPTT-dU
        grads.append((nabla_w, nabla_u, nabla_b))
    W, _ = params[-1]
    a_prev = activations[L - 1] if outputs == "all" else activations[L - 1][:, -1]  # at the output steps
    n, n_in = W.shape
    # (n_L, n_{L-1}) = (n_L, m·T) @ (m·T, n_{L-1}) for "all"; (n_L, m) @ (m, n_{L-1}) for "last"
    nabla_w = (delta_out.reshape(-1, n).T / m) @ a_prev.reshape(-1, n_in)  # BPTT-dW
    if lam:
        nabla_w += lam * W  # BPTT-dW
    grads.append((nabla_w, delta_out.reshape(-1, n).sum(dim=0) / m))  # BPTT-db (n_L,)

    # C = (1/m) Σ_x Σ_t C_{x,t} + (λ/2) Σ_l (‖W^l‖² + ‖U^l‖²); every array of a layer but b is decayed
    loss = float(per_step_cost(spec.loss, zs[-1], activations[-1], y)) / m  # BPTT-C
    if lam:  # BPTT-C
        loss += 0.5 * lam * sum(float(torch.sum(w * w)) for layer in params for w in layer[:-1])  # BPTT-C
    return Gradients(loss, grads, zs, activations, deltas)
