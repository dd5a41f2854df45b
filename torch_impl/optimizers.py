"""Optimizers, learning-rate schedules and gradient clipping, written out with torch tensor operations.

A line-by-line translation of reference/optimizers.py (compare them side by side: the lines carry
the same ``# OPT-...`` tags). g is ∂C/∂θ of the full cost on step t's batch (λW included); each step
clips g, turns it into Δ with the optimizer's state, adds adamw's decoupled decay to the weights
and kernels (never the biases), and sets θ ← θ + Δ. Everything runs under ``torch.no_grad()`` and
returns new tensors: nothing the caller handed in is written in place.

A layer is a tuple with its bias last: (W, b) or (K, b), or a recurrent layer's (W, U, b). Every
rule applies array by array, so the tuples may have any length; "weights, not biases" (adamw's
decay) means every array of a layer but the last.

The hyperparameters come checked from validation.check_optimizer (a Hyper). State is fresh at every
``train`` call, in the reference's layout: {"t": steps taken, "b" | "v" | "s" | "m": [(for W, for
b), ...]} ("b" a momentum buffer, "v" a velocity or Adam's second moment, "s" a sum or average of
squares, "m" Adam's first moment), one tuple per layer shaped like that layer's (a triple for a
recurrent layer), tensors of the parameters' dtype and device.
"""

import math
from typing import Any, TypeAlias

import torch

from .types import Params, ParamsIn
from .validation import Hyper, check_optimizer

State: TypeAlias = dict[str, Any]  # {"t": int, "b" | "v" | "s" | "m": [(for W, [for U,] for b), ...]}


def supports_optimizer(optimizer: object) -> bool:
    """True for every valid optimizer: each rule and convention of the contract is written out below."""
    try:
        check_optimizer(optimizer)
    except (TypeError, ValueError):
        return False
    return True


@torch.no_grad()
def clip(grads: ParamsIn, clip_value: float | None, clip_norm: float | None, clip_eps: float) -> Params:
    """Step 1: elementwise, then (if set) by the global 2-norm over every parameter together. The
    scale stays a tensor (no host sync): min(1, ·) by clamp, and a factor of exactly 1 leaves g as it is."""
    grads = [tuple(layer) for layer in grads]
    if clip_value is not None:
        c = clip_value
        grads = [tuple(g.clamp(-c, c) for g in layer) for layer in grads]  # OPT-clip-value
    if clip_norm is not None:
        norm = torch.sqrt(
            torch.stack([torch.sum(g * g) for layer in grads for g in layer]).sum()
        )  # OPT-clip-norm ‖g‖ over every array, U^l included
        scale = (clip_norm / (norm + clip_eps)).clamp(max=1.0)  # OPT-clip-norm min(1, c / (‖g‖ + clip_eps))
        grads = [tuple(g * scale for g in layer) for layer in grads]  # OPT-clip-norm
    return grads


def init_state(hyper: Hyper, params: ParamsIn) -> State:
    """Fresh state: zeros shaped like the parameters for every moment the optimizer keeps (Adagrad's
    sum starts at ``initial_accumulator``)."""

    def zeros(fill: float = 0.0) -> Params:
        return [tuple(torch.full_like(theta, fill) for theta in layer) for layer in params]

    name, mu = hyper.name, hyper.momentum
    state: State = {"t": 0}
    if name in ("momentum", "nesterov") or (name == "rmsprop" and mu > 0):
        state["b" if hyper.momentum_form == "buffer" else "v"] = zeros()
    if name == "rmsprop":
        state["s"] = zeros()
    if name in ("adam", "adamw"):
        state["m"], state["v"] = zeros(), zeros()
    if name == "adagrad":
        state["s"] = zeros(hyper.initial_accumulator)
    return state


