"""Signatures of known bugs in backprop through time (BPTT, reference/recurrent.py): each builds what
the reference computes with one piece done the known wrong way and asks whether the implementation
returns exactly that, in every quantity it returns, to the checks' tolerances (dense.reproduced:
Evidence reads the (dW, dU, db) triples of the recurrent layers as well as the output layer's pair).

    time_term_forgotten      δ^l_t without δ^l_{t+1} U^l: truncated to one step            BPTT-delta
    u_transposed             δ^l_{t+1} U^lᵀ where δ^l_{t+1} U^l belongs                    BPTT-delta
    output_error_every_step  "last": δ^L W^L entering the hidden layer at every step       BPTT-delta
    targets_shifted          "all": a_t against y_{t+1} (or y_{t−1})                      BPTT-C, -delta-out
    mean_over_time           "all": the cost averaged over the T steps too, 1/(m·T)        BPTT-C
    last_step_only           ∂W, ∂U or ∂b from step T alone: the sum over time missing     BPTT-dW/-dU/-db
    du_pairs_h_t             ∂U from δ^l_t and h^l_t, not h^l_{t−1}                        BPTT-dU
    u_not_decayed            ∂U without λU^l (the cost with or without (λ/2)Σ‖U^l‖²)       BPTT-dU
    initial_state            z at t = 1 from a hidden state h^l_0 ≠ 0 (recovered from z)   BPTT-z
    state_through_training   each step starting from the last step's h^l_T                 BPTT-z, training

The variants are computed by this module's own pass, :func:`bptt` (reference/recurrent.py's
equations with the swappable pieces as keywords), or from the reference's own results; neither reads
the teaching mutants (conformance/mutants/recurrent.py), so the two are independent codings of each
bug. Every signature declines on a spec without ``recurrent``, and the dense and conv signatures
decline on (or read correctly) the triples of a recurrent one. All are listed in diagnose.SIGNATURES
after the conv ones and before the general readings (a constant multiple, bias only, the training
consequence), which some of these bugs also fit (a cost averaged over T = 4 steps is "c = 1/4").
"""

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from conformance.diagnosis.evidence import Diagnosis, Evidence
from conformance.diagnosis.signatures.dense import reproduced
from conformance.diagnosis.signatures.trajectory import train_keys
from conformance.tolerances import ZERO_FLOOR
from reference.activations import ACTIVATIONS, PRIME_FROM_OUTPUT
from reference.costs import cost, output_error
from reference.recurrent import rows
from reference.training import Trajectory, sgd_step
from reference.types import Gradients


def _recurrent(ev: Evidence, *, steps: int = 1, outputs: str | None = None) -> Any:
    """The spec's ``recurrent`` where a single pass was checked on a recurrent problem of at least
    ``steps`` time steps (and that output mode, if given); else None."""
    recurrent = getattr(ev.problem.spec, "recurrent", None)
    if recurrent is None or "gradients" not in ev.want or ev.got.get("gradients") is None:
        return None
    if ev.problem.x.ndim != 3 or ev.problem.x.shape[1] < steps:
        return None
    return recurrent if outputs is None or recurrent.outputs == outputs else None


