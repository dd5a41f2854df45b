"""Known-bad implementations: the classic optimizer bugs, one switch each.

Teaching material and the suite's own test: tests/diagnosis/test_optimizer_mutants.py proves that
every bug below is caught on the catalogue's optimizer problems (conformance.problems
.optimizer_problems), by the check that names the quantity it breaks, and diagnosed by its signature
(conformance/diagnosis/signatures/optimizer.py). Each is a student's NumPy training loop — the
reference's backprop for the gradients, its own optimizer — that is right except for the lines marked
``# BUG``: read it next to reference/optimizers.py. Each declares (``supports_optimizer``) only the
optimizers its bug concerns; ``Mutant(None)`` is correct and declares them all (the control).

    python -m conformance check conformance.mutants.optimizers:adam_no_bias_correction --problems 'opt-adam*'
"""

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from conformance.contract import Array, IndexArray, Params
from conformance.optimizer import Optimizer
from conformance.spec import Spec
from reference.network import Gradients, backprop, backprop_unchecked
from reference.training import Trajectory
from reference.validation import Hyper, check_batches, check_inputs, check_optimizer, check_schedule

ADAM = ("adam", "adamw")
MOMENTUM = ("momentum", "nesterov", "rmsprop")

# bug -> (what it gets wrong, the check family that must catch it, a quantity it must name)
BUGS = {
    "adam_no_bias_correction": (
        "Adam's moments used uncorrected: m̂ = m, v̂ = v (the 1/(1 − βᵗ) of Kingma & Ba forgotten)",
        "trajectory",
        "losses",
    ),
    "adam_t_off_by_one": (
        "Adam's step counter starts at 1 and is incremented before use: step t corrects with 1 − βᵗ⁺¹",
        "trajectory",
        "losses",
    ),
    "adam_betas_swapped": ("β₁ and β₂ swapped: m averaged with β₂, v with β₁", "trajectory", "losses"),
    "eps_placement_flipped": (
        "ε inside the root, g/√(s + ε), where outside, g/(√s + ε), is declared, and the reverse "
        "(RMSprop, Adagrad)",
        "trajectory",
        "losses",
    ),
    "velocity_for_buffer": (
        "the velocity form v ← μv − ηg, Δ = v where the buffer form b ← μb + g, Δ = −ηb is declared",
        "trajectory",
        "losses",
    ),
    "nesterov_sutskever_theta": (
        "Nesterov hands back Sutskever's θ = φ − μv instead of the look-ahead φ that frameworks store",
        "trajectory",
        "final W",
    ),
    "decoupled_decay_on_biases": (
        "AdamW's decoupled decay −ηλ_d b applied to the biases too",
        "trajectory",
        "final b",
    ),
    "decoupled_decay_without_lr": (
        "AdamW's decoupled decay Δ ← Δ − λ_d θ, not multiplied by η",
        "trajectory",
        "losses",
    ),
    "decoupled_decay_coupled": (
        "λ_d θ added to the gradient before Adam's normalisation (L2, coupled) instead of decoupled",
        "trajectory",
        "losses",
    ),
    "state_carried_over": (
        "the optimizer state (t and the moments) made on the first train call and never reset",
        "trajectory",
        "losses",
    ),
    "clip_per_layer": (
        "each layer's (∂C/∂W, ∂C/∂b) clipped to norm c on its own, not by the global norm",
        "trajectory",
        "losses",
    ),
    "clip_update": ("the update Δ clipped instead of the gradient g", "trajectory", "losses"),
}

# bug -> the optimizers it concerns: its mutant declares only these (supports_optimizer)
CONCERNS = {
    "adam_no_bias_correction": lambda o: o.name in ADAM,
    "adam_t_off_by_one": lambda o: o.name in ADAM,
    "adam_betas_swapped": lambda o: o.name in ADAM,
    "eps_placement_flipped": lambda o: o.name in ("rmsprop", "adagrad"),
    "velocity_for_buffer": lambda o: o.name in MOMENTUM and o.momentum > 0 and o.momentum_form == "buffer",
    "nesterov_sutskever_theta": lambda o: o.name == "nesterov" and o.momentum_form == "velocity",
    "decoupled_decay_on_biases": lambda o: o.name == "adamw",
    "decoupled_decay_without_lr": lambda o: o.name == "adamw",
    "decoupled_decay_coupled": lambda o: o.name == "adamw",
    "state_carried_over": lambda o: True,
    "clip_per_layer": lambda o: o.clip_norm is not None,
    "clip_update": lambda o: o.clip_norm is not None or o.clip_value is not None,
}


