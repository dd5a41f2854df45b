"""Signatures of known optimizer bugs: replays of the reference's training loop (reference.train:
backprop, then reference/optimizers.py's ``step``) with one thing changed — a hyperparameter or a
convention switch of the problem's Optimizer (dataclasses.replace), or one part of the step done a
known-bad way around the reference's own ``step`` — each compared with everything the
implementation's ``train`` returned: every per-step loss, the final parameters and, where it hands
one back, its optimizer state, each to the trajectory tolerance.

They speak only on an optimizer problem (Problem.optimizer) and only when nothing but its training
check failed: an optimizer problem has no single-pass check (Problem.kinds), so the replay's
gradients are the reference's, and a run whose gradients are wrong matches none of them. A replay
stops at the first step whose loss differs from the implementation's (most wrong hypotheses end at
step 1). Each message names the quantity, the step where the trajectory first diverges (0-based, as
the check's "first diverging step"), and the layers where only some differ.

Each is a small function of the evidence (evidence.Evidence) listed in diagnose.SIGNATURES; the
mutants they were written for are conformance/mutants/optimizers.py.
"""

import math
from dataclasses import replace

import numpy as np

from conformance.calls import is_loss
from conformance.diagnosis.evidence import Diagnosis, Evidence, attribute, float_pairs
from conformance.diagnosis.signatures.trajectory import train_keys
from conformance.optimizer import Optimizer
from conformance.tolerances import ZERO_FLOOR
from reference import optimizers
from reference.network import backprop_unchecked
from reference.training import Trajectory
from reference.validation import check_schedule

ADAM = ("adam", "adamw")
FOREVER = 2**62  # a step count at which 1 − βᵗ is exactly 1.0 for every β < 1: no bias correction


def _applies(ev: Evidence, *names: str) -> Optimizer | None:
    """The problem's optimizer, where it has one (one of ``names``, if given) and only the training
    check failed; else None."""
    o, keys = ev.problem.optimizer, train_keys(ev)
    if o is None or (names and o.name not in names) or not keys or set(ev.failing) - set(keys):
        return None
    return o


def _rates(ev):
    return check_schedule(ev.problem.lr, len(ev.problem.batches))


def _got(ev):
    """The implementation's (losses, [(W, b)], state or None), as the checks accept them, else None."""
    losses = ev.pairs("losses")
    train = ev.got.get("train")
    params = float_pairs(attribute(train, "params"), len(ev.problem.params))
    if not losses or params is None or losses[0][1].shape != (len(ev.problem.batches),):
        return None
    state = attribute(train, "state")
    return losses[0][1], params, state if isinstance(state, dict) else None


def _replay(ev, optimizer=None, step=optimizers.step, state=None, against=None, steps=None):
    """reference.train's loop on exactly the implementation's inputs, with ``optimizer`` (the
    problem's by default), ``step(optimizer, params, grads, state, lr) -> (params, state)`` and the
    initial ``state`` (fresh by default). Stops, returning None, at the first step whose loss differs
    from ``against`` (the implementation's losses); runs ``steps`` steps if given, else all."""
    p = ev.problem
    o = optimizer or p.optimizer
    params = p.params
    state = optimizers.init_state(o, params) if state is None else state
    losses = []
    for k, (idx, lr) in enumerate(list(zip(p.batches, _rates(ev)))[:steps]):
        now = backprop_unchecked(p.spec, params, p.x[idx], p.y[idx])
        if against is not None and not ev.close("losses", against[k : k + 1], np.asarray([now.loss])):
            return None
        losses.append(now.loss)
        params, state = step(o, params, now.grads, state, lr)
    return Trajectory(losses, params, state)


def _close_pairs(ev, got, want):
    return all(ev.close("final W", g, w) for gp, wp in zip(got, want) for g, w in zip(gp, wp))


def _same_state(ev, got, want):
    """The implementation's state is the replay's: the same keys, the same t, every array close."""
    t = got.get("t")
    if set(got) != set(want) or not is_loss(t) or t != want["t"]:
        return False
    for key in set(want) - {"t"}:
        pairs = float_pairs(got[key], len(want[key]))
        if pairs is None or not _close_pairs(ev, pairs, want[key]):
            return False
    return True


