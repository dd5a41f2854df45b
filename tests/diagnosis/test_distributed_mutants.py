"""Meta-test for the data-parallel mutants: each bug of combining k workers is caught, by the check
that names the quantity it breaks; the bug-free combination passes at 2 and 3 workers."""

import pytest

from conformance import CATALOGUE, check
from conformance.mutants.distributed import BUGS, WORKERS, DataParallelMutant

# deep-relu-softmax: weight decay, and 10 examples in batches of 4, so 3 workers get ragged shards
# (4, 3, 3 for the one-pass check; 2, 1, 1 in training); square-4-4-4-4: batches of 3 and 1, ragged
# at 2 workers as well (2, 1), and an empty shard at 3 (1, 0, 0).
PROBLEMS = ["deep-relu-softmax", "square-4-4-4-4"]


def run(impl):
    return [r for name in PROBLEMS for r in check(impl, CATALOGUE[name], "float64")]


@pytest.mark.parametrize("bug", list(BUGS))
def test_data_parallel_mutant_is_caught_by_the_right_check(bug):
    _, family, quantity = BUGS[bug]
    failures = [r for r in run(DataParallelMutant(bug, WORKERS)) if not r.passed]
    assert failures, f"{bug} passed every check: the suite cannot see {BUGS[bug][0]}"
    named = [r for r in failures if r.check == family and quantity in r.quantity]
    assert named, f"{bug} was not caught by a {family} check on {quantity}...; failures: " + "; ".join(
        sorted({f"{r.check}:{r.quantity}" for r in failures})
    )
    assert any(r.check == "trajectory" for r in failures), f"{bug}: training was not caught"


@pytest.mark.parametrize("bug", list(BUGS))
def test_data_parallel_mutant_is_caught_at_two_workers(bug):
    """Even shards hide the mean of shard means from the one-pass check; the training steps' ragged
    batches (3 examples over 2 workers) still show it."""
    assert not all(r.passed for r in run(DataParallelMutant(bug, 2)))


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_bug_free_data_parallel_control_passes_everything(workers):
    results = [
        r
        for p in CATALOGUE.values()
        # the simulated workers are dense, plain SGD (they declare neither conv nor recurrent)
        if not p.spec.conv and p.spec.recurrent is None and p.optimizer is None
        for r in check(DataParallelMutant(None, workers), p)
    ]
    assert results and all(r.passed for r in results), [r.message for r in results if not r.passed]
