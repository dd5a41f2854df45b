"""The only code that converts between NumPy and a framework.

Each adapter wraps a framework implementation's ``gradients``/``train`` functions into an object
with the harness contract (NumPy in, NumPy out). Converting back keeps the framework's dtype as it
is, so a port that silently computed in float32 shows up as a float32 array (checks.py fails it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

import reference
from conformance.contract import Array, Gradients, IndexArray, Named, Params, Trajectory
from conformance.runtime.environment import configure
from conformance.spec import Spec

if TYPE_CHECKING:
    import jax


class Reference:
    """The NumPy reference itself, already NumPy in and out."""

    supports_conv = True  # every shipped port implements the conv extension
    supports_recurrent = True  # and recurrent networks (backprop through time)

    def __init__(self, name: str = "reference") -> None:
        self.name = name

    def gradients(self, spec: Spec, params: Params, x: Array, y: Array) -> reference.Gradients:
        return reference.backprop(spec, params, x, y)

    def supports_optimizer(self, optimizer: object) -> bool:
        return True  # the reference defines every rule (reference/optimizers.py)

    def train(
        self,
        spec: Spec,
        params: Params,
        x: Array,
        y: Array,
        *,
        lr: float | Sequence[float],
        batches: Sequence[IndexArray],
        optimizer: Any = None,  # Any: a conformance.Optimizer or any object with its attributes
    ) -> reference.Trajectory:
        return reference.train(spec, params, x, y, lr=lr, batches=batches, optimizer=optimizer)


def _indices(batch, convert, int_dtype):
    """Integer indices become the framework's index type (when every value fits it); anything else
    is handed over in its own dtype, so the implementation's own validation refuses it with the
    reference's message: float indices such as [0.5, 1.0] must fail, never become [0, 1]."""
    try:
        idx = np.asarray(batch)  # a list of ints is an index array too, as for the reference
    except ValueError:  # ragged: let the implementation name it
        return batch
    if idx.dtype == int_dtype:  # already the framework's index type: nothing to cast or range-check
        return convert(idx)
    if np.issubdtype(idx.dtype, np.integer):
        info = _INDEX_RANGE[np.dtype(int_dtype)]
        if idx.size and (idx.min() < info.min or idx.max() > info.max):
            return idx  # a cast would wrap around; the implementation's range check refuses it
        return convert(idx.astype(int_dtype))
    return convert(idx)


_INDEX_RANGE = {np.dtype(t): np.iinfo(t) for t in (np.int32, np.int64)}  # built once, not per batch


def _to_numpy_list(values, convert):
    return None if values is None else [convert(v) for v in values]


def _layers(layers, convert):
    """[(W, b) or (W, U, b), ...] with every array converted, each layer's tuple kept as long as it is."""
    return [tuple(convert(a) for a in layer) for layer in layers]


def _result(got, convert):
    """Framework Gradients/Trajectory -> the same attribute names with NumPy arrays."""
    if hasattr(got, "grads"):
        return SimpleNamespace(
            loss=got.loss,
            grads=_layers(got.grads, convert),
            zs=_to_numpy_list(got.zs, convert),
            activations=_to_numpy_list(got.activations, convert),
            deltas=_to_numpy_list(got.deltas, convert),
        )
    state = getattr(got, "state", None)
    if state is not None:  # the optimizer's final state: {"t": int, key: [(for W, [for U,] for b), ...]}
        state = {k: (int(v) if k == "t" else _layers(v, convert)) for k, v in state.items()}
    return SimpleNamespace(losses=list(got.losses), params=_layers(got.params, convert), state=state)


class _Optimizes:
    """The opt-in to optimizer problems (calls.supports): ``supports_optimizer`` exists on an adapter
    only where its implementation declares one; ``train`` passes ``optimizer`` only when it is set, so
    a port that never heard of optimizers is called exactly as before."""

    def _declare(self, supports_optimizer: Callable[[object], bool] | None) -> None:
        if supports_optimizer is not None:
            self.supports_optimizer = supports_optimizer

    def declare_supports(self, supports: Callable[[Spec], bool]) -> None:
        """The port's own ``supports(spec)``, for a port that declines some specs (calls.supports)."""
        self.supports = supports

    @staticmethod
    def _training(lr: object, optimizer: object) -> dict[str, object]:
        rate = list(lr) if isinstance(lr, (list, tuple)) else lr  # a schedule: one float per step
        return {"lr": rate} if optimizer is None else {"lr": rate, "optimizer": optimizer}


