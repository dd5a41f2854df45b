"""Input checks for the torch implementations (the bad-input policy of docs/contract.md).

Each raises TypeError/ValueError naming the argument before any arithmetic. Nothing is cast:
dtype and device follow the inputs, and mixing dtypes or devices is an error.
"""

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import torch

from .costs import PAIRINGS
from .types import Batches, ConvBlock, LearningRate, ParamsIn, Recurrent, Spec

HIDDEN = ("sigmoid", "tanh", "relu", "identity")
RECURRENT_OUTPUTS = ("all", "last")
OUTPUTS = HIDDEN + ("softmax",)
BLOCK_FIELDS = (("channels", 1), ("kernel", 1), ("stride", 1), ("padding", 0), ("pool_size", 1))


def positive_ints(values: Iterable[object]) -> bool:
    return all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in values)


def check_spec(spec: Spec) -> tuple[int, ...]:
    sizes = tuple(getattr(spec, "sizes", ()))
    if len(sizes) < 2 or not positive_ints(sizes):
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


def check_block(
    name: str, block: ConvBlock, shape: Sequence[int]
) -> tuple[tuple[int, int, int, int], tuple[int, int, int]]:
    """One conv block on an input (C, H, W): its fields, then its kernel shape and pooled output."""
    for field, low in BLOCK_FIELDS + (("pool", None),):
        if not hasattr(block, field):
            raise TypeError(
                f"{name}.{field}: missing; a conv block has channels, kernel, stride, "
                "padding, pool, pool_size"
            )
        value = getattr(block, field)
        if low is None and value not in (None, "max", "avg"):
            raise ValueError(f"{name}.pool: expected None, 'max' or 'avg', got {value!r}")
        if low is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
            raise ValueError(f"{name}.{field}: expected an integer >= {low}, got {value!r}")
    C, H, W = shape
    k, p, s, size = block.kernel, block.padding, block.stride, block.pool_size
    if k > H + 2 * p or k > W + 2 * p:
        raise ValueError(
            f"{name}: kernel {k} is larger than the padded input {H + 2 * p}×{W + 2 * p} "
            f"({H}×{W} with padding {p})"
        )
    H, W = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    if block.pool is not None and (H % size or W % size):
        raise ValueError(f"{name}: pool_size {size} does not divide the correlation's output {H}×{W}")
    pooled = (H // size, W // size) if block.pool is not None else (H, W)
    return (block.channels, C, k, k), (block.channels, *pooled)


def check_conv(
    spec: Spec, sizes: tuple[int, ...]
) -> tuple[Sequence[tuple[int, int, int, int]], tuple[int, ...] | None]:
    """A conv spec's input_shape and blocks; return (kernel shapes, input_shape), ((), None) for an MLP."""
    blocks, shape = getattr(spec, "conv", ()) or (), getattr(spec, "input_shape", None)
    if not isinstance(blocks, (list, tuple)):
        raise TypeError(f"spec.conv: expected a tuple of conv blocks, got {type(blocks).__name__}")
    if not blocks:
        if shape is not None:
            raise ValueError(
                f"spec.input_shape: {shape!r} given without conv blocks; a dense network "
                "takes x of shape (m, sizes[0])"
            )
        return (), None
    if not isinstance(shape, (list, tuple)) or len(shape) != 3 or not positive_ints(shape):
        raise ValueError(
            f"spec.input_shape: a conv spec needs (C_0, H_0, W_0), three positive integers; got {shape!r}"
        )
    kernels, out = [], tuple(shape)
    for i, block in enumerate(blocks):
        kernel, out = check_block(f"spec.conv[{i}]", block, out)
        kernels.append(kernel)
    flat = out[0] * out[1] * out[2]
    if sizes[0] != flat:
        raise ValueError(
            f"spec.sizes: sizes[0]={sizes[0]} does not equal the flattened size {flat} "
            f"= {out[0]}·{out[1]}·{out[2]} of the last conv block's output"
        )
    return kernels, tuple(shape)


def check_recurrent(spec: Spec, sizes: tuple[int, ...]) -> Recurrent | None:
    """``spec.recurrent`` (None or missing: a dense or conv network): T = steps an integer >= 1,
    outputs "all" or "last", no conv blocks and at least one (recurrent) hidden layer."""
    recurrent = getattr(spec, "recurrent", None)
    if recurrent is None:
        return None
    for field in ("steps", "outputs"):
        if not hasattr(recurrent, field):
            raise TypeError(f"spec.recurrent: missing attribute {field!r}; expected steps and outputs")
    steps, outputs = recurrent.steps, recurrent.outputs
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"spec.recurrent.steps: expected a positive integer (T >= 1), got {steps!r}")
    if outputs not in RECURRENT_OUTPUTS:
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
    return recurrent


