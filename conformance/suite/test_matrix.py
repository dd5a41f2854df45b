"""Every implementation × every catalogue problem × float64/float32, one backward pass and one
training run each; then Hypothesis-drawn problems.

Test ids name the implementation, the problem and the dtype, e.g.
``test_gradients[torch.manual-relu-kink-float64]``; a failure lists every failed quantity with its
layer, normwise and worst-element error and tolerance (compare.py).
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conformance import CATALOGUE, DATA_PARALLEL, NAMES, Spec, Unavailable, make_problem
from conformance.checks import check_gradients, check_training, supports
from conformance.problems import OUTPUT_LOSSES
from conformance.target import load_target
from reference import HIDDEN_ACTIVATIONS

_IMPLS = {}


def pytest_generate_tests(metafunc):
    """impl × dtype, without the reference against itself in float64 (the golden vectors pin it)."""
    names = [n for n in metafunc.config.getoption("impl") or NAMES
             if n not in DATA_PARALLEL]  # those run in test_distributed.py, with their workers
    if "dtype" in metafunc.fixturenames:
        pairs = [(n, d) for n in names for d in ("float64", "float32")
                 if (n, d) != ("reference", "float64")]
        metafunc.parametrize(("impl_name", "dtype"), pairs, ids=[f"{n}-{d}" for n, d in pairs])
    elif "impl_name" in metafunc.fixturenames:
        metafunc.parametrize("impl_name", names)


def implementation(name):
    """Load once per worker process; a missing framework is a skip with the reason."""
    if name not in _IMPLS:
        try:
            _IMPLS[name] = load_target(name)
        except Unavailable as exc:
            _IMPLS[name] = exc
    impl = _IMPLS[name]
    if isinstance(impl, Unavailable):
        pytest.skip(str(impl))
    return impl


def _verdict(results):
    failures = [r.message for r in results if not r.passed]
    assert results, "no check ran"
    assert not failures, f"{len(failures)} of {len(results)} checks failed:\n" + "\n".join(failures)


def _run(check, impl_name, problem, dtype):
    impl = implementation(impl_name)
    if not supports(impl, problem.spec):
        pytest.skip(f"{impl_name} does not support {problem.spec.label}")
    _verdict(check(impl, problem, dtype))


@pytest.mark.parametrize("problem_name", list(CATALOGUE))
def test_gradients(impl_name, problem_name, dtype):
    """forward z^l, a^l; deltas (BP1, BP2); ∂C/∂b (BP3); ∂C/∂W (BP4); loss."""
    _run(check_gradients, impl_name, CATALOGUE[problem_name], dtype)


@pytest.mark.parametrize("problem_name", list(CATALOGUE))
def test_training(impl_name, problem_name, dtype):
    """Per-step losses (first diverging step named) and final parameters."""
    _run(check_training, impl_name, CATALOGUE[problem_name], dtype)


@st.composite
def problems(draw):
    """Random architecture, pairing, weight decay, batch size and seed."""
    out, loss = draw(st.sampled_from(OUTPUT_LOSSES))
    sizes = draw(st.lists(st.integers(1, 6), min_size=2, max_size=5))
    spec = Spec(sizes, draw(st.sampled_from(HIDDEN_ACTIVATIONS)), out, loss,
                draw(st.sampled_from([0.0, 0.1])))
    m = draw(st.integers(1, 7))
    return make_problem(spec, draw(st.integers(0, 2**32 - 1)), m=m,
                        batch_size=draw(st.integers(1, m)), epochs=2, lr=0.1,
                        name="hypothesis")


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          derandomize=True)  # same examples on every run and every xdist worker
@given(problem=problems(), dtype=st.sampled_from([np.float64, np.float32]))
def test_hypothesis_problems(impl_name, problem, dtype):
    """Drawn problems: gradients and a short trajectory (small η, so float32 stays close)."""
    assume(not (impl_name == "reference" and dtype == np.float64))  # pinned by the golden vectors
    impl = implementation(impl_name)
    if supports(impl, problem.spec):
        _verdict(check_gradients(impl, problem, dtype) + check_training(impl, problem, dtype))
