"""The command line through ``main(argv)``, the code behind the entry point, in this process (a
subprocess each cost an interpreter start and the imports, 2–4 s of CPU): the success paths on tiny
data, report.json against its schema, the PNGs (real PNG files of the stated size), every bad option
and corrupt IDX file. Through the real entry point (``python -m conformance`` in a subprocess): one
bad option, to show that the exit status reaches the shell, and, in the slow step, the report and
the data-parallel runs."""

import gzip
import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conformance.cli.report import SCHEMA
from conformance.runtime import xla
from conformance.runtime.environment import available
from conformance.runtime.threads import THREAD_VARS
from conformance.runtime.xla import FAST_JAX_ENV, FAST_XLA_FLAGS

pytestmark = pytest.mark.skipif(
    not (available("matplotlib") and available("rich") and available("sklearn")),
    reason="the command line needs the [cli] extra",
)
PNG_SIZE = (800, 500)  # plots.SIZE at plots.DPI

STUDENT = '''
"""A student's backprop for sigmoid + quadratic only: checked on what it supports."""
import numpy as np

name = "student"

def supports(spec):
    return spec.activation == spec.output == "sigmoid" and spec.loss == "quadratic"

def _sigmoid(z):
    return 1 / (1 + np.exp(-z))

class _G:
    pass

def gradients(spec, params, x, y):
    m = len(x)
    acts, zs = [x], []
    for W, b in params:
        zs.append(acts[-1] @ W.T + b)
        acts.append(_sigmoid(zs[-1]))
    delta = (acts[-1] - y) * acts[-1] * (1 - acts[-1]){bug}
    grads = []
    for l in range(len(params), 0, -1):
        grads.insert(0, ((delta.T @ acts[l - 1]) / m + spec.weight_decay * params[l - 1][0],
                         delta.mean(axis=0)))
        if l > 1:
            s = _sigmoid(zs[l - 2])
            delta = (delta @ params[l - 1][0]) * s * (1 - s)
    g = _G()
    g.loss = float(0.5 * np.sum((acts[-1] - y) ** 2) / m
                   + 0.5 * spec.weight_decay * sum(np.sum(W * W) for W, _ in params))
    g.grads = grads
    return g

def train(spec, params, x, y, *, lr, batches):
    losses = []
    for idx in batches:
        g = gradients(spec, params, x[idx], y[idx])
        losses.append(g.loss)
        params = [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(params, g.grads)]
    t = _G()
    t.losses, t.params = losses, params
    return t
'''


