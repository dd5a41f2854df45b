"""Mini-batch SGD over a given batch order, weight initialisation and batch orders (NumPy).

Every random number of the project comes from ``np.random.Generator(np.random.PCG64(seed))`` so that
PyTorch and JAX can be handed exactly the same initial weights and the same batch order
(docs/contract.md, "Conventions").
"""

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from . import optimizers
from .conv import conv_shapes
from .network import backprop_unchecked, feedforward
from .optimizers import State
from .types import Batches, ConvBlock, FloatArray, IndexArray, Optimizer, Params, ParamsIn, Recurrent, Spec
from .validation import check_batches, check_inputs, check_optimizer, check_schedule


class Trajectory(NamedTuple):
    losses: list[float]  # batch cost before each step's update, one float per step
    params: Params  # final [(W, b)] ([(W, U, b), ..., (W, b)] for a recurrent spec)
    state: State | None = None  # the optimizer's final state (optimizers.py); None for plain SGD


def rng_from(seed: int | np.random.Generator) -> np.random.Generator:
    """A PCG64 generator from an int seed (or pass a Generator through)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.Generator(np.random.PCG64(seed))


def init_params(
    sizes: Sequence[int],
    seed: int | np.random.Generator,
    scheme: str = "scaled",
    dtype: npt.DTypeLike = np.float64,
    *,
    input_shape: Sequence[int] | None = None,
    conv: Sequence[ConvBlock] = (),
    recurrent: bool = False,
) -> Params:
    """Initial [(W, b)] for ``sizes``, drawn layer by layer (W then b) from PCG64(seed).

    scheme="standard": W, b ~ N(0, 1), Nielsen's ch. 1 ``np.random.randn`` (seed 004, seed 003's recipe).
    scheme="scaled":   W ~ N(0, 1/n_{l-1}), b ~ N(0, 1), Nielsen's ch. 3 default initialiser.
    With conv blocks (``input_shape`` and ``conv`` as in the spec) their (K, b) pairs come first, drawn
    block by block (K then b) before the dense layers; "scaled" takes K ~ N(0, 1/(C_{l-1} k²)), the
    fan-in of one output position, as 1/n_{l-1} is for a dense unit.
    With ``recurrent=True`` (an Elman network, recurrent.py) layers 1..L-1 are (W, U, b) triples drawn
    W, then U (n_l, n_l), then b; "scaled" takes U ~ N(0, 1/n_l), the fan-in of U. The output layer
    draws (W, b) as a dense one. Without it the draws are exactly those of a dense or conv network.
    Draws happen in float64 and are then cast once, so both dtypes see the same numbers.
    """
    if scheme not in ("standard", "scaled"):
        raise ValueError(f"scheme: expected 'standard' or 'scaled', got {scheme!r}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype: expected float32 or float64, got {dtype}")
    if recurrent and (conv or input_shape is not None):
        raise ValueError("recurrent: a recurrent network has no conv blocks or input_shape")
    if recurrent and len(sizes) < 3:
        raise ValueError(
            f"recurrent: a recurrent network needs at least one hidden layer, got sizes {tuple(sizes)}"
        )
    rng = rng_from(seed)
    shapes: list[tuple[int, ...]] = [s.kernel for s in (conv_shapes(input_shape, conv) if conv else [])]
    shapes += [(n_out, n_in) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    params: Params = []
    for l, shape in enumerate(shapes, start=1):
        scale = 1.0 if scheme == "standard" else 1.0 / np.sqrt(np.prod(shape[1:]))  # fan-in
        layer = [rng.standard_normal(shape) * scale]  # W^l (K^l)
        if recurrent and l < len(shapes):  # a recurrent layer: U^l between W^l and b^l in the stream
            n = shape[0]
            layer.append(rng.standard_normal((n, n)) * (1.0 if scheme == "standard" else 1.0 / np.sqrt(n)))
        layer.append(rng.standard_normal(shape[0]))  # b^l
        params.append(tuple(a.astype(dtype) for a in layer))
    return params


def batch_order(n: int, batch_size: int, epochs: int, seed: int | np.random.Generator) -> list[IndexArray]:
    """Nielsen's epochs: shuffle range(n) once per epoch and cut it into mini-batches of batch_size
    (the last one smaller when batch_size does not divide n). Returns a list of index arrays."""
    if batch_size < 1 or epochs < 1 or n < 1:
        raise ValueError(
            f"batch_order: n, batch_size and epochs must be >= 1, got {n}, {batch_size}, {epochs}"
        )
    rng = rng_from(seed)
    batches: list[IndexArray] = []
    for _ in range(epochs):
        perm = rng.permutation(n)
        batches.extend(perm[k : k + batch_size] for k in range(0, n, batch_size))
    return batches


def sgd_step(params: ParamsIn, grads: ParamsIn, lr: float) -> Params:
    """W ← W − η ∂C/∂W, b ← b − η ∂C/∂b (Nielsen's w − (η/m) Σ ∇C_x, the 1/m already in grads);
    every array of a layer alike, so a recurrent layer's (W, U, b) too."""
    steps = zip(params, grads)  # BP-SGD
    return [tuple(p - lr * g for p, g in zip(layer, grad)) for layer, grad in steps]  # BP-SGD


def train(
    spec: Spec,
    params: ParamsIn,
    x: FloatArray,
    y: FloatArray,
    *,
    lr: float | Sequence[float],
    batches: Batches,
    optimizer: Optimizer | None = None,
) -> Trajectory:
    """One step per index array in ``batches``; record each step's cost before its update.

    ``lr`` is η, or one η_t per step (a schedule). ``optimizer=None`` is plain SGD (:func:`sgd_step`);
    otherwise the update of optimizers.py with state fresh for this call, returned as ``state``."""
    check_inputs(spec, params, x, y)
    hyper = None if optimizer is None else check_optimizer(optimizer)
    batches = check_batches(batches, x.shape[0])
    rates = check_schedule(lr, len(batches))
    state = None if hyper is None else optimizers.init_state(hyper, params)
    losses = []
    for step, (idx, lr_t) in enumerate(zip(batches, rates)):
        result = backprop_unchecked(spec, params, x[idx], y[idx])
        if not math.isfinite(result.loss):  # never hand back NaN/Inf parameters quietly
            raise FloatingPointError(
                f"train: the cost is {result.loss} at step {step}; training "
                f"diverged, the learning rate lr={lr_t} is too large"
            )
        losses.append(result.loss)
        if hyper is None or state is None:
            params = sgd_step(params, result.grads, lr_t)
        else:
            params, state = optimizers.step(hyper, params, result.grads, state, lr_t)
    assert isinstance(params, list)  # the last step's new list (batches is never empty)
    return Trajectory(losses, params, state)


def accuracy(
    params: ParamsIn,
    x: FloatArray,
    labels: npt.ArrayLike,
    activation: str,
    output: str,
    *,
    conv: Sequence[ConvBlock] = (),
    recurrent: Recurrent | None = None,
) -> float:
    """Fraction of rows whose largest output activation is at the true class label (``conv``: the
    spec's conv blocks, as for :func:`reference.feedforward`).

    ``recurrent`` (the spec's recurrence): x is (m, T, n_0). For outputs="last" one prediction per
    sequence, labels (m,); for "all" one per step, scored over all m·T of them, against labels
    (m, T), or (m,) for one class that every step of a sequence should predict."""
    a_L = feedforward(params, x, activation, output, conv=conv, recurrent=recurrent)[1][-1]
    if recurrent is None or recurrent.outputs == "last":
        return float(np.mean(np.argmax(a_L, axis=1) == labels))
    predicted = np.argmax(a_L, axis=2)  # (m, T): the class at every step
    labels = np.asarray(labels)
    if labels.ndim == 1:  # one class per sequence: the same label at every step
        labels = labels[:, None]
    return float(np.mean(predicted == labels))
