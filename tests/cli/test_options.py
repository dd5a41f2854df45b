"""The command line's options and exit codes, and what ``check``/``report`` set up before they run
(XLA's compile profile, each job's share of the cores), through ``main(argv)`` in this process (the
``run`` fixture, tests/cli/conftest.py); one bad option through the real entry point, to show that the
exit status reaches the shell; the pytest route on a student's file; the matrix's --jobs; the aligned
copies of the training data. None of it needs the [cli] extra as a whole: a test that needs part of
it says which (the commands themselves are tests/cli/test_commands.py)."""

import os
import subprocess
import sys

import numpy as np
import pytest

from conformance.runtime import xla
from conformance.runtime.environment import available
from conformance.runtime.threads import THREAD_VARS
from conformance.runtime.xla import FAST_XLA_FLAGS
from tests.helpers.cli import STUDENT, cli

# check and report start rich (commands._rich) before they load the target
needs_rich = pytest.mark.skipif(not available("rich"), reason="check and report need rich ([cli] extra)")
needs_sklearn = pytest.mark.skipif(not available("sklearn"), reason="digits needs scikit-learn ([cli] extra)")


# Refused by the parser, before any command runs (so without the [cli] extra too); the options a
# command refuses are tests/cli/test_commands.py's.
PARSER_CASES = [
    (["train", "--lr", "0"], "--lr: expected a number > 0"),
    (["train", "--lr", "abc"], "--lr: invalid"),
    (["train", "--batch-size", "-3"], "--batch-size: expected a number > 0"),
    (["train", "--epochs", "0"], "--epochs: expected a number > 0"),
    (["train", "--sizes", "64-x-10"], "--sizes: expected layer sizes like 64-30-10"),
    (["train", "--activation", "swish"], "--activation: invalid choice"),
    (["train", "--impl", "torch.nope"], "--impl: unknown implementation 'torch.nope'"),
    (["frobnicate"], "invalid choice"),
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
]


@pytest.mark.parametrize(("args", "message"), PARSER_CASES)
def test_bad_option_is_one_line_and_nonzero(args, message, run):
    r = run(*args)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_bad_option_exit_status_reaches_the_shell():
    r = cli("train", "--lr", "0")
    assert r.returncode == 2 and "--lr: expected a number > 0" in r.stderr, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr


def test_help_documents_every_option_with_its_default(run):
    r = run("train", "--help")
    code, out = r.returncode, r.stdout
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


@needs_rich
@pytest.mark.parametrize(
    ("option", "flags"), [([], " ".join(FAST_XLA_FLAGS)), (["--xla-compile", "default"], None)]
)
def test_check_compiles_jax_fast_unless_told_otherwise(option, flags, run, monkeypatch):
    """check/report set XLA's fast profile before JAX starts (their --jobs workers inherit it);
    `--xla-compile default` leaves XLA as the user's own runs have it. (The target does not exist:
    the flags are set before the command runs, and nothing is compiled.)"""
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    monkeypatch.setattr(xla, "jaxlib_version", lambda: "0.10.2")
    r = run("check", "no_such_file.py", *option)
    assert r.returncode == 2 and "target: no such file" in r.stderr, r.stderr
    assert os.environ.get("XLA_FLAGS") == flags


def test_report_records_the_xla_flags_it_ran_with():
    pytest.importorskip("jax")
    from conformance.runtime.environment import configure

    assert configure()["xla_flags"] == os.environ.get("XLA_FLAGS", "")


@needs_rich
@pytest.mark.parametrize("jobs", [1, 2])
def test_jobs_share_the_cores(jobs, run, monkeypatch):
    """check/report give each of their --jobs workers cores // jobs threads (set before the workers
    start, so they inherit it); one job leaves the thread counts alone. (The target does not exist:
    the environment is set before the command runs.)"""
    for var in THREAD_VARS:
        monkeypatch.delenv(var, raising=False)
    r = run("check", "no_such_file.py", "--jobs", jobs)
    assert r.returncode == 2 and "target: no such file" in r.stderr, r.stderr
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


@needs_sklearn
def test_dataset_inputs_are_aligned():
    from conformance.training.datasets import digits

    d = digits(0)
    assert d.x_train.ctypes.data % 64 == 0 and d.x_test.ctypes.data % 64 == 0
