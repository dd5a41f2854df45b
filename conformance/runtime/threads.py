"""One share of the cores for each of several processes working side by side (pytest-xdist workers,
the report's ``--jobs`` workers).

NumPy's OpenBLAS and torch's OpenMP pools each start one thread per core in every process, and
after a parallel region their idle threads keep spinning for a while before they sleep. With
k processes on n cores that is k·n busy threads on n cores: on the 2-core machine the test suite
spent about a fifth of its CPU time on it (bench/README.md, "The conformance suite"). Each process
gets max(1, n // k) threads instead.

The variables are read when the libraries load, so they must be in the environment before the
processes start; they are set in the parent and inherited. A variable the user set is left as it
is. XLA's own pool is not limited: it measured no better.
"""

import os

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def share_cores(processes: int, cores: int | None = None) -> dict[str, str]:
    """Set each thread variable the user has not set to ``max(1, cores // processes)`` (cores: this
    machine's by default) when more than one process will run; return the variables set."""
    cores = cores or os.cpu_count() or 1
    if processes <= 1:
        return {}
    share = {var: str(max(1, cores // processes)) for var in THREAD_VARS if var not in os.environ}
    os.environ.update(share)
    return share
