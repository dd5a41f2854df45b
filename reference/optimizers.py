"""Optimizers, learning-rate schedules and gradient clipping (NumPy): the update rules every
implementation's ``train(..., optimizer=...)`` must reproduce step by step (docs/optimizers.md).

g is ∂C/∂θ of the full cost C on step t's batch (the coupled L2 term λW of ``spec.weight_decay``
already in it, from backprop). Each step then runs, in this order:

    1. clipping (optional)   clip_value c: g ← clip(g, −c, c) elementwise
                             clip_norm c:  g ← g · min(1, c / (‖g‖ + clip_eps)), ‖g‖ over all parameters
    2. the transform         Δ from g and the optimizer's state, per parameter array (below)
    3. decoupled decay       adamw: Δ ← Δ − η_t λ_d θ, for weights, kernels and a recurrent layer's
                             U: every array of a layer but its last, the bias (never biases)
    θ ← θ + Δ

Each rule's lines are tagged ``# OPT-<name>`` so docs/generate.py can set them beside every other
implementation's. The conventions that frameworks choose differently are switches named for the
convention, never for a framework: ``momentum_form`` ("buffer": torch.optim and Optax keep η out of
the buffer; "velocity": Nielsen ch. 3 eqs. 107-108, Sutskever et al. 2013, Keras and CS231n bake it
in), ``eps_in_sqrt`` (g / √(s + ε) as Optax and Keras, or g / (√s + ε) as torch), ``eps_hat`` (Adam's
ε̂ form of Kingma & Ba §2, as Keras and TF), ``initial_accumulator`` (Adagrad's s₀) and ``clip_eps``.

State is fresh at every ``train`` call: a dict of per-layer lists of (for W, for b) arrays shaped like
the parameters ((for W, for U, for b) for a recurrent layer: every rule is applied array by array),
under "b" (a momentum buffer), "v" (a velocity, or Adam's second moment), "s" (a sum or average of
squares) and "m" (Adam's first moment), plus "t", the number of steps taken.
"""

import math
from typing import Any, TypeAlias

import numpy as np

from .types import FloatArray, Params, ParamsIn

State: TypeAlias = dict[str, Any]  # {"t": int, "b" | "v" | "s" | "m": [(for W, (for U,) for b), ...]}


def clip(grads: ParamsIn, clip_value: float | None, clip_norm: float | None, clip_eps: float) -> Params:
    """Step 1: elementwise, then (if set) by the global 2-norm over every parameter together (every
    array of every layer: W, b, and U of a recurrent layer)."""
    grads = [tuple(layer) for layer in grads]
    if clip_value is not None:
        c = clip_value
        grads = [tuple(np.clip(g, -c, c) for g in layer) for layer in grads]  # OPT-clip-value
    if clip_norm is not None:
        norm = math.sqrt(sum(float(np.sum(g * g)) for pair in grads for g in pair))  # OPT-clip-norm ‖g‖
        scale = clip_norm / (norm + clip_eps) if norm + clip_eps > 0 else math.inf  # OPT-clip-norm
        if scale < 1:  # OPT-clip-norm min(1, c / (‖g‖ + clip_eps))
            grads = [tuple(g * scale for g in layer) for layer in grads]  # OPT-clip-norm
    return grads


def init_state(optimizer: Any, params: ParamsIn) -> State:
    """Fresh state: zeros shaped like the parameters for every moment the optimizer keeps (Adagrad's
    sum starts at ``initial_accumulator``)."""

    def zeros(fill: float = 0.0) -> Params:
        return [tuple(np.full_like(theta, fill) for theta in layer) for layer in params]

    name, mu = optimizer.name, optimizer.momentum
    state: State = {"t": 0}
    if name in ("momentum", "nesterov") or (name == "rmsprop" and mu > 0):
        state["b" if optimizer.momentum_form == "buffer" else "v"] = zeros()
    if name == "rmsprop":
        state["s"] = zeros()
    if name in ("adam", "adamw"):
        state["m"], state["v"] = zeros(), zeros()
    if name == "adagrad":
        state["s"] = zeros(optimizer.initial_accumulator)
    return state


def with_momentum(
    form: str, mu: float, d: FloatArray, b: FloatArray, lr: float, nesterov: bool = False
) -> tuple[FloatArray, FloatArray]:
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


def transform(optimizer: Any, g: FloatArray, slots: dict[str, FloatArray], lr: float, t: int) -> FloatArray:
    """Step 2 for one parameter array: Δ from its gradient g; ``slots`` (its state arrays, by key) are
    replaced by their new values. ``t`` is the 1-based step, ``lr`` is η_t."""
    o = optimizer
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
        d = g / np.sqrt(s + o.eps) if o.eps_in_sqrt else g / (np.sqrt(s) + o.eps)  # OPT-rmsprop
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
                -lr * math.sqrt(1 - o.beta2**t) / (1 - o.beta1**t) * m / (np.sqrt(v) + o.eps)
            )  # OPT-adam-eps-hat
        m_hat = m / (1 - o.beta1**t)  # OPT-adam-correct   m̂ = m/(1−β₁ᵗ)
        v_hat = v / (1 - o.beta2**t)  # OPT-adam-correct   v̂ = v/(1−β₂ᵗ)
        return -lr * m_hat / (np.sqrt(v_hat) + o.eps)  # OPT-adam   Δ = −η m̂/(√v̂ + ε)
    if o.name == "adagrad":
        s = slots["s"] = slots["s"] + g * g  # OPT-adagrad   s ← s + g²
        return -lr * (g / np.sqrt(s + o.eps) if o.eps_in_sqrt else g / (np.sqrt(s) + o.eps))  # OPT-adagrad
    raise ValueError(f"optimizer.name: unknown optimizer {o.name!r}")  # check_optimizer stops it first


def step(optimizer: Any, params: ParamsIn, grads: ParamsIn, state: State, lr: float) -> tuple[Params, State]:
    """One update: clip, transform every W (U) and b, decoupled decay (adamw: every array of a layer
    but the bias, its last), θ ← θ + Δ. Returns the new parameters and the new state; nothing is
    written in place."""
    o = optimizer
    t = state["t"] + 1
    grads = clip(grads, o.clip_value, o.clip_norm, o.clip_eps)
    keys = [k for k in state if k != "t"]
    new_state: State = {"t": t, **{k: [] for k in keys}}
    new_params: Params = []
    for l, (layer, layer_grads) in enumerate(zip(params, grads)):
        new_layer = []
        new_slots: dict[str, list[FloatArray]] = {k: [] for k in keys}
        for i, (theta, g) in enumerate(zip(layer, layer_grads)):  # W, b; or W, U, b
            slots = {k: state[k][l][i] for k in keys}
            delta = transform(o, g, slots, lr, t)
            if o.name == "adamw" and i < len(layer) - 1:  # every array but the last, the bias
                delta = delta - lr * o.decoupled_decay * theta  # OPT-adamw   Δ ← Δ − ηλ_d θ (W, U, K; not b)
            new_layer.append(theta + delta)  # OPT-update   θ ← θ + Δ
            for k in keys:
                new_slots[k].append(slots[k])
        new_params.append(tuple(new_layer))
        for k in keys:
            new_state[k].append(tuple(new_slots[k]))
    return new_params, new_state
