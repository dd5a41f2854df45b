"""What ``train`` learns and how it is scored: classifying the digits, or reconstructing them.

classify     y is the one-hot label; after each epoch, the test accuracy (the fraction of test
             images whose largest output is at the true label).
autoencoder  seed 003's second extension: y = x, the pixels scaled to [0, 1], through a bottleneck
             (64-16-64 on the 8×8 digits) to a sigmoid output; after each epoch, the test
             reconstruction cost, the spec's C_x averaged over the test images without weight decay
             (½‖a − x‖² for the quadratic cost).

Both are scored with the reference forward pass on each implementation's own parameters, so the
numbers differ only where the parameters do. ``network`` turns the options into the Spec to train,
``optimizer`` and ``lr_drops`` into the update rule and the learning-rate schedule.
"""

import argparse
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from conformance.optimizer import Optimizer
from conformance.spec import Conv, Spec
from conformance.training.datasets import Dataset
from reference import conv_shapes
from reference.costs import cost
from reference.validation import CLIPPING, OPTIMIZER_DEFAULTS, OPTIMIZERS, READS


class Classify:
    name = "classify"
    metric, column, unit = "accuracy", "test accuracy", "fraction of test images correct"
    bottleneck = 30  # the default hidden layer (Nielsen's 30)

    @staticmethod
    def n_out(data: Dataset) -> int:
        return data.n_classes

    @staticmethod
    def targets(data: Dataset, dtype: npt.DTypeLike) -> np.ndarray:
        return data.y_train(dtype)

    @staticmethod
    def score(
        spec: Spec, zs: Sequence[np.ndarray], activations: Sequence[np.ndarray], data: Dataset
    ) -> float:
        return float(np.mean(np.argmax(activations[-1], axis=1) == data.labels_test))

    @staticmethod
    def text(value: float) -> str:
        return f"{value:.2%}"


class Autoencoder:
    name = "autoencoder"
    metric, column, unit = "reconstruction", "test reconstruction cost", "mean C_x over the test images"
    bottleneck = 16  # a quarter of the 64 pixels of a digit

    @staticmethod
    def n_out(data: Dataset) -> int:
        return data.x_train.shape[1]

    @staticmethod
    def targets(data: Dataset, dtype: npt.DTypeLike) -> np.ndarray:
        return data.x_train.astype(dtype)  # the flat pixels, whatever shape the input layer takes

    @staticmethod
    def score(
        spec: Spec, zs: Sequence[np.ndarray], activations: Sequence[np.ndarray], data: Dataset
    ) -> float:
        return float(np.mean(cost(spec.loss, zs[-1], activations[-1], data.x_test)))

    @staticmethod
    def text(value: float) -> str:
        return f"{value:.4f}"


TASKS = {task.name: task for task in (Classify, Autoencoder)}


def network(args: argparse.Namespace, data: Dataset, task: type[Classify] | type[Autoencoder]) -> Spec:
    """The Spec for ``--sizes``/``--conv`` on ``data``, or the task's default network. With conv
    blocks the images are ``data.image_shape`` and ``--sizes`` lists only the dense layers after the
    flatten: the flattened size is computed from the blocks, never typed."""
    n_in, n_out = data.x_train.shape[1], task.n_out(data)
    if task is Autoencoder and args.output != "sigmoid":
        raise ValueError(
            f"--output: the autoencoder's targets are pixels in [0, 1], so its output "
            f"is sigmoid, got {args.output!r}"
        )
    if args.conv:
        blocks = tuple(Conv(*fields) for fields in args.conv)
        try:
            n_flat = math.prod(conv_shapes(data.image_shape, blocks)[-1].a)
        except ValueError as exc:  # a kernel or a pooling that does not fit, naming the block
            raise ValueError(f"--conv: {exc} (images {'×'.join(map(str, data.image_shape))})") from None
        dense = args.sizes or (task.bottleneck, n_out)
        if dense[-1] != n_out:
            raise ValueError(
                f"--sizes: {'-'.join(map(str, dense))} does not fit {data.name}: with "
                f"--conv it lists the dense layers after the flatten ({n_flat} values), "
                f"and the output layer must be {n_out}"
            )
        return Spec(
            (n_flat, *dense),
            args.activation,
            args.output,
            args.loss,
            args.weight_decay,
            input_shape=data.image_shape,
            conv=blocks,
        )
    sizes = args.sizes or (n_in, task.bottleneck, n_out)
    if len(sizes) < 2:
        raise ValueError(
            f"--sizes: expected at least two positive layer sizes, got {'-'.join(map(str, sizes))}"
        )
    if sizes[0] != n_in or sizes[-1] != n_out:
        raise ValueError(
            f"--sizes: {'-'.join(map(str, sizes))} does not fit {data.name}: the input "
            f"layer must be {n_in} and the output layer {n_out}"
        )
    return Spec(sizes, args.activation, args.output, args.loss, args.weight_decay)


def option(field: str) -> str:
    """The command-line option of an Optimizer field: momentum_form -> --momentum-form."""
    return "--" + field.replace("_", "-")


def optimizer(args: argparse.Namespace) -> Optimizer | None:
    """The Optimizer of ``--optimizer`` and its hyperparameter options, or None (plain SGD, called
    exactly as without these options) when none of them and no ``--lr-drop`` is given; clipping or a
    schedule alone train with sgd. An option the rule does not read is refused even at its default
    value (a typed --beta1 for sgd is a mistake, whatever its value); the values are checked by
    Optimizer itself, whose messages name the field, here renamed to the option."""
    given = {k: getattr(args, k) for k in OPTIMIZER_DEFAULTS if getattr(args, k) is not None}
    if args.optimizer is None and not given and not args.lr_drop:
        return None
    name = args.optimizer or "sgd"
    rule = f"--optimizer {name}" if args.optimizer else "plain SGD (no --optimizer)"
    for k in given:
        if k == "clip_eps" and "clip_norm" not in given:
            raise ValueError("--clip-eps: only --clip-norm reads it; give --clip-norm too")
        if k not in READS[name] + CLIPPING:
            readers = [n for n in OPTIMIZERS if k in READS[n]]
            raise ValueError(f"{option(k)}: {rule} does not read it (only {', '.join(readers)} do)")
    if "clip_value" in given and "clip_norm" in given:
        raise ValueError("--clip-norm: give --clip-value or --clip-norm, not both")
    try:
        return Optimizer(name, **given)
    except (ValueError, TypeError) as exc:  # "optimizer.clip_norm: expected ..." -> "--clip-norm: ..."
        field, _, why = str(exc).partition(": ")
        raise ValueError(f"{option(field.removeprefix('optimizer.'))}: {why}") from None


def lr_drops(args: argparse.Namespace) -> tuple[tuple[int, float], ...]:
    """``--lr-drop EPOCH:FACTOR`` options (parsed and range-checked by the parser) as ((epoch,
    factor), ...) in epoch order; an epoch after the last one would never take effect."""
    drops = tuple(sorted(args.lr_drop or ()))
    late = [e for e, _ in drops if e > args.epochs]
    if late:
        raise ValueError(
            f"--lr-drop: epoch {late[0]} comes after the last epoch (--epochs {args.epochs}), so it "
            "would never take effect"
        )
    return drops
