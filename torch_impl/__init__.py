"""PyTorch ports of the reference: manual (BP1–BP4 by hand), autograd, and an nn.Module template;
optimizers: the hand-written update rules manual and autograd train with (torch.optim in the template).
Recurrent (Elman) specs: manual runs backprop through time by hand (recurrent.py), autograd through
its forward loop over time, the template with nn.RNN (tanh and relu cells only).

torch and the standard library only. Every function takes tensors of the caller's dtype
(float32 or float64) and device; none changes a global torch setting.
"""

from . import autograd, manual, module, optimizers
from .training import Gradients, Trajectory

__all__ = ["Gradients", "Trajectory", "autograd", "manual", "module", "optimizers"]
