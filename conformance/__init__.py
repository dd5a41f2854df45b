"""The conformance harness: every implementation against the NumPy reference, layer by layer and
step by step, from shared seeds and shared weights.

    import conformance
    spec = conformance.Spec((2, 3, 1), "sigmoid", "sigmoid", "quadratic")
    impl = conformance.load("torch.manual")
    results = conformance.check(impl, conformance.CATALOGUE["nielsen-2-3-1"])

The contract an implementation meets is typed in :mod:`conformance.contract` (``Implementation``,
``Gradients``, ``Trajectory``) and written out in docs/contract.md.
"""

__version__ = "0.2.0.dev0"  # recorded in report.json ("harness"); the package's version (pyproject.toml)

from conformance import checks as _checks
from conformance.checks import Checked, check_gradients, check_training
from conformance.compare import CheckResult, compare
from conformance.contract import (
    Declares,
    Gradients,
    Implementation,
    Optimizes,
    Recorded,
    Stateful,
    Trajectory,
)
from conformance.optimizer import Optimizer
from conformance.problems import CATALOGUE, Problem, make_problem
from conformance.spec import Conv, Recurrent, Spec
from conformance.targets.registry import DATA_PARALLEL, NAMES, available_names, load
from conformance.targets.resolve import Unavailable


def check(impl: Implementation, problem: Problem, dtype: str = "float64") -> list[CheckResult]:
    """All checks of one implementation on one problem: gradients (one pass) and training."""
    return _checks.check(impl, problem, dtype).results


__all__ = [
    "CATALOGUE",
    "DATA_PARALLEL",
    "NAMES",
    "CheckResult",
    "Checked",
    "Conv",
    "Declares",
    "Gradients",
    "Implementation",
    "Optimizer",
    "Optimizes",
    "Problem",
    "Recorded",
    "Recurrent",
    "Spec",
    "Stateful",
    "Trajectory",
    "Unavailable",
    "__version__",
    "available_names",
    "check",
    "check_gradients",
    "check_training",
    "compare",
    "load",
    "make_problem",
]
