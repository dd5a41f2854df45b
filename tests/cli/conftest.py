"""The command line in this process (``main(argv)``, the code behind the entry point: a subprocess each
would cost an interpreter start and the imports, 2–4 s of CPU)."""

import os
from types import SimpleNamespace

import pytest

from conformance.runtime.threads import THREAD_VARS
from conformance.runtime.xla import FAST_JAX_ENV


@pytest.fixture
def run(capsys, monkeypatch, tmp_path):
    """``run(*args)``: ``main(args)`` in this process, in tmp_path; .returncode (argparse's errors exit:
    their status), .stdout, .stderr. The variables main sets (threads.py, xla.py) are restored after
    the test."""
    from conformance.cli import main

    def run(*args):
        monkeypatch.chdir(tmp_path)
        for var in (*THREAD_VARS, *FAST_JAX_ENV):  # main sets them: restored after
            monkeypatch.setenv(var, os.environ.get(var, ""))
            if not os.environ[var]:
                monkeypatch.delenv(var)
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
        out = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)

    return run