def _replays(ev, *, finish=None, **replay):
    """The implementation's run is this replay (``replay``: _replay's keywords) in every loss, every
    final parameter (after ``finish(params, state)``, where given) and its state, if it has one."""
    got = _got(ev)
    if got is None:
        return False
    losses, params, state = got
    replayed = _replay(ev, against=losses, **replay)
    if replayed is None:
        return False
    final = finish(replayed.params, replayed.state) if finish else replayed.params
    return (
        ev.close("losses", losses, replayed.losses)
        and _close_pairs(ev, params, final)
        and (state is None or _same_state(ev, state, replayed.state))
    )


def _diverging(ev):
    """The first step whose loss differs from the reference's (the check's first diverging step), or
    None when every loss agrees."""
    [(_, got, want)] = ev.pairs("losses") or [(0, np.zeros(0), np.zeros(0))]
    bad = np.flatnonzero(~(np.abs(got - want) <= ev.tol("losses") * np.maximum(np.abs(want), ZERO_FLOOR)))
    return int(bad[0]) if bad.size else None


def _from(ev):
    k = _diverging(ev)
    return "every per-step loss agrees" if k is None else f"the trajectory first diverges at step {k}"


def _layers(ev, *families):
    """The layers whose failing results are in these families, as '1, 2'."""
    found = sorted({r.layer for f in families for r in ev.failing.get(("trajectory", f), []) if r.layer})
    return ", ".join(map(str, found))


def _diagnosis(ev, signature, cause, fix):
    return Diagnosis(signature, cause, fix, train_keys(ev))


def adam_no_bias_correction(ev: Evidence) -> Diagnosis | None:
    """m̂ = m, v̂ = v: the reference's step with 1 − βᵗ exactly 1.0 (t = FOREVER), its own t kept."""
    o = _applies(ev, *ADAM)
    if o is None:
        return None

    def uncorrected(o, params, grads, state, lr):
        params, new = optimizers.step(o, params, grads, {**state, "t": FOREVER}, lr)
        return params, {**new, "t": state["t"] + 1}

    if not _replays(ev, step=uncorrected):
        return None
    first = (1 - o.beta1) / math.sqrt(1 - o.beta2)
    return _diagnosis(
        ev,
        "adam_no_bias_correction",
        "Adam's moments are used uncorrected, m̂ = m and v̂ = v: the bias corrections 1/(1 − β₁ᵗ) and "
        "1/(1 − β₂ᵗ) are missing, so step t's update is about (1 − β₁ᵗ)/√(1 − β₂ᵗ) times the "
        f"reference's ({first:.3g} at t = 1, tending to 1 as t grows); {_from(ev)}",
        "m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ), t = 1 at the first step, then Δ = −η m̂/(√v̂ + ε)"
        + (
            " (or, in the ε̂ form you declared, Δ = −η √(1 − β₂ᵗ)/(1 − β₁ᵗ) · m/(√v + ε̂))" if o.eps_hat else ""
        ),
    )


def adam_step_count(ev: Evidence) -> Diagnosis | None:
    """The bias correction one step ahead: the reference from a fresh state whose t is already 1."""
    o = _applies(ev, *ADAM)
    if o is None or not _replays(ev, state={**optimizers.init_state(o, ev.problem.params), "t": 1}):
        return None
    got = _got(ev)
    t = got[2].get("t") if got and got[2] else None
    counted = f" (your state says t = {t} after {len(ev.problem.batches)} steps)" if t is not None else ""
    return _diagnosis(
        ev,
        "adam_step_count",
        "Adam's bias correction counts one step ahead: step t corrects with 1 − β₁ᵗ⁺¹ and 1 − β₂ᵗ⁺¹, "
        f"as a step counter that starts at 1 and is incremented before its first use does{counted}; "
        f"{_from(ev)}",
        "start t at 0 and increment it before the correction, so that the first step uses t = 1: "
        "m̂ = m/(1 − β₁¹) = g at step 1",
    )


