"""Generate the site pages' generated regions in docs/*.md: ``python docs/site/pages.py`` rewrites
them (``nox -s docs`` does it before building); ``tests/e2e/test_site.py`` fails when one is stale.

A page asks for a region with an HTML comment (invisible on GitHub and on the site); everything up to
``<!-- end generated -->`` is rewritten:

    <!-- generated: sections EQUATIONS -->
        docs/generate.py's tables for that list of equations (its ``sections``): the lines found
        through their ``# BP…`` tags, which the site shows as one tab per implementation
    <!-- generated: source PATH TEXT -->
        the lines of PATH that contain TEXT, as a code block titled PATH
    <!-- generated: run COMMAND -->
        COMMAND's real output (``backprop-conformance`` runs as ``python -m conformance``, with a
        140-column terminal; the checkout's path is shown as nothing, so paths read relative to it)
    <!-- generated: readme HEADING -->
        the first code block under HEADING in README.md

So every such page shows what the source says, a command's output is never pasted by hand, and a
page that falls behind fails a test.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs"))  # docs/generate.py: the tag lookup and its tables
import generate  # noqa: E402

DOCS = ROOT / "docs"
REGION = re.compile(r"(<!-- generated: (\w+) (.*?) -->\n)(.*?)(<!-- end generated -->)", re.S)
WIDTH = "140"  # columns of the terminal the commands' tables are laid out for


class RegionError(ValueError):
    pass


def pages(root=ROOT):
    """The docs/*.md files that have a generated region."""
    return [p for p in sorted((root / "docs").glob("*.md")) if REGION.search(p.read_text())]


def render(text, root=ROOT, run=True):
    """``text`` with every region regenerated; with ``run=False`` a ``run`` region is left as it is
    (the fast check: commands take seconds each)."""

    def region(match):
        head, kind, args, _, end = match.groups()
        if kind == "run" and not run:
            return match[0]
        if kind not in KINDS:
            raise RegionError(f"unknown generated region {kind!r} (known: {', '.join(KINDS)})")
        return head + "\n".join(KINDS[kind](root, args)) + "\n" + end

    return REGION.sub(region, text)


def sections(root, name):
    return ["", *generate.sections(root, getattr(generate, name))]


def source(root, args):
    path, text = shlex.split(args)
    found = [line for line in (root / path).read_text().splitlines() if text in line]
    if not found:
        raise RegionError(f"{path}: no line contains {text!r}")
    indent = min(len(line) - len(line.lstrip()) for line in found)
    return ["", f'```python title="{path}"', *(line[indent:] for line in found), "```", ""]


def run_command(root, command):
    argv = shlex.split(command)
    if argv[0] != "backprop-conformance":
        raise RegionError(f"run: only backprop-conformance commands, not {argv[0]!r}")
    env = {**os.environ, "COLUMNS": WIDTH, "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "conformance", *argv[1:]], cwd=root, env=env, capture_output=True, text=True
    )
    if done.returncode not in (0, 1):  # 1: a check failed, which a tutorial may well show
        raise RegionError(f"{command}: exit status {done.returncode}\n{done.stderr}")
    output = (done.stdout + done.stderr).replace(f"{root}{os.sep}", "").rstrip()
    return ["", "```console", f"$ {command}", output, "```", "", f"Exit status {done.returncode}.", ""]


def readme(root, heading):
    text = (root / "README.md").read_text()
    if f"\n{heading}\n" not in text:
        raise RegionError(f"README.md has no heading {heading!r}")
    block = re.search(r"^```.*?^```$", text.split(f"\n{heading}\n", 1)[1], re.S | re.M)
    if block is None:
        raise RegionError(f"README.md: no code block under {heading!r}")
    return ["", block[0], ""]


KINDS = {"sections": sections, "source": source, "run": run_command, "readme": readme}


def main():
    try:
        for path in pages():
            text = path.read_text()
            new = render(text)
            if new != text:
                path.write_text(new)
                print(f"wrote {path.relative_to(ROOT)}")
    except (RegionError, generate.TagError) as exc:
        print(f"docs/site/pages.py: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