def bptt(
    spec: Any,
    params: Sequence[Sequence[np.ndarray]],
    x: np.ndarray,
    y: np.ndarray,
    *,
    h0: Sequence[np.ndarray] | None = None,
    back: str | None = "U",
    every_step: bool = False,
    shift: int = 0,
) -> Gradients:
    """reference/recurrent.py's forward and backward pass (float64), with the pieces the signatures
    swap: ``h0`` the hidden states h^l_0 (m, n_l) of layers 1..L−1 (zeros if None; ∂C/∂U^l then
    gains (1/m)(δ^l_1)ᵀ h^l_0, the derivative of that forward); ``back`` what δ^l_{t+1} meets on its
    way to δ^l_t: "U" (right), "U.T", or None (no term: truncated to one step); ``every_step`` a
    many-to-one output's δ^L entering the top hidden layer at every step; ``shift`` (outputs="all")
    +1 for a_t compared with y_{t+1} (t < T), −1 for a_t with y_{t−1} (t > 1)."""
    outputs, lam = spec.recurrent.outputs, spec.weight_decay
    (m, T), L = x.shape[:2], len(params)
    g, g_prime = ACTIVATIONS[spec.activation][0], PRIME_FROM_OUTPUT[spec.activation]
    assert g_prime is not None  # a hidden activation (check_spec)

    zs: list[np.ndarray] = []
    activations: list[np.ndarray] = [x]
    starts: list[np.ndarray] = []
    for l, (W, U, b) in enumerate(params[:-1], start=1):  # BPTT-z, BPTT-h
        h = np.zeros((m, len(b))) if h0 is None else h0[l - 1]
        starts.append(h)
        z = np.empty((m, T, len(b)))
        a = np.empty_like(z)
        for t in range(T):
            z[:, t] = activations[-1][:, t] @ W.T + h @ U.T + b
            a[:, t] = h = g(z[:, t])
        zs.append(z)
        activations.append(a)
    W_L, b_L = params[-1]
    a_in = rows(activations[-1]) if outputs == "all" else activations[-1][:, -1]
    z_L = a_in @ W_L.T + b_L  # BPTT-out
    shape = (m, T, len(b_L)) if outputs == "all" else (m, len(b_L))
    zs.append(z_L.reshape(shape))
    activations.append(ACTIVATIONS[spec.output][0](z_L).reshape(shape))

    # the output steps and the targets they meet (every step and its own target, unless shifted)
    out = tgt = slice(None)
    if outputs == "all" and shift:
        out, tgt = (slice(None, -1), slice(1, None)) if shift > 0 else (slice(1, None), slice(None, -1))
    z_out, a_out, y_out = zs[-1][:, out], activations[-1][:, out], y[:, tgt]
    loss = float(cost(spec.loss, rows(z_out), rows(a_out), rows(y_out)).sum()) / m  # BPTT-C
    loss += 0.5 * lam * sum(float(np.vdot(w, w)) for *weights, _ in params for w in weights)

    deltas: list[Any] = [None] * L
    delta_L = np.zeros_like(activations[-1])
    delta_L[:, out] = output_error(spec.loss, a_out, y_out, PRIME_FROM_OUTPUT[spec.output])  # BPTT-delta-out
    deltas[L - 1] = above = delta_L
    if outputs == "last":
        above = np.zeros((m, T, delta_L.shape[-1]))
        if every_step:
            above[:] = delta_L[:, None]
        else:
            above[:, -1] = delta_L
    for l in range(L - 1, 0, -1):  # BPTT-delta
        W_next, U = params[l][0], params[l - 1][1]
        delta = np.empty_like(zs[l - 1])
        for t in range(T - 1, -1, -1):
            nabla_h = above[:, t] @ W_next
            if t < T - 1 and back is not None:
                nabla_h = nabla_h + delta[:, t + 1] @ (U if back == "U" else U.T)
            delta[:, t] = nabla_h * g_prime(activations[l][:, t])
        deltas[l - 1] = above = delta

    grads: list[tuple[np.ndarray, ...]] = []
    for l in range(1, L + 1):  # BPTT-dW, -dU, -db: sums over the (example, step) rows
        delta, a_prev, weights = deltas[l - 1], activations[l - 1], params[l - 1]
        if l == L and outputs == "last":
            a_prev = a_prev[:, -1]
        nabla_b = rows(delta).sum(axis=0) / m
        nabla_w = rows(delta).T @ rows(a_prev) / m + lam * weights[0]
        if l == L:
            grads.append((nabla_w, nabla_b))
            break
        h_prev = np.concatenate([starts[l - 1][:, None], activations[l][:, :-1]], axis=1)
        grads.append((nabla_w, rows(delta).T @ rows(h_prev) / m + lam * weights[1], nabla_b))
    return Gradients(loss, grads, zs, activations, deltas)


