"""``train --optimizer`` and ``--lr-drop``: every hyperparameter option reaches conformance.Optimizer,
the schedule is η times the factors of the drops begun, a run with Adam gives reference.train's
losses over the whole batch order (one trajectory, although each epoch is its own train call), each
bad combination is one line naming the option with exit status 2, and plain ``train`` calls the
implementations exactly as before. Tiny runs on the digits (1,497 training images, mini-batch 100:
15 steps an epoch)."""

import json

import numpy as np
import pytest

import reference
from conformance import Optimizer, Spec
from conformance.cli.parser import parser
from conformance.runtime.environment import available
from conformance.targets.adapters import Reference
from conformance.training import tasks
from conformance.training.side_by_side import schedule, train_side_by_side
from reference.validation import OPTIMIZER_DEFAULTS

needs_cli = pytest.mark.skipif(
    not (available("matplotlib") and available("rich") and available("sklearn")),
    reason="the command line needs the [cli] extra",
)
TINY = ("--epochs", "2", "--batch-size", "100")  # 15 steps an epoch


def digits_run(lr, epochs=2, batch_size=100, optimizer=None):
    """reference.train over the recipe train uses (seed 0, digits, standard init, the batch order of
    seed 1), in one call: the expected trajectory."""
    from conformance.training.datasets import aligned, digits

    data = digits(0)
    spec = Spec((64, 30, 10), "sigmoid", "sigmoid", "quadratic")
    params = reference.init_params(spec.sizes, 0, scheme="standard")
    order = reference.batch_order(len(data.x_train), batch_size, epochs, 1)
    x, y = aligned(data.x_train, np.float64), data.y_train(np.float64)
    return reference.train(spec, params, x, y, lr=lr, batches=order, optimizer=optimizer)


# (rule, option and value as typed, the field it sets and its value): every field of Optimizer
OPTIONS = [
    ("momentum", ["--momentum", "0.5"], "momentum", 0.5),
    ("nesterov", ["--momentum", "0.9", "--momentum-form", "velocity"], "momentum_form", "velocity"),
    ("rmsprop", ["--rho", "0.99"], "rho", 0.99),
    ("adam", ["--beta1", "0.8"], "beta1", 0.8),
    ("adamw", ["--beta2", "0.99"], "beta2", 0.99),
    ("adam", ["--eps", "1e-6"], "eps", 1e-6),
    ("adagrad", ["--eps-in-sqrt"], "eps_in_sqrt", True),
    ("adam", ["--eps-hat"], "eps_hat", True),
    ("adamw", ["--decoupled-decay", "0.01"], "decoupled_decay", 0.01),
    ("adagrad", ["--initial-accumulator", "0.1"], "initial_accumulator", 0.1),
    ("sgd", ["--clip-value", "0.5"], "clip_value", 0.5),
    ("adam", ["--clip-norm", "2"], "clip_norm", 2.0),
    ("rmsprop", ["--clip-norm", "2", "--clip-eps", "1e-6"], "clip_eps", 1e-6),
]


def test_every_field_has_an_option_case():
    assert {field for *_, field, _ in OPTIONS} == set(OPTIMIZER_DEFAULTS)


@pytest.mark.parametrize(("name", "typed", "field", "value"), OPTIONS, ids=[o[2] for o in OPTIONS])
def test_each_option_reaches_the_optimizer(name, typed, field, value):
    args = parser().parse_args(["train", "--optimizer", name, *typed])
    got = tasks.optimizer(args)
    expected = {"momentum": 0.9} if field == "momentum_form" else {}  # velocity needs a μ
    expected |= {"clip_norm": 2.0} if field == "clip_eps" else {}
    assert got == Optimizer(name, **expected, **{field: value})


def test_no_option_is_plain_sgd_and_a_schedule_alone_is_sgd():
    assert tasks.optimizer(parser().parse_args(["train"])) is None
    assert tasks.optimizer(parser().parse_args(["train", "--lr-drop", "2:0.5"])) == Optimizer("sgd")
    assert tasks.optimizer(parser().parse_args(["train", "--clip-value", "1"])) == Optimizer(
        "sgd", clip_value=1.0
    )


def test_lr_drop_schedule():
    """η_t = η · Π factors of the drops whose epoch has begun, per step; a float without drops."""
    rates = schedule(3.0, ((2, 0.5), (3, 0.1)), steps=4, epochs=3)
    assert rates == pytest.approx([3.0] * 4 + [1.5] * 4 + [3.0 * 0.5 * 0.1] * 4, rel=1e-15)
    assert schedule(3.0, (), steps=4, epochs=3) == 3.0
    args = parser().parse_args(["train", "--epochs", "3", "--lr-drop", "3:0.1", "--lr-drop", "2:0.5"])
    assert tasks.lr_drops(args) == ((2, 0.5), (3, 0.1))


