"""Conv blocks and optimizers on the data-parallel ports, where the split over workers could go wrong:
a conv run at 3 workers with ragged batches (and an empty shard), Adam with global-norm clipping
whose per-worker clip would give another trajectory, and every worker ending with the same
parameters and optimizer state. The whole catalogue on both ports is
conformance/suite/test_distributed.py; this file pins the cases by construction.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import reference
from conformance import CATALOGUE, Conv, Spec, check
from conformance.problems import make_problem
from conformance.runtime.environment import available
from reference import optimizers
from reference.validation import check_optimizer
from tests.helpers.copy import ROOT

WORKERS = 3
# 10 examples in batches of 4, 4, 2 (3 epochs): at 3 workers shards of 2, 1, 1 and of 1, 1, 0 (an
# empty one); the backward pass over all 10 has shards of 4, 3, 3.
CONV = make_problem(
    Spec(
        (27, 3),
        "tanh",
        "softmax",
        "log_likelihood",
        0.01,
        input_shape=(1, 6, 6),
        conv=(Conv(3, 3, padding=1, pool="max"),),
    ),
    500,
    m=10,
    batch_size=4,
    epochs=3,
    lr=0.3,
    name="conv-ragged-w3",
)
# Adam, ‖g‖ clipped to 0.5 on 18 of its 32 steps (batches of 3: one example per worker)
CLIP = CATALOGUE["opt-adam-clip-norm-eps"]


def test_the_problems_exercise_what_they_are_for():
    sizes = {len(i) for i in CONV.batches}
    assert sizes == {4, 2} and len(CONV.x) % WORKERS, "ragged shards, and an empty one for the batch of 2"
    per_shard, single = clipped_per_shard(CLIP, WORKERS), reference_train(CLIP).params
    gap = max(float(np.max(np.abs(a - b))) for P, R in zip(per_shard, single) for a, b in zip(P, R))
    assert gap > 1e-2, f"clipping each worker's gradient changes the run by only {gap:.2g}"


def reference_train(problem):
    p = problem
    return reference.train(p.spec, p.params, p.x, p.y, lr=p.lr, batches=p.batches, optimizer=p.optimizer)


def clipped_per_shard(problem, k):
    """The mistake the clip test must catch: each worker clips its own shard's gradient, then the
    shards are combined (weighted by size, as they must be) and Adam steps on the sum."""
    hyper = check_optimizer(problem.optimizer)
    params = problem.params
    state = optimizers.init_state(hyper, params)
    for idx in problem.batches:
        g = [(np.zeros_like(W), np.zeros_like(b)) for W, b in params]
        for shard in np.array_split(np.asarray(idx), k):
            grads = reference.backprop(problem.spec, params, problem.x[shard], problem.y[shard]).grads
            grads = optimizers.clip(grads, None, hyper.clip_norm, hyper.clip_eps)
            w = len(shard) / len(idx)
            g = [(gW + w * dW, gb + w * db) for (gW, gb), (dW, db) in zip(g, grads)]
        params, state = optimizers.step(hyper._replace(clip_norm=None), params, g, state, problem.lr)
    return params


def failures(impl, runs):
    return [
        f"{p.name} {dtype} {r.check}: {r.message}"
        for p, dtype in runs
        for r in check(impl, p, dtype)
        if not r.passed
    ]


RUNS = [(CONV, "float64"), (CONV, "float32"), (CLIP, "float64"), (CLIP, "float32")]


@pytest.mark.skipif(not available("torch"), reason="torch is not installed")
def test_torch_ddp_conv_ragged_and_global_clipping_with_every_worker_equal():
    import torch

    from conformance.targets.adapters import DataParallel as Adapter
    from conformance.targets.adapters import Torch
    from torch_impl.distributed import DataParallel

    ddp = DataParallel(WORKERS)
    try:
        impl = Adapter(
            Torch("torch.ddp-w3", ddp.gradients, ddp.train, supports_optimizer=ddp.supports_optimizer), ddp
        )
        assert failures(impl, RUNS) == []
        p = CLIP
        ranks = ddp.train_ranks(
            p.spec,
            [(torch.from_numpy(W), torch.from_numpy(b)) for W, b in p.params],
            torch.from_numpy(p.x),
            torch.from_numpy(p.y),
            lr=p.lr,
            batches=[torch.from_numpy(np.asarray(i)) for i in p.batches],
            optimizer=p.optimizer,
        )
    finally:
        ddp.close()
    first = ranks[0]
    assert (
        len(ranks) == WORKERS and first.state["t"] == len(p.batches) and set(first.state) == {"t", "m", "v"}
    )
    for run in ranks[1:]:  # bit for bit: every worker stepped on the same all-reduced gradient
        assert run.losses == first.losses and run.state["t"] == first.state["t"]
        pairs = list(zip(run.params, first.params)) + [
            pair for key in ("m", "v") for pair in zip(run.state[key], first.state[key])
        ]
        assert all(torch.equal(a, b) for mine, theirs in pairs for a, b in zip(mine, theirs))


SHARDED = """
import json
import jax, jax.numpy as jnp, numpy as np
from conformance.targets.adapters import Jax
from jax_impl.sharded import Sharded
from tests.ports.test_distributed_optimizers import CLIP, RUNS, failures

sharded = Sharded(3)
impl = Jax("jax.sharded-w3", sharded.gradients, sharded.train, supports_optimizer=sharded.supports_optimizer)
failed = failures(impl, RUNS)
p = CLIP
with jax.enable_x64(True):
    run = sharded.train(p.spec, [(jnp.asarray(W), jnp.asarray(b)) for W, b in p.params], jnp.asarray(p.x),
                        jnp.asarray(p.y), lr=p.lr, batches=[np.asarray(i, np.int32) for i in p.batches],
                        optimizer=p.optimizer)
    arrays = [a for pair in run.params + run.state["m"] + run.state["v"] for a in pair]
    copies = {len(a.addressable_shards) for a in arrays}
    unequal = sum(not all(np.array_equal(s.data, a.addressable_shards[0].data) for s in a.addressable_shards)
                  for a in arrays)
print(json.dumps(dict(failed=failed, copies=sorted(copies), unequal=unequal, t=run.state["t"])))
"""


@pytest.mark.skipif(not available("jax"), reason="jax is not installed")
def test_jax_sharded_conv_ragged_and_global_clipping_with_every_device_equal():
    """In a process with 3 CPU devices: the checks, then every device's copy of the final
    parameters and state (the arrays are replicated: one copy per device) compared bit for bit."""
    env = {
        **os.environ,
        "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={WORKERS}",
        "JAX_PLATFORMS": "cpu",
    }
    r = subprocess.run(
        [sys.executable, "-c", SHARDED], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.splitlines()[-1])
    assert got == dict(failed=[], copies=[WORKERS], unequal=0, t=len(CLIP.batches)), got
