"""The one registry: implementation name -> how to build its harness adapter.

Frameworks are imported only when an implementation is loaded, so ``conformance`` imports with
NumPy alone; a missing framework gives :class:`Unavailable` with the reason, which the pytest suite
turns into a skip and the CLI into one line.
"""

from dataclasses import dataclass

from conformance.contract import Named
from conformance.runtime.environment import available
from conformance.targets.adapters import DataParallel, Jax, Reference, Torch
from conformance.targets.device_host import DeviceHost
from conformance.targets.resolve import Unavailable, resolve


@dataclass(frozen=True)
class Record:
    """One shipped implementation: where its entry points are and what it needs. Read by the
    registry (:func:`load`), the bad-input tests and the docs generator (docs/generate.py)."""

    name: str  # the name users pass: "torch.manual"
    framework: str | None  # the framework module it needs, None for the NumPy reference
    gradients: str  # "module:attr" of its gradients(spec, params, x, y)
    train: str  # "module:attr" of its train(spec, params, x, y, *, lr, batches)
    column: str  # its column on docs/rosetta.md
    files: tuple[str, ...]  # its source files, in reading order (the rosetta page searches them)
    libraries: tuple[str, ...] = ()  # modules it needs besides the framework
    extra: str = ""  # the pip extra that installs them ("" for the framework's own extra)
    supports_optimizer: str | None = None  # "module:attr" of its supports_optimizer(optimizer), if any
    supports_recurrent: bool = True  # every shipped port implements recurrent networks (BPTT)
    supports: str | None = None  # "module:attr" of its supports(spec), where it declines some specs

    @property
    def needs(self) -> tuple[str, ...]:
        return ((self.framework,) if self.framework else ()) + self.libraries

    @property
    def install(self) -> str:
        return self.extra or self.framework or ""


@dataclass(frozen=True)
class DataParallelRecord:
    """A data-parallel implementation: a class taking ``workers=k`` with gradients/train [and close]."""

    name: str
    framework: str
    cls: str  # "module:Class"


_NUMPY = ("reference/network.py", "reference/costs.py", "reference/training.py", "reference/conv.py")
_TORCH = ("torch_impl/manual.py", "torch_impl/costs.py", "torch_impl/training.py", "torch_impl/conv.py")
_JAX = ("jax_impl/manual.py", "jax_impl/costs.py", "jax_impl/training.py", "jax_impl/conv.py")
RECORDS = (
    Record("reference", None, "reference:backprop", "reference:train", "NumPy reference", _NUMPY),
    Record(
        "torch.manual",
        "torch",
        "torch_impl.manual:backprop",
        "torch_impl.manual:train",
        "PyTorch manual",
        _TORCH,
        supports_optimizer="torch_impl.manual:supports_optimizer",
    ),
    Record(
        "torch.autograd",
        "torch",
        "torch_impl.autograd:backprop",
        "torch_impl.autograd:train",
        "PyTorch autograd",
        ("torch_impl/autograd.py",),
        supports_optimizer="torch_impl.autograd:supports_optimizer",
    ),
    Record(
        "torch.module",
        "torch",
        "torch_impl.module:gradients",
        "torch_impl.module:train",
        "PyTorch autograd",
        ("torch_impl/module.py",),
        supports_optimizer="torch_impl.module:supports_optimizer",
        supports="torch_impl.module:supports",  # nn.RNN has tanh and relu only
    ),
    Record(
        "jax.manual",
        "jax",
        "jax_impl.manual:backprop",
        "jax_impl.manual:train",
        "JAX manual",
        _JAX,
        supports_optimizer="jax_impl.manual:supports_optimizer",
    ),
    Record(
        "jax.autodiff",
        "jax",
        "jax_impl.autodiff:backprop",
        "jax_impl.autodiff:train",
        "JAX autodiff",
        ("jax_impl/autodiff.py", "jax_impl/training.py", "jax_impl/conv.py"),
        supports_optimizer="jax_impl.autodiff:supports_optimizer",
    ),
    Record(
        "jax.scan",
        "jax",
        "jax_impl.manual:backprop",
        "jax_impl.manual:train_compiled",
        "JAX manual",
        _JAX,
        supports_optimizer="jax_impl.manual:supports_optimizer",
    ),
    Record(
        "jax.flax",
        "jax",
        "jax_impl.flax_module:gradients",
        "jax_impl.flax_module:train",
        "Flax + Optax",
        ("jax_impl/flax_module.py",),
        libraries=("flax", "optax"),
        extra="flax",
        supports_optimizer="jax_impl.flax_module:supports_optimizer",
    ),
)
DATA_PARALLEL_RECORDS = (
    DataParallelRecord("torch.ddp", "torch", "torch_impl.distributed:DataParallel"),
    DataParallelRecord("jax.sharded", "jax", "jax_impl.sharded:Sharded"),
)
RECORD = {r.name: r for r in RECORDS}
NAMES = tuple(RECORD)
_DATA_PARALLEL = {r.name: r for r in DATA_PARALLEL_RECORDS}
DATA_PARALLEL = tuple(_DATA_PARALLEL)


def _missing(record: Record) -> list[str]:
    return [module for module in record.needs if not available(module)]


def load(name: str, device: str | None = None, workers: int | None = None) -> Named:
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
    record = RECORD[name]
    missing = _missing(record)
    if missing:
        raise Unavailable(
            f"{name}: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not "
            f"installed (pip install 'backprop-conformance[{record.install}]')"
        )
    adapter = Torch if record.framework == "torch" else Jax
    kwargs = {} if device is None else {"device": device}
    declared = None if record.supports_optimizer is None else resolve(record.supports_optimizer)
    loaded = adapter(
        name, resolve(record.gradients), resolve(record.train), supports_optimizer=declared, **kwargs
    )
    loaded.supports_recurrent = record.supports_recurrent
    if record.supports is not None:  # the specs the port declines (calls.supports asks it)
        loaded.declare_supports(resolve(record.supports))
    return loaded


def available_names() -> list[str]:
    """The shipped implementations whose frameworks and libraries are installed."""
    return [r.name for r in RECORDS if not _missing(r)]


def _data_parallel(name, device, workers):
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(
            f"workers: {name} is data-parallel and needs workers=k, an int >= 1; got {workers!r}"
        )
    framework, path = _DATA_PARALLEL[name].framework, _DATA_PARALLEL[name].cls
    if not available(framework):
        raise Unavailable(
            f"{name}: {framework} is not installed (pip install 'backprop-conformance[{framework}]')"
        )
    label, kwargs = f"{name}-w{workers}", {} if device is None else {"device": device}
    adapter: type[Jax] | type[Torch]
    if framework == "jax":
        import jax

        if jax.device_count() < workers:  # a CPU-only process: the devices live in a child process
            return DeviceHost(label, path, workers)
        adapter, impl = Jax, resolve(path)(workers)
    else:
        adapter, impl = Torch, resolve(path)(workers, **kwargs)
    declared = getattr(impl, "supports_optimizer", None)  # the port's opt-in to optimizer problems
    return DataParallel(
        adapter(label, impl.gradients, impl.train, supports_optimizer=declared, **kwargs), impl
    )
