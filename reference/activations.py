"""Activation functions g and their derivatives g' (NumPy).

Every function maps an array of weighted inputs ``z`` (any shape) to an array of the same shape and
dtype. The derivative is what BP1 and BP2 multiply by (the ``sigma_prime(z)`` of Nielsen's
``network.py``, seed 004); softmax has no elementwise derivative, so it is only allowed as the output
activation paired with the ``log_likelihood`` cost, where BP1 collapses to ``a - y`` (see costs.py).

Conventions fixed by docs/contract.md:
- ``relu'(0) = 0``, written as a ``z > 0`` mask, as torch and ``jax.nn.relu`` do. Seed 002 writes
  ``g'(s) = 1 for s >= 0``; ``np.maximum`` would be differentiated as 0.5 at 0 by some autodiff systems.
- ``sigmoid(±1000)`` is exactly 1 / 0 without a RuntimeWarning.

Speed (issue 15): BP1 and BP2 need g'(z^l) at the z^l whose a^l = g(z^l) the forward pass already
holds, and for every hidden activation g' is a function of a alone (σ' = a(1 − a), tanh' = 1 − a²,
relu' = [a > 0], identity' = 1). ``PRIME_FROM_OUTPUT`` gives those, so the backward pass reads g'
from the cached a^l instead of evaluating σ a second time. ``ACTIVATIONS``' g'(z) stays for the
places that only have z (a pooled conv block, where a^l is not g(z^l)).
"""

import numpy as np

from .types import Activation, FloatArray


def sigmoid(z: FloatArray) -> FloatArray:
    """σ(z) = 1 / (1 + e^{-z}). For z < -709, e^{-z} overflows to inf and 1 / (1 + inf) = 0 is the
    correctly rounded σ(z), so that overflow is expected and silenced; four ufunc passes on one
    buffer, because at mini-batch 10 the per-call overhead is what costs."""
    with np.errstate(over="ignore"):
        e = np.exp(-z)  # e^{-z}, inf for z < -709
    e += 1
    return np.reciprocal(e, out=e)


def sigmoid_prime(z: FloatArray) -> FloatArray:
    """σ'(z) = σ(z)(1 − σ(z)) (seed 000: f(u)(1 − f(u)))."""
    s = sigmoid(z)
    return s * (1 - s)


def tanh(z: FloatArray) -> FloatArray:
    return np.tanh(z)


def tanh_prime(z: FloatArray) -> FloatArray:
    """tanh'(z) = 1 − tanh²(z)."""
    return 1 - np.tanh(z) ** 2


def relu(z: FloatArray) -> FloatArray:
    """max(z, 0), written with the same mask as its derivative."""
    return np.where(z > 0, z, np.zeros_like(z))


def relu_prime(z: FloatArray) -> FloatArray:
    """1 where z > 0, else 0: relu'(0) = 0 by convention (torch, jax.nn.relu)."""
    return (z > 0).astype(z.dtype)


def identity(z: FloatArray) -> FloatArray:
    return z


def identity_prime(z: FloatArray) -> FloatArray:
    return np.ones_like(z)


def sigmoid_prime_from_output(a: FloatArray) -> FloatArray:
    """σ'(z) = σ(z)(1 − σ(z)) = a(1 − a), from a = σ(z) (seed 000's f(u)(1 − f(u)))."""
    return a * (1 - a)


def tanh_prime_from_output(a: FloatArray) -> FloatArray:
    """tanh'(z) = 1 − tanh²(z) = 1 − a²."""
    return 1 - a * a


def relu_prime_from_output(a: FloatArray) -> FloatArray:
    """[z > 0] = [a > 0], since a = max(z, 0) is positive exactly where z is: relu'(0) = 0 still."""
    return (a > 0).astype(a.dtype)


def softmax(z: FloatArray) -> FloatArray:
    """Row-wise softmax of z (m, n): exp(z − max z) / Σ exp(z − max z), finite for any finite z."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# name -> (g, g'); g' is None where no elementwise derivative exists (softmax: handled in BP1).
ACTIVATIONS: dict[str, tuple[Activation, Activation | None]] = {
    "sigmoid": (sigmoid, sigmoid_prime),
    "tanh": (tanh, tanh_prime),
    "relu": (relu, relu_prime),
    "identity": (identity, identity_prime),
    "softmax": (softmax, None),
}
HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "identity")
# name -> g' written as a function of the output a = g(z) (softmax: see costs.py, as above).
PRIME_FROM_OUTPUT: dict[str, Activation | None] = {
    "sigmoid": sigmoid_prime_from_output,
    "tanh": tanh_prime_from_output,
    "relu": relu_prime_from_output,
    "identity": np.ones_like,
    "softmax": None,
}
