"""Signatures of known bugs in training: replays of the reference's SGD with one thing changed (η
rounded to float32, the step's gradient scaled, a stale gradient, the loss recorded after the
update, batches skipped), each compared with the implementation's per-step losses and final
parameters to the trajectory tolerance; and plain readings of where a trajectory first goes wrong.

A replay speaks only when the training check alone failed (the single pass is right, so the replay's
gradients are the implementation's). A replay that overflows matches nothing (Evidence.close rejects
NaN and Inf on either side); a run that diverges is matched by a replay that diverges at the same
step and agrees with it on every step before (_matches).

Each is a small function of the evidence (evidence.Evidence) listed in diagnose.SIGNATURES.
"""

from typing import cast

import numpy as np

import reference
from conformance.diagnosis.evidence import Diagnosis, Evidence, attribute, float_pairs
from conformance.diagnosis.multiples import FACTORS
from conformance.tolerances import ZERO_FLOOR
from reference.network import backprop_unchecked

# the families of the training check ("final params", or "final " before it, names a malformed
# parameter list; final U a recurrent layer's) and a crash in train
TRAIN = ("losses", "final K", "final W", "final U", "final b", "final ", "final params", "call train")


def train_keys(ev):
    """The failing groups of the training check, the optimizer's state ("state m W", ...) included."""
    return tuple(k for k in ev.failing if k[1] in TRAIN or k[1].startswith("state"))


def _training_only(ev):
    """Only the training check failed, on a plain-SGD problem: the single pass (if it ran) is right,
    so a replay of the reference's own gradients with one known-bad SGD step rule can reproduce the
    run exactly. An optimizer problem's run is another rule (signatures/optimizer.py replays those)."""
    return ev.problem.optimizer is None and bool(train_keys(ev)) and not set(ev.failing) - set(train_keys(ev))


def _got(ev):
    """The implementation's (losses, [(W, b)]) as float64, or None if they are unusable (missing,
    not numbers, not a list of (array, array) pairs of the right length: evidence.float_pairs)."""
    losses = ev.pairs("losses")
    params = float_pairs(attribute(ev.got.get("train"), "params"), len(ev.problem.params))
    if losses is None or params is None:
        return None
    return losses[0][1], [(W.astype(np.float64), b.astype(np.float64)) for W, b in params]


def _replay(ev, *, grads=None, record_after=False, lr=None, against=None):
    """The reference's SGD on exactly the implementation's inputs; ``grads(k, idx, now, previous)``
    gives the gradient step k applies, ``lr`` the learning rate (the problem's by default).
    Returns (losses, params). A replay that blows up keeps the steps it could compute: from the step
    whose parameters went non-finite its losses are NaN and its params None, so that _matches can
    compare a diverging implementation with a diverging replay.

    ``against``: the implementation's per-step losses; the replay stops (None) at the first step whose
    loss differs from it — finite on one side only, or farther apart than the per-step tolerance — as
    no match can follow; most replays of a wrong hypothesis end at step 1. The inputs are the
    problem's, validated once: reference.backprop_unchecked, with the finiteness check that
    reference.backprop would make on the parameters done here."""
    p = ev.problem
    lr = p.lr if lr is None else lr
    params, previous = p.params, None
    losses: list[float] = []

    def finite(params):
        return all(np.isfinite(W).all() and np.isfinite(b).all() for W, b in params)

    def differs(k, loss):
        if against is None or k >= len(against):
            return False
        if not np.isfinite(loss) and not np.isfinite(against[k]):  # both blown up: _matches decides
            return False
        return not ev.close("losses", against[k : k + 1], np.asarray([loss]))

    with np.errstate(all="ignore"):
        for k, idx in enumerate(p.batches):
            if not finite(params):
                return np.asarray(losses + [np.nan] * (len(p.batches) - k)), None
            now = backprop_unchecked(p.spec, params, p.x[idx], p.y[idx])
            applied = now.grads if grads is None else grads(k, idx, now.grads, previous)
            previous = now.grads
            new = reference.sgd_step(params, applied, lr)
            if record_after:
                loss = backprop_unchecked(p.spec, new, p.x[idx], p.y[idx]).loss if finite(new) else np.nan
            else:
                loss = now.loss
            if differs(k, loss):
                return None
            losses.append(loss)
            params = new
    return np.asarray(losses), params


def _finite(params):
    return params is not None and all(np.all(np.isfinite(W)) and np.all(np.isfinite(b)) for W, b in params)


