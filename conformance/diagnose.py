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

import math
from dataclasses import dataclass

import numpy as np

from . import multiples, signatures, trajectory_signatures
from .checks import _expected, check_gradients, check_training
from .evidence import Evidence, unmatched

# The order in which signatures are tried: the specific before the general. Adding one is one
# function in a signature module and its name here.
SIGNATURES = (signatures.float32_sized, signatures.transposed, signatures.relu_kink,
              signatures.output_g_prime, signatures.w_not_transposed, signatures.decay_terms,
              multiples.constant_multiple, signatures.bias_only,
              trajectory_signatures.consequence, trajectory_signatures.step_scale,
              trajectory_signatures.stale_gradient, trajectory_signatures.loss_after_update,
              trajectory_signatures.dropped_batches, trajectory_signatures.losses_only,
              trajectory_signatures.first_step)

class Recorder:
    """An implementation that remembers its last ``gradients`` and ``train`` results."""

    def __init__(self, impl):
        self.impl, self.name = impl, getattr(impl, "name", type(impl).__name__)
        self.got = {}

    def gradients(self, spec, params, x, y):
        self.got["gradients"] = self.impl.gradients(spec, params, x, y)
        return self.got["gradients"]

    def train(self, spec, params, x, y, *, lr, batches):
        self.got["train"] = self.impl.train(spec, params, x, y, lr=lr, batches=batches)
        return self.got["train"]


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
    return (f"{r.impl} [{r.problem}] {r.check}: {name} max|Δ|={max(x.worst for x in numbers):.1e}, "
            f"rel up to {worst.rel:.1e} > tol {worst.tol:.0e} ({r.dtype}){extra}")


def diagnose(evidence):
    """The diagnoses of one run's failures (empty when nothing failed)."""
    found, explained = [], set()
    if not evidence.failing:
        return found
    for sig in SIGNATURES:
        found_here = sig(evidence)
        for d in found_here if isinstance(found_here, list) else [found_here] if found_here else []:
            if set(d.explains) - explained:
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
    evidence = Evidence(problem.as_dtype(dtype).as_dtype(np.float64), dtype, failing,
                        {"gradients": want_gradients, "train": want_train}, recorder.got, consistency)
    return Outcome(recorder.name, problem.name, dtype, results, diagnose(evidence))
