"""The harness contract as types: what an implementation must offer and what its two calls return.

Nothing here is enforced by inheritance: any object with these attributes is an implementation (a
module of two functions, a class, an instance), and the checks (checks.py) read every result
defensively, so an object that breaks the contract is a failed check, never a crash. The Protocols
say the contract to a reader and to a type checker; docs/contract.md says it in words.

Shapes, with examples as rows (m examples, layer sizes n_0 .. n_L):

    params   [(W^l, b^l)] for l = 1..L, W^l of shape (n_l, n_{l-1}), b^l of shape (n_l,); a conv
             net's blocks come first, each (K^l, b^l) with K^l of shape (C_l, C_{l-1}, k, k)
    x        (m, n_0), or (m, C_0, H_0, W_0) for a conv spec (NCHW), or (m, T, n_0) for a
             recurrent spec (batch first)
    y        (m, n_L); (m, T, n_L) for a recurrent spec with outputs="all"
    batches  [index array into the m examples] per SGD step, in order

A recurrent spec's hidden layers are triples (W^l, U^l, b^l), U^l of shape (n_l, n_l), and its
output layer the pair (W^L, b^L); gradients have the same structure (dW, dU, db).
"""

from collections.abc import Sequence
from typing import Protocol, TypeAlias, runtime_checkable

import numpy as np
import numpy.typing as npt

from conformance.spec import Spec

Array: TypeAlias = npt.NDArray[np.floating]
Pair: TypeAlias = tuple[Array, Array]  # (W, b) or (K, b); a gradient pair (dW, db) or (dK, db)
Triple: TypeAlias = tuple[Array, Array, Array]  # a recurrent layer's (W, U, b); gradients (dW, dU, db)
Layer: TypeAlias = tuple[Array, ...]  # a Pair or a Triple (a union would not unpack: W, b = layer)
Params: TypeAlias = Sequence[Layer]
IndexArray: TypeAlias = npt.NDArray[np.integer]  # one batch: indices into the m examples


@runtime_checkable
class Gradients(Protocol):
    """What ``gradients`` returns: the batch cost C (weight decay included) and ∂C/∂(W, b) per layer
    (BP3, BP4). ``zs``, ``activations`` and ``deltas`` are optional (:class:`Recorded`); where
    present they are checked too, which locates a bug to its layer and equation."""

    @property
    def loss(self) -> float: ...

    @property
    def grads(self) -> Sequence[Layer]: ...


@runtime_checkable
class Recorded(Gradients, Protocol):
    """Gradients with the forward and backward pass recorded: z^l and δ^l for l = 1..L, a^l for
    l = 0..L (a^0 = x)."""

    @property
    def zs(self) -> Sequence[Array]: ...

    @property
    def activations(self) -> Sequence[Array]: ...

    @property
    def deltas(self) -> Sequence[Array]: ...


@runtime_checkable
class Trajectory(Protocol):
    """What ``train`` returns: the batch cost before each step (one per entry of ``batches``) and the
    parameters after the last one."""

    @property
    def losses(self) -> Sequence[float]: ...

    @property
    def params(self) -> Sequence[Layer]: ...


@runtime_checkable
class Implementation(Protocol):
    """An implementation the harness can check. It must not modify its inputs (the harness hands
    it read-only arrays), and must return arrays of the input's dtype (no silent casts)."""

    def gradients(self, spec: Spec, params: Params, x: Array, y: Array) -> Gradients:
        """One forward and backward pass over the whole batch ``x``, ``y``."""
        ...

    def train(
        self, spec: Spec, params: Params, x: Array, y: Array, *, lr: float, batches: Sequence[IndexArray]
    ) -> Trajectory:
        """Plain mini-batch SGD from ``params``: one step per entry of ``batches``, with rate ``lr``."""
        ...


@runtime_checkable
class Stateful(Trajectory, Protocol):
    """A trajectory that also hands back the optimizer's final state (optional): a dict of per-layer
    lists of (for W, for b) arrays under "b", "v", "s", "m" (reference/optimizers.py), and "t", the
    number of steps; compared key by key where both sides give it."""

    @property
    def state(self) -> dict[str, object] | None: ...


@runtime_checkable
class Optimizes(Protocol):
    """An implementation that trains with optimizers and schedules (opt-in): it answers
    ``supports_optimizer(optimizer)`` and its ``train`` takes ``optimizer=`` and an ``lr`` that may be
    one rate per step. Without this it is handed plain-SGD problems only, exactly as before."""

    def supports_optimizer(self, optimizer: object) -> bool: ...

    def train(
        self,
        spec: Spec,
        params: Params,
        x: Array,
        y: Array,
        *,
        lr: float | Sequence[float],
        batches: Sequence[IndexArray],
        optimizer: object = None,
    ) -> Trajectory:
        """From ``params``: one step of ``optimizer`` (None: SGD) per entry of ``batches``, state
        fresh for this call, η_t = ``lr`` or ``lr[t]``."""
        ...


@runtime_checkable
class Named(Implementation, Protocol):
    """An implementation as the registry loads it (conformance.load): it has a printed name."""

    name: str


@runtime_checkable
class Declares(Protocol):
    """What an implementation may declare besides (each optional): a printed ``name``, which specs
    it ``supports`` (True or False; by default every dense spec), ``supports_conv = True`` to be
    given conv specs at all, and ``supports_recurrent = True`` to be given recurrent specs."""

    name: str
    supports_conv: bool
    supports_recurrent: bool

    def supports(self, spec: Spec) -> bool: ...