def adam_betas_swapped(ev: Evidence) -> Diagnosis | None:
    o = _applies(ev, *ADAM)
    if (
        o is None
        or o.beta1 == o.beta2
        or not _replays(ev, optimizer=replace(o, beta1=o.beta2, beta2=o.beta1))
    ):
        return None
    return _diagnosis(
        ev,
        "adam_betas_swapped",
        f"β₁ and β₂ are swapped: your first moment m is averaged with β₂ = {o.beta2:g} and your second "
        f"moment v with β₁ = {o.beta1:g} (and corrected with them); {_from(ev)}",
        f"m ← β₁m + (1 − β₁)g with β₁ = {o.beta1:g}, v ← β₂v + (1 − β₂)g² with β₂ = {o.beta2:g}, "
        "m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ)",
    )


def eps_placement(ev: Evidence) -> Diagnosis | None:
    """ε on the other side of the square root than the problem declares (eps_in_sqrt)."""
    o = _applies(ev, "rmsprop", "adagrad")
    if o is None or not _replays(ev, optimizer=replace(o, eps_in_sqrt=not o.eps_in_sqrt)):
        return None
    inside, outside = "g/√(s + ε)", "g/(√s + ε)"
    yours, declared = (outside, inside) if o.eps_in_sqrt else (inside, outside)
    who = "Optax's and Keras's form" if o.eps_in_sqrt else "torch's form"
    return _diagnosis(
        ev,
        "eps_placement",
        f"your {o.name} scales the gradient as {yours}, where the problem declares "
        f"eps_in_sqrt={o.eps_in_sqrt}: {declared} ({who}); with ε = {o.eps:g} the two differ most "
        f"where s is small (small gradients); {_from(ev)}",
        f"d = {declared}, Δ = −η d",
    )


def momentum_form(ev: Evidence) -> Diagnosis | None:
    """The other momentum form than the declared one: identical while η is constant, the two part
    from the first step after η changes (their states differ throughout: b against v = −ηb)."""
    o = _applies(ev, "momentum", "nesterov", "rmsprop")
    if o is None or o.momentum == 0:
        return None
    other = "velocity" if o.momentum_form == "buffer" else "buffer"
    if not _replays(ev, optimizer=replace(o, momentum_form=other)):
        return None
    forms = {"buffer": "b ← μb + g, Δ = −ηb", "velocity": "v ← μv − ηg, Δ = v"}
    if o.name == "nesterov":
        forms = {"buffer": "b ← μb + g, Δ = −η(g + μb)", "velocity": "v ← μv − ηg, Δ = μv − ηg"}
    rates, k = _rates(ev), _diverging(ev)
    change = next((t for t in range(1, len(rates)) if rates[t] != rates[t - 1]), None)
    if k is None:
        where = (
            f"your state keeps {'v = −ηb' if other == 'velocity' else 'b = −v/η'} where the "
            f"{o.momentum_form} form keeps {'b' if other == 'velocity' else 'v'}; the per-step losses and "
            "final parameters agree, as the two forms do while η is constant"
        )
    elif change is not None and k == change + 1:
        where = (
            f"identical while η is constant, it diverges at step {k}, the first step after η changes at "
            f"step {change} ({rates[change - 1]:g} → {rates[change]:g})"
        )
    else:
        where = f"the trajectory first diverges at step {k}"
    return _diagnosis(
        ev,
        "momentum_form",
        f"the trajectory follows the {other} form {forms[other]}, where the problem declares the "
        f"{o.momentum_form} form {forms[o.momentum_form]}: {where}",
        f"the {o.momentum_form} form: {forms[o.momentum_form]}"
        + (" (η stays outside the buffer, as torch.optim and Optax)" if o.momentum_form == "buffer" else ""),
    )


def nesterov_theta(ev: Evidence) -> Diagnosis | None:
    """Every loss right, the final parameters the reference's look-ahead φ minus μv: Sutskever's θ."""
    o = _applies(ev, "nesterov")
    if o is None or o.momentum_form != "velocity":
        return None

    def theta(params, state):
        return [(W - o.momentum * vW, b - o.momentum * vb) for (W, b), (vW, vb) in zip(params, state["v"])]

    if not _replays(ev, finish=theta):
        return None
    return _diagnosis(
        ev,
        "nesterov_theta",
        f"the final parameters of layer(s) {_layers(ev, 'final W', 'final K', 'final b')} are the "
        "look-ahead φ minus μv: you hand back Sutskever's θ = φ − μv (Sutskever et al. 2013, eqs. 3–4), "
        f"where every framework stores the look-ahead φ; {_from(ev)}",
        "keep and return the look-ahead parameters: v ← μv − ηg, φ ← φ + μv − ηg, with g taken at φ "
        "(torch.optim, Optax and Keras store φ)",
    )


