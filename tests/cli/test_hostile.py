"""The hostile implementations (conformance/mutants/hostile.py) through the command line: correct maths,
hostile behaviour, and each gets exactly its verdict — exit code and the line that names what it did —
and never a traceback. ``main(argv)`` runs in this process (the ``run`` fixture: the code under test
runs in worker processes, so even a segfault or ``os._exit`` in it ends only a worker), ``--jobs 1``;
in the slow step ``--jobs 2``, and Ctrl-C stopping every worker, by PID. The pytest route and the
library API are tests/harness/test_hostile.py."""

import contextlib
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance.mutants.hostile import CASES, source
from conformance.runtime.environment import available
from tests.helpers.hostile import PROBLEMS, assert_verdict, check_argv, write_case

pytestmark = pytest.mark.skipif(
    not (available("rich") and available("matplotlib")), reason="the command line needs the [cli] extra"
)


@pytest.mark.parametrize("name", list(CASES))
def test_command_line_gives_each_hostile_case_its_verdict(name, run, tmp_path):
    r = run(*check_argv(name, tmp_path, 1))
    assert_verdict(name, r.returncode, r.stdout + r.stderr)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_command_line_with_two_jobs(name, run, tmp_path):
    r = run(*check_argv(name, tmp_path, 2))
    assert_verdict(name, r.returncode, r.stdout + r.stderr)


def test_a_crash_on_one_problem_names_that_problem_and_the_run_goes_on(run, tmp_path):
    """A segfault on one problem is that problem's failure; the other problems are still checked
    (and pass), in fresh workers, with both jobs."""
    file = tmp_path / "crash_on_neuron.py"
    file.write_text(
        source("consumes-batches") + "\n\ndef gradients(spec, params, x, y):\n"
        "    if spec.sizes == (3, 1):  # neuron\n        os.kill(os.getpid(), signal.SIGSEGV)\n"
        "    return reference.backprop(spec, params, x, y)\n"
    )
    r = run("check", file, "--jobs", "2", *PROBLEMS, "--dtype", "float64")
    code, text = r.returncode, r.stdout + r.stderr
    assert code == 1, text
    assert re.search(r"\[neuron\] call: call gradients FAIL: the process was killed by signal 11", text), text
    assert not [line for line in text.splitlines() if "[nielsen-2-3-1]" in line], text
    passed, total = map(int, re.search(r"(\d+) of (\d+) checks passed", text).groups())
    assert 0 < passed < total, text  # neuron's gradients failed; its training and nielsen's all passed


def _descendants(pid):
    """Every live process below ``pid`` (from /proc: each process's parent)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its parent's wait is missing


@contextlib.contextmanager
def interruptible_children():
    """Children started inside get SIGINT as from a terminal. A test run started in the background
    by a shell without job control (``bash -c 'pytest ... &'``, as some CI runners do) ignores
    SIGINT, every child inherits that, and Python leaves an ignored SIGINT ignored: the CLI would
    never see the Ctrl-C. (Python's own handler here: exec resets it to the default in the child.)"""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the workers through /proc")
def test_ctrl_c_stops_the_parent_and_every_worker(tmp_path):
    """Two workers inside a hanging gradients; SIGINT to the parent: exit 130 and no process left."""
    file = tmp_path / "hangs.py"
    file.write_text(
        source("hangs").replace(
            "time.sleep(3600)",
            f"open({str(tmp_path)!r} + f'/started-{{os.getpid()}}', 'w').close(); time.sleep(3600)",
        )
    )
    with interruptible_children():
        parent = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "conformance",
                "check",
                str(file),
                "--jobs",
                "2",
                "--timeout",
                "600",
                *PROBLEMS,
            ],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    try:
        deadline = time.monotonic() + 120
        while len(list(tmp_path.glob("started-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(list(tmp_path.glob("started-*"))) == 2, "the two workers never reached gradients"
        workers = _descendants(parent.pid)
        assert {int(f.name.split("-")[1]) for f in tmp_path.glob("started-*")} <= workers
        parent.send_signal(signal.SIGINT)
        _, err = parent.communicate(timeout=30)
    finally:
        if parent.poll() is None:
            parent.kill()
    assert parent.returncode == 130, (parent.returncode, err)
    assert err.strip().splitlines()[-1] == "backprop-conformance: interrupted", err
    assert "Traceback" not in err, err
    time.sleep(0.5)
    assert not [pid for pid in workers if _alive(pid)], f"left running: {workers}"


def test_report_json_names_the_hostile_failure(run, tmp_path):
    """report.json, written on the failing path, records the named call failure."""
    r = run(
        "check",
        write_case("sys-exit-0-in-train", tmp_path),
        *PROBLEMS,
        "--dtype",
        "float64",
        "--out",
        tmp_path / "out",
    )
    assert r.returncode == 1
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    calls = [c for c in report["checks"] if c["check"] == "call"]
    assert calls and all("called sys.exit(0)" in c["detail"] for c in calls), calls
    assert report["summary"]["verdict"] == "fail"
