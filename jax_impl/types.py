"""The types of jax_impl's contract, named once for every module here (reference/types.py has the
NumPy ones; each folder is self-contained, so the spec protocols are repeated, not imported).

Arrays are jax.Arrays of float32 or float64 (float64 inside ``jax.enable_x64(True)``), examples
first; under jit the same parameters are tracers, which are jax.Arrays too. A spec and its conv
blocks are duck-typed: any object with the attributes below will do; so is a recurrent spec's
``recurrent`` (steps, outputs).
"""

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeAlias

import jax

Pair: TypeAlias = tuple[jax.Array, jax.Array]
"""(W^l, b^l) of a dense layer or (K^l, b^l) of a conv block; the gradients (∂C/∂W^l, ∂C/∂b^l) alike."""
Triple: TypeAlias = tuple[jax.Array, jax.Array, jax.Array]
"""(W^l, U^l, b^l) of a recurrent layer: input weights, recurrent weights, bias; gradients alike."""
Layer: TypeAlias = tuple[jax.Array, ...]
"""One layer's arrays: a Pair, or a Triple for a recurrent layer. The optimizers and the SGD update
work array by array, so they take either; the last array of a layer is always its bias."""
Params: TypeAlias = list[Pair] | list[Layer]
"""[(K^1, b^1), ..., (K^c, b^c)] for the conv blocks (if any), then [(W^{c+1}, b^{c+1}), ..., (W^L, b^L)];
for a recurrent spec [(W^1, U^1, b^1), ..., (W^{L-1}, U^{L-1}, b^{L-1}), (W^L, b^L)]: as the functions
return them (gradients, trained or initial parameters). A list of pairs for a dense or conv spec,
so code written for pairs keeps its type; a list of layers (pairs and triples) for a recurrent one."""
ParamsIn: TypeAlias = Sequence[Layer]
"""The same layers as the functions take them: a list, or any sequence (only read, never changed)."""
Batches: TypeAlias = list[jax.Array] | tuple[jax.Array, ...]
"""The batch order: one 1-D integer index array per SGD step."""
Activation: TypeAlias = Callable[[jax.Array], jax.Array]
"""g or g': elementwise, same shape and dtype out."""
PyTree: TypeAlias = Any
"""Any nesting of containers with arrays at the leaves (JAX has no precise type for one)."""


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
    ``conv`` (a tuple of :class:`ConvBlock`); they are optional, so they are read with getattr and
    are not part of this protocol."""

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


class Recurrence(Protocol):
    """A spec's ``recurrent`` field: T = ``steps`` time steps, the output layer read at ``outputs``
    ("all" steps or only the "last")."""

    @property
    def steps(self) -> int: ...
    @property
    def outputs(self) -> str: ...


class RecurrentSpec(Spec, Protocol):
    """A spec with ``recurrent`` set: what check_network has found ``spec`` to be when it returns an
    Rnn (``recurrent`` is optional, read with getattr, so it is not part of :class:`Spec`)."""

    @property
    def recurrent(self) -> Recurrence: ...


class ConvSpec(Spec, Protocol):
    """A spec with conv blocks: what check_inputs has found ``spec`` to be when ``spec.conv`` is set."""

    @property
    def input_shape(self) -> Sequence[int]: ...
    @property
    def conv(self) -> Sequence[ConvBlock]: ...
