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
# JAX, trains every implementation side by side on real handwritten digits, then plants the
# most common student bug and lets the conformance suite say what it is, and ends with two
# libraries' RMSprop, which share a name but not their defaults.
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
import reference  # noqa: E402
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

# %% [markdown]
# ## torch.optim vs Optax: RMSprop
#
# Both libraries call it RMSprop, and neither default looks special. `torch.optim.RMSprop(params,
# lr)` averages the squared gradients with α = 0.99 and adds ε outside the root, g / (√s + ε);
# `optax.rmsprop(lr)` decays them by 0.9 and adds ε inside, g / √(s + ε). The suite names the
# conventions, not the frameworks: `rho` and `eps_in_sqrt` of `conformance.Optimizer`. The same
# network, weights and 150 mini-batches (one epoch) go through the two framework templates,
# torch.module (an `nn.Module` trained by `torch.optim`) and jax.flax (Flax NNX trained by Optax),
# each told its own library's defaults, at η = 0.01; the NumPy reference runs each convention too.

# %%
torch_defaults = conformance.Optimizer("rmsprop", rho=0.99, eps=1e-8)  # RMSprop(params, lr=0.01)
optax_defaults = conformance.Optimizer("rmsprop", rho=0.9, eps=1e-8, eps_in_sqrt=True)  # rmsprop(0.01)
params = reference.init_params(spec.sizes, 0, scheme="scaled")
batches = reference.batch_order(len(data.x_train), 10, 1, 1)  # 150 mini-batches of 10
x, y = data.x_train, data.y_train()


def run_with(name, optimizer):
    """Each step's batch cost (step 1's is before any update) and the test accuracy after."""
    run = conformance.load(name).train(spec, params, x, y, lr=0.01, batches=batches, optimizer=optimizer)
    correct = reference.accuracy(run.params, data.x_test, data.labels_test, "sigmoid", "sigmoid")
    return np.array(run.losses), correct


def apart(a, b):
    """|C_a − C_b| / C_a per step, and the first step (1-based) where it passes 1e-12."""
    rel = np.abs(a - b) / a
    return rel, int(np.argmax(rel > 1e-12)) + 1 if np.any(rel > 1e-12) else None


(torch_C, torch_acc), (optax_C, optax_acc) = (
    run_with("torch.module", torch_defaults),
    run_with("jax.flax", optax_defaults),
)
rel, first = apart(torch_C, optax_C)
steps = np.arange(1, len(batches) + 1)
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
left.plot(steps, torch_C, label=f"torch.optim defaults: {torch_defaults.label}")
left.plot(steps, optax_C, "--", label=f"Optax defaults: {optax_defaults.label}")
left.set(title="batch cost per step, the same weights and batches", xlabel="step", ylabel="C")
left.legend(fontsize="small")
right.semilogy(steps[1:], rel[1:], marker=".")
right.set(title="|C_torch − C_optax| / C_torch (step 1: equal)", xlabel="step", ylabel="relative difference")
plt.show()
print(
    f"first step apart: {first}, by {rel[first - 1]:.0%}; largest {rel.max():.0%} at step {rel.argmax() + 1}"
)
print(f"test accuracy after one epoch: torch.optim {torch_acc:.1%}, Optax {optax_acc:.1%}")
for name, optimizer, C in (("torch.module", torch_defaults, torch_C), ("jax.flax", optax_defaults, optax_C)):
    ref_C = run_with("reference", optimizer)[0]
    print(f"{name} against the reference with {optimizer.label}: {apart(ref_C, C)[0].max():.1e}")

# %% [markdown]
# Neither library is wrong: each matches the reference under its own convention. They differ
# from the first update on: s₁ = (1 − ρ)g², so torch's first step is about g / √(0.01 g²) = 10
# per unit of η in every weight, Optax's g / √(0.1 g² + ε) ≈ 3.2. Told the same convention
# (`optax.rmsprop(lr, decay=0.99, eps_in_sqrt=False)`, which is what jax.flax builds from
# `torch_defaults`), the two agree to float64 rounding:

# %%
same_C, _ = run_with("jax.flax", torch_defaults)
same, first_same = apart(torch_C, same_C)
plt.figure(figsize=(6, 4))
plt.semilogy(steps, np.maximum(same, 1e-18), marker=".", label="|C_torch − C_optax| / C_torch")
plt.axhline(np.finfo(np.float64).eps, color="grey", linestyle=":", label="float64 ε = 2.2e-16")
plt.axhline(1e-10, color="red", linestyle="--", label="the suite's float64 tolerance 1e-10")
plt.title("torch.optim and Optax, both ρ = 0.99, ε outside the root")
plt.xlabel("step")
plt.ylabel("relative difference (0 drawn at 1e-18)")
plt.ylim(1e-19, 1e-6)  # room above the tolerance for the legend
plt.legend(fontsize="small", loc="upper right")
plt.show()
print(
    f"largest relative difference over {len(steps)} steps: {same.max():.1e} (first above 1e-12: {first_same})"
)
