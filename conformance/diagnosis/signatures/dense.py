"""Signatures of known bugs in one backward pass: each a small function of the evidence
(diagnose.Evidence) that returns a :class:`Diagnosis` naming the groups it explains, or None.

To add one: write ``def my_bug(ev): ...`` here and list it in diagnose.SIGNATURES where it belongs
(the specific before the general). A signature tests a relation between the implementation's arrays and
the reference's, to the checks' own tolerances, never "roughly": a quantity that is c times the
reference, its transpose, differences confined to the units where z = 0, a difference of exactly λ
times a parameter (or m − 1 times: a term added once per example), a weight gradient that is λW alone,
or the output of a known-bad backprop (perturb.py) in every returned quantity. No comparison matches
a NaN or an Inf on either side (Evidence.close), and every signature takes whatever the implementation
returned (Evidence.pairs reads it defensively; tests/diagnosis/test_diagnose.py draws malformed results).
"""

import math
from dataclasses import replace

import numpy as np

from conformance.diagnosis.evidence import Diagnosis, Evidence, failing_pairs, verdict
from conformance.diagnosis.perturb import PERTURBATIONS
from conformance.tolerances import FLOAT32_SIZED, TOLERANCES, ZERO_FLOOR, tolerance
from reference.network import Gradients

GRADIENT_FAMILIES = ("z", "a", "delta", "dK", "dW", "dU", "db", "loss")  # dU: recurrent layers only


def float32_sized(ev: Evidence) -> Diagnosis | None:
    """float64 in, every failing value at float32 size: computed in float32 somewhere.

    A float64 value rounded to float32 errs relatively by up to u = 2⁻²⁴ ≈ 6e-8, about u/√3 ≈ 3.5e-8
    normwise for uniform rounding; float32 arithmetic cannot do better than the rounding of its
    inputs, so a run whose worst error is below u/8 ≈ 7.5e-9 was not computed in float32 (single
    arrays may be, e.g. ReLU activations that are mostly exact zeros). Above the float32 tolerance
    of the check family the error is more than float32 rounding. Structure or call failures rule it out.
    """
    rels = [r.rel for rs in ev.failing.values() for r in rs]
    if (
        ev.dtype != "float64"
        or not rels
        or not all(math.isfinite(r) for r in rels)
        or any(r.check not in TOLERANCES for rs in ev.failing.values() for r in rs)
    ):
        return None
    worst = max(rels)
    if worst >= FLOAT32_SIZED and all(
        r.rel <= tolerance(r.check, "float32") for rs in ev.failing.values() for r in rs
    ):
        return Diagnosis(
            "float32_sized",
            f"float64 in, float32-sized errors out (rel up to {worst:.0e}): "
            "part of the computation runs in float32 and is cast back",
            "keep the input's dtype throughout: no np.float32 constants or buffers, no "
            "torch.tensor(...)/torch.zeros(...) without dtype=x.dtype (they default to "
            "float32), JAX float64 only inside jax.enable_x64(True)",
            tuple(ev.failing),
        )
    return None


def transposed(ev: Evidence) -> Diagnosis | None:
    """dW^l equal to the reference's transpose (square layers) or shaped (n_{l−1}, n_l)."""
    pairs = failing_pairs(ev, "dW")
    if not pairs or not all(ev.close("dW", g.T, w) for _, g, w in pairs):
        return None
    layers = ", ".join(str(l) for l, _, _ in pairs)
    return Diagnosis(
        "transposed",
        f"∂C/∂W in layer(s) {layers} is the reference's transpose: "
        "(a^{l−1})ᵀ δ^l, shaped (n_{l−1}, n_l) (BP4)",
        "∂C/∂W^l = (1/m)(δ^l)ᵀ a^{l−1} + λW^l, shaped like W^l (n_l, n_{l−1}): W[j, k] "
        "connects unit k of layer l−1 to unit j of layer l",
        tuple(ev.keys("dW")),
    )


