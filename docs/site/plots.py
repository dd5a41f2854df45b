"""Bar charts of bench/results*.json written by bench/run.py for the site's benchmarks page: for
each file, examples per second of every implementation at each mini-batch size, one panel per dtype,
on a log scale. Only rows of one file are drawn together: bench/README.md says why runs differ."""

import io
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: the docs build runs headless
import matplotlib.pyplot as plt

# PNG metadata without the matplotlib version or a date: the same results draw the same bytes
METADATA = {"Software": None}


def bench_plots(folder: Path):
    """(name, PNG bytes) for each results*.json of bench/run.py in folder (rows with examples/s; other
    scripts' files, such as bench/optimizers.py's, have tables of their own), name = the file's stem."""
    for path in sorted(folder.glob("results*.json")):
        results = json.loads(path.read_text())
        if all("examples_per_s" in row for row in results["results"]):
            yield path.stem, draw(results, path.name)


def draw(results, title):
    rows = results["results"]
    dtypes = sorted({r["dtype"] for r in rows}, reverse=True)  # float64 first
    impls = list(dict.fromkeys(r["impl"] for r in rows))  # as run.py ran them: the baseline first
    sizes = sorted({r["batch_size"] for r in rows})
    rate = {(r["dtype"], r["impl"], r["batch_size"]): r["examples_per_s"] for r in rows}
    fig, axes = plt.subplots(len(dtypes), 1, figsize=(11, 3.6 * len(dtypes)), squeeze=False)
    width = 0.8 / len(sizes)
    for ax, dtype in zip(axes[:, 0], dtypes):
        for k, size in enumerate(sizes):
            shift = (k - (len(sizes) - 1) / 2) * width
            drawn = [
                (i + shift, rate[dtype, impl, size])
                for i, impl in enumerate(impls)
                if (dtype, impl, size) in rate
            ]
            ax.bar([x for x, _ in drawn], [y for _, y in drawn], width, label=f"mini-batch {size}")
        ax.set_yscale("log")
        ax.set_xticks(range(len(impls)), impls, rotation=30, ha="right")
        ax.set_ylabel("examples / s")
        ax.set_title(f"{title}: {dtype}")
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=90, metadata=METADATA)
    plt.close(fig)
    return png.getvalue()
