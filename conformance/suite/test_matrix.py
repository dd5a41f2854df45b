"""Every implementation × every catalogue problem × float64/float32, one backward pass and one
training run each; then Hypothesis-drawn problems, drawn from what each implementation supports and
counted: a Hypothesis test fails when fewer than its minimum of examples reached the verdict
(examples.py), and skips an implementation that supports nothing of its kind.

Test ids name the implementation, the problem and the dtype, e.g.
``test_gradients[torch.manual-relu-kink-float64]``; a failure lists every failed quantity family
with its layers, normwise and worst-element error and tolerance (compare.py), then the likely
causes (diagnose.py). ``test_self_consistency`` checks that each implementation's gradients are the
derivative of its own loss (selfcheck.py).
"""

import functools

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conformance import CATALOGUE, DATA_PARALLEL, NAMES, Conv, Recurrent, Spec, make_problem
from conformance.coverage import covering
from conformance.diagnosis.diagnose import run
from conformance.suite.examples import Reached, drawable
from reference import conv_shapes

# examples per Hypothesis test and implementation: drawn (max_examples), and the fewest that must reach
# the verdict. Every shipped implementation supports every drawn problem, so it reaches all of them.
DENSE_EXAMPLES, MIN_DENSE_EXAMPLES = 12, 10
CONV_EXAMPLES, MIN_CONV_EXAMPLES = 6, 5
RECURRENT_EXAMPLES, MIN_RECURRENT_EXAMPLES = 5, 4
# Declined draws are filtered out (assume); the counts say how many were not (HealthCheck.filter_too_much
# would stop an implementation that declines most draws with a message that does not name it).
HEALTH = [HealthCheck.too_slow, HealthCheck.filter_too_much]


def problem_names(config, kind):
    """The catalogue problems with checks of ``kind``: all of them, or with ``--catalogue=covering``
    the covering subset (coverage.covering, chosen once per process)."""
    names = _covering() if config.getoption("catalogue") == "covering" else list(CATALOGUE)
    return [n for n in names if kind in CATALOGUE[n].kinds]


@functools.cache
def _covering():
    return covering(CATALOGUE)


def parametrize_problems(metafunc):
    """``problem_name`` for test_gradients (the problems with a backward pass) and test_training (all),
    as the last parameter, so that test ids end with it (e.g. [torch.manual-float64-relu-kink])."""
    if "problem_name" in metafunc.fixturenames:
        kind = "gradients" if metafunc.function.__name__ == "test_gradients" else "train"
        metafunc.parametrize("problem_name", problem_names(metafunc.config, kind))


def pytest_generate_tests(metafunc):
    """impl × dtype, without the reference against itself in float64 (the golden vectors pin it); the
    catalogue's problems (problem_names) for the tests that take one."""
    names = [
        n for n in metafunc.config.getoption("impl") or NAMES if n not in DATA_PARALLEL
    ]  # those run in test_distributed.py, with their workers
    if "dtype" in metafunc.fixturenames:
        pairs = [(n, d) for n in names for d in ("float64", "float32") if (n, d) != ("reference", "float64")]
        metafunc.parametrize(("impl_name", "dtype"), pairs, ids=[f"{n}-{d}" for n, d in pairs])
    elif "impl_name" in metafunc.fixturenames:
        metafunc.parametrize("impl_name", names)
    parametrize_problems(metafunc)


def _verdict(impls, impl_name, problem, dtype, kinds):
    """Run the checks once; on failure, one line per failing quantity family and the likely causes."""
    assert_passed(
        run(
            impls.get(impl_name),
            problem,
            dtype,
            kinds,
            consistency=lambda: impls.self_consistency(impl_name).passed,
        )
    )


def assert_passed(outcome):
    """Fail with the grouped failure lines and diagnoses; a clean run must get no diagnosis."""
    failed = sum(not r.passed for r in outcome.results)
    assert outcome.results, "no check ran"
    if failed:
        pytest.fail(
            f"{failed} of {len(outcome.results)} checks failed:\n" + "\n".join(outcome.lines()), pytrace=False
        )
    assert not outcome.diagnoses, "a run without failures must get no diagnosis"


def _run(impls, kind, impl_name, problem, dtype):
    if not impls.supports(impl_name, problem.spec, problem.optimizer):
        what = problem.spec.label + (f" with {problem.optimizer.label}" if problem.optimizer else "")
        pytest.skip(f"{impl_name} does not support {what}")
    _verdict(impls, impl_name, problem, dtype, (kind,))


def test_gradients(impls, impl_name, problem_name, dtype):
    """forward z^l, a^l; deltas (BP1, BP2); ∂C/∂b (BP3); ∂C/∂W (BP4); loss."""
    _run(impls, "gradients", impl_name, CATALOGUE[problem_name], dtype)


def test_training(impls, impl_name, problem_name, dtype):
    """Per-step losses (first diverging step named) and final parameters."""
    _run(impls, "train", impl_name, CATALOGUE[problem_name], dtype)


@st.composite
def problems(draw, space):
    """Random architecture, pairing, weight decay, batch size and seed, from ``space`` (examples.py)."""
    out, loss = draw(st.sampled_from(space.output_losses))
    sizes = draw(st.lists(st.integers(1, 6), min_size=2, max_size=5))
    spec = Spec(
        sizes, draw(st.sampled_from(space.activations)), out, loss, draw(st.sampled_from(space.decays))
    )
    return _problem(draw, spec, max_examples=7, name="hypothesis")


