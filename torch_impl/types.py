"""The types of torch_impl's contract, named once for every module here (reference/types.py has the
NumPy ones; each folder is self-contained, so the spec protocols are repeated, not imported).

Tensors are float32 or float64 (one dtype and device per call), examples first. A spec, its conv
blocks and its recurrent settings are duck-typed: any object with the attributes below will do.
"""

from collections.abc import Callable, Sequence
from typing import Protocol, TypeAlias

import torch

Pair: TypeAlias = tuple[torch.Tensor, torch.Tensor]
"""(W^l, b^l) of a dense layer or (K^l, b^l) of a conv block; the gradients (∂C/∂W^l, ∂C/∂b^l) alike."""
Triple: TypeAlias = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
"""(W^l, U^l, b^l) of a recurrent layer (recurrent.py); the gradients (∂C/∂W^l, ∂C/∂U^l, ∂C/∂b^l) alike."""
Layer: TypeAlias = tuple[torch.Tensor, ...]
"""One layer's arrays, the bias last: a :data:`Pair` or a :data:`Triple`."""
Params: TypeAlias = list[Layer]
"""[(K^1, b^1), ..., (K^c, b^c)] for the conv blocks (if any), then [(W^{c+1}, b^{c+1}), ..., (W^L, b^L)]:
as the functions return them (gradients, trained or initial parameters). A recurrent spec has a
(W^l, U^l, b^l) triple for each hidden layer and the (W^L, b^L) pair last."""
ParamsIn: TypeAlias = Sequence[Layer]
"""The same tuples as the functions take them: a list, or any sequence (only read, never changed)."""
Batches: TypeAlias = list[torch.Tensor] | tuple[torch.Tensor, ...]
"""The batch order: one 1-D integer index tensor per SGD step."""
LearningRate: TypeAlias = float | Sequence[float]
"""η, or a schedule: one η_t per step (as many as there are batches), each finite and > 0."""
Activation: TypeAlias = Callable[[torch.Tensor], torch.Tensor]
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


class Spec(Protocol):
    """A network: sizes (n_0, ..., n_L), the hidden ``activation``, the ``output`` activation, the
    ``loss`` and λ = ``weight_decay``. A conv spec also has ``input_shape`` (C_0, H_0, W_0) and
    ``conv`` (a tuple of :class:`ConvBlock`), a recurrent spec ``recurrent`` (a :class:`Recurrent`);
    they are optional, so they are read with getattr and are not part of this protocol."""

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


class ConvSpec(Spec, Protocol):
    """A spec with conv blocks: what check_inputs has found ``spec`` to be when ``spec.conv`` is set."""

    @property
    def input_shape(self) -> Sequence[int]: ...
    @property
    def conv(self) -> Sequence[ConvBlock]: ...


class Recurrent(Protocol):
    """An Elman network's time axis: ``steps`` T >= 1, and ``outputs`` "all" (an output and a cost
    term at every step) or "last" (only at t = T)."""

    @property
    def steps(self) -> int: ...
    @property
    def outputs(self) -> str: ...


class RecurrentSpec(Spec, Protocol):
    """A spec with ``recurrent`` set: what check_inputs has found ``spec`` to be when it is not None."""

    @property
    def recurrent(self) -> Recurrent: ...
