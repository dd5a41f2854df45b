"""The data-parallel implementations × catalogue × float64/float32, at 2 and 3 workers.

Exactly the checks of test_matrix.py (one backward pass, and a training run step by step) against
the single-process reference: data-parallel training must equal it, for MLPs and conv stacks, plain
SGD and every optimizer problem (the update after the all-reduce; the final state compared too).
3 workers make ragged shards for batches of 10 and 4 and empty ones for a batch of 1. The conv and
optimizer problems run at 3 workers only (``EXTENSIONS_AT``): their shards are cut and weighted as
the MLPs' (checked at both counts), and what they add (conv blocks on a shard, the update after the
all-reduce, global-norm clipping, the state) is exposed at 3 as at 2, for half the time.

Test ids name the implementation and its workers, e.g. ``test_training[torch.ddp-w3-batch-1-float64]``.
Each (implementation, workers) starts its workers once for this module (a module-scoped fixture) and
stops them at its end.

``--impl`` selects data-parallel names here too (``--impl=torch.ddp``); other targets skip this file.
"""

import pytest

from conformance import CATALOGUE, DATA_PARALLEL, Unavailable, load
from conformance.calls import supports
from conformance.diagnosis.diagnose import run
from conformance.suite.test_matrix import assert_passed, parametrize_problems

WORKERS = (2, 3)
EXTENSIONS_AT = 3  # the worker count for conv and optimizer problems
DTYPES = ("float64", "float32")


def pytest_generate_tests(metafunc):
    if "data_parallel" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("impl") or DATA_PARALLEL
        pairs = [(n, k) for n in DATA_PARALLEL if n in chosen for k in WORKERS]
        metafunc.parametrize(
            "data_parallel", pairs, ids=[f"{n}-w{k}" for n, k in pairs], indirect=True, scope="module"
        )
    parametrize_problems(metafunc)  # then the dtype marks: ids [torch.ddp-w3-batch-1-float64]


@pytest.fixture(scope="module")
def data_parallel(request):
    """(the implementation with its workers started, once for every test of this module, workers)."""
    name, workers = request.param
    try:
        impl = load(name, workers=workers)
    except Unavailable as exc:
        pytest.skip(str(exc))
    yield impl, workers
    impl.close()


@pytest.mark.parametrize("dtype", DTYPES)
def test_gradients(data_parallel, problem_name, dtype):
    """The full-batch loss and ∂C/∂W, ∂C/∂b, combined from the shards; z^l and a^l where returned."""
    _check(data_parallel, CATALOGUE[problem_name], dtype, "gradients")


@pytest.mark.parametrize("dtype", DTYPES)
def test_training(data_parallel, problem_name, dtype):
    """Per-step full-batch losses (first diverging step named) and final parameters."""
    _check(data_parallel, CATALOGUE[problem_name], dtype, "train")


def _check(data_parallel, problem, dtype, kind):
    impl, workers = data_parallel
    if (getattr(problem.spec, "conv", ()) or problem.optimizer) and workers != EXTENSIONS_AT:
        pytest.skip(f"conv and optimizer problems run at {EXTENSIONS_AT} workers")
    if not supports(impl, problem.spec, problem.optimizer):  # an --impl target may decline some
        pytest.skip(f"{impl.name} does not support {problem.spec.label}")
    assert_passed(run(impl, problem, dtype, (kind,)))
