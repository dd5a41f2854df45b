"""Golden vectors: the reference's results on a few fixed problems, written to conformance/golden/.

They pin the expected numbers so that a change to the reference itself (or to the problem
generator) cannot pass silently: tests/harness/test_golden.py recomputes everything and compares.
``python -m conformance.golden`` writes the files that are missing; existing files are left
byte for byte as they are. Regenerate one only for a deliberate change, by name, and say why in the
commit:

    python -m conformance.golden golden-relu-kink
"""

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import reference
from conformance.problems import Problem, golden_problems, layer_names, optimizer_problems
from reference.conv import conv_stack

GOLDEN_DIR = Path(__file__).parent / "golden"
# Two optimizer problems pinned as well: Adam with global-norm clipping (clip_eps, 18 of 32 steps
# clipped) and velocity-form momentum across an η drop.
GOLDEN_OPTIMIZERS = ("opt-adam-clip-norm-eps", "opt-momentum-velocity-lr-drop")


def pinned() -> list[Problem]:
    """Every problem with a golden file: golden_problems() and the GOLDEN_OPTIMIZERS."""
    return golden_problems() + [p for p in optimizer_problems() if p.name in GOLDEN_OPTIMIZERS]


def arrays(problem: Problem) -> dict[str, Any]:  # arrays; Any: np.savez(**) takes allow_pickle too
    """Inputs and reference outputs of one problem, flattened to named arrays."""
    p = problem
    g = reference.backprop(p.spec, p.params, p.x, p.y)
    t = reference.train(p.spec, p.params, p.x, p.y, lr=p.lr, batches=p.batches, optimizer=p.optimizer)
    out = {
        "x": p.x,
        "y": p.y,
        "batches": np.concatenate(p.batches),
        "batch_sizes": np.array([len(b) for b in p.batches]),
        "loss": np.array(g.loss),
        "losses": np.array(t.losses),
    }
    c = len(conv_stack(p.spec)[1])
    for l in range(1, len(p.params) + 1):
        names = layer_names(l, c, len(p.params[l - 1]))
        out[f"z{l}"], out[f"a{l}"], out[f"delta{l}"] = g.zs[l - 1], g.activations[l], g.deltas[l - 1]
        for q, param, grad, final in zip(names, p.params[l - 1], g.grads[l - 1], t.params[l - 1]):
            out[f"{q}{l}"], out[f"d{q}{l}"], out[f"final_{q}{l}"] = param, grad, final
    if t.state is not None:  # an optimizer problem: its schedule and the optimizer's final state
        out["lr"], out["state_t"] = (
            np.broadcast_to(np.asarray(p.lr, dtype=np.float64), len(p.batches)),
            np.array(t.state["t"]),
        )
        for key in sorted(set(t.state) - {"t"}):
            for l, arrays_l in enumerate(t.state[key], start=1):
                for q, a in zip(layer_names(l, c, len(arrays_l)), arrays_l):
                    out[f"state_{key}_{q}{l}"] = a
    return out


def main(names: Sequence[str] = ()) -> None:
    """Write the golden files of ``names`` (default: every golden problem without a file yet)."""
    problems = {p.name: p for p in pinned()}
    unknown = sorted(set(names) - set(problems))
    if unknown:
        raise SystemExit(f"names: unknown golden problems {unknown}; expected some of {list(problems)}")
    GOLDEN_DIR.mkdir(exist_ok=True)
    for name, problem in problems.items():
        path = GOLDEN_DIR / f"{name}.npz"
        if name in names or (not names and not path.exists()):
            np.savez(path, **arrays(problem))
            print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
