"""The commands (train, report, check) through ``main(argv)``, the code behind the entry point, in this
process (the ``run`` fixture, tests/cli/conftest.py): the success paths on tiny data, report.json
against its schema and the harness it records, the PNGs (real PNG files of the stated size), every
option a command refuses and every corrupt IDX file. In the slow step, through the real entry point
(``python -m conformance`` in a subprocess): the report and the data-parallel runs. The options the
parser refuses, and what needs no [cli] extra, are tests/cli/test_options.py."""

import gzip
import json
import struct

import numpy as np
import pytest

import conformance
from conformance.cli.report import SCHEMA
from conformance.runtime.environment import available
from tests.helpers.cli import PNG_SIZE, STUDENT, cli, png_size

pytestmark = pytest.mark.skipif(
    not (available("matplotlib") and available("rich") and available("sklearn")),
    reason="the command line needs the [cli] extra",
)


def test_train_on_digits_tiny(run, tmp_path):
    r = run("train", "--epochs", "2", "--impl", "reference,torch.manual", "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "torch.manual" in r.stdout and "epoch 2" in r.stdout
    history = json.loads((tmp_path / "train.json").read_text())["histories"]
    assert len(history["torch.manual"]["epochs"]) == 2
    assert history["torch.manual"]["epochs"][-1]["divergence"] < 1e-10  # float64: ~1e-15 measured
    assert history["reference"]["epochs"][-1]["accuracy"] > 0.5  # 10 classes: chance is 0.1
    for name in ("accuracy.png", "cost.png", "divergence.png"):
        assert png_size(tmp_path / name) == PNG_SIZE


def test_cnn_on_digits_tiny(run, tmp_path):
    """--conv feeds 1×8×8 images; the flattened size is computed (8×8 padded by 1, 3×3 kernel: 8×8,
    pooled by 2: 4×4, times 4 channels = 64) and the accuracy comes from the conv forward pass."""
    r = run(
        "train",
        "--conv",
        "4:3:1:1:max:2",
        "--sizes",
        "30-10",
        "--epochs",
        "2",
        "--impl",
        "reference",
        "--out",
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "1x8x8 c4k3p1max2 | 64-30-10" in r.stdout
    train = json.loads((tmp_path / "train.json").read_text())
    assert train["config"]["sizes"] == [64, 30, 10]
    assert train["histories"]["reference"]["epochs"][-1]["accuracy"] > 0.3  # 10 classes: chance is 0.1
    for name in ("accuracy.png", "cost.png", "divergence.png"):
        assert png_size(tmp_path / name) == PNG_SIZE


def test_autoencoder_on_digits_tiny(run, tmp_path):
    """y = x through 64-16-64: every implementation reconstructs alike, better than the best constant
    image (the training mean, whose cost ½ mean‖x − x̄‖² is computed here from the data)."""
    from conformance.training.datasets import digits

    r = run(
        "train",
        "--task",
        "autoencoder",
        "--epochs",
        "2",
        "--impl",
        "reference,torch.manual",
        "--out",
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert "64-16-64" in r.stdout and "test reconstruction cost" in r.stdout
    history = json.loads((tmp_path / "train.json").read_text())["histories"]
    ref, torch_manual = (history[n]["epochs"][-1]["reconstruction"] for n in ("reference", "torch.manual"))
    assert abs(torch_manual - ref) <= 1e-10 * ref  # float64 ports agree to ~1e-15 (tolerances.py)
    d = digits(0)
    assert ref < 0.5 * np.mean(np.sum((d.x_test - d.x_train.mean(axis=0)) ** 2, axis=1))
    for name in ("reconstruction.png", "cost.png", "divergence.png", "reconstructions.png"):
        assert png_size(tmp_path / name) == PNG_SIZE


@pytest.mark.slow
def test_report_json_matches_schema_and_pngs_exist(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    r = cli("report", "--problems", "nielsen*", "--impl", "reference,torch.manual", "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    assert report["summary"]["verdict"] == "pass" and report["summary"]["checks"] > 0
    assert "| torch.manual | float64 |" in (tmp_path / "report.md").read_text()
    for name in ("trajectory.png", "divergence.png", "layer_errors_float64.png", "layer_errors_float32.png"):
        assert png_size(tmp_path / name) == PNG_SIZE


def test_report_json_records_the_harness(run, tmp_path):
    """report.json says which harness judged: its name and conformance.__version__ (cli/report.py)."""
    jsonschema = pytest.importorskip("jsonschema")
    r = run("report", "--problems", "neuron", "--impl", "reference", "--dtype", "float32", "--out", tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    assert report["harness"] == {"name": "backprop-conformance", "version": conformance.__version__}


def test_check_student_file_outside_the_repository(run, tmp_path):
    """A partial implementation (sigmoid + quadratic only) conforms where it claims to; the rest is
    summarised in one line (listed with -v); its loss and gradients agree; the exit code is 0."""
    (tmp_path / "student.py").write_text(STUDENT.replace("{bug}", ""))
    r = run("check", tmp_path / "student.py", "--out", tmp_path / "out")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (
        "problems skipped: student does not support them; none it accepted has activation tanh, "
        "relu, identity;"
    ) in r.stdout
    assert "skipped student / relu-kink" not in r.stdout and "self-consistency: PASS" in r.stdout
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["summary"]["failed"] == 0 and report["summary"]["checks"] > 50
    assert report["diagnoses"] == [] and report["self_consistency"]["student"]["verdict"] == "pass"
    r = run("check", tmp_path / "student.py", "--problems", "relu-kink", "-v")
    assert "skipped student / relu-kink: does not support 5-4-4-3 relu/sigmoid" in r.stdout


def test_check_student_who_forgot_the_1_over_m(run, tmp_path):
    """The classic: BP3 and BP4 summed over the batch. One line per quantity family with its layers,
    the likely cause naming c = m, and the self-consistency verdict that makes it a bug."""
    jsonschema = pytest.importorskip("jsonschema")
    (tmp_path / "student.py").write_text(
        STUDENT.replace("{bug}", "")
        .replace("/ m + spec.weight_decay", "+ spec.weight_decay")
        .replace("delta.mean(axis=0)", "delta.sum(axis=0)")
    )
    r = run(
        "check",
        f"{tmp_path / 'student.py'}:",
        "--problems",
        "nielsen*",
        "--dtype",
        "float64",
        "--out",
        tmp_path,
    )
    assert r.returncode == 1
    out = " ".join(r.stdout.split())  # rich wraps long lines
    assert "grads: dW[layers 1, 2] max|Δ|=" in out and "grads: db[layers 1, 2]" in out
    assert (
        "likely cause: ∂C/∂W (BP4), ∂C/∂b (BP3) are c = 10 = m times the reference's in every "
        "layer: summed over the m examples of the batch instead of averaged"
    ) in out
    assert "A bug: your gradients are not the derivative of your own loss" in out
    assert (
        "self-consistency: FAIL (own gradients vs the differences of own loss, tol 1e-07: "
        "dW[layer 1], db[layer 1]"
    ) in out
    report = json.loads((tmp_path / "report.json").read_text())
    jsonschema.validate(report, json.loads(SCHEMA.read_text()))
    assert {d["signature"] for d in report["diagnoses"]} == {"constant_multiple", "consequence"}
    assert "c = 10 = m" in (tmp_path / "report.md").read_text()


def test_check_a_shipped_mutant_by_module_path(run):
    r = run("check", "conformance.mutants:bias_summed", "--problems", "deep*", "--dtype", "float64")
    assert r.returncode == 1 and "db[layer 1]" in r.stdout


# Refused by the command itself (the spec, the data, the target, the problems), after the parser:
# train loads its data and check/report start rich first.
COMMAND_CASES = [
    (["train", "--sizes", "64"], "--sizes: expected at least two"),
    (["train", "--sizes", "63-30-10", "--epochs", "1"], "--sizes: 63-30-10 does not fit digits"),
    (["train", "--output", "softmax", "--epochs", "1"], "spec.loss: 'quadratic' cannot be paired"),
    (["train", "--weight-decay", "-1", "--epochs", "1"], "spec.weight_decay"),
    (["train", "--dataset", "imagenet"], "dataset: 'imagenet' is not"),
    (["report", "--problems", "nothing*"], "--problems: 'nothing*' matches no problem"),
    (["check", "no_such_file.py"], "target: no such file"),
    (["check", "no_such_module:thing"], "target: cannot import module"),
    (["check", "conformance.mutants:nothing"], "has no attribute 'nothing'"),
    (
        ["train", "--task", "autoencoder", "--sizes", "64-16-10", "--epochs", "1"],
        "--sizes: 64-16-10 does not fit digits: the input layer must be 64 and the output layer 64",
    ),
    (["train", "--task", "autoencoder", "--output", "identity"], "--output: the autoencoder's targets"),
    (
        ["train", "--conv", "4:3,8:7", "--epochs", "1"],
        "--conv: spec.conv[1]: kernel 7 is larger than the padded input",
    ),
    (
        ["train", "--conv", "4:3:1:0:max:4", "--epochs", "1"],
        "--conv: spec.conv[0]: pool_size 4 does not divide",
    ),
    (
        ["train", "--conv", "4:3", "--sizes", "30-9", "--epochs", "1"],
        "--sizes: 30-9 does not fit digits: with --conv it lists the dense layers after the flatten (144",
    ),
]


@pytest.mark.parametrize(("args", "message"), COMMAND_CASES)
def test_bad_option_is_one_line_and_nonzero(args, message, run):
    r = run(*args)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def _idx(path, magic, dims, payload, gz=False):
    raw = struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims) + payload
    (gzip.open if gz else open)(path, "wb").write(raw)


def _mnist_dir(tmp_path, n=20, **broken):
    rng = np.random.default_rng(0)
    d = tmp_path / "mnist"
    d.mkdir()
    spec = {
        "train-images-idx3-ubyte": (2051, (n, 28, 28)),
        "train-labels-idx1-ubyte": (2049, (n,)),
        "t10k-images-idx3-ubyte": (2051, (n, 28, 28)),
        "t10k-labels-idx1-ubyte": (2049, (n,)),
    }
    for name, (magic, dims) in spec.items():
        magic, dims, extra = broken.get(name, (magic, dims, 0))
        size = int(np.prod(dims)) + extra
        payload = rng.integers(0, 10, size) if "labels" in name else rng.integers(0, 256, size)
        _idx(d / (name + ".gz"), magic, dims, payload.astype(np.uint8).tobytes(), gz=True)
    return d


def test_train_on_idx_directory(run, tmp_path):
    d = _mnist_dir(tmp_path)
    r = run("train", "--dataset", d, "--epochs", "1", "--impl", "reference", "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    assert "784-30-10" in r.stdout


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        (
            {"train-images-idx3-ubyte": (2049, (20, 28, 28), 0)},
            "magic number 2049 (0x00000801), expected 2051",
        ),
        ({"t10k-labels-idx1-ubyte": (2049, (20,), -5)}, "header says 20 = 20 bytes of data, the file has 15"),
        ({"train-labels-idx1-ubyte": (2049, (19,), 0)}, "train has 20 images but 19 labels"),
        ({"t10k-images-idx3-ubyte": (2051, (20, 27, 27), 0)}, "images are 27x27, expected 28x28"),
    ],
)
def test_corrupt_idx_file_is_named(tmp_path, broken, message, run):
    d = _mnist_dir(tmp_path, **broken)
    r = run("train", "--dataset", d, "--epochs", "1", "--impl", "reference")
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_missing_idx_file_is_named(tmp_path, run):
    d = _mnist_dir(tmp_path)
    (d / "t10k-labels-idx1-ubyte.gz").unlink()
    r = run("train", "--dataset", d, "--epochs", "1")
    assert r.returncode == 2 and "has no t10k-labels-idx1-ubyte" in r.stderr, r.stderr


@pytest.mark.slow
@pytest.mark.skipif(not (available("torch") and available("jax")), reason="needs torch and jax")
def test_train_data_parallel_side_by_side(tmp_path):
    """``--impl torch.ddp,jax.sharded --workers 2``: the data-parallel runs train beside the reference
    and stay within float64 rounding of it."""
    r = cli(
        "train",
        "--epochs",
        "1",
        "--batch-size",
        "100",
        "--impl",
        "torch.ddp,jax.sharded",
        "--workers",
        "2",
        "--out",
        tmp_path,
    )
    assert r.returncode == 0, r.stderr
    history = json.loads((tmp_path / "train.json").read_text())["histories"]
    assert set(history) == {"reference", "torch.ddp-w2", "jax.sharded-w2"}
    for name in ("torch.ddp-w2", "jax.sharded-w2"):
        assert history[name]["epochs"][-1]["divergence"] < 1e-10, name  # float64: ~1e-15 measured
    r = cli("train", "--impl", "torch.ddp", "--workers", "0")
    assert r.returncode == 2 and "--workers: expected a number > 0" in r.stderr
