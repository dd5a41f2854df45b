"""The hostile implementations (conformance/mutants/hostile.py): correct maths, hostile behaviour. Each gets
exactly its verdict — exit code and the line that names what it did — and never a traceback:

- through the command line (``main(argv)`` in this process: the code under test runs in worker
  processes, so even a segfault or ``os._exit`` in it ends only a worker), ``--jobs 1``;
- in the slow step, ``--jobs 2``, the pytest route (every case in one pytest session, whose summary
  and whose reference verdicts must survive them all), and Ctrl-C stopping every worker, by PID.

Besides: nothing the code under test writes reaches the catalogue, another implementation's
verdict or the next call (in this process, where the library API runs it).
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import conformance
from conformance import CATALOGUE
from conformance.mutants.hostile import CASES, source
from conformance.runtime.environment import available
from conformance.targets.target import load_target

CLI = pytest.mark.skipif(
    not (available("rich") and available("matplotlib")), reason="the command line needs the [cli] extra"
)
PROBLEMS = ("--problems", "n[ei]*")  # neuron and nielsen-2-3-1: two tasks, so --jobs 2 uses both


def write_case(name, folder):
    file = Path(folder) / f"{name.replace('-', '_')}.py"
    file.write_text(source(name))
    return f"{file}:{CASES[name].attr}" if CASES[name].attr else str(file)


def check_argv(name, folder, jobs):
    case = CASES[name]
    argv = [a.replace("{out}", str(Path(folder) / "out")) for a in case.argv]
    return [
        "check",
        write_case(name, folder),
        "--jobs",
        str(jobs),
        *(argv if "--problems" in argv else [*argv, *PROBLEMS]),
    ]


def assert_verdict(name, code, text):
    case = CASES[name]
    assert "Traceback" not in text, f"{name}: a traceback reached the user:\n{text}"
    assert code == case.exit, f"{name} ({case.what}): exit {code}, expected {case.exit}:\n{text[-3000:]}"
    assert re.search(case.expect, text), (
        f"{name} ({case.what}): no line matches {case.expect!r}:\n{text[-3000:]}"
    )


def run_cli(argv, capsys, monkeypatch, folder):
    from conformance.cli import main

    monkeypatch.chdir(folder)
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out + out.err


@CLI
@pytest.mark.parametrize("name", list(CASES))
def test_command_line_gives_each_hostile_case_its_verdict(name, capsys, monkeypatch, tmp_path):
    code, text = run_cli(check_argv(name, tmp_path, 1), capsys, monkeypatch, tmp_path)
    assert_verdict(name, code, text)


@CLI
@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_command_line_with_two_jobs(name, capsys, monkeypatch, tmp_path):
    code, text = run_cli(check_argv(name, tmp_path, 2), capsys, monkeypatch, tmp_path)
    assert_verdict(name, code, text)


@CLI
def test_a_crash_on_one_problem_names_that_problem_and_the_run_goes_on(capsys, monkeypatch, tmp_path):
    """A segfault on one problem is that problem's failure; the other problems are still checked
    (and pass), in fresh workers, with both jobs."""
    file = tmp_path / "crash_on_neuron.py"
    file.write_text(
        source("consumes-batches") + "\n\ndef gradients(spec, params, x, y):\n"
        "    if spec.sizes == (3, 1):  # neuron\n        os.kill(os.getpid(), signal.SIGSEGV)\n"
        "    return reference.backprop(spec, params, x, y)\n"
    )
    code, text = run_cli(
        ["check", str(file), "--jobs", "2", *PROBLEMS, "--dtype", "float64"], capsys, monkeypatch, tmp_path
    )
    assert code == 1, text
    assert re.search(r"\[neuron\] call: call gradients FAIL: the process was killed by signal 11", text), text
    assert not [line for line in text.splitlines() if "[nielsen-2-3-1]" in line], text
    passed, total = map(int, re.search(r"(\d+) of (\d+) checks passed", text).groups())
    assert 0 < passed < total, text  # neuron's gradients failed; its training and nielsen's all passed


@CLI
@pytest.mark.slow
def test_the_pytest_route_gives_each_hostile_case_its_verdict(tmp_path):
    """Every case as an --impl of one pytest session, with the shipped reference: each case's tests
    fail (or pass) as its verdict says, the reference passes, and the session ends with its summary."""
    targets = {name: write_case(name, tmp_path) for name in CASES if "--out" not in CASES[name].argv}
    report = tmp_path / "junit.xml"
    impls = [f"--impl={t}" for t in targets.values()]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            "conformance.suite",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            "-q",
            "--impl=reference",
            *impls,
            "--impl-timeout=2",
            "-k",
            "nielsen-2-3-1 or self_consistency",
            f"--junitxml={report}",
            "-o",
            "addopts=",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=900,
    )
    assert "short test summary info" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]
    tests = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        failed = case.find("failure")
        error = case.find("error")
        tests[case.get("name")] = (
            "error"
            if error is not None
            else "failed"
            if failed is not None
            else "skipped"
            if case.find("skipped") is not None
            else "passed",
            (failed.get("message", "") + (failed.text or "")) if failed is not None else "",
        )
    assert not [t for t, (status, _) in tests.items() if status == "error"], tests
    reference = {t: v for t, v in tests.items() if "[reference" in t}
    assert reference and all(status == "passed" for status, _ in reference.values()), reference
    for name, target in targets.items():
        mine = {t: v for t, v in tests.items() if f"[{target}" in t}
        assert mine, f"{name}: no test ran"
        if CASES[name].exit == 0:
            assert all(status in ("passed", "skipped") for status, _ in mine.values()), (name, mine)
        else:
            messages = "\n".join(text for status, text in mine.values() if status == "failed")
            expect = CASES[name].expect.replace("error: ", "")
            assert re.search(expect, messages), f"{name}: no failure matches {expect!r}:\n{messages[:3000]}"


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


@CLI
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


# --- in this process: nothing the code under test writes reaches the harness ----------------------


def _fingerprint(problems):
    """Every array the catalogue holds, as bytes (a write anywhere changes it)."""
    return [
        (
            p.name,
            [a.tobytes() for pair in p.params for a in pair],
            p.x.tobytes(),
            p.y.tobytes(),
            [np.asarray(i).tobytes() for i in p.batches],
        )
        for p in problems
    ]


@pytest.mark.parametrize("name", ["writes-y", "nan-into-weights", "consumes-batches"])
def test_writes_reach_nothing_the_harness_holds(name, tmp_path):
    """In this process (the library API), a writing implementation fails at its own line (or, if it
    only consumes its own batch list, passes), the catalogue's arrays are byte for byte what they
    were, and the reference, checked next, passes."""
    problems = [CATALOGUE["nielsen-2-3-1"], CATALOGUE["conv-decay"]]
    before = _fingerprint(problems)
    hostile = load_target(write_case(name, tmp_path))
    hostile.supports_conv = True
    for p in problems:
        results = conformance.check(hostile, p)
        assert all(r.passed for r in results) == (CASES[name].exit == 0), [r.message for r in results]
    assert _fingerprint(problems) == before
    reference = load_target("reference")
    assert all(r.passed for p in problems for r in conformance.check(reference, p, "float32"))


def test_a_result_cannot_change_after_it_is_returned():
    """An implementation that returns its own buffers and overwrites them on the next call: the
    first call's result was recorded when it returned."""
    from conformance.calls import call

    class Reuses:
        buffer = None

        def gradients(self, spec, params, x, y):
            g = conformance.load("reference").gradients(spec, params, x, y)
            if Reuses.buffer is None:
                Reuses.buffer = g
            else:
                Reuses.buffer.grads[0][0][...] = np.nan
            return Reuses.buffer

        train = None

    p = CATALOGUE["nielsen-2-3-1"]
    first = call(Reuses(), "gradients", p.spec, p.params, p.x, p.y)
    call(Reuses(), "gradients", p.spec, p.params, p.x, p.y)
    assert np.all(np.isfinite(first.grads[0][0]))


