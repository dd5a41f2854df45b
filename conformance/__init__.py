"""The conformance harness: every implementation against the NumPy reference, layer by layer and
step by step, from shared seeds and shared weights.

    import conformance
    spec = conformance.Spec((2, 3, 1), "sigmoid", "sigmoid", "quadratic")
    impl = conformance.load("torch.manual")
    results = conformance.check(impl, conformance.CATALOGUE["nielsen-2-3-1"])
"""

from .checks import check_gradients, check_training
from .compare import CheckResult, compare
from .problems import CATALOGUE, Problem, make_problem
from .registry import DATA_PARALLEL, NAMES, Unavailable, available_names, load
from .spec import Conv, Spec


def check(impl, problem, dtype="float64"):
    """All checks of one implementation on one problem: gradients (one pass) and training."""
    return check_gradients(impl, problem, dtype) + check_training(impl, problem, dtype)


__all__ = [
    "CATALOGUE",
    "DATA_PARALLEL",
    "NAMES",
    "CheckResult",
    "Conv",
    "Problem",
    "Spec",
    "Unavailable",
    "available_names",
    "check",
    "check_gradients",
    "check_training",
    "compare",
    "load",
    "make_problem",
]
