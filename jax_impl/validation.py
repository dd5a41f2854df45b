"""Input checks for the JAX implementations, run in Python before anything is traced or jitted,
so that bad input is a clear TypeError/ValueError naming the argument, not a tracer error.

float64 needs JAX's x64 mode, which is off by default: ``jnp.asarray(float64 array)`` would then
silently give float32. Float64 input while x64 is off is therefore an error that says how to turn
it on (``with jax.enable_x64(True): ...`` around the call, or JAX_ENABLE_X64=1 for a whole program).
"""

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, NamedTuple, TypeAlias, cast

import jax
import jax.numpy as jnp
import numpy as np
import numpy.typing as npt

from .costs import PAIRINGS
from .types import Batches, ConvBlock, ConvSpec, ParamsIn, Spec

HIDDEN = ("sigmoid", "tanh", "relu", "identity")
OUTPUTS = HIDDEN + ("softmax",)


class Block(NamedTuple):
    """One conv block in the hashable form jit needs for static data (a spec's blocks may not be)."""

    channels: int
    kernel: int
    stride: int
    padding: int
    pool: str | None
    pool_size: int


# a spec's conv blocks as check_inputs returns them: a tuple of Blocks, hashable for jit (() for an MLP)
Blocks: TypeAlias = tuple[Block, ...]
POOLS = (None, "max", "avg")


def x64_enabled() -> bool:
    """True inside ``jax.enable_x64(True)`` or with JAX_ENABLE_X64 set."""
    return jax.dtypes.canonicalize_dtype(jnp.float64) == jnp.float64


def check_spec(spec: Spec) -> tuple[int, ...]:
    sizes = tuple(getattr(spec, "sizes", ()))
    if len(sizes) < 2 or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in sizes):
        raise ValueError(f"spec.sizes: expected at least two positive integers, got {sizes!r}")
    if spec.activation not in HIDDEN:
        raise ValueError(
            f"spec.activation: unknown hidden activation {spec.activation!r}; expected one of {list(HIDDEN)}"
        )
    if spec.output not in OUTPUTS:
        raise ValueError(
            f"spec.output: unknown output activation {spec.output!r}; expected one of {list(OUTPUTS)}"
        )
    if spec.loss not in PAIRINGS:
        raise ValueError(f"spec.loss: unknown cost {spec.loss!r}; expected one of {list(PAIRINGS)}")
    need = PAIRINGS[spec.loss]
    if (need is None and spec.output == "softmax") or need not in (None, spec.output):
        raise ValueError(f"spec.loss: {spec.loss!r} cannot be paired with output={spec.output!r}")
    lam = spec.weight_decay
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real) or not math.isfinite(lam) or lam < 0:
        raise ValueError(f"spec.weight_decay: expected a finite real number >= 0, got {lam!r}")
    return sizes


def check_array(name: str, t: object, shape: Sequence[int], dtype: npt.DTypeLike | None = None) -> None:
    if not isinstance(t, (jax.Array, np.ndarray)):
        raise TypeError(f"{name}: expected a jax.Array, got {type(t).__name__}")
    if t.dtype not in (jnp.float32, jnp.float64):
        raise TypeError(f"{name}: expected dtype float32 or float64, got {t.dtype}")
    if t.dtype == jnp.float64 and not x64_enabled():
        raise TypeError(
            f"{name}: float64 input while JAX's x64 mode is off would silently become "
            "float32; call inside `with jax.enable_x64(True):` or set JAX_ENABLE_X64=1"
        )
    if dtype is not None and t.dtype != dtype:
        raise TypeError(
            f"{name}: dtype {t.dtype} does not match the parameters' {dtype}; nothing is cast silently"
        )
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {tuple(t.shape)}")
    if not np.isfinite(np.asarray(t)).all():  # on the host: no XLA compile for each new shape
        raise ValueError(f"{name}: contains NaN or Inf")


def positive_int(n: object, least: int = 1) -> bool:
    # int(n) is exact for an Integral; the numbers ABC itself declares only < and <=
    return isinstance(n, numbers.Integral) and not isinstance(n, bool) and int(n) >= least


