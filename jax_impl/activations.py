"""Activation functions g and derivatives g' for jax.numpy arrays (see reference/activations.py).

relu is a ``z > 0`` mask, never ``jnp.maximum`` (whose gradient at exactly 0 is 0.5): with the mask,
relu'(0) = 0 both in the hand-written derivative and under jax.grad, as with jax.nn.relu.
"""

import jax
import jax.numpy as jnp

from .types import Activation


def sigmoid_prime(z: jax.Array) -> jax.Array:
    s = jax.nn.sigmoid(z)
    return s * (1 - s)


def tanh_prime(z: jax.Array) -> jax.Array:
    return 1 - jnp.tanh(z) ** 2


def relu(z: jax.Array) -> jax.Array:
    return jnp.where(z > 0, z, jnp.zeros_like(z))


def relu_prime(z: jax.Array) -> jax.Array:
    return (z > 0).astype(z.dtype)


def identity(z: jax.Array) -> jax.Array:
    return z


def softmax(z: jax.Array) -> jax.Array:
    return jax.nn.softmax(z, axis=1)


# name -> (g, g'); softmax has no elementwise derivative (BP1 handles it, see costs.py).
ACTIVATIONS: dict[str, tuple[Activation, Activation | None]] = {
    "sigmoid": (jax.nn.sigmoid, sigmoid_prime),
    "tanh": (jnp.tanh, tanh_prime),
    "relu": (relu, relu_prime),
    "identity": (identity, jnp.ones_like),
    "softmax": (softmax, None),
}
