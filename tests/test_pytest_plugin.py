"""``--xla-compile=fast`` (conformance/pytest_plugin.py): the environment it sets for JAX, and what it
leaves alone: flags the user set, a jaxlib whose flags were not measured, a session without a cache."""

import os
from types import SimpleNamespace

import pytest

from conformance import xla
from conformance.pytest_plugin import fast_compile
from conformance.xla import FAST_XLA_FLAGS

CACHE_VARS = ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
              "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES")


@pytest.fixture
def clean_env(monkeypatch):
    for var in ("XLA_FLAGS", *CACHE_VARS):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def session(tmp_path, with_cache=True):
    cache = SimpleNamespace(mkdir=lambda name: (tmp_path / name).mkdir() or tmp_path / name)
    return SimpleNamespace(cache=cache if with_cache else None)


def test_fast_sets_the_measured_flags_and_the_cache(clean_env, tmp_path):
    clean_env.setattr(xla, "jaxlib_version", lambda: "0.10.2")
    fast_compile(session(tmp_path))
    assert os.environ["XLA_FLAGS"].split() == list(FAST_XLA_FLAGS)
    assert os.environ["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path / "jax-compilation-cache")
    assert os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] == "0"


def test_the_users_xla_flags_win(clean_env, tmp_path):
    clean_env.setattr(xla, "jaxlib_version", lambda: "0.10.2")
    clean_env.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
    fast_compile(session(tmp_path))
    assert os.environ["XLA_FLAGS"] == "--xla_force_host_platform_device_count=4"


@pytest.mark.parametrize("version", ["0.11.0", "0.4.30", ""])  # "": jaxlib not installed
def test_an_unmeasured_jaxlib_gets_no_flags(clean_env, tmp_path, version):
    clean_env.setattr(xla, "jaxlib_version", lambda: version)
    fast_compile(session(tmp_path))
    assert "XLA_FLAGS" not in os.environ  # XLA aborts on a flag it does not know


def test_no_cache_without_pytests_cache_provider(clean_env, tmp_path):
    clean_env.setattr(xla, "jaxlib_version", lambda: "0.10.2")
    fast_compile(session(tmp_path, with_cache=False))
    assert not any(var in os.environ for var in CACHE_VARS)
