"""Input checks for the JAX implementations, run in Python before anything is traced or jitted,
so that bad input is a clear TypeError/ValueError naming the argument, not a tracer error.

float64 needs JAX's x64 mode, which is off by default: ``jnp.asarray(float64 array)`` would then
silently give float32. Float64 input while x64 is off is therefore an error that says how to turn
it on (``with jax.enable_x64(True): ...`` around the call, or JAX_ENABLE_X64=1 for a whole program).
"""

import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np

from .costs import PAIRINGS

HIDDEN = ("sigmoid", "tanh", "relu", "identity")
OUTPUTS = HIDDEN + ("softmax",)


def x64_enabled():
    """True inside ``jax.enable_x64(True)`` or with JAX_ENABLE_X64 set."""
    return jax.dtypes.canonicalize_dtype(jnp.float64) == jnp.float64


def check_spec(spec):
    sizes = tuple(getattr(spec, "sizes", ()))
    if len(sizes) < 2 or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1
                                 for n in sizes):
        raise ValueError(f"spec.sizes: expected at least two positive integers, got {sizes!r}")
    if spec.activation not in HIDDEN:
        raise ValueError(f"spec.activation: unknown hidden activation {spec.activation!r}; "
                         f"expected one of {list(HIDDEN)}")
    if spec.output not in OUTPUTS:
        raise ValueError(f"spec.output: unknown output activation {spec.output!r}; "
                         f"expected one of {list(OUTPUTS)}")
    if spec.loss not in PAIRINGS:
        raise ValueError(f"spec.loss: unknown cost {spec.loss!r}; expected one of {list(PAIRINGS)}")
    need = PAIRINGS[spec.loss]
    if (need is None and spec.output == "softmax") or need not in (None, spec.output):
        raise ValueError(f"spec.loss: {spec.loss!r} cannot be paired with output={spec.output!r}")
    lam = spec.weight_decay
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real) or not math.isfinite(lam) or lam < 0:
        raise ValueError(f"spec.weight_decay: expected a finite real number >= 0, got {lam!r}")
    return sizes


def check_array(name, t, shape, dtype=None):
    if not isinstance(t, (jax.Array, np.ndarray)):
        raise TypeError(f"{name}: expected a jax.Array, got {type(t).__name__}")
    if t.dtype not in (jnp.float32, jnp.float64):
        raise TypeError(f"{name}: expected dtype float32 or float64, got {t.dtype}")
    if t.dtype == jnp.float64 and not x64_enabled():
        raise TypeError(f"{name}: float64 input while JAX's x64 mode is off would silently become "
                        "float32; call inside `with jax.enable_x64(True):` or set JAX_ENABLE_X64=1")
    if dtype is not None and t.dtype != dtype:
        raise TypeError(f"{name}: dtype {t.dtype} does not match the parameters' {dtype}; "
                        "nothing is cast silently")
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {tuple(t.shape)}")
    if not bool(jnp.all(jnp.isfinite(t))):
        raise ValueError(f"{name}: contains NaN or Inf")


def check_inputs(spec, params, x, y):
    """Spec, [(W, b)], x (m, n_0), y (m, n_L): float, finite, one dtype."""
    sizes = check_spec(spec)
    if not isinstance(params, (list, tuple)) or len(params) != len(sizes) - 1:
        raise ValueError(f"params: expected a list of {len(sizes) - 1} (W, b) pairs for sizes {sizes}")
    dtype = None
    for l, (W, b) in enumerate(params, start=1):
        check_array(f"params[{l - 1}].W (layer {l})", W, (sizes[l], sizes[l - 1]), dtype)
        dtype = W.dtype
        check_array(f"params[{l - 1}].b (layer {l})", b, (sizes[l],), dtype)
    if not hasattr(x, "ndim") or x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"x: expected a non-empty 2-D array (m, {sizes[0]}), got "
                         f"{getattr(x, 'shape', type(x).__name__)}")
    check_array("x", x, (x.shape[0], sizes[0]), dtype)
    check_array("y", y, (x.shape[0], sizes[-1]), dtype)
    if spec.loss != "quadratic" and bool(jnp.any((y < 0) | (y > 1))):
        raise ValueError(f"y: targets for {spec.loss} must lie in [0, 1] (one-hot labels)")


def check_training(lr, batches, m):
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr: expected a finite learning rate > 0, got {lr!r}")
    if not isinstance(batches, (list, tuple)) or not batches:
        raise ValueError("batches: expected a non-empty list of index arrays (one per step)")
    for k, idx in enumerate(batches):
        if not hasattr(idx, "ndim") or idx.ndim != 1 or idx.shape[0] == 0:
            raise ValueError(f"batches[{k}]: expected a non-empty 1-D index array")
        if not jnp.issubdtype(idx.dtype, jnp.integer):
            raise TypeError(f"batches[{k}]: expected integer indices, got {idx.dtype}")
        if int(idx.min()) < 0 or int(idx.max()) >= m:
            raise ValueError(f"batches[{k}]: indices must lie in [0, {m}) for {m} examples")
