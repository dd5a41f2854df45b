"""Run the conformance matrix and write it down: a terminal table, report.json (schema in
report_schema.json), report.md, and PNG plots. Shared by ``report`` and ``check``.

Failures are listed per (check, quantity family) with their layers and diagnoses (diagnose.py)."""

import datetime
import fnmatch
import json
import math
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ..calls import CallFailed, call
from ..checks import supports
from ..diagnose import run
from ..environment import configure
from ..isolation import DEFAULT_TIMEOUT, Host, Isolated
from ..problems import CATALOGUE, make_problem
from ..registry import Unavailable
from ..selfcheck import self_consistency
from ..spec import Spec
from ..target import load_target
from ..tolerances import TOLERANCES
from . import plots

FAMILIES = ("forward", "deltas", "grads", "loss", "trajectory")
SCHEMA = Path(__file__).with_name("report_schema.json")


@dataclass
class Matrix:
    results: list = field(default_factory=list)  # CheckResult
    skipped: list = field(default_factory=list)  # {impl, problem, reason}
    impls: dict = field(default_factory=dict)  # name -> Isolated (the target in its worker process)
    outcomes: list = field(default_factory=list)  # diagnose.Outcome per (impl, problem, dtype)
    consistency: dict = field(default_factory=dict)  # name -> selfcheck.SelfConsistency
    hosts: list = field(default_factory=list)  # isolation.Host: one worker process per job
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def passed(self):
        return bool(self.results) and all(r.passed for r in self.results)

    def self_consistency(self, name):
        """Computed once per implementation and run, when a diagnosis or the ``check`` command asks."""
        with self._lock:
            if name not in self.consistency:
                self.consistency[name] = self_consistency(self.impls[name])
            return self.consistency[name]

    def failure_lines(self):
        return [line for o in self.outcomes if not o.passed for line in o.lines()]

    def close(self):
        """Stop every worker process of the run."""
        for host in self.hosts:
            host.close()


def run_matrix(
    targets, *, problems="*", dtypes=("float64", "float32"), progress=None, jobs=1, timeout=DEFAULT_TIMEOUT
):
    """Every target on every catalogue problem matching the ``problems`` glob, in every dtype, each
    run's failures diagnosed. Each target runs in worker processes of its own (isolation.py), one per
    job, ``timeout`` seconds at most per call; the checks and diagnoses run here, in ``jobs``
    threads, one per worker. Results come in the order ``jobs=1`` gives, so the report does not
    depend on the job count. The caller closes the matrix (its workers) when done with it."""
    matrix = Matrix()
    chosen = [p for name, p in CATALOGUE.items() if fnmatch.fnmatch(name, problems)]
    if not chosen:
        raise ValueError(f"--problems: {problems!r} matches no problem; names: {', '.join(CATALOGUE)}")
    tasks = []  # (implementation name, problem name, dtypes) in report order
    host = Host()  # job 0's worker process; every target is loaded there first
    matrix.hosts.append(host)
    try:
        for target in targets:
            try:
                impl = Isolated(target, timeout=timeout, host=host)
            except Unavailable as exc:
                matrix.skipped.append(dict(impl=target, problem="*", reason=str(exc)))
                continue
            matrix.impls[impl.name] = impl
            for problem in chosen:
                if not supports(impl, problem.spec):
                    matrix.skipped.append(
                        dict(
                            impl=impl.name,
                            problem=problem.name,
                            reason=f"does not support {problem.spec.label}",
                        )
                    )
                    continue
                # the reference in float64 is identical by construction; the golden vectors pin it
                kept = tuple(d for d in dtypes if not (impl.name == "reference" and d == "float64"))
                tasks.append((impl.name, problem.name, kept))
        for outcomes in _run_tasks(matrix, tasks, jobs, progress):
            matrix.outcomes += outcomes
            matrix.results += [r for o in outcomes for r in o.results]
    except BaseException:
        for host in matrix.hosts:  # Ctrl-C or an error: every worker now, whatever the jobs wait on
            host.stop()
        raise
    return matrix


def _check_task(matrix, impl, name, problem_name, dtypes):
    """One (implementation, problem) in every dtype."""
    return [
        run(impl, CATALOGUE[problem_name], d, consistency=lambda: matrix.self_consistency(name).passed)
        for d in dtypes
    ]