def _decayed(weights, biases=lambda lr: 0.0):
    """The reference's step without its decoupled decay, then θ ← θ − rate·λ_d·θ_before, the rate
    ``weights(η)`` for W and K and ``biases(η)`` for b (the reference's: η and 0)."""

    def step(o, params, grads, state, lr):
        new, state = optimizers.step(replace(o, decoupled_decay=0.0), params, grads, state, lr)
        rate_W, rate_b = weights(lr) * o.decoupled_decay, biases(lr) * o.decoupled_decay
        return [(W2 - rate_W * W, b2 - rate_b * b) for (W2, b2), (W, b) in zip(new, params)], state

    return step


def _coupled(o, params, grads, state, lr):
    """λ_d W added to the gradient before the step (L2), and no decoupled decay after it."""
    grads = [(dW + o.decoupled_decay * W, db) for (dW, db), (W, _) in zip(grads, params)]
    return optimizers.step(replace(o, decoupled_decay=0.0), params, grads, state, lr)


def decoupled_decay_on_biases(ev: Evidence) -> Diagnosis | None:
    o = _applies(ev, "adamw")
    if o is None or not _replays(ev, step=_decayed(lambda lr: lr, lambda lr: lr)):
        return None
    lam = o.decoupled_decay
    return _diagnosis(
        ev,
        "decoupled_decay_on_biases",
        f"the decoupled decay shrinks the biases too, b ← b − ηλ_d b with λ_d = {lam:g}: the final b of "
        f"layer(s) {_layers(ev, 'final b')} are off, and {_from(ev)}",
        "decay weights and kernels only: Δ ← Δ − ηλ_d W, never the biases (as λ of the cost, and as "
        "torch's and Optax's parameter groups are usually set)",
    )


def decoupled_decay_without_lr(ev: Evidence) -> Diagnosis | None:
    o = _applies(ev, "adamw")
    if o is None or not _replays(ev, step=_decayed(lambda lr: 1.0)):
        return None
    lam, rates = o.decoupled_decay, _rates(ev)
    return _diagnosis(
        ev,
        "decoupled_decay_without_lr",
        f"the decoupled decay is not multiplied by η: Δ ← Δ − λ_d W, each step shrinking W by "
        f"λ_d = {lam:g} instead of ηλ_d = {rates[0] * lam:g} ({1 / rates[0]:g} times too strong); "
        f"{_from(ev)}",
        "Δ ← Δ − η_t λ_d W with the step's η_t, as torch and Optax (Loshchilov & Hutter multiply by "
        "the schedule)",
    )


def decoupled_decay_coupled(ev: Evidence) -> Diagnosis | None:
    o = _applies(ev, "adamw")
    if o is None or not _replays(ev, step=_coupled):
        return None
    lam = o.decoupled_decay
    return _diagnosis(
        ev,
        "decoupled_decay_coupled",
        f"λ_d W (λ_d = {lam:g}) is added to the gradient before Adam's normalisation, g ← g + λ_d W: "
        "L2 regularisation (coupled), which m/√v rescales, where adamw decouples it; "
        f"{_from(ev)}",
        "leave g alone and decay after the Adam step: Δ ← −η m̂/(√v̂ + ε) − ηλ_d W (Loshchilov & Hutter, "
        "Algorithm 2)",
    )


