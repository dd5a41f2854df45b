"""One call of an implementation's code, made safe for the harness.

Whatever the code under test does, the harness must stay right and stay up. So every call of
``gradients`` or ``train`` (by the checks, the self-consistency pass and the plots):

- gets its own copies of ``params``, ``x``, ``y`` and of every batch index array, marked read-only,
  and a fresh list of batches: nothing the code writes can change what the harness checks next, and
  an in-place write raises at the user's own line, which :func:`describe` names in the student's
  terms ("modifies its input y in place: copy it first");
- has its result captured at once as plain data, a :class:`Returned`: NumPy arrays (copied), numbers,
  lists and tuples of those; anything else becomes a :class:`Foreign` naming its type, and an
  attribute whose reading raises an :class:`Unreadable`. The checks then judge structure before
  values from that record alone, and the record can cross a process boundary (isolation.py);
- ends, if it does not return, in :class:`CallFailed` with one line saying how: an exception of any
  kind (``SystemExit`` and ``KeyboardInterrupt`` subclasses included), an exit of its process, a
  fatal signal, a timeout.
"""

import re
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np
import numpy.typing as npt

from conformance.contract import Array, Implementation, Params
from conformance.spec import Spec

# kind -> the result attributes the harness contract reads (docs/contract.md)
FIELDS = {
    "gradients": ("loss", "grads", "zs", "activations", "deltas"),
    "train": ("losses", "params", "state"),
}
REQUIRED = {"gradients": ("loss", "grads"), "train": ("losses", "params")}
MAX_DEPTH = 3  # grads is a list of pairs of arrays: two levels of containers, one to spare
MAX_ITEMS = 100_000  # a list longer than this is not a per-layer or per-step list


class CallFailed(Exception):
    """The call did not return a result; ``str()`` says why, in one line."""


@dataclass(frozen=True)
class Foreign:
    """A value of a type the contract does not use (a dict, a torch tensor, a string, ...)."""

    type: str

    def __repr__(self) -> str:
        return self.type


@dataclass(frozen=True)
class Unreadable:
    """An attribute of the result whose reading raised."""

    error: str


@dataclass(frozen=True)
class Returned:
    """What a call returned, as plain data: the returned object's type name and the contract's
    attributes it has (absent ones are left out). Reads like the result: ``got.loss``."""

    type: str
    fields: dict[str, object]

    def __getattr__(self, name: str) -> object:
        fields = self.__dict__.get("fields", {})
        if name in fields:
            return fields[name]
        raise AttributeError(name)


def type_name(value: object) -> str:
    """'list', 'dict', 'torch.Tensor', 'numpy.ndarray' ...: the module only where it is not builtins."""
    cls = type(value)
    module = cls.__module__.split(".")[0]
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def plain(value: object, depth: int = 0) -> object:
    """``value`` as plain data: arrays copied (a result must not change after it is returned),
    numbers as they are, lists and tuples item by item; everything else a Foreign."""
    if value is None or isinstance(value, (bool, int, float, np.generic)):
        return value
    if type(value) is np.ndarray:  # not a subclass: np.matrix breaks the contract's shapes
        if value.dtype.kind in "biufc":
            return np.array(value, copy=True)
        return Foreign(f"numpy array of dtype {value.dtype}")
    if isinstance(value, (list, tuple)) and depth < MAX_DEPTH and len(value) <= MAX_ITEMS:
        items = [plain(v, depth + 1) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, (list, tuple)):
        return Foreign(f"{type_name(value)} of {len(value)}")
    if type(value) is dict and depth == 0 and len(value) <= MAX_ITEMS:  # an optimizer's state
        return {str(k): plain(v, depth) for k, v in value.items()}
    return Foreign(type_name(value))


def snapshot(result: object, kind: str) -> Returned:
    """The :class:`Returned` record of what ``gradients`` or ``train`` returned."""
    if isinstance(result, Returned):  # already captured (in a worker process)
        return result
    fields: dict[str, object] = {}
    for name in FIELDS[kind]:
        try:
            value = getattr(result, name)
        except AttributeError:
            continue
        except BaseException as exc:  # a property that raises is the result's fault, not ours
            fields[name] = Unreadable(describe(exc))
            continue
        fields[name] = plain(value)
    return Returned(type_name(result), fields)


