"""Why a check failed: one implementation's failures on one problem, matched against the signatures of
known bugs, each turned into a ``likely cause: ...`` line that names the equation and the fix.

One check (checks.check) keeps its results and the arrays they were read from: what ``gradients``
and ``train`` returned, as plain-data snapshots, and the reference's answer. :func:`run` reads the
diagnosis from that one object; the signatures (signatures/) compare the implementation's arrays with
the reference and with small wrong variants of it (perturb.py).

Rules: a run without failures gets no diagnosis. Failures are grouped by (check, quantity family),
e.g. ("grads", "dW") with its layers. Signatures are tried in order; a diagnosis is kept only if it
explains a group that no earlier one explained. Groups nothing explains get "no known signature
matched": never a guess.
"""

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from conformance.checks import Checked, check
from conformance.compare import CheckResult
from conformance.contract import Implementation
from conformance.diagnosis import multiples
from conformance.diagnosis.evidence import Diagnosis, Evidence, unmatched
from conformance.diagnosis.signatures import conv, conv_delta, dense, optimizer, recurrent, trajectory
from conformance.problems import Problem

# The order in which signatures are tried: the specific before the general. Adding one is one
# function in a signature module and its name here. First the exact replays of a known-bad optimizer
# step, which speak only on an optimizer problem (Problem.optimizer), and of a known-bad SGD step,
# which speak only when the training check alone failed (an exact replay is more specific than
# float32_sized's "errors of float32 size", which a stale gradient on a one-example problem can also
# show); then the single pass's signatures, the general readings (a constant multiple, bias only), and
# last the readings of a training failure (a consequence of the single pass's, where a trajectory first
# goes wrong).
SIGNATURES = (
    optimizer.adam_no_bias_correction,
    optimizer.adam_step_count,
    optimizer.adam_betas_swapped,
    optimizer.eps_placement,
    optimizer.momentum_form,
    optimizer.nesterov_theta,
    optimizer.decoupled_decay_on_biases,
    optimizer.decoupled_decay_without_lr,
    optimizer.decoupled_decay_coupled,
    optimizer.clip_per_layer,
    optimizer.clip_update,
    optimizer.state_carried_over,
    trajectory.lr_float32,
    trajectory.step_scale,
    trajectory.stale_gradient,
    trajectory.loss_after_update,
    trajectory.dropped_batches,
    recurrent.state_through_training,
    dense.float32_sized,
    dense.transposed,
    dense.relu_kink,
    dense.output_g_prime,
    dense.w_not_transposed,
    dense.decay_terms,
    dense.data_gradient_lost,
    conv.kernel_flipped,
    conv.kernels_not_decayed,
    conv.bias_averaged,
    conv.stride_ignored,
    conv.flatten_order,
    conv_delta.padding_ignored,
    conv_delta.max_pool_to_every_element,
    conv_delta.max_pool_last_maximum,
    conv_delta.avg_pool_undivided,
    recurrent.time_term_forgotten,
    recurrent.u_transposed,
    recurrent.output_error_every_step,
    recurrent.targets_shifted,
    recurrent.mean_over_time,
    recurrent.last_step_only,
    recurrent.du_pairs_h_t,
    recurrent.u_not_decayed,
    recurrent.initial_state,
    multiples.constant_multiple,
    dense.bias_only,
    trajectory.consequence,
    trajectory.losses_only,
    trajectory.first_step,
)


def family(quantity: str) -> str:
    """'dW[layer 2]' -> 'dW', 'final W[layer 1]' -> 'final W', 'losses' -> 'losses'."""
    return quantity.split("[")[0]


@dataclass(frozen=True)
class Outcome:
    """All checks of one implementation on one problem in one dtype, and their diagnoses."""

    impl: str
    problem: str
    dtype: str
    results: list
    diagnoses: list

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    def lines(self) -> list[str]:
        """One line per failing (check, quantity family), then one per diagnosis, indented."""
        groups: dict[tuple[str, str], list[CheckResult]] = {}
        for r in self.results:
            if not r.passed:
                groups.setdefault((r.check, family(r.quantity)), []).append(r)
        return [group_line(rs) for rs in groups.values()] + [f"  {d.line}" for d in self.diagnoses]