def relu_kink(ev: Evidence) -> Diagnosis | None:
    """Differences only on units whose z is exactly 0: ReLU'(0) is not 0. Dense layers and conv
    blocks alike, since a student's one ReLU′ usually serves both (a conv block's δ^l = ∂C/∂h ⊙
    g′(z^l)): a unit is a column of a dense z^l or a channel of a conv z^l, and its ∂b entry and its
    row of ∂W (its kernel ∂K[c]) go with it. Everything outside those units must agree with the
    reference to the check's tolerance, and every value must be finite."""
    if "gradients" not in ev.want:  # no single-pass check ran (an optimizer problem: Problem.kinds)
        return None
    spec, zs = ev.problem.spec, ev.want["gradients"].zs
    c, L = len(getattr(spec, "conv", ()) or ()), len(zs)
    relu = [l for l in range(1, L + 1) if (spec.output if l == L else spec.activation) == "relu"]
    at_zero = {l: zs[l - 1] == 0 for l in relu}  # (m, n_l) dense, (m, C_l, H_l, W_l) conv

    # the axis of the units: columns of a dense z^l, channels of a conv z^l (m, C_l, H_l, W_l), the
    # last axis of a recurrent z^l_t (m, T, n_l)
    axis = -1 if getattr(spec, "recurrent", None) is not None else 1

    def unit(l):  # the units with z exactly 0 in some example, at some position or time step
        return at_zero[l].any(axis=tuple(i for i in range(at_zero[l].ndim) if i != axis % at_zero[l].ndim))

    masks = {
        "delta": lambda l: at_zero[l],
        "db": unit,
        "dW": lambda l: unit(l)[:, None],
        "dU": lambda l: unit(l)[:, None],  # a recurrent unit's row of U^l goes with it, as of W^l
        "dK": lambda l: unit(l)[:, None, None, None],
    }
    explained, layers = [], set()
    for fam, mask in masks.items():
        pairs = failing_pairs(ev, fam)
        if pairs is None:
            continue
        for l, g, w in pairs:
            if l not in relu or g.shape != w.shape or not mask(l).any():
                return None
            # the reference's values at the kinks, the implementation's everywhere else
            if not np.all(np.isfinite(g)) or not ev.close(fam, np.where(mask(l), w, g), w):
                return None
            layers.add(l)
        explained.append(fam)
    if not explained:
        return None
    conv = sorted(l for l in layers if l <= c)
    dense = "g′(z^l) in BP2, and so δ, ∂C/∂b, ∂C/∂W of those units"
    blocks = (
        f"in the conv block(s) l = {', '.join(map(str, conv))}, δ^l = ∂C/∂h ⊙ g′(z^l), and so δ, ∂C/∂K "
        "and ∂C/∂b of those channels (BP3-conv, BP4-conv)"
    )
    where = dense if not conv else blocks if layers <= set(conv) else f"{dense}; {blocks}"
    return Diagnosis(
        "relu_kink",
        f"the differences sit only on units whose z is exactly 0: your ReLU′(0) is not 0 ({where})",
        "ReLU′(z) = 1 where z > 0, else 0: a (z > 0) mask, as torch and jax.nn.relu "
        "(z >= 0, seed 002's convention, or jnp.maximum's ½ differ exactly at 0)"
        + ("; the same ReLU′ in the conv blocks" if conv else ""),
        tuple(ev.keys(*explained)),
    )


def reproduced(
    ev: Evidence, signature: str, hyp: Gradients, cause: str, fix: str, decide: bool = False
) -> Diagnosis | None:
    """A diagnosis if ``hyp`` (what a known-bad backprop returns: a reference.Gradients) gets every
    quantity the implementation returned right to the checks' tolerances; it explains the failing
    ones whose values differ from the reference's (a group failed for its dtype alone, values right,
    is not this bug's doing). None if it gets any one wrong (then it is not this bug) or none was
    failing. ``decide``: the diagnosis says convention or bug (self-consistency), for a bug whose
    gradients may be its own loss's."""
    alt = replace(ev, want={**ev.want, "gradients": hyp})
    explained = []
    for fam in GRADIENT_FAMILIES:
        pairs = alt.pairs(fam)
        if pairs is None:
            continue
        if not all(alt.close(fam, g, h) for _, g, h in pairs):
            return None
        if ev.keys(fam) and failing_pairs(ev, fam):
            explained.append(fam)
    if not explained:
        return None
    return Diagnosis(
        signature, cause, fix, tuple(ev.keys(*explained)), verdict(ev, explained) if decide else ""
    )


def _hypothesis(ev, bug, cause, fix):
    """The implementation returns what the wrong variant ``bug`` of the reference returns
    (perturb.PERTURBATIONS), in every quantity it returns."""
    p = ev.problem
    if getattr(p.spec, "conv", ()) or getattr(p.spec, "recurrent", None) is not None:  # dense networks
        return None
    try:
        hyp = PERTURBATIONS[bug](p.spec, p.params, p.x, p.y)
    except ValueError:  # the bug is impossible here (e.g. W^{l+1}ᵀ in BP2 on non-square layers)
        return None
    return reproduced(ev, bug, hyp, cause, fix)