def shown(value: object) -> str:
    """How a received value is named in a structure failure: 'list of 3', 'NoneType', 'torch.Tensor'."""
    if isinstance(value, Unreadable):
        return f"an attribute whose reading raised: {value.error}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)}"
    if isinstance(value, np.ndarray):
        return f"a numpy array of dtype {value.dtype} and shape {value.shape}"
    return str(value) if isinstance(value, Foreign) else type(value).__name__


def is_loss(value: object) -> TypeGuard[float | int | np.floating]:
    """A number the contract accepts as a loss: a Python or NumPy float or int, never a bool."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (float, int, np.floating))


def frozen(a: npt.ArrayLike) -> np.ndarray:
    """A read-only copy of an array (anything else is copied as an array of its own values)."""
    copy = np.array(a, copy=True)
    copy.flags.writeable = False
    return copy


def fresh_inputs(
    params: Sequence[Sequence[npt.ArrayLike]],
    x: Array,
    y: Array,
    batches: Sequence[object] | None = None,
) -> dict[str, Any]:
    """Read-only copies for one call; ``batches`` a new list of read-only index arrays."""
    params = [tuple(frozen(p) for p in pair) for pair in params]
    inputs: dict[str, Any] = dict(params=params, x=frozen(x), y=frozen(y))  # Any: each of its own type
    if batches is not None:
        inputs["batches"] = [frozen(i) if isinstance(i, np.ndarray) else i for i in batches]
    return inputs


def call(
    impl: Implementation,
    kind: str,
    spec: Spec,
    params: Params,
    x: Array,
    y: Array,
    *,
    lr: Any = None,  # Any: a float or a schedule for train, None for gradients; handed on as given
    batches: Sequence[object] | None = None,
    optimizer: object = None,
    real_interrupts: bool = True,
) -> Returned:
    """``impl.gradients(spec, params, x, y)`` or ``impl.train(..., lr=lr, batches=batches)`` on fresh
    read-only inputs; the :class:`Returned` record, or :class:`CallFailed`. ``optimizer`` is passed
    (as ``optimizer=``) only when it is not None, so an implementation written for plain SGD is
    called exactly as before; a schedule ``lr`` is handed over as a fresh tuple.

    ``real_interrupts``: a plain ``KeyboardInterrupt`` (Ctrl-C) still stops this process; in a worker
    process, where Ctrl-C is ignored, every exception is the code's own and is caught."""
    inputs = fresh_inputs(params, x, y, batches if kind == "train" else None)
    try:
        if kind == "gradients":
            result: object = impl.gradients(spec, inputs["params"], inputs["x"], inputs["y"])
        else:
            extra = {} if optimizer is None else {"optimizer": optimizer}
            rate = tuple(lr) if isinstance(lr, (list, tuple)) else lr
            train: Any = impl.train  # Any: the Optimizes contract's train takes a schedule and optimizer
            result = train(
                spec, inputs["params"], inputs["x"], inputs["y"], lr=rate, batches=inputs["batches"], **extra
            )
        return snapshot(result, kind)
    except CallFailed:
        raise
    except BaseException as exc:
        if real_interrupts and type(exc) is KeyboardInterrupt:
            raise
        raise CallFailed(describe(exc, inputs)) from None