class Mutant:
    """A training loop with at most one optimizer bug (``bug=None`` is correct: the meta-test's control)."""

    supports_conv = True  # the reference's backprop runs conv blocks too

    def __init__(self, bug: str | None = None) -> None:
        if bug is not None and bug not in BUGS:
            raise ValueError(f"bug: unknown mutant {bug!r}; expected one of {list(BUGS)}")
        self.bug = bug
        self.name = f"mutant.{bug}" if bug else "mutant.optimizers-none"
        self._state: dict[str, Any] | None = None

    def supports_optimizer(self, optimizer: object) -> bool:
        hyper = check_optimizer(optimizer)
        return self.bug is None or CONCERNS[self.bug](hyper)

    def gradients(self, spec: Spec, params: Params, x: Array, y: Array) -> Gradients:
        return backprop(spec, params, x, y)

    def _fresh(self, o: Hyper, params: list) -> dict[str, Any]:
        """Zeros shaped like every W and b for each moment the optimizer keeps; t = 0 steps taken."""

        def zeros(fill: float = 0.0) -> list[list[np.ndarray]]:
            return [[np.full_like(W, fill), np.full_like(b, fill)] for W, b in params]

        state: dict[str, Any] = {"t": 1 if self.bug == "adam_t_off_by_one" else 0}  # BUG if 1
        if o.name in MOMENTUM and o.momentum > 0:
            velocity = o.momentum_form == "velocity" or self.bug == "velocity_for_buffer"  # BUG if the bug
            state["v" if velocity else "b"] = zeros()
        if o.name == "rmsprop":
            state["s"] = zeros()
        if o.name in ADAM:
            state["m"], state["v"] = zeros(), zeros()
        if o.name == "adagrad":
            state["s"] = zeros(o.initial_accumulator)
        return state

    def _clip(self, o: Hyper, grads: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
        """Elementwise to [−c, c], or scaled by min(1, c/(‖g‖ + clip_eps)), ‖g‖ over every W and b."""
        if o.clip_value is not None:
            grads = [[np.clip(g, -o.clip_value, o.clip_value) for g in pair] for pair in grads]
        if o.clip_norm is not None:
            per_layer = self.bug == "clip_per_layer"
            groups = [[pair] for pair in grads] if per_layer else [grads]  # BUG if per layer: a norm each
            for group in groups:
                norm = math.sqrt(sum(float(np.sum(g * g)) for pair in group for g in pair))
                scale = o.clip_norm / (norm + o.clip_eps) if norm + o.clip_eps > 0 else math.inf
                if scale < 1:
                    group[:] = [[g * scale for g in pair] for pair in group]
            grads = [pair for group in groups for pair in group]
        return grads

    def _momentum(self, o: Hyper, d: np.ndarray, s: dict, eta: float, nesterov: bool = False) -> np.ndarray:
        """Δ from the direction d (g, or RMSprop's scaled g) with heavy-ball or Nesterov momentum μ."""
        mu = o.momentum
        if o.momentum_form == "buffer" and self.bug != "velocity_for_buffer":  # BUG if the bug: velocity
            s["b"] = mu * s["b"] + d  # b ← μb + g
            return -eta * (d + mu * s["b"]) if nesterov else -eta * s["b"]
        s["v"] = mu * s["v"] - eta * d  # v ← μv − ηg: η baked into v
        return mu * s["v"] - eta * d if nesterov else s["v"]

    def _transform(self, o: Hyper, g: np.ndarray, s: dict, eta: float, t: int) -> np.ndarray:
        """Δ for one parameter array from its gradient g; its state arrays ``s`` are replaced."""
        bug = self.bug
        if o.name == "sgd":
            return -eta * g
        if o.name in ("momentum", "nesterov"):
            return self._momentum(o, g, s, eta, nesterov=o.name == "nesterov")
        if o.name in ("rmsprop", "adagrad"):
            s["s"] = s["s"] + g * g if o.name == "adagrad" else o.rho * s["s"] + (1 - o.rho) * g * g
            inside = o.eps_in_sqrt != (bug == "eps_placement_flipped")  # BUG if flipped
            d = g / np.sqrt(s["s"] + o.eps) if inside else g / (np.sqrt(s["s"]) + o.eps)
            if o.name == "adagrad" or o.momentum == 0:
                return -eta * d
            return self._momentum(o, d, s, eta)
        swapped = bug == "adam_betas_swapped"
        beta1, beta2 = (o.beta2, o.beta1) if swapped else (o.beta1, o.beta2)  # BUG if swapped
        s["m"] = beta1 * s["m"] + (1 - beta1) * g
        s["v"] = beta2 * s["v"] + (1 - beta2) * g * g
        if bug == "adam_no_bias_correction":
            c1, c2 = 1.0, 1.0  # BUG: m̂ = m, v̂ = v
        else:
            c1, c2 = 1 - beta1**t, 1 - beta2**t
        if o.eps_hat:  # Kingma & Ba §2: the correction folded into the rate, ε̂ outside √v
            return -eta * math.sqrt(c2) / c1 * s["m"] / (np.sqrt(s["v"]) + o.eps)
        return -eta * (s["m"] / c1) / (np.sqrt(s["v"] / c2) + o.eps)

    def train(
        self,
        spec: Spec,
        params: Any,  # Any: Params, handed back in a reference Trajectory, whose params are a list
        x: Array,
        y: Array,
        *,
        lr: float | Sequence[float],
        batches: Sequence[IndexArray],
        optimizer: object = None,
    ) -> Trajectory:
        check_inputs(spec, params, x, y)
        o = check_optimizer(Optimizer("sgd") if optimizer is None else optimizer)
        batches = check_batches(batches, x.shape[0])
        rates = check_schedule(lr, len(batches))
        params = [(W, b) for W, b in params]
        kept = self.bug == "state_carried_over" and self._state is not None
        if not kept:  # BUG if kept: the first call's state goes on, never reset
            self._state = self._fresh(o, params)
        state = self._state
        assert state is not None  # set just above
        keys = [k for k in state if k != "t"]
        losses = []
        # like a student's NumPy loop, a step that blows up goes on quietly to inf and NaN
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for idx, eta in zip(batches, rates):
                result = backprop_unchecked(spec, params, x[idx], y[idx])
                losses.append(result.loss)
                grads = [[dW, db] for dW, db in result.grads]
                if self.bug == "decoupled_decay_coupled":  # BUG: λ_d W in the gradient, as an L2 term
                    grads = [[dW + o.decoupled_decay * W, db] for (dW, db), (W, _) in zip(grads, params)]
                if self.bug != "clip_update":  # BUG if the bug: the gradient goes unclipped
                    grads = self._clip(o, grads)
                state["t"] += 1
                deltas = []
                for l, layer_grads in enumerate(grads):
                    pair = []
                    for i, g in enumerate(layer_grads):
                        s = {k: state[k][l][i] for k in keys}
                        pair.append(self._transform(o, g, s, eta, state["t"]))
                        for k in keys:
                            state[k][l][i] = s[k]
                    deltas.append(pair)
                if o.name == "adamw" and self.bug != "decoupled_decay_coupled":  # BUG if coupled: none here
                    eta_d = 1.0 if self.bug == "decoupled_decay_without_lr" else eta  # BUG if 1.0
                    rate = o.decoupled_decay * eta_d
                    for (W, b), pair in zip(params, deltas):
                        pair[0] = pair[0] - rate * W  # Δ ← Δ − ηλ_d W: weights only
                        if self.bug == "decoupled_decay_on_biases":
                            pair[1] = pair[1] - rate * b  # BUG: the biases decayed too
                if self.bug == "clip_update":
                    deltas = self._clip(o, deltas)  # BUG: clips the update Δ, not the gradient g
                params = [(W + dW, b + db) for (W, b), (dW, db) in zip(params, deltas)]
        if self.bug == "nesterov_sutskever_theta":
            # BUG: Sutskever's θ = φ − μv handed back, where every framework keeps the look-ahead φ
            params = [
                (W - o.momentum * vW, b - o.momentum * vb) for (W, b), (vW, vb) in zip(params, state["v"])
            ]
        returned = {k: v if k == "t" else [tuple(pair) for pair in v] for k, v in state.items()}
        return Trajectory(losses, params, None if optimizer is None else returned)


# module-level instances, so that ``check conformance.mutants.optimizers:clip_update`` works
for _bug in BUGS:
    globals()[_bug] = Mutant(_bug)
del _bug
