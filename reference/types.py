"""The types of the reference's contract (docs/contract.md), named once for every module here.

Arrays are NumPy ndarrays of float32 or float64 (one dtype per call), examples first. A spec, its
conv blocks and its recurrence are duck-typed: any object with the attributes below will do
(conformance.Spec, conformance.Conv, a SimpleNamespace, a dataclass of one's own); the protocols only
name what is read.
"""

from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.floating]
"""float32 or float64: x, y, every W^l, b^l, K^l, z^l, a^l, δ^l and gradient."""
IndexArray: TypeAlias = npt.NDArray[np.integer]
"""A 1-D array of example indices: one mini-batch."""
Pair: TypeAlias = tuple[FloatArray, FloatArray]
"""(W^l, b^l) of a dense layer or (K^l, b^l) of a conv block; the gradients (∂C/∂W^l, ∂C/∂b^l) alike."""
Triple: TypeAlias = tuple[FloatArray, FloatArray, FloatArray]
"""(W^l, U^l, b^l) of a recurrent layer (recurrent.py); the gradients (∂C/∂W^l, ∂C/∂U^l, ∂C/∂b^l) alike."""
Layer: TypeAlias = tuple[FloatArray, ...]
"""One layer's arrays, weights first and the bias last: a :data:`Pair` or a :data:`Triple`. Written as
a tuple of any length, not ``Pair | Triple``, so that ``W, b = layer`` still type-checks where the spec
fixes the length (a dense or conv layer; validation.check_params checks it at run time)."""
Params: TypeAlias = list[Layer]
"""[(K^1, b^1), ..., (K^c, b^c)] for the conv blocks (if any), then [(W^{c+1}, b^{c+1}), ..., (W^L, b^L)];
for a recurrent spec [(W^1, U^1, b^1), ..., (W^{L-1}, U^{L-1}, b^{L-1}), (W^L, b^L)]: as the functions
return them (gradients, trained or initial parameters)."""
ParamsIn: TypeAlias = Sequence[Layer]
"""The same layers as the functions take them: a list, or any sequence (only read, never changed)."""
Batches: TypeAlias = Sequence[IndexArray]
"""The batch order: one index array per SGD step."""
Activation: TypeAlias = Callable[[FloatArray], FloatArray]
"""g, g' (of z) or g' read from the output a = g(z): elementwise, same shape and dtype out."""


class ConvBlock(Protocol):
    """One conv block: ``channels`` kernels of ``kernel`` × ``kernel``, ``stride``, zero ``padding``,
    then ``pool`` (None, "max" or "avg") over ``pool_size`` × ``pool_size`` windows."""

    @property
    def channels(self) -> int: ...
    @property
    def kernel(self) -> int: ...
    @property
    def stride(self) -> int: ...
    @property
    def padding(self) -> int: ...
    @property
    def pool(self) -> str | None: ...
    @property
    def pool_size(self) -> int: ...


class Recurrent(Protocol):
    """An Elman network's recurrence (reference/recurrent.py): ``steps`` T >= 1 time steps per
    sequence, and ``outputs`` "all" (an output and a cost at every step) or "last" (at step T only)."""

    @property
    def steps(self) -> int: ...
    @property
    def outputs(self) -> str: ...


class Spec(Protocol):
    """A network: sizes (n_0, ..., n_L), the hidden ``activation``, the ``output`` activation, the
    ``loss`` and λ = ``weight_decay``. A conv spec also has ``input_shape`` (C_0, H_0, W_0) and
    ``conv`` (a tuple of :class:`ConvBlock`), a recurrent one ``recurrent`` (a :class:`Recurrent`);
    they are optional, so they are read with getattr (:func:`reference.conv.conv_stack`,
    ``getattr(spec, "recurrent", None)``) and not part of this protocol."""

    @property
    def sizes(self) -> Sequence[int]: ...
    @property
    def activation(self) -> str: ...
    @property
    def output(self) -> str: ...
    @property
    def loss(self) -> str: ...
    @property
    def weight_decay(self) -> float: ...


class Optimizer(Protocol):
    """An optimizer: ``name`` (sgd, momentum, nesterov, rmsprop, adam, adamw, adagrad) and any of its
    hyperparameters (momentum, momentum_form, rho, beta1, beta2, eps, eps_in_sqrt, eps_hat,
    decoupled_decay, initial_accumulator, clip_value, clip_norm, clip_eps); those left out take the
    contract's defaults (validation.OPTIMIZER_DEFAULTS), so only ``name`` is part of this protocol."""

    @property
    def name(self) -> str: ...


class Gradients(NamedTuple):
    """What one backward pass returns (the harness contract's attribute names). Defined here, beside
    the types, so that network.py and recurrent.py both return it (network.py re-exports it)."""

    loss: float  # batch cost C before any update
    # [(∂C/∂W^l, ∂C/∂b^l) for l = 1..L], shaped like params ((∂C/∂K^l, ∂C/∂b^l) for conv;
    # (∂C/∂W^l, ∂C/∂U^l, ∂C/∂b^l) for a recurrent layer)
    grads: Params
    # [z^1, ..., z^L], each (m, n_l); conv: (m, C_l, H_l, W_l), before g and pooling;
    # recurrent: (m, T, n_l) per step, the output layer's (m, T, n_L) ("all") or (m, n_L) ("last")
    zs: list[FloatArray]
    activations: list[FloatArray]  # [a^0 = x, a^1, ..., a^L]; conv: pooled, 4-D; recurrent: as zs
    deltas: list[FloatArray]  # [δ^1, ..., δ^L], per example (and step), shaped like z^l
