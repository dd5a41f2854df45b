"""Input checks for every public entry point of the reference (docs/contract.md, "Bad input").

Each check raises ``TypeError`` (wrong kind of object or dtype) or ``ValueError`` (wrong value or
shape) with a message that starts with the argument's name, before any arithmetic runs. Nothing is
cast: float32 stays float32, float64 stays float64, and mixing them is an error.
"""

import math
import numbers
from collections.abc import Sequence
from typing import Any, NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt

from .activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
from .conv import conv_shapes, conv_stack
from .costs import PAIRINGS
from .types import Batches, ConvBlock, FloatArray, IndexArray, ParamsIn, Recurrent, Spec

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# check_spec's five dense fields: (sizes, activation, output, loss, weight_decay as a float)
SpecFields: TypeAlias = tuple[tuple[int, ...], str, str, str, float]


def check_spec(spec: Spec) -> SpecFields:
    """Check a spec (any object with sizes, activation, output, loss, weight_decay, and optionally
    input_shape and conv, or recurrent); return the five dense fields."""
    for field in ("sizes", "activation", "output", "loss", "weight_decay"):
        if not hasattr(spec, field):
            raise TypeError(
                f"spec: missing attribute {field!r}; expected sizes, activation, output, loss, weight_decay"
            )
    sizes = tuple(spec.sizes)
    if len(sizes) < 2 or not all(
        isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 1 for n in sizes
    ):
        raise ValueError(
            f"spec.sizes: expected at least two positive integers (n_0, ..., n_L), got {spec.sizes!r}"
        )
    if spec.activation not in HIDDEN_ACTIVATIONS:
        raise ValueError(
            f"spec.activation: unknown hidden activation {spec.activation!r}; "
            f"expected one of {list(HIDDEN_ACTIVATIONS)}"
        )
    if spec.output not in ACTIVATIONS:
        raise ValueError(
            f"spec.output: unknown output activation {spec.output!r}; expected one of {list(ACTIVATIONS)}"
        )
    if spec.loss not in PAIRINGS:
        raise ValueError(f"spec.loss: unknown cost {spec.loss!r}; expected one of {list(PAIRINGS)}")
    required = PAIRINGS[spec.loss]
    if (required is None and spec.output == "softmax") or (required not in (None, spec.output)):
        allowed = "any output but softmax" if required is None else f"output={required!r}"
        raise ValueError(
            f"spec.loss: {spec.loss!r} cannot be paired with output={spec.output!r}; it needs {allowed}"
        )
    lam = spec.weight_decay
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real) or not math.isfinite(lam) or lam < 0:
        raise ValueError(f"spec.weight_decay: expected a finite real number >= 0, got {lam!r}")
    check_recurrent(spec, sizes)  # before check_conv: a recurrent spec with conv blocks is named as such
    check_conv(spec, sizes)
    return sizes, spec.activation, spec.output, spec.loss, float(lam)


def _is_int(value: object, least: int) -> bool:
    # int(value) is exact for an Integral; the numbers ABC itself declares only < and <=
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and int(value) >= least


# block field -> (smallest allowed value, what the message asks for)
BLOCK_INTS = {
    "channels": (1, "a positive integer"),
    "kernel": (1, "a positive integer"),
    "stride": (1, "a positive integer"),
    "padding": (0, "an integer >= 0"),
    "pool_size": (1, "a positive integer"),
}
POOLS = (None, "max", "avg")


OUTPUT_MODES = ("all", "last")


def check_recurrent(spec: Spec, sizes: Sequence[int]) -> Recurrent | None:
    """``spec.recurrent`` (None, or missing, for a dense or conv spec): T = steps >= 1, outputs "all"
    or "last", no conv blocks, at least one hidden layer to recur. Returns it."""
    recurrent = getattr(spec, "recurrent", None)
    if recurrent is None:
        return None
    for field in ("steps", "outputs"):
        if not hasattr(recurrent, field):
            raise TypeError(f"spec.recurrent: missing attribute {field!r}; expected steps and outputs")
    if not _is_int(recurrent.steps, 1):
        raise ValueError(
            f"spec.recurrent.steps: expected a positive integer (T >= 1), got {recurrent.steps!r}"
        )
    if recurrent.outputs not in OUTPUT_MODES:
        raise ValueError(f"spec.recurrent.outputs: expected 'all' or 'last', got {recurrent.outputs!r}")
    conv, input_shape = getattr(spec, "conv", ()) or (), getattr(spec, "input_shape", None)
    if conv or input_shape is not None:
        raise ValueError(
            f"spec.recurrent: a recurrent network has no conv blocks or input_shape, got "
            f"{len(conv)} conv blocks and input_shape={input_shape!r}"
        )
    if len(sizes) < 3:
        raise ValueError(
            f"spec.recurrent: a recurrent network needs at least one hidden layer to recur "
            f"(sizes (n_0, n_1, ..., n_L), L >= 2), got sizes {tuple(sizes)}"
        )
    return recurrent


