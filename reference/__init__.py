"""The NumPy reference: forward pass, backprop (BP1–BP4, conv blocks, and backprop through time for
recurrent layers: recurrent.py), SGD, the optimizers
(momentum, Nesterov, RMSprop, Adam, AdamW, Adagrad, schedules, clipping) and a finite-difference check.

NumPy and the standard library only; copy this folder into a project and it runs.
"""

from .activations import ACTIVATIONS, HIDDEN_ACTIVATIONS
from .conv import conv_shapes
from .costs import PAIRINGS
from .gradcheck import gradcheck, numerical_gradient
from .network import Gradients, backprop, feedforward
from .optimizers import init_state, step
from .training import Trajectory, accuracy, batch_order, init_params, rng_from, sgd_step, train
from .validation import OPTIMIZERS, check_optimizer, check_schedule, one_hot

__all__ = [
    "ACTIVATIONS",
    "HIDDEN_ACTIVATIONS",
    "OPTIMIZERS",
    "PAIRINGS",
    "Gradients",
    "Trajectory",
    "accuracy",
    "backprop",
    "batch_order",
    "check_optimizer",
    "check_schedule",
    "conv_shapes",
    "feedforward",
    "gradcheck",
    "init_params",
    "init_state",
    "numerical_gradient",
    "one_hot",
    "rng_from",
    "sgd_step",
    "step",
    "train",
]
