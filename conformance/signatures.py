"""Signatures of known bugs in one backward pass: each a small function of the evidence
(diagnose.Evidence) that returns a :class:`Diagnosis` naming the groups it explains, or None.

To add one: write ``def my_bug(ev): ...`` here and list it in diagnose.SIGNATURES where it belongs
(the specific before the general). A signature tests a relation between the implementation's arrays and
the reference's, to the checks' own tolerances, never "roughly": a quantity that is c times the
reference, its transpose, differences confined to the units where z = 0, a difference of exactly λ
times a parameter, or the output of a known-bad backprop (mutants.py) in every returned quantity.
"""

import math

import numpy as np

from .evidence import Diagnosis, failing_pairs, verdict
from .mutants import Mutant
from .tolerances import ZERO_FLOOR, tolerance

GRADIENT_FAMILIES = ("z", "a", "delta", "dW", "db", "loss")


def float32_sized(ev):
    """float64 in, every failing value at float32 size: computed in float32 somewhere.

    A float64 value rounded to float32 errs relatively by up to u = 2⁻²⁴ ≈ 6e-8, about u/√3 ≈ 3.5e-8
    normwise for uniform rounding; float32 arithmetic cannot do better than the rounding of its
    inputs, so a run whose worst error is below u/8 ≈ 7.5e-9 was not computed in float32 (single
    arrays may be, e.g. ReLU activations that are mostly exact zeros). Above the float32 tolerance
    of the check family the error is more than float32 rounding. Structure or call failures rule it out.
    """
    rels = [r.rel for rs in ev.failing.values() for r in rs]
    if ev.dtype != "float64" or any(math.isnan(r) for r in rels):
        return None
    worst = max(rels)
    if worst >= 2.0**-24 / 8 and all(r.rel <= tolerance(r.check, "float32")
                                     for rs in ev.failing.values() for r in rs):
        return Diagnosis("float32_sized", f"float64 in, float32-sized errors out (rel up to {worst:.0e}): "
                         "part of the computation runs in float32 and is cast back",
                         "keep the input's dtype throughout: no np.float32 constants or buffers, no "
                         "torch.tensor(...)/torch.zeros(...) without dtype=x.dtype (they default to "
                         "float32), JAX float64 only inside jax.enable_x64(True)", tuple(ev.failing))
    return None


def transposed(ev):
    """dW^l equal to the reference's transpose (square layers) or shaped (n_{l−1}, n_l)."""
    pairs = failing_pairs(ev, "dW")
    if not pairs or not all(ev.close("dW", g.T, w) for _, g, w in pairs):
        return None
    layers = ", ".join(str(l) for l, _, _ in pairs)
    return Diagnosis("transposed", f"∂C/∂W in layer(s) {layers} is the reference's transpose: "
                     "(a^{l−1})ᵀ δ^l, shaped (n_{l−1}, n_l) (BP4)",
                     "∂C/∂W^l = (1/m)(δ^l)ᵀ a^{l−1} + λW^l, shaped like W^l (n_l, n_{l−1}): W[j, k] "
                     "connects unit k of layer l−1 to unit j of layer l",
                     tuple(ev.keys("dW")))


def relu_kink(ev):
    """Differences only on units whose z is exactly 0: ReLU'(0) is not 0."""
    spec, zs = ev.problem.spec, ev.want["gradients"].zs
    relu = [l for l in range(1, len(zs) + 1)  # dense layers (conv z^l are 4-D: not read here)
            if (spec.output if l == len(zs) else spec.activation) == "relu" and zs[l - 1].ndim == 2]
    at_zero = {l: zs[l - 1] == 0 for l in relu}
    masks = {"delta": lambda l: at_zero[l], "db": lambda l: at_zero[l].any(axis=0),
             "dW": lambda l: at_zero[l].any(axis=0)[:, None]}
    explained = []
    for fam, mask in masks.items():
        pairs = failing_pairs(ev, fam)
        if pairs is None:
            continue
        for l, g, w in pairs:
            if l not in relu or g.shape != w.shape or not mask(l).any():
                return None
            outside = np.where(mask(l), 0.0, g - w)
            if np.linalg.norm(outside) > ev.tol(fam) * max(np.linalg.norm(w), ZERO_FLOOR):
                return None
        explained.append(fam)
    if not explained:
        return None
    return Diagnosis("relu_kink", "the differences sit only on units whose z is exactly 0: your ReLU′(0) "
                     "is not 0 (g′(z^l) in BP2, and so δ, ∂C/∂b, ∂C/∂W of those units)",
                     "ReLU′(z) = 1 where z > 0, else 0: a (z > 0) mask, as torch and jax.nn.relu "
                     "(z >= 0, seed 002's convention, or jnp.maximum's ½ differ exactly at 0)",
                     tuple(ev.keys(*explained)))


def _hypothesis(ev, bug, cause, fix):
    """The implementation returns what the mutant ``bug`` returns, in every quantity it returns."""
    p = ev.problem
    if getattr(p.spec, "conv", ()):  # the mutants are dense networks
        return None
    try:
        hyp = Mutant(bug).gradients(p.spec, p.params, p.x, p.y)
    except ValueError:  # the bug is impossible here (e.g. W where W.T is needed, non-square)
        return None
    explained = []
    for fam in GRADIENT_FAMILIES:
        pairs = ev.pairs(fam)
        if fam == "loss":
            hyp_arrays = [np.asarray(hyp.loss)]
        else:
            hyp_arrays = ([d for pair in hyp.grads for d in pair][fam == "db"::2] if fam in ("dW", "db")
                          else getattr(hyp, {"z": "zs", "a": "activations", "delta": "deltas"}[fam]))
        if pairs is None:
            continue
        matches = all(ev.close(fam, g, h) for (_, g, _), h in zip(pairs, hyp_arrays))
        if ev.keys(fam) and matches:
            explained.append(fam)
        elif not matches:
            return None  # a quantity the hypothesis gets wrong: not this bug
    if not explained:
        return None
    return Diagnosis(bug, cause, fix, tuple(ev.keys(*explained)))


