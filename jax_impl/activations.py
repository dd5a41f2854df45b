"""Activation functions g and derivatives g' for jax.numpy arrays (see reference/activations.py).

relu is a ``z > 0`` mask, never ``jnp.maximum`` (whose gradient at exactly 0 is 0.5): with the mask,
relu'(0) = 0 both in the hand-written derivative and under jax.grad, as with jax.nn.relu.
"""

import jax
import jax.numpy as jnp


def sigmoid_prime(z):
    s = jax.nn.sigmoid(z)
    return s * (1 - s)


def tanh_prime(z):
    return 1 - jnp.tanh(z) ** 2


def relu(z):
    return jnp.where(z > 0, z, jnp.zeros_like(z))


def relu_prime(z):
    return (z > 0).astype(z.dtype)


def identity(z):
    return z


def softmax(z):
    return jax.nn.softmax(z, axis=1)


# name -> (g, g'); softmax has no elementwise derivative (BP1 handles it, see costs.py).
ACTIVATIONS = {
    "sigmoid": (jax.nn.sigmoid, sigmoid_prime),
    "tanh": (jnp.tanh, tanh_prime),
    "relu": (relu, relu_prime),
    "identity": (identity, jnp.ones_like),
    "softmax": (softmax, None),
}