def check_conv(spec: Spec, sizes: Sequence[int]) -> None:
    """The conv blocks, input_shape and sizes[0] against the flattened output of the last block."""
    input_shape, conv = getattr(spec, "input_shape", None), getattr(spec, "conv", ()) or ()
    if not isinstance(conv, (tuple, list)):
        raise TypeError(f"spec.conv: expected a tuple of conv blocks, got {type(conv).__name__}")
    if not conv:
        if input_shape is not None:
            raise ValueError(
                f"spec.input_shape: {input_shape!r} given without conv blocks; a dense "
                "network takes x of shape (m, sizes[0])"
            )
        return
    if (
        not isinstance(input_shape, (tuple, list))
        or len(input_shape) != 3
        or not all(_is_int(n, 1) for n in input_shape)
    ):
        raise ValueError(
            f"spec.input_shape: a conv spec needs (C_0, H_0, W_0), three positive "
            f"integers, got {input_shape!r}"
        )
    for i, block in enumerate(conv):
        missing = [f for f in (*BLOCK_INTS, "pool") if not hasattr(block, f)]
        if missing:
            raise TypeError(
                f"spec.conv[{i}]: missing attribute {missing[0]!r}; a block has channels, "
                "kernel, stride, padding, pool, pool_size"
            )
        for field, (least, wanted) in BLOCK_INTS.items():
            if not _is_int(getattr(block, field), least):
                raise ValueError(f"spec.conv[{i}].{field}: expected {wanted}, got {getattr(block, field)!r}")
        if block.pool not in POOLS:
            raise ValueError(f"spec.conv[{i}].pool: expected None, 'max' or 'avg', got {block.pool!r}")
    C, H, W = conv_shapes(tuple(input_shape), conv)[-1].a
    if sizes[0] != C * H * W:
        raise ValueError(
            f"spec.sizes: sizes[0]={sizes[0]} does not equal the flattened size {C * H * W} "
            f"of the last conv block's output {C}×{H}×{W}"
        )


