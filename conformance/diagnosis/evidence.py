"""What a diagnosis looks at and what it says: :class:`Evidence` (one run's failing groups, the
implementation's arrays, the reference's, the problem's inputs) and :class:`Diagnosis` (a cause, a
fix, the groups it explains). The signatures (signatures.py, multiples.py, trajectory_signatures.py)
turn the one into the other; diagnose.py runs them.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from conformance.calls import is_loss
from conformance.compare import CheckResult
from conformance.contract import Pair
from conformance.problems import Problem
from conformance.tolerances import ZERO_FLOOR, tolerance

# quantity family -> the check family whose tolerance applies to it
FAMILY_CHECK = {
    "z": "forward",
    "a": "forward",
    "delta": "deltas",
    "dK": "grads",
    "dW": "grads",
    "dU": "grads",
    "db": "grads",
    "loss": "loss",
    "losses": "trajectory",
    "final K": "trajectory",
    "final W": "trajectory",
    "final U": "trajectory",
    "final b": "trajectory",
}
# the index of each parameter family's array in its layer's tuple ((K, b), (W, b), (W, U, b))
SLOT = {"K": 0, "W": 0, "U": 1, "b": -1}
TRAJECTORY = ("losses", "final K", "final W", "final U", "final b")

# (layer, got, want) of one quantity family: the implementation's array and the reference's, as float64
LayerArrays: TypeAlias = tuple[int, npt.NDArray[np.float64], npt.NDArray[np.float64]]


@dataclass
class Evidence:
    """What the signatures look at: the failing groups, the arrays, and the problem's inputs."""

    problem: Problem  # float64 copies of exactly the values the implementation got
    dtype: str
    failing: dict[tuple[str, str], list[CheckResult]]  # (check, family) -> its failed results
    want: dict[str, Any]  # "gradients"/"train" -> the float64 reference's result
    got: dict[str, Any]  # "gradients"/"train" -> what the implementation returned (absent if not run)
    consistency: Callable[[], object] | None = None  # the self-consistency verdict, asked lazily
    _consistent: list = field(default_factory=list)

    @property
    def consistent(self) -> bool | None:
        """The self-consistency verdict, asked once; None when there is none (or asking it failed:
        the diagnosis then says neither "convention" nor "bug")."""
        if not self._consistent:
            try:
                verdict = self.consistency() if self.consistency else None
            except Exception:
                verdict = None
            self._consistent.append(bool(verdict) if isinstance(verdict, (bool, np.bool_)) else None)
        return self._consistent[0]

    def keys(self, *families: str) -> set[tuple[str, str]]:
        """The failing groups of these quantity families (any check: values or structure)."""
        return {k for k in self.failing if k[1] in families}

    def tol(self, fam: str) -> float:
        return tolerance(FAMILY_CHECK[fam], self.dtype)

    def pairs(self, fam: str) -> list[LayerArrays] | None:
        """[(layer, got, want)] as float64 arrays, or None when the output has no such quantity
        in a usable form. Whatever an implementation returned is read defensively: a missing or None
        attribute, a list of the wrong length, an entry that is not a (gradient, gradient) pair, a
        dict, an int, an integer or object array, a placeholder object — each makes the family
        unusable (None), never an exception. Wrong shapes are kept: signatures test them (a
        transposed ∂W), and :meth:`close` rejects a pair whose shapes differ."""
        kind = "train" if fam in TRAJECTORY else "gradients"
        got, want = self.got.get(kind), self.want.get(kind)
        if got is None or want is None:
            return None
        try:  # reading an unknown object may raise anything: that is "not usable", not a crash
            w = _entries(want, fam, kind)
            g = _entries(got, fam, kind, like=None if w is None else _layer_sizes(want, kind))
        except Exception:
            return None
        if g is None or w is None or len(g) != len(w):
            return None
        first = 0 if fam == "a" else 1
        pairs = [  # a layer without the family's array (U of a dense layer) is skipped
            (l, a.astype(np.float64), np.asarray(b, dtype=np.float64))
            for l, (a, b) in enumerate(zip(g, w), start=first)
            if b is not None
        ]
        if fam[-1] in "KW":  # layers 1..c are conv blocks (K), the rest dense (W)
            c = len(getattr(self.problem.spec, "conv", ()) or ())
            pairs = [(l, a, b) for l, a, b in pairs if (l <= c) == (fam[-1] == "K")]
        return pairs

    def param(self, fam: str, layer: int) -> np.ndarray:
        """The parameter of ``layer`` that a gradient family belongs to: K, W, U or b for dK, dW,
        dU or db."""
        return self.problem.params[layer - 1][SLOT[fam[-1]]]

    def close(self, fam: str, got: npt.ArrayLike, want: npt.ArrayLike) -> bool:
        """Within the family's tolerance, measured as the check measures it: per step for the
        per-step losses (checks._compare_steps), normwise and relative for everything else
        (compare.py). Never close when either side holds a NaN or an Inf: a replayed hypothesis
        that overflowed is not a match for anything, and neither is a non-finite output (the check
        has failed it already). Both sides are scaled by the same power of two before the norms, so
        huge finite values (a diverging replay) are compared exactly instead of overflowing to
        inf ≤ inf."""
        try:
            got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
        except (TypeError, ValueError):
            return False
        if got.shape != want.shape or not (np.all(np.isfinite(got)) and np.all(np.isfinite(want))):
            return False
        if got.size == 0:
            return True
        tol = self.tol(fam)
        if fam == "losses":
            return bool(np.all(np.abs(got - want) <= tol * np.maximum(np.abs(want), ZERO_FLOOR)))
        top = max(float(np.max(np.abs(got))), float(np.max(np.abs(want))))
        if top == 0.0:
            return True
        scale = 2.0 ** -np.frexp(top)[1]  # exact: |values| · scale < 1, so neither norm overflows
        floor = ZERO_FLOOR * scale  # the floor scales with them (it may underflow to 0: still "not close")
        return bool(np.linalg.norm((got - want) * scale) <= tol * max(np.linalg.norm(want * scale), floor))


