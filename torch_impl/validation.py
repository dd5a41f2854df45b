"""Input checks for the torch implementations (the bad-input policy of docs/contract.md).

Each raises TypeError/ValueError naming the argument before any arithmetic. Nothing is cast:
dtype and device follow the inputs, and mixing dtypes or devices is an error.
"""

import math
import numbers

import torch

from .costs import PAIRINGS

HIDDEN = ("sigmoid", "tanh", "relu", "identity")
OUTPUTS = HIDDEN + ("softmax",)


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


def check_tensor(name, t, shape, like=None):
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
    if t.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name}: expected dtype float32 or float64, got {t.dtype}")
    if like is not None and (t.dtype != like.dtype or t.device != like.device):
        raise TypeError(f"{name}: {t.dtype} on {t.device} does not match the parameters' "
                        f"{like.dtype} on {like.device}; nothing is cast silently")
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name}: contains NaN or Inf")


def check_inputs(spec, params, x, y):
    """Spec, [(W, b)], x (m, n_0), y (m, n_L): all float, finite, one dtype and device."""
    sizes = check_spec(spec)
    if not isinstance(params, (list, tuple)) or len(params) != len(sizes) - 1:
        raise ValueError(f"params: expected a list of {len(sizes) - 1} (W, b) pairs for sizes {sizes}")
    like = None
    for l, (W, b) in enumerate(params, start=1):
        check_tensor(f"params[{l - 1}].W (layer {l})", W, (sizes[l], sizes[l - 1]), like)
        like = W
        check_tensor(f"params[{l - 1}].b (layer {l})", b, (sizes[l],), like)
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[0] == 0:
        raise ValueError(f"x: expected a non-empty 2-D tensor (m, {sizes[0]}), got "
                         f"{tuple(getattr(x, 'shape', ())) or type(x).__name__}")
    check_tensor("x", x, (x.shape[0], sizes[0]), like)
    check_tensor("y", y, (x.shape[0], sizes[-1]), like)
    if spec.loss != "quadratic" and bool(((y < 0) | (y > 1)).any()):
        raise ValueError(f"y: targets for {spec.loss} must lie in [0, 1] (one-hot labels)")


def check_training(lr, batches, m):
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