def check_array(name: str, value: object, shape: Sequence[int], dtype: np.dtype | None = None) -> FloatArray:
    """A finite float32/float64 ndarray of exactly ``shape`` (and ``dtype`` when given)."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got {type(value).__name__}")
    if value.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected dtype float32 or float64, got {value.dtype}")
    if dtype is not None and value.dtype != dtype:
        raise TypeError(
            f"{name}: dtype {value.dtype} does not match the parameters' {dtype}; nothing is cast silently"
        )
    if value.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {value.shape}")
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{name}: contains NaN or Inf")
    return value


def check_params(
    params: ParamsIn,
    sizes: Sequence[int],
    input_shape: Sequence[int] | None = None,
    conv: Sequence[ConvBlock] = (),
    recurrent: bool = False,
) -> np.dtype | None:
    """params is a list of layers, one dtype: (K^l, b^l) per conv block, K^l (C_l, C_{l-1}, k, k) and
    b^l (C_l,), then (W, b) with W^l (n_l, n_{l-1}) and b^l (n_l,); with ``recurrent`` layers 1..L-1
    are (W, U, b) triples, U^l (n_l, n_l), and the output layer a (W, b) pair. Returns the dtype."""
    # per layer: ((name, shape) of each array, weights first, the bias last)
    layers: list[tuple[tuple[str, tuple[int, ...]], ...]] = [
        (("K", s.kernel), ("b", s.kernel[:1])) for s in (conv_shapes(input_shape, conv) if conv else [])
    ]
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        U = (("U", (n_out, n_out)),) if recurrent and l < len(sizes) - 1 else ()
        layers.append((("W", (n_out, n_in)), *U, ("b", (n_out,))))
    c = len(conv)
    if not isinstance(params, (list, tuple)) or len(params) != len(layers):
        if recurrent:
            wanted = (
                f"{len(layers)} layers ((W, U, b) triples for the {len(layers) - 1} recurrent "
                f"layers, then the output layer's (W, b) pair) for sizes {sizes}"
            )
        elif not c:
            wanted = f"{len(layers)} (W, b) pairs for sizes {sizes}"
        else:
            wanted = f"{len(layers)} pairs ((K, b) for {c} conv blocks, then (W, b) for sizes {sizes})"
        raise ValueError(
            f"params: expected a list of {wanted}, got {type(params).__name__} of length "
            f"{len(params) if hasattr(params, '__len__') else '?'}"
        )
    dtype: np.dtype | None = None
    for l, (layer, arrays) in enumerate(zip(params, layers), start=1):
        if not isinstance(layer, (list, tuple)) or len(layer) != len(arrays):
            if len(arrays) == 3:
                raise TypeError(f"params[{l - 1}]: expected a (W, U, b) triple for recurrent layer {l}")
            raise TypeError(f"params[{l - 1}]: expected a ({arrays[0][0]}, b) pair for layer {l}")
        for value, (name, shape) in zip(layer, arrays):
            check_array(f"params[{l - 1}].{name} (layer {l})", value, shape, dtype)
            dtype = value.dtype
    return dtype


def check_data(
    x: FloatArray,
    y: FloatArray,
    sizes: Sequence[int],
    dtype: np.dtype | None,
    loss: str,
    input_shape: Sequence[int] | None = None,
    recurrent: Recurrent | None = None,
) -> None:
    """x (m, n_0), or (m, C_0, H_0, W_0) for a conv spec, and y (m, n_L), m >= 1, same dtype as the
    parameters; targets in range. A recurrent spec: x (m, T, n_0), y (m, T, n_L) for outputs="all",
    (m, n_L) for "last"."""
    if recurrent is not None:
        m, T = (x.shape[0] if isinstance(x, np.ndarray) and x.ndim else "m"), recurrent.steps
        if not isinstance(x, np.ndarray) or x.shape[1:] != (T, sizes[0]) or x.ndim != 3:
            raise ValueError(
                f"x: expected shape (m, T, n_0) = ({m}, {T}, {sizes[0]}), one sequence of T = {T} "
                f"steps per example, got {getattr(x, 'shape', type(x).__name__)}"
            )
        if x.shape[0] == 0:
            raise ValueError("x: empty batch (m = 0); expected at least one sequence")
        check_array("x", x, x.shape, dtype)
        y_shape = (x.shape[0], T, sizes[-1]) if recurrent.outputs == "all" else (x.shape[0], sizes[-1])
        if isinstance(y, np.ndarray) and y.shape != y_shape:
            layout = "(m, T, n_L)" if recurrent.outputs == "all" else "(m, n_L)"
            raise ValueError(
                f"y: expected shape {layout} = {y_shape} for outputs={recurrent.outputs!r}, got {y.shape}"
            )
        check_array("y", y, y_shape, dtype)
    else:
        shape = (sizes[0],) if input_shape is None else tuple(input_shape)
        if not isinstance(x, np.ndarray) or x.ndim != 1 + len(shape):
            layout = "with examples as rows" if input_shape is None else "(NCHW, examples first)"
            raise ValueError(
                f"x: expected a {1 + len(shape)}-D array (m, {', '.join(map(str, shape))}) "
                f"{layout}, got {getattr(x, 'shape', type(x).__name__)}"
            )
        if x.shape[0] == 0:
            raise ValueError("x: empty batch (m = 0); expected at least one example")
        m = x.shape[0]
        check_array("x", x, (m, *shape), dtype)
        check_array("y", y, (m, sizes[-1]), dtype)
    if loss in ("cross_entropy", "log_likelihood") and (np.any(y < 0) or np.any(y > 1)):
        raise ValueError(
            f"y: targets for {loss} must lie in [0, 1] (one-hot labels), got values in [{y.min()}, {y.max()}]"
        )


def check_inputs(spec: Spec, params: ParamsIn, x: FloatArray, y: FloatArray) -> SpecFields:
    """Everything a backward pass is handed, spec first; returns the spec's five dense fields."""
    fields = check_spec(spec)
    input_shape, conv = conv_stack(spec)
    recurrent = getattr(spec, "recurrent", None)
    dtype = check_params(params, fields[0], input_shape, conv, recurrent is not None)
    check_data(x, y, fields[0], dtype, fields[3], input_shape, recurrent)
    return fields


