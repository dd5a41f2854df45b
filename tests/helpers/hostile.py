"""The hostile implementations (conformance/mutants/hostile.py) as the tests use them: each written to a
file, the ``check`` arguments that run it, and the verdict it must get (tests/cli/test_hostile.py
through the command line, tests/harness/test_hostile.py through the pytest route and the library)."""

import re
from pathlib import Path

from conformance.mutants.hostile import CASES, source

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
