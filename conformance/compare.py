"""The one comparison routine of the suite, and the record every check produces."""

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from conformance.tolerances import ZERO_FLOOR, tolerance


@dataclass(frozen=True)
class CheckResult:
    """One verdict: which implementation, problem and dtype, which quantity, how far, how close it must be."""

    impl: str
    problem: str
    dtype: str  # "float64" or "float32"
    check: str  # forward | deltas | grads | loss | trajectory | call | structure
    quantity: str  # e.g. "dW[layer 2]", "losses", "call gradients"
    layer: int | None
    rel: float  # normwise relative error (nan when no number could be compared)
    worst: float  # largest |got - want| element
    tol: float
    passed: bool
    detail: str = ""  # first diverging step, exception text, dtype mismatch...

    @property
    def message(self) -> str:
        verdict = "ok" if self.passed else "FAIL"
        if np.isnan(self.rel):
            return f"{self.impl} [{self.problem}] {self.check}: {self.quantity} {verdict}: {self.detail}"
        sign = "<=" if self.passed else ">"
        extra = f"; {self.detail}" if self.detail else ""
        return (
            f"{self.impl} [{self.problem}] {self.check}: {self.quantity} "
            f"max|Δ|={self.worst:.1e}, rel {self.rel:.1e} {sign} tol {self.tol:.0e} "
            f"({self.dtype}){extra}"
        )

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def failure(
    impl: str,
    problem: str,
    dtype: npt.DTypeLike,
    check: str,
    quantity: str,
    detail: str,
    layer: int | None = None,
) -> CheckResult:
    """A check that could not compare numbers (exception, wrong shape or dtype, NaN)."""
    return CheckResult(
        impl,
        problem,
        str(np.dtype(dtype)),
        check,
        quantity,
        layer,
        float("nan"),
        float("nan"),
        float("nan"),
        False,
        detail,
    )


def _scaled_norm(a):
    """(n, s) with ‖a‖ = n·s: the norm taken on a / s, s the power of two at its largest |element|,
    so that neither 1e200 (whose square overflows) nor 1e-300 (whose square underflows to 0) is
    lost; a normwise error is then exact to rounding over the whole float64 range."""
    top = float(np.max(np.abs(a), initial=0.0))
    if top == 0.0 or not np.isfinite(top):
        return top, 1.0
    s = float(2.0 ** np.floor(np.log2(top)))
    return float(np.linalg.norm(a / s)), s


def compare(
    got: npt.ArrayLike,
    want: npt.ArrayLike,
    *,
    impl: str,
    problem: str,
    dtype: npt.DTypeLike,
    check: str,
    quantity: str,
    layer: int | None = None,
    detail: str = "",
    time_axis: int | None = None,
) -> CheckResult:
    """Normwise relative error ‖got − want‖ / max(‖want‖, floor) against the family's tolerance.

    ``got`` must already have the expected shape and dtype (checks.py verifies that first); the
    difference is taken in float64. Non-finite values fail with a message saying so. ``time_axis``:
    the axis of a recurrent quantity's time steps; a failure then names the first time step that
    is off (:func:`first_step_off`).
    """
    dtype = np.dtype(dtype)
    tol = tolerance(check, dtype)
    got64 = np.asarray(got, dtype=np.float64)
    want64 = np.asarray(want, dtype=np.float64)
    if not np.all(np.isfinite(got64)):
        return failure(
            impl, problem, dtype, check, quantity, f"{int(np.sum(~np.isfinite(got64)))} NaN/Inf values", layer
        )
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        diff = got64 - want64  # inf where finite values are 1e308 apart: far, and it fails
        worst = float(np.max(np.abs(diff))) if diff.size else 0.0
        (n_diff, s_diff), (n_want, s_want) = _scaled_norm(diff), _scaled_norm(want64)
        if n_want * s_want < ZERO_FLOOR:  # an all-zero reference: anything but an exact zero fails
            rel = n_diff * (s_diff / ZERO_FLOOR)
        else:
            rel = (n_diff / n_want) * (s_diff / s_want)
        rel = float(rel) if not np.isnan(rel) else float("inf")
    if time_axis is not None and not rel <= tol:
        detail = "; ".join(filter(None, [detail, first_step_off(diff, want64, tol, time_axis)]))
    return CheckResult(impl, problem, str(dtype), check, quantity, layer, rel, worst, tol, rel <= tol, detail)


def first_step_off(diff: np.ndarray, want: np.ndarray, tol: float, time_axis: int) -> str:
    """Which time step of a failing recurrent quantity (z, a or δ of shape (m, T, n)) goes wrong
    first: the first t (1-based, as in the equations) whose slice errs by more than tol·‖want‖/√T.
    If every one of the T slices erred by less, ‖diff‖² = Σ_t ‖diff_t‖² would stay below
    (tol·‖want‖)² and the whole would pass; so a failing quantity always has such a step. Measured
    against the whole quantity's norm, not each step's own: a long sequence's first deltas are
    orders of magnitude smaller than its last (vanishing gradients), and their rounding alone would
    otherwise name them."""
    T = diff.shape[time_axis]
    with np.errstate(over="ignore", invalid="ignore"):
        scale = max(float(np.linalg.norm(want)), ZERO_FLOOR)
        steps = [float(np.linalg.norm(np.take(diff, t, axis=time_axis))) for t in range(T)]
    bound = tol * scale / np.sqrt(T)
    off = [t for t, n in enumerate(steps) if not n <= bound]
    if not off:
        return ""
    worst = int(np.nanargmax(np.where(np.isnan(steps), np.inf, steps)))
    return f"first time step off t={off[0] + 1} of T={T} (largest error at t={worst + 1})"