def _run_tasks(matrix, tasks, jobs, progress):
    """Each task's outcomes, in task order; ``progress()`` after each task finishes. Job 0 uses the
    targets' first workers; every other job a copy of each target in a worker of its own."""
    jobs = max(1, min(jobs, len(tasks)))
    todo, done, stopping = queue.Queue(), queue.Queue(), threading.Event()
    for item in enumerate(tasks):
        todo.put(item)

    hosts = matrix.hosts[:1] + [Host() for _ in range(jobs - 1)]  # one worker process per job
    matrix.hosts[1:] = hosts[1:]

    def work(job):
        impls = {}
        while not stopping.is_set():
            try:
                i, (name, *task) = todo.get_nowait()
            except queue.Empty:
                return
            try:
                if name not in impls:
                    impls[name] = matrix.impls[name] if job == 0 else matrix.impls[name].copy(hosts[job])
                done.put((i, _check_task(matrix, impls[name], name, *task)))
            except BaseException as exc:  # a harness error: re-raised in the main thread
                done.put((i, exc))

    threads = [threading.Thread(target=work, args=(job,), daemon=True) for job in range(jobs)]
    for t in threads:
        t.start()
    found = [None] * len(tasks)
    try:
        for _ in tasks:
            while True:
                try:
                    i, outcomes = done.get(timeout=0.2)  # a short wait, so Ctrl-C is seen at once
                    break
                except queue.Empty:
                    continue
            if isinstance(outcomes, BaseException):
                raise outcomes
            found[i] = outcomes
            if progress:
                progress()
    finally:
        stopping.set()  # on Ctrl-C or an error no job starts another task
    for t in threads:
        t.join()
    return found


def summary_rows(matrix):
    """(impl, dtype) -> family -> (worst rel, tol, passed, count); 'structure'/'call' fold into 'grads'."""
    rows = {}
    for r in sorted(
        matrix.results,
        key=lambda r: (
            list(matrix.impls).index(r.impl) if r.impl in matrix.impls else 99,
            r.dtype != "float64",
        ),
    ):
        family = r.check if r.check in FAMILIES else "grads"
        cell = rows.setdefault((r.impl, r.dtype), {}).setdefault(family, [0.0, r.tol, True, 0])
        rel = r.rel if not math.isnan(r.rel) else math.inf
        cell[0] = max(cell[0], rel)
        cell[1] = r.tol if not math.isnan(r.tol) else cell[1]
        cell[2] = cell[2] and r.passed
        cell[3] += 1
    return rows