def check_lr(lr: float) -> float:
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr: expected a finite learning rate > 0, got {lr!r}")
    return float(lr)


def check_schedule(lr: float | Sequence[float], steps: int) -> list[float]:
    """η_t for t = 1..steps: a float (a constant rate, checked by :func:`check_lr`) or a sequence of
    ``steps`` finite rates > 0, one per step."""
    if isinstance(lr, numbers.Real) and not isinstance(lr, bool):
        return [check_lr(float(lr))] * steps
    if isinstance(lr, (str, bytes)) or not isinstance(lr, (Sequence, np.ndarray)):
        raise TypeError(f"lr: expected a float or a sequence of per-step floats, got {type(lr).__name__}")
    if len(lr) != steps:
        raise ValueError(
            f"lr: expected one learning rate per step, {steps} for {steps} batches, got {len(lr)}"
        )
    rates: list[float] = []
    for t, rate in enumerate(lr):
        if (
            isinstance(rate, bool)
            or not isinstance(rate, numbers.Real)
            or not math.isfinite(rate)
            or rate <= 0
        ):
            raise ValueError(f"lr[{t}]: expected a finite learning rate > 0, got {rate!r}")
        rates.append(float(rate))
    return rates


OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw", "adagrad")
# The contract's defaults, used for every attribute an optimizer object leaves out.
OPTIMIZER_DEFAULTS: dict[str, object] = dict(
    momentum=0.0,
    momentum_form="buffer",
    rho=0.9,
    beta1=0.9,
    beta2=0.999,
    eps=1e-8,
    eps_in_sqrt=False,
    eps_hat=False,
    decoupled_decay=0.0,
    initial_accumulator=0.0,
    clip_value=None,
    clip_norm=None,
    clip_eps=0.0,
)
CLIPPING = ("clip_value", "clip_norm", "clip_eps")
# optimizer -> the hyperparameters its rule reads (besides clipping, which every optimizer takes)
READS: dict[str, tuple[str, ...]] = {
    "sgd": (),
    "momentum": ("momentum", "momentum_form"),
    "nesterov": ("momentum", "momentum_form"),
    "rmsprop": ("rho", "eps", "eps_in_sqrt", "momentum", "momentum_form"),
    "adam": ("beta1", "beta2", "eps", "eps_hat"),
    "adamw": ("beta1", "beta2", "eps", "eps_hat", "decoupled_decay"),
    "adagrad": ("eps", "eps_in_sqrt", "initial_accumulator"),
}


class Hyper(NamedTuple):
    """A checked optimizer: every hyperparameter present, as a plain Python value."""

    name: str
    momentum: float
    momentum_form: str
    rho: float
    beta1: float
    beta2: float
    eps: float
    eps_in_sqrt: bool
    eps_hat: bool
    decoupled_decay: float
    initial_accumulator: float
    clip_value: float | None
    clip_norm: float | None
    clip_eps: float


def _real(
    name: str,
    value: Any,
    low: float,
    high: float = math.inf,
    *,
    open_low: bool = False,
    open_high: bool = True,
) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if open_low else value >= low) and (value < high if open_high else value <= high)
    if not ok:
        lo = f"{'(' if open_low else '['}{low:g}"
        hi = f"{high:g}{')' if open_high else ']'}" if math.isfinite(high) else "∞)"
        raise ValueError(f"optimizer.{name}: expected a finite real number in {lo}, {hi}, got {value!r}")
    return float(value)