def output_g_prime(ev: Evidence) -> Diagnosis | None:
    """Differences from δ^L on, by a factor g'(z^L): σ' missing in BP1, or kept where it cancels."""
    spec = ev.problem.spec
    if spec.loss == "quadratic" and spec.output != "identity":
        return _hypothesis(
            ev,
            "missing_sigma_prime_bp1",
            f"δ^L lacks the factor g′(z^L) of the {spec.output} output (BP1): you used ∇_a C_x = a − y alone",
            "for the quadratic cost δ^L = (a^L − y) ⊙ g′(z^L); "
            "only sigmoid + cross-entropy and softmax + log-likelihood cancel g′",
        )
    if spec.loss == "cross_entropy":
        return _hypothesis(
            ev,
            "sigma_prime_with_cross_entropy",
            "δ^L carries a factor σ′(z^L) that the cross-entropy cancels (BP1)",
            "for sigmoid + cross-entropy δ^L = a^L − y exactly (Nielsen ch. 3)",
        )
    return None


def w_not_transposed(ev: Evidence) -> Diagnosis | None:
    return _hypothesis(
        ev,
        "bp2_w_not_transposed",
        "δ^l = (δ^{l+1} W^{l+1}ᵀ) ⊙ g′(z^l): W^{l+1} transposed in BP2 (only square layers let it run)",
        "with examples as rows BP2 is δ^l = (δ^{l+1} W^{l+1}) ⊙ g′(z^l) — Nielsen's "
        "(W^{l+1})ᵀ δ^{l+1} is for columns",
    )


# (family, k) -> (cause, fix) for a difference of exactly k·λ·parameter (k·(λ/2)Σ‖W‖² for the loss);
# k = "m-1" stands for the batch size m less one: the term added once per example instead of once
DECAY = {
    ("dW", -1): ("∂C/∂W lacks the decay term λW^l (BP4)", "add λW^l: C includes (λ/2)Σ_l ‖W^l‖²"),
    ("dW", -2): (
        "the decay term enters BP4 with the wrong sign (−λW^l)",
        "∂C/∂W^l = (1/m)(δ^l)ᵀ a^{l−1} + λW^l",
    ),
    ("dW", 1): (
        "the decay term λW^l is added twice (BP4), e.g. in the gradient and again by "
        "torch.optim.SGD(weight_decay=λ)",
        "add it once",
    ),
    ("dW", "m-1"): (
        "the decay term λW^l is added once per example, m times (m·λW^l in BP4): it sits "
        "inside the loop over the batch's examples",
        "∂C/∂W^l = (1/m)Σ_x δ^l_x (a^{l−1}_x)ᵀ + λW^l: add λW^l once, after the sum over the "
        "examples (or λW^l/m per example)",
    ),
    ("db", 1): (
        "weight decay added to the bias gradient too (λb^l in BP3)",
        "biases are not decayed: ∂C/∂b^l = (1/m)Σ_x δ^l_x",
    ),
    ("loss", -1): (
        "the cost lacks the penalty (λ/2)Σ‖W^l‖²: decay is missing from the loss",
        "C = (1/m)Σ_x C_x + (λ/2)Σ_l ‖W^l‖²",
    ),
    ("loss", 1): (
        "the penalty is counted twice in the cost, or written λΣ‖W‖² without the ½",
        "C = (1/m)Σ_x C_x + (λ/2)Σ_l ‖W^l‖²",
    ),
    ("loss", "m-1"): (
        "the penalty is counted once per example, m times: C = (1/m)Σ_x C_x + "
        "m·(λ/2)Σ_l ‖W^l‖², the penalty line indented into the loop over the examples (as "
        "some Python 3 ports of network2.py's total_cost have it)",
        "add (λ/2)Σ_l ‖W^l‖² once, after the loop over the examples: C = (1/m)Σ_x C_x + (λ/2)Σ_l ‖W^l‖²",
    ),
}


