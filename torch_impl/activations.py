"""Activation functions g and derivatives g' for torch tensors (see reference/activations.py).

relu is a ``z > 0`` mask, so relu'(0) = 0 both here and under autograd (``torch.where`` sends the
gradient only through the selected branch). torch.sigmoid and torch.softmax are overflow-free.
"""

import torch

from .types import Activation


def sigmoid_prime(z: torch.Tensor) -> torch.Tensor:
    s = torch.sigmoid(z)
    return s * (1 - s)


def tanh_prime(z: torch.Tensor) -> torch.Tensor:
    return 1 - torch.tanh(z) ** 2


def relu(z: torch.Tensor) -> torch.Tensor:
    return torch.where(z > 0, z, torch.zeros_like(z))


def relu_prime(z: torch.Tensor) -> torch.Tensor:
    return (z > 0).to(z.dtype)


def identity(z: torch.Tensor) -> torch.Tensor:
    return z


def softmax(z: torch.Tensor) -> torch.Tensor:
    return torch.softmax(z, dim=1)


def sigmoid_prime_from_output(a: torch.Tensor) -> torch.Tensor:
    """σ'(z) = a(1 − a) from a = σ(z): the backward pass reads g' from the cached a^l."""
    return a * (1 - a)


def tanh_prime_from_output(a: torch.Tensor) -> torch.Tensor:
    return 1 - a * a


def relu_prime_from_output(a: torch.Tensor) -> torch.Tensor:
    return (a > 0).to(a.dtype)  # a > 0 exactly where z > 0: relu'(0) = 0 still


# name -> (g, g'); softmax has no elementwise derivative (BP1 handles it, see costs.py).
ACTIVATIONS: dict[str, tuple[Activation, Activation | None]] = {
    "sigmoid": (torch.sigmoid, sigmoid_prime),
    "tanh": (torch.tanh, tanh_prime),
    "relu": (relu, relu_prime),
    "identity": (identity, torch.ones_like),
    "softmax": (softmax, None),
}
# name -> g' as a function of the output a = g(z), so BP1 and BP2 need no second σ.
PRIME_FROM_OUTPUT: dict[str, Activation | None] = {
    "sigmoid": sigmoid_prime_from_output,
    "tanh": tanh_prime_from_output,
    "relu": relu_prime_from_output,
    "identity": torch.ones_like,
    "softmax": None,
}
