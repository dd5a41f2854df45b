"""What each subcommand does (the package's __init__ parses; this file runs). rich draws the progress bars and
tables; matplotlib the plots."""

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from conformance.cli import plots
from conformance.cli.report import FAMILIES, report_plots, summary_rows, write
from conformance.cli.skips import skip_lines
from conformance.matrix import run_matrix
from conformance.targets.registry import DATA_PARALLEL, available_names, load
from conformance.tolerances import TOLERANCES
from conformance.training.datasets import Corpus, Dataset, load_dataset, text
from conformance.training.side_by_side import declined, forward, inputs, replays, sample, train_side_by_side
from conformance.training.tasks import TASKS, Autoencoder, lr_drops, network, optimizer, resolve
from conformance.training.tasks import Text as TextTask  # not rich's Text (the matrix tables)
from reference.validation import OPTIMIZER_DEFAULTS

MAX_LINES = 40  # failure and diagnosis lines printed without -v (report.json and report.md have all)


def _rich():
    try:
        from rich.console import Console
        from rich.progress import Progress
        from rich.table import Table
    except ImportError as exc:
        raise ImportError(
            "the command line needs rich and matplotlib (pip install 'backprop-conformance[cli]')"
        ) from exc
    console = Console()
    if not console.is_terminal:  # piped or captured: rich would assume 80 columns and wrap the tables
        console.width = 120
    return console, Progress, Table