def _variant(ev: Evidence, **pieces: Any) -> Gradients:
    p = ev.problem
    return bptt(p.spec, p.params, p.x, p.y, **pieces)


def _recurrent_layers(ev: Evidence) -> str:
    return ", ".join(str(l) for l in range(1, len(ev.problem.params)))


def time_term_forgotten(ev: Evidence) -> Diagnosis | None:
    if _recurrent(ev, steps=2) is None:
        return None
    return reproduced(
        ev,
        "time_term_forgotten",
        _variant(ev, back=None),
        f"δ^l_t lacks δ^l_{{t+1}} U^l, the error that comes back from step t + 1, in layer(s) "
        f"{_recurrent_layers(ev)} (BPTT-delta): backprop is truncated to one step, so nothing flows "
        "back through time and ∂C/∂W, ∂C/∂U, ∂C/∂b miss every path through the recurrence",
        "δ^l_t = (δ^{l+1}_t W^{l+1} + δ^l_{t+1} U^l) ⊙ g′(z^l_t): loop t = T..1 and add "
        "delta[:, t+1] @ U from the step after (δ^l_{T+1} = 0: the last step alone has no such term)",
    )


def u_transposed(ev: Evidence) -> Diagnosis | None:
    if _recurrent(ev, steps=2) is None:
        return None
    return reproduced(
        ev,
        "u_transposed",
        _variant(ev, back="U.T"),
        f"δ^l_t takes the error of step t + 1 back through U^lᵀ, δ^l_{{t+1}} U^lᵀ, in layer(s) "
        f"{_recurrent_layers(ev)} (BPTT-delta): the column form's (U^l)ᵀ δ^l_{{t+1}} carried over "
        "to rows with its transpose",
        "with examples as rows the forward step is h^l_{t−1} U^lᵀ, so its error goes back through "
        "U^l itself: δ^l_t = (δ^{l+1}_t W^{l+1} + δ^l_{t+1} U^l) ⊙ g′(z^l_t), delta[:, t+1] @ U "
        "(as BP2's δ^{l+1} W^{l+1}), not @ U.T",
    )


def output_error_every_step(ev: Evidence) -> Diagnosis | None:
    if _recurrent(ev, steps=2, outputs="last") is None:
        return None
    L = len(ev.problem.params)
    return reproduced(
        ev,
        "output_error_every_step",
        _variant(ev, every_step=True),
        f'the one output of outputs="last" feeds its error δ^L W^L into layer {L - 1} at every step '
        "t, where only step T has an output (BPTT-delta): the many-to-many loop's "
        "dh = dy @ W_out + dh_next kept for a many-to-one network",
        'for outputs="last" δ^L_t = 0 for t < T: add δ^L W^L to ∇_h at t = T only (the output layer '
        "read a^{L−1}_T alone); the earlier steps get their error through U^l alone",
    )


def targets_shifted(ev: Evidence) -> Diagnosis | None:
    if _recurrent(ev, steps=2, outputs="all") is None:
        return None
    for shift, which, unmatched in ((1, "y_{t+1}, the next step's", "a^L_T"), (-1, "y_{t−1}", "a^L_1")):
        found = reproduced(
            ev,
            "targets_shifted",
            _variant(ev, shift=shift),
            f"a^L_t is compared with {which} target (BPTT-C, BPTT-delta-out): the targets are "
            f"shifted by one step, and {unmatched} is compared with nothing",
            "compare the output of step t with the target of step t, y[:, t], at every t = 1..T: "
            "y_t is already the target of step t (in next-character data the next symbol, so the "
            "data has made the shift; shifting again pairs a_t with the symbol after next)",
        )
        if found:
            return found
    return None


