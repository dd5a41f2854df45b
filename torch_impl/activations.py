"""Activation functions g and derivatives g' for torch tensors (see reference/activations.py).

relu is a ``z > 0`` mask, so relu'(0) = 0 both here and under autograd (``torch.where`` sends the
gradient only through the selected branch). torch.sigmoid and torch.softmax are overflow-free.
"""

import torch


def sigmoid_prime(z):
    s = torch.sigmoid(z)
    return s * (1 - s)


def tanh_prime(z):
    return 1 - torch.tanh(z) ** 2


def relu(z):
    return torch.where(z > 0, z, torch.zeros_like(z))


def relu_prime(z):
    return (z > 0).to(z.dtype)


def identity(z):
    return z


def softmax(z):
    return torch.softmax(z, dim=1)


# name -> (g, g'); softmax has no elementwise derivative (BP1 handles it, see costs.py).
ACTIVATIONS = {
    "sigmoid": (torch.sigmoid, sigmoid_prime),
    "tanh": (torch.tanh, tanh_prime),
    "relu": (relu, relu_prime),
    "identity": (identity, torch.ones_like),
    "softmax": (softmax, None),
}