def group_line(results: Sequence[CheckResult]) -> str:
    """A group's message: checks.py's own message for one array, the layers listed for several."""
    if len(results) == 1:
        return results[0].message
    r = results[0]
    layers = ", ".join(str(x.layer) for x in results if x.layer is not None)
    name = f"{family(r.quantity)}[layers {layers}]" if layers else r.quantity
    numbers = [x for x in results if not math.isnan(x.rel)]
    detail = next((x.detail for x in results if x.detail), "")
    if not numbers:
        return f"{r.impl} [{r.problem}] {r.check}: {name} FAIL: {detail}"
    worst = max(numbers, key=lambda x: x.rel)
    extra = f"; {detail}" if detail else ""
    return (
        f"{r.impl} [{r.problem}] {r.check}: {name} max|Δ|={max(x.worst for x in numbers):.1e}, "
        f"rel up to {worst.rel:.1e} > tol {worst.tol:.0e} ({r.dtype}){extra}"
    )


def diagnose(evidence: Evidence) -> list[Diagnosis]:
    """The diagnoses of one run's failures (empty when nothing failed).

    A signature that raises is skipped, as if it had not matched: a diagnosis is a reading of the
    failures, and a defect in one reading must never hide the others or the failures themselves (it
    is logged, for whoever maintains the signatures). The arithmetic runs with floating-point
    warnings off: an implementation's numbers may be huge or NaN, and every comparison
    (Evidence.close) rejects non-finite results instead. Once every failing group is explained no
    later signature could add a diagnosis, so none is tried.
    """
    found: list[Diagnosis] = []
    explained: set[tuple[str, str]] = set()
    if not evidence.failing:
        return found
    with np.errstate(all="ignore"):
        for sig in SIGNATURES:
            if explained >= set(evidence.failing):
                break
            try:
                found_here = sig(evidence)
            except Exception:
                logging.getLogger(__name__).warning(
                    "signature %s raised; skipped", getattr(sig, "__name__", sig), exc_info=True
                )
                continue
            for d in found_here if isinstance(found_here, list) else [found_here] if found_here else []:
                if isinstance(d, Diagnosis) and set(d.explains) - explained:
                    found.append(d)
                    explained |= set(d.explains)
    rest = [k for k in evidence.failing if k not in explained]
    if rest:
        found.append(unmatched(rest))
    return found


def run(
    impl: Implementation,
    problem: Problem,
    dtype: str | np.dtype | type = "float64",
    kinds: Sequence[str] = ("gradients", "train"),
    consistency: Callable[[], object] | None = None,
) -> Outcome:
    """Check ``impl`` on ``problem`` once (checks.check) and diagnose the failures from what that one
    check kept: its results, the implementation's arrays and the reference's.

    ``consistency`` is an optional zero-argument callable giving the implementation's
    self-consistency verdict (selfcheck.py); it is called only if a diagnosis needs it.
    """
    checked = check(impl, problem, dtype, kinds)
    return Outcome(
        checked.impl, problem.name, checked.dtype, checked.results, diagnose(evidence(checked, consistency))
    )


def evidence(checked: Checked, consistency: Callable[[], object] | None = None) -> Evidence:
    """What the signatures read of one check: its failing groups, the arrays, the problem's inputs."""
    failing: dict[tuple[str, str], list[CheckResult]] = {}
    for r in checked.results:
        if not r.passed:
            failing.setdefault((r.check, family(r.quantity)), []).append(r)
    problem = checked.problem.as_dtype(checked.dtype).as_dtype(np.float64)
    return Evidence(problem, checked.dtype, failing, checked.want, checked.got, consistency)