def _problem(draw, spec, max_examples, name, lr=0.1):
    """``spec`` on a drawn batch size, seed and mini-batch size; two epochs at a small η."""
    m = draw(st.integers(1, max_examples))
    return make_problem(
        spec,
        draw(st.integers(0, 2**32 - 1)),
        m=m,
        batch_size=draw(st.integers(1, m)),
        epochs=2,
        lr=lr,
        name=name,
    )


def _example(impls, impl_name, space, reached, data, strategy):
    """One drawn problem and dtype that ``impl_name`` supports, checked; counted in ``reached``."""
    problem = data.draw(strategy(space), label="problem")
    dtype = data.draw(st.sampled_from(space.dtypes), label="dtype")
    assume(impls.supports(impl_name, problem.spec))
    _verdict(impls, impl_name, problem, dtype, ("gradients", "train"))
    reached.add()


def drawn(strategy, examples):
    """The Hypothesis test body for ``strategy``: ``examples`` draws, each checked (_example).
    derandomize: the same examples on every run and every xdist worker."""

    @settings(max_examples=examples, deadline=None, suppress_health_check=HEALTH, derandomize=True)
    @given(data=st.data())
    def run(impls, impl_name, space, reached, data):
        _example(impls, impl_name, space, reached, data, strategy)

    return run


def _reach(impls, impl_name, kind, run, minimum):
    """Run the drawn examples of ``kind`` for ``impl_name``; fail if fewer than ``minimum`` reached
    the verdict (examples.py)."""
    reached = Reached(impl_name, f"{kind} problems", minimum)
    run(impls, impl_name, drawable(impls, impl_name, kind), reached)
    reached.check()


dense_examples = drawn(problems, DENSE_EXAMPLES)


def test_hypothesis_problems(impls, impl_name):
    """Drawn problems: gradients and a short trajectory (small η, so float32 stays close)."""
    _reach(impls, impl_name, "dense", dense_examples, MIN_DENSE_EXAMPLES)


@st.composite
def conv_problems(draw, space):
    """One or two conv blocks (kernel, stride, padding and pooling drawn so that the shapes work out)
    on a small random input, then one or two dense layers; the rest from ``space``."""
    input_shape = (draw(st.integers(1, 2)), draw(st.integers(4, 8)), draw(st.integers(4, 8)))
    blocks, (C, H, W) = [], input_shape
    for _ in range(draw(st.integers(1, 2))):
        if min(H, W) < 3:  # too small for another block
            break
        k, s, p = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(0, 1))
        H_z, W_z = conv_shapes((C, H, W), [Conv(1, k, s, p)])[-1].z[1:]  # the block before pooling
        pools = [(kind, n) for kind in ("max", "avg") for n in (2, 3) if H_z % n == 0 and W_z % n == 0]
        pool, size = draw(st.sampled_from([(None, 2), *pools]))
        blocks.append(Conv(draw(st.integers(1, 3)), k, s, p, pool, size))
        C, H, W = conv_shapes(input_shape, blocks)[-1].a
    out, loss = draw(st.sampled_from(space.output_losses))
    sizes = [C * H * W, *draw(st.lists(st.integers(1, 4), min_size=1, max_size=2))]
    spec = Spec(
        sizes,
        draw(st.sampled_from(space.activations)),
        out,
        loss,
        draw(st.sampled_from(space.decays)),
        input_shape=input_shape,
        conv=blocks,
    )
    return _problem(draw, spec, max_examples=4, name="hypothesis-conv")


conv_examples = drawn(conv_problems, CONV_EXAMPLES)


def test_hypothesis_conv_problems(impls, impl_name):
    """Drawn conv stacks: gradients and a short trajectory, as for the dense problems above."""
    _reach(impls, impl_name, "conv", conv_examples, MIN_CONV_EXAMPLES)


@st.composite
def recurrent_problems(draw, space):
    """One or two recurrent layers over T = 1..6 steps, an output at every step or after the last,
    on a few short sequences; the rest from ``space``."""
    out, loss = draw(st.sampled_from(space.output_losses))
    sizes = draw(st.lists(st.integers(1, 5), min_size=3, max_size=4))
    recurrent = Recurrent(draw(st.integers(1, 6)), draw(st.sampled_from(("all", "last"))))
    spec = Spec(
        sizes,
        draw(st.sampled_from(space.activations)),
        out,
        loss,
        draw(st.sampled_from(space.decays)),
        recurrent=recurrent,
    )
    # η = 0.02: a drawn linear or ReLU recurrence at η = 0.1 can grow its state past float32's
    # range within the two epochs (seen: an overflow in the reference's z_t), which checks nothing
    return _problem(draw, spec, max_examples=4, name="hypothesis-rnn", lr=0.02)


recurrent_examples = drawn(recurrent_problems, RECURRENT_EXAMPLES)


def test_hypothesis_recurrent_problems(impls, impl_name):
    """Drawn recurrent nets (backprop through time): gradients and a short trajectory."""
    _reach(impls, impl_name, "recurrent", recurrent_examples, MIN_RECURRENT_EXAMPLES)


def test_self_consistency(impls, impl_name):
    """The implementation's own gradients are the derivative of its own loss (no reference involved)."""
    verdict = impls.self_consistency(impl_name)
    if verdict.passed is None:
        pytest.skip(verdict.line)
    if not verdict.passed:
        pytest.fail(verdict.line, pytrace=False)