def train(args: argparse.Namespace) -> int:
    console, Progress, Table = _rich()
    from rich.markup import escape  # data names and alphabets are text: never markup

    args = resolve(args)  # the task's defaults for the options left unset; those it cannot read refused
    rule, drops = optimizer(args), lr_drops(args)  # None, (): plain SGD at a constant η, as always
    task = TASKS[args.task]
    data = text(args.steps) if task is TextTask else load_dataset(args.dataset, args.seed)
    spec = network(args, data, task)
    names = args.impl or available_names()
    impls = [load("reference")] + [  # data-parallel workers stop when the program ends (atexit)
        load(n, workers=args.workers if n in DATA_PARALLEL else None) for n in names if n != "reference"
    ]
    skipped = declined(impls, rule, spec)  # never the reference: it defines every rule and network
    impls = [impl for impl in impls if impl.name not in skipped]
    config = (
        f"{task.prefix}{spec.label}, η={args.lr:g}, "
        f"batch {args.batch_size}, {args.init} init, seed {args.seed}, {args.dtype}"
    )
    if rule:  # a line of its own: the plots' titles must fit 800 pixels
        config += f"\n{rule.label}" + "".join(f", η × {f:g} from epoch {e}" for e, f in drops)
    console.print(f"[bold]{escape(data.name)}[/]: {escape(task.describe(data))}; {escape(config)}")
    for name, why in skipped.items():
        console.print(f"skipped {name}: {why}", markup=False, highlight=False, soft_wrap=True)
    if rule and replays(rule):
        console.print(
            f"{rule.name} keeps state, which every train call starts afresh: epoch e retrains epochs "
            "1..e from the initial weights (one trajectory)",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    rows: list[tuple[str, dict]] = []  # (implementation, its epoch record)
    steps = spec.recurrent.steps if spec.recurrent and spec.recurrent.outputs == "all" else 0
    cost_column = f"training cost per {steps} steps" if steps else "training cost"  # C sums them

    def epoch_done(name, epoch, record):
        progress.update(bar, advance=1, description=f"epoch {epoch}: {name}")
        rows.append((name, record))
        if len(rows) == len(impls):  # every implementation has finished this epoch
            table = Table(title=f"epoch {epoch}", title_justify="left", box=None, padding=(0, 2))
            for col in ("implementation", task.column, cost_column, "max |θ − θ_ref|"):
                table.add_column(col, justify="left" if col == "implementation" else "right")
            for n, r in rows:
                table.add_row(n, task.text(r[task.metric]), f"{r['cost']:.6f}", f"{r['divergence']:.1e}")
            progress.console.print(table)
            rows.clear()

    with Progress(console=console, transient=True) as progress:
        bar = progress.add_task("training", total=args.epochs * len(impls))
        histories = train_side_by_side(
            impls,
            spec,
            task,
            data,
            lr=args.lr,
            batch_size=args.batch_size,
            epochs=args.epochs,
            seed=args.seed,
            dtype=args.dtype,
            init=args.init,
            optimizer=rule,
            lr_drops=drops,
            progress=epoch_done,
        )
    table = Table(title=f"After {args.epochs} epochs — {config}")
    for col in (
        "implementation",
        task.column,
        f"{cost_column}, last epoch" if steps else "training cost (last epoch)",
        "max |θ − θ_reference|",
        "seconds",
    ):
        table.add_column(col, justify="left" if col == "implementation" else "right")
    for h in histories.values():
        last = h.epochs[-1]
        table.add_row(
            h.impl,
            task.text(last[task.metric]),
            f"{last['cost']:.6f}",
            f"{last['divergence']:.1e}",
            f"{sum(e['seconds'] for e in h.epochs):.2f}",
        )
    console.print(table)
    prompt, samples = "", {}
    if isinstance(data, Corpus):  # --task text: each implementation writes from the same draws
        prompt, samples = _samples(console, spec, histories, data, args.seed)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "train.json").write_text(
        json.dumps(
            {
                "config": {
                    **{
                        k: (str(v) if isinstance(v, Path) else v)
                        for k, v in vars(args).items()
                        if k not in ("optimizer", "lr_drop", *OPTIMIZER_DEFAULTS)  # the Optimizer instead
                        and not (k == "steps" and v is None)  # only the text reads it
                    },
                    "sizes": list(spec.sizes),
                    "impl": [i.name for i in impls],
                    # plain SGD's train.json stays as it always was
                    **({"optimizer": asdict(rule), "lr_drop": [list(d) for d in drops]} if rule else {}),
                    **({"skipped": skipped} if rule or skipped else {}),
                },
                "histories": {n: h.record() for n, h in histories.items()},
                **({"prompt": prompt, "samples": samples} if task is TextTask else {}),
            },
            indent=2,
        )
    )
    epochs = np.arange(1, args.epochs + 1)
    series = lambda key: {n: (epochs, [e[key] for e in h.epochs]) for n, h in histories.items()}  # noqa: E731
    plots.lines(
        out / f"{task.metric}.png",
        series(task.metric),
        title=f"{task.column.capitalize()} after each epoch\n{config}",
        xlabel="epoch",
        ylabel=f"{task.unit} ({task.tested(data)})",
    )
    per = f", a window's C summed over its {steps} steps" if steps else ""
    plots.lines(
        out / "cost.png",
        series("cost"),
        title=f"Training cost (mean batch cost over the epoch{per})\n{config}",
        xlabel="epoch",
        ylabel="mean batch cost C over the epoch",
    )
    plots.lines(
        out / "divergence.png",
        {n: s for n, s in series("divergence").items() if n != "reference"},
        title=f"Parameter divergence from the NumPy reference\n{config}",
        xlabel="epoch",
        ylabel="max |θ − θ_reference| over all weights and biases",
        log=True,
        empty="only the reference was trained: nothing to compare",
    )
    written = [f"{task.metric}.png", "cost.png", "divergence.png"]
    if task is Autoencoder and isinstance(data, Dataset):
        shown = data.x_test[:10]
        recon = {n: forward(spec, h.params, inputs(spec, shown))[1][-1] for n, h in histories.items()}
        plots.reconstructions(
            out / "reconstructions.png",
            shown.reshape(-1, *data.image_shape[1:]),
            {n: r.reshape(-1, *data.image_shape[1:]) for n, r in recon.items()},
            title=f"Test inputs and each implementation's reconstruction after "
            f"{args.epochs} epochs\n{config}",
        )
        written.append("reconstructions.png")
    if isinstance(data, Corpus):
        (out / "samples.txt").write_text(
            f"{config}\nprompt (the test text's first {data.steps} characters): {prompt!r}\n\n"
            + "".join(f"{name}:\n{prompt}{sample}\n\n" for name, sample in samples.items())
        )
        written.append("samples.txt")
    console.print(f"wrote {out}/train.json, {', '.join(written)}", markup=False, highlight=False)
    return 0


