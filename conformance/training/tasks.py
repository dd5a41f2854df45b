"""What ``train`` learns and how it is scored: classifying the digits, reconstructing them, reading
them as sequences, or predicting the next character of a text.

classify     y is the one-hot label; after each epoch, the test accuracy (the fraction of test
             images whose largest output is at the true label).
autoencoder  seed 003's second extension: y = x, the pixels scaled to [0, 1], through a bottleneck
             (64-16-64 on the 8×8 digits) to a sigmoid output; after each epoch, the test
             reconstruction cost, the spec's C_x averaged over the test images without weight decay
             (½‖a − x‖² for the quadratic cost).
sequence     the digits read row by row by a recurrent (Elman) network: x (m, T=8, 8), one row of 8
             pixels a step, the label predicted from the last step only (outputs="last", many to
             one); scored as classify, by the test accuracy.
text         a character-level language model on the embedded text (datasets.text): windows of T
             characters one-hot over the alphabet, the next character predicted at every step
             (outputs="all", many to many); after each epoch, the test cost per character, the
             spec's C_{x,t} averaged over every step of the test windows (nats for log_likelihood).

All are scored with the reference forward pass on each implementation's own parameters, so the
numbers differ only where the parameters do. ``resolve`` fills in the options a task sets itself
(the recurrent tasks train tanh/softmax/log_likelihood at η = 0.05 from scaled weights) and refuses
those it cannot read; ``network`` turns the options into the Spec to train, ``optimizer`` and
``lr_drops`` into the update rule and the learning-rate schedule.
"""

import argparse
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from conformance.optimizer import Optimizer
from conformance.spec import Conv, Recurrent, Spec
from conformance.training.datasets import Corpus, Dataset
from reference import conv_shapes
from reference.costs import cost
from reference.validation import CLIPPING, OPTIMIZER_DEFAULTS, OPTIMIZERS, READS

# The options whose default depends on the task: None in the parser, filled in by resolve.
IMAGE_DEFAULTS: dict[str, object] = {"dataset": "digits", "activation": "sigmoid", "output": "sigmoid"}
IMAGE_DEFAULTS |= {"loss": "quadratic", "lr": 3.0, "init": "standard", "epochs": 10}  # Nielsen ch. 1
# A tanh cell keeps the state in (−1, 1) step after step; softmax + log-likelihood score the classes
# or the characters; N(0, 1/n) weights (U ~ N(0, 1/H) too) keep h off tanh's flat tails.
RECURRENT_DEFAULTS = IMAGE_DEFAULTS | {"activation": "tanh", "output": "softmax", "loss": "log_likelihood"}
RECURRENT_DEFAULTS |= {"lr": 0.05, "init": "scaled"}


class Task(Protocol):
    """What the trainer and the command ask of a task: each task is a class of static methods and
    class attributes (read-only here: a task's attributes are its constants)."""

    @property
    def name(self) -> str: ...
    @property
    def metric(self) -> str: ...  # the key of the score in each epoch's record; the plot's file name
    @property
    def column(self) -> str: ...  # the score's column heading
    @property
    def unit(self) -> str: ...  # the score's axis label
    @property
    def prefix(self) -> str: ...  # before the spec's label in the configuration line
    @property
    def bottleneck(self) -> int: ...  # the default hidden layer
    @property
    def outputs(self) -> str | None: ...  # a recurrent task's output mode ("all", "last"); None: dense
    @property
    def defaults(self) -> Mapping[str, object]: ...  # the task's values of the options left unset

    def n_in(self, data: Any) -> int: ...
    def n_out(self, data: Any) -> int: ...
    def steps(self, data: Any) -> int: ...
    def targets(self, data: Any, dtype: npt.DTypeLike) -> np.ndarray: ...
    def score(
        self, spec: Spec, zs: Sequence[np.ndarray], activations: Sequence[np.ndarray], data: Any
    ) -> float: ...
    def text(self, value: float) -> str: ...
    def tested(self, data: Any) -> int: ...
    def describe(self, data: Any) -> str: ...


class Images:
    """What the image tasks share: flat rows in, scored over the test images."""

    prefix = ""
    outputs: ClassVar[str | None] = None
    defaults: ClassVar[Mapping[str, object]] = IMAGE_DEFAULTS

    @staticmethod
    def n_in(data: Dataset) -> int:
        return data.x_train.shape[1]

    @staticmethod
    def steps(data: Dataset) -> int:
        return 1  # no time axis

    @staticmethod
    def tested(data: Dataset) -> int:
        return len(data.x_test)

    @staticmethod
    def describe(data: Dataset) -> str:
        return f"{len(data.x_train)} train / {len(data.x_test)} test"


class Classify(Images):
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


class Autoencoder(Images):
    name = "autoencoder"
    metric, column, unit = "reconstruction", "test reconstruction cost", "mean C_x over the test images"
    prefix = "autoencoder "
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


class SequenceClassify(Classify):
    """The digits as sequences: an H×W image is T = H steps of W pixels (8 of 8 for the digits, 28
    of 28 for MNIST), classified from the last step's output alone. The flat rows are cut into
    steps by side_by_side.inputs; the labels, and so the score, are classify's."""

    name = "sequence"
    prefix = "sequence "
    bottleneck = 64  # H: 64 tanh units reach about 97% on the digits in 10 epochs
    outputs = "last"
    defaults = RECURRENT_DEFAULTS

    @staticmethod
    def n_in(data: Dataset) -> int:
        return data.image_shape[2]  # one row of pixels a step

    @staticmethod
    def steps(data: Dataset) -> int:
        return data.image_shape[1]  # the rows