def mean_over_time(ev: Evidence) -> Diagnosis | None:
    """The data terms (the cost's and every gradient's) 1/T of the reference's: a 1/(m·T) mean over
    the (example, step) rows, where C sums over the steps and averages over the sequences."""
    if _recurrent(ev, steps=2, outputs="all") is None:
        return None
    p, R = ev.problem, ev.want["gradients"]
    T, lam = p.x.shape[1], p.spec.weight_decay
    penalty = 0.5 * lam * sum(float(np.vdot(w, w)) for *weights, _ in p.params for w in weights)
    grads = [
        tuple((g - lam * w) / T + lam * w for g, w in zip(grad[:-1], layer[:-1])) + (grad[-1] / T,)
        for grad, layer in zip(R.grads, p.params)
    ]
    hyp = R._replace(loss=(R.loss - penalty) / T + penalty, grads=grads, deltas=[d / T for d in R.deltas])
    return reproduced(
        ev,
        "mean_over_time",
        hyp,
        f"the cost's data term and every gradient's are 1/T = 1/{T} of the reference's: the cost is "
        f"averaged over the T = {T} steps as well as the m sequences, (1/(m·T)) Σ_x Σ_t C_x,t (a mean "
        "over every (example, step) row, as a framework loss with reduction='mean' over the "
        "flattened sequence gives) (BPTT-C)",
        "C = (1/m) Σ_x Σ_t C_x,t + (λ/2) Σ_l (‖W^l‖² + ‖U^l‖²): sum over the steps, average over "
        "the sequences (reduction='sum', then / m); or keep your mean and use η·T",
        decide=True,
    )


def _failing_layers(ev: Evidence, fam: str) -> set[int]:
    return {r.layer for k in ev.keys(fam) for r in ev.failing[k] if r.layer is not None}


def last_step_only(ev: Evidence) -> Diagnosis | None:
    """Each failing layer of ∂W, ∂U, ∂b is its last step's term alone, (1/m) δ^l_T... + λθ."""
    if _recurrent(ev, steps=2) is None:
        return None
    p, R = ev.problem, ev.want["gradients"]
    m, lam = p.x.shape[0], p.spec.weight_decay
    grads = [list(layer) for layer in R.grads]
    changed = []
    for fam in ("dW", "dU", "db"):
        for l in sorted(_failing_layers(ev, fam)):
            delta = R.deltas[l - 1]
            if not 1 <= l <= len(grads) or delta.ndim != 3 or (fam == "dU" and l == len(grads)):
                return None
            below, h = R.activations[l - 1], R.activations[l]
            weights = p.params[l - 1]
            if fam == "db":
                grads[l - 1][-1] = delta[:, -1].sum(axis=0) / m
            elif fam == "dW":
                grads[l - 1][0] = delta[:, -1].T @ below[:, -1] / m + lam * weights[0]
            else:
                grads[l - 1][1] = delta[:, -1].T @ h[:, -2] / m + lam * weights[1]
            changed.append(f"∂C/∂{fam[1:]}^{l}")
    if not changed:
        return None
    T = p.x.shape[1]
    return reproduced(
        ev,
        "last_step_only",
        R._replace(grads=[tuple(layer) for layer in grads]),
        f"{', '.join(changed)} {'comes' if len(changed) == 1 else 'come'} from the last step alone "
        f"(BPTT-dW, -dU, -db): the sum over the T = {T} steps is missing — W, U and b are shared by "
        "every step, and every step's δ^l_t adds its term",
        "∂C/∂W^l = (1/m) Σ_t (δ^l_t)ᵀ a^{l−1}_t + λW^l, ∂C/∂U^l = (1/m) Σ_{t≥2} (δ^l_t)ᵀ h^l_{t−1} "
        "+ λU^l, ∂C/∂b^l = (1/m) Σ_t Σ_x δ^l_t: accumulate inside the loop over t (+=, not =), or "
        "take one product over the (m·T, n) rows",
    )