def check_optimizer(optimizer: object) -> Hyper:
    """Check an optimizer (any object with ``name`` and the hyperparameters it sets; the others take
    OPTIMIZER_DEFAULTS) and return it as a :class:`Hyper`. A hyperparameter the named rule does not
    read must keep its default: a beta1 handed to momentum is a mistake, not a no-op."""
    name = getattr(optimizer, "name", None)
    if not isinstance(name, str):
        raise TypeError(
            f"optimizer: expected an object with a name (one of {list(OPTIMIZERS)}), got {optimizer!r}"
        )
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer.name: unknown optimizer {name!r}; expected one of {list(OPTIMIZERS)}")
    got: dict[str, Any] = {k: getattr(optimizer, k, default) for k, default in OPTIMIZER_DEFAULTS.items()}
    for k, default in OPTIMIZER_DEFAULTS.items():
        if k not in READS[name] and k not in CLIPPING and got[k] != default:
            raise ValueError(
                f"optimizer.{k}: {name} does not use it (got {got[k]!r}); {name} reads "
                f"{', '.join(READS[name] + CLIPPING)}"
            )
    for flag in ("eps_in_sqrt", "eps_hat"):
        if not isinstance(got[flag], (bool, np.bool_)):
            raise TypeError(f"optimizer.{flag}: expected True or False, got {got[flag]!r}")
    if got["momentum_form"] not in ("buffer", "velocity"):
        raise ValueError(
            f"optimizer.momentum_form: expected 'buffer' or 'velocity', got {got['momentum_form']!r}"
        )
    needs_mu = name in ("momentum", "nesterov")
    momentum = _real("momentum", got["momentum"], 0.0, 1.0, open_low=needs_mu)
    for beta in ("rho", "beta1", "beta2"):
        _real(beta, got[beta], 0.0, 1.0)
    _real("eps", got["eps"], 0.0, open_low=True)
    _real("decoupled_decay", got["decoupled_decay"], 0.0)
    _real("initial_accumulator", got["initial_accumulator"], 0.0)
    _real("clip_eps", got["clip_eps"], 0.0)
    for c in ("clip_value", "clip_norm"):
        if got[c] is not None:
            got[c] = _real(c, got[c], 0.0, open_low=True)
    if got["clip_value"] is not None and got["clip_norm"] is not None:
        raise ValueError("optimizer.clip_norm: set clip_value or clip_norm, not both")
    if got["clip_eps"] and got["clip_norm"] is None:
        raise ValueError(
            f"optimizer.clip_eps: only clip_norm reads it (got {got['clip_eps']!r} without clip_norm)"
        )
    return Hyper(
        name,
        momentum,
        got["momentum_form"],
        float(got["rho"]),
        float(got["beta1"]),
        float(got["beta2"]),
        float(got["eps"]),
        bool(got["eps_in_sqrt"]),
        bool(got["eps_hat"]),
        float(got["decoupled_decay"]),
        float(got["initial_accumulator"]),
        got["clip_value"],
        got["clip_norm"],
        float(got["clip_eps"]),
    )


def check_batches(batches: Batches, m: int) -> list[IndexArray]:
    """A non-empty list of non-empty 1-D integer index arrays, each index in [0, m)."""
    if not isinstance(batches, (list, tuple)) or len(batches) == 0:
        raise ValueError("batches: expected a non-empty list of index arrays (one per step)")
    checked = []
    for k, batch in enumerate(batches):
        idx = np.asarray(batch)
        if idx.ndim != 1 or idx.size == 0:
            raise ValueError(
                f"batches[{k}]: expected a non-empty 1-D array of indices, got shape {idx.shape}"
            )
        if not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"batches[{k}]: expected integer indices, got dtype {idx.dtype}")
        checked.append(idx)
    every = np.concatenate(checked)  # one range check for the whole order (hundreds of batches)
    if every.min() < 0 or every.max() >= m:
        k = next(k for k, idx in enumerate(checked) if idx.min() < 0 or idx.max() >= m)
        raise ValueError(
            f"batches[{k}]: indices must lie in [0, {m}) for {m} examples, got "
            f"[{checked[k].min()}, {checked[k].max()}]"
        )
    return checked


def one_hot(labels: npt.ArrayLike, n_classes: int, dtype: npt.DTypeLike = np.float64) -> FloatArray:
    """Integer class labels (m,) -> one-hot targets (m, n_classes), checking the range."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels: expected a 1-D integer array, got {labels.dtype} {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"labels: class labels must lie in [0, {n_classes}), got [{labels.min()}, {labels.max()}]"
        )
    y = np.zeros((labels.size, n_classes), dtype=dtype)
    y[np.arange(labels.size), labels] = 1
    return y
