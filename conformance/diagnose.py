"""Why a check failed: one implementation's failures on one problem, matched against the signatures of
known bugs, each turned into a ``likely cause: ...`` line that names the equation and the fix.

The checks (checks.py) keep verdicts, not arrays, but a diagnosis needs the arrays. :func:`run`
hands the checks a :class:`Recorder` around the implementation that keeps what ``gradients`` and
``train`` returned, so every implementation still runs once; the signatures (signatures.py,
trajectory_signatures.py) then compare those outputs with the reference and with variants of it.

Rules: a run without failures gets no diagnosis. Failures are grouped by (check, quantity family),
e.g. ("grads", "dW") with its layers. Signatures are tried in order; a diagnosis is kept only if it
explains a group that no earlier one explained. Groups nothing explains get "no known signature
matched": never a guess.
"""

import copy
import logging
import math
from dataclasses import dataclass

import numpy as np

from . import conv_delta_signatures, conv_signatures, multiples, signatures, trajectory_signatures
from .checks import _expected, check_gradients, check_training
from .evidence import Diagnosis, Evidence, unmatched

# The order in which signatures are tried: the specific before the general. Adding one is one
# function in a signature module and its name here. First the exact replays of a known-bad SGD step,
# which speak only when the training check alone failed (an exact replay is more specific than
# float32_sized's "errors of float32 size", which a stale gradient on a one-example problem can also
# show); then the single pass's signatures, the general readings (a constant multiple, bias only), and
# last the readings of a training failure (a consequence of the single pass's, where a trajectory first
# goes wrong).
SIGNATURES = (
    trajectory_signatures.lr_float32,
    trajectory_signatures.step_scale,
    trajectory_signatures.stale_gradient,
    trajectory_signatures.loss_after_update,
    trajectory_signatures.dropped_batches,
    signatures.float32_sized,
    signatures.transposed,
    signatures.relu_kink,
    signatures.output_g_prime,
    signatures.w_not_transposed,
    signatures.decay_terms,
    signatures.data_gradient_lost,
    conv_signatures.kernel_flipped,
    conv_signatures.kernels_not_decayed,
    conv_signatures.bias_averaged,
    conv_signatures.stride_ignored,
    conv_signatures.flatten_order,
    conv_delta_signatures.padding_ignored,
    conv_delta_signatures.max_pool_to_every_element,
    conv_delta_signatures.max_pool_last_maximum,
    conv_delta_signatures.avg_pool_undivided,
    multiples.constant_multiple,
    signatures.bias_only,
    trajectory_signatures.consequence,
    trajectory_signatures.losses_only,
    trajectory_signatures.first_step,
)


class Recorder:
    """An implementation that remembers its last ``gradients`` and ``train`` results.

    It keeps a deep copy of each (the result itself goes on to the checks): an implementation may
    hand back views of buffers it reuses — a torch tensor's ``.numpy()`` shares its memory — and the
    ``train`` call that follows ``gradients`` must not rewrite the gradients the diagnosis reads. A
    result that cannot be copied is kept as it is."""

    def __init__(self, impl):
        try:  # a name that is not text, or whose reading raises, must not stop the run
            self.name = str(getattr(impl, "name", None) or type(impl).__name__)
        except Exception:
            self.name = type(impl).__name__
        self.impl, self.got = impl, {}

    def _keep(self, kind, result):
        try:
            self.got[kind] = copy.deepcopy(result)
        except Exception:
            self.got[kind] = result
        return result

    def gradients(self, spec, params, x, y):
        return self._keep("gradients", self.impl.gradients(spec, params, x, y))

    def train(self, spec, params, x, y, **keywords):  # lr, batches (and whatever the contract adds)
        return self._keep("train", self.impl.train(spec, params, x, y, **keywords))


def family(quantity):
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
    def passed(self):
        return all(r.passed for r in self.results)

    def lines(self):
        """One line per failing (check, quantity family), then one per diagnosis, indented."""
        groups = {}
        for r in self.results:
            if not r.passed:
                groups.setdefault((r.check, family(r.quantity)), []).append(r)
        return [group_line(rs) for rs in groups.values()] + [f"  {d.line}" for d in self.diagnoses]


def group_line(results):
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


def diagnose(evidence):
    """The diagnoses of one run's failures (empty when nothing failed).

    A signature that raises is skipped, as if it had not matched: a diagnosis is a reading of the
    failures, and a defect in one reading must never hide the others or the failures themselves (it
    is logged, for whoever maintains the signatures). The arithmetic runs with floating-point
    warnings off: an implementation's numbers may be huge or NaN, and every comparison
    (Evidence.close) rejects non-finite results instead. Once every failing group is explained no
    later signature could add a diagnosis, so none is tried.
    """
    found, explained = [], set()
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


def run(impl, problem, dtype="float64", kinds=("gradients", "train"), consistency=None):
    """Run the checks of ``kinds`` once through a :class:`Recorder` and diagnose their failures.

    ``consistency`` is an optional zero-argument callable giving the implementation's
    self-consistency verdict (selfcheck.py); it is called only if a diagnosis needs it.
    """
    dtype = str(np.dtype(dtype))
    recorder = Recorder(impl)
    results = []
    if "gradients" in kinds:
        results += check_gradients(recorder, problem, dtype)
    if "train" in kinds:
        results += check_training(recorder, problem, dtype)
    failing = {}
    for r in results:
        if not r.passed:
            failing.setdefault((r.check, family(r.quantity)), []).append(r)
    want_gradients, want_train = _expected(problem, np.dtype(dtype))
    evidence = Evidence(
        problem.as_dtype(dtype).as_dtype(np.float64),
        dtype,
        failing,
        {"gradients": want_gradients, "train": want_train},
        recorder.got,
        consistency,
    )
    return Outcome(recorder.name, problem.name, dtype, results, diagnose(evidence))
