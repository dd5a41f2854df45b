"""What a diagnosis looks at and what it says: :class:`Evidence` (one run's failing groups, the
implementation's arrays, the reference's, the problem's inputs) and :class:`Diagnosis` (a cause, a
fix, the groups it explains). The signatures (signatures.py, multiples.py, trajectory_signatures.py)
turn the one into the other; diagnose.py runs them.
"""

from dataclasses import dataclass, field

import numpy as np

from .tolerances import ZERO_FLOOR, tolerance

# quantity family -> the check family whose tolerance applies to it
FAMILY_CHECK = {"z": "forward", "a": "forward", "delta": "deltas", "dK": "grads", "dW": "grads",
                "db": "grads", "loss": "loss", "losses": "trajectory", "final K": "trajectory",
                "final W": "trajectory", "final b": "trajectory"}


@dataclass
class Evidence:
    """What the signatures look at: the failing groups, the arrays, and the problem's inputs."""

    problem: object  # the Problem with float64 copies of exactly the values the implementation got
    dtype: str
    failing: dict  # (check, family) -> [CheckResult]
    want: dict  # "gradients"/"train" -> the float64 reference's result
    got: dict  # "gradients"/"train" -> what the implementation returned (absent if not run)
    consistency: object = None  # () -> bool | None: the self-consistency verdict, asked lazily
    _consistent: list = field(default_factory=list)

    @property
    def consistent(self):
        if not self._consistent:
            self._consistent.append(self.consistency() if self.consistency else None)
        return self._consistent[0]

    def keys(self, *families):
        """The failing groups of these quantity families (any check: values or structure)."""
        return {k for k in self.failing if k[1] in families}

    def tol(self, fam):
        return tolerance(FAMILY_CHECK[fam], self.dtype)

    def pairs(self, fam):
        """[(layer, got, want)] as float64 arrays, or None when the output has no such quantity
        in a usable form (missing, not a list of the right length, not numeric arrays)."""
        kind = "train" if fam in ("losses", "final K", "final W", "final b") else "gradients"
        got, want = self.got.get(kind), self.want.get(kind)
        if got is None or want is None:
            return None
        try:
            if fam in ("loss", "losses"):
                g, w = [np.asarray(getattr(got, fam), dtype=np.float64)], [np.asarray(getattr(want, fam))]
            elif fam[-1] in "KWb":  # dK, dW, db, final K, final W, final b
                i = 1 if fam[-1] == "b" else 0
                attr = "grads" if kind == "gradients" else "params"
                g, w = [p[i] for p in getattr(got, attr)], [p[i] for p in getattr(want, attr)]
            else:
                attr = {"z": "zs", "a": "activations", "delta": "deltas"}[fam]
                g, w = list(getattr(got, attr)), list(getattr(want, attr))
            if len(g) != len(w) or not all(isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in g):
                return None
        except (TypeError, ValueError, AttributeError, IndexError):
            return None
        first = 0 if fam == "a" else 1
        pairs = [(l, a.astype(np.float64), b) for l, (a, b) in enumerate(zip(g, w), start=first)]
        if fam[-1] in "KW":  # layers 1..c are conv blocks (K), the rest dense (W)
            c = len(getattr(self.problem.spec, "conv", ()) or ())
            pairs = [(l, a, b) for l, a, b in pairs if (l <= c) == (fam[-1] == "K")]
        return pairs

    def param(self, fam, layer):
        """The parameter of ``layer`` that a gradient family belongs to: K or W for dK/dW, b for db."""
        return self.problem.params[layer - 1][1 if fam[-1] == "b" else 0]

    def close(self, fam, got, want):
        """Within the family's tolerance, measured like compare.py (normwise, relative)."""
        return (got.shape == want.shape and bool(np.all(np.isfinite(got)))
                and np.linalg.norm(got - want) <= self.tol(fam) * max(np.linalg.norm(want), ZERO_FLOOR))


@dataclass(frozen=True)
class Diagnosis:
    signature: str  # which signature matched, e.g. "constant_multiple"
    cause: str  # what is wrong, naming the equation
    fix: str  # what to change, in the student's terms
    explains: tuple  # the (check, family) groups it accounts for
    verdict: str = ""  # "convention" or "bug" where the self-consistency check decides it

    @property
    def line(self):
        if self.signature == "unmatched":
            return f"no known signature matched: {self.cause}"
        verdict = {"convention": " A different but consistent convention: your gradients are the "
                                 "derivative of your own loss (self-consistency PASS).",
                   "bug": " A bug: your gradients are not the derivative of your own loss "
                          "(self-consistency FAIL)."}.get(self.verdict, "")
        return f"likely cause: {self.cause}. Fix: {self.fix}.{verdict}"


def unmatched(keys):
    names = [f if f.startswith(c) else f"{c} {f}".strip() for c, f in keys]
    return Diagnosis("unmatched", ", ".join(names), "", tuple(keys))


def verdict(ev, families):
    """Only a disagreement in the loss or the gradients is a convention-or-bug question."""
    if not set(families) & {"delta", "dW", "db", "loss", "losses"}:
        return ""
    return {True: "convention", False: "bug"}.get(ev.consistent, "")


def failing_pairs(ev, fam):
    """[(layer, got, want)] of a failing family's layers that differ, or None."""
    pairs = ev.pairs(fam) if ev.keys(fam) else None
    return [(l, g, w) for l, g, w in pairs if not ev.close(fam, g, w)] if pairs else None
