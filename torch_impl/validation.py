"""Input checks for the torch implementations (the bad-input policy of docs/contract.md).

Each raises TypeError/ValueError naming the argument before any arithmetic. Nothing is cast:
dtype and device follow the inputs, and mixing dtypes or devices is an error.
"""

import math
import numbers
from collections.abc import Iterable, Sequence

import torch

from .costs import PAIRINGS
from .types import Batches, ConvBlock, ParamsIn, Spec

HIDDEN = ("sigmoid", "tanh", "relu", "identity")
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
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name}: contains NaN or Inf")


def check_inputs(spec: Spec, params: ParamsIn, x: torch.Tensor, y: torch.Tensor) -> None:
    """Spec, [(K, b)] + [(W, b)], x (m, n_0) or (m, C_0, H_0, W_0), y (m, n_L): all float, finite,
    one dtype and device."""
    sizes = check_spec(spec)
    kernels, input_shape = check_conv(spec, sizes)
    c = len(kernels)
    if not isinstance(params, (list, tuple)) or len(params) != c + len(sizes) - 1:
        conv = f"{c} (K, b) conv pairs then " if c else ""
        raise ValueError(f"params: expected a list of {conv}{len(sizes) - 1} (W, b) pairs for sizes {sizes}")
    like: torch.Tensor | None = None
    for l, (W, b) in enumerate(params, start=1):
        kind, shape = ("K", kernels[l - 1]) if l <= c else ("W", (sizes[l - c], sizes[l - c - 1]))
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
    if spec.loss != "quadratic" and bool(((y < 0) | (y > 1)).any()):
        raise ValueError(f"y: targets for {spec.loss} must lie in [0, 1] (one-hot labels)")


def check_training(lr: float, batches: Batches, m: int) -> None:
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"lr: expected a finite learning rate > 0, got {lr!r}")
    if not isinstance(batches, (list, tuple)) or not batches:
        raise ValueError("batches: expected a non-empty list of index tensors (one per step)")
    for k, idx in enumerate(batches):
        if not isinstance(idx, torch.Tensor) or idx.dim() != 1 or idx.numel() == 0:
            raise ValueError(f"batches[{k}]: expected a non-empty 1-D index tensor")
        if idx.dtype not in (torch.int32, torch.int64):
            raise TypeError(f"batches[{k}]: expected integer indices, got {idx.dtype}")
        if int(idx.min()) < 0 or int(idx.max()) >= m:
            raise ValueError(f"batches[{k}]: indices must lie in [0, {m}) for {m} examples")