def describe(exc: BaseException, inputs: dict[str, Any] | None = None) -> str:
    """One line for an exception raised by user code: what, and where in the user's code.

    A write into one of the read-only inputs is said in the student's terms, naming the input where
    the failing line names exactly one of them."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<frozen")]
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    if isinstance(exc, SyntaxError):  # its message names the user's file and line; ours would not
        where = ""
    if isinstance(exc, SystemExit):
        return f"called sys.exit({exc.code!r}){where}"
    text = f"raised {type_name(exc)}: {exc}{where}"
    if inputs is None or not (isinstance(exc, ValueError) and "read-only" in str(exc)):
        return text
    found = _written_inputs(exc, inputs)
    if len(found) == 1:
        ((role, local),) = found
        return (
            f"modifies its input {role} in place ({text}): the harness hands every call "
            f"read-only copies; copy it first ({local} = {local}.copy())"
        )
    return (
        f"modifies one of its inputs in place ({text}): the harness hands every call read-only "
        "copies; copy what you write into first (x = x.copy())"
    )


def _written_inputs(exc, inputs):
    """[(input, local name)]: the inputs (x, y, a W or b of params, a batch) that the failing line's
    local variables share memory with, among the variables that the line's source text names."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return []
    line = traceback.extract_tb(tb)[-1].line or ""
    roles = [("x", inputs["x"]), ("y", inputs["y"])]
    roles += [
        (f"params[{l}].{'Wb'[i] if i < 2 else i} (layer {l + 1})", a)
        for l, pair in enumerate(inputs["params"])
        for i, a in enumerate(pair)
    ]
    roles += [
        (f"batches[{i}]", a) for i, a in enumerate(inputs.get("batches", [])) if isinstance(a, np.ndarray)
    ]
    found: dict[str, str] = {}  # input -> the local name that holds it
    for local, value in tb.tb_frame.f_locals.items():
        if not re.search(rf"\b{re.escape(local)}\b", line):
            continue
        if isinstance(value, np.ndarray):
            for role, a in roles:
                if np.shares_memory(value, a):
                    found.setdefault(role, local)
        elif isinstance(value, (list, tuple)):  # e.g. params[0][0][...] = ...: the list is named
            held = [
                a
                for item in value
                for a in (item if isinstance(item, (list, tuple)) else [item])
                if isinstance(a, np.ndarray)
            ]
            for role, a in roles:
                if any(np.shares_memory(h, a) for h in held):
                    found.setdefault(role.split("[")[0], local)
    return list(found.items())


class SupportsError(ValueError):
    """``supports(spec)`` raised, or answered something other than True or False; the message names
    the spec. A worker process (isolation.py) raises it with the message its own :func:`supports`
    made, which this process passes on unchanged."""


def _declared(fn: Any, arg: object, what: str, label: str) -> bool:
    """A declaration's answer (``supports(spec)``, ``supports_optimizer(optimizer)``), which must be
    a bool: anything else, or raising, is a :class:`SupportsError` naming it."""
    try:
        answer = fn(arg)
    except SupportsError:
        raise
    except BaseException as exc:
        if type(exc) is KeyboardInterrupt:
            raise
        raise SupportsError(f"{what}: {describe(exc)} for {label}") from None
    if not isinstance(answer, (bool, np.bool_)):
        raise SupportsError(
            f"{what}: expected True or False, got {answer!r} ({type(answer).__name__}) for {label}"
        )
    return bool(answer)


def supports_optimizer(impl: object, optimizer: object) -> bool:
    """Optimizer and schedule problems are opt-in: only an implementation with
    ``supports_optimizer(optimizer) -> bool`` that answers True gets one."""
    fn = getattr(impl, "supports_optimizer", None)
    if fn is None:
        return False
    return _declared(fn, optimizer, "supports_optimizer", str(getattr(optimizer, "label", optimizer)))


def supports(impl: object, spec: Spec, optimizer: object = None) -> bool:
    """An implementation may declare ``supports(spec) -> bool``; by default it supports every dense
    spec. Conv specs are opt-in: only an implementation with ``supports_conv = True`` (exactly True:
    the string "no" is not an opt-in) gets them, so one written before the conv extension (whose
    ``supports`` never looked at ``spec.conv``) is still checked on exactly the problems it was
    written for; recurrent specs likewise only with ``supports_recurrent = True``. ``supports`` must
    return a bool: anything else, or raising, is a
    :class:`SupportsError` naming it. With an ``optimizer`` (a problem that trains with one, or with
    a schedule) the implementation must also pass :func:`supports_optimizer`, the same opt-in."""
    if getattr(spec, "conv", ()) and getattr(impl, "supports_conv", False) is not True:
        return False
    if (
        getattr(spec, "recurrent", None) is not None
        and getattr(impl, "supports_recurrent", False) is not True
    ):
        return False
    fn = getattr(impl, "supports", None)
    if fn is not None and not _declared(fn, spec, "supports", spec.label):
        return False
    return optimizer is None or supports_optimizer(impl, optimizer)