def du_pairs_h_t(ev: Evidence) -> Diagnosis | None:
    """Each failing ∂U^l is (1/m) Σ_t (δ^l_t)ᵀ h^l_t + λU^l, over t = 1..T or t = 2..T."""
    if _recurrent(ev) is None or not ev.keys("dU"):
        return None
    p, R = ev.problem, ev.want["gradients"]
    m, lam = p.x.shape[0], p.spec.weight_decay
    failing = sorted(l for l in _failing_layers(ev, "dU") if 1 <= l < len(p.params))
    if not failing:
        return None
    for first in (0, 1):  # the sum from t = 1 (a loop over every step) or from t = 2 (the reference's)
        grads = [list(layer) for layer in R.grads]
        for l in failing:
            delta, h = R.deltas[l - 1][:, first:], R.activations[l][:, first:]
            grads[l - 1][1] = rows(delta).T @ rows(h) / m + lam * p.params[l - 1][1]
        found = reproduced(
            ev,
            "du_pairs_h_t",
            R._replace(grads=[tuple(layer) for layer in grads]),
            f"∂C/∂U^l in layer(s) {', '.join(map(str, failing))} pairs δ^l_t with h^l_t, the step's "
            "own output, where U^l multiplied h^l_{t−1} (BPTT-dU)",
            "∂C/∂U^l = (1/m) Σ_{t≥2} (δ^l_t)ᵀ h^l_{t−1} + λU^l: U^l read the previous step's state "
            "(CS231n's prev_h, not next_h), so pair delta[:, t] with h[:, t−1] (h^l_0 = 0 adds "
            "nothing at t = 1)",
        )
        if found:
            return found
    return None


def u_not_decayed(ev: Evidence) -> Diagnosis | None:
    if _recurrent(ev) is None or not ev.problem.spec.weight_decay:
        return None
    p, R = ev.problem, ev.want["gradients"]
    lam = p.spec.weight_decay
    grads = [(dW, dU - lam * U, db) for (dW, dU, db), (_, U, _) in zip(R.grads[:-1], p.params[:-1])]
    penalty = 0.5 * lam * sum(float(np.vdot(U, U)) for _, U, _ in p.params[:-1])
    for loss, where in (
        (R.loss, "while the cost includes (λ/2)Σ‖U^l‖²"),
        (R.loss - penalty, "and the cost leaves out (λ/2)Σ‖U^l‖²"),
    ):
        found = reproduced(
            ev,
            "u_not_decayed",
            R._replace(grads=[*grads, R.grads[-1]], loss=loss),
            f"∂C/∂U^l in layer(s) {_recurrent_layers(ev)} lacks the decay term λU^l (BPTT-dU) {where}: "
            "weight decay is applied to W only",
            "U^l is a weight matrix like W^l and is decayed too: ∂C/∂U^l = (1/m) Σ_{t≥2} (δ^l_t)ᵀ "
            "h^l_{t−1} + λU^l and C = (1/m) Σ_x Σ_t C_x,t + (λ/2) Σ_l (‖W^l‖² + ‖U^l‖²); only the "
            "biases are not decayed",
            decide=True,
        )
        if found:
            return found
    return None


def _initial_states(ev: Evidence) -> list[np.ndarray] | None:
    """h^l_0 of every recurrent layer, read back from the implementation's z^l_1 = a^{l−1}_1 W^lᵀ +
    h^l_0 U^lᵀ + b^l (its own z and a); None without them. A unit whose rows of W, U and b are all 0
    (a ReLU kink problem's first unit) has h = g(0) at every step, so a state this network produced
    holds g(0) there: fixed, which leaves U^lᵀ's other rows, of full rank, to read the rest from."""
    zs, acts = ev.pairs("z"), ev.pairs("a")
    if zs is None or acts is None or len(zs) != len(ev.problem.params) or len(acts) != len(zs) + 1:
        return None
    g = ACTIVATIONS[ev.problem.spec.activation][0]
    states = []
    for l, (W, U, b) in enumerate(ev.problem.params[:-1], start=1):
        z, below = zs[l - 1][1], acts[l - 1][1]
        if z.ndim != 3 or below.ndim != 3 or z.shape[:2] != below.shape[:2] or z.shape[2] != len(b):
            return None
        offset = z[:, 0] - below[:, 0] @ W.T - b  # h^l_0 U^lᵀ, (m, n_l)
        dead = ~(W.any(axis=1) | U.any(axis=1) | (b != 0))
        h0 = np.zeros_like(offset)
        h0[:, dead] = g(np.zeros(int(dead.sum())))
        V = U.T  # offset = h0 @ V
        rhs = offset - h0[:, dead] @ V[dead]
        h0[:, ~dead] = np.linalg.lstsq(V[~dead].T, rhs.T, rcond=None)[0].T
        states.append(h0)
    return states