def check_tensor(name: str, t: object, shape: Sequence[int], like: torch.Tensor | None = None) -> None:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
    if t.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name}: expected dtype float32 or float64, got {t.dtype}")
    if like is not None and (t.dtype != like.dtype or t.device != like.device):
        raise TypeError(
            f"{name}: {t.dtype} on {t.device} does not match the parameters' "
            f"{like.dtype} on {like.device}; nothing is cast silently"
        )
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {tuple(t.shape)}")
    if not bool(torch.isfinite(torch.stack(torch.aminmax(t))).all()):  # NaN propagates to both
        raise ValueError(f"{name}: contains NaN or Inf")


def check_recurrent_params(params: ParamsIn, sizes: tuple[int, ...]) -> torch.Tensor:
    """A (W, U, b) triple per hidden layer, W^l (n_l, n_{l-1}), U^l (n_l, n_l), b^l (n_l,), then the
    output layer's (W, b) pair; return W^1 (the dtype and device the rest must match)."""
    L = len(sizes) - 1
    if not isinstance(params, (list, tuple)) or len(params) != L:
        raise ValueError(
            f"params: expected a list of {L} layers ((W, U, b) triples for the {L - 1} recurrent "
            f"layers, then the output layer's (W, b) pair) for sizes {sizes}, got "
            f"{type(params).__name__} of length {len(params) if hasattr(params, '__len__') else '?'}"
        )
    like: torch.Tensor | None = None
    for l, layer in enumerate(params, start=1):
        n_in, n = sizes[l - 1], sizes[l]
        if l < L and (not isinstance(layer, (list, tuple)) or len(layer) != 3):
            raise TypeError(f"params[{l - 1}]: expected a (W, U, b) triple for recurrent layer {l}")
        if l == L and (not isinstance(layer, (list, tuple)) or len(layer) != 2):
            raise TypeError(f"params[{l - 1}]: expected a (W, b) pair for layer {l}")
        check_tensor(f"params[{l - 1}].W (layer {l})", layer[0], (n, n_in), like)
        like = layer[0]
        if l < L:
            check_tensor(f"params[{l - 1}].U (layer {l})", layer[1], (n, n), like)
        check_tensor(f"params[{l - 1}].b (layer {l})", layer[-1], (n,), like)
    assert like is not None  # sizes has at least three entries (check_recurrent)
    return like


def check_recurrent_data(
    recurrent: Recurrent, sizes: tuple[int, ...], x: object, y: object, like: torch.Tensor
) -> None:
    """x (m, T, n_0), m >= 1; y (m, T, n_L) for outputs "all", (m, n_L) for "last"."""
    T, outputs = recurrent.steps, recurrent.outputs
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or tuple(x.shape[1:]) != (T, sizes[0]):
        m = x.shape[0] if isinstance(x, torch.Tensor) and x.dim() else "m"
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(
            f"x: expected shape (m, T, n_0) = ({m}, {T}, {sizes[0]}), one sequence of T = {T} "
            f"steps per example, got {got}"
        )
    if x.shape[0] == 0:
        raise ValueError("x: empty batch (m = 0); expected at least one sequence")
    m = x.shape[0]
    check_tensor("x", x, (m, T, sizes[0]), like)
    y_shape = (m, T, sizes[-1]) if outputs == "all" else (m, sizes[-1])
    if isinstance(y, torch.Tensor) and tuple(y.shape) != y_shape:
        layout = "(m, T, n_L)" if outputs == "all" else "(m, n_L)"
        raise ValueError(
            f"y: expected shape {layout} = {y_shape} for outputs={outputs!r}, got {tuple(y.shape)}"
        )
    check_tensor("y", y, y_shape, like)


def check_inputs(spec: Spec, params: ParamsIn, x: torch.Tensor, y: torch.Tensor) -> None:
    """Spec, [(K, b)] + [(W, b)], x (m, n_0) or (m, C_0, H_0, W_0), y (m, n_L): all float, finite,
    one dtype and device. A recurrent spec: [(W, U, b)] + [(W, b)], x (m, T, n_0), y (m, T, n_L) or
    (m, n_L) (:func:`check_recurrent`)."""
    sizes = check_spec(spec)
    recurrent = check_recurrent(spec, sizes)
    if recurrent is not None:
        check_recurrent_data(recurrent, sizes, x, y, check_recurrent_params(params, sizes))
        check_targets(spec, y)
        return
    kernels, input_shape = check_conv(spec, sizes)
    c = len(kernels)
    if not isinstance(params, (list, tuple)) or len(params) != c + len(sizes) - 1:
        conv = f"{c} (K, b) conv pairs then " if c else ""
        raise ValueError(f"params: expected a list of {conv}{len(sizes) - 1} (W, b) pairs for sizes {sizes}")
    like: torch.Tensor | None = None
    for l, pair in enumerate(params, start=1):
        kind, shape = ("K", kernels[l - 1]) if l <= c else ("W", (sizes[l - c], sizes[l - c - 1]))
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TypeError(f"params[{l - 1}]: expected a ({kind}, b) pair for layer {l}")
        W, b = pair
        check_tensor(f"params[{l - 1}].{kind} (layer {l})", W, shape, like)
        like = W
        check_tensor(f"params[{l - 1}].b (layer {l})", b, (shape[0],), like)
    features = input_shape or (sizes[0],)
    if not isinstance(x, torch.Tensor) or x.dim() != 1 + len(features) or x.shape[0] == 0:
        expected = (
            f"a 4-D array (m, C, H, W) = (m, {', '.join(map(str, features))}), non-empty"
            if c
            else f"a non-empty 2-D tensor (m, {sizes[0]})"
        )
        raise ValueError(f"x: expected {expected}, got {tuple(getattr(x, 'shape', ())) or type(x).__name__}")
    check_tensor("x", x, (x.shape[0], *features), like)
    check_tensor("y", y, (x.shape[0], sizes[-1]), like)
    check_targets(spec, y)