def _clean(value):
    """JSON has no NaN or Infinity: write null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_json(matrix, *, seed=None):
    env = configure()
    checks = [{k: _clean(v) for k, v in r.to_dict().items()} | {"message": r.message} for r in matrix.results]
    failed = sum(not r.passed for r in matrix.results)
    return {
        "schema_version": 1,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "environment": env,
        "seed": seed,
        "tolerances": {fam: {np.dtype(k).name: v for k, v in tol.items()} for fam, tol in TOLERANCES.items()},
        "summary": {
            "checks": len(checks),
            "passed": len(checks) - failed,
            "failed": failed,
            "skipped": len(matrix.skipped),
            "verdict": "pass" if matrix.passed else "fail",
        },
        "implementations": sorted(matrix.impls),
        "skipped": matrix.skipped,
        "checks": checks,
        "diagnoses": [
            {
                "impl": o.impl,
                "problem": o.problem,
                "dtype": o.dtype,
                "signature": d.signature,
                "cause": d.cause,
                "fix": d.fix,
                "verdict": d.verdict,
                "explains": [f"{c} {f}" for c, f in d.explains],
                "line": d.line,
            }
            for o in matrix.outcomes
            for d in o.diagnoses
        ],
        "self_consistency": {name: v.to_dict() for name, v in matrix.consistency.items()},
    }


def to_markdown(matrix, report):
    rows = summary_rows(matrix)
    lines = [
        "# Backprop conformance report",
        "",
        f"Verdict: **{report['summary']['verdict'].upper()}** — {report['summary']['passed']} of "
        f"{report['summary']['checks']} checks passed, {report['summary']['skipped']} skipped.",
        "",
        "Each cell: worst normwise relative error against the float64 NumPy reference / tolerance.",
        "",
        "| implementation | dtype | " + " | ".join(FAMILIES) + " |",
        "|---|---|" + "---|" * len(FAMILIES),
    ]
    for (impl, dtype), cells in rows.items():
        fmt = [
            (f"{'✅' if c[2] else '❌'} {c[0]:.1e} / {c[1]:.0e}" if c else "—")
            for c in (cells.get(f) for f in FAMILIES)
        ]
        lines.append(f"| {impl} | {dtype} | " + " | ".join(fmt) + " |")
    failures = matrix.failure_lines()
    if failures:
        lines += ["", "## Failures and likely causes", ""] + [
            f"  - {m.strip()}" if m.startswith("  ") else f"- `{m}`" for m in failures[:400]
        ]
    if matrix.consistency:
        lines += ["", "## Self-consistency", ""] + [
            f"- {name}: {v.line}" for name, v in matrix.consistency.items()
        ]
    if matrix.skipped:
        lines += ["", "## Skipped", ""] + [
            f"- {s['impl']} / {s['problem']}: {s['reason']}" for s in matrix.skipped
        ]
    env = report["environment"]
    lines += ["", "## Environment", ""] + [f"- {k}: `{v}`" for k, v in env.items()]
    return "\n".join(lines) + "\n"


def write(matrix, out, *, seed=None):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = to_json(matrix, seed=seed)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "report.md").write_text(to_markdown(matrix, report))
    return report


def report_plots(matrix, out, *, seed=0):
    """Trajectory overlay and per-step divergence on a 100-step problem; per-layer dW error.
    The reference is always plotted, as the baseline, even when only a target was checked."""
    out = Path(out)
    impls = {"reference": load_target("reference"), **matrix.impls}
    spec = Spec((64, 30, 10), "sigmoid", "sigmoid", "quadratic")
    problem = make_problem(spec, seed, m=200, batch_size=10, epochs=5, lr=3.0, name="plot")
    runs, notes = {}, []
    for name, impl in impls.items():
        losses, why = _plot_losses(impl, problem)
        if losses is None:
            notes.append(f"not plotted: {name} {why}")
        else:
            runs[name] = SimpleNamespace(losses=losses)
    ref = np.asarray(runs["reference"].losses)
    steps = np.arange(len(problem.batches))
    title = f"{spec.label}, η={problem.lr}, batch 10, random data, seed {seed}, float64"
    paths = [
        plots.lines(
            out / "trajectory.png",
            {n: (steps, r.losses) for n, r in runs.items()},
            title=f"Training cost per step, every implementation overlaid\n{title}",
            xlabel="SGD step",
            ylabel="batch cost C before the step",
        ),
        plots.lines(
            out / "divergence.png",
            {
                n: (steps, np.maximum.accumulate(np.abs(np.asarray(r.losses) - ref) / np.abs(ref)))
                for n, r in runs.items()
                if n != "reference"
            },
            title=f"Divergence of the cost from the NumPy reference (running maximum)\n{title}",
            xlabel="SGD step",
            ylabel="max over steps so far of |C − C_ref| / |C_ref|",
            log=True,
            hline=(TOLERANCES["trajectory"][np.float64], "float64 trajectory tolerance"),
        ),
    ]
    for dtype in ("float64", "float32"):
        errors = {}
        for r in matrix.results:
            if r.check == "grads" and r.quantity.startswith("dW") and r.dtype == dtype:
                best = errors.setdefault(r.impl, {})
                best[r.layer] = max(best.get(r.layer, 0.0), r.rel)
        if errors:
            paths.append(
                plots.layer_errors(
                    out / f"layer_errors_{dtype}.png",
                    errors,
                    TOLERANCES["grads"][np.dtype(dtype).type],
                    title=f"Worst ∂C/∂W error per layer over the conformance catalogue\n"
                    f"{dtype}, every implementation against the float64 NumPy reference",
                )
            )
    return paths, notes


def _plot_losses(impl, problem):
    """(the per-step losses of ``impl`` on the plot's problem, or None and why not): the plot calls
    the code under test like every check, on fresh read-only inputs, in its worker process."""
    try:
        if not supports(impl, problem.spec):
            return None, f"(its supports() declines {problem.spec.label})"
        got = call(
            impl,
            "train",
            problem.spec,
            problem.params,
            problem.x,
            problem.y,
            lr=problem.lr,
            batches=problem.batches,
        )
    except (CallFailed, ValueError, TypeError) as exc:
        return None, f"(train: {exc})"
    losses = got.fields.get("losses")
    steps = len(problem.batches)
    if not (
        isinstance(losses, (list, tuple, np.ndarray))
        and len(losses) == steps
        and all(isinstance(v, (float, np.floating)) for v in losses)
    ):
        return None, f"(train did not return {steps} per-step losses)"
    return np.asarray(losses, dtype=np.float64), ""
