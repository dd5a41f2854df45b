"""The per-example baseline: Nielsen's network.py (seed 004), one example at a time.

Column vectors, an inner loop over the examples of each mini-batch, gradients summed and applied
with η/m — exactly the shape of ``update_mini_batch`` and ``backprop`` in seed 004 (with its typos
fixed), sigmoid and quadratic cost only. The benchmark's ratios are measured against this.
"""

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


def backprop(weights, biases, x, y):
    nabla_b = [np.zeros(b.shape) for b in biases]
    nabla_w = [np.zeros(w.shape) for w in weights]
    activation, activations, zs = x, [x], []
    for b, w in zip(biases, weights):
        z = np.dot(w, activation) + b
        zs.append(z)
        activation = sigmoid(z)
        activations.append(activation)
    delta = (activations[-1] - y) * sigmoid_prime(zs[-1])
    nabla_b[-1] = delta
    nabla_w[-1] = np.dot(delta, activations[-2].transpose())
    for l in range(2, len(weights) + 1):
        delta = np.dot(weights[-l + 1].transpose(), delta) * sigmoid_prime(zs[-l])
        nabla_b[-l] = delta
        nabla_w[-l] = np.dot(delta, activations[-l - 1].transpose())
    return nabla_b, nabla_w


def update_mini_batch(weights, biases, mini_batch, eta):
    nabla_b = [np.zeros(b.shape) for b in biases]
    nabla_w = [np.zeros(w.shape) for w in weights]
    for x, y in mini_batch:
        delta_nabla_b, delta_nabla_w = backprop(weights, biases, x, y)
        nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
        nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
    weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(weights, nabla_w)]
    biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(biases, nabla_b)]
    return weights, biases


def train(params, x, y, *, lr, batches):
    """Our (W, b) rows-as-examples data in, Nielsen's column vectors inside; returns (W, b)."""
    weights = [W.copy() for W, _ in params]
    biases = [b[:, None].copy() for _, b in params]
    data = [(x[i][:, None], y[i][:, None]) for i in range(len(x))]
    for idx in batches:
        weights, biases = update_mini_batch(weights, biases, [data[i] for i in idx], lr)
    return [(W, b[:, 0]) for W, b in zip(weights, biases)]