def check_targets(spec: Spec, y: torch.Tensor) -> None:
    if spec.loss != "quadratic" and bool(((y < 0) | (y > 1)).any()):
        raise ValueError(f"y: targets for {spec.loss} must lie in [0, 1] (one-hot labels)")


def check_lr(lr: object) -> float:
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr: expected a finite learning rate > 0, got {lr!r}")
    return float(lr)


def check_schedule(lr: LearningRate, steps: int) -> list[float]:
    """η_t for t = 1..steps: a float (a constant rate) or a sequence of ``steps`` finite rates > 0."""
    if isinstance(lr, numbers.Real) and not isinstance(lr, bool):
        return [check_lr(lr)] * steps
    if isinstance(lr, (str, bytes)) or not isinstance(lr, Sequence):
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


def check_training(lr: LearningRate, batches: Batches, m: int) -> list[float]:
    """The batch order, then η_t for each of its steps (:func:`check_schedule`)."""
    if not isinstance(batches, (list, tuple)) or not batches:
        raise ValueError("batches: expected a non-empty list of index tensors (one per step)")
    for k, idx in enumerate(batches):
        if not isinstance(idx, torch.Tensor) or idx.dim() != 1 or idx.numel() == 0:
            raise ValueError(f"batches[{k}]: expected a non-empty 1-D index tensor")
        if idx.dtype not in (torch.int32, torch.int64):
            raise TypeError(f"batches[{k}]: expected integer indices, got {idx.dtype}")
    low, high = map(int, torch.aminmax(torch.cat(list(batches))))  # one range check for the whole order
    if low < 0 or high >= m:
        k = next(k for k, idx in enumerate(batches) if int(idx.min()) < 0 or int(idx.max()) >= m)
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
    x = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else math.nan
    above = x > low if open_low else x >= low  # False for NaN: not a real number, or NaN itself
    below = x < high if open_high else x <= high
    if not (math.isfinite(x) and above and below):
        lo = f"{'(' if open_low else '['}{low:g}"
        hi = f"{high:g}{')' if open_high else ']'}" if math.isfinite(high) else "∞)"
        raise ValueError(f"optimizer.{name}: expected a finite real number in {lo}, {hi}, got {value!r}")
    return x


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
    eps_in_sqrt, eps_hat = got["eps_in_sqrt"], got["eps_hat"]
    for flag, value in (("eps_in_sqrt", eps_in_sqrt), ("eps_hat", eps_hat)):
        if not isinstance(value, bool):
            raise TypeError(f"optimizer.{flag}: expected True or False, got {value!r}")
    form = got["momentum_form"]
    if form not in ("buffer", "velocity"):
        raise ValueError(f"optimizer.momentum_form: expected 'buffer' or 'velocity', got {form!r}")
    momentum = check_real("momentum", got["momentum"], 0.0, 1.0, open_low=name in ("momentum", "nesterov"))
    rho, beta1, beta2 = (check_real(beta, got[beta], 0.0, 1.0) for beta in ("rho", "beta1", "beta2"))
    eps = check_real("eps", got["eps"], 0.0, open_low=True)
    decoupled_decay = check_real("decoupled_decay", got["decoupled_decay"], 0.0)
    initial_accumulator = check_real("initial_accumulator", got["initial_accumulator"], 0.0)
    clip_eps = check_real("clip_eps", got["clip_eps"], 0.0)
    clip_value, clip_norm = (
        None if got[c] is None else check_real(c, got[c], 0.0, open_low=True)
        for c in ("clip_value", "clip_norm")
    )
    if clip_value is not None and clip_norm is not None:
        raise ValueError("optimizer.clip_norm: set clip_value or clip_norm, not both")
    if clip_eps and clip_norm is None:
        raise ValueError(
            f"optimizer.clip_eps: only clip_norm reads it (got {got['clip_eps']!r} without clip_norm)"
        )
    return Hyper(
        name,
        momentum,
        str(form),
        rho,
        beta1,
        beta2,
        eps,
        bool(eps_in_sqrt),
        bool(eps_hat),
        decoupled_decay,
        initial_accumulator,
        clip_value,
        clip_norm,
        clip_eps,
    )
