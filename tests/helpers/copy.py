"""Copy one implementation folder alone into an empty directory and run code there in a fresh
interpreter that cannot import the rest of the project (an import hook refuses those names)."""

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ("reference", "torch_impl", "jax_impl", "conformance")

BLOCKER = """
import importlib.abc, sys
class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ImportError(f'{{name}} is not part of the copied folder')
sys.meta_path.insert(0, _Block())
"""


def run_copied(folder, code, tmp_path):
    """Copy ROOT/folder to tmp_path/folder and run ``code`` there; return the CompletedProcess."""
    shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    blocked = tuple(p for p in PROJECT if p != folder)
    script = BLOCKER.format(blocked=blocked) + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ""},
    )
