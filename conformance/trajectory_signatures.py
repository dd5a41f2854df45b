"""Signatures of known bugs in training: replays of the reference's SGD with one thing changed (the
step's gradient scaled, a stale gradient, the loss recorded after the update, batches skipped),
each compared with the implementation's per-step losses and final parameters to the trajectory
tolerance; and two plain readings of where a trajectory first goes wrong.

Each is a small function of the evidence (evidence.Evidence) listed in diagnose.SIGNATURES.
"""

import numpy as np

import reference

from .evidence import Diagnosis
from .multiples import FACTORS
from .tolerances import ZERO_FLOOR

# the families of the training check ("final " names a malformed parameter list) and a crash in train
TRAIN = ("losses", "final K", "final W", "final b", "final ", "call train")


def _train_keys(ev):
    return tuple(ev.keys(*TRAIN))


def _got(ev):
    """The implementation's (losses, [(W, b)]) as float64, or None if they are unusable."""
    got = ev.got.get("train")
    try:
        losses = np.asarray(got.losses, dtype=np.float64)
        params = [(np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)) for W, b in got.params]
    except (AttributeError, TypeError, ValueError):
        return None
    return losses, params


def _replay(ev, *, grads=None, record_after=False):
    """The reference's SGD on exactly the implementation's inputs; ``grads(k, idx, now, previous)``
    gives the gradient step k applies. Returns (losses, params), or None if the run blows up."""
    p = ev.problem
    params, losses, previous = p.params, [], None
    try:
        with np.errstate(all="ignore"):
            for k, idx in enumerate(p.batches):
                now = reference.backprop(p.spec, params, p.x[idx], p.y[idx])
                applied = now.grads if grads is None else grads(k, idx, now.grads, previous)
                previous = now.grads
                new = reference.sgd_step(params, applied, p.lr)
                losses.append(reference.backprop(p.spec, new, p.x[idx], p.y[idx]).loss
                              if record_after else now.loss)
                params = new
    except ValueError:  # parameters went non-finite: reference.backprop refuses them
        return None
    return np.asarray(losses), params


def _matches(ev, replayed):
    got = _got(ev)
    if got is None or replayed is None or got[0].shape != replayed[0].shape:
        return False
    return (ev.close("losses", got[0], replayed[0]) and len(got[1]) == len(replayed[1])
            and all(ev.close("final W", gW, W) and ev.close("final b", gb, b)
                    for (gW, gb), (W, b) in zip(got[1], replayed[1])))


def consequence(ev):
    """Training failures after single-pass failures: every step uses those gradients and that loss."""
    if _train_keys(ev) and set(ev.failing) - set(_train_keys(ev)):
        return Diagnosis("consequence", "the training failures follow from the single-pass failures "
                         "above (every step uses those gradients and that loss)", "fix those first",
                         _train_keys(ev))
    return None


def step_scale(ev):
    """Every SGD step c times the reference's: the sign (ascent), a sum over the batch, a ½, ..."""
    if not _train_keys(ev):
        return None
    n_L = ev.problem.spec.sizes[-1]
    candidates = {"-1": lambda idx: -1.0, "m": len, "1/m": lambda idx: 1 / len(idx), "2": lambda idx: 2.0,
                  "1/2": lambda idx: 0.5, "n_L": lambda idx: n_L, "1/n_L": lambda idx: 1 / n_L}
    for name, c in candidates.items():
        if _matches(ev, _replay(ev, grads=lambda k, idx, now, previous, c=c: [(c(idx) * dW, c(idx) * db)
                                                                             for dW, db in now])):
            if name == "-1":
                return Diagnosis("update_sign", "the SGD step goes uphill, W + η∂C/∂W: gradient ascent",
                                 "W ← W − η∂C/∂W and b ← b − η∂C/∂b", _train_keys(ev))
            reading, fix = FACTORS[name]
            return Diagnosis("step_scale", f"every SGD step moves c = {name} times as far as the "
                             f"reference's: the update (or the gradient it uses) is {reading}",
                             fix, _train_keys(ev))
    return None