def test_report_json_names_the_hostile_failure(tmp_path, capsys, monkeypatch):
    """report.json, written on the failing path, records the named call failure."""
    if not (available("rich") and available("matplotlib")):
        pytest.skip("the command line needs the [cli] extra")
    code, _ = run_cli(
        [
            "check",
            write_case("sys-exit-0-in-train", tmp_path),
            *PROBLEMS,
            "--dtype",
            "float64",
            "--out",
            str(tmp_path / "out"),
        ],
        capsys,
        monkeypatch,
        tmp_path,
    )
    assert code == 1
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    calls = [c for c in report["checks"] if c["check"] == "call"]
    assert calls and all("called sys.exit(0)" in c["detail"] for c in calls), calls
    assert report["summary"]["verdict"] == "fail"


def test_library_api_keeps_a_real_ctrl_c(monkeypatch):
    """In this process a plain KeyboardInterrupt (Ctrl-C) still stops the caller; its subclasses,
    raised by user code, are the code's failures."""
    from conformance.calls import CallFailed, call

    class Interrupted(KeyboardInterrupt):
        pass

    def raising(kind):
        class Impl:
            def gradients(self, *args):
                raise kind("x")

        return Impl()

    p = CATALOGUE["neuron"]
    with pytest.raises(KeyboardInterrupt):
        call(raising(KeyboardInterrupt), "gradients", p.spec, p.params, p.x, p.y)
    with pytest.raises(CallFailed, match=r"raised .*Interrupted: x"):
        call(raising(Interrupted), "gradients", p.spec, p.params, p.x, p.y)
    assert os.getpid()  # still here
