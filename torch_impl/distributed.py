"""Data-parallel training: the module.py template wrapped in DistributedDataParallel over k processes.

Each mini-batch of m examples is cut into k contiguous shards (``idx.tensor_split(k)``: sizes differ
by at most one, and a shard is empty when k > m); worker r runs the same network on shard r. The
full-batch gradient must come out exactly, although DDP *averages* the k replicas' gradients:

    ∂C/∂W = (1/m) Σ_x ∂C_x/∂W = Σ_r ∂share_r/∂W,   share_r = (1/m) Σ_{x in shard r} C_x = (m_r/m)·mean_r

so worker r back-propagates k·share_r, and DDP's average (1/k) Σ_r k ∂share_r/∂W is the sum. Taking
the mean of the k shard means instead would weight the examples of a short shard more: the gradient
is an average over examples (seed 004: the mini-batch's average estimates the training set's), not
over shards. The rest of the contract:

- weights are the caller's, on every worker, and DDP's constructor broadcasts rank 0's copy: no
  worker ever draws its own;
- the decay λW is not data: it is added once, to the already averaged gradient (by the optimizer,
  as in module.py), never by each worker before the all-reduce;
- the recorded loss is the full-batch C: the k shares are all-reduced (summed), then (λ/2)Σ‖W‖².

Conv specs run the same way: module.py's network has the conv blocks in front, and a shard is a
slice of the examples (m_r, C, H, W) like any other.

With an ``optimizer``, every worker takes the gradient DDP has averaged, adds λW once, and runs the
hand-written torch_impl.optimizers.step on it (clip, transform, decoupled decay, as
reference/optimizers.py): the whole update happens after the all-reduce, so global-norm clipping
sees ‖g‖ of the full gradient, never one shard's, and every worker holds the same parameters and the
same state (the all-reduce hands every rank the same bits; ``train_ranks`` returns them all). Why not
module.py's torch.optim builder: torch.optim cannot express some conventions of the contract
(module.declined: velocity momentum, ε inside √ for RMSprop and Adagrad, a clip_eps other than
clip_grad_norm_'s 1e-6), so torch.ddp would decline them too; the hand-written step covers every
rule and keeps its state in the reference's layout. Plain SGD (``optimizer=None``) stays
torch.optim.SGD, exactly as before.

The workers are a torch_impl.workers.Pool, started once per DataParallel object and reused by every
call; ``close()`` stops them. Tensors in, tensors out, like the other ports.
"""

from collections.abc import Sequence
from types import SimpleNamespace

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from . import optimizers
from .module import Network, build, data_cost, penalty
from .optimizers import State, supports_optimizer
from .training import Gradients, Trajectory
from .types import Batches, Params, ParamsIn, Spec
from .validation import Hyper, check_inputs, check_optimizer, check_training
from .workers import Pool, Worker

SPEC_FIELDS = ("sizes", "activation", "output", "loss", "weight_decay", "input_shape")
BLOCK_FIELDS = ("channels", "kernel", "stride", "padding", "pool", "pool_size")


class ShardCost(nn.Module):
    """What DDP wraps: the network, returning this worker's share S_r/m of the batch's data cost."""

    def __init__(self, model: Network, loss: str) -> None:
        super().__init__()
        self.model, self.loss = model, loss

    def forward(self, x: torch.Tensor, y: torch.Tensor, m: int) -> torch.Tensor:
        if x.shape[0] == 0:  # an empty shard (k > m) adds 0, but must still join the all-reduce
            return self.model(x).sum()  # 0, with a zero gradient for every parameter
        return data_cost(self.model, self.loss, x, y) * (x.shape[0] / m)  # (m_r/m)·mean_r


def _replica(worker: Worker, spec: Spec, params: ParamsIn) -> tuple[Network, DistributedDataParallel]:
    """The caller's weights on this worker's device, in the module template, wrapped in DDP."""
    model = build(spec, [(W.to(worker.device), b.to(worker.device)) for W, b in params])
    ids = [worker.device] if worker.device.type == "cuda" else None
    return model, DistributedDataParallel(ShardCost(model, spec.loss), device_ids=ids)