def stale_gradient(ev):
    """Each step applies the previous step's gradient (the first step its own, or none)."""
    if not _train_keys(ev):
        return None
    for first in ("own", "none"):
        def stale(k, idx, now, previous, first=first):
            if previous is not None:
                return previous
            return now if first == "own" else [(0 * dW, 0 * db) for dW, db in now]
        if _matches(ev, _replay(ev, grads=stale)):
            return Diagnosis("stale_gradient", "each step applies the previous step's gradient (a stale "
                             "gradient)", "compute the gradient on this step's batch and apply it in the "
                             "same step: W ← W − η∂C/∂W", _train_keys(ev))
    return None


def loss_after_update(ev):
    if _train_keys(ev) and _matches(ev, _replay(ev, record_after=True)):
        return Diagnosis("loss_after_update", "each recorded loss is the cost after that step's update",
                         "record the step's cost C before updating W and b", _train_keys(ev))
    return None


def dropped_batches(ev):
    """Steps line up with the reference's once some batches are skipped (never applied)."""
    got = _got(ev)
    if not _train_keys(ev) or got is None or got[0].ndim != 1:
        return None
    p, tol = ev.problem, ev.tol("losses")
    params, i, dropped = p.params, 0, []
    with np.errstate(all="ignore"):
        for k, idx in enumerate(p.batches):
            now = reference.backprop(p.spec, params, p.x[idx], p.y[idx])
            if i < len(got[0]) and abs(got[0][i] - now.loss) <= tol * max(abs(now.loss), ZERO_FLOOR):
                i, params = i + 1, reference.sgd_step(params, now.grads, p.lr)
            else:
                dropped.append(k)
    if not dropped or i != len(got[0]) or not _matches(ev, (got[0], params)):
        return None
    which = f"batch {dropped[0]} of {len(p.batches)} is" if len(dropped) == 1 else \
        f"batches {', '.join(map(str, dropped))} of {len(p.batches)} are"
    return Diagnosis("dropped_batches", f"{which} never applied: the loop skips "
                     f"{'it' if len(dropped) == 1 else 'them'} (an off-by-one, or the smaller last "
                     "batch of an epoch dropped)",
                     "one SGD step per index array in batches, the smaller last batch included",
                     _train_keys(ev))


def losses_only(ev):
    """The parameters end right, only the recorded per-step losses differ."""
    if set(_train_keys(ev)) == {("trajectory", "losses")}:
        return Diagnosis("losses_only", "the parameters end where the reference's do but the recorded "
                         "per-step losses differ: the updates are right, the recorded cost is not",
                         "record C = (1/m)Σ_x C_x + (λ/2)Σ_l ‖W^l‖² on the step's batch, before the update",
                         _train_keys(ev))
    return None


def first_step(ev):
    """Step 0's loss right, step 1's wrong: the first update differs."""
    got, want = _got(ev), np.asarray(ev.want["train"].losses)
    if not _train_keys(ev) or got is None or got[0].shape != want.shape or len(want) < 2:
        return None
    bad = np.abs(got[0] - want) > ev.tol("losses") * np.maximum(np.abs(want), ZERO_FLOOR)
    if bad[0] or not bad[1]:
        return None
    checked = "the gradients pass, so " if ev.got.get("gradients") is not None else ""
    return Diagnosis("first_step", f"step 0's loss is right but step 1's is not: {checked}the first update "
                     "is wrong — a stale gradient, parameters updated while gradients are still being "
                     "computed (update order), or a step other than W − η∂C/∂W"
                     + ("" if checked else " (or the gradients: see this problem's gradients check)"),
                     "compute every layer's gradient on the step's batch first, then update every W and b "
                     "with it (BP-SGD)", _train_keys(ev))