def output_g_prime(ev):
    """Differences from δ^L on, by a factor g'(z^L): σ' missing in BP1, or kept where it cancels."""
    spec = ev.problem.spec
    if spec.loss == "quadratic" and spec.output != "identity":
        return _hypothesis(ev, "missing_sigma_prime_bp1",
                           f"δ^L lacks the factor g′(z^L) of the {spec.output} output (BP1): you used "
                           "∇_a C_x = a − y alone", "for the quadratic cost δ^L = (a^L − y) ⊙ g′(z^L); "
                           "only sigmoid + cross-entropy and softmax + log-likelihood cancel g′")
    if spec.loss == "cross_entropy":
        return _hypothesis(ev, "sigma_prime_with_cross_entropy",
                           "δ^L carries a factor σ′(z^L) that the cross-entropy cancels (BP1)",
                           "for sigmoid + cross-entropy δ^L = a^L − y exactly (Nielsen ch. 3)")
    return None


def w_not_transposed(ev):
    return _hypothesis(ev, "bp2_w_not_transposed", "δ^l = (δ^{l+1} W^{l+1}ᵀ) ⊙ g′(z^l): W^{l+1} "
                       "transposed in BP2 (only square layers let it run)",
                       "with examples as rows BP2 is δ^l = (δ^{l+1} W^{l+1}) ⊙ g′(z^l) — Nielsen's "
                       "(W^{l+1})ᵀ δ^{l+1} is for columns")


# (family, k) -> (cause, fix) for a difference of exactly k·λ·parameter (k·(λ/2)Σ‖W‖² for the loss)
DECAY = {
    ("dW", -1): ("∂C/∂W lacks the decay term λW^l (BP4)", "add λW^l: C includes (λ/2)Σ_l ‖W^l‖²"),
    ("dW", -2): ("the decay term enters BP4 with the wrong sign (−λW^l)",
                 "∂C/∂W^l = (1/m)(δ^l)ᵀ a^{l−1} + λW^l"),
    ("dW", 1): ("the decay term λW^l is added twice (BP4), e.g. in the gradient and again by "
                "torch.optim.SGD(weight_decay=λ)", "add it once"),
    ("db", 1): ("weight decay added to the bias gradient too (λb^l in BP3)",
                "biases are not decayed: ∂C/∂b^l = (1/m)Σ_x δ^l_x"),
    ("loss", -1): ("the cost lacks the penalty (λ/2)Σ‖W^l‖²: decay is missing from the loss",
                   "C = (1/m)Σ_x C_x + (λ/2)Σ_l ‖W^l‖²"),
    ("loss", 1): ("the penalty is counted twice in the cost, or written λΣ‖W‖² without the ½",
                  "C = (1/m)Σ_x C_x + (λ/2)Σ_l ‖W^l‖²"),
}


def decay_terms(ev):
    """Differences equal to k·λ times a parameter, k the same in every layer."""
    lam, params = ev.problem.spec.weight_decay, ev.problem.params
    if lam == 0:
        return None
    found = []
    for fam in ("dW", "db", "loss"):
        pairs = ev.pairs(fam) if ev.keys(fam) else None
        if not pairs or any(g.shape != w.shape for _, g, w in pairs):
            continue
        terms = ([np.asarray(0.5 * lam * sum(np.sum(W * W) for W, _ in params))] if fam == "loss"
                 else [lam * ev.param(fam, l) for l, _, _ in pairs])
        diffs = [g - w for _, g, w in pairs]
        k = (sum(np.sum(d * t) for d, t in zip(diffs, terms))
             / max(sum(np.sum(t * t) for t in terms), ZERO_FLOOR))
        # the readings are integers k, so a band of 0.1 cannot confuse two; the residual test below
        # is what requires the difference to *be* kλθ, to the check's own tolerance
        reading = next((key for key in DECAY if key[0] == fam and abs(k - key[1]) <= 0.1), None)
        if reading and all(ev.close(fam, g, w + k * t) for (_, g, w), t in zip(pairs, terms)):
            found.append((fam, DECAY[reading]))
    if not found:
        return None
    families = [f for f, _ in found]
    return Diagnosis("decay_terms", "; ".join(c for _, (c, _) in found), "; ".join(f for _, (_, f) in found),
                     tuple(ev.keys(*families)), verdict(ev, families))


def bias_only(ev):
    """∂C/∂b wrong while ∂C/∂W is right: BP3 alone."""
    if not ev.keys("db") or ev.keys("dK", "dW", "delta"):
        return None
    return Diagnosis("bias_only", "only ∂C/∂b is wrong while ∂C/∂W (and δ, if returned) is right: BP3 "
                     "alone", "∂C/∂b^l = (1/m)Σ_x δ^l_x, shape (n_l,): the mean of δ^l over the batch "
                     "axis (axis 0), no decay", tuple(ev.keys("db")), verdict(ev, ["db"]))
