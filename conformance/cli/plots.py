"""PNG plots (matplotlib, Agg backend: no display needed). Every plot has a title with the
configuration, labelled axes and a legend."""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


SIZE = (8, 5)  # inches; at DPI 100 every PNG is 800 x 500 pixels
DPI = 100


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    _pyplot().close(fig)
    return path


def lines(
    path: Path,
    series: Mapping[str, tuple[Sequence[float] | np.ndarray, Sequence[float] | np.ndarray]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    log: bool = False,
    hline: tuple[float, str] | None = None,
    empty: str = "no data",
) -> Path:
    """One line per implementation: series = {name: (x, y)}; ``hline`` = (value, label) marks a
    threshold such as a tolerance; ``empty`` is written across the plot when there is no series."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=SIZE)
    styles = ["-", "--", ":", "-."]
    for k, (name, (xs, ys)) in enumerate(series.items()):
        ys = np.asarray(ys, dtype=float)
        if log:  # exact agreement (0) cannot be drawn on a log axis: shown at the axis floor
            ys = np.maximum(ys, 1e-18)
        ax.plot(
            xs,
            ys,
            styles[k % len(styles)],
            marker="o" if len(xs) <= 30 else None,
            markersize=3,
            label=name,
            linewidth=1.5,
        )
    if hline is not None:
        ax.axhline(hline[0], color="red", linestyle="--", label=hline[1])
    if log:
        ax.set_yscale("log")
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.set_title(title, fontsize="medium")  # two lines of configuration must fit 800 pixels
    ax.xaxis.get_major_locator().set_params(integer=True)  # epochs and steps are whole numbers
    ax.grid(True, alpha=0.3)
    if series or hline is not None:
        ax.legend(fontsize="small", ncol=2)
    else:  # e.g. the divergence plot of --impl reference alone
        ax.text(0.5, 0.5, empty, transform=ax.transAxes, ha="center", va="center", fontsize="large")
    return _save(fig, path)


def layer_errors(
    path: Path,
    errors: Mapping[str, Mapping[Any, float]],  # Any: layer numbers (CheckResult.layer: int | None)
    tolerance: float,
    *,
    title: str,
) -> Path:
    """Per-layer gradient error: errors = {impl: {layer: rel}}, with the tolerance as a line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=SIZE)
    names = list(errors)
    layers = sorted({layer for e in errors.values() for layer in e})
    width = 0.8 / max(len(names), 1)
    for k, name in enumerate(names):
        vals = [max(errors[name].get(layer, np.nan), 1e-18) for layer in layers]
        ax.bar(np.arange(len(layers)) + k * width, vals, width, label=name)
    ax.axhline(tolerance, color="red", linestyle="--", label=f"tolerance {tolerance:.0e}")
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(layers)) + 0.4 - width / 2, [f"layer {layer}" for layer in layers])
    ax.set(
        title=title,
        xlabel="layer l",
        ylabel=r"$\|\partial C/\partial W^l - \mathrm{ref}\| \,/\, \|\mathrm{ref}\|$",
    )
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize="small", ncol=2)
    return _save(fig, path)


def reconstructions(path: Path, inputs: np.ndarray, outputs: Mapping[str, np.ndarray], *, title: str) -> Path:
    """Images in a grid: the first row ``inputs`` (k, H, W), then one row per implementation's
    reconstructions ``outputs = {name: (k, H, W)}``, every pixel on the same grey scale [0, 1]."""
    plt = _pyplot()
    rows = [("test input", inputs)] + list(outputs.items())
    k = len(inputs)
    fig, axes = plt.subplots(
        len(rows), k, figsize=SIZE, squeeze=False, gridspec_kw={"wspace": 0.05, "hspace": 0.1}
    )
    for r, (name, images) in enumerate(rows):
        for c in range(k):
            ax = axes[r][c]
            ax.imshow(images[c], cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r][0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize="small")
    fig.suptitle(title, fontsize="medium")  # two lines of configuration must fit 800 pixels
    fig.subplots_adjust(left=0.15, right=0.99, top=0.89, bottom=0.01)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path
