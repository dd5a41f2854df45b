"""Per-example costs C_x and the BP1 output error for torch tensors (see reference/costs.py).

The log costs are computed from the logits z^L with torch's overflow-free primitives, never as
ln(a): binary_cross_entropy_with_logits for cross_entropy, log_softmax for log_likelihood.
"""

import torch
import torch.nn.functional as F

from .types import Activation

PAIRINGS: dict[str, str | None] = {"quadratic": None, "cross_entropy": "sigmoid", "log_likelihood": "softmax"}


def cost(name: str, z: torch.Tensor, a: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """C_x for every example: (m, n_L) in, (m,) out."""
    if name == "quadratic":
        return 0.5 * torch.sum((a - y) ** 2, dim=1)  # ½‖a − y‖²
    if name == "cross_entropy":
        return F.binary_cross_entropy_with_logits(z, y, reduction="none").sum(dim=1)
    if name == "log_likelihood":
        return -torch.sum(y * torch.log_softmax(z, dim=1), dim=1)
    raise ValueError(f"loss: unknown cost {name!r}; expected one of {sorted(PAIRINGS)}")


def output_error(name: str, a: torch.Tensor, y: torch.Tensor, g_prime: Activation | None) -> torch.Tensor:
    """BP1: δ^L = ∇_a C_x ⊙ g'(z^L), g' read from a = g(z^L); a − y for sigmoid+cross_entropy and
    softmax+log_likelihood."""
    if g_prime is None:  # softmax has no elementwise g'; its one cost, log_likelihood, cancels it
        if name == "quadratic":
            raise TypeError("g_prime: the quadratic cost's δ^L needs g'(z^L), got None")
        return a - y
    nabla_a = a - y  # BP-out ∇_a C_x for ½‖a − y‖²; for the log costs ∇_a C_x ⊙ g' cancels to a − y
    return nabla_a * g_prime(a) if name == "quadratic" else nabla_a  # BP-out g'(z^L) read from a^L
