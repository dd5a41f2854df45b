"""Write a conformance matrix (conformance/matrix.py) down: a terminal table, report.json (schema in
report_schema.json), report.md, and PNG plots. Shared by ``report`` and ``check``.

Failures are listed per (check, quantity family) with their layers and diagnoses (diagnose.py)."""

import datetime
import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from conformance import __version__
from conformance.calls import CallFailed, call, supports
from conformance.cli import plots
from conformance.matrix import Matrix
from conformance.problems import make_problem
from conformance.runtime.environment import configure
from conformance.spec import Spec
from conformance.targets.target import load_target
from conformance.tolerances import TOLERANCES

FAMILIES = ("forward", "deltas", "grads", "loss", "trajectory")
SCHEMA = Path(__file__).with_name("report_schema.json")


def summary_rows(matrix: Matrix) -> dict[tuple[str, str], dict[str, list]]:
    """(impl, dtype) -> family -> (worst rel, tol, passed, count); 'structure'/'call' fold into 'grads'."""
    rows: dict[tuple[str, str], dict[str, list]] = {}
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


def to_json(matrix: Matrix, *, seed: int | None = None) -> dict[str, Any]:  # Any: JSON values
    env = configure()
    checks = [{k: _clean(v) for k, v in r.to_dict().items()} | {"message": r.message} for r in matrix.results]
    failed = sum(not r.passed for r in matrix.results)
    return {
        "schema_version": 1,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "harness": {"name": "backprop-conformance", "version": __version__},
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


def to_markdown(matrix: Matrix, report: dict[str, Any]) -> str:
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


def write(matrix: Matrix, out: str | Path, *, seed: int | None = None) -> dict[str, Any]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = to_json(matrix, seed=seed)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    (out / "report.md").write_text(to_markdown(matrix, report))
    return report


def report_plots(matrix: Matrix, out: str | Path, *, seed: int = 0) -> tuple[list[Path], list[str]]:
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
        errors: dict[str, dict[int | None, float]] = {}  # impl -> layer -> worst rel
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
        if not supports(impl, problem.spec, problem.optimizer):
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