def state_carried_over(ev: Evidence) -> Diagnosis | None:
    """The run continues from the state of earlier identical calls: as many as the returned t says
    (t = (k + 1)·steps after k earlier calls of this problem), one if it says nothing. A returned
    t = steps counted from 0: a fresh state, no replay needed (each of these costs a whole run more)."""
    if _applies(ev) is None:
        return None
    got = _got(ev)
    steps = len(ev.problem.batches)
    t = got[2].get("t") if got and got[2] else None
    if is_loss(t) and t == steps:
        return None
    calls = t // steps - 1 if isinstance(t, int) and t > steps and t % steps == 0 else 1
    state = None
    for _ in range(calls):
        state = _replay(ev, state=state).state
    if not _replays(ev, state=state):
        return None
    counted = [f"your state says t = {t} after this call's {steps} steps"] if t is not None else []
    return _diagnosis(
        ev,
        "state_carried_over",
        "the optimizer state is not fresh: this call continues from the state that an earlier train "
        f"call left ({'; '.join([*counted, _from(ev)])})",
        "create the state (t = 0, zero moments) inside train, at every call — not in __init__, in a "
        "module-level variable or in a default argument",
    )


def clip_per_layer(ev: Evidence) -> Diagnosis | None:
    """Each layer's (∂W, ∂b) clipped to norm c on its own, by reference.optimizers.clip."""
    o = _applies(ev)
    if o is None or o.clip_norm is None:
        return None
    free = replace(o, clip_norm=None, clip_eps=0.0)

    def per_layer(o, params, grads, state, lr):
        grads = [optimizers.clip([pair], None, o.clip_norm, o.clip_eps)[0] for pair in grads]
        return optimizers.step(free, params, grads, state, lr)

    if not _replays(ev, step=per_layer):
        return None
    return _diagnosis(
        ev,
        "clip_per_layer",
        f"the gradient is clipped layer by layer, each (∂C/∂W^l, ∂C/∂b^l) to norm c = {o.clip_norm:g} "
        f"on its own, where clip_norm scales every layer by the one factor c/‖g‖ of the global norm "
        f"‖g‖ over all parameters{_clipped(ev, o)}",
        "‖g‖ = √(Σ_l ‖∂C/∂W^l‖² + ‖∂C/∂b^l‖²) over every layer together, then every gradient × "
        "min(1, c/(‖g‖ + clip_eps))",
    )


def _clipped(ev, o):
    """'; at step 0 ... : the trajectory first diverges at step 1': the norms of the reference's
    gradient at the step before the first diverging one, the first step that clipping changed."""
    k = _diverging(ev)
    if not k:
        return f"; {_from(ev)}"
    p, before = ev.problem, _replay(ev, steps=k - 1)
    grads = backprop_unchecked(p.spec, before.params, p.x[p.batches[k - 1]], p.y[p.batches[k - 1]]).grads
    layers = [math.sqrt(float(np.sum(dW * dW) + np.sum(db * db))) for dW, db in grads]
    norm = math.sqrt(sum(n * n for n in layers))
    return (
        f": at step {k - 1} the global ‖g‖ = {norm:.3g} > c, so every layer is scaled by "
        f"{o.clip_norm / (norm + o.clip_eps):.3g}, but your layers' own norms "
        f"({', '.join(f'{n:.3g}' for n in layers)}) were each clipped to c; the trajectory first "
        f"diverges at step {k}"
    )


def clip_update(ev: Evidence) -> Diagnosis | None:
    """The update Δ = θ_new − θ clipped by the problem's rule, the gradient left unclipped."""
    o = _applies(ev)
    if o is None or (o.clip_value is None and o.clip_norm is None):
        return None
    free = replace(o, clip_value=None, clip_norm=None, clip_eps=0.0)

    def clipped_update(o, params, grads, state, lr):
        new, state = optimizers.step(free, params, grads, state, lr)
        deltas = [(W2 - W, b2 - b) for (W2, b2), (W, b) in zip(new, params)]
        clipped = optimizers.clip(deltas, o.clip_value, o.clip_norm, o.clip_eps)
        return [(W + dW, b + db) for (W, b), (dW, db) in zip(params, clipped)], state

    if not _replays(ev, step=clipped_update):
        return None
    rule = (
        f"to [−{o.clip_value:g}, {o.clip_value:g}]"
        if o.clip_value is not None
        else f"to norm {o.clip_norm:g}"
    )
    return _diagnosis(
        ev,
        "clip_update",
        f"the update Δ is clipped {rule} instead of the gradient g: the unclipped g enters "
        f"{o.name}'s step (and its state) and only the result is clipped; {_from(ev)}",
        "clip g first, then compute Δ from the clipped g: clip → transform → decoupled decay → θ ← θ + Δ",
    )
