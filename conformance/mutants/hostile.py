"""Hostile implementations: correct maths, hostile *behaviour* — the ordinary ways in which the code
students hand ``backprop-conformance check`` goes wrong that are not bugs in BP1–BP4 (dense.py has
those). Each is a small file: the reference's own ``backprop`` and ``train`` with one thing changed,
and the verdict it must get. The tests write each to a file and check it through the command line
(tests/cli/test_hostile.py: ``--jobs 1`` and ``--jobs 2``) and the pytest route
(tests/harness/test_hostile.py); bench/hostile.py times them.

Exit codes (docs/contract.md): 0 every check passed, 1 a check failed (code under test that
raised, exited, crashed, hung or returned something malformed fails its check), 2 the command could
not run (the target cannot be loaded, or ``supports`` does not answer True or False).
"""

from dataclasses import dataclass

PRELUDE = """\
import os, signal, sys, time
from types import SimpleNamespace

import numpy as np

import reference


def gradients(spec, params, x, y):
    return reference.backprop(spec, params, x, y)


def train(spec, params, x, y, *, lr, batches):
    return reference.train(spec, params, x, y, lr=lr, batches=batches)

"""


@dataclass(frozen=True)
class Case:
    what: str  # the behaviour, in a user's words
    code: str  # appended to PRELUDE (a later def replaces the prelude's)
    exit: int  # the exit code `check` must give
    expect: str  # a regular expression the output must match
    attr: str = ""  # the target's :ATTR, if not the module
    argv: tuple = ()  # extra options (a shorter --timeout, other problems)
    crash: bool = False  # ends its worker process (a real exit, signal or hang)


def _g(body):
    return f"\ndef gradients(spec, params, x, y):\n    g = reference.backprop(spec, params, x, y)\n{body}\n"


def _t(body):
    return (
        f"\ndef train(spec, params, x, y, *, lr, batches):\n"
        f"    t = reference.train(spec, params, x, y, lr=lr, batches=batches)\n{body}\n"
    )


