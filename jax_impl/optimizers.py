"""Optimizers, learning-rate schedules and gradient clipping in jax.numpy: pure functions over a
list of layers, (W, b) pairs or a recurrent layer's (W, U, b) triples, a line-by-line translation
of reference/optimizers.py (the lines carry the same ``# OPT-...`` tags), written to run under jit.

g is ∂C/∂θ of the full cost C on step t's batch (the coupled L2 term λW included). Each step then
runs, in this order:

    1. clipping (optional)   clip_value c: g ← clip(g, −c, c) elementwise
                             clip_norm c:  g ← g · min(1, c / (‖g‖ + clip_eps)), ‖g‖ over all parameters
    2. the transform         Δ from g and the optimizer's state, per parameter array
    3. decoupled decay       adamw: Δ ← Δ − η_t λ_d θ, for weights and kernels only (never biases):
                             every array of a layer but its last (W and U of a triple, not b)
    θ ← θ + Δ

Under jit, ``hyper`` (a validation.Hyper) is a pytree: its numbers (μ, ρ, β₁, β₂, ε, λ_d, the clip
thresholds) and η_t are traced, so problems of one shape share one compiled program. What shapes
the program is static: the rule's name, momentum_form, eps_in_sqrt, eps_hat, whether clip_value or
clip_norm is set, and the state's keys. Those keys are chosen by :func:`init_state` from the
concrete numbers (RMSprop keeps a momentum slot only for μ > 0), so call it outside jit.

Every number meets the arrays as a weakly typed scalar, so the arrays' dtype is kept: a Python
float neither promotes a float32 run (x64 on) nor demotes a float64 one. t is counted in int32 and
cast to the arrays' dtype for Adam's bias correction 1 − βᵗ.

State: {"t": int32 array, steps taken; "b" | "v" | "s" | "m": [(for W, for b), ...]}, each layer's
slot a tuple shaped like the layer ((for W, for U, for b) for a triple), the reference's layout
("b" a momentum buffer, "v" a velocity or Adam's second moment, "s" a sum or average of squares,
"m" Adam's first moment).
"""

from typing import Any, TypeAlias

import jax
import jax.numpy as jnp
import numpy as np

from .types import Params, ParamsIn
from .validation import Hyper, check_optimizer

State: TypeAlias = dict[str, Any]  # {"t": int32 array, "b" | "v" | "s" | "m": [(for W, for b), ...]}
# (a tuple per layer, shaped like the layer: (for W, for U, for b) for a recurrent triple)


def clip(grads: ParamsIn, clip_value: Any, clip_norm: Any, clip_eps: Any) -> Params:
    """Step 1: elementwise, then (if set) by the global 2-norm over every parameter together. None
    switches a clip off (static); a threshold is a number or a tracer."""
    grads = [tuple(layer) for layer in grads]
    if clip_value is not None:
        c = clip_value
        grads = [tuple(jnp.clip(g, -c, c) for g in layer) for layer in grads]  # OPT-clip-value
    if clip_norm is not None:
        norm = jnp.sqrt(sum(jnp.sum(g * g) for layer in grads for g in layer))  # OPT-clip-norm ‖g‖
        # c / 0 is inf, so min(1, ·) leaves g exactly as it is when ‖g‖ + clip_eps = 0
        scale = jnp.minimum(1, clip_norm / (norm + clip_eps))  # OPT-clip-norm min(1, c / (‖g‖ + clip_eps))
        grads = [tuple(g * scale for g in layer) for layer in grads]  # OPT-clip-norm
    return grads


def init_state(hyper: Hyper, params: ParamsIn) -> State:
    """Fresh state: zeros shaped like the parameters for every moment the optimizer keeps (Adagrad's
    sum starts at ``initial_accumulator``). Reads μ to decide the keys: call it with concrete numbers.
    The arrays are filled by NumPy and transferred: jnp.full_like outside a compiled step would be a
    program of its own, compiled for every new shape."""

    def zeros(fill: Any = 0.0) -> Params:
        return [
            tuple(jax.device_put(np.full(theta.shape, fill, theta.dtype)) for theta in layer)
            for layer in params
        ]

    name, mu = hyper.name, hyper.momentum
    # int32 in and out: one compiled step, not two
    state: State = {"t": jax.device_put(np.zeros((), np.int32))}
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
    form: str, mu: Any, d: jax.Array, b: jax.Array, lr: Any, nesterov: bool = False
) -> tuple[jax.Array, jax.Array]:
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


