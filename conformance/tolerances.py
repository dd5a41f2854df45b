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

Finite differences (GRADCHECK: the reference's own check, reference/gradcheck.py, its tests, and the
self-consistency of any implementation, selfcheck.py). The five-point stencil at h = 1e-3 errs by
truncation O(h⁴) plus rounding 1.5·ε·max(|C|, 1)/h ≈ 3.3e-13·max(|C|, 1); measured worst of
‖a − n‖/(‖a‖ + ‖n‖): 1e-8 on a deep sigmoid net (4-5-4-3-3-2), 3e-11 on the conv problems. The
threshold 1e-7 sits an order above; a real bug errs by O(0.1) or more (a dropped 1/m: 1 − 1/m; the
quadratic cost's ½: 1/3). KINK_MARGIN: a ReLU problem is differenced only where every pre-activation
is at least 0.05 from the kink, far beyond the stencil's reach of 2h = 2e-3 times a unit direction.

Diagnosis (FLOAT32_SIZED). A float64 value rounded to float32 errs relatively by up to u₃₂ = 2⁻²⁴ ≈
6e-8 (about u₃₂/√3 normwise); float32 arithmetic cannot do better than the rounding of its inputs, so
a run whose worst error is below u₃₂/8 ≈ 7.5e-9 was not computed in float32
(diagnosis/signatures/dense.py: float32_sized).
"""

import numpy as np
import numpy.typing as npt

from reference.gradcheck import THRESHOLD

# quantity family -> dtype -> tolerance on the normwise relative error
TOLERANCES = {
    "forward": {np.float64: 1e-11, np.float32: 1e-4},  # z^l, a^l
    "deltas": {np.float64: 1e-11, np.float32: 1e-4},  # δ^l (BP1, BP2)
    "grads": {np.float64: 1e-11, np.float32: 1e-4},  # ∂C/∂b (BP3), ∂C/∂W (BP4)
    "loss": {np.float64: 1e-11, np.float32: 1e-4},  # batch cost C
    "trajectory": {np.float64: 1e-10, np.float32: 1e-3},  # per-step losses and final parameters
}

# Finite-difference threshold on ‖a − n‖/(‖a‖ + ‖n‖); the reference defines it (it needs nothing of the
# harness), the derivation is above.
GRADCHECK = THRESHOLD
KINK_MARGIN = 0.05  # |z| a ReLU problem's pre-activations keep from the kink to be differenced
FLOAT32_SIZED = 2.0**-24 / 8  # errors at least this large may be float32 rounding

# Denominator floor for an all-zero reference tensor: with ‖want‖ = 0 anything but an exact zero fails.
ZERO_FLOOR = np.finfo(np.float64).tiny


def tolerance(family: str, dtype: npt.DTypeLike) -> float:
    return TOLERANCES[family][np.dtype(dtype).type]
