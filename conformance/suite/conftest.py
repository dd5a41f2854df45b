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

from conformance.registry import DATA_PARALLEL

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