def initial_state(ev: Evidence) -> Diagnosis | None:
    """z at t = 1 off: the pass is the reference's from the h^l_0 its z^l_1 implies."""
    if _recurrent(ev) is None or not ev.keys("z"):
        return None
    h0 = _initial_states(ev)
    if h0 is None or not any(np.any(h) for h in h0):
        return None
    R = ev.want["gradients"]
    earlier = all(ev.close("a", h, a[:, -1]) for h, a in zip(h0, R.activations[1:-1]))
    where = (
        "the last hidden state h^l_T of an earlier call on these same sequences"
        if earlier
        else "a hidden state left from an earlier call or sequence"
    )
    return reproduced(
        ev,
        "hidden_state_not_reset",
        _variant(ev, h0=h0),
        f"z^l at t = 1 is what a hidden state h^l_0 ≠ 0 gives: the sequences start from {where} "
        "instead of h^l_0 = 0 (BPTT-z), and every quantity after it follows from that state",
        "start every sequence from h^l_0 = 0: make the state inside the call, np.zeros((m, n_l)) — "
        "not in __init__, and not min-char-rnn's hprev carried from the last batch (which carries one "
        "text across its chunks; here every sequence is independent)",
    )


def state_through_training(ev: Evidence) -> Diagnosis | None:
    """Only the training failed, and the run is the reference's SGD with each step's h^l_0 the step
    before's h^l_T wherever the batch has as many sequences (else 0). The first step continues from
    the checked single pass (which passed: it started from 0) when its batch is the whole problem."""
    p, keys = ev.problem, train_keys(ev)
    if getattr(p.spec, "recurrent", None) is None or p.optimizer is not None or not isinstance(p.lr, float):
        return None  # plain SGD at one rate: the replay below
    if not keys or set(ev.failing) - set(keys):
        return None
    losses = ev.pairs("losses")
    train = ev.got.get("train")
    R = ev.want.get("gradients")
    if not losses or losses[0][1].shape != (len(p.batches),) or train is None:
        return None
    kept = [a[:, -1] for a in R.activations[1:-1]] if R is not None and "gradients" in ev.got else None
    params, replayed = p.params, []
    for idx in p.batches:
        h0 = kept if kept is not None and kept[0].shape[0] == len(idx) else None
        step = bptt(p.spec, params, p.x[idx], p.y[idx], h0=h0)
        replayed.append(step.loss)
        kept = [a[:, -1] for a in step.activations[1:-1]]
        params = sgd_step(params, step.grads, p.lr)
    if not ev.close("losses", losses[0][1], np.asarray(replayed)):
        return None
    alt = replace(ev, want={**ev.want, "train": Trajectory(replayed, params)})
    for fam in ("final W", "final U", "final b"):
        final = alt.pairs(fam)  # the implementation's final parameters against the replay's
        if final is None or not all(alt.close(fam, g, w) for _, g, w in final):
            return None
    _, got, want = losses[0]
    off = np.flatnonzero(~(np.abs(got - want) <= ev.tol("losses") * np.maximum(np.abs(want), ZERO_FLOOR)))
    first = f"; the losses first differ at step {off[0]}" if off.size else ""
    return Diagnosis(
        "hidden_state_not_reset",
        "the run is the reference's SGD with every step's hidden state h^l_0 taken from the step "
        "before (its batch's h^l_T, wherever the batch has as many sequences) instead of 0: the state "
        f"is carried from call to call (BPTT-z){first}",
        "start every sequence from h^l_0 = 0: make the state inside the call, np.zeros((m, n_l)) — "
        "not in __init__, and not min-char-rnn's hprev carried from the last batch (which carries one "
        "text across its chunks; here every sequence is independent)",
        keys,
    )
