"""Markdown tables from a results file of run.py, one per (dtype, mini-batch), as in bench/README.md.

    python bench/tables.py bench/results.json [bench/results-cnn.json ...]

Ratios are to the recipe's first implementation in the file (the baseline: nielsen-per-example for
the dense recipe, the reference for the CNN one), within the same dtype and mini-batch.
"""

import json
import sys
from itertools import groupby

COLUMNS = (
    "implementation",
    "examples/s (median)",
    "× {base}",
    "GFLOP/s",
    "% of GEMM",
    "JAX compile (s)",
    "peak RSS during training (MiB)",
    "workers' peak RSS (MiB)",
)


def row_cells(row, base):
    compile_s = row.get("compile_s")
    workers = row.get("workers_peak_rss_mib") or 0
    return (
        row["impl"],
        f"{row['examples_per_s']:,.0f}",
        f"{row['examples_per_s'] / base:.2f}",
        f"{row['gflop_per_s']:.2f}",
        f"{row['pct_of_gemm']:.1f}",
        "—" if compile_s is None else f"{compile_s:.2f}",
        f"{row['peak_rss_mib']:.0f} (+{row['peak_rss_mib'] - row['rss_before_mib']:.0f})",
        f"{workers:.0f}" if workers else "—",
    )


def tables(results):
    gemm = results["machine"]["gemm"]["gflop_per_s"]
    rows = results["results"]
    yield "GEMM rate (GFLOP/s): " + ", ".join(f"{dtype} {rate:.1f}" for dtype, rate in gemm.items())
    key = lambda r: (r["dtype"], r["batch_size"])  # noqa: E731
    for (dtype, batch_size), group in groupby(sorted(rows, key=key), key=key):
        group = list(group)
        base = group[0]
        yield f"\n### {base['recipe']}, {dtype}, mini-batch {batch_size}\n"
        yield "| " + " | ".join(COLUMNS).format(base=base["impl"]) + " |"
        yield "|---|" + "---:|" * (len(COLUMNS) - 1)
        for row in group:
            yield "| " + " | ".join(row_cells(row, base["examples_per_s"])) + " |"


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print("\n".join(tables(json.loads(open(path).read()))))