def rows(a: np.ndarray) -> np.ndarray:
    """(m, T, n) -> (m·T, n): one row per (window, step), as reference.costs.cost takes them."""
    return a.reshape(-1, a.shape[-1])


class Text:
    """Next-character prediction on the embedded text (datasets.Corpus), many to many."""

    name = "text"
    metric, column = "test_cost", "test cost per character"
    unit = "mean C_x,t over the test characters (nats)"
    prefix = "text "
    bottleneck = 64
    outputs: ClassVar[str | None] = "all"
    # no dataset: the embedded text; T = 16 characters a window; ~258 windows, 26 steps an epoch
    defaults: ClassVar[Mapping[str, object]] = {
        **{k: v for k, v in RECURRENT_DEFAULTS.items() if k != "dataset"},
        "epochs": 20,
        "steps": 16,
    }
    sample_length = 200  # the characters each implementation writes after the prompt

    @staticmethod
    def n_in(data: Corpus) -> int:
        return len(data.alphabet)  # a one-hot character in

    @staticmethod
    def n_out(data: Corpus) -> int:
        return len(data.alphabet)  # a distribution over the next character out

    @staticmethod
    def steps(data: Corpus) -> int:
        return data.steps

    @staticmethod
    def targets(data: Corpus, dtype: npt.DTypeLike) -> np.ndarray:
        return data.y_train.astype(dtype)

    @staticmethod
    def score(spec: Spec, zs: Sequence[np.ndarray], activations: Sequence[np.ndarray], data: Corpus) -> float:
        return float(np.mean(cost(spec.loss, rows(zs[-1]), rows(activations[-1]), rows(data.y_test))))

    @staticmethod
    def text(value: float) -> str:
        return f"{value:.4f}"

    @staticmethod
    def tested(data: Corpus) -> int:
        return data.x_test.shape[0] * data.x_test.shape[1]  # every step of every test window

    @staticmethod
    def describe(data: Corpus) -> str:
        return (
            f"{len(data.x_train)} train / {len(data.x_test)} test windows of {data.steps} characters "
            f"(of {len(data.train_text)} / {len(data.test_text)}), alphabet of {len(data.alphabet)} "
            f"{data.alphabet!r}"
        )


TASKS: dict[str, Task] = {task.name: task for task in (Classify, Autoencoder, SequenceClassify, Text)}


def resolve(args: argparse.Namespace) -> argparse.Namespace:
    """A copy of ``args`` with the task's defaults (Task.defaults) for the options left unset (None
    in the parser), after refusing those the task cannot read: --conv for the recurrent tasks,
    --dataset for the text (its data is embedded), --steps for all but the text."""
    task = TASKS[args.task]
    if args.conv and task.outputs is not None:
        raise ValueError(f"--conv: --task {task.name} trains a recurrent network, which has no conv blocks")
    if task is Text and args.dataset is not None:
        raise ValueError(
            f"--dataset: --task text trains on its embedded text, not on a dataset (got {args.dataset!r})"
        )
    if args.steps is not None and task is not Text:
        where = (
            "reads each image's rows: T is its height" if task is SequenceClassify else "has no time steps"
        )
        raise ValueError(f"--steps: only --task text reads it (--task {task.name} {where})")
    resolved = argparse.Namespace(**vars(args))
    for option, value in task.defaults.items():
        if getattr(resolved, option) is None:
            setattr(resolved, option, value)
    return resolved


def network(args: argparse.Namespace, data: Dataset | Corpus, task: Task) -> Spec:
    """The Spec for ``--sizes``/``--conv`` on ``data``, or the task's default network. With conv
    blocks the images are ``data.image_shape`` and ``--sizes`` lists only the dense layers after the
    flatten: the flattened size is computed from the blocks, never typed. A recurrent task's
    ``--sizes`` are n_0-H-...-n_L with at least one (recurrent) hidden layer."""
    n_in, n_out = task.n_in(data), task.n_out(data)
    if task is Autoencoder and args.output != "sigmoid":
        raise ValueError(
            f"--output: the autoencoder's targets are pixels in [0, 1], so its output "
            f"is sigmoid, got {args.output!r}"
        )
    if task is Text and args.output != "softmax":
        raise ValueError(
            f"--output: the text task samples the next character from the output's distribution, "
            f"so its output is softmax, got {args.output!r}"
        )
    if task.outputs is not None:
        return _recurrent_network(args, data, task, n_in, n_out)
    assert isinstance(data, Dataset)  # the dense tasks are images
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


def _recurrent_network(args, data, task, n_in, n_out):
    """sizes (n_0, H, ..., n_L), every hidden layer recurrent over the task's T steps."""
    sizes = args.sizes or (n_in, task.bottleneck, n_out)
    what = (
        f"a one-hot character of the {n_in}-letter alphabet"
        if task is Text
        else f"a row of {n_in} pixels of the {'×'.join(map(str, data.image_shape[1:]))} images"
    )
    if len(sizes) < 3:
        raise ValueError(
            f"--sizes: a recurrent network needs at least one hidden layer (n_0-H-n_L), got "
            f"{'-'.join(map(str, sizes))}"
        )
    if sizes[0] != n_in or sizes[-1] != n_out:
        raise ValueError(
            f"--sizes: {'-'.join(map(str, sizes))} does not fit --task {task.name} on {data.name}: each "
            f"step reads {what}, so the input layer must be {n_in} and the output layer {n_out}"
        )
    return Spec(
        sizes,
        args.activation,
        args.output,
        args.loss,
        args.weight_decay,
        recurrent=Recurrent(task.steps(data), task.outputs),
    )


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
