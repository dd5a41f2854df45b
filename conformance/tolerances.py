"""Every tolerance of the suite, each with the measurement or derivation behind it.

Errors are normwise: ‖got − want‖ / ‖want‖ (compare.py). ``want`` is always the float64 reference
run on exactly the values the implementation received (float32 problems are cast once and the
reference sees those float32 values widened to float64), so an error is the implementation's own
rounding, not a difference of inputs.

float64 (the conformance tier). Unit roundoff u = 1.1e-16. One pass through an L-layer net of width n
accumulates roughly √n·L·u relative error per product chain. Measured across the catalogue and all
six ports (``backprop-conformance report``, 2026-11-22): forward 1.1e-15, deltas 6.9e-15, gradients
6.9e-15, loss 4.4e-16; over the 3- to 20-step trajectories, per-step losses 1.7e-15 and final
parameters 4.6e-16 (SGD re-uses each step's
rounding as the next step's input, growing it by about (1 + η‖H‖) per step). jax.flax (the Flax NNX +
Optax template, measured the same way, conv problems included): gradients 7.7e-15, loss 8.3e-16,
per-step losses 3.3e-15 (conv-max-pool-3), final parameters 5.0e-16; float32 gradients 4.9e-6, loss
3.3e-7, trajectories 9.6e-6. The tolerances sit
three to four orders of magnitude above those measurements, so BLAS or summation-order changes
cannot trip them, and ten below the O(1e-1)..O(1) relative errors of every known-bad mutant
(mutants.py; the float32-internally mutant errs by about 1e-7, and a learning rate rounded to
float32, lr_float32, by 3.9e-10..5.0e-8 over the trajectories: above the 1e-10 trajectory
tolerance on every problem whose η is not exact in float32).

float32 (the second tier). u = 6.0e-8. Measured: forward 7.2e-7, deltas 3.9e-6, gradients 4.1e-6,
loss 1.7e-7, trajectories 9.6e-6 (some problems take η = 3.0 steps, which amplify rounding). The
tolerances sit one to two orders above: a few hundred u for one pass, and 1e-3 for trajectories,
as float32 rounding grows step by step.
"""

import numpy as np

# quantity family -> dtype -> tolerance on the normwise relative error
TOLERANCES = {
    "forward": {np.float64: 1e-11, np.float32: 1e-4},  # z^l, a^l
    "deltas": {np.float64: 1e-11, np.float32: 1e-4},  # δ^l (BP1, BP2)
    "grads": {np.float64: 1e-11, np.float32: 1e-4},  # ∂C/∂b (BP3), ∂C/∂W (BP4)
    "loss": {np.float64: 1e-11, np.float32: 1e-4},  # batch cost C
    "trajectory": {np.float64: 1e-10, np.float32: 1e-3},  # per-step losses and final parameters
}

# Denominator floor for an all-zero reference tensor: with ‖want‖ = 0 anything but an exact zero fails.
ZERO_FLOOR = np.finfo(np.float64).tiny


def tolerance(family, dtype):
    return TOLERANCES[family][np.dtype(dtype).type]