def attribute(result: object, name: str) -> object:
    """``result.name``, or None where there is no such attribute or reading it raises (a property
    of the implementation's own result type may raise anything)."""
    try:
        return getattr(result, name, None)
    except Exception:
        return None


def _floats(a):
    """``a`` if it is a floating-point NumPy array (the contract's arrays), else None."""
    return a if isinstance(a, np.ndarray) and a.dtype.kind == "f" else None


def _number(value):
    """A loss as a 0-d float64 array, where the checks accept it as one (calls.is_loss), else None."""
    if not is_loss(value):
        return None
    return np.asarray(value, dtype=np.float64)


def float_pairs(value: object, n: int | None = None) -> list[Pair] | None:
    """A list of ``n`` (any length if None) (array, array) pairs of float arrays, else None: the
    contract's ``grads`` and ``params`` of a dense or conv net. A dict, a tuple of the wrong length
    ((dW,), (dW, db, x)), a None or an integer array in a pair makes the whole list unusable."""
    if not isinstance(value, (list, tuple)) or (n is not None and len(value) != n):
        return None
    return float_layers(value, [2] * len(value))  # type: ignore[return-value]  # pairs, by the sizes


def float_layers(value: object, sizes: Sequence[int] | None = None) -> list[tuple[np.ndarray, ...]] | None:
    """A list of layers of float arrays, else None: the contract's ``grads`` and ``params``, pairs
    and (for a recurrent layer) (W, U, b) triples. With ``sizes`` (the reference's layer lengths)
    the list and every layer must have exactly those lengths; without, a layer is a pair or a
    triple. A dict, a tuple of the wrong length, a None or an integer array makes it unusable."""
    if not isinstance(value, (list, tuple)) or (sizes is not None and len(value) != len(sizes)):
        return None
    out = []
    for l, layer in enumerate(value):
        wanted = (2, 3) if sizes is None else (sizes[l],)
        if not isinstance(layer, (list, tuple)) or len(layer) not in wanted:
            return None
        arrays = [_floats(a) for a in layer]
        if any(a is None for a in arrays):
            return None
        out.append(tuple(arrays))
    return out


