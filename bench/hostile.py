"""Every hostile implementation (conformance/mutants/hostile.py) through ``backprop-conformance check`` as a
user runs it — a fresh interpreter per case — with its exit code, wall time and first failure line,
as a markdown table.

    python bench/hostile.py                      # this checkout, --jobs 1
    python bench/hostile.py --jobs 2
    python bench/hostile.py --repo /tmp/before   # another checkout's command line, same cases

``--repo`` runs ``python -m conformance`` with that checkout first on ``sys.path`` (the cases come
from this checkout), so a version without the time limit is stopped after ``--kill-after`` seconds
and reported as such. Every case checks the problems ``n[ei]*`` (neuron, nielsen-2-3-1) unless it
names its own.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conformance.mutants.hostile import CASES, source


def run_case(name, repo, jobs, kill_after, folder):
    case = CASES[name]
    file = folder / f"{name.replace('-', '_')}.py"
    file.write_text(source(name))
    argv = [a.replace("{out}", str(folder / f"out-{name}")) for a in case.argv]
    if "--problems" not in argv:
        argv += ["--problems", "n[ei]*"]
    target = f"{file}:{case.attr}" if case.attr else str(file)
    env = dict(os.environ, PYTHONPATH=str(repo))
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "conformance", "check", target, "--jobs", str(jobs), *argv],
            capture_output=True,
            text=True,
            timeout=kill_after,
            env=env,
            cwd=repo,
        )
        code, text = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        code = f"hung (killed after {kill_after:g} s)"
        text = (exc.stdout or b"").decode() + (exc.stderr or b"").decode()
    wall = time.perf_counter() - start
    lines = [line.strip() for line in text.splitlines()]
    failing = [line for line in lines if " FAIL: " in line or "error:" in line or "Traceback" in line] or [
        line for line in lines if "checks passed" in line
    ]
    matched = isinstance(code, int) and code == case.exit and re.search(case.expect, text)
    return code, wall, (failing or ["(no output)"])[0][:150], bool(matched)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repo", type=Path, default=Path(__file__).resolve().parents[1])
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--kill-after", type=float, default=60.0)
    p.add_argument("--cases", default="", help="comma-separated subset")
    args = p.parse_args()
    names = [n for n in CASES if not args.cases or n in args.cases.split(",")]
    print(f"repo {args.repo}, --jobs {args.jobs}\n")
    print("| case | expected | exit | wall (s) | as expected | first line |")
    print("|---|---:|---:|---:|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            code, wall, line, ok = run_case(
                name, args.repo.resolve(), args.jobs, args.kill_after, Path(folder)
            )
            print(
                f"| {name} | {CASES[name].exit} | {code} | {wall:.1f} | {'yes' if ok else 'NO'} | "
                f"`{line.replace('|', '¦')}` |",
                flush=True,
            )


if __name__ == "__main__":
    main()
