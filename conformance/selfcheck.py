"""Self-consistency: are an implementation's gradients the derivative of its *own* loss?

The reference comparison says whether an implementation agrees with ours; this says whether it
agrees with itself. Both together separate "a different but consistent convention" (its cost is,
say, a mean over outputs too, and its gradients belong to that cost) from "a bug" (its loss and its
gradients do not belong together). No reference number enters: the implementation's own
``gradients(...).loss`` is differentiated numerically, in float64, on a few small catalogue problems
it supports, and compared with its own ``gradients(...).grads``.

The stencil is the reference's (reference/gradcheck.py), applied to the implementation's loss, but
along one random unit direction v per weight or bias tensor instead of one coordinate at a time
(4 loss evaluations per tensor, not per parameter): n = (−C(θ + 2hv) + 8 C(θ + hv) − 8 C(θ − hv) +
C(θ − 2hv)) / 12h, h = 1e-3, against a = ⟨∂C/∂θ, v⟩. Truncation is O(h⁴) and rounding about
1.5 ε max(|C|, 1) / h ≈ 3.3e-13 max(|C|, 1). The error |a − n| / max(|a| + |n|, floor) uses the
reference's threshold (tolerances.GRADCHECK, 1e-7, derived there); the floor, rounding over it,
keeps an exactly-zero derivative from dividing noise by noise. A loss and a gradient that differ by
a factor c give |c − 1| / (|c| + 1): 1/3 for the ½ of the quadratic cost. Problems whose ReLU
pre-activations come within tolerances.KINK_MARGIN of the kink are skipped, as θ ± 2hv must not
straddle it.
"""

import math
import threading
from collections.abc import ItemsView, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

import reference
from conformance.calls import CallFailed, call, is_loss, shown, supports
from conformance.contract import Implementation
from conformance.problems import CATALOGUE, Problem
from conformance.tolerances import GRADCHECK, KINK_MARGIN

H = 1e-3  # the reference's step (reference/gradcheck.py)
TOL = GRADCHECK
MAX_PARAMS = 64  # small nets: the suite's cheapest problems


@dataclass(frozen=True)
class SelfConsistency:
    passed: bool | None  # None: not run (no small problem supported)
    problems: tuple = ()
    worst: float = 0.0
    disagreements: tuple = ()  # per problem: the tensors that disagree, and by how much
    covers: str = ""  # the kinds of problem it ran on, and those it could not

    @property
    def line(self) -> str:
        if self.passed is None:
            return (
                f"self-consistency: not run (no small smooth catalogue problem is supported; {self.covers})"
            )
        if self.passed:
            return (
                f"self-consistency: PASS (own gradients match the five-point differences of own loss "
                f"on {', '.join(self.problems)}; {self.covers}; worst {self.worst:.0e} <= {TOL:.0e})"
            )
        return (
            f"self-consistency: FAIL (own gradients vs the differences of own loss, tol {TOL:.0e}: "
            f"{'; '.join(self.disagreements)}; {self.covers})"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "verdict": {None: "not run", True: "pass", False: "fail"}[self.passed],
            "problems": list(self.problems),
            "worst": self.worst if math.isfinite(self.worst) else None,
            "tol": TOL,
            "disagreements": list(self.disagreements),
            "covers": self.covers,
            "line": self.line,
        }


def coverage(impl: object, problems: Sequence[Problem]) -> str:
    """Which kinds of problem the pass ran on, and which of those the implementation supports it
    could not: e.g. 'covers costs quadratic, log_likelihood; weight decay; dense layers only: no
    conv problem is small enough (at most 64 parameters)'."""
    parts = []
    if problems:
        parts.append(f"covers costs {', '.join(sorted({p.spec.loss for p in problems}))}")
        parts.append("weight decay" if any(p.spec.weight_decay for p in problems) else "no weight decay")
    if not any(getattr(p.spec, "conv", ()) for p in problems):
        parts.append(
            f"dense layers only: no conv problem is small enough (at most {MAX_PARAMS} parameters)"
            if getattr(impl, "supports_conv", False) is True
            else "dense layers only (conv not supported)"
        )
    return "; ".join(parts)


def small_problems(impl: object, count: int = 3) -> list[Problem]:
    """Up to ``count`` supported catalogue problems with at least two layers, at most MAX_PARAMS
    parameters, no ReLU near its kink and no max pooling; one per cost, weight decay preferred (so
    the penalty is differentiated too), then the fewest parameters."""

    def size(p):
        return sum(a.size for layer in p.params for a in layer)

    def smooth(p):
        if any(block.pool == "max" for block in getattr(p.spec, "conv", ()) or ()):
            return False  # a near-tie in a pooling window would switch its maximum under θ ± 2hv
        zs = reference.backprop(p.spec, p.params, p.x, p.y).zs
        return all(
            np.min(np.abs(z)) > KINK_MARGIN
            for l, z in enumerate(zs, 1)
            if (p.spec.output if l == len(zs) else p.spec.activation) == "relu"
        )

    pool = sorted(
        (
            p
            for p in CATALOGUE.values()
            if len(p.params) >= 2
            and size(p) <= MAX_PARAMS
            and smooth(p)
            and p.optimizer is None
            and getattr(p.spec, "recurrent", None) is None  # the choice for dense and conv, as before
            and supports(impl, p.spec)
        ),
        key=lambda p: (p.spec.weight_decay == 0, size(p)),
    )
    chosen: dict[str, Problem] = {}
    for p in pool:
        chosen.setdefault(p.spec.loss, p)
    return list(chosen.values())[:count]


