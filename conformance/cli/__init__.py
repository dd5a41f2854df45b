"""Command line: ``backprop-conformance`` (or ``python -m conformance``).

    train   train every available implementation side by side on real digits (the main job)
    report  run the conformance matrix; write a table, report.json, report.md and plots
    check   run the conformance matrix on your own implementation (PATH.py:ATTR or module:attr)
    conventions  torch.optim's and Optax's default optimizers against each other and the reference:
            where they part, by how much, and the settings that make them agree

Exit codes: 0 every check passed; 1 at least one check failed (code under test that raised, exited,
crashed, hung past --timeout or returned something malformed is a failed check); 2 the command could
not run (a bad option or target, a missing optional dependency, a bad data file: one line on
stderr); 130 interrupted (Ctrl-C), every worker process stopped.
"""

import sys
from collections.abc import Sequence

from conformance.cli.parser import PROG, parser
from conformance.runtime.threads import share_cores
from conformance.runtime.xla import use_fast_compile
from conformance.targets.isolation import stop_all


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "xla_compile", None) == "fast":  # check and report; before JAX starts
        use_fast_compile()
    share_cores(getattr(args, "jobs", 1))  # the --jobs workers inherit their share of the cores
    try:
        from conformance.cli import commands

        return getattr(commands, args.command)(args)
    except (ValueError, TypeError, ImportError, OSError, FloatingPointError) as exc:
        # ImportError covers Unavailable and a missing optional dependency (matplotlib, rich, ...)
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        stop_all()  # every worker process, whatever it was running
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