def cli(*args, cwd=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "conformance", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def main_in_process(capsys, monkeypatch, tmp_path, *args):
    """(exit status, stdout, stderr) of ``main(args)``, run in tmp_path; argparse's errors exit."""
    from conformance.cli import main

    monkeypatch.chdir(tmp_path)
    for var in (*THREAD_VARS, *FAST_JAX_ENV):  # main sets them (threads.py, xla.py): restored after
        monkeypatch.setenv(var, os.environ.get(var, ""))
        if not os.environ[var]:
            monkeypatch.delenv(var)
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def run(capsys, monkeypatch, tmp_path):
    """``run(*args)``: the command line in this process, in tmp_path; .returncode, .stdout, .stderr."""

    def run(*args):
        code, out, err = main_in_process(capsys, monkeypatch, tmp_path, *args)
        return SimpleNamespace(returncode=code, stdout=out, stderr=err)

    return run


def png_size(path):
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


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


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--lr", "0"], "--lr: expected a number > 0"),
        (["train", "--lr", "abc"], "--lr: invalid"),
        (["train", "--batch-size", "-3"], "--batch-size: expected a number > 0"),
        (["train", "--epochs", "0"], "--epochs: expected a number > 0"),
        (["train", "--sizes", "64-x-10"], "--sizes: expected layer sizes like 64-30-10"),
        (["train", "--sizes", "64"], "--sizes: expected at least two"),
        (["train", "--sizes", "63-30-10", "--epochs", "1"], "--sizes: 63-30-10 does not fit digits"),
        (["train", "--activation", "swish"], "--activation: invalid choice"),
        (["train", "--impl", "torch.nope"], "--impl: unknown implementation 'torch.nope'"),
        (["train", "--output", "softmax", "--epochs", "1"], "spec.loss: 'quadratic' cannot be paired"),
        (["train", "--weight-decay", "-1", "--epochs", "1"], "spec.weight_decay"),
        (["train", "--dataset", "imagenet"], "dataset: 'imagenet' is not"),
        (["report", "--problems", "nothing*"], "--problems: 'nothing*' matches no problem"),
        (["check", "no_such_file.py"], "target: no such file"),
        (["check", "no_such_module:thing"], "target: cannot import module"),
        (["check", "conformance.mutants:nothing"], "has no attribute 'nothing'"),
        (["frobnicate"], "invalid choice"),
        (
            ["train", "--task", "autoencoder", "--sizes", "64-16-10", "--epochs", "1"],
            "--sizes: 64-16-10 does not fit digits: the input layer must be 64 and the output layer 64",
        ),
        (["train", "--task", "autoencoder", "--output", "identity"], "--output: the autoencoder's targets"),
        (["train", "--conv", "4"], "--conv: block 0 '4': expected channels:kernel[:stride"),
        (
            ["train", "--conv", "4:3:1:1:max:2:7"],
            "--conv: block 0 '4:3:1:1:max:2:7': expected channels:kernel",
        ),
        (["train", "--conv", "4:3,8:x"], "--conv: block 1 '8:x': kernel must be an integer, got 'x'"),
        (["train", "--conv", "4:3:0"], "--conv: block 0 '4:3:0': stride must be >= 1, got 0"),
        (["train", "--conv", "4:3:1:-1"], "--conv: block 0 '4:3:1:-1': padding must be >= 0, got -1"),
        (
            ["train", "--conv", "4:3:1:1:maximum"],
            "--conv: block 0 '4:3:1:1:maximum': pool must be none, max or avg",
        ),
        (["train", "--conv", "0:3"], "--conv: block 0 '0:3': channels must be >= 1, got 0"),
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
    ],
)
def test_bad_option_is_one_line_and_nonzero(args, message, capsys, monkeypatch, tmp_path):
    code, out, err = main_in_process(capsys, monkeypatch, tmp_path, *args)
    assert code == 2, (code, out, err)
    assert message in err, err
    assert "Traceback" not in err


def test_bad_option_exit_status_reaches_the_shell():
    r = cli("train", "--lr", "0")
    assert r.returncode == 2 and "--lr: expected a number > 0" in r.stderr, (r.returncode, r.stderr)
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
def test_corrupt_idx_file_is_named(tmp_path, broken, message, capsys, monkeypatch):
    d = _mnist_dir(tmp_path, **broken)
    code, _, err = main_in_process(
        capsys, monkeypatch, tmp_path, "train", "--dataset", d, "--epochs", "1", "--impl", "reference"
    )
    assert code == 2 and message in err, err
    assert "Traceback" not in err


def test_missing_idx_file_is_named(tmp_path, capsys, monkeypatch):
    d = _mnist_dir(tmp_path)
    (d / "t10k-labels-idx1-ubyte.gz").unlink()
    code, _, err = main_in_process(capsys, monkeypatch, tmp_path, "train", "--dataset", d, "--epochs", "1")
    assert code == 2 and "has no t10k-labels-idx1-ubyte" in err, err


def test_help_documents_every_option_with_its_default(capsys, monkeypatch, tmp_path):
    code, out, _ = main_in_process(capsys, monkeypatch, tmp_path, "train", "--help")
    assert code == 0
    for option in (
        "--dataset",
        "--task",
        "--sizes",
        "--conv",
        "--activation",
        "--output",
        "--loss",
        "--lr",
        "--batch-size",
        "--epochs",
        "--weight-decay",
        "--init",
        "--seed",
        "--dtype",
        "--impl",
        "--out",
    ):
        assert option in out, option
    text = " ".join(out.split())  # argparse wraps lines
    assert "(default: 3.0)" in text and "(default: digits)" in text and "(default: None)" not in text


