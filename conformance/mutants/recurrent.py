"""Known-bad backprops through time (BPTT): the classic recurrent bugs, one switch each.

The companion of dense.py and conv.py for the recurrent (Elman) networks: tests/diagnosis/
test_recurrent_mutants.py proves that each bug below is caught by the check that names the quantity,
the layer and (for a per-step quantity) the first time step it breaks, and diagnosed by its signature
(conformance/diagnosis/signatures/recurrent.py). A mutant is a student's NumPy BPTT, right except for
the lines marked ``# BUG``; read it next to reference/recurrent.py, whose equations it follows:

    BPTT-z      z^l_t = a^{l-1}_t W^l.T + h^l_{t-1} U^l.T + b^l,   h^l_0 = 0
    BPTT-delta  δ^l_t = (δ^{l+1}_t W^{l+1} + δ^l_{t+1} U^l) ⊙ g'(z^l_t)
    BPTT-dW     ∂C/∂W^l = (1/m) Σ_t (δ^l_t).T a^{l-1}_t + λW^l
    BPTT-dU     ∂C/∂U^l = (1/m) Σ_t (δ^l_t).T h^l_{t-1} + λU^l    (h^l_0 = 0: t = 1 adds nothing)
    BPTT-db     ∂C/∂b^l = (1/m) Σ_t Σ_x δ^l_t

    backprop-conformance check conformance.mutants.recurrent:time_term_forgotten --problems 'rnn-*'
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

from conformance.contract import Array, IndexArray, Params
from conformance.mutants.loop import sgd_training
from conformance.spec import Spec
from reference.activations import ACTIVATIONS, PRIME_FROM_OUTPUT
from reference.costs import cost, output_error
from reference.recurrent import rows
from reference.training import Trajectory
from reference.types import Gradients
from reference.validation import check_inputs

# bug -> (what it gets wrong, the check family that must catch it, a quantity it must name)
BUGS = {
    "time_term_forgotten": (
        "BPTT-delta without δ^l_{t+1} U^l: the error truncated to one step, nothing flows back in time",
        "deltas",
        "delta[layer",
    ),
    "u_transposed_in_delta": (
        "BPTT-delta with δ^l_{t+1} U^l.T where δ^l_{t+1} U^l belongs (the column form's Uᵀ kept in rows)",
        "deltas",
        "delta[layer",
    ),
    "dU_pairs_h_t": (
        "BPTT-dU pairs δ^l_t with h^l_t where h^l_{t-1} belongs (the input of U at step t)",
        "grads",
        "dU[layer",
    ),
    "db_last_step_only": ("BPTT-db from the last step only: the sum over time missing", "grads", "db[layer"),
    "dW_last_step_only": ("BPTT-dW from the last step only: the sum over time missing", "grads", "dW[layer"),
    "state_carried_over": (
        "h^l_0 kept from the previous call (min-char-rnn's hprev carried on) instead of 0 for every "
        "sequence: visible from the second call of the same batch size on",
        "forward",
        "z[layer",
    ),
    "targets_shifted": (
        'outputs="all": a_t compared with y_{t+1} (the targets shifted once more; a_T has none)',
        "deltas",
        "delta[layer",
    ),
    "U_not_decayed": ("λ applied to W only: no λU^l in ∂C/∂U, no ‖U‖² in the cost", "grads", "dU[layer"),
    "output_error_every_step": (
        'outputs="last": δ^L_T fed into the hidden layer at every step, not at t = T only',
        "deltas",
        "delta[layer",
    ),
    "mean_over_time": (
        'outputs="all": the cost (and so every gradient) averaged over the T steps too, 1/(m·T)',
        "loss",
        "loss",
    ),
}


class RecurrentMutant:
    """A BPTT with at most one bug (``bug=None`` is correct: the meta-test's control)."""

    supports_recurrent = True

    def __init__(self, bug: str | None = None) -> None:
        if bug is not None and bug not in BUGS:
            raise ValueError(f"bug: unknown recurrent mutant {bug!r}; expected one of {list(BUGS)}")
        self.bug = bug
        self.name = f"recurrent_mutant.{bug}" if bug else "recurrent_mutant.none"
        self._last_h: dict[int, np.ndarray] = {}  # layer -> h^l_T of the previous call (the state bug's)

    def supports(self, spec: Spec) -> bool:
        """Recurrent specs only: this is a BPTT, with no dense or conv pass of its own."""
        return getattr(spec, "recurrent", None) is not None

    def gradients(self, spec: Spec, params: Params, x: Array, y: Array) -> Gradients:
        check_inputs(spec, params, x, y)
        return self._backprop(spec, params, x, y)

    def train(
        self,
        spec: Spec,
        params: Any,  # Any: Params, handed back in a reference Trajectory, whose params are a list
        x: Array,
        y: Array,
        *,
        lr: float,
        batches: Sequence[IndexArray],
    ) -> Trajectory:
        return sgd_training(self._backprop, spec, params, x, y, lr=lr, batches=batches)

    def _initial_state(self, l: int, m: int, n: int, dtype: np.dtype) -> np.ndarray:
        """h^l_0 (m, n_l) for a batch of m sequences: zeros, nothing comes before the first step. The
        state bug's student keeps the last call's h^l_T instead, and starts from zeros only when the
        batch size changes (h @ U.T would not broadcast otherwise)."""
        kept = self._last_h.get(l)  # h^l_T of the previous call
        if self.bug == "state_carried_over" and kept is not None and kept.shape == (m, n):
            return kept.astype(dtype)  # BUG: h^l_0 = the last call's h^l_T (min-char-rnn's hprev)
        return np.zeros((m, n), dtype=dtype)

    def _backprop(self, spec, params, x, y):
        bug, lam, L = self.bug, spec.weight_decay, len(params)
        (m, T), outputs = x.shape[:2], spec.recurrent.outputs
        g = ACTIVATIONS[spec.activation][0]
        g_prime = PRIME_FROM_OUTPUT[spec.activation]
        assert g_prime is not None  # every hidden activation has one (check_spec)

        # forward through time, layer by layer (BPTT-z, BPTT-h)
        zs, activations, initial = [], [x], []
        for l, (W, U, b) in enumerate(params[:-1], start=1):
            z = np.empty((m, T, len(b)), dtype=x.dtype)
            a = np.empty_like(z)
            h = self._initial_state(l, m, len(b), x.dtype)
            initial.append(h)
            for t in range(T):
                # (m, n_l) = (m, n_{l-1}) @ (n_{l-1}, n_l) + (m, n_l) @ (n_l, n_l) + (n_l,)
                z[:, t] = activations[-1][:, t] @ W.T + h @ U.T + b
                a[:, t] = h = g(z[:, t])  # h^l_t, which step t+1 reads through U^l
            self._last_h[l] = h  # h^l_T, remembered (only the state bug reads it back)
            zs.append(z)
            activations.append(a)
        W_L, b_L = params[-1]
        a_in = rows(activations[-1]) if outputs == "all" else activations[-1][:, -1]
        z_L = a_in @ W_L.T + b_L
        shape = (m, T, len(b_L)) if outputs == "all" else (m, len(b_L))
        zs.append(z_L.reshape(shape))
        activations.append(ACTIVATIONS[spec.output][0](z_L).reshape(shape))

        # which outputs meet which targets, and over how many steps the cost is averaged
        z_out, a_out, targets = zs[-1], activations[-1], y
        if bug == "targets_shifted" and outputs == "all":
            z_out, a_out, targets = z_out[:, :-1], a_out[:, :-1], y[:, 1:]  # BUG: a_t against y_{t+1}
        steps = T if bug == "mean_over_time" and outputs == "all" else 1  # BUG if T: 1/(m·T)
        C_x = cost(spec.loss, rows(z_out), rows(a_out), rows(targets)) / steps
        decayed = [layer[:1] if bug == "U_not_decayed" else layer[:-1] for layer in params]  # BUG if W only
        penalty = 0.5 * lam * sum(float(np.sum(w * w)) for weights in decayed for w in weights)
        loss = float(C_x.sum() / m + penalty)

        # backward: BPTT-delta-out at the output steps, then down the layers and back in time
        delta_L = np.zeros_like(activations[-1])
        if bug == "targets_shifted" and outputs == "all":
            delta_L[:, :-1] = output_error(spec.loss, a_out, targets, PRIME_FROM_OUTPUT[spec.output])
        else:
            delta_L = output_error(spec.loss, a_out, targets, PRIME_FROM_OUTPUT[spec.output])
        delta_L = delta_L / steps
        deltas: list[Any] = [None] * L
        deltas[L - 1] = above = delta_L
        if outputs == "last":
            above = np.zeros((m, T, delta_L.shape[-1]), dtype=x.dtype)
            if bug == "output_error_every_step":
                above[:] = delta_L[:, None]  # BUG: the one output's error enters at every step
            else:
                above[:, -1] = delta_L  # only t = T has an output
        for l in range(L - 1, 0, -1):
            W_next, U = params[l][0], params[l - 1][1]
            U_back = U.T if bug == "u_transposed_in_delta" else U  # BUG if .T
            delta = np.empty_like(zs[l - 1])
            for t in range(T - 1, -1, -1):
                nabla_h = above[:, t] @ W_next  # (m, n_l) = (m, n_{l+1}) @ (n_{l+1}, n_l): from above
                if t < T - 1 and bug != "time_term_forgotten":  # BUG if forgotten: truncated to one step
                    nabla_h = nabla_h + delta[:, t + 1] @ U_back
                delta[:, t] = nabla_h * g_prime(activations[l][:, t])
            deltas[l - 1] = above = delta

        # the weights are shared by every step: their gradients sum over t (BPTT-dW, -dU, -db)
        grads: list[tuple[np.ndarray, ...]] = []
        for l in range(1, L + 1):
            delta, a_prev, weights = deltas[l - 1], activations[l - 1], params[l - 1]
            if l == L and outputs == "last":
                a_prev = a_prev[:, -1]
            if delta.ndim == 3 and bug == "db_last_step_only":
                nabla_b = delta[:, -1].sum(axis=0) / m  # BUG: Σ_x δ^l_T alone
            else:
                nabla_b = rows(delta).sum(axis=0) / m
            if delta.ndim == 3 and bug == "dW_last_step_only":
                nabla_w = delta[:, -1].T @ a_prev[:, -1] / m + lam * weights[0]  # BUG: step T alone
            else:
                nabla_w = rows(delta).T @ rows(a_prev) / m + lam * weights[0]
            if l == L:
                grads.append((nabla_w, nabla_b))
                break
            h = activations[l]  # h^l_t for t = 1..T; h^l_{t-1} is h^l_0 and then these shifted one step
            h_prev = np.concatenate([initial[l - 1][:, None], h[:, :-1]], axis=1)
            paired = h if bug == "dU_pairs_h_t" else h_prev  # BUG if h: δ^l_t with h^l_t
            nabla_u = rows(delta).T @ rows(paired) / m  # (n_l, n_l) = (n_l, m·T) @ (m·T, n_l)
            if bug != "U_not_decayed":  # BUG if skipped
                nabla_u = nabla_u + lam * weights[1]
            grads.append((nabla_w, nabla_u, nabla_b))
        return Gradients(loss, grads, zs, activations, deltas)


# module-level instances, so that ``check conformance.mutants.recurrent:time_term_forgotten`` works
for _bug in BUGS:
    globals()[_bug] = RecurrentMutant(_bug)
del _bug
