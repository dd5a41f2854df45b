"""A cheaper XLA compile for conformance runs: the test suite (``--xla-compile=fast``, the pytest
plugin) and the command line's ``check`` and ``report``.

A conformance run compiles every (problem, dtype, implementation) as a new XLA program and runs it
on a handful of examples, so compiling is most of its time, and XLA's optimiser buys nothing back.
XLA's CPU compiler without its LLVM optimisation, with its older fusion emitters and with each
program generated as one piece (not split for parallel code generation, which costs more than it
saves on programs this small) compiles them about 4× faster; and JAX lowers them without writing
each operation's Python traceback into the program (JAX_TRACEBACK_IN_LOCATIONS_LIMIT=0: it only
feeds XLA's dumps and profiles). What a program computes does not change, only how fast its machine
code runs; the tolerances (tolerances.py) already allow for any order of summation, which is all
fusion may change. CI also runs the JAX matrix under XLA's defaults.

The flags go into the environment before JAX starts, so they reach the children too (xdist workers,
``--jobs`` workers, the device host). XLA_FLAGS set by the user always win. They are applied only on
the jaxlib versions they were measured on: XLA aborts the process on a flag it does not know.
"""

import importlib.metadata
import os

FAST_XLA_FLAGS = (
    "--xla_cpu_use_fusion_emitters=false",
    "--xla_backend_optimization_level=0",
    "--xla_llvm_disable_expensive_passes=true",
    "--xla_cpu_parallel_codegen_split_count=1",
)
FAST_JAX_ENV = {"JAX_TRACEBACK_IN_LOCATIONS_LIMIT": "0"}
FAST_XLA_JAXLIB = ("0.10.",)  # measured on jaxlib 0.10 (bench/README.md, "The conformance suite")


def use_fast_compile() -> None:
    """Set XLA_FLAGS to the fast profile unless the user set them or jaxlib is not one measured; the
    JAX settings of FAST_JAX_ENV unless the user set them (any JAX reads them)."""
    if "XLA_FLAGS" not in os.environ and jaxlib_version().startswith(FAST_XLA_JAXLIB):
        os.environ["XLA_FLAGS"] = " ".join(FAST_XLA_FLAGS)
    for var, value in FAST_JAX_ENV.items():
        os.environ.setdefault(var, value)


def jaxlib_version() -> str:
    try:
        return importlib.metadata.version("jaxlib")
    except importlib.metadata.PackageNotFoundError:
        return ""
