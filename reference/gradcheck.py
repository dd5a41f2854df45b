"""Centred finite-difference check of the backprop gradients (float64 only).

For every weight and bias θ of every layer (a recurrent layer's U^l too) the five-point centred
difference

    n = (−C(θ + 2h) + 8 C(θ + h) − 8 C(θ − h) + C(θ − 2h)) / 12h

is compared with the analytic a = ∂C/∂θ from :func:`reference.network.backprop` through the
normwise relative error ‖a − n‖ / (‖a‖ + ‖n‖) per parameter tensor (seed 002 explains the numerical
gradient and why backprop is linear where this is quadratic in the number of weights).

Why five points and h = 1e-3: the error is truncation O(h⁴ C⁽⁵⁾/30) plus rounding O(ε |C| / h),
ε = 2.2e-16, smallest near h ≈ ε^{1/5} ≈ 7e-4. The two-point formula (truncation O(h²), best
h ≈ ε^{1/3}) leaves about 1e-12 to 1e-10 of absolute error, a relative error of 1e-5 on the
1e-7 gradients of the first layer of a deep sigmoid net; measured on such a net (4-5-4-3-3-2),
the five-point formula at h = 1e-3 gives 1e-8. ReLU is piecewise linear, so the check is only
valid where no pre-activation lies within reach of the ±2h perturbations of the kink at 0.

Exact zeros (a softmax over one output, a dead ReLU) would make the ratio 1 on pure rounding
noise, so the denominator has a floor: the stencil's rounding error per element is about
(18/12)·ε·max(|C|, 1)/h ≈ 3.3e-13·max(|C|, 1), and √size times that over THRESHOLD (the threshold
the tests use) is the smallest norm the difference can resolve: ``noise_floor`` below.
"""

from typing import NamedTuple

import numpy as np

from .conv import conv_stack
from .network import backprop, batch_cost, feedforward
from .recurrent import batch_cost as recurrent_batch_cost
from .types import FloatArray, ParamsIn, Spec

# The error above which a gradient is wrong: the measured worst, 1e-8 (above), is an order below; a real
# bug errs by O(0.1). The harness's tolerances (conformance/tolerances.py: GRADCHECK) use this one.
THRESHOLD = 1e-7


class GradcheckResult(NamedTuple):
    layer: int  # 1..L
    quantity: str  # "dW" (dense), "dK" (conv), "dU" (recurrent) or "db"
    rel_error: float  # ‖a − n‖ / max(‖a‖ + ‖n‖, noise floor)
    analytic: FloatArray
    numeric: FloatArray


def numerical_gradient(
    spec: Spec, params: ParamsIn, x: FloatArray, y: FloatArray, h: float = 1e-3
) -> list[tuple[FloatArray, ...]]:
    """[(∂C/∂W^l, ∂C/∂b^l)] (∂C/∂K^l for conv blocks; (∂C/∂W^l, ∂C/∂U^l, ∂C/∂b^l) for recurrent
    layers) by five-point centred differences, one parameter at a time."""
    conv, recurrent = conv_stack(spec)[1], getattr(spec, "recurrent", None)
    cost = batch_cost if recurrent is None else recurrent_batch_cost

    def C(p: ParamsIn) -> float:
        zs, activations = feedforward(p, x, spec.activation, spec.output, conv=conv, recurrent=recurrent)
        return cost(spec, p, zs, activations, y)

    params = [tuple(theta.copy() for theta in layer) for layer in params]
    numeric = []
    for l in range(len(params)):
        pair = []
        for theta in params[l]:  # W^l (U^l) then b^l, perturbed in place and restored
            grad = np.zeros_like(theta)
            for i in np.ndindex(theta.shape):
                saved = theta[i]
                c = {}
                for k in (-2, -1, 1, 2):
                    theta[i] = saved + k * h
                    c[k] = C(params)
                theta[i] = saved
                grad[i] = (-c[2] + 8 * c[1] - 8 * c[-1] + c[-2]) / (12 * h)
            pair.append(grad)
        numeric.append(tuple(pair))
    return numeric


def gradcheck(
    spec: Spec, params: ParamsIn, x: FloatArray, y: FloatArray, h: float = 1e-3
) -> list[GradcheckResult]:
    """Compare backprop with finite differences; one :class:`GradcheckResult` per tensor and layer."""
    if any(a.dtype != np.float64 for layer in params for a in layer) or x.dtype != np.float64:
        raise TypeError("params, x: gradcheck needs float64 (float32 rounding swamps the difference)")
    result = backprop(spec, params, x, y)
    analytic, scale = result.grads, max(abs(result.loss), 1.0)
    results, c = [], len(conv_stack(spec)[1])
    for l, (a_pair, n_pair) in enumerate(zip(analytic, numerical_gradient(spec, params, x, y, h)), 1):
        names = ("dW", "dU", "db") if len(a_pair) == 3 else ("dK" if l <= c else "dW", "db")
        for quantity, a, n in zip(names, a_pair, n_pair):
            noise_floor = np.sqrt(a.size) * 1.5 * np.finfo(np.float64).eps * scale / h / THRESHOLD
            denom = max(np.linalg.norm(a) + np.linalg.norm(n), noise_floor)
            rel = float(np.linalg.norm(a - n) / denom)
            results.append(GradcheckResult(l, quantity, rel, a, n))
    return results