def decay_terms(ev: Evidence) -> Diagnosis | None:
    """Differences equal to k·λ times a parameter, k the same in every layer."""
    lam, params = ev.problem.spec.weight_decay, ev.problem.params
    if lam == 0:
        return None
    m = ev.problem.x.shape[0]
    found = []
    for fam in ("dW", "db", "loss"):
        pairs = ev.pairs(fam) if ev.keys(fam) else None
        if not pairs or any(g.shape != w.shape for _, g, w in pairs):
            continue
        terms = (
            [np.asarray(0.5 * lam * sum(np.sum(w * w) for *weights, _ in params for w in weights))]
            if fam == "loss"
            else [lam * ev.param(fam, l) for l, _, _ in pairs]
        )
        diffs = [g - w for _, g, w in pairs]
        k = sum(np.sum(d * t) for d, t in zip(diffs, terms)) / max(
            sum(np.sum(t * t) for t in terms), ZERO_FLOOR
        )
        # the readings are integers v (m − 1 one of them; the fixed ones first, so that m = 2 reads as
        # "twice"), so a band of 0.1 around the fitted k cannot confuse two; the residual test is what
        # requires the difference to *be* vλθ, to the check's own tolerance. It takes the integer v, not
        # the fitted k: the loss is one number, which a fitted k always reproduces exactly, so only
        # got = want + vλ/2Σ‖W‖² to 1e-11 says anything there (a cost without its ½ read as "the penalty
        # counted twice" where its data term happened to be 1.016 penalties, with the fitted k)
        values = [(key, m - 1 if key[1] == "m-1" else key[1]) for key in DECAY if key[0] == fam]
        reading = next(((key, v) for key, v in values if v != 0 and abs(k - v) <= 0.1), None)
        if reading and all(ev.close(fam, g, w + reading[1] * t) for (_, g, w), t in zip(pairs, terms)):
            found.append((fam, DECAY[reading[0]]))
    if not found:
        return None
    families = [f for f, _ in found]
    return Diagnosis(
        "decay_terms",
        "; ".join(c for _, (c, _) in found),
        "; ".join(f for _, (_, f) in found),
        tuple(ev.keys(*families)),
        verdict(ev, families),
    )


def data_gradient_lost(ev: Evidence) -> Diagnosis | None:
    """∂C/∂W (∂C/∂K) equal to λW (λK) alone in every layer: the data term (1/m)(δ^l)ᵀ a^{l−1} of BP4
    is lost — overwritten (``nabla_w = lam * W`` where ``+=`` was meant), or zeroed before the decay is
    added (torch: ``optimizer.zero_grad()`` between ``loss.backward()`` and ``optimizer.step()`` with
    SGD(weight_decay=λ), which zeroes ∂C/∂b too). With λ = 0 the weight gradients are exactly 0. The
    bias gradients must be the reference's or exactly 0; every layer of the weight families the
    implementation returned must be λθ (not only the failing ones), so a right data term that
    happens to be small cannot be read as lost."""
    lam = ev.problem.spec.weight_decay
    weights = [fam for fam in ("dK", "dW") if ev.keys(fam)]
    if not weights:
        return None
    for fam in ("dK", "dW"):
        pairs = ev.pairs(fam)
        if fam in weights and not pairs:
            return None
        if pairs and not all(ev.close(fam, g, lam * ev.param(fam, l)) for l, g, _ in pairs):
            return None
    explained = list(weights)
    if ev.keys("db"):
        pairs = ev.pairs("db")
        if not pairs or not all(ev.close("db", g, np.zeros_like(w)) for _, g, w in pairs):
            return None
        explained.append("db")
    data = "(1/m)(δ^l)ᵀ a^{l−1}" + (
        " (and BP4-conv's correlation of δ^l with a^{l−1})" if "dK" in weights else ""
    )
    what = "0 (λW^l alone, and λ = 0 here)" if lam == 0 else "λW^l alone"
    bias = "; ∂C/∂b is 0 too" if "db" in explained else ""
    return Diagnosis(
        "data_gradient_lost",
        f"∂C/∂W is {what} in every layer: BP4's data term {data} is lost "
        f"(overwritten by the decay term, or zeroed before it was added){bias}",
        "∂C/∂W^l = (1/m)(δ^l)ᵀ a^{l−1} + λW^l: add λW^l to the data term (+=, not =), and "
        "read the gradients after backward, before anything zeroes them (torch: "
        "zero_grad() before backward(), never between backward() and step())",
        tuple(ev.keys(*explained)),
        verdict(ev, explained),
    )


def bias_only(ev: Evidence) -> Diagnosis | None:
    """∂C/∂b wrong while ∂C/∂W (∂C/∂K) is right: BP3 alone (BP3-conv for a conv block's bias)."""
    if not ev.keys("db") or ev.keys("dK", "dW", "delta"):
        return None
    c = len(getattr(ev.problem.spec, "conv", ()) or ())
    fix = "∂C/∂b^l = (1/m)Σ_x δ^l_x, shape (n_l,): the mean of δ^l over the batch axis (axis 0), no decay"
    if any(r.layer is not None and r.layer <= c for k in ev.keys("db") for r in ev.failing[k]):
        fix += (
            "; a conv block's bias is shared by all its positions: ∂C/∂b^l[c] = (1/m)Σ_x Σ_{i,j} "
            "δ^l_x[c,i,j] (BP3-conv), shape (C_l,)"
        )
    return Diagnosis(
        "bias_only",
        "only ∂C/∂b is wrong while ∂C/∂W (and δ, if returned) is right: BP3 alone",
        fix,
        tuple(ev.keys("db")),
        verdict(ev, ["db"]),
    )
