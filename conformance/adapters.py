"""The only code that converts between NumPy and a framework.

Each adapter wraps a framework implementation's ``gradients``/``train`` functions into an object
with the harness contract (NumPy in, NumPy out). Converting back keeps the framework's dtype as it
is, so a port that silently computed in float32 shows up as a float32 array (checks.py fails it).
"""

from types import SimpleNamespace

import numpy as np

import reference

from .environment import configure


class Reference:
    """The NumPy reference itself, already NumPy in and out."""

    def __init__(self, name="reference"):
        self.name = name

    def gradients(self, spec, params, x, y):
        return reference.backprop(spec, params, x, y)

    def train(self, spec, params, x, y, *, lr, batches):
        return reference.train(spec, params, x, y, lr=lr, batches=batches)


def _to_numpy_list(values, convert):
    return None if values is None else [convert(v) for v in values]


def _result(got, convert):
    """Framework Gradients/Trajectory -> the same attribute names with NumPy arrays."""
    if hasattr(got, "grads"):
        return SimpleNamespace(
            loss=got.loss, grads=[(convert(dW), convert(db)) for dW, db in got.grads],
            zs=_to_numpy_list(got.zs, convert), activations=_to_numpy_list(got.activations, convert),
            deltas=_to_numpy_list(got.deltas, convert))
    return SimpleNamespace(losses=list(got.losses),
                           params=[(convert(W), convert(b)) for W, b in got.params])


class Torch:
    """torch_impl function pair; ``device`` is "cpu" or e.g. "cuda"."""

    def __init__(self, name, gradients, train, device="cpu"):
        import torch

        configure()
        self.name, self._gradients, self._train, self.device = name, gradients, train, device
        self._torch = torch

    def _in(self, a):
        return self._torch.from_numpy(np.ascontiguousarray(a)).to(self.device)

    @staticmethod
    def _out(t):
        return t.detach().cpu().numpy()

    def _args(self, params, x, y):
        return [(self._in(W), self._in(b)) for W, b in params], self._in(x), self._in(y)

    def gradients(self, spec, params, x, y):
        return _result(self._gradients(spec, *self._args(params, x, y)), self._out)

    def train(self, spec, params, x, y, *, lr, batches):
        batches = [self._in(np.asarray(i, dtype=np.int64)) for i in batches]
        return _result(self._train(spec, *self._args(params, x, y), lr=lr, batches=batches),
                       self._out)


class Jax:
    """jax_impl function pair; float64 calls run inside ``jax.enable_x64(True)`` only."""

    def __init__(self, name, gradients, train, device=None):
        import jax

        configure()
        self.name, self._gradients, self._train = name, gradients, train
        self._jax = jax
        self.device = device or jax.devices()[0]

    def _run(self, fn, spec, params, x, y, **kwargs):
        jax = self._jax
        with jax.enable_x64(x.dtype == np.float64), jax.default_device(self.device):
            put = jax.device_put
            got = fn(spec, [(put(W), put(b)) for W, b in params], put(x), put(y), **kwargs)
            return _result(got, np.asarray)

    def gradients(self, spec, params, x, y):
        return self._run(self._gradients, spec, params, x, y)

    def train(self, spec, params, x, y, *, lr, batches):
        idx = [np.asarray(i, dtype=np.int32) for i in batches]
        return self._run(self._train, spec, params, x, y, lr=lr,
                         batches=[self._jax.device_put(i) for i in idx])


class DataParallel:
    """A data-parallel implementation: its framework adapter's gradients/train, and ``close()``,
    which stops its workers (for those that have any)."""

    def __init__(self, adapter, impl):
        self.name, self.gradients, self.train = adapter.name, adapter.gradients, adapter.train
        self._impl = impl

    @property
    def pids(self):
        """The worker processes' ids (none where the workers are devices of this process)."""
        return list(getattr(self._impl, "pids", []))

    def close(self):
        getattr(self._impl, "close", lambda: None)()
