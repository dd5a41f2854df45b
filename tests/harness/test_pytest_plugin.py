"""The pytest plugin's environment (conformance/pytest_plugin.py). ``--xla-compile=fast``: what it sets
for JAX, and what it leaves alone: flags the user set, a jaxlib whose flags were not measured, a
session without a cache. ``--worker-threads=share``: each xdist worker's share of the cores, set by
the controller only, thread counts the user set left alone (threads.py)."""

import os
from types import SimpleNamespace

import pytest

from conformance.pytest_plugin import fast_compile, xdist_workers
from conformance.runtime import xla
from conformance.runtime.threads import THREAD_VARS, share_cores
from conformance.runtime.xla import FAST_JAX_ENV, FAST_XLA_FLAGS

CACHE_VARS = (
    "JAX_COMPILATION_CACHE_DIR",
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES",
)


@pytest.fixture
def clean_env(monkeypatch):
    for var in ("XLA_FLAGS", *FAST_JAX_ENV, *CACHE_VARS):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def session(tmp_path, with_cache=True):
    cache = SimpleNamespace(mkdir=lambda name: (tmp_path / name).mkdir() or tmp_path / name)
    return SimpleNamespace(cache=cache if with_cache else None)


def test_fast_sets_the_measured_flags_and_the_cache(clean_env, tmp_path):
    clean_env.setattr(xla, "jaxlib_version", lambda: "0.10.2")
    fast_compile(session(tmp_path))
    assert os.environ["XLA_FLAGS"].split() == list(FAST_XLA_FLAGS)
    assert os.environ["JAX_TRACEBACK_IN_LOCATIONS_LIMIT"] == "0"
    assert os.environ["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path / "jax-compilation-cache")
    assert os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] == "0"


def test_the_users_xla_flags_and_jax_settings_win(clean_env, tmp_path):
    clean_env.setattr(xla, "jaxlib_version", lambda: "0.10.2")
    clean_env.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
    clean_env.setenv("JAX_TRACEBACK_IN_LOCATIONS_LIMIT", "10")
    fast_compile(session(tmp_path))
    assert os.environ["XLA_FLAGS"] == "--xla_force_host_platform_device_count=4"
    assert os.environ["JAX_TRACEBACK_IN_LOCATIONS_LIMIT"] == "10"


@pytest.mark.parametrize("version", ["0.11.0", "0.4.30", ""])  # "": jaxlib not installed
def test_an_unmeasured_jaxlib_gets_no_flags(clean_env, tmp_path, version):
    clean_env.setattr(xla, "jaxlib_version", lambda: version)
    fast_compile(session(tmp_path))
    assert "XLA_FLAGS" not in os.environ  # XLA aborts on a flag it does not know


def test_no_cache_without_pytests_cache_provider(clean_env, tmp_path):
    clean_env.setattr(xla, "jaxlib_version", lambda: "0.10.2")
    fast_compile(session(tmp_path, with_cache=False))
    assert not any(var in os.environ for var in CACHE_VARS)


@pytest.fixture
def no_thread_vars(monkeypatch):
    for var in THREAD_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.mark.parametrize(("processes", "cores", "share"), [(2, 2, "1"), (3, 8, "2"), (4, 2, "1")])
def test_each_process_gets_its_share_of_the_cores(no_thread_vars, processes, cores, share):
    assert share_cores(processes, cores=cores) == dict.fromkeys(THREAD_VARS, share)
    assert all(os.environ[var] == share for var in THREAD_VARS)


def test_one_process_keeps_every_core(no_thread_vars):
    assert share_cores(1, cores=2) == {}
    assert not any(var in os.environ for var in THREAD_VARS)


def test_thread_counts_the_user_set_win(no_thread_vars):
    no_thread_vars.setenv("OMP_NUM_THREADS", "2")
    assert share_cores(2, cores=2) == {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    assert os.environ["OMP_NUM_THREADS"] == "2"


@pytest.mark.parametrize(
    ("numprocesses", "worker", "expected"), [(2, None, 2), (0, None, 0), (None, None, 0), (2, "gw0", 0)]
)
def test_only_the_xdist_controller_shares_the_cores(monkeypatch, numprocesses, worker, expected):
    """The controller sets the environment its workers inherit; a worker (or no xdist) sets nothing."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    if worker:
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    config = SimpleNamespace(option=SimpleNamespace(numprocesses=numprocesses))
    assert xdist_workers(config) == expected


@pytest.mark.parametrize("kind", ["gradients", "train"])
def test_catalogue_covering_selects_the_covering_subset(kind):
    """``--catalogue=covering`` parametrizes the suite with coverage.covering's problems that have
    checks of the test's kind; ``full`` (the default) with every such problem, in catalogue order."""
    from conformance import CATALOGUE
    from conformance.coverage import covering
    from conformance.suite.test_matrix import problem_names

    def config(catalogue):
        return SimpleNamespace(getoption=lambda name: {"catalogue": catalogue}[name])

    full = problem_names(config("full"), kind)
    assert full == [n for n, p in CATALOGUE.items() if kind in p.kinds]
    chosen = problem_names(config("covering"), kind)
    assert chosen == [n for n in covering(CATALOGUE) if kind in CATALOGUE[n].kinds]
    assert set(chosen) < set(full)
