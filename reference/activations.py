"""Activation functions g and their derivatives g' (NumPy).

Every function maps an array of weighted inputs ``z`` (any shape) to an array of the same shape and
dtype. The derivative is what BP1 and BP2 multiply by (the ``sigma_prime(z)`` of Nielsen's
``network.py``, seed 004); softmax has no elementwise derivative, so it is only allowed as the output
activation paired with the ``log_likelihood`` cost, where BP1 collapses to ``a - y`` (see costs.py).

Conventions fixed by docs/contract.md:
- ``relu'(0) = 0``, written as a ``z > 0`` mask, as torch and ``jax.nn.relu`` do. Seed 002 writes
  ``g'(s) = 1 for s >= 0``; ``np.maximum`` would be differentiated as 0.5 at 0 by some autodiff systems.
- ``sigmoid`` never overflows: ``exp`` only ever sees ``-|z|``, so ``sigmoid(±1000)`` is exactly 1 / 0
  without a RuntimeWarning.
"""

import numpy as np


def sigmoid(z):
    """σ(z) = 1 / (1 + e^{-z}), evaluated through e^{-|z|} ∈ (0, 1] so that nothing overflows:
    for z < 0, σ(z) = e^{z} / (1 + e^{z}) = e · σ(|z|)."""
    e = np.exp(-np.abs(z))
    s = 1 / (1 + e)  # σ(|z|)
    return np.where(z >= 0, s, e * s)


def sigmoid_prime(z):
    """σ'(z) = σ(z)(1 − σ(z)) (seed 000: f(u)(1 − f(u)))."""
    s = sigmoid(z)
    return s * (1 - s)


def tanh(z):
    return np.tanh(z)


def tanh_prime(z):
    """tanh'(z) = 1 − tanh²(z)."""
    return 1 - np.tanh(z) ** 2


def relu(z):
    """max(z, 0), written with the same mask as its derivative."""
    return np.where(z > 0, z, np.zeros_like(z))


def relu_prime(z):
    """1 where z > 0, else 0: relu'(0) = 0 by convention (torch, jax.nn.relu)."""
    return (z > 0).astype(z.dtype)


def identity(z):
    return z


def identity_prime(z):
    return np.ones_like(z)


def softmax(z):
    """Row-wise softmax of z (m, n): exp(z − max z) / Σ exp(z − max z), finite for any finite z."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# name -> (g, g'); g' is None where no elementwise derivative exists (softmax: handled in BP1).
ACTIVATIONS = {
    "sigmoid": (sigmoid, sigmoid_prime),
    "tanh": (tanh, tanh_prime),
    "relu": (relu, relu_prime),
    "identity": (identity, identity_prime),
    "softmax": (softmax, None),
}
HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity")
