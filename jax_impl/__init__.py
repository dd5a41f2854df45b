"""JAX ports of the reference: manual (BP1–BP4 with jax.numpy), autodiff (jax.value_and_grad),
and training step by step or compiled whole with jax.lax.scan, by plain SGD or by an optimizer
(optimizers.py: clipping, momentum, Nesterov, RMSprop, Adam, AdamW, Adagrad, schedules). Recurrent
(Elman) networks, ``spec.recurrent`` set, are backprop through time (recurrent.py: a lax.scan over
the steps, and by hand a second one in reverse; autodiff differentiates the first).
``flax_module`` is the Flax NNX + Optax template; it needs flax and optax, so it is not imported
here: ``from jax_impl import flax_module``.

jax (and the numpy it ships with) and the standard library only. float32 works as is; float64 needs
JAX's x64 mode, which is off by default. Enable it around the calls, without changing it for the
rest of the program:

    with jax.enable_x64(True):
        result = jax_impl.manual.backprop(spec, params, x, y)   # float64 arrays in and out
"""

from . import autodiff, manual
from .training import Gradients, Trajectory

__all__ = ["Gradients", "Trajectory", "autodiff", "manual"]