CASES = {
    # --- what it returns ---------------------------------------------------------------------
    "gradients-returns-none": Case(
        "gradients forgets its return statement",
        _g("    g = None"),
        1,
        r"structure: gradients result FAIL: gradients returned None",
    ),
    "grads-without-bias": Case(
        "gradient pairs without their bias entry, [(dW,), ...]",
        _g("    return SimpleNamespace(loss=g.loss, grads=[(dW,) for dW, db in g.grads])"),
        1,
        r"grads\[layers? 1\b.* FAIL: expected a pair \(dW, db\), got a tuple of 1",
    ),
    "bias-none": Case(
        "(dW, None) pairs",
        _g("    return SimpleNamespace(loss=g.loss, grads=[(dW, None) for dW, db in g.grads])"),
        1,
        r"db\[layers? 1\b.* FAIL: expected a numpy float64 array of shape \(\d+,\), "
        r"got NoneType",
    ),
    "lists-not-arrays": Case(
        "nested lists instead of arrays",
        _g(
            "    return SimpleNamespace(loss=g.loss, grads=[(dW.tolist(), db.tolist()) "
            "for dW, db in g.grads])"
        ),
        1,
        r"dW\[layers? 1\b.* FAIL: expected a numpy float64 array .*, "
        r"got a list of \d+",
    ),
    "integer-arrays": Case(
        "integer arrays",
        _g(
            "    return SimpleNamespace(loss=g.loss, grads=[(dW.astype(int), "
            "db.astype(int)) for dW, db in g.grads])"
        ),
        1,
        r"dW\[layers? 1\b.* FAIL: dtype int64, expected float64",
    ),
    "dict-result": Case(
        "a dict instead of an object",
        _g("    return {'loss': g.loss, 'grads': g.grads}"),
        1,
        r"gradients returned a dict, which has no attribute loss or grads",
    ),
    "tuple-result": Case(
        "a (loss, grads) tuple",
        _g("    return (g.loss, g.grads)"),
        1,
        r"gradients returned a tuple, which has no attribute loss or grads",
    ),
    "attribute-raises": Case(
        "a result whose loss property raises",
        "\nclass Result:\n    grads = None\n    @property\n    def loss(self):\n"
        "        raise RuntimeError('not computed yet')\n"
        + _g("    r = Result()\n    r.grads = g.grads\n    return r"),
        1,
        r"loss FAIL: expected a float, got an attribute whose reading raised: raised RuntimeError",
    ),
    "train-returns-list": Case(
        "train returns its losses alone",
        _t("    return t.losses"),
        1,
        r"train returned a list, which has no attribute losses or params",
    ),
    # --- what it does to its inputs ------------------------------------------------------------
    "consumes-batches": Case(
        "train pops its batches off the list it is handed (correct: it gets a list of its own)",
        "\ndef train(spec, params, x, y, *, lr, batches):\n    mine = []\n    while batches:\n"
        "        mine.append(batches.pop(0))\n"
        "    return reference.train(spec, params, x, y, lr=lr, batches=mine)\n",
        0,
        r"\d+ of \d+ checks passed, 0 skipped",
    ),
    "writes-y": Case(
        "np.subtract(a, y, out=y): correct maths, written into its input",
        "\ndef gradients(spec, params, x, y):\n    np.subtract(y, 0.0, out=y)\n"
        "    return reference.backprop(spec, params, x, y)\n",
        1,
        r"call gradients FAIL: modifies its input y in place .*"
        r"copy it first \(y = y\.copy\(\)\)",
    ),
    "nan-into-weights": Case(
        "writes NaN into the caller's weights after computing",
        _g("    params[0][0][...] = np.nan\n    return g"),
        1,
        r"call gradients FAIL: modifies its input params in place",
    ),
    # --- how it ends -----------------------------------------------------------------------------
    "sys-exit-0-in-gradients": Case(
        "sys.exit(0) inside gradients",
        _g("    sys.exit(0)"),
        1,
        r"call gradients FAIL: called sys\.exit\(0\)",
    ),
    "sys-exit-0-in-train": Case(
        "sys.exit(0) inside train", _t("    sys.exit(0)"), 1, r"call train FAIL: called sys\.exit\(0\)"
    ),
    "sys-exit-3": Case("sys.exit(3) inside gradients", _g("    sys.exit(3)"), 1, r"called sys\.exit\(3\)"),
    "base-exception": Case(
        "raises a BaseException subclass",
        "\nclass Stop(BaseException):\n    pass\n" + _g("    raise Stop('stop')"),
        1,
        r"call gradients FAIL: raised .*Stop: stop",
    ),
    "keyboard-interrupt-subclass": Case(
        "raises a KeyboardInterrupt subclass",
        "\nclass Interrupted(KeyboardInterrupt):\n    pass\n" + _g("    raise Interrupted('bye')"),
        1,
        r"call gradients FAIL: raised .*Interrupted: bye",
    ),
    "memory-error": Case(
        "a runaway allocation", _g("    np.ones((1 << 40,))"), 1, r"call gradients FAIL: raised .*MemoryError"
    ),
    "os-exit-0": Case(
        "os._exit(0) inside gradients",
        _g("    os._exit(0)"),
        1,
        r"call gradients FAIL: the process exited with code 0 while running gradients",
        crash=True,
    ),
    "segfault": Case(
        "a segfault inside gradients",
        _g("    os.kill(os.getpid(), signal.SIGSEGV)"),
        1,
        r"the process was killed by signal 11 \(SIGSEGV\) while running gradients",
        crash=True,
    ),
    "hangs": Case(
        "gradients never returns",
        _g("    time.sleep(3600)"),
        1,
        r"call gradients FAIL: timed out: no result after \d+ s",
        argv=("--timeout", "1"),
        crash=True,
    ),
    # --- what it declares ------------------------------------------------------------------------
    "name-not-a-string": Case("name = 7", "\nname = 7\n", 0, r"(?m)^│ 7 "),
    "name-with-markup": Case(
        "a name with rich markup in it", "\nname = 'my [/bold] net'\n", 0, r"my \[/bold\] net"
    ),
    "supports-returns-string": Case(
        "supports() returns 'no'",
        "\ndef supports(spec):\n    return 'no'\n",
        2,
        r"error: supports: expected True or False, got 'no' \(str\)",
    ),
    "supports-raises": Case(
        "supports() raises",
        "\ndef supports(spec):\n    return spec.depth > 2\n",
        2,
        r"error: supports: raised AttributeError",
    ),
    "supports-conv-string": Case(
        "supports_conv = 'no' (not an opt-in)",
        "\nsupports_conv = 'no'\n",
        0,
        r"\d+ problems skipped: .* none it accepted has conv layers",
        argv=("--problems", "*-decay"),
    ),
    "partial-with-out": Case(
        "--out on an implementation whose supports() declines the plotted problem",
        "\ndef supports(spec):\n    return spec.output == 'tanh'\n",
        0,
        r"not plotted: .* \(its supports\(\) declines 64-30-10",
        argv=("--problems", "*tanh*", "--out", "{out}"),
    ),
    # --- how it loads ----------------------------------------------------------------------------
    "syntax-error": Case(
        "a syntax error",
        "\ndef gradients(spec, params, x, y)\n    pass\n",
        2,
        r"error: target: importing .* raised SyntaxError",
    ),
    "raises-at-import": Case(
        "an exception at import",
        "\nraise RuntimeError('no data file')\n",
        2,
        r"error: target: importing .* raised RuntimeError: no data file",
    ),
    "sys-exit-at-import": Case(
        "sys.exit(0) at import", "\nsys.exit(0)\n", 2, r"error: target: importing .* called sys\.exit\(0\)"
    ),
    "os-exit-at-import": Case(
        "os._exit(0) at import",
        "\nos._exit(0)\n",
        2,
        r"error: target: loading .* ended its process: it exited with code 0",
        crash=True,
    ),
    "constructor-raises": Case(
        "a class whose constructor raises",
        "\nclass Network:\n    def __init__(self):\n        raise RuntimeError('no config')\n"
        "    gradients = staticmethod(gradients)\n    train = staticmethod(train)\n",
        2,
        r"error: target: constructing Network\(\) .* raised RuntimeError: no config",
        attr="Network",
    ),
    "constructor-needs-arguments": Case(
        "a class whose constructor needs arguments",
        "\nclass Network:\n    def __init__(self, sizes):\n        self.sizes = sizes\n"
        "    gradients = staticmethod(gradients)\n    train = staticmethod(train)\n",
        2,
        r"error: target: constructing Network\(\) .* raised TypeError: .*missing 1 required",
        attr="Network",
    ),
}


def source(name: str) -> str:
    """The file of hostile case ``name``."""
    return f'"""Hostile case {name}: {CASES[name].what}."""\n' + PRELUDE + CASES[name].code
