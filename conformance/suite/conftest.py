"""pytest-xdist: all the tests of one data-parallel implementation at one worker count (e.g.
"torch.ddp-w2") go to one xdist worker, so its worker processes start once per session, not once in
every xdist worker that draws some of its tests (each start imports torch or JAX again: 2–4 s, and
at ``-n auto`` on a machine with many cores as many copies of torch, a few hundred MiB each). Every
other test is scheduled alone, as by xdist's default ``load``; other ``--dist`` modes are left as
they are.

Why not ``xdist_group`` marks with ``--dist loadgroup``: with pytest 9.2, xdist 3.8's loadgroup no
longer tags the test ids with their group, so the groups were silently split. This scheduler reads
the group from the test id itself.
"""

import re

import pytest

from conformance.calls import supports
from conformance.selfcheck import Verdicts
from conformance.targets.isolation import Isolated
from conformance.targets.registry import DATA_PARALLEL, Unavailable
from conformance.targets.registry import NAMES as SHIPPED
from conformance.targets.target import load_target

NAMES = "|".join(map(re.escape, DATA_PARALLEL))
GROUP = re.compile(rf"test_distributed\.py::\w+\[((?:{NAMES})-w\d+)[-\]]")  # e.g. [torch.ddp-w2-neuron-..]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    if config.getoption("dist") != "load":
        return None
    from xdist.scheduler import LoadGroupScheduling

    if not hasattr(LoadGroupScheduling, "_split_scope"):  # another xdist: its own scheduling
        return None

    class DataParallelGroups(LoadGroupScheduling):
        """Groups by implementation and worker count; every other test is a group of its own."""

        def _split_scope(self, nodeid):
            match = GROUP.search(nodeid)
            return match.group(1) if match else nodeid

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