def _matches(ev, replayed):
    """The implementation's run is the replay's, to the trajectory tolerance: every per-step loss
    and every final parameter. A run and a replay that both blow up match if they do so at the same
    steps, every finite step agrees, at least one update precedes the blow-up (step 1 finite: step
    0's loss is the same for every update rule) and both end with non-finite parameters. NaN or Inf
    on one side only is never a match (Evidence.close)."""
    got = _got(ev)
    if got is None or replayed is None or got[0].shape != replayed[0].shape:
        return False
    (losses, params), (want_losses, want_params) = got, replayed
    finite = np.isfinite(want_losses)
    if finite.all() and _finite(want_params):
        return (
            ev.close("losses", losses, want_losses)
            and len(params) == len(want_params)
            and all(
                ev.close("final W", gW, W) and ev.close("final b", gb, b)
                for (gW, gb), (W, b) in zip(params, want_params)
            )
        )
    return (
        len(finite) > 1
        and bool(finite[:2].all())
        and np.array_equal(np.isfinite(losses), finite)
        and ev.close("losses", losses[finite], want_losses[finite])
        and not _finite(params)
    )


def _replays(ev, **replay):
    """The implementation's run is this replay (``replay``: _replay's keywords)."""
    got = _got(ev)
    return got is not None and _matches(ev, _replay(ev, against=got[0], **replay))


def lr_float32(ev: Evidence) -> Diagnosis | None:
    """float64 in, the gradients right, and the trajectory exactly the reference's SGD with η rounded
    to float32 (η = 0.1 becomes 0.100000001490116, relative error 1.5e-8): every step is off by that
    fraction. Measured over the catalogue (the lr_float32 mutant): the worst error of a run is 3.9e-10
    to 5.0e-8, above the trajectory tolerance 1e-10 on every problem whose η float32 cannot hold, and
    the replay with the float32 η reproduces the run to rounding. A float32 η is what a framework
    scalar of the default dtype gives (tinygrad stores lr as a float32 Tensor; torch.tensor(lr) and a
    jnp array without x64 are float32). Tried before float32_sized, which would read these errors as
    "part of the computation runs in float32": true, but not where."""
    if ev.dtype != "float64" or not _training_only(ev):
        return None
    if not isinstance(ev.problem.lr, float):  # a schedule, not one η (never on a plain-SGD problem)
        return None
    lr, lr32 = ev.problem.lr, float(np.float32(ev.problem.lr))
    if lr32 == lr or not _replays(ev, lr=lr32):
        return None
    return Diagnosis(
        "lr_float32",
        f"every SGD step uses η rounded to float32, {lr32!r} instead of {lr!r} "
        f"(relative error {abs(lr32 - lr) / lr:.1e}): the gradients are right, the update "
        "W − η∂C/∂W is off by that fraction at every step",
        "keep η a Python float (float64) when the parameters are float64: no np.float32(lr), "
        "no framework scalar of the default float32 dtype (torch.tensor(lr), jnp.asarray(lr) "
        "without x64, a float32 lr Tensor)",
        train_keys(ev),
    )


def consequence(ev: Evidence) -> Diagnosis | None:
    """Training failures after single-pass failures: every step uses those gradients and that loss."""
    if train_keys(ev) and set(ev.failing) - set(train_keys(ev)):
        return Diagnosis(
            "consequence",
            "the training failures follow from the single-pass failures "
            "above (every step uses those gradients and that loss)",
            "fix those first",
            train_keys(ev),
        )
    return None


def step_scale(ev: Evidence) -> Diagnosis | None:
    """Every SGD step c times the reference's: the sign (ascent), a sum over the batch, a ½, ..."""
    if not _training_only(ev):
        return None
    n_L = ev.problem.spec.sizes[-1]
    candidates = {
        "-1": lambda idx: -1.0,
        "m": len,
        "1/m": lambda idx: 1 / len(idx),
        "2": lambda idx: 2.0,
        "1/2": lambda idx: 0.5,
        "n_L": lambda idx: n_L,
        "1/n_L": lambda idx: 1 / n_L,
    }
    for name, c in candidates.items():

        def scaled(k, idx, now, previous, c=c):
            return [(c(idx) * dW, c(idx) * db) for dW, db in now]

        if _replays(ev, grads=scaled):
            if name == "-1":
                return Diagnosis(
                    "update_sign",
                    "the SGD step goes uphill, W + η∂C/∂W: gradient ascent",
                    "W ← W − η∂C/∂W and b ← b − η∂C/∂b",
                    train_keys(ev),
                )
            reading, fix = FACTORS[name]
            return Diagnosis(
                "step_scale",
                f"every SGD step moves c = {name} times as far as the "
                f"reference's: the update (or the gradient it uses) is {reading}",
                fix,
                train_keys(ev),
            )
    return None