@needs_cli
def test_adam_with_a_drop_is_reference_train_over_the_whole_order(run, tmp_path):
    """Each epoch is its own train call, and Adam's state starts afresh at every call: the losses
    (and the parameters, divergence 0 against itself) are nonetheless one trajectory's."""
    r = run(
        "train",
        *TINY,
        "--impl",
        "reference",
        "--optimizer",
        "adam",
        "--lr",
        "0.01",
        "--beta1",
        "0.8",
        "--beta2",
        "0.99",
        "--eps",
        "1e-6",
        "--clip-norm",
        "3",
        "--lr-drop",
        "2:0.5",
        "--out",
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "adam β1=0.8 β2=0.99 ε=1e-06 clip_norm=3, η × 0.5 from epoch 2" in r.stdout
    train = json.loads((tmp_path / "train.json").read_text())
    rule = Optimizer("adam", beta1=0.8, beta2=0.99, eps=1e-6, clip_norm=3.0)
    expected = digits_run([0.01] * 15 + [0.005] * 15, optimizer=rule)
    assert train["histories"]["reference"]["step_losses"] == expected.losses
    assert train["config"]["optimizer"] == vars(rule)
    assert train["config"]["lr_drop"] == [[2, 0.5]]


@needs_cli
@pytest.mark.skipif(not available("torch"), reason="needs torch")
def test_two_implementations_and_a_decline(run, tmp_path):
    """torch.manual implements ε inside the root and trains beside the reference; torch.optim's
    RMSprop has no such form, so torch.module's supports_optimizer declines it: listed, not run."""
    r = run(
        "train",
        *TINY,
        "--impl",
        "reference,torch.manual,torch.module",
        "--optimizer",
        "rmsprop",
        "--eps-in-sqrt",
        "--lr",
        "0.01",
        "--out",
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "skipped torch.module: its supports_optimizer declines rmsprop ρ=0.9 ε=1e-08" in r.stdout
    train = json.loads((tmp_path / "train.json").read_text())
    assert set(train["histories"]) == {"reference", "torch.manual"}
    assert list(train["config"]["skipped"]) == ["torch.module"]
    history = train["histories"]["torch.manual"]
    assert history["epochs"][-1]["divergence"] < 1e-10  # float64 trajectories (tolerances.py)
    ref = train["histories"]["reference"]["step_losses"]
    np.testing.assert_allclose(history["step_losses"], ref, rtol=1e-10)


BAD = [
    (["--optimizer", "sgd", "--beta1", "0.9"], "--beta1: --optimizer sgd does not read it (only adam, adamw"),
    (["--beta2", "0.99"], "--beta2: plain SGD (no --optimizer) does not read it"),
    (["--optimizer", "momentum", "--momentum", "0.9", "--eps-hat"], "--eps-hat: --optimizer momentum does"),
    (["--optimizer", "momentum"], "--momentum: expected a finite real number in (0, 1), got 0.0"),
    (["--optimizer", "adam", "--beta1", "1"], "--beta1: expected a finite real number in [0, 1), got 1.0"),
    (["--optimizer", "adamx"], "argument --optimizer: invalid choice: 'adamx'"),
    (["--optimizer", "rmsprop", "--momentum-form", "side"], "argument --momentum-form: invalid choice"),
    (["--lr-drop", "0:2"], "argument --lr-drop: '0:2': the epoch must be >= 1"),
    (["--lr-drop", "3:0"], "argument --lr-drop: '3:0': the factor must be a finite number > 0"),
    (["--lr-drop", "3"], "argument --lr-drop: expected EPOCH:FACTOR like 3:0.1, got '3'"),
    (["--lr-drop", "3:0.5", "--epochs", "2"], "--lr-drop: epoch 3 comes after the last epoch (--epochs 2)"),
    (["--clip-norm", "-1"], "--clip-norm: expected a finite real number in (0, ∞), got -1.0"),
    (["--clip-norm", "1", "--clip-value", "1"], "--clip-norm: give --clip-value or --clip-norm, not both"),
    (["--clip-eps", "1e-6"], "--clip-eps: only --clip-norm reads it"),
]


@needs_cli
@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_combination_is_one_line_and_exit_2(args, message, run):
    r = run("train", "--impl", "reference", *args)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    errors = [line for line in r.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0], r.stderr
    assert "Traceback" not in r.stderr and "epoch 1" not in r.stdout  # refused before any training


class Spy:
    """The reference, recording how train_side_by_side calls it and what it returned."""

    name = "spy"

    def __init__(self):
        self.calls = []

    def train(self, spec, params, x, y, **kwargs):
        run = reference.train(spec, params, x, y, **kwargs)
        self.calls.append((params, kwargs, run))
        return run


@needs_cli  # the digits
def test_plain_train_calls_as_before():
    """No optimizer: a float η and no ``optimizer`` keyword, each epoch from the last one's
    parameters."""
    from conformance.training.datasets import digits

    spy = Spy()
    spec = Spec((64, 30, 10), "sigmoid", "sigmoid", "quadratic")
    train_side_by_side(
        [Reference(), spy], spec, tasks.Classify, digits(0), lr=3.0, batch_size=100, epochs=2, seed=0,
        dtype="float64", init="standard",
    )  # fmt: skip
    (_, one, first), (second, two, _) = spy.calls
    assert set(one) == set(two) == {"lr", "batches"} and type(one["lr"]) is float and one["lr"] == 3.0
    assert second is first.params


@needs_cli
def test_plain_train_output_is_unchanged(run, tmp_path):
    """Without the optimizer options: plain SGD over the whole order, and train.json without their keys."""
    r = run("train", *TINY, "--impl", "reference", "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "skipped" not in r.stdout and "keeps state" not in r.stdout
    train = json.loads((tmp_path / "train.json").read_text())
    assert not {"optimizer", "lr_drop", "skipped", *OPTIMIZER_DEFAULTS} & set(train["config"])
    assert train["histories"]["reference"]["step_losses"] == digits_run(3.0).losses
