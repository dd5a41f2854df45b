"""The one registry: implementation name -> how to build its harness adapter.

Frameworks are imported only when an implementation is loaded, so ``conformance`` imports with
NumPy alone; a missing framework gives :class:`Unavailable` with the reason, which the pytest suite
turns into a skip and the CLI into one line.
"""

from .adapters import DataParallel, Jax, Reference, Torch
from .device_host import DeviceHost
from .environment import available

# name -> (framework module, gradients path, train path) inside the framework's package
_PORTS = {
    "torch.manual": ("torch", "torch_impl.manual:backprop", "torch_impl.manual:train"),
    "torch.autograd": ("torch", "torch_impl.autograd:backprop", "torch_impl.autograd:train"),
    "torch.module": ("torch", "torch_impl.module:gradients", "torch_impl.module:train"),
    "jax.manual": ("jax", "jax_impl.manual:backprop", "jax_impl.manual:train"),
    "jax.autodiff": ("jax", "jax_impl.autodiff:backprop", "jax_impl.autodiff:train"),
    "jax.scan": ("jax", "jax_impl.manual:backprop", "jax_impl.manual:train_compiled"),
    "jax.flax": ("jax", "jax_impl.flax_module:gradients", "jax_impl.flax_module:train"),
}
# name -> (extra to install, modules needed besides the framework) for ports built on libraries
_LIBRARIES = {"jax.flax": ("flax", ("flax", "optax"))}
NAMES = ("reference",) + tuple(_PORTS)
# data-parallel name -> (framework module, class taking workers=k, with gradients/train [and close])
_DATA_PARALLEL = {
    "torch.ddp": ("torch", "torch_impl.distributed:DataParallel"),
    "jax.sharded": ("jax", "jax_impl.sharded:Sharded"),
}
DATA_PARALLEL = tuple(_DATA_PARALLEL)


class Unavailable(ImportError):
    """The implementation's framework is not installed (the message says which and how to get it)."""


def _resolve(path):
    import importlib

    module, attr = path.split(":")
    return getattr(importlib.import_module(module), attr)


def load(name, device=None, workers=None):
    """The implementation called ``name`` as a harness object (NumPy in and out); a data-parallel one
    (DATA_PARALLEL) with ``workers`` processes or devices, and a ``close()`` that stops them."""
    if name not in NAMES + DATA_PARALLEL:
        raise ValueError(
            f"name: unknown implementation {name!r}; expected one of {list(NAMES + DATA_PARALLEL)}"
        )
    if name in _DATA_PARALLEL:
        return _data_parallel(name, device, workers)
    if workers is not None:
        raise ValueError(f"workers: {name!r} is not data-parallel; workers applies to {list(DATA_PARALLEL)}")
    if name == "reference":
        return Reference()
    framework, gradients, train = _PORTS[name]
    extra, needed = _requirements(name)
    missing = [module for module in needed if not available(module)]
    if missing:
        raise Unavailable(
            f"{name}: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not "
            f"installed (pip install 'backprop-conformance[{extra}]')"
        )
    adapter = Torch if framework == "torch" else Jax
    kwargs = {} if device is None else {"device": device}
    return adapter(name, _resolve(gradients), _resolve(train), **kwargs)


def _requirements(name):
    """(the extra that installs them, the modules ``name`` needs): its framework, then its libraries."""
    framework = _PORTS[name][0]
    extra, libraries = _LIBRARIES.get(name, (framework, ()))
    return extra, (framework, *libraries)


def available_names():
    return [n for n in NAMES if n == "reference" or all(map(available, _requirements(n)[1]))]


def _data_parallel(name, device, workers):
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(
            f"workers: {name} is data-parallel and needs workers=k, an int >= 1; got {workers!r}"
        )
    framework, path = _DATA_PARALLEL[name]
    if not available(framework):
        raise Unavailable(
            f"{name}: {framework} is not installed (pip install 'backprop-conformance[{framework}]')"
        )
    label, kwargs = f"{name}-w{workers}", {} if device is None else {"device": device}
    if framework == "jax":
        import jax

        if jax.device_count() < workers:  # a CPU-only process: the devices live in a child process
            return DeviceHost(label, path, workers)
        impl = _resolve(path)(workers)
        return DataParallel(Jax(label, impl.gradients, impl.train, **kwargs), impl)
    impl = _resolve(path)(workers, **kwargs)
    return DataParallel(Torch(label, impl.gradients, impl.train, **kwargs), impl)
