"""Every tolerance of the suite, each with the measurement or derivation behind it.

Errors are normwise: ‖got − want‖ / ‖want‖ (compare.py). ``want`` is always the float64 reference
run on exactly the values the implementation received (float32 problems are cast once and the
reference sees those float32 values widened to float64), so an error is the implementation's own
rounding, not a difference of inputs.

float64 (the conformance tier). Unit roundoff u = 1.1e-16. One pass through an L-layer net of width n
accumulates roughly √n·L·u relative error per product chain; measured across the catalogue and all
six ports: at most 1e-14 for forward, deltas, gradients and loss, and at most 1e-13 for 20-step
trajectories (SGD re-uses each step's rounding as the next step's input, growing it by about
(1 + η‖H‖) per step). The tolerances sit three orders of magnitude above those measurements and
twelve below the O(1) relative errors of every known-bad mutant (mutants.py).

float32 (the second tier). u = 6.0e-8. Measured: at most 2e-6 on single-pass quantities, a few
1e-5 on trajectories (some problems take η = 3.0 steps, which amplify rounding). The tolerances sit
one to two orders above: float32 cannot be held to better than a few hundred u after 20 SGD steps.
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