def transform(o: Hyper, g: jax.Array, slots: dict[str, jax.Array], lr: Any, t: jax.Array) -> jax.Array:
    """Step 2 for one parameter array: Δ from its gradient g; ``slots`` (its state arrays, by key) are
    replaced by their new values. ``t`` is the 1-based step (int32), ``lr`` is η_t."""
    if o.name == "sgd":
        return -lr * g  # OPT-sgd   Δ = −ηg
    key = "b" if o.momentum_form == "buffer" else "v"
    if o.name in ("momentum", "nesterov"):
        delta, slots[key] = with_momentum(
            o.momentum_form, o.momentum, g, slots[key], lr, o.name == "nesterov"
        )
        return delta
    if o.name == "rmsprop":
        s = slots["s"] = o.rho * slots["s"] + (1 - o.rho) * g * g  # OPT-rmsprop   s ← ρs + (1−ρ)g²
        d = g / jnp.sqrt(s + o.eps) if o.eps_in_sqrt else g / (jnp.sqrt(s) + o.eps)  # OPT-rmsprop
        if key not in slots:  # μ = 0: init_state kept no slot (μ itself may be a tracer here)
            return -lr * d  # OPT-rmsprop   Δ = −η g/(√s + ε)
        delta, slots[key] = with_momentum(o.momentum_form, o.momentum, d, slots[key], lr)
        return delta
    if o.name in ("adam", "adamw"):
        m = slots["m"] = o.beta1 * slots["m"] + (1 - o.beta1) * g  # OPT-adam-m   m ← β₁m + (1−β₁)g
        v = slots["v"] = o.beta2 * slots["v"] + (1 - o.beta2) * g * g  # OPT-adam-v   v ← β₂v + (1−β₂)g²
        t = t.astype(g.dtype)  # βᵗ in the arrays' dtype
        if o.eps_hat:  # Kingma & Ba §2: η_t √(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + ε̂)
            return (
                -lr * jnp.sqrt(1 - o.beta2**t) / (1 - o.beta1**t) * m / (jnp.sqrt(v) + o.eps)
            )  # OPT-adam-eps-hat
        m_hat = m / (1 - o.beta1**t)  # OPT-adam-correct   m̂ = m/(1−β₁ᵗ)
        v_hat = v / (1 - o.beta2**t)  # OPT-adam-correct   v̂ = v/(1−β₂ᵗ)
        return -lr * m_hat / (jnp.sqrt(v_hat) + o.eps)  # OPT-adam   Δ = −η m̂/(√v̂ + ε)
    if o.name == "adagrad":
        s = slots["s"] = slots["s"] + g * g  # OPT-adagrad   s ← s + g²
        return -lr * (g / jnp.sqrt(s + o.eps) if o.eps_in_sqrt else g / (jnp.sqrt(s) + o.eps))  # OPT-adagrad
    raise ValueError(f"optimizer.name: unknown optimizer {o.name!r}")  # check_optimizer stops it first


def step(hyper: Hyper, params: ParamsIn, grads: ParamsIn, state: State, lr: Any) -> tuple[Params, State]:
    """One update: clip, transform every W (U) and b, decoupled decay (adamw, weights and kernels
    only: every array of a layer but its last, the bias), θ ← θ + Δ. Returns the new parameters and
    the new state; pure, so jit can trace it."""
    o = hyper
    t = state["t"] + 1
    grads = clip(grads, o.clip_value, o.clip_norm, o.clip_eps)
    keys = [k for k in state if k != "t"]
    new_state: State = {"t": t, **{k: [] for k in keys}}
    new_params = []
    for l, (layer, nabla) in enumerate(zip(params, grads)):
        new_layer = []
        new_slots: dict[str, list[jax.Array]] = {k: [] for k in keys}
        for i, (theta, g) in enumerate(zip(layer, nabla)):
            slots = {k: state[k][l][i] for k in keys}
            delta = transform(o, g, slots, lr, t)
            if o.name == "adamw" and i < len(layer) - 1:  # W, U, K: every array but the bias
                delta = delta - lr * o.decoupled_decay * theta  # OPT-adamw   Δ ← Δ − ηλ_d θ (W, K only)
            new_layer.append(theta + delta)  # OPT-update   θ ← θ + Δ
            for k in keys:
                new_slots[k].append(slots[k])
        new_params.append(tuple(new_layer))
        for k in keys:
            new_state[k].append(tuple(new_slots[k]))
    return new_params, new_state


def supports_optimizer(optimizer: object) -> bool:
    """The hand-written ports' opt-in (manual.py, autodiff.py): every rule and convention of the
    contract is implemented here. An invalid optimizer raises check_optimizer's error."""
    check_optimizer(optimizer)
    return True