def stale_gradient(ev: Evidence) -> Diagnosis | None:
    """Each step applies the previous step's gradient (the first step its own, or none)."""
    if not _training_only(ev):
        return None
    for first in ("own", "none"):

        def stale(k, idx, now, previous, first=first):
            if previous is not None:
                return previous
            return now if first == "own" else [(0 * dW, 0 * db) for dW, db in now]

        if _replays(ev, grads=stale):
            return Diagnosis(
                "stale_gradient",
                "each step applies the previous step's gradient (a stale gradient)",
                "compute the gradient on this step's batch and apply it in the same step: W ← W − η∂C/∂W",
                train_keys(ev),
            )
    return None


def loss_after_update(ev: Evidence) -> Diagnosis | None:
    if _training_only(ev) and _replays(ev, record_after=True):
        return Diagnosis(
            "loss_after_update",
            "each recorded loss is the cost after that step's update",
            "record the step's cost C before updating W and b",
            train_keys(ev),
        )
    return None


def dropped_batches(ev: Evidence) -> Diagnosis | None:
    """Steps line up with the reference's once some batches are skipped (never applied)."""
    got = _got(ev)
    if not _training_only(ev) or got is None:
        return None
    p = ev.problem
    params, i, dropped = p.params, 0, []
    try:
        with np.errstate(all="ignore"):
            for k, idx in enumerate(p.batches):
                now = reference.backprop(p.spec, params, p.x[idx], p.y[idx])
                if i < len(got[0]) and ev.close("losses", got[0][i : i + 1], np.asarray([now.loss])):
                    i, params = i + 1, reference.sgd_step(params, now.grads, float(cast(float, p.lr)))
                else:
                    dropped.append(k)
    except ValueError:  # the parameters went non-finite: no skipped batch explains that
        return None
    if not dropped or i != len(got[0]) or not _matches(ev, (got[0], params)):
        return None
    which = (
        f"batch {dropped[0]} of {len(p.batches)} is"
        if len(dropped) == 1
        else f"batches {', '.join(map(str, dropped))} of {len(p.batches)} are"
    )
    return Diagnosis(
        "dropped_batches",
        f"{which} never applied: the loop skips "
        f"{'it' if len(dropped) == 1 else 'them'} (an off-by-one, or the smaller last "
        "batch of an epoch dropped)",
        "one SGD step per index array in batches, the smaller last batch included",
        train_keys(ev),
    )


def losses_only(ev: Evidence) -> Diagnosis | None:
    """The parameters end right, only the recorded per-step losses differ."""
    if set(train_keys(ev)) == {("trajectory", "losses")}:
        return Diagnosis(
            "losses_only",
            "the parameters end where the reference's do but the recorded "
            "per-step losses differ: the updates are right, the recorded cost is not",
            "record C = (1/m)Σ_x C_x + (λ/2)Σ_l ‖W^l‖² on the step's batch, before the update",
            train_keys(ev),
        )
    return None


def first_step(ev: Evidence) -> Diagnosis | None:
    """Step 0's loss right, step 1's wrong: the first update differs. A NaN counts as wrong, as in
    the check (checks._compare_steps)."""
    pairs = ev.pairs("losses")  # the losses alone: the final parameters may be missing or malformed
    if not train_keys(ev) or not pairs or pairs[0][1].shape != pairs[0][2].shape or len(pairs[0][2]) < 2:
        return None
    _, got, want = pairs[0]
    bad = ~(np.abs(got - want) <= ev.tol("losses") * np.maximum(np.abs(want), ZERO_FLOOR))
    if bad[0] or not bad[1]:
        return None
    passed = ev.got.get("gradients") is not None and not set(ev.failing) - set(train_keys(ev))
    checked = "the gradients pass, so " if passed else ""
    optimizer = ev.problem.optimizer
    if optimizer is not None:  # no gradients check ran on this problem: the first update is all we know
        return Diagnosis(
            "first_step",
            f"step 0's loss is right but step 1's is not: the first {optimizer.name} update is wrong "
            "— the clipping, the optimizer's rule or its state at t = 1, or the order clip → "
            "transform → decoupled decay (the plain problems' checks show whether the gradients are)",
            "follow reference/optimizers.py line by line for the first step (docs/optimizers.md)",
            train_keys(ev),
        )
    return Diagnosis(
        "first_step",
        f"step 0's loss is right but step 1's is not: {checked}the first update "
        "is wrong — a stale gradient, parameters updated while gradients are still being "
        "computed (update order), or a step other than W − η∂C/∂W"
        + ("" if checked else " (or the gradients: see this problem's gradients check)"),
        "compute every layer's gradient on the step's batch first, then update every W and b "
        "with it (BP-SGD)",
        train_keys(ev),
    )