def with_momentum(
    form: str, mu: float, d: torch.Tensor, b: torch.Tensor, lr: float, nesterov: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """(Δ, new buffer or velocity) for a direction d (g itself, or RMSprop's scaled g)."""
    if form == "buffer":
        b = mu * b + d  # OPT-momentum-buffer     b ← μb + g (b₀ = 0, so b₁ = g)
        if nesterov:
            return -lr * (d + mu * b), b  # OPT-nesterov-buffer     Δ = −η(g + μb)
        return -lr * b, b  # OPT-momentum-buffer     Δ = −ηb
    v = mu * b - lr * d  # OPT-momentum-velocity   v ← μv − ηg (v₀ = 0)
    if nesterov:
        return mu * v - lr * d, v  # OPT-nesterov-velocity   Δ = μv − ηg
    return v, v  # OPT-momentum-velocity   Δ = v


def transform(o: Hyper, g: torch.Tensor, slots: dict[str, torch.Tensor], lr: float, t: int) -> torch.Tensor:
    """Step 2 for one parameter tensor: Δ from its gradient g; ``slots`` (its state tensors, by key)
    are replaced by their new values. ``t`` is the 1-based step, ``lr`` is η_t."""
    if o.name == "sgd":
        return -lr * g  # OPT-sgd   Δ = −ηg
    if o.name in ("momentum", "nesterov"):
        key = "b" if o.momentum_form == "buffer" else "v"
        delta, slots[key] = with_momentum(
            o.momentum_form, o.momentum, g, slots[key], lr, o.name == "nesterov"
        )
        return delta
    if o.name == "rmsprop":
        s = slots["s"] = o.rho * slots["s"] + (1 - o.rho) * g * g  # OPT-rmsprop   s ← ρs + (1−ρ)g²
        d = g / torch.sqrt(s + o.eps) if o.eps_in_sqrt else g / (torch.sqrt(s) + o.eps)  # OPT-rmsprop
        if o.momentum == 0:
            return -lr * d  # OPT-rmsprop   Δ = −η g/(√s + ε)
        key = "b" if o.momentum_form == "buffer" else "v"
        delta, slots[key] = with_momentum(o.momentum_form, o.momentum, d, slots[key], lr)
        return delta
    if o.name in ("adam", "adamw"):
        m = slots["m"] = o.beta1 * slots["m"] + (1 - o.beta1) * g  # OPT-adam-m   m ← β₁m + (1−β₁)g
        v = slots["v"] = o.beta2 * slots["v"] + (1 - o.beta2) * g * g  # OPT-adam-v   v ← β₂v + (1−β₂)g²
        if o.eps_hat:  # Kingma & Ba §2: η_t √(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + ε̂)
            return (
                -lr * math.sqrt(1 - o.beta2**t) / (1 - o.beta1**t) * m / (torch.sqrt(v) + o.eps)
            )  # OPT-adam-eps-hat
        m_hat = m / (1 - o.beta1**t)  # OPT-adam-correct   m̂ = m/(1−β₁ᵗ)
        v_hat = v / (1 - o.beta2**t)  # OPT-adam-correct   v̂ = v/(1−β₂ᵗ)
        return -lr * m_hat / (torch.sqrt(v_hat) + o.eps)  # OPT-adam   Δ = −η m̂/(√v̂ + ε)
    if o.name == "adagrad":
        s = slots["s"] = slots["s"] + g * g  # OPT-adagrad   s ← s + g²
        return -lr * (
            g / torch.sqrt(s + o.eps) if o.eps_in_sqrt else g / (torch.sqrt(s) + o.eps)
        )  # OPT-adagrad
    raise ValueError(f"optimizer.name: unknown optimizer {o.name!r}")  # check_optimizer stops it first


@torch.no_grad()
def step(hyper: Hyper, params: ParamsIn, grads: ParamsIn, state: State, lr: float) -> tuple[Params, State]:
    """One update: clip, transform every array (W, U, K and b), decoupled decay (adamw: every array
    of a layer but its bias, the last), θ ← θ + Δ. Returns the new parameters and the new state;
    nothing is written in place."""
    o = hyper
    t = state["t"] + 1
    grads = clip(grads, o.clip_value, o.clip_norm, o.clip_eps)
    keys = [k for k in state if k != "t"]
    new_state: State = {"t": t, **{k: [] for k in keys}}
    new_params: Params = []
    for l, (layer, layer_grads) in enumerate(zip(params, grads)):
        new_layer = []
        new_slots: dict[str, list[torch.Tensor]] = {k: [] for k in keys}
        for i, (theta, g) in enumerate(zip(layer, layer_grads)):
            slots = {k: state[k][l][i] for k in keys}
            delta = transform(o, g, slots, lr, t)
            if o.name == "adamw" and i < len(layer) - 1:
                delta = delta - lr * o.decoupled_decay * theta  # OPT-adamw   Δ ← Δ − ηλ_d θ (W, U, K; not b)
            new_layer.append(theta + delta)  # OPT-update   θ ← θ + Δ
            for k in keys:
                new_slots[k].append(slots[k])
        new_params.append(tuple(new_layer))
        for k in keys:
            new_state[k].append(tuple(new_slots[k]))
    return new_params, new_state
