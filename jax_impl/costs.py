"""Per-example costs C_x and the BP1 output error for jax.numpy arrays (see reference/costs.py).

The log costs are computed from the logits z^L (softplus, log_softmax), never as ln(a).
"""

import jax
import jax.numpy as jnp

from .types import Activation

PAIRINGS: dict[str, str | None] = {"quadratic": None, "cross_entropy": "sigmoid", "log_likelihood": "softmax"}


def cost(name: str, z: jax.Array, a: jax.Array, y: jax.Array) -> jax.Array:
    """C_x for every example: (m, n_L) in, (m,) out."""
    if name == "quadratic":
        return 0.5 * jnp.sum((a - y) ** 2, axis=1)  # ½‖a − y‖²
    if name == "cross_entropy":
        return jnp.sum(jax.nn.softplus(z) - y * z, axis=1)  # −[y ln σ(z) + (1−y) ln(1−σ(z))]
    if name == "log_likelihood":
        return -jnp.sum(y * jax.nn.log_softmax(z, axis=1), axis=1)
    raise ValueError(f"loss: unknown cost {name!r}; expected one of {sorted(PAIRINGS)}")


def output_error(
    name: str, z: jax.Array, a: jax.Array, y: jax.Array, g_prime: Activation | None
) -> jax.Array:
    """BP1: δ^L = ∇_a C_x ⊙ g'(z^L); a − y for sigmoid+cross_entropy and softmax+log_likelihood."""
    if g_prime is None:  # softmax has no elementwise g'; its one cost, log_likelihood, cancels it
        if name == "quadratic":
            raise TypeError("g_prime: the quadratic cost's δ^L needs g'(z^L), got None")
        return a - y
    nabla_a = a - y  # BP-out ∇_a C_x for ½‖a − y‖²; for the log costs ∇_a C_x ⊙ g' cancels to a − y
    return nabla_a * g_prime(z) if name == "quadratic" else nabla_a  # BP-out
