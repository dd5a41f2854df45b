# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Backpropagation four ways, and a bug caught
#
# A notebook to run top to bottom in class (under a minute on a laptop). It shows the four
# equations of backpropagation, the very lines that compute each of them in NumPy, PyTorch and
# JAX, trains every implementation side by side on real handwritten digits, and then plants the
# most common student bug and lets the conformance suite say what it is.
#
# The readable source is `docs/teaching.py` (jupytext, percent format); `docs/teaching.ipynb` is
# the same notebook. Edit the `.py` and run `jupytext --sync docs/teaching.py`.

# %%
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "pyproject.toml").exists())
sys.path.insert(0, str(ROOT / "docs"))
import generate  # noqa: E402  (the rosetta page's tag lookup: docs/generate.py)

import conformance  # noqa: E402
from conformance.diagnosis.diagnose import run  # noqa: E402
from conformance.selfcheck import self_consistency  # noqa: E402
from conformance.training.datasets import load_dataset  # noqa: E402
from conformance.training.side_by_side import train_side_by_side  # noqa: E402
from conformance.training.tasks import Classify  # noqa: E402

# %% [markdown]
# ## The four equations, and each framework's lines
#
# Rows are examples: `x` is `(m, n_0)`, `W^l` is `(n_l, n_{l-1})`, δ is per example and the cost
# averages over the batch, `C = (1/m) Σ_x C_x + (λ/2) Σ_l ‖W^l‖²`. Under each equation are the
# lines that compute it, found through their `# BP…` tags exactly as for `docs/rosetta.md`, so
# this is always the code the suite checks. The autodiff columns show how they get the same
# number without writing the equation.

# %%
# the same table code as docs/rosetta.md (docs/generate.py), for the four equations
four = [equation for equation in generate.EQUATIONS if equation[0].startswith("BP")]
display(Markdown("\n".join(generate.sections(ROOT, four))))

# %% [markdown]
# ## Every implementation, trained side by side on digits
#
# scikit-learn's 1,797 real 8×8 digits (nothing is downloaded), the network of Nielsen's
# chapter 1 scaled down: 64-30-10, sigmoid, quadratic cost, η = 3.0, mini-batches of 10, two
# epochs, weights drawn N(0, 1/n_in) (his chapter 3). Every implementation starts from the same
# weights and sees the same batches in the same order, so their curves should lie on top of each
# other — and they do, to rounding.

# %%
data = load_dataset("digits", seed=0)
spec = conformance.Spec((64, 30, 10), "sigmoid", "sigmoid", "quadratic")
impls = [conformance.load(name) for name in conformance.available_names()]
histories = train_side_by_side(
    impls, spec, Classify, data, lr=3.0, batch_size=10, epochs=2, seed=0, dtype="float64", init="scaled"
)

fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
for name, h in histories.items():
    left.plot(h.step_losses, label=name, alpha=0.7)
    right.plot([e["epoch"] for e in h.epochs], [e["accuracy"] for e in h.epochs], marker="o", label=name)
left.set(title="batch cost per SGD step (all overlaid)", xlabel="step", ylabel="C")
right.set(title="test accuracy after each epoch", xlabel="epoch", ylabel="fraction correct")
right.legend()
plt.show()

for name, h in histories.items():
    print(
        f"{name:15s} accuracy {h.epochs[-1]['accuracy']:.2%}   "
        f"max |θ − θ_reference| {h.epochs[-1]['divergence']:.1e}"
    )

# %% [markdown]
# ## A planted bug, caught and diagnosed
#
# A student's backprop for this very network. It is right except for one classic slip: BP3 and
# BP4 sum over the mini-batch, without the 1/m of the averaged cost.


# %%
def sigmoid(z):
    return 1 / (1 + np.exp(-z))


class Student:
    name = "student"

    def supports(self, spec):
        return spec.activation == spec.output == "sigmoid" and spec.loss == "quadratic"

    def gradients(self, spec, params, x, y, fixed=False):
        m = len(x) if fixed else 1  # the bug: no 1/m
        zs, activations = [], [x]
        for W, b in params:
            zs.append(activations[-1] @ W.T + b)
            activations.append(sigmoid(zs[-1]))
        delta = (activations[-1] - y) * sigmoid(zs[-1]) * (1 - sigmoid(zs[-1]))  # BP1
        grads = []
        for l in range(len(params), 0, -1):
            W = params[l - 1][0]
            grads.insert(
                0,
                (
                    (delta.T @ activations[l - 1]) / m + spec.weight_decay * W,  # BP4
                    delta.sum(axis=0) / m,
                ),
            )  # BP3
            if l > 1:
                delta = (delta @ W) * sigmoid(zs[l - 2]) * (1 - sigmoid(zs[l - 2]))  # BP2
        loss = 0.5 * np.sum((activations[-1] - y) ** 2) / len(x) + 0.5 * spec.weight_decay * sum(
            np.sum(W * W) for W, _ in params
        )
        return type("Gradients", (), {"loss": float(loss), "grads": grads})

    def train(self, spec, params, x, y, *, lr, batches):
        losses = []
        for idx in batches:
            g = self.gradients(spec, params, x[idx], y[idx])
            losses.append(g.loss)
            params = [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(params, g.grads)]
        return type("Trajectory", (), {"losses": losses, "params": params})


student = Student()
verdict = self_consistency(student)
outcome = run(student, conformance.CATALOGUE["nielsen-2-3-1"], "float64", consistency=lambda: verdict.passed)
print("\n".join(outcome.lines()))
print(verdict.line)

# %% [markdown]
# The suite does not only say *where* (∂C/∂W and ∂C/∂b in both layers): every failing gradient
# is exactly c = 10 = m times the reference's, which is the signature of a sum over the batch
# where the cost averages. The self-consistency check differentiates the student's *own* loss
# numerically: the gradients are not its derivative, so this is a bug, not merely a different
# convention. With the 1/m restored, everything passes:

# %%
student.gradients = lambda spec, params, x, y: Student.gradients(student, spec, params, x, y, fixed=True)
fixed = run(student, conformance.CATALOGUE["nielsen-2-3-1"], "float64")
print("passed" if fixed.passed else "\n".join(fixed.lines()), "-", self_consistency(student).line)
