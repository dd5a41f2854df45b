"""Resolve what the user asks to check: a registry name, ``PATH.py:ATTR``, ``PATH.py`` or ``module:attr``.

The object found must have ``gradients(spec, params, x, y)`` and ``train(spec, params, x, y, *, lr,
batches)`` (a module of two functions, a class with a no-argument constructor, or an instance); it
needs nothing from this project.
"""

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import SimpleNamespace

from conformance.calls import describe
from conformance.contract import Named
from conformance.targets.registry import NAMES, load


def load_target(target: str) -> Named:
    """The harness object for ``target``; raises ValueError with one clear line if it is not one:
    no such file or module, a syntax error, an exception or ``sys.exit`` while importing it, a class
    whose constructor raises or needs arguments, no ``gradients``/``train``."""
    if not isinstance(target, str):
        raise TypeError(f"target: expected a string, got {type(target).__name__}")
    if target in NAMES:
        return load(target)
    path, _, attr = target.partition(":") if not target.endswith(".py") else (target, "", "")
    if path.endswith(".py"):
        file = Path(path).expanduser().resolve()
        if not file.is_file():
            raise ValueError(f"target: no such file {path!r}")
        module_name = f"_conformance_target_{file.stem}"
        spec = importlib.util.spec_from_file_location(module_name, file)
        if spec is None or spec.loader is None:
            raise ValueError(f"target: {path!r} cannot be imported as a Python module")
        loader = spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses and pickling look modules up by name
        sys.path.insert(0, str(file.parent))  # so the file can import its neighbours
        try:
            _user_code(f"importing {path}", loader.exec_module, module)
        except ValueError:
            del sys.modules[module_name]
            raise
        finally:
            sys.path.remove(str(file.parent))
    else:
        try:
            module = importlib.import_module(path)
        except ImportError as exc:
            raise ValueError(
                f"target: cannot import module {path!r} ({exc}); expected a registry "
                f"name {list(NAMES)}, PATH.py[:ATTR] or module:attr"
            ) from exc
        except BaseException as exc:
            if type(exc) is KeyboardInterrupt:
                raise
            raise ValueError(f"target: importing {path!r} {describe(exc)}") from None
    obj = module if not attr else getattr(module, attr, None)
    if obj is None:
        raise ValueError(f"target: {path!r} has no attribute {attr!r}")
    if inspect.isclass(obj):
        obj = _user_code(f"constructing {attr or path}() (the harness calls a class with no arguments)", obj)
    missing = [
        f for f in ("gradients", "train") if not callable(_user_code(f"reading .{f}", getattr, obj, f, None))
    ]
    if missing:
        raise ValueError(
            f"target: {target!r} has no callable {' or '.join(missing)}; the harness "
            "needs gradients(spec, params, x, y) and train(spec, params, x, y, *, lr, batches)"
        )
    name = _user_code("reading .name", getattr, obj, "name", None)
    if name is None or not isinstance(name, str):
        fields = {
            f: getattr(obj, f)
            for f in (
                "gradients",
                "train",
                "supports",
                "supports_conv",
                "supports_recurrent",
                "supports_optimizer",
            )
            if hasattr(obj, f)
        }
        obj = SimpleNamespace(name=target if name is None else _user_code("str(.name)", str, name), **fields)
    return obj


def _user_code(what, fn, *args):
    """``fn(*args)``, with anything it raises (SystemExit included) turned into one ValueError line."""
    try:
        return fn(*args)
    except BaseException as exc:
        if type(exc) is KeyboardInterrupt:
            raise
        raise ValueError(f"target: {what} {describe(exc)}") from None
