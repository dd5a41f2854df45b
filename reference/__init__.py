"""The NumPy reference: forward pass, backprop (BP1–BP4, and conv blocks), SGD and a finite-difference
check.

NumPy and the standard library only; copy this folder into a project and it runs.
"""

from .activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
from .conv import conv_shapes
from .costs import PAIRINGS
from .gradcheck import gradcheck, numerical_gradient
from .network import Gradients, backprop, feedforward
from .training import Trajectory, accuracy, batch_order, init_params, rng_from, sgd_step, train
from .validation import one_hot

__all__ = [
    "ACTIVATIONS",
    "HIDDEN_ACTIVATIONS",
    "PAIRINGS",
    "Gradients",
    "Trajectory",
    "accuracy",
    "backprop",
    "batch_order",
    "conv_shapes",
    "feedforward",
    "gradcheck",
    "init_params",
    "numerical_gradient",
    "one_hot",
    "rng_from",
    "sgd_step",
    "train",
]
