"""Each implementation folder, its recurrent code included, copied alone into an empty directory:
it imports with only its own framework and trains an Elman network by backprop through time with
every entry point it ships, both output modes (the copy engineers take as a template)."""

import pytest

from conformance.runtime.environment import available
from tests.helpers.copy import run_copied

# A spec, weights and data built with the standard library only (no reference, no NumPy seeding
# helpers), converted by each folder's own framework below.
SETUP = """
import random
from types import SimpleNamespace
rng = random.Random(0)
def normal(*shape):
    if len(shape) == 1:
        return [rng.gauss(0, 0.5) for _ in range(shape[0])]
    return [normal(*shape[1:]) for _ in range(shape[0])]
specs = {
    mode: SimpleNamespace(sizes=(3, 4, 2), activation="tanh", output="softmax", loss="log_likelihood",
                          weight_decay=0.01, recurrent=SimpleNamespace(steps=5, outputs=mode))
    for mode in ("all", "last")
}
shapes = [[(4, 3), (4, 4), (4,)], [(2, 4), (2,)]]
raw_params = [[normal(*s) for s in layer] for layer in shapes]
raw_x = normal(6, 5, 3)
labels = [[rng.randrange(2) for _ in range(5)] for _ in range(6)]
raw_y = {
    "all": [[[1.0 if k == c else 0.0 for k in range(2)] for c in row] for row in labels],
    "last": [[1.0 if k == row[-1] else 0.0 for k in range(2)] for row in labels],
}
raw_batches = [[0, 1, 2], [3, 4, 5]] * 3
"""

CHECK = """
for mode, spec in specs.items():
    for name, entry in ENTRIES.items():
        run = entry.train(spec, params, x, y[mode], lr=0.3, batches=batches)
        losses = [float(v) for v in run.losses]
        assert len(losses) == 6 and losses[-1] < losses[0], (name, mode, losses)
        assert [len(layer) for layer in run.params] == [3, 2], (name, mode)
        gradients = getattr(entry, "gradients", None) or entry.backprop  # the module ports' name
        g = gradients(spec, params, x, y[mode])
        assert [len(layer) for layer in g.grads] == [3, 2], (name, mode)
print("ok")
"""


def _run(folder, framework_setup, tmp_path):
    result = run_copied(folder, SETUP + framework_setup + CHECK, tmp_path)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]


@pytest.mark.slow
def test_copy_reference_alone_trains_a_recurrent_net(tmp_path):
    _run(
        "reference",
        """
import numpy as np
import reference
params = [tuple(np.array(a) for a in layer) for layer in raw_params]
x, y = np.array(raw_x), {k: np.array(v) for k, v in raw_y.items()}
batches = [np.array(b) for b in raw_batches]
ENTRIES = {"reference": reference}
""",
        tmp_path,
    )


@pytest.mark.slow
@pytest.mark.skipif(not available("torch"), reason="torch is not installed")
def test_copy_torch_impl_alone_trains_a_recurrent_net(tmp_path):
    _run(
        "torch_impl",
        """
import torch
from torch_impl import autograd, manual, module
t = lambda v: torch.tensor(v, dtype=torch.float64)
params = [tuple(t(a) for a in layer) for layer in raw_params]
x, y = t(raw_x), {k: t(v) for k, v in raw_y.items()}
batches = [torch.tensor(b) for b in raw_batches]
ENTRIES = {"torch.manual": manual, "torch.autograd": autograd, "torch.module": module}
""",
        tmp_path,
    )


@pytest.mark.slow
@pytest.mark.skipif(not available("jax"), reason="jax is not installed")
def test_copy_jax_impl_alone_trains_a_recurrent_net(tmp_path):
    setup = """
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
from types import SimpleNamespace
from jax_impl import autodiff, manual
t = lambda v: jnp.asarray(v, dtype=jnp.float64)
params = [tuple(t(a) for a in layer) for layer in raw_params]
x, y = t(raw_x), {k: t(v) for k, v in raw_y.items()}
batches = [jnp.asarray(b) for b in raw_batches]
scan = SimpleNamespace(backprop=manual.backprop, train=manual.train_compiled)
ENTRIES = {"jax.manual": manual, "jax.autodiff": autodiff, "jax.scan": scan}
"""
    if available("flax") and available("optax"):
        setup += """
from jax_impl import flax_module
ENTRIES["jax.flax"] = flax_module
"""
    _run("jax_impl", setup, tmp_path)
