"""Known-bad data-parallel training: the classic bugs of combining k workers, simulated in NumPy.

Each mutant is a data-parallel loop over k simulated workers built on the reference: worker r runs
``reference.backprop`` on its contiguous shard of the batch (the split of torch.ddp and
jax.sharded), and the workers' results are then combined — rightly, except for the one bug marked
``# BUG``. None of them crashes or diverges; each trains and converges a little differently, which is
why they go unnoticed in practice. tests/diagnosis/test_distributed_mutants.py proves that the checks catch
every one, naming the quantity it breaks, and that the bug-free combination (``bug=None``) passes.

    python -m conformance check conformance.mutants.distributed:mean_of_shard_means

The right combination, for shards of sizes m_r (Σ m_r = m; empty shards contribute nothing):
    ∂C/∂W = Σ_r (m_r/m) ∂C_r/∂W + λW,   C = Σ_r (m_r/m) C_r + (λ/2) Σ‖W‖²
with C_r the shard's mean data cost, and every worker starting from the weights it is handed.
"""

from collections.abc import Sequence
from types import SimpleNamespace

import numpy as np
import numpy.typing as npt

import reference
from conformance.contract import Array, IndexArray, Params
from conformance.spec import Spec
from reference.network import backprop_unchecked
from reference.validation import check_batches, check_data, check_lr, check_params, check_spec

WORKERS = 3  # the module-level instances below: 3 workers make ragged shards of 10 and 4 examples

# bug -> (what it gets wrong, the check family that catches it at 3 workers, a quantity it names)
BUGS = {
    "mean_of_shard_means": (
        "the k shard gradients and costs averaged with equal weights, not by "
        "shard size: wrong whenever the shards are ragged",
        "grads",
        "dW[layer",
    ),
    "decay_every_worker": (
        "every worker adds λW to its gradient and the all-reduce sums them: the decay counts k times",
        "grads",
        "dW[layer",
    ),
    "unsynchronised_weights": (
        "workers 1..k-1 draw their own initial weights instead of receiving the caller's (no broadcast)",
        "grads",
        "dW[layer",
    ),
    "loss_from_worker_0": (
        "the recorded loss is worker 0's shard cost, not the full-batch C",
        "loss",
        "loss",
    ),
    "gradients_summed": (
        "the k shard-mean gradients summed (an all-reduce SUM) instead of averaged",
        "grads",
        "dW[layer",
    ),
}


def shards(m: int, k: int) -> list[npt.NDArray[np.intp]]:
    """Contiguous shard rows, sizes differing by at most one (the first m mod k get one more)."""
    return np.array_split(np.arange(m), k)


class DataParallelMutant:
    """k simulated data-parallel workers with at most one bug (``bug=None``: the correct control)."""

    def __init__(self, bug: str | None = None, workers: int = WORKERS) -> None:
        if bug is not None and bug not in BUGS:
            raise ValueError(f"bug: unknown data-parallel mutant {bug!r}; expected one of {list(BUGS)}")
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers: expected an int >= 1, got {workers!r}")
        self.bug, self.workers = bug, workers
        self.name = f"dp-mutant.{bug or 'none'}-w{workers}"

    def gradients(self, spec: Spec, params: Params, x: Array, y: Array) -> reference.Gradients:
        sizes, *_ = check_spec(spec)
        check_data(x, y, sizes, check_params(params, sizes), spec.loss)
        return reference.Gradients(*self._combined(spec, self._replicas(spec, params), x, y))

    def train(
        self, spec: Spec, params: Params, x: Array, y: Array, *, lr: float, batches: Sequence[IndexArray]
    ) -> reference.Trajectory:
        sizes, *_ = check_spec(spec)
        check_data(x, y, sizes, check_params(params, sizes), spec.loss)
        lr, batches = check_lr(lr), check_batches(batches, x.shape[0])
        replicas, losses = self._replicas(spec, params), []
        for idx in batches:
            loss, grads, *_ = self._combined(spec, replicas, x[idx], y[idx])
            losses.append(loss)
            replicas = [reference.sgd_step(p, grads, lr) for p in replicas]  # the same step on each
        return reference.Trajectory(losses, replicas[0])

    def _replicas(self, spec, params):
        """Each worker's copy of the initial weights: the caller's, broadcast to all."""
        if self.bug != "unsynchronised_weights":
            return [params] * self.workers
        dtype = params[0][0].dtype
        return [params] + [
            reference.init_params(spec.sizes, rank, dtype=dtype)  # BUG: own draw
            for rank in range(1, self.workers)
        ]

    def _combined(self, spec, replicas, x, y):
        """(C, grads, zs, activations, deltas) of the batch from the workers' shard results."""
        m, lam, bug = x.shape[0], spec.weight_decay, self.bug
        data_only = SimpleNamespace(
            sizes=spec.sizes, activation=spec.activation, output=spec.output, loss=spec.loss, weight_decay=0.0
        )  # the decay is not data
        done = [
            (len(rows) / m, backprop_unchecked(data_only, p, x[rows], y[rows]))
            for rows, p in zip(shards(m, self.workers), replicas)
            if len(rows)
        ]
        if bug == "mean_of_shard_means":
            done = [(1 / len(done), g) for _, g in done]  # BUG: a short shard's examples count more
        if bug == "gradients_summed":
            done = [(1.0, g) for _, g in done]  # BUG: Σ_r instead of Σ_r m_r/m
        decays = self.workers if bug == "decay_every_worker" else 1  # BUG if k
        params = replicas[0]
        grads = [
            (
                sum(w * g.grads[l][0] for w, g in done) + decays * lam * W,
                sum(w * g.grads[l][1] for w, g in done),
            )
            for l, (W, _) in enumerate(params)
        ]
        penalty = 0.5 * lam * sum(np.sum(W * W) for W, _ in params)
        loss = sum(w * g.loss for w, g in done) + decays * penalty
        if bug == "loss_from_worker_0":
            loss = done[0][1].loss + penalty  # BUG: one shard's cost
        per_example = [
            [np.concatenate(arrays) for arrays in zip(*(getattr(g, f) for _, g in done))]
            for f in ("zs", "activations", "deltas")
        ]  # the shards' rows, back in order
        return float(loss), grads, *per_example


# module-level instances, so that ``check conformance.mutants.distributed:gradients_summed`` works
for _bug in BUGS:
    globals()[_bug] = DataParallelMutant(_bug)
