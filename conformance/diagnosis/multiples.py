"""A quantity that is a constant multiple c of the reference in every layer, and what c means.

c is fitted over all layers of a quantity family at once, c = Σ⟨g, r⟩ / Σ⟨r, r⟩, and accepted only if
every layer then agrees with c·r to the check's own tolerance, ‖g − c·r‖ ≤ tol·‖c·r‖. With weight
decay the data term alone is tried too (g − λW against r − λW, and the loss without its penalty):
the classic "summed over the batch, + λW" scales only the data term (K of conv blocks likewise).

c is read as the simplest product ±m^i · 2^j · n_L^k (i, j, k ∈ {−1, 0, 1}) equal to it, m the batch
size and n_L the number of outputs; c itself is always printed, and a c that is no such product is
said to be unrecognised rather than given a reason.
"""

import itertools

import numpy as np

from conformance.diagnosis.evidence import Diagnosis, Evidence, verdict
from conformance.tolerances import ZERO_FLOOR

EQUATION = {
    "delta": "δ (BP1, carried down by BP2)",
    "dK": "∂C/∂K (BP4-conv)",
    "dW": "∂C/∂W (BP4)",
    "db": "∂C/∂b (BP3)",
    "loss": "the loss C",
    "losses": "the per-step losses",
}

# factor -> (what it means, how to fix it)
FACTORS = {
    "m": (
        "summed over the m examples of the batch instead of averaged",
        "divide the sum over the batch by m: ∂C/∂b^l = (1/m)Σ_x δ^l_x, ∂C/∂W^l = (1/m)(δ^l)ᵀ a^{l−1} + λW^l",
    ),
    "1/m": (
        "divided by m once too often",
        "δ^l = ∂C_x/∂z^l is per example and the 1/m appears only in "
        "BP3 and BP4; if δ came from autodiff of the batch mean, multiply it by m",
    ),
    "2": ("the ½ of the quadratic cost is missing", "C_x = ½‖a − y‖², whose gradient is a − y (BP1)"),
    "1/2": ("an extra ½", "the gradient of ½‖a − y‖² is a − y, without another ½ (BP1)"),
    "n_L": ("an extra factor n_L, the number of outputs", "C_x sums over the n_L outputs once"),
    "1/n_L": (
        "averaged over the n_L outputs (a mean-reduced squared error) where C_x sums over them",
        "sum over the outputs, C_x = ½Σ_j (a_j − y_j)², or keep your mean and use η·n_L",
    ),
    "-1": ("the sign is flipped", "δ^L starts from ∇_a C_x = a − y, not y − a (BP1)"),
}


def readings(c: float, m: int, n_L: int, rel: float) -> list[list[str]]:
    """The simplest factor lists whose product is c, e.g. [["m"]] for c = 10 = m; ambiguous when
    m = 2 or n_L = m. ``rel``: how closely c must equal the product. The per-layer residual test
    pins c to the check's tolerance (1e-11 in float64, 1e-4 in float32); twice that is far below
    the spacing of the candidates, which differ by at least a factor 1 + 1/(2m·n_L)."""
    values = {"m": m, "2": 2, "n_L": n_L}
    found: dict = {}
    for sign, exps in itertools.product((1, -1), itertools.product((-1, 0, 1), repeat=3)):
        value = sign * np.prod([values[n] ** float(e) for n, e in zip(values, exps)])
        if abs(c - value) <= rel * abs(value):
            names = [n if e == 1 else f"1/{n}" for n, e in zip(values, exps) if e] + ["-1"] * (sign < 0)
            found.setdefault(len(names), []).append(names)
    return found[min(found)] if found else []


def describe(c: float, m: int, n_L: int, rel: float) -> tuple[str, str, str]:
    """('c = 10 = m', 'reading', 'fix') for a factor c."""
    options = readings(c, m, n_L, rel)
    if not options:
        return f"c = {c:.6g}", f"a factor c = {c:.6g} that is not one we recognise", "find where it enters"
    spelled = " or ".join(" · ".join(names) for names in options)
    label = f"c = {c:.6g}" + ("" if spelled in (f"{c:.6g}", "2", "-1") else f" = {spelled}")
    names = options[0]
    return label, "; and ".join(FACTORS[n][0] for n in names), "; ".join(FACTORS[n][1] for n in names)


def _fit(ev, fam, data_term):
    """c if every layer of ``fam`` is c times the reference's (the data term alone if asked), else None."""
    pairs = ev.pairs(fam)
    if not pairs or any(g.shape != w.shape for _, g, w in pairs):
        return None
    lam, params = ev.problem.spec.weight_decay, ev.problem.params
    if data_term:
        if lam == 0 or fam not in ("dK", "dW", "loss"):
            return None
        terms = (
            [np.asarray(0.5 * lam * sum(np.sum(w * w) for *weights, _ in params for w in weights))]
            if fam == "loss"
            else [lam * ev.param(fam, l) for l, _, _ in pairs]
        )
        pairs = [(l, g - t, w - t) for (l, g, w), t in zip(pairs, terms)]
    c = sum(np.sum(g * w) for _, g, w in pairs) / max(sum(np.sum(w * w) for _, _, w in pairs), ZERO_FLOOR)
    if not np.isfinite(c) or not all(ev.close(fam, g, c * w) for _, g, w in pairs):
        return None
    return float(c)


def constant_multiple(ev: Evidence) -> list[Diagnosis]:
    """Failing families that are each c times the reference, one diagnosis per distinct c."""
    by_c: list[tuple[float, list[str]]] = []  # [(c, [families])]
    rel = 2 * max(ev.tol(f) for f in EQUATION)  # see readings()
    m, n_L = ev.problem.x.shape[0], ev.problem.spec.sizes[-1]
    for fam in EQUATION:
        if not ev.keys(fam):
            continue
        fits = [c for c in (_fit(ev, fam, False), _fit(ev, fam, True)) if c is not None and abs(c - 1) > rel]
        if not fits:  # (a fit needs usable pairs, so ev.pairs(fam) is a list below)
            continue
        # a single number (the loss) is always some multiple of another: only a named c says anything
        named = [c for c in fits if readings(c, m, n_L, rel)]
        pairs = ev.pairs(fam)
        assert pairs is not None  # see above: a fit needs usable pairs
        scalar = sum(w.size for _, _, w in pairs) == 1
        c = named[0] if named else None if scalar else fits[0]
        if c is None:
            continue
        same = next((fams for c0, fams in by_c if abs(c - c0) <= rel * abs(c0)), None)
        by_c.append((c, [fam])) if same is None else same.append(fam)
    found = []
    for c, fams in by_c:
        label, reading, fix = describe(c, m, n_L, rel)
        what = ", ".join(EQUATION[f] for f in fams)
        where = " in every layer" if set(fams) - {"loss", "losses"} else ""
        found.append(
            Diagnosis(
                "constant_multiple",
                f"{what} {'is' if len(fams) == 1 else 'are'} {label} times the reference's{where}: {reading}",
                fix,
                tuple(ev.keys(*fams)),
                verdict(ev, fams),
            )
        )
    return found
