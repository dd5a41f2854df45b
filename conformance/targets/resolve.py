"""The leaf the target modules share: a ``module:attr`` path to the object it names, and the error
for a framework that is not installed. It imports nothing of the harness, so the registry and the
device host (which runs the registry's data-parallel classes in a child process) need not import
each other."""

import importlib
from typing import Any


class Unavailable(ImportError):
    """The implementation's framework is not installed (the message says which and how to get it)."""


def resolve(path: str) -> Any:  # whatever the path names: a function or a class
    """``"torch_impl.manual:backprop"`` -> that function (importing its module)."""
    module, attr = path.split(":")
    return getattr(importlib.import_module(module), attr)
