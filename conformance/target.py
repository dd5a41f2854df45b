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

from .registry import NAMES, load


def load_target(target):
    """The harness object for ``target``; raises ValueError with a clear message if it is not one."""
    if target in NAMES:
        return load(target)
    path, _, attr = target.partition(":") if not target.endswith(".py") else (target, "", "")
    if path.endswith(".py"):
        file = Path(path).expanduser().resolve()
        if not file.is_file():
            raise ValueError(f"target: no such file {path!r}")
        module_name = f"_conformance_target_{file.stem}"
        spec = importlib.util.spec_from_file_location(module_name, file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses and pickling look modules up by name
        sys.path.insert(0, str(file.parent))  # so the file can import its neighbours
        try:
            spec.loader.exec_module(module)
        finally:
            sys.path.remove(str(file.parent))
    else:
        try:
            module = importlib.import_module(path)
        except ImportError as exc:
            raise ValueError(f"target: cannot import module {path!r} ({exc}); expected a registry "
                             f"name {list(NAMES)}, PATH.py[:ATTR] or module:attr") from exc
    obj = module if not attr else getattr(module, attr, None)
    if obj is None:
        raise ValueError(f"target: {path!r} has no attribute {attr!r}")
    if inspect.isclass(obj):
        obj = obj()
    missing = [f for f in ("gradients", "train") if not callable(getattr(obj, f, None))]
    if missing:
        raise ValueError(f"target: {target!r} has no callable {' or '.join(missing)}; the harness "
                         "needs gradients(spec, params, x, y) and train(spec, params, x, y, *, lr, batches)")
    if getattr(obj, "name", None) is None:
        fields = {f: getattr(obj, f) for f in ("gradients", "train", "supports", "supports_conv")
                  if hasattr(obj, f)}
        obj = SimpleNamespace(name=target, **fields)
    return obj
