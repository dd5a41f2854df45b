"""How many JAX programs the test suite compiles, and what tracing, lowering and compiling them costs.

Three uses, one per question (bench/README.md, "Issue 25: the compile floor"):

- a pytest plugin that records JAX's own compile events (``jax.monitoring``) per test, one JSON file
  per xdist worker; nothing else about the run changes:

      PYTHONPATH=bench COMPILE_COUNTS_DIR=runs/compiles python -m pytest -n auto -p compile_counts

- a summary of those files, per test file and implementation, with the totals:

      python bench/compile_counts.py summary runs/compiles

- the jax.sharded device hosts, which the plugin cannot see (they are child processes): the same
  events for jax.sharded over the catalogue at k CPU devices, in this process, as the suite runs it
  (conv and optimizer problems at 3 workers only):

      python bench/compile_counts.py sharded 3

A cold run is one without JAX's persistent compilation cache (``-p no:cacheprovider``: the suite
then has no cache directory); a warm one reads the programs' machine code from it, and pays only for
tracing and lowering, which JAX never caches across processes.
"""

import argparse
import collections
import json
import os
import re
import sys
import time
from pathlib import Path

EVENTS = {  # jax.monitoring's duration events of one compiled program, in the order they happen
    "/jax/core/compile/jaxpr_trace_duration": "trace",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower",
    "/jax/core/compile/backend_compile_duration": "backend",
}

_current = ["<collection>"]  # the test whose events are being recorded
_events: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)


def _record(event: str, duration: float, **_: object) -> None:
    if event in EVENTS:
        counts = _events[_current[0]]
        counts[EVENTS[event] + ":n"] += 1
        counts[EVENTS[event] + ":s"] += duration


def listen() -> None:
    import jax.monitoring

    jax.monitoring.register_event_duration_secs_listener(_record)


# -- the pytest plugin (-p compile_counts) ------------------------------------------------------------


def pytest_configure(config) -> None:
    listen()


def pytest_runtest_setup(item) -> None:
    _current[0] = item.nodeid


def pytest_unconfigure(config) -> None:
    folder = os.environ.get("COMPILE_COUNTS_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        (Path(folder) / f"{worker}.json").write_text(json.dumps(_events))


# -- the summary --------------------------------------------------------------------------------------


def group(nodeid: str) -> str:
    """'test_matrix.py jax.flax' for test_matrix.py::test_training[jax.flax-float64-neuron]: the
    file and the implementation (with its workers for the data-parallel ones), where the id has one."""
    name = nodeid.split("::")[0].rsplit("/", 1)[-1]
    impl = re.search(r"\[((?:torch|jax)\.[a-z]+(?:-w\d)?)", nodeid)
    return f"{name} {impl.group(1)}" if impl else name


def summary(folder: Path, rows: int) -> None:
    totals: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for path in sorted(folder.glob("*.json")):
        for nodeid, counts in json.loads(path.read_text()).items():
            totals[group(nodeid)].update(counts)
    order = sorted(totals, key=lambda g: -sum(totals[g][f"{s}:s"] for s in EVENTS.values()))
    print(f"{'group':48s} {'programs':>8s} {'trace s':>8s} {'lower s':>8s} {'backend s':>9s}")
    for g in order[:rows]:
        _line(g, totals[g])
    everything = sum(totals.values(), collections.Counter())
    _line("all", everything)


def _line(name: str, counts: collections.Counter) -> None:
    print(
        f"{name[:48]:48s} {counts['backend:n']:8.0f} {counts['trace:s']:8.1f} {counts['lower:s']:8.1f} "
        f"{counts['backend:s']:9.1f}"
    )


# -- the device hosts ---------------------------------------------------------------------------------


def sharded(workers: int) -> None:
    """jax.sharded at ``workers`` CPU devices over the catalogue, both dtypes, as test_distributed.py
    checks it; every check must pass. The XLA flags first: JAX reads them once, when it starts."""
    from conformance.runtime.xla import use_fast_compile

    use_fast_compile()
    flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={workers}".strip()
    import jax

    jax.config.update("jax_enable_x64", True)
    listen()
    from conformance import CATALOGUE
    from conformance.calls import supports
    from conformance.checks import check
    from conformance.suite.test_distributed import EXTENSIONS_AT
    from conformance.targets.adapters import Jax
    from jax_impl.sharded import Sharded

    host = Sharded(workers)
    impl = Jax("jax.sharded", host.gradients, host.train, supports_optimizer=host.supports_optimizer)
    start, checks = time.perf_counter(), 0
    for name, problem in CATALOGUE.items():
        extension = getattr(problem.spec, "conv", ()) or problem.optimizer
        if not supports(impl, problem.spec, problem.optimizer) or (extension and workers != EXTENSIONS_AT):
            continue
        for dtype in ("float64", "float32"):
            for kind in problem.kinds:
                failed = [r for r in check(impl, problem, dtype, (kind,)).results if not r.passed]
                if failed:
                    raise AssertionError(f"{name} {dtype} {kind}: {failed[0]}")
                checks += 1
    print(f"jax.sharded-w{workers}: {checks} checks in {time.perf_counter() - start:.1f} s")
    _line(f"jax.sharded-w{workers}", _events[_current[0]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("summary", help="the JSON files, summed per test file and implementation")
    p.add_argument("folder", type=Path)
    p.add_argument("--rows", type=int, default=30)
    p = commands.add_parser("sharded", help="jax.sharded's programs at k CPU devices, over the catalogue")
    p.add_argument("workers", type=int, choices=(2, 3))
    args = parser.parse_args()
    if args.command == "summary":
        summary(args.folder, args.rows)
    else:
        sys.path[:0] = [str(Path(__file__).resolve().parents[1])]
        sharded(args.workers)


if __name__ == "__main__":
    main()
