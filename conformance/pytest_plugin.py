"""pytest plugin (registered through the ``pytest11`` entry point).

``--impl`` selects what the conformance suite checks, e.g.
``pytest --pyargs conformance.suite --impl=my_net.py:Network``. Without ``--impl`` the suite checks
every shipped implementation whose framework is installed.

``--xla-compile=fast`` (this repository's pytest configuration turns it on) makes a test session
spend less time in XLA's CPU compiler, which is most of what the JAX tests cost. It is set up before
JAX starts, in this process and, through the environment, in every xdist worker and subprocess the
tests start (the command line, the notebook, the device host):

- XLA's cheap CPU pipeline (xla.py); ``--xla-compile=default`` (or XLA_FLAGS set by you) checks
  under XLA's defaults instead, as a user's own run compiles; CI runs the JAX conformance matrix
  that way too;
- JAX's persistent compilation cache in pytest's cache directory, shared by the xdist workers, so a
  program compiled by one worker (jax.manual and jax.scan share their backward pass, the command
  line and the notebook train the same networks) is not compiled again by another, and a second
  run of the suite starts warm (about 40 MB; ``pytest --cache-clear`` empties it). It is unbounded:
  a bound makes JAX lock and scan the whole directory on every write, which cost more than the
  cache saved. A worker that reads an entry another is still writing gets JAX's warning and
  compiles the program itself.

``--catalogue=covering`` runs the conformance suite on a covering subset of the catalogue (about
two in five problems, every feature pair still met; coverage.covering): CI's second pass of the JAX
matrix under XLA's default compiler.

``--worker-threads=share`` (also on in this repository) gives each of pytest-xdist's k workers
n // k threads of the n cores for NumPy's and torch's thread pools, instead of n each, which spin
against one another (threads.py). Without xdist, or with thread counts set by you, it does nothing.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from conformance.runtime.threads import share_cores
from conformance.runtime.xla import use_fast_compile
from conformance.targets.isolation import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance", "backprop conformance suite")
    group.addoption(
        "--impl",
        action="append",
        default=[],
        metavar="TARGET",
        help="implementation to check: a shipped name (reference, torch.manual, ...), "
        "PATH.py:ATTR, PATH.py or module:attr; repeatable. Default: all shipped.",
    )
    group.addoption(
        "--impl-timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="seconds each call of an --impl target that is not a shipped name may take "
        "(it runs in a worker process of its own); a call past it fails its test as "
        "'timed out' and the worker is replaced. Default: %(default)g.",
    )
    group.addoption(
        "--xla-compile",
        choices=("fast", "default"),
        default="default",
        help="fast: compile JAX programs with XLA's cheap CPU pipeline and share them "
        "through JAX's persistent cache in pytest's cache directory; default: XLA "
        "as a user's run compiles (XLA_FLAGS set in the environment always win). "
        "Default: %(default)s.",
    )
    group.addoption(
        "--catalogue",
        choices=("full", "covering"),
        default="full",
        help="full: every catalogue problem; covering: a subset with every feature pair, "
        "optimizer rule, switch and schedule of the catalogue (coverage.covering), for a "
        "second, costlier pass. Default: %(default)s.",
    )
    group.addoption(
        "--worker-threads",
        choices=("share", "inherit"),
        default="inherit",
        help="share: each of pytest-xdist's k workers gets cores // k threads for NumPy's "
        "and torch's thread pools (OMP/OPENBLAS/MKL_NUM_THREADS you set win); "
        "inherit: as the environment has them. Default: %(default)s.",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("xla_compile") == "fast":
        fast_compile(config)
    if config.getoption("worker_threads") == "share":
        share_cores(xdist_workers(config))


def xdist_workers(config: pytest.Config) -> int:
    """How many workers pytest-xdist will start from this process (0 without xdist, or inside a
    worker, whose environment its controller already set)."""
    if "PYTEST_XDIST_WORKER" in os.environ:
        return 0
    n = getattr(config.option, "numprocesses", None)  # xdist has turned "auto" into a number by now
    return n if isinstance(n, int) else 0


def fast_compile(config: pytest.Config) -> None:
    """Environment for a cheaper JAX compile: read by JAX when it starts, here and in children."""
    use_fast_compile()
    cache = getattr(config, "cache", None)  # None under -p no:cacheprovider: no persistent cache
    if cache is not None and "JAX_COMPILATION_CACHE_DIR" not in os.environ:
        os.environ.update(
            JAX_COMPILATION_CACHE_DIR=str(cache.mkdir("jax-compilation-cache")),
            JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",  # the tests' programs are small
            JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
        )
