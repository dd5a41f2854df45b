"""A cheaper XLA compile for conformance runs: the test suite (``--xla-compile=fast``, the pytest
plugin) and the command line's ``check`` and ``report``.

A conformance run compiles every (problem, dtype, implementation) as a new XLA program and runs it
on a handful of examples, so compiling is most of its time, and XLA's optimiser buys nothing back.
XLA's CPU compiler without its LLVM optimisation and with its older fusion emitters compiles these
programs about 3× faster. What a program computes does not change, only how fast its machine code
runs; the tolerances (tolerances.py) already allow for any order of summation, which is all fusion
may change. CI also runs the JAX matrix under XLA's defaults.

The flags go into the environment before JAX starts, so they reach the children too (xdist workers,
``--jobs`` workers, the device host). XLA_FLAGS set by the user always win. They are applied only on
the jaxlib versions they were measured on: XLA aborts the process on a flag it does not know.
"""

import importlib.metadata
import os

FAST_XLA_FLAGS = ("--xla_cpu_use_fusion_emitters=false", "--xla_backend_optimization_level=0",
                  "--xla_llvm_disable_expensive_passes=true")
FAST_XLA_JAXLIB = ("0.10.",)  # measured on jaxlib 0.10 (bench/README.md, "The conformance suite")


def use_fast_compile():
    """Set XLA_FLAGS to the fast profile unless the user set them or jaxlib is not one measured."""
    if "XLA_FLAGS" not in os.environ and jaxlib_version().startswith(FAST_XLA_JAXLIB):
        os.environ["XLA_FLAGS"] = " ".join(FAST_XLA_FLAGS)


def jaxlib_version():
    try:
        return importlib.metadata.version("jaxlib")
    except importlib.metadata.PackageNotFoundError:
        return ""