def test_pytest_impl_option_runs_the_suite_on_a_file(tmp_path):
    """``pytest --pyargs conformance.suite --impl=student.py`` from outside the repository."""
    (tmp_path / "student.py").write_text(STUDENT.replace("{bug}", ""))
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            "--pyargs",
            "conformance.suite",
            f"--impl={tmp_path / 'student.py'}",
            "-k",
            "nielsen or hypothesis",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-3000:]
    assert " passed" in r.stdout


def test_report_jobs_do_not_change_the_results():
    """--jobs 2 spreads the (implementation, problem) runs over spawned workers; the checks, their
    numbers, their order and the diagnoses are exactly those of --jobs 1."""
    from conformance.matrix import run_matrix

    target = "conformance.mutants:bias_summed"  # failures and diagnoses, NumPy only (fast workers)
    one, two = (run_matrix([target], problems="golden-*", jobs=jobs) for jobs in (1, 2))
    assert len({r.problem for r in one.results}) >= 2, "needs several tasks to use the pool"
    assert [r.message for r in two.results] == [r.message for r in one.results]
    assert [o.lines() for o in two.outcomes] == [o.lines() for o in one.outcomes]
    assert any(not r.passed for r in one.results)


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


@pytest.mark.parametrize(
    ("option", "flags"), [([], " ".join(FAST_XLA_FLAGS)), (["--xla-compile", "default"], None)]
)
def test_check_compiles_jax_fast_unless_told_otherwise(option, flags, capsys, monkeypatch, tmp_path):
    """check/report set XLA's fast profile before JAX starts (their --jobs workers inherit it);
    `--xla-compile default` leaves XLA as the user's own runs have it. (The target does not exist:
    the flags are set before the command runs, and nothing is compiled.)"""
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    monkeypatch.setattr(xla, "jaxlib_version", lambda: "0.10.2")
    code, _, err = main_in_process(capsys, monkeypatch, tmp_path, "check", "no_such_file.py", *option)
    assert code == 2 and "target: no such file" in err, err
    assert os.environ.get("XLA_FLAGS") == flags


def test_report_records_the_xla_flags_it_ran_with():
    pytest.importorskip("jax")
    from conformance.runtime.environment import configure

    assert configure()["xla_flags"] == os.environ.get("XLA_FLAGS", "")


@pytest.mark.parametrize("jobs", [1, 2])
def test_jobs_share_the_cores(jobs, capsys, monkeypatch, tmp_path):
    """check/report give each of their --jobs workers cores // jobs threads (set before the workers
    start, so they inherit it); one job leaves the thread counts alone. (The target does not exist:
    the environment is set before the command runs.)"""
    for var in THREAD_VARS:
        monkeypatch.delenv(var, raising=False)
    code, _, err = main_in_process(capsys, monkeypatch, tmp_path, "check", "no_such_file.py", "--jobs", jobs)
    assert code == 2 and "target: no such file" in err, err
    share = str(max(1, (os.cpu_count() or 1) // jobs)) if jobs > 1 else None
    assert [os.environ.get(var) for var in THREAD_VARS] == [share] * len(THREAD_VARS)


@pytest.mark.parametrize("dtype", [None, np.float32])
def test_aligned_copies_values_on_a_64_byte_boundary(dtype):
    """data.aligned: the same values (cast when asked), C-contiguous, starting on a 64-byte boundary,
    whatever the source's alignment (a strided view of a buffer placed 16 bytes off one)."""
    from conformance.training.datasets import aligned

    raw = np.empty(8 * 30 + 64, dtype=np.uint8)
    start = 16 + -raw.ctypes.data % 64
    a = np.frombuffer(raw[start : start + 8 * 30], dtype=np.float64).reshape(5, 6)
    a[...] = np.arange(30.0).reshape(5, 6) / 7
    got = aligned(a[:, ::2], dtype)
    assert got.ctypes.data % 64 == 0 and got.flags.c_contiguous
    assert got.dtype == (a.dtype if dtype is None else dtype)
    np.testing.assert_array_equal(got, a[:, ::2].astype(got.dtype))


def test_dataset_inputs_are_aligned():
    from conformance.training.datasets import digits

    d = digits(0)
    assert d.x_train.ctypes.data % 64 == 0 and d.x_test.ctypes.data % 64 == 0