class Torch(_Optimizes):
    """torch_impl function pair; ``device`` is "cpu" or e.g. "cuda"."""

    supports_conv = True  # every shipped port implements the conv extension
    supports_recurrent = False  # the registry sets it per port (data-parallel ports decline)

    def __init__(
        self,
        name: str,
        gradients: Callable[..., object],
        train: Callable[..., object],
        device: str = "cpu",
        supports_optimizer: Callable[[object], bool] | None = None,
    ) -> None:
        import torch

        configure()
        self.name, self._gradients, self._train, self.device = name, gradients, train, device
        self._torch = torch
        self._declare(supports_optimizer)

    def _in(self, a):
        # a copy: the harness hands read-only arrays (calls.py), and torch tensors are writable
        return self._torch.from_numpy(np.array(a, order="C")).to(self.device)

    @staticmethod
    def _out(t):
        return t.detach().cpu().numpy()

    def _args(self, params, x, y):
        return _layers(params, self._in), self._in(x), self._in(y)

    def gradients(self, spec: Spec, params: Params, x: Array, y: Array) -> Gradients:
        return _result(self._gradients(spec, *self._args(params, x, y)), self._out)

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
        batches = [_indices(i, self._in, np.int64) for i in batches]
        got = self._train(spec, *self._args(params, x, y), batches=batches, **self._training(lr, optimizer))
        return _result(got, self._out)


class Jax(_Optimizes):
    """jax_impl function pair; float64 calls run inside ``jax.enable_x64(True)`` only."""

    supports_conv = True  # every shipped port implements the conv extension
    supports_recurrent = False  # the registry sets it per port (data-parallel ports decline)

    def __init__(
        self,
        name: str,
        gradients: Callable[..., object],
        train: Callable[..., object],
        device: jax.Device | str | None = None,
        supports_optimizer: Callable[[object], bool] | None = None,
    ) -> None:
        import jax

        configure()
        self.name, self._gradients, self._train = name, gradients, train
        self._jax = jax
        self.device = device or jax.devices()[0]
        self._declare(supports_optimizer)

    def _run(self, fn, spec, params, x, y, **kwargs):
        jax = self._jax
        with jax.enable_x64(x.dtype == np.float64), jax.default_device(self.device):
            # may_alias: on the CPU the device array may share the NumPy buffer instead of copying
            # it (halves the transfer of a 25 MB x); the port only reads its inputs.
            put = lambda a: jax.device_put(a, may_alias=True)  # noqa: E731
            got = fn(spec, _layers(params, put), put(x), put(y), **kwargs)
            return _result(got, np.asarray)

    def gradients(self, spec: Spec, params: Params, x: Array, y: Array) -> Gradients:
        return self._run(self._gradients, spec, params, x, y)

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
        # NumPy int32 index arrays: the port stacks them on the host and transfers them once (a
        # device_put per batch would cost a dispatch per step); non-integer indices stay as they
        # are, so the port refuses them with the reference's message.
        idx = [_indices(i, np.asarray, np.int32) for i in batches]
        return self._run(self._train, spec, params, x, y, batches=idx, **self._training(lr, optimizer))


class DataParallel:
    """A data-parallel implementation: its framework adapter's gradients/train (and its
    ``supports_optimizer``, where the port declares one), and ``close()``, which stops its workers
    (for those that have any)."""

    supports_conv = True  # every shipped data-parallel port implements the conv extension

    def __init__(self, adapter: Named, impl: object) -> None:
        self.name, self.gradients, self.train = adapter.name, adapter.gradients, adapter.train
        declared = getattr(adapter, "supports_optimizer", None)
        if declared is not None:  # the opt-in to optimizer problems (calls.supports), as declared
            self.supports_optimizer = declared
        self._impl = impl

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids (none where the workers are devices of this process)."""
        return list(getattr(self._impl, "pids", []))

    def close(self) -> None:
        getattr(self._impl, "close", lambda: None)()