def _differences(impl, p):
    """[(quantity, rel)] for one problem: along one random unit direction v per tensor θ, the own
    gradient's ⟨∂C/∂θ, v⟩ against the five-point difference of the own loss C(θ + t v) at t = 0."""
    rng = np.random.Generator(np.random.PCG64(0))
    own = _own(impl, p, p.params)
    floor = 1.5 * np.finfo(np.float64).eps * max(abs(own.loss), 1.0) / H / TOL
    found = []
    for l in range(len(p.params)):
        for which, q in enumerate(("dW", "dU", "db") if len(p.params[l]) == 3 else ("dW", "db")):
            theta = p.params[l][which]
            v = rng.standard_normal(theta.shape)
            v /= np.linalg.norm(v)
            c = {}
            for k in (-2, -1, 1, 2):
                params = [list(pair) for pair in p.params]
                params[l][which] = theta + k * H * v
                c[k] = _own(impl, p, [tuple(pair) for pair in params]).loss
            numeric = (-c[2] + 8 * c[1] - 8 * c[-1] + c[-2]) / (12 * H)
            analytic = float(np.sum(own.grads[l][which] * v))
            rel = abs(analytic - numeric) / max(abs(analytic) + abs(numeric), floor)
            found.append((f"{q}[layer {l + 1}]", rel))
    return found


class Unusable(Exception):
    """The implementation's own result cannot be differentiated (no float loss, malformed grads)."""


def _own(impl, p, params):
    """The implementation's own loss (a float) and grads (float64 pairs) at ``params``, called like
    every check (fresh read-only inputs, calls.py); Unusable or CallFailed if there are none."""
    got = call(impl, "gradients", p.spec, params, p.x, p.y)
    loss = got.fields.get("loss")
    if not is_loss(loss):
        raise Unusable(f"its loss is not a float ({shown(loss)})")
    grads: Any = got.fields.get("grads")  # Any: anything but a list of pairs raises below
    try:
        grads = [tuple(np.asarray(d, dtype=np.float64) for d in layer) for layer in grads]
        shapes = [tuple(a.shape for a in layer) for layer in params]
        assert [tuple(d.shape for d in layer) for layer in grads] == shapes
    except (TypeError, ValueError, AssertionError):
        raise Unusable(
            "its grads are not one (dW, db) pair of arrays per layer, shaped like params"
        ) from None
    return SimpleNamespace(loss=float(loss), grads=grads)


def self_consistency(impl: Implementation, problems: Sequence[Problem] | None = None) -> SelfConsistency:
    """The :class:`SelfConsistency` verdict of ``impl`` on ``problems`` (default: small_problems)."""
    problems = small_problems(impl) if problems is None else problems
    covers = coverage(impl, problems)
    if not problems:
        return SelfConsistency(None, covers=covers)
    worst, disagreements = 0.0, []
    failed: dict[str, list[str]] = {}  # why -> the problems it failed on
    for p in problems:
        try:
            errors = _differences(impl, p)
        except (CallFailed, Unusable) as exc:  # an implementation's own failure is a verdict
            failed.setdefault(str(exc), []).append(p.name)
            worst = math.inf
            continue
        rels = [math.inf if math.isnan(rel) else rel for _, rel in errors]
        worst = max([worst, *rels])
        bad = [q for q, rel in errors if not rel <= TOL]  # NaN disagrees
        if bad:
            disagreements.append(f"{', '.join(bad)} on {p.name} (rel up to {max(rels):.1e})")
    disagreements += [f"{', '.join(names)}: {why}" for why, names in failed.items()]  # said once
    return SelfConsistency(
        not disagreements, tuple(p.name for p in problems), worst, tuple(disagreements), covers
    )


class Verdicts:
    """Self-consistency verdicts by implementation name, each computed once, when first asked, and
    then shared: the matrix behind ``check`` and ``report`` (matrix.py), the pytest suite's
    implementations (suite/conftest.py) and the tests each hold one per run. Safe to ask from several
    threads (the matrix's jobs): one computes, the others wait for its verdict."""

    def __init__(self) -> None:
        self._found: dict[str, SelfConsistency] = {}
        self._lock = threading.Lock()

    def of(self, name: str, impl: Implementation) -> SelfConsistency:
        with self._lock:
            if name not in self._found:
                self._found[name] = self_consistency(impl)
            return self._found[name]

    def __len__(self) -> int:
        return len(self._found)

    def items(self) -> ItemsView[str, SelfConsistency]:
        return self._found.items()