def _samples(console, spec, histories, corpus, seed):
    """Each implementation's sample (side_by_side.sample: the reference forward pass on its own
    parameters, the same PCG64 draws), printed once per distinct text with the names that wrote it."""
    prompt = corpus.test_text[: corpus.steps]  # unseen text, from a word's start
    samples = {
        name: sample(spec, h.params, corpus, prompt, TextTask.sample_length, seed + 2)  # its own stream
        for name, h in histories.items()
    }
    console.print(
        f"{TextTask.sample_length} characters from each implementation after the prompt {prompt!r} "
        f"(drawn with PCG64({seed + 2}), the same draws for all):",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    writers: dict[str, list[str]] = {}  # each distinct sample: the implementations that wrote it
    for name, written in samples.items():
        writers.setdefault(written, []).append(name)
    for written, names in writers.items():
        alike = f" ({len(names)} of {len(samples)} alike)" if len(samples) > 1 else ""
        console.print(
            f"{', '.join(names)}{alike}:\n  {prompt}|{written}", markup=False, highlight=False, soft_wrap=True
        )
    return prompt, samples


def _matrix_command(args, targets, title, self_check=False):
    console, Progress, Table = _rich()
    from rich.text import Text  # implementation names are the user's text: never markup

    dtypes = ("float64", "float32") if args.dtype == "both" else (args.dtype,)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("checking", total=None)
        matrix = run_matrix(
            targets,
            problems=args.problems,
            dtypes=dtypes,
            jobs=args.jobs,
            timeout=args.timeout,
            progress=lambda: progress.update(task, advance=1),
        )
    try:
        return _write_matrix(console, Table, Text, args, matrix, title, self_check)
    finally:
        matrix.close()


def _write_matrix(console, Table, Text, args, matrix, title, self_check):
    table = Table(
        title=Text(title),
        caption="worst normwise relative error against the float64 "
        "reference; tol = single-pass / trajectory tolerance",
    )
    for col in ("implementation", "dtype", *FAMILIES, "tol"):
        table.add_column(col, justify="left" if col in ("implementation", "dtype") else "right")
    for (impl, dtype), cells in summary_rows(matrix).items():
        kind = np.dtype(dtype).type
        tol = f"{TOLERANCES['grads'][kind]:.0e} / {TOLERANCES['trajectory'][kind]:.0e}"
        table.add_row(
            Text(impl),
            dtype,
            *[
                (f"[{'green' if c[2] else 'red bold'}]{'' if c[2] else 'FAIL '}{c[0]:.1e}[/]" if c else "—")
                for c in (cells.get(f) for f in FAMILIES)
            ],
            tol,
        )
    console.print(table)
    lines = matrix.failure_lines()
    shown = lines if args.verbose else lines[:MAX_LINES]
    for line in shown:  # messages hold [..]: no markup
        console.print(
            line,
            style="yellow" if line.startswith("  ") else "red",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if len(shown) < len(lines):
        console.print(f"... {len(lines) - len(shown)} more lines (-v shows them all)", markup=False)
    for line in skip_lines(matrix, args.verbose):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    for name in matrix.impls if self_check else ():
        verdict = matrix.self_consistency(name)
        console.print(
            f"{name} {verdict.line}" if len(matrix.impls) > 1 else verdict.line,
            style="green" if verdict.passed else "red",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    n_failed = sum(not r.passed for r in matrix.results)
    console.print(
        f"{len(matrix.results) - n_failed} of {len(matrix.results)} checks passed"
        + (f", {n_failed} failed" if n_failed else "")
        + f", {len(matrix.skipped)} skipped",
        markup=False,
    )
    if args.out is not None:
        write(matrix, args.out, seed=args.seed)
        paths, notes = report_plots(matrix, args.out, seed=args.seed)
        for line in notes:
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        console.print(
            f"wrote {args.out}/report.json, report.md, " + ", ".join(p.name for p in paths), markup=False
        )
    return 0 if matrix.passed else 1


def report(args: argparse.Namespace) -> int:
    return _matrix_command(args, args.impl or available_names(), "Conformance against the NumPy reference")


def check(args: argparse.Namespace) -> int:
    return _matrix_command(args, [args.target], f"Conformance of {args.target}", self_check=True)


def conventions(args: argparse.Namespace) -> int:
    from conformance.cli import conventions as matrix  # the tables: cli/conventions.py

    return matrix.run(args, *_rich())
