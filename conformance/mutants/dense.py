"""Known-bad implementations: the classic backprop bugs, one switch each.

Teaching material and the suite's own test: tests/diagnosis/test_mutants.py proves that every bug below is
caught, by the check that names the quantity it breaks. Each is a student's NumPy backprop that is
right except for the one line marked ``# BUG`` — read it next to reference/network.py.

    python -m conformance check conformance.mutants:bp2_w_not_transposed --problems square-4-4-4-4
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

from conformance.contract import Array, IndexArray, Params
from conformance.spec import Spec
from reference.activations import ACTIVATIONS, PRIME_FROM_OUTPUT
from reference.costs import cost as per_example_cost
from reference.costs import output_error
from reference.network import Gradients
from reference.training import Trajectory
from reference.validation import check_batches, check_data, check_lr, check_params, check_spec

# bug -> (what it gets wrong, the check family that must catch it, a quantity it must name)
BUGS = {
    "missing_sigma_prime_bp1": (
        "BP1 without g'(z^L): δ^L = a − y for the quadratic cost",
        "deltas",
        "delta[layer",
    ),
    "bp2_w_not_transposed": (
        "BP2 with W^{l+1}.T where W^{l+1} is needed (Nielsen's W vs W.T)",
        "deltas",
        "delta[layer",
    ),
    "bias_summed": ("BP3 summed over the batch instead of averaged", "grads", "db[layer"),
    "update_sign": ("SGD step W + η∂C/∂W: gradient ascent", "trajectory", "losses"),
    "relu_prime_one_at_zero": ("ReLU'(0) = 1 (seed 002's convention) instead of 0", "deltas", "delta[layer"),
    "decay_on_biases": ("weight decay λb added to the bias gradient too", "grads", "db[layer"),
    "float32_internally": ("float64 input computed in float32, cast back to float64", "forward", "z[layer"),
    "quadratic_half_dropped": ("quadratic cost ‖a − y‖² without the ½", "loss", "loss"),
    "stale_gradient": ("each step applies the previous batch's gradient", "trajectory", "losses"),
    "summed_not_averaged": ("BP3 and BP4 summed over the batch: the 1/m forgotten", "grads", "dW[layer"),
    "dW_transposed": ("BP4 as (a^{l-1}).T δ^l: the weight gradient transposed", "grads", "dW[layer"),
    "sigma_prime_with_cross_entropy": (
        "BP1 keeps σ'(z^L) where the cross-entropy cancels it",
        "deltas",
        "delta[layer",
    ),
    "decay_sign": ("BP4 with − λW: the decay term's sign flipped", "grads", "dW[layer"),
    "decay_missing_from_loss": ("the loss without (λ/2)Σ‖W‖² while BP4 keeps λW", "loss", "loss"),
    "mean_over_outputs": (
        "cost and BP1 averaged over the n_L outputs: a consistent other convention",
        "loss",
        "loss",
    ),
    "loss_after_update": ("each step records the loss after its update, not before", "trajectory", "losses"),
    "drops_last_batch": ("the training loop stops one batch early (an off-by-one)", "structure", "losses"),
    "penalty_per_example": (
        "the loss adds (λ/2)Σ‖W‖² once per example, m times (the penalty line indented "
        "into the loop over the examples); the gradients are right",
        "loss",
        "loss",
    ),
    "decay_per_example": ("BP4 adds λW once per example: m·λW", "grads", "dW[layer"),
    "lr_float32": ("the learning rate rounded to float32: η = float(np.float32(η))", "trajectory", "losses"),
    "data_term_overwritten": (
        "BP4 as ∂C/∂W = λW: the data term overwritten (= where += was meant)",
        "grads",
        "dW[layer",
    ),
}


class Mutant:
    """A backprop with at most one bug (``bug=None`` is correct: the meta-test's control)."""

    def __init__(self, bug: str | None = None) -> None:
        if bug is not None and bug not in BUGS:
            raise ValueError(f"bug: unknown mutant {bug!r}; expected one of {list(BUGS)}")
        self.bug = bug
        self.name = f"mutant.{bug}" if bug else "mutant.none"

    def gradients(self, spec: Spec, params: Params, x: Array, y: Array) -> Gradients:
        sizes, *_ = check_spec(spec)
        check_data(x, y, sizes, check_params(params, sizes), spec.loss)
        return self._backprop(spec, params, x, y)

    def _backprop(self, spec, params, x, y):
        bug, dtype, L, m = self.bug, x.dtype, len(params), x.shape[0]
        if bug == "float32_internally":
            params = [(W.astype(np.float32), b.astype(np.float32)) for W, b in params]
            x, y = x.astype(np.float32), y.astype(np.float32)
        zs, activations = [], [x]
        for l, (W, b) in enumerate(params, start=1):
            zs.append(activations[-1] @ W.T + b)
            activations.append(ACTIVATIONS[spec.output if l == L else spec.activation][0](zs[-1]))
        g_prime = ACTIVATIONS[spec.activation][1]
        assert g_prime is not None  # every hidden activation has one (check_spec)
        if bug == "relu_prime_one_at_zero" and spec.activation == "relu":
            g_prime = lambda z: (z >= 0).astype(z.dtype)  # BUG  # noqa: E731
        if bug == "missing_sigma_prime_bp1":
            delta = output_error(spec.loss, activations[-1], y, np.ones_like)  # BUG
        elif bug == "sigma_prime_with_cross_entropy" and spec.loss == "cross_entropy":
            # BUG: the quadratic cost's (a − y) ⊙ σ'(z), where the cross-entropy cancels σ'
            delta = output_error("quadratic", activations[-1], y, PRIME_FROM_OUTPUT[spec.output])
        else:
            delta = output_error(spec.loss, activations[-1], y, PRIME_FROM_OUTPUT[spec.output])
        n_L = spec.sizes[-1] if bug == "mean_over_outputs" else 1  # BUG if n_L: C_x / n_L
        delta = delta / n_L
        deltas = [delta]
        for l in range(L - 1, 0, -1):
            W_next = params[l][0].T if bug == "bp2_w_not_transposed" else params[l][0]  # BUG if .T
            deltas.insert(0, (deltas[0] @ W_next) * g_prime(zs[l - 1]))
        grads, lam = [], spec.weight_decay
        n = 1 if bug == "summed_not_averaged" else m  # BUG if 1
        for (W, b), d, a_prev in zip(params, deltas, activations):
            db = d.sum(axis=0) if bug == "bias_summed" else d.sum(axis=0) / n  # BUG if not / m
            if bug == "decay_on_biases":
                db = db + lam * b  # BUG
            decays: dict[str | None, float] = {"decay_sign": -lam, "decay_per_example": m * lam}
            decay = decays.get(bug, lam)  # BUG if not λ
            dW = (d.T @ a_prev) / n + decay * W
            if bug == "data_term_overwritten":
                dW = lam * W  # BUG: "=" where "+=" was meant: the data term (1/m)(δ^l)ᵀ a^{l−1} is lost
            grads.append((dW.T if bug == "dW_transposed" else dW, db))  # BUG if .T
        C_x = per_example_cost(spec.loss, zs[-1], activations[-1], y) / n_L
        if bug == "quadratic_half_dropped" and spec.loss == "quadratic":
            C_x = 2 * C_x  # BUG: ‖a − y‖² instead of ½‖a − y‖²
        penalty = 0.0 if bug == "decay_missing_from_loss" else 0.5 * lam  # BUG if 0
        if bug == "penalty_per_example":
            penalty = m * penalty  # BUG: added inside the loop over the m examples, once per example
        loss = float(np.mean(C_x) + penalty * sum(np.sum(W * W) for W, _ in params))
        back = lambda arrays: [a.astype(dtype) for a in arrays]  # noqa: E731
        return Gradients(loss, [tuple(back(p)) for p in grads], back(zs), back(activations), back(deltas))

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
        sizes, *_ = check_spec(spec)
        check_data(x, y, sizes, check_params(params, sizes), spec.loss)
        lr, batches = check_lr(lr), check_batches(batches, x.shape[0])
        if self.bug == "lr_float32":
            lr = float(np.float32(lr))  # BUG: η stored in float32 (0.1 -> 0.10000000149...)
        sign = 1 if self.bug == "update_sign" else -1  # BUG if +1
        losses, previous = [], None
        # A bad step may diverge: like a student's NumPy loop this one goes on to inf and NaN and
        # returns them (NumPy would only warn; here it is quiet, so that the warnings-as-errors of the
        # project's pytest run do not turn a diverging trajectory into a raised call)
        with np.errstate(over="ignore", invalid="ignore"):
            for idx in batches[:-1] if self.bug == "drops_last_batch" else batches:  # BUG if [:-1]
                result = self._backprop(spec, params, x[idx], y[idx])
                grads = result.grads
                if self.bug == "stale_gradient":
                    grads, previous = (previous or grads), grads  # BUG: last step's gradient
                new = [(W + sign * lr * dW, b + sign * lr * db) for (W, b), (dW, db) in zip(params, grads)]
                after = self.bug == "loss_after_update"  # BUG if True: the cost at the updated parameters
                losses.append(self._backprop(spec, new, x[idx], y[idx]).loss if after else result.loss)
                params = new
        return Trajectory(losses, params)


# module-level instances, so that ``check conformance.mutants:bias_summed`` works
for _bug in BUGS:
    globals()[_bug] = Mutant(_bug)
