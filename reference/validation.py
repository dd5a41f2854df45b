"""Input checks for every public entry point of the reference (docs/contract.md, "Bad input").

Each check raises ``TypeError`` (wrong kind of object or dtype) or ``ValueError`` (wrong value or
shape) with a message that starts with the argument's name, before any arithmetic runs. Nothing is
cast: float32 stays float32, float64 stays float64, and mixing them is an error.
"""

import math
import numbers

import numpy as np

from .activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
from .costs import PAIRINGS

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_spec(spec):
    """Check a spec (any object with sizes, activation, output, loss, weight_decay); return its fields."""
    for field in ("sizes", "activation", "output", "loss", "weight_decay"):
        if not hasattr(spec, field):
            raise TypeError(f"spec: missing attribute {field!r}; expected sizes, activation, output, "
                            "loss, weight_decay")
    sizes = tuple(spec.sizes)
    if len(sizes) < 2 or not all(isinstance(n, numbers.Integral) and not isinstance(n, bool)
                                 and n >= 1 for n in sizes):
        raise ValueError(f"spec.sizes: expected at least two positive integers (n_0, ..., n_L), "
                         f"got {spec.sizes!r}")
    if spec.activation not in HIDDEN_ACTIVATIONS:
        raise ValueError(f"spec.activation: unknown hidden activation {spec.activation!r}; "
                         f"expected one of {list(HIDDEN_ACTIVATIONS)}")
    if spec.output not in ACTIVATIONS:
        raise ValueError(f"spec.output: unknown output activation {spec.output!r}; "
                         f"expected one of {list(ACTIVATIONS)}")
    if spec.loss not in PAIRINGS:
        raise ValueError(f"spec.loss: unknown cost {spec.loss!r}; expected one of {list(PAIRINGS)}")
    required = PAIRINGS[spec.loss]
    if (required is None and spec.output == "softmax") or (required not in (None, spec.output)):
        allowed = "any output but softmax" if required is None else f"output={required!r}"
        raise ValueError(f"spec.loss: {spec.loss!r} cannot be paired with output={spec.output!r}; "
                         f"it needs {allowed}")
    lam = spec.weight_decay
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real) or not math.isfinite(lam) or lam < 0:
        raise ValueError(f"spec.weight_decay: expected a finite real number >= 0, got {lam!r}")
    return sizes, spec.activation, spec.output, spec.loss, float(lam)


def check_array(name, value, shape, dtype=None):
    """A finite float32/float64 ndarray of exactly ``shape`` (and ``dtype`` when given)."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(value).__name__}")
    if value.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected dtype float32 or float64, got {value.dtype}")
    if dtype is not None and value.dtype != dtype:
        raise TypeError(f"{name}: dtype {value.dtype} does not match the parameters' {dtype}; "
                        "nothing is cast silently")
    if value.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {value.shape}")
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{name}: contains NaN or Inf")
    return value


def check_params(params, sizes):
    """params is a list of (W, b) with W^l (n_l, n_{l-1}) and b^l (n_l,), one dtype; return it."""
    if not isinstance(params, (list, tuple)) or len(params) != len(sizes) - 1:
        raise ValueError(f"params: expected a list of {len(sizes) - 1} (W, b) pairs for sizes "
                         f"{sizes}, got {type(params).__name__} of length "
                         f"{len(params) if hasattr(params, '__len__') else '?'}")
    dtype = None
    for l, pair in enumerate(params, start=1):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TypeError(f"params[{l - 1}]: expected a (W, b) pair for layer {l}")
        W, b = pair
        check_array(f"params[{l - 1}].W (layer {l})", W, (sizes[l], sizes[l - 1]), dtype)
        dtype = W.dtype
        check_array(f"params[{l - 1}].b (layer {l})", b, (sizes[l],), dtype)
    return dtype


def check_data(x, y, sizes, dtype, loss):
    """x (m, n_0) and y (m, n_L), m >= 1, same dtype as the parameters; targets in range."""
    if not isinstance(x, np.ndarray) or x.ndim != 2:
        raise ValueError(f"x: expected a 2-D array (m, {sizes[0]}) with examples as rows, got "
                         f"{getattr(x, 'shape', type(x).__name__)}")
    if x.shape[0] == 0:
        raise ValueError("x: empty batch (m = 0); expected at least one example")
    m = x.shape[0]
    check_array("x", x, (m, sizes[0]), dtype)
    check_array("y", y, (m, sizes[-1]), dtype)
    if loss in ("cross_entropy", "log_likelihood") and (np.any(y < 0) or np.any(y > 1)):
        raise ValueError(f"y: targets for {loss} must lie in [0, 1] (one-hot labels), "
                         f"got values in [{y.min()}, {y.max()}]")


def check_lr(lr):
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr: expected a finite learning rate > 0, got {lr!r}")
    return float(lr)


def check_batches(batches, m):
    """A non-empty list of non-empty 1-D integer index arrays, each index in [0, m)."""
    if not isinstance(batches, (list, tuple)) or len(batches) == 0:
        raise ValueError("batches: expected a non-empty list of index arrays (one per step)")
    checked = []
    for k, batch in enumerate(batches):
        idx = np.asarray(batch)
        if idx.ndim != 1 or idx.size == 0:
            raise ValueError(f"batches[{k}]: expected a non-empty 1-D array of indices, got shape "
                             f"{idx.shape}")
        if not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"batches[{k}]: expected integer indices, got dtype {idx.dtype}")
        if idx.min() < 0 or idx.max() >= m:
            raise ValueError(f"batches[{k}]: indices must lie in [0, {m}) for {m} examples, got "
                             f"[{idx.min()}, {idx.max()}]")
        checked.append(idx)
    return checked


def one_hot(labels, n_classes, dtype=np.float64):
    """Integer class labels (m,) -> one-hot targets (m, n_classes), checking the range."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels: expected a 1-D integer array, got {labels.dtype} {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels: class labels must lie in [0, {n_classes}), got "
                         f"[{labels.min()}, {labels.max()}]")
    y = np.zeros((labels.size, n_classes), dtype=dtype)
    y[np.arange(labels.size), labels] = 1
    return y
