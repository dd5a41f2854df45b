"""Per-example costs C_x and the output error ∇_a C_x ⊙ g'(z^L) that starts BP1 (NumPy).

``cost(name, z, a, y)`` returns C_x for each row (shape ``(m,)``); the batch cost averages them
(docs/contract.md: C = (1/m) Σ_x C_x + (λ/2) Σ_l ‖W^l‖²).

- ``quadratic``     C_x = ½‖a − y‖²                       any output activation but softmax
- ``cross_entropy`` C_x = −Σ_j [y_j ln a_j + (1 − y_j) ln(1 − a_j)]   sigmoid output only
- ``log_likelihood`` C_x = −Σ_j y_j ln a_j                softmax output only

The two log costs are evaluated from the logits z^L, not from a^L: ln σ(z) and ln softmax(z) are
finite for every finite z, whereas ln(a) is ln(0) = −inf once a saturates.
"""

import numpy as np

from .types import Activation, FloatArray

# cost name -> the output activation it requires (None: any output activation except softmax).
PAIRINGS: dict[str, str | None] = {"quadratic": None, "cross_entropy": "sigmoid", "log_likelihood": "softmax"}


def softplus(z: FloatArray) -> FloatArray:
    """ln(1 + e^z) without overflow: max(z, 0) + ln(1 + e^{-|z|})."""
    return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def cost(name: str, z: FloatArray, a: FloatArray, y: FloatArray) -> FloatArray:
    """C_x for every example: arrays (m, n_L) in, (m,) out."""
    if name == "quadratic":
        return 0.5 * np.sum((a - y) ** 2, axis=1)
    if name == "cross_entropy":
        # −[y ln σ(z) + (1−y) ln(1−σ(z))] = softplus(z) − y z  (ln σ(z) = −softplus(−z)).
        return np.sum(softplus(z) - y * z, axis=1)
    if name == "log_likelihood":
        # ln softmax(z)_j = z_j − logsumexp(z), with the max subtracted for finiteness.
        zmax = z.max(axis=1, keepdims=True)
        log_a = z - zmax - np.log(np.sum(np.exp(z - zmax), axis=1, keepdims=True))
        return -np.sum(y * log_a, axis=1)
    raise ValueError(f"loss: unknown cost {name!r}; expected one of {sorted(PAIRINGS)}")


def output_error(name: str, a: FloatArray, y: FloatArray, g_prime: Activation | None) -> FloatArray:
    """δ^L = ∇_a C_x ⊙ g'(z^L) (BP1), per example, shape (m, n_L); ``g_prime`` gives g'(z^L) from the
    output a = g(z^L) (activations.PRIME_FROM_OUTPUT), so σ is not evaluated again.

    For sigmoid + cross_entropy and softmax + log_likelihood the σ' (or softmax Jacobian) cancels
    against ∇_a C_x and δ^L = a − y exactly (Nielsen ch. 3; seed 004), so it is written that way.
    """
    if name not in PAIRINGS:
        raise ValueError(f"loss: unknown cost {name!r}; expected one of {sorted(PAIRINGS)}")
    if g_prime is None:  # softmax has no elementwise g'; its one cost, log_likelihood, cancels it
        if name == "quadratic":
            raise TypeError("g_prime: the quadratic cost's δ^L needs g'(z^L), got None")
        return a - y
    nabla_a = a - y  # BP-out ∇_a C_x for ½‖a − y‖²; for the log costs ∇_a C_x ⊙ g' cancels to a − y
    return nabla_a * g_prime(a) if name == "quadratic" else nabla_a  # BP-out g'(z^L) read from a^L
