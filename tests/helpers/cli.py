"""What the command-line tests share (tests/cli): a student's partial implementation, the real entry
point in a subprocess, and the size of a written PNG. The in-process ``main(argv)`` is the ``run``
fixture (tests/cli/conftest.py): only tests/cli imports conformance.cli (tests/harness/test_layout.py)."""

import struct
import subprocess
import sys
from pathlib import Path

PNG_SIZE = (800, 500)  # plots.SIZE at plots.DPI

STUDENT = '''
"""A student's backprop for sigmoid + quadratic only: checked on what it supports."""
import numpy as np

name = "student"

def supports(spec):
    return spec.activation == spec.output == "sigmoid" and spec.loss == "quadratic"

def _sigmoid(z):
    return 1 / (1 + np.exp(-z))

class _G:
    pass

def gradients(spec, params, x, y):
    m = len(x)
    acts, zs = [x], []
    for W, b in params:
        zs.append(acts[-1] @ W.T + b)
        acts.append(_sigmoid(zs[-1]))
    delta = (acts[-1] - y) * acts[-1] * (1 - acts[-1]){bug}
    grads = []
    for l in range(len(params), 0, -1):
        grads.insert(0, ((delta.T @ acts[l - 1]) / m + spec.weight_decay * params[l - 1][0],
                         delta.mean(axis=0)))
        if l > 1:
            s = _sigmoid(zs[l - 2])
            delta = (delta @ params[l - 1][0]) * s * (1 - s)
    g = _G()
    g.loss = float(0.5 * np.sum((acts[-1] - y) ** 2) / m
                   + 0.5 * spec.weight_decay * sum(np.sum(W * W) for W, _ in params))
    g.grads = grads
    return g

def train(spec, params, x, y, *, lr, batches):
    losses = []
    for idx in batches:
        g = gradients(spec, params, x[idx], y[idx])
        losses.append(g.loss)
        params = [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(params, g.grads)]
    t = _G()
    t.losses, t.params = losses, params
    return t
'''


def cli(*args, cwd=None, timeout=300):
    """``python -m conformance ARGS`` in a subprocess: the real entry point, exit status and all."""
    return subprocess.run(
        [sys.executable, "-m", "conformance", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def png_size(path):
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])
