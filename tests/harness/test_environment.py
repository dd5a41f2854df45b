"""The run's record (conformance/runtime/environment.py): the precision flags are set for each
framework the process has imported, and only then; an installed framework that was not imported is
recorded by its version without importing it (importing torch and JAX only to record them was most
of a NumPy implementation's ``check``)."""

import importlib.util
import subprocess
import sys

import pytest

RECORD = "from conformance.runtime.environment import configure; r = configure(); import sys; "


def run(code):
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_an_installed_framework_not_imported_is_recorded_but_not_imported(framework):
    if importlib.util.find_spec(framework) is None:
        pytest.skip(f"{framework} is not installed")
    out = run(RECORD + f"print({framework!r} in sys.modules, r[{framework!r}])")
    imported, version = out.split(" ", 1)
    assert imported == "False", f"configure() imported {framework}"
    assert version.endswith("(installed, not imported)"), version


def test_torch_imported_gets_tf32_off_and_highest_precision():
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")
    out = run(
        "import torch; torch.backends.cuda.matmul.allow_tf32 = True; "
        + RECORD
        + "m = torch.backends.cuda.matmul; "
        + "print(r['torch_tf32'], m.allow_tf32, torch.get_float32_matmul_precision())"
    )
    assert out == "False False highest"


def test_jax_imported_later_still_gets_its_flags():
    """configure() is idempotent per framework: a first call before JAX was imported must not stop a
    later one (the JAX adapter's, right after its import) from setting JAX's precision."""
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    out = run(
        RECORD
        + "import jax; r = configure(); "
        + "print(r['jax_default_matmul_precision'], jax.config.jax_default_matmul_precision)"
    )
    assert out == "highest highest"