def _layer_sizes(result, kind):
    """The reference's layer lengths (2 for a pair, 3 for a triple), which the implementation's must
    match; None where the reference has no usable layers."""
    layers = float_layers(attribute(result, "grads" if kind == "gradients" else "params"))
    return None if layers is None else [len(layer) for layer in layers]


def _entries(result, fam, kind, like=None):
    """The arrays of quantity family ``fam`` in ``result`` (a Gradients or Trajectory), or None;
    for a parameter family, one entry per layer (None where the layer has no such array: U of a
    dense layer), read with the reference's layer lengths ``like``."""
    if fam == "loss":
        value = _number(attribute(result, "loss"))
        return None if value is None else [value]
    if fam == "losses":  # a list of numbers, as checks.check_training accepts it
        value = attribute(result, "losses")
        if isinstance(value, (str, bytes, dict)) or value is None:
            return None
        value = np.asarray(value)
        return [value.astype(np.float64)] if value.dtype.kind in "iuf" and value.ndim == 1 else None
    if fam[-1] in SLOT:  # dK, dW, dU, db, final K, final W, final U, final b
        layers = float_layers(attribute(result, "grads" if kind == "gradients" else "params"), like)
        if layers is None:
            return None
        return [None if fam[-1] == "U" and len(layer) < 3 else layer[SLOT[fam[-1]]] for layer in layers]
    attr = {"z": "zs", "a": "activations", "delta": "deltas"}.get(fam)
    value = None if attr is None else attribute(result, attr)
    if not isinstance(value, (list, tuple)):
        return None
    arrays = [_floats(a) for a in value]
    return None if any(a is None for a in arrays) else arrays


@dataclass(frozen=True)
class Diagnosis:
    signature: str  # which signature matched, e.g. "constant_multiple"
    cause: str  # what is wrong, naming the equation
    fix: str  # what to change, in the student's terms
    explains: tuple  # the (check, family) groups it accounts for
    verdict: str = ""  # "convention" or "bug" where the self-consistency check decides it

    @property
    def line(self) -> str:
        if self.signature == "unmatched":
            return f"no known signature matched: {self.cause}"
        verdict = {
            "convention": " A different but consistent convention: your gradients are the "
            "derivative of your own loss (self-consistency PASS).",
            "bug": " A bug: your gradients are not the derivative of your own loss (self-consistency FAIL).",
        }.get(self.verdict, "")
        return f"likely cause: {self.cause}. Fix: {self.fix}.{verdict}"


def unmatched(keys: Sequence[tuple[str, str]]) -> Diagnosis:
    names = [f if f.startswith(c) else f"{c} {f}".strip() for c, f in keys]
    return Diagnosis("unmatched", ", ".join(names), "", tuple(keys))


def verdict(ev: Evidence, families: Iterable[str]) -> str:
    """Only a disagreement in the loss or the gradients is a convention-or-bug question."""
    if not set(families) & {"delta", "dW", "db", "loss", "losses"}:
        return ""
    verdicts: dict[bool | None, str] = {True: "convention", False: "bug"}
    return verdicts.get(ev.consistent, "")


def failing_pairs(ev: Evidence, fam: str) -> list[LayerArrays] | None:
    """[(layer, got, want)] of a failing family's layers that differ, or None."""
    pairs = ev.pairs(fam) if ev.keys(fam) else None
    return [(l, g, w) for l, g, w in pairs if not ev.close(fam, g, w)] if pairs else None