def _step(
    worker: Worker, ddp: DistributedDataParallel, x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor
) -> torch.Tensor:
    """Forward and backward on this worker's shard of batch ``idx``; returns its share_r, which the
    caller all-reduces (:func:`_total`)."""
    rows = idx.tensor_split(worker.size)[worker.rank].to(x.device)  # contiguous shard r
    share = ddp(x[rows], y[rows], len(idx))
    (worker.size * share).backward()  # DDP averages over the k replicas: the average of k·share_r is Σ_r
    return share.detach()


def _total(shares: list[torch.Tensor]) -> torch.Tensor:
    """Σ_r share_r = (1/m) Σ_x C_x of every step, on every worker: one all-reduce of all the steps'
    shares at once, not one per step (each collective waits for all k processes to be scheduled,
    and with k processes on fewer cores that wait is most of a step)."""
    data = torch.stack(shares)  # (steps,), a copy: all_reduce writes into it
    torch.distributed.all_reduce(data)
    return data


def _gradient(model: Network, weight_decay: float) -> Params:
    """∂C/∂θ of the full batch: the gradient DDP has averaged (the data part), plus λW once."""
    grads: Params = []
    for lin in model.weighted():  # every layer has its bias, and backward() has set each .grad
        assert lin.weight.grad is not None and lin.bias is not None and lin.bias.grad is not None
        grads.append((lin.weight.grad + weight_decay * lin.weight, lin.bias.grad))  # λW once
    return grads


def _to(pairs: Params, device: torch.device | str) -> Params:
    """Every (W, b) pair (or state pair) on ``device``: the workers send CPU tensors back."""
    return [(a.to(device), b.to(device)) for a, b in pairs]


def rank_gradients(
    worker: Worker, spec: Spec, params: ParamsIn, x: torch.Tensor, y: torch.Tensor
) -> tuple[float, Params] | None:
    """One pass over the whole of (x, y) as one batch; rank 0 returns (C, [(dW, db)])."""
    x, y = x.to(worker.device), y.to(worker.device)
    model, ddp = _replica(worker, spec, params)
    data = _total([_step(worker, ddp, x, y, torch.arange(x.shape[0]))])[0]
    if worker.rank:
        return None
    with torch.no_grad():
        C = float(data + penalty(model, spec.weight_decay))
        return C, _to(_gradient(model, spec.weight_decay), "cpu")


def rank_train(
    worker: Worker,
    spec: Spec,
    params: ParamsIn,
    x: torch.Tensor,
    y: torch.Tensor,
    rates: list[float],
    order: torch.Tensor,
    sizes: list[int],
    hyper: Hyper | None,
) -> tuple[list[float], Params, State | None]:
    """The steps over the batch order (all batches in one tensor ``order``, split by ``sizes``) at
    the rates η_t: torch.optim.SGD as module.train for ``hyper`` None, else optimizers.step on the
    all-reduced gradient. Every rank returns (losses, params, state): the same on every rank."""
    x, y = x.to(worker.device), y.to(worker.device)
    model, ddp = _replica(worker, spec, params)
    weights = [lin.weight for lin in model.weighted()]  # W^l and K^l: decayed by torch.optim.SGD
    biases = [lin.bias for lin in model.weighted()]
    groups = [{"params": weights, "weight_decay": spec.weight_decay}, {"params": biases, "weight_decay": 0.0}]
    sgd = torch.optim.SGD(groups, lr=rates[0]) if hyper is None else None
    state = None if hyper is None else optimizers.init_state(hyper, model.params())  # fresh per call
    shares, penalties = [], []  # per step, before its update: share_r of the data cost, (λ/2)Σ‖W‖²
    for idx, lr in zip(order.split(sizes), rates):
        model.zero_grad()
        shares.append(_step(worker, ddp, x, y, idx))
        with torch.no_grad():
            penalties.append(penalty(model, spec.weight_decay))
        if sgd is not None:
            for group in sgd.param_groups:
                group["lr"] = lr  # η_t
            sgd.step()  # every replica applies the same averaged gradient (+ λW once): they stay equal
        else:  # the same full gradient on every replica: the same clip, the same state, the same step
            assert hyper is not None and state is not None
            g = _gradient(model, spec.weight_decay)
            theta, state = optimizers.step(hyper, model.params(), g, state, lr)
            model.load(theta)
    losses = [float(C + P) for C, P in zip(_total(shares), penalties)]  # the full-batch C of every step
    if state is not None:
        state = {k: v if k == "t" else _to(v, "cpu") for k, v in state.items()}
    return losses, _to(model.params(), "cpu"), state


