"""Golden vectors: the reference's results on a few fixed problems, written to conformance/golden/.

They pin the expected numbers so that a change to the reference itself (or to the problem
generator) cannot pass silently: tests/test_golden.py recomputes everything and compares.
Regenerate only for a deliberate change, and say why in the commit:

    python -m conformance.golden
"""

from pathlib import Path

import numpy as np

import reference

from .problems import golden_problems

GOLDEN_DIR = Path(__file__).parent / "golden"


def arrays(problem):
    """Inputs and reference outputs of one problem, flattened to named arrays."""
    p = problem
    g = reference.backprop(p.spec, p.params, p.x, p.y)
    t = reference.train(p.spec, p.params, p.x, p.y, lr=p.lr, batches=p.batches)
    out = {"x": p.x, "y": p.y, "batches": np.concatenate(p.batches),
           "batch_sizes": np.array([len(b) for b in p.batches]), "loss": np.array(g.loss),
           "losses": np.array(t.losses)}
    for l in range(1, len(p.params) + 1):
        out[f"W{l}"], out[f"b{l}"] = p.params[l - 1]
        out[f"z{l}"], out[f"a{l}"], out[f"delta{l}"] = g.zs[l - 1], g.activations[l], g.deltas[l - 1]
        out[f"dW{l}"], out[f"db{l}"] = g.grads[l - 1]
        out[f"final_W{l}"], out[f"final_b{l}"] = t.params[l - 1]
    return out


def main():
    GOLDEN_DIR.mkdir(exist_ok=True)
    for problem in golden_problems():
        path = GOLDEN_DIR / f"{problem.name}.npz"
        np.savez(path, **arrays(problem))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
