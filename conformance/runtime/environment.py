"""The conformance precision, set once per process, and the versions it ran with.

float64 conformance needs: torch's TF32 off and float32 matmul precision "highest" (TF32 would
round float32 matmul inputs to 10 bits on Ampere+ GPUs); JAX's default matmul precision "highest"
(on GPU/TPU, "default" may use bf16/TF32 passes). These are caller-level settings, so the harness
owns them, not the implementations. JAX's x64 mode is *not* switched on globally: the JAX adapter
wraps each float64 call in ``jax.enable_x64(True)``, so float32 work elsewhere stays float32.
"""

import importlib.metadata
import importlib.util
import os
import platform
import sys

import numpy as np

_STATE: dict[str, object] = {}


def available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def configure() -> dict[str, object]:
    """Set the precision flags of each framework this process has imported (idempotent, per
    framework: an adapter calls it right after importing its own) and return a record of them and of
    the versions. A framework that is installed but not imported is recorded by its version only,
    read from its metadata: importing torch and JAX (about 2 s) only to write their versions into
    the report of a NumPy implementation's ``check`` would be most of that command's time; the
    flags matter only where a framework computes, and every shipped port's adapter sets them."""
    _STATE.setdefault("python", platform.python_version())
    _STATE.setdefault("numpy", np.__version__)
    _STATE.setdefault("machine", f"{platform.machine()} {platform.processor() or ''}".strip())
    if "torch" in sys.modules and "torch_tf32" not in _STATE:
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.set_float32_matmul_precision("highest")
        _STATE.update(
            torch=torch.__version__,
            torch_tf32=False,
            torch_float32_matmul_precision=torch.get_float32_matmul_precision(),
            torch_cuda=torch.cuda.is_available(),
        )
    if "jax" in sys.modules and "jax_x64" not in _STATE:
        import jax

        jax.config.update("jax_default_matmul_precision", "highest")
        _STATE.update(
            jax=jax.__version__,
            jax_default_matmul_precision="highest",
            jax_x64="scoped: jax.enable_x64(True) around float64 calls only",
            jax_backend=jax.default_backend(),
            xla_flags=os.environ.get("XLA_FLAGS", ""),
        )  # e.g. the fast compile (xla.py)
    record = dict(_STATE)
    for framework in ("torch", "jax"):
        if framework not in record and available(framework):
            record[framework] = f"{importlib.metadata.version(framework)} (installed, not imported)"
    return record
