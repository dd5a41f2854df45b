"""``backprop-conformance conventions``: the convention matrix (conformance/conventions.py) as rich
tables, and its numbers as JSON (docs/generate.py renders docs/optimizers.md from them)."""

import argparse
import json
from typing import Any

from conformance.cli.parser import PROG
from conformance.conventions import NUMERIC, failures, listings, measure


def run(args: argparse.Namespace, console: Any, Progress: Any, Table: Any) -> int:
    from rich.text import Text  # the cells hold brackets: never markup

    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("measuring", total=None)
        matrix = measure(progress=lambda name: progress.update(task, description=name, advance=1))
    record = matrix.record(f"{PROG} conventions" + (f" --json {args.json}" if args.json else ""))
    for listing in listings(record):
        table = Table(title=listing.title, caption=listing.caption)
        for col in listing.columns:
            numeric = col in NUMERIC
            table.add_column(col, justify="right" if numeric else "left", no_wrap=numeric, overflow="fold")
        for row in listing.rows:
            table.add_row(*(Text(cell) for cell in row))
        console.print(table)
    for template, declined in record["declines"].items():
        console.print(
            f"{template} declines: {'; '.join(declined) or 'nothing'}", markup=False, highlight=False
        )
    failed = failures(record)
    for line in failed:
        console.print(line, style="red", markup=False, highlight=False, soft_wrap=True)
    versions = ", ".join(f"{k} {v}" for k, v in record["versions"].items())
    console.print(f"float64, on this machine: {versions}", markup=False, highlight=False)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
        console.print(f"wrote {args.json}", markup=False, highlight=False)
    return 1 if failed else 0
