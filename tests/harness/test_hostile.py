"""The hostile implementations (conformance/mutants/hostile.py) against the harness: correct maths,
hostile behaviour. In the slow step, the pytest route: every case as an ``--impl`` of one pytest
session, whose summary and whose reference verdicts must survive them all. In this process, where the
library API runs the code under test: nothing it writes reaches the catalogue, another
implementation's verdict or the next call, and a real Ctrl-C still stops the caller. The command
line's verdicts on each case are tests/cli/test_hostile.py.
"""

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import conformance
from conformance import CATALOGUE
from conformance.mutants.hostile import CASES
from conformance.runtime.environment import available
from conformance.targets.target import load_target
from tests.helpers.hostile import write_case

CLI = pytest.mark.skipif(
    not (available("rich") and available("matplotlib")), reason="the command line needs the [cli] extra"
)


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
