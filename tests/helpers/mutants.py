"""The meta-tests' shared assertions: a known-bad mutant is caught by the check that names it, and
gets one diagnosis wherever it fails; and a problem on which gradient ascent overflows."""

from conformance.problems import make_problem
from conformance.spec import Spec

# A ReLU-output net on which gradient ascent overflows to inf within 12 steps (its loss 3e143 at step
# 10, inf at step 11): a replay that overflows must match nothing, and a run that diverges must still
# be read. It is the catalogue's relu-relu-quadratic as it was before the catalogue was extended to
# every pair of features (seed 114, λ = 0, no kinks, batches of 3, 3, 3, 1), built here so that no
# change to the catalogue can drop it.
ASCENT_OVERFLOWS = make_problem(
    Spec((5, 4, 3), "relu", "relu", "quadratic"), 114, lr=0.1, name="relu-relu-quadratic (seed 114)"
)


def assert_caught(runs, label, bug_text, family, quantity):
    """The mutant ``label`` failed, and a ``family`` check on ``quantity`` is among its failures,
    each such message naming the mutant and the problem; returns those named failures."""
    failures = [r for o in runs for r in o.results if not r.passed]
    assert failures, f"{label} passed every check: the suite cannot see {bug_text}"
    named = [r for r in failures if r.check == family and quantity in r.quantity]
    assert named, f"{label} was not caught by a {family} check on {quantity}...; failures: " + "; ".join(
        sorted({f"{r.check}:{r.quantity}" for r in failures})
    )
    assert all(label in r.message and r.problem in r.message for r in named)
    return named


def diagnosed_by(runs):
    """{signature: [problems]} over the runs that failed, the generic "consequence" left out (it
    explains a training failure by the single-pass failures that the run's other diagnosis reads).
    Runs whose every failure is a raised call are left out too: there is nothing to read but the
    exception, which the failure shows (W^{l+1} where W^{l+1}.T is needed, on non-square layers)."""
    found = {}
    for o in runs:
        failures = [r for r in o.results if not r.passed]
        if not failures or all(r.check == "call" for r in failures):
            continue
        for d in o.diagnoses:
            if d.signature != "consequence":
                found.setdefault(d.signature, []).append(o.problem)
    return found


def assert_one_diagnosis(runs, label, expected):
    """Every failing run of ``label`` is diagnosed by ``expected`` and by nothing else."""
    found = diagnosed_by(runs)
    lines = [f"  [{o.problem}] {d.line}" for o in runs for d in o.diagnoses]
    assert set(found) == {expected}, (
        f"{label}: expected {expected} on every problem where it fails, got {found}:\n" + "\n".join(lines)
    )
