"""pytest-xdist: all the tests of one data-parallel implementation at one worker count (e.g.
"torch.ddp-w2") go to one xdist worker, so its worker processes start once per session, not once in
every xdist worker that draws some of its tests (each start imports torch or JAX again: 2–4 s, and
at ``-n auto`` on a machine with many cores as many copies of torch, a few hundred MiB each). Every
other test is scheduled alone, as by xdist's default ``load``; other ``--dist`` modes are left as
they are.

Why not ``xdist_group`` marks with ``--dist loadgroup``: with pytest 9.2, xdist 3.8's loadgroup no
longer tags the test ids with their group, so the groups were silently split. This scheduler reads
the group from the test id itself.

Second, the shipped implementations that share one gradients entry point (jax.manual and jax.scan
both run jax_impl.manual:backprop; their training differs) run their backward-pass tests for one
problem and dtype in one xdist worker, one after the other: JAX compiles each program once per
process, so the second test finds the first one's programs compiled (about 140 programs, a few
seconds of tracing, lowering and compiling, on the catalogue). The same holds for their Hypothesis
tests, which draw the same examples (derandomize).
"""

import re

import pytest

from conformance.calls import supports
from conformance.selfcheck import Verdicts
from conformance.targets.isolation import Isolated
from conformance.targets.registry import DATA_PARALLEL, RECORDS, Unavailable
from conformance.targets.registry import NAMES as SHIPPED
from conformance.targets.target import load_target

NAMES = "|".join(map(re.escape, DATA_PARALLEL))
GROUP = re.compile(rf"test_distributed\.py::\w+\[((?:{NAMES})-w\d+)[-\]]")  # e.g. [torch.ddp-w2-neuron-..]


def _sharing() -> dict[str, str]:
    """Shipped name -> its gradients entry point, for the entry points that more than one shares."""
    by_entry: dict[str, list[str]] = {}
    for record in RECORDS:
        by_entry.setdefault(record.gradients, []).append(record.name)
    return {name: entry for entry, names in by_entry.items() if len(names) > 1 for name in names}


SHARING = _sharing()  # {"jax.manual": "jax_impl.manual:backprop", "jax.scan": "jax_impl.manual:backprop"}
SHARED = "|".join(map(re.escape, SHARING))
# test_gradients[jax.scan-float64-relu-kink], test_hypothesis_problems[jax.manual]: the impl's name
BACKWARD = re.compile(
    rf"test_matrix\.py::(test_gradients|test_hypothesis_\w+)\[({SHARED})(-float\d\d-.+)?\]$"
)


def scope(nodeid: str) -> str:
    """The xdist group of a test: a data-parallel implementation at a worker count; the backward
    pass of one problem and dtype for the implementations sharing a gradients entry point; else
    the test alone."""
    match = GROUP.search(nodeid)
    if match:
        return match.group(1)
    match = BACKWARD.search(nodeid)
    if match:
        test, name, rest = match.groups()
        return f"{test}[{SHARING[name]}{rest or ''}]"
    return nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getoption("dist") != "load":
        return None
    from xdist.scheduler import LoadGroupScheduling

    if not hasattr(LoadGroupScheduling, "_split_scope"):  # another xdist: its own scheduling
        return None

    class DataParallelGroups(LoadGroupScheduling):
        """The groups of ``scope``; every other test is a group of its own."""

        def _split_scope(self, nodeid):
            return scope(nodeid)

    return DataParallelGroups(config, log)


class Implementations:
    """The suite's implementations, each loaded once per (xdist worker) process: a shipped one in this
    process; any other ``--impl`` target in a worker process of its own (isolation.py), so that
    whatever it does — exit, crash, hang past ``--impl-timeout``, write into its inputs — fails its
    own tests and leaves this session, its summary and every other implementation's verdicts as
    they are. A missing framework is a skip; a target that cannot be loaded fails every test that
    asks for it, with the one-line reason."""

    def __init__(self, timeout):
        self.timeout, self._impls, self._verdicts = timeout, {}, Verdicts()

    def get(self, name):
        if name not in self._impls:
            try:
                self._impls[name] = (
                    load_target(name) if name in SHIPPED else Isolated(name, timeout=self.timeout)
                )
            except (Unavailable, ValueError, TypeError) as exc:
                self._impls[name] = exc
        impl = self._impls[name]
        if isinstance(impl, Unavailable):
            pytest.skip(str(impl))
        if isinstance(impl, Exception):
            pytest.fail(f"{name}: {impl}", pytrace=False)
        return impl

    def supports(self, name, spec, optimizer=None):
        try:
            return supports(self.get(name), spec, optimizer)
        except (ValueError, TypeError) as exc:  # supports() raised or did not answer True/False
            pytest.fail(f"{name}: {exc}", pytrace=False)

    def self_consistency(self, name):
        """Computed once per process, when a test or a diagnosis asks."""
        return self._verdicts.of(name, self.get(name))

    def close(self):
        for impl in self._impls.values():
            if isinstance(impl, Isolated):
                impl.close()


@pytest.fixture(scope="session")
def impls(request):
    implementations = Implementations(request.config.getoption("impl_timeout"))
    yield implementations
    implementations.close()