def _plain(spec: Spec) -> SimpleNamespace:
    """The spec as plain values (a SimpleNamespace): workers need none of the caller's classes."""
    fields = {f: getattr(spec, f) for f in SPEC_FIELDS if hasattr(spec, f)}
    fields["conv"] = tuple(
        SimpleNamespace(**{f: getattr(block, f) for f in BLOCK_FIELDS})
        for block in getattr(spec, "conv", ()) or ()
    )
    return SimpleNamespace(**fields)


def _send(t: torch.Tensor) -> torch.Tensor:
    """A private CPU copy to hand to the workers (sharing moves a tensor's storage to shared memory)."""
    return t.detach().to("cpu", copy=True)


def refuse_recurrent(spec: Spec) -> None:
    """The workers split a dense or conv network's batch; recurrent specs are not implemented here
    (no ``supports_recurrent``, so the harness never sends one): a direct call is refused by name."""
    if getattr(spec, "recurrent", None) is not None:
        raise ValueError(
            "spec.recurrent: this implementation takes dense and conv networks only "
            "(it does not declare supports_recurrent)"
        )


class DataParallel:
    """``gradients`` and ``train`` with the harness contract's tensors, computed by k DDP workers.

    ``device`` "cpu" (gloo) or "cuda" (nccl, worker r on GPU r); results come back on the inputs'
    device. ``timeout`` (s) bounds every call and every collective.
    """

    # what every worker runs, by name (spawned workers import it); a subclass may put others here
    rank_gradients, rank_train = staticmethod(rank_gradients), staticmethod(rank_train)
    supports_optimizer = staticmethod(supports_optimizer)  # every rule: optimizers.py's own step

    def __init__(self, workers: int, *, device: str | torch.device = "cpu", timeout: float = 300.0) -> None:
        self.pool = Pool(workers, device=device, timeout=timeout, name=f"torch.ddp-w{workers}")

    def gradients(self, spec: Spec, params: ParamsIn, x: torch.Tensor, y: torch.Tensor) -> Gradients:
        refuse_recurrent(spec)
        check_inputs(spec, params, x, y)
        C, grads = self.pool.run(
            self.rank_gradients, _plain(spec), [(_send(W), _send(b)) for W, b in params], _send(x), _send(y)
        )[0]
        return Gradients(C, _to(grads, x.device))

    def train(
        self,
        spec: Spec,
        params: ParamsIn,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        lr: float | Sequence[float],
        batches: Batches,
        optimizer: object = None,
    ) -> Trajectory:
        """Plain SGD for ``optimizer=None``, else clip → transform → decay after the all-reduce;
        ``lr`` is η or one η_t per step. ``state``: the optimizer's final state (None for SGD)."""
        return self.train_ranks(spec, params, x, y, lr=lr, batches=batches, optimizer=optimizer)[0]

    def train_ranks(
        self,
        spec: Spec,
        params: ParamsIn,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        lr: float | Sequence[float],
        batches: Batches,
        optimizer: object = None,
    ) -> list[Trajectory]:
        """``train``'s Trajectory as every worker ends it, by rank: the replicas must be equal."""
        refuse_recurrent(spec)
        check_inputs(spec, params, x, y)
        hyper = None if optimizer is None else check_optimizer(optimizer)
        rates = check_training(lr, batches, x.shape[0])
        ranks = self.pool.run(
            self.rank_train,
            _plain(spec),
            [(_send(W), _send(b)) for W, b in params],
            _send(x),
            _send(y),
            rates,
            _send(torch.cat(batches)),
            [len(i) for i in batches],
            hyper,
        )
        return [
            Trajectory(
                losses,
                _to(final, x.device),
                None if state is None else {k: v if k == "t" else _to(v, x.device) for k, v in state.items()},
            )
            for losses, final, state in ranks
        ]

    @property
    def pids(self) -> list[int | None]:
        return self.pool.pids

    def close(self) -> None:
        self.pool.close()