def check_block(i: int, block: object) -> Block:
    """Each field of spec.conv[i] (any object with Conv's six attributes) -> a Block."""
    fields: dict[str, Any] = {}
    for field in Block._fields:
        if not hasattr(block, field):
            raise TypeError(f"spec.conv[{i}].{field}: missing; a conv block needs {', '.join(Block._fields)}")
        value = fields[field] = getattr(block, field)
        if field == "pool" and value not in POOLS:
            raise ValueError(f"spec.conv[{i}].pool: expected one of {list(POOLS)}, got {value!r}")
        if field != "pool" and not positive_int(value, least=0 if field == "padding" else 1):
            least = "an integer >= 0" if field == "padding" else "a positive integer"
            raise ValueError(f"spec.conv[{i}].{field}: expected {least}, got {value!r}")
    return Block(**fields)


def layer_shapes(
    input_shape: Sequence[int], conv: Sequence[ConvBlock]
) -> list[tuple[tuple[int, int, int], tuple[int, int, int]]]:
    """[(z^l shape, a^l shape)] per conv block, each (C, H, W): ⌊(H + 2p − k)/s⌋ + 1, then the pool."""
    shapes, a = [], tuple(input_shape)
    for block in conv:
        (_, H, W), k, s, p = a, block.kernel, block.stride, block.padding
        z = (block.channels, (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1)
        size = block.pool_size if block.pool else 1
        a = (block.channels, z[1] // size, z[2] // size)
        shapes.append((z, a))
    return shapes


def check_conv(spec: Spec, sizes: tuple[int, ...]) -> Blocks:
    """The conv blocks as a tuple of Blocks (() for an MLP), checked against input_shape and sizes[0]."""
    conv, shape = getattr(spec, "conv", ()) or (), getattr(spec, "input_shape", None)
    if not isinstance(conv, (tuple, list)):
        raise TypeError(f"spec.conv: expected a tuple of conv blocks, got {type(conv).__name__}")
    if not conv:
        if shape is not None:
            raise ValueError(
                f"spec.input_shape: {shape!r} given without conv blocks; a dense network "
                "takes x of shape (m, sizes[0])"
            )
        return ()
    if not (isinstance(shape, (tuple, list)) and len(shape) == 3 and all(map(positive_int, shape))):
        raise ValueError(
            f"spec.input_shape: a conv spec needs (C_0, H_0, W_0), three positive integers, got {shape!r}"
        )
    blocks, (_, H, W) = tuple(check_block(i, block) for i, block in enumerate(conv)), shape
    for i, (block, (z, a)) in enumerate(zip(blocks, layer_shapes(shape, blocks))):
        padded = (H + 2 * block.padding, W + 2 * block.padding)
        if block.kernel > min(padded):
            raise ValueError(
                f"spec.conv[{i}]: kernel {block.kernel} is larger than the padded input "
                f"{padded[0]}x{padded[1]}"
            )
        if block.pool and (z[1] % block.pool_size or z[2] % block.pool_size):
            raise ValueError(
                f"spec.conv[{i}]: pool_size {block.pool_size} does not divide the conv output {z[1]}x{z[2]}"
            )
        _, H, W = a
    if sizes[0] != math.prod(a):
        raise ValueError(
            f"spec.sizes: sizes[0]={sizes[0]} does not equal the flattened size "
            f"{math.prod(a)} of the last conv block's output {a}"
        )
    return blocks


class Rnn(NamedTuple):
    """A recurrent spec's ``recurrent`` in the hashable form jit needs for static data: T and the
    output mode ("all" or "last")."""

    steps: int
    outputs: str


# what check_network returns, static under jit: a dense or conv spec's blocks (() for an MLP), or a
# recurrent spec's Rnn (a recurrent spec has no conv blocks)
Structure: TypeAlias = Blocks | Rnn
RECURRENT_OUTPUTS = ("all", "last")


def check_recurrent(spec: Spec, sizes: tuple[int, ...]) -> Rnn | None:
    """spec.recurrent (None or missing: a dense or conv spec) as an Rnn: T >= 1, the output mode, no
    conv blocks, at least one hidden layer (the recurrent ones; the output layer is dense)."""
    recurrent = getattr(spec, "recurrent", None)
    if recurrent is None:
        return None
    for field in Rnn._fields:
        if not hasattr(recurrent, field):
            raise TypeError(f"spec.recurrent: missing attribute {field!r}; expected steps and outputs")
    steps, outputs = recurrent.steps, recurrent.outputs
    if not positive_int(steps):
        raise ValueError(f"spec.recurrent.steps: expected a positive integer (T >= 1), got {steps!r}")
    if not isinstance(outputs, str) or outputs not in RECURRENT_OUTPUTS:
        raise ValueError(f"spec.recurrent.outputs: expected 'all' or 'last', got {outputs!r}")
    conv, input_shape = getattr(spec, "conv", ()) or (), getattr(spec, "input_shape", None)
    if conv or input_shape is not None:
        raise ValueError(
            f"spec.recurrent: a recurrent network has no conv blocks or input_shape, got "
            f"{len(conv)} conv blocks and input_shape={input_shape!r}"
        )
    if len(sizes) < 3:
        raise ValueError(
            f"spec.recurrent: a recurrent network needs at least one hidden layer to recur "
            f"(sizes (n_0, n_1, ..., n_L), L >= 2), got sizes {sizes}"
        )
    return Rnn(int(steps), outputs)


def check_layer(l: int, layer: object, names: str) -> None:
    """params[l - 1] is a tuple or list of as many arrays as ``names`` ("W, b" or "W, U, b") has."""
    n = names.count(",") + 1
    if not isinstance(layer, (list, tuple)) or len(layer) != n:
        what = "a (W, U, b) triple for recurrent layer" if n == 3 else f"a ({names}) pair for layer"
        raise TypeError(f"params[{l - 1}]: expected {what} {l}")


def check_recurrent_params(params: ParamsIn, sizes: tuple[int, ...]) -> npt.DTypeLike:
    """[(W^l (n_l, n_{l-1}), U^l (n_l, n_l), b^l (n_l,))] for l = 1..L-1, then (W^L, b^L); one dtype."""
    L = len(sizes) - 1
    if not isinstance(params, (list, tuple)) or len(params) != L:
        raise ValueError(
            f"params: expected a list of {L} layers ((W, U, b) triples for the {L - 1} recurrent "
            f"layers, then the output layer's (W, b) pair) for sizes {sizes}, got "
            f"{type(params).__name__} of length {len(params) if hasattr(params, '__len__') else '?'}"
        )
    dtype: npt.DTypeLike | None = None
    for l, layer in enumerate(params, start=1):
        check_layer(l, layer, "W, U, b" if l < L else "W, b")
        check_array(f"params[{l - 1}].W (layer {l})", layer[0], (sizes[l], sizes[l - 1]), dtype)
        dtype = layer[0].dtype
        if l < L:
            check_array(f"params[{l - 1}].U (layer {l})", layer[1], (sizes[l], sizes[l]), dtype)
        check_array(f"params[{l - 1}].b (layer {l})", layer[-1], (sizes[l],), dtype)
    assert dtype is not None  # L >= 2 layers were checked
    return dtype


def check_targets(spec: Spec, y: jax.Array) -> None:
    y_host = np.asarray(y)
    if spec.loss != "quadratic" and ((y_host < 0) | (y_host > 1)).any():
        raise ValueError(f"y: targets for {spec.loss} must lie in [0, 1] (one-hot labels)")


def check_network(spec: Spec, params: ParamsIn, x: jax.Array, y: jax.Array) -> Structure:
    """Spec, params, x, y of any network: float, finite, one dtype. Returns the structure (jit's
    static data): the conv blocks for a dense or conv spec (check_inputs), an Rnn for a recurrent one,
    whose x is (m, T, n_0) and y (m, T, n_L) for outputs "all", (m, n_L) for "last"."""
    sizes = check_spec(spec)
    rnn = check_recurrent(spec, sizes)
    if rnn is None:
        return check_dense_or_conv(spec, sizes, params, x, y)
    dtype = check_recurrent_params(params, sizes)
    T, shape = rnn.steps, tuple(getattr(x, "shape", ()))
    if not hasattr(x, "ndim") or x.ndim != 3 or shape[1:] != (T, sizes[0]):
        m = shape[0] if shape else "m"
        raise ValueError(
            f"x: expected shape (m, T, n_0) = ({m}, {T}, {sizes[0]}), one sequence of T = {T} "
            f"steps per example, got {getattr(x, 'shape', type(x).__name__)}"
        )
    if shape[0] == 0:
        raise ValueError("x: empty batch (m = 0); expected at least one sequence")
    check_array("x", x, shape, dtype)
    m = shape[0]
    y_shape = (m, T, sizes[-1]) if rnn.outputs == "all" else (m, sizes[-1])
    if hasattr(y, "shape") and tuple(y.shape) != y_shape:
        layout = "(m, T, n_L)" if rnn.outputs == "all" else "(m, n_L)"
        raise ValueError(
            f"y: expected shape {layout} = {y_shape} for outputs={rnn.outputs!r}, got {tuple(y.shape)}"
        )
    check_array("y", y, y_shape, dtype)
    check_targets(spec, y)
    return rnn


def check_inputs(spec: Spec, params: ParamsIn, x: jax.Array, y: jax.Array) -> Blocks:
    """Spec, params, x, y of a dense or conv network: float, finite, one dtype; return the conv
    blocks (jit's static data). A recurrent spec is refused here: the ports that implement recurrence
    (``supports_recurrent``) call :func:`check_network`.

    An MLP has [(W, b)] and x (m, n_0); a conv spec has its (K, b) pairs first and x (m, C_0, H_0, W_0).
    """
    sizes = check_spec(spec)
    if getattr(spec, "recurrent", None) is not None:
        raise ValueError(
            "spec.recurrent: this implementation takes dense and conv networks only "
            "(it does not declare supports_recurrent)"
        )
    return check_dense_or_conv(spec, sizes, params, x, y)


def check_dense_or_conv(
    spec: Spec, sizes: tuple[int, ...], params: ParamsIn, x: jax.Array, y: jax.Array
) -> Blocks:
    conv = check_conv(spec, sizes)
    n_pairs = len(conv) + len(sizes) - 1
    if not isinstance(params, (list, tuple)) or len(params) != n_pairs:
        what = f"{len(conv)} (K, b) and {len(sizes) - 1} (W, b)" if conv else f"{n_pairs} (W, b)"
        raise ValueError(f"params: expected a list of {what} pairs for sizes {sizes}")
    for l, layer in enumerate(params, start=1):
        check_layer(l, layer, "K, b" if l <= len(conv) else "W, b")
    dtype: npt.DTypeLike | None
    dtype, C = None, cast(ConvSpec, spec).input_shape[0] if conv else None  # conv: spec has input_shape
    for l, ((K, b), block) in enumerate(zip(params, conv), start=1):
        assert C is not None  # C_0 of a conv spec, then the channels of the block before
        check_array(
            f"params[{l - 1}].K (layer {l})", K, (block.channels, C, block.kernel, block.kernel), dtype
        )
        dtype, C = K.dtype, block.channels
        check_array(f"params[{l - 1}].b (layer {l})", b, (block.channels,), dtype)
    for l, (W, b) in enumerate(params[len(conv) :], start=len(conv) + 1):
        n = l - len(conv)  # position in sizes
        check_array(f"params[{l - 1}].W (layer {l})", W, (sizes[n], sizes[n - 1]), dtype)
        dtype = W.dtype
        check_array(f"params[{l - 1}].b (layer {l})", b, (sizes[n],), dtype)
    if conv:
        want = tuple(cast(ConvSpec, spec).input_shape)
        if not hasattr(x, "ndim") or x.ndim != 4 or x.shape[0] == 0:
            raise ValueError(
                f"x: expected a 4-D array (m, {', '.join(map(str, want))}) with m >= 1, got "
                f"{getattr(x, 'shape', type(x).__name__)}"
            )
        check_array("x", x, (x.shape[0],) + want, dtype)
    else:
        if not hasattr(x, "ndim") or x.ndim != 2 or x.shape[0] == 0:
            raise ValueError(
                f"x: expected a non-empty 2-D array (m, {sizes[0]}), got "
                f"{getattr(x, 'shape', type(x).__name__)}"
            )
        check_array("x", x, (x.shape[0], sizes[0]), dtype)
    check_array("y", y, (x.shape[0], sizes[-1]), dtype)
    check_targets(spec, y)
    return conv


def check_lr(lr: float) -> float:
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr: expected a finite learning rate > 0, got {lr!r}")
    return float(lr)


def check_schedule(lr: float | Sequence[float], steps: int) -> list[float]:
    """η_t for t = 1..steps: a float (a constant rate, checked by :func:`check_lr`) or a sequence of
    ``steps`` finite rates > 0, one per step."""
    if isinstance(lr, numbers.Real) and not isinstance(lr, bool):
        return [check_lr(cast(float, lr))] * steps
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


def check_training(lr: float | Sequence[float], batches: Batches, m: int) -> list[float]:
    """The batch order, then η_t for each of its steps (:func:`check_schedule`)."""
    if not isinstance(batches, (list, tuple)) or not batches:
        raise ValueError("batches: expected a non-empty list of index arrays (one per step)")
    for k, idx in enumerate(batches):
        if not hasattr(idx, "ndim") or idx.ndim != 1 or idx.shape[0] == 0:
            raise ValueError(f"batches[{k}]: expected a non-empty 1-D index array")
        if not jnp.issubdtype(idx.dtype, jnp.integer):
            raise TypeError(f"batches[{k}]: expected integer indices, got {idx.dtype}")
    host = [np.asarray(idx) for idx in batches]  # one range check on the host for the whole order
    every = np.concatenate(host)
    if every.min() < 0 or every.max() >= m:
        k = next(k for k, idx in enumerate(host) if idx.min() < 0 or idx.max() >= m)
        raise ValueError(f"batches[{k}]: indices must lie in [0, {m}) for {m} examples")
    return check_schedule(lr, len(batches))


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
# the fields that shape the compiled program; every other field is a number, traced under jit
SWITCHES = ("name", "momentum_form", "eps_in_sqrt", "eps_hat")


@dataclass(frozen=True)
class Hyper:
    """A checked optimizer: every hyperparameter present, as a plain Python value. Also a pytree:
    the numbers are its leaves, so jit traces them and problems of one shape share one compiled
    program; the SWITCHES, and whether clip_value / clip_norm is set (None is no leaf), are static."""

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


jax.tree_util.register_dataclass(
    Hyper, data_fields=[f.name for f in fields(Hyper) if f.name not in SWITCHES], meta_fields=list(SWITCHES)
)


def check_real(
    name: str,
    value: object,
    low: float,
    high: float = math.inf,
    *,
    open_low: bool = False,
    open_high: bool = True,
) -> float:
    """A finite real number in the interval from ``low`` to ``high``, each end open or closed."""
    v = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else math.nan
    ok = math.isfinite(v) and (v > low if open_low else v >= low) and (v < high if open_high else v <= high)
    if not ok:
        lo = f"{'(' if open_low else '['}{low:g}"
        hi = f"{high:g}{')' if open_high else ']'}" if math.isfinite(high) else "∞)"
        raise ValueError(f"optimizer.{name}: expected a finite real number in {lo}, {hi}, got {value!r}")
    return v


def check_optimizer(optimizer: object) -> Hyper:
    """An optimizer (any object with ``name`` and the hyperparameters it sets; the others take
    OPTIMIZER_DEFAULTS) as a :class:`Hyper`. A hyperparameter the named rule does not read must keep
    its default: a beta1 handed to momentum is a mistake, not a no-op."""
    name = getattr(optimizer, "name", None)
    if not isinstance(name, str):
        raise TypeError(
            f"optimizer: expected an object with a name (one of {list(OPTIMIZERS)}), got {optimizer!r}"
        )
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer.name: unknown optimizer {name!r}; expected one of {list(OPTIMIZERS)}")
    got = {k: getattr(optimizer, k, default) for k, default in OPTIMIZER_DEFAULTS.items()}
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
    momentum = check_real("momentum", got["momentum"], 0.0, 1.0, open_low=name in ("momentum", "nesterov"))
    for beta in ("rho", "beta1", "beta2"):
        check_real(beta, got[beta], 0.0, 1.0)
    check_real("eps", got["eps"], 0.0, open_low=True)
    check_real("decoupled_decay", got["decoupled_decay"], 0.0)
    check_real("initial_accumulator", got["initial_accumulator"], 0.0)
    check_real("clip_eps", got["clip_eps"], 0.0)
    for c in ("clip_value", "clip_norm"):
        if got[c] is not None:
            got[c] = check_real(c, got[c], 0.0, open_low=True)
    if got["clip_value"] is not None and got["clip_norm"] is not None:
        raise ValueError("optimizer.clip_norm: set clip_value or clip_norm, not both")
    if got["clip_eps"] and got["clip_norm"] is None:
        raise ValueError(
            f"optimizer.clip_eps: only clip_norm reads it (got {got['clip_eps']!r} without clip_norm)"
        )
    return Hyper(
        name,
        momentum,
        str(got["momentum_form"]),
        float(cast(float, got["rho"])),
        float(cast(float, got["beta1"])),
        float(cast(float, got["beta2"])),
        float(cast(float, got["eps"])),
        bool(got["eps_in_sqrt"]),
        bool(got["eps_hat"]),
        float(cast(float, got["decoupled_decay"])),
        float(cast(float, got["initial_accumulator"])),
        cast(float | None, got["clip_value"]),
        cast(float | None, got["clip_norm"]),
        float(cast(float, got["clip_eps"])),
    )
