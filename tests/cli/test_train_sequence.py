"""``train --task sequence`` and ``train --task text``: the recurrent tasks through ``main(argv)`` (the
``run`` fixture), each run small (one epoch, large batches, the reference and one or two ports): the
files written, the implementations in agreement, the text's samples identical where the parameters
agree, the sampling rule itself, the text's windows, the declines and every bad option (one line, exit
status 2, before any training)."""

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

import reference
from conformance import Recurrent, Spec
from conformance.cli.parser import parser
from conformance.runtime.environment import available
from conformance.targets.adapters import Reference
from conformance.training import tasks
from conformance.training.datasets import text
from conformance.training.side_by_side import declined, sample
from tests.helpers.cli import PNG_SIZE, png_size

needs_cli = pytest.mark.skipif(
    not (available("matplotlib") and available("rich") and available("sklearn")),
    reason="the command line needs the [cli] extra",
)


def ports(*names):
    """The reference and those of ``names`` whose framework is installed."""
    frameworks = {"torch": available("torch"), "jax": available("jax")}
    return ",".join(["reference", *(n for n in names if frameworks[n.split(".")[0]])])


@needs_cli
def test_sequence_reads_the_digits_row_by_row(run, tmp_path):
    """8-64-10 over T = 8 rows of 8 pixels, the label from the last step: every implementation's
    losses are reference.train's over the same recipe (the digits cut into rows, scaled weights
    drawn as a recurrent network's, the batch order of seed 1), and they agree with each other."""
    from conformance.training.datasets import digits

    r = run("train", "--task", "sequence", "--epochs", 1, "--batch-size", 100, "--impl",
            ports("torch.manual", "jax.manual"), "--out", tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "sequence rnn T=8 last | 8-64-10 tanh/softmax log_likelihood, η=0.05" in r.stdout
    train = json.loads((tmp_path / "train.json").read_text())
    assert train["config"]["sizes"] == [8, 64, 10] and "steps" not in train["config"]
    data = digits(0)
    spec = Spec((8, 64, 10), "tanh", "softmax", "log_likelihood", recurrent=Recurrent(8, "last"))
    params = reference.init_params(spec.sizes, 0, scheme="scaled", recurrent=True)
    order = reference.batch_order(len(data.x_train), 100, 1, 1)
    x = data.x_train.reshape(-1, 8, 8)
    expected = reference.train(spec, params, x, data.y_train(), lr=0.05, batches=order)
    histories = train["histories"]
    assert histories["reference"]["step_losses"] == expected.losses
    accuracy = reference.accuracy(
        expected.params, data.x_test.reshape(-1, 8, 8), data.labels_test, "tanh", "softmax",
        recurrent=spec.recurrent,
    )  # fmt: skip
    for name, history in histories.items():
        (epoch,) = history["epochs"]
        assert epoch["divergence"] < 1e-10, name  # float64 ports: ~1e-16 measured
        assert epoch["accuracy"] == accuracy, name  # the same parameters score the same
        np.testing.assert_allclose(history["step_losses"], expected.losses, rtol=1e-10, err_msg=name)
    for name in ("accuracy.png", "cost.png", "divergence.png"):
        assert png_size(tmp_path / name) == PNG_SIZE


@needs_cli
def test_text_samples_agree_where_the_parameters_do(run, tmp_path):
    """A character model over windows of 8 characters: the test cost per character, the plots, and
    a sample from each implementation, the same text where the parameters agree, printed once
    with the names of all who wrote it and written to samples.txt and train.json."""
    r = run("train", "--task", "text", "--steps", 8, "--epochs", 1, "--batch-size", 50, "--impl",
            ports("torch.autograd", "jax.scan"), "--out", tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    corpus = text(8)
    k = len(corpus.alphabet)
    assert f"text rnn T=8 all | {k}-64-{k} tanh/softmax log_likelihood" in r.stdout
    train = json.loads((tmp_path / "train.json").read_text())
    histories, samples = train["histories"], train["samples"]
    assert set(samples) == set(histories) == set(train["config"]["impl"])
    assert train["prompt"] == corpus.test_text[:8]
    ref = histories["reference"]["epochs"][-1]
    for name, history in histories.items():
        assert history["epochs"][-1]["divergence"] < 1e-10, name
        assert history["epochs"][-1]["test_cost"] == pytest.approx(ref["test_cost"], rel=1e-12), name
    assert ref["test_cost"] < math.log(k)  # better than a uniform guess, after 11 steps
    assert len(set(samples.values())) == 1, samples  # float64: the parameters agree to ~1e-16
    written = samples["reference"]
    assert len(written) == tasks.Text.sample_length and set(written) <= set(corpus.alphabet)
    assert f"{', '.join(histories)} ({len(histories)} of {len(histories)} alike):" in r.stdout
    assert f"{train['prompt']}|{written}" in r.stdout
    listing = (tmp_path / "samples.txt").read_text()
    assert all(f"{name}:\n{train['prompt']}{written}\n" in listing for name in histories)
    for name in ("test_cost.png", "cost.png", "divergence.png"):
        assert png_size(tmp_path / name) == PNG_SIZE


def test_sample_draws_each_character_by_the_inverse_cdf():
    """With W = U = 0 the output is softmax(b^L) whatever the context: the k-th character is the
    first whose cumulative probability exceeds u_k of PCG64(seed). Parameters moved by 1e-13 write
    the same text; another seed, another."""
    corpus = text(8)
    K, H = len(corpus.alphabet), 4
    spec = Spec((K, H, K), "tanh", "softmax", "log_likelihood", recurrent=Recurrent(8, "all"))
    b = np.linspace(-1.0, 2.0, K)
    params = [(np.zeros((H, K)), np.zeros((H, H)), np.zeros(H)), (np.zeros((K, H)), b)]
    got = sample(spec, params, corpus, "the ", 50, seed=7)
    cdf = np.cumsum(np.exp(b) / np.exp(b).sum())
    expected = [np.searchsorted(cdf, u * cdf[-1], side="right") for u in reference.rng_from(7).random(50)]
    assert got == corpus.decode(expected)
    nudged = [tuple(a + 1e-13 for a in layer) for layer in params]
    assert sample(spec, nudged, corpus, "the ", 50, seed=7) == got
    assert sample(spec, params, corpus, "the ", 50, seed=8) != got


def test_text_windows_are_the_text_and_the_next_character():
    """x[i] one-hot spells T characters of the train text from position iT, y[i] the same shifted
    by one; the test text (from a word's start) follows the train text and is never in a window."""
    corpus = text(16)
    T, K = 16, len(corpus.alphabet)
    n = len(range(0, len(corpus.train_text) - T, T))  # every window needs T + 1 characters
    assert corpus.x_train.shape == corpus.y_train.shape == (n, T, K)
    for i in (0, 1, len(corpus.x_train) - 1):
        span = corpus.train_text[i * T : i * T + T + 1]
        assert corpus.decode(corpus.x_train[i].argmax(axis=1)) == span[:-1]
        assert corpus.decode(corpus.y_train[i].argmax(axis=1)) == span[1:]
    assert np.all(corpus.x_train.sum(axis=2) == 1) and np.all(corpus.y_test.sum(axis=2) == 1)
    assert corpus.alphabet == "".join(sorted(set(corpus.train_text + " " + corpus.test_text)))
    whole = corpus.train_text + " " + corpus.test_text  # the normalised text, cut at a space
    assert corpus.test_text[0] != " " and len(corpus.test_text) <= 0.1 * len(whole)
    assert corpus.decode(corpus.x_test[0].argmax(axis=1)) == corpus.test_text[:T]


def test_the_help_states_the_texts_alphabet(run):
    r = run("train", "--help")
    assert r.returncode == 0
    assert f"K the text's alphabet, {len(text().alphabet)} characters" in " ".join(r.stdout.split())


def test_an_implementation_without_the_recurrent_opt_in_is_listed_not_run():
    spec = Spec((8, 4, 10), "tanh", "softmax", "log_likelihood", recurrent=Recurrent(8, "last"))
    dense = SimpleNamespace(name="dense", train=None)  # no supports_recurrent: written before BPTT
    picky = SimpleNamespace(name="picky", train=None, supports_recurrent=True, supports=lambda s: False)
    assert declined([Reference(), dense, picky], None, spec) == {
        "dense": "it does not declare supports_recurrent = True, so it is given no recurrent network",
        "picky": f"its supports declines {spec.label}",
    }
    assert declined([Reference(), dense], None, Spec((8, 4, 10), "tanh", "softmax", "log_likelihood")) == {}


def test_the_dense_tasks_keep_their_defaults():
    args = tasks.resolve(parser().parse_args(["train"]))
    assert (args.dataset, args.activation, args.output, args.loss, args.lr, args.init, args.epochs) == (
        "digits", "sigmoid", "sigmoid", "quadratic", 3.0, "standard", 10,
    )  # fmt: skip
    assert args.steps is None
    args = tasks.resolve(parser().parse_args(["train", "--task", "text", "--lr", "0.1"]))
    assert (args.dataset, args.steps, args.epochs, args.lr, args.init) == (None, 16, 20, 0.1, "scaled")


BAD = [
    (
        ["--task", "text", "--conv", "4:3"],
        "--conv: --task text trains a recurrent network, which has no conv",
    ),
    (["--task", "sequence", "--conv", "4:3"], "--conv: --task sequence trains a recurrent network"),
    (["--task", "text", "--dataset", "digits"], "--dataset: --task text trains on its embedded text"),
    (
        ["--task", "sequence", "--steps", "4"],
        "--steps: only --task text reads it (--task sequence reads each",
    ),
    (["--steps", "4"], "--steps: only --task text reads it (--task classify has no time steps)"),
    (["--task", "text", "--steps", "0"], "argument --steps: expected a number > 0, got 0"),
    (
        ["--task", "text", "--steps", "5000"],
        "--steps: T=5000 leaves no window of T + 1 characters in the test",
    ),
    (
        ["--task", "sequence", "--sizes", "8-10"],
        "--sizes: a recurrent network needs at least one hidden layer",
    ),
    (
        ["--task", "sequence", "--sizes", "64-32-10"],
        "--sizes: 64-32-10 does not fit --task sequence on digits",
    ),
    (
        ["--task", "text", "--sizes", "30-64-10"],
        "--sizes: 30-64-10 does not fit --task text on text: each step",
    ),
    (["--task", "text", "--output", "sigmoid", "--loss", "cross_entropy"], "--output: the text task samples"),
    (["--task", "sequence", "--output", "sigmoid"], "spec.loss: 'log_likelihood' cannot be paired with"),
]


@needs_cli
@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_option_is_one_line_and_exit_2(args, message, run):
    r = run("train", "--impl", "reference", *args)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    errors = [line for line in r.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0], r.stderr
    assert "Traceback" not in r.stderr and "epoch 1" not in r.stdout  # refused before any training
