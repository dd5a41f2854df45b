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
reference's threshold TOL = 1e-7 (its measured worst is 1e-8 on a deeper net); the floor, rounding
over TOL, keeps an exactly-zero derivative from dividing noise by noise. A loss and a gradient that
differ by a factor c give |c − 1| / (|c| + 1): 1/3 for the ½ of the quadratic cost. Problems whose
ReLU pre-activations come within 0.05 of the kink are skipped, as θ ± 2hv must not straddle it.
"""

import math
import traceback
from dataclasses import dataclass

import numpy as np

import reference

from .checks import supports
from .problems import CATALOGUE

H = 1e-3
TOL = 1e-7
MAX_PARAMS = 64  # small nets: the suite's cheapest problems
KINK_MARGIN = 0.05


@dataclass(frozen=True)
class SelfConsistency:
    passed: bool | None  # None: not run (no small problem supported)
    problems: tuple = ()
    worst: float = 0.0
    disagreements: tuple = ()  # per problem: the tensors that disagree, and by how much

    @property
    def line(self):
        if self.passed is None:
            return "self-consistency: not run (no small smooth catalogue problem is supported)"
        if self.passed:
            return (f"self-consistency: PASS (own gradients match the five-point differences of own loss "
                    f"on {', '.join(self.problems)}; worst {self.worst:.0e} <= {TOL:.0e})")
        return (f"self-consistency: FAIL (own gradients vs the differences of own loss, tol {TOL:.0e}: "
                f"{'; '.join(self.disagreements)})")

    def to_dict(self):
        return {"verdict": {None: "not run", True: "pass", False: "fail"}[self.passed],
                "problems": list(self.problems), "worst": self.worst if math.isfinite(self.worst) else None,
                "tol": TOL, "disagreements": list(self.disagreements), "line": self.line}


def small_problems(impl, count=3):
    """Up to ``count`` supported catalogue problems with at least two layers, at most MAX_PARAMS
    parameters, no ReLU near its kink and no max pooling; one per cost, weight decay preferred (so
    the penalty is differentiated too), then the fewest parameters."""
    def size(p):
        return sum(W.size + b.size for W, b in p.params)

    def smooth(p):
        if any(block.pool == "max" for block in getattr(p.spec, "conv", ()) or ()):
            return False  # a near-tie in a pooling window would switch its maximum under θ ± 2hv
        zs = reference.backprop(p.spec, p.params, p.x, p.y).zs
        return all(np.min(np.abs(z)) > KINK_MARGIN for l, z in enumerate(zs, 1)
                   if (p.spec.output if l == len(zs) else p.spec.activation) == "relu")

    pool = sorted((p for p in CATALOGUE.values() if len(p.params) >= 2 and size(p) <= MAX_PARAMS
                   and smooth(p) and supports(impl, p.spec)),
                  key=lambda p: (p.spec.weight_decay == 0, size(p)))
    chosen = {}
    for p in pool:
        chosen.setdefault(p.spec.loss, p)
    return list(chosen.values())[:count]


def _differences(impl, p):
    """[(quantity, rel)] for one problem: along one random unit direction v per tensor θ, the own
    gradient's ⟨∂C/∂θ, v⟩ against the five-point difference of the own loss C(θ + t v) at t = 0."""
    rng = np.random.Generator(np.random.PCG64(0))
    own = impl.gradients(p.spec, p.params, p.x, p.y)
    floor = 1.5 * np.finfo(np.float64).eps * max(abs(float(own.loss)), 1.0) / H / TOL
    found = []
    for l in range(len(p.params)):
        for which, q in enumerate(("dW", "db")):
            theta = p.params[l][which]
            v = rng.standard_normal(theta.shape)
            v /= np.linalg.norm(v)
            c = {}
            for k in (-2, -1, 1, 2):
                params = [list(pair) for pair in p.params]
                params[l][which] = theta + k * H * v
                c[k] = float(impl.gradients(p.spec, [tuple(pair) for pair in params], p.x, p.y).loss)
            numeric = (-c[2] + 8 * c[1] - 8 * c[-1] + c[-2]) / (12 * H)
            analytic = float(np.sum(np.asarray(own.grads[l][which], dtype=np.float64) * v))
            rel = abs(analytic - numeric) / max(abs(analytic) + abs(numeric), floor)
            found.append((f"{q}[layer {l + 1}]", rel))
    return found


def self_consistency(impl, problems=None):
    """The :class:`SelfConsistency` verdict of ``impl`` on ``problems`` (default: small_problems)."""
    problems = small_problems(impl) if problems is None else problems
    if not problems:
        return SelfConsistency(None)
    worst, disagreements = 0.0, []
    for p in problems:
        try:
            errors = _differences(impl, p)
        except Exception as exc:  # an implementation's own failure is a verdict, not a crash
            last = traceback.extract_tb(exc.__traceback__)[-1]
            disagreements.append(f"{p.name}: raised {type(exc).__name__}: {exc} "
                                 f"({last.filename}:{last.lineno})")
            worst = math.inf
            continue
        rels = [math.inf if math.isnan(rel) else rel for _, rel in errors]
        worst = max([worst, *rels])
        bad = [q for q, rel in errors if not rel <= TOL]  # NaN disagrees
        if bad:
            disagreements.append(f"{', '.join(bad)} on {p.name} (rel up to {max(rels):.1e})")
    return SelfConsistency(not disagreements, tuple(p.name for p in problems), worst,
                           tuple(disagreements))
