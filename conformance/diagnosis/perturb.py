"""The diagnosis' own wrong variants of backprop, for the signatures to test their guesses with
(signatures/dense.py, ``_hypothesis``): each is reference/network.py's backward pass with one step
changed, and returns a :class:`reference.Gradients`, as ``reference.backprop(spec, params, x, y)``:

- :func:`missing_g_prime_bp1`: BP1 without g'(z^L) for the quadratic cost, δ^L = a^L − y
- :func:`sigma_prime_with_cross_entropy`: BP1 keeping σ'(z^L) with the cross-entropy, where it cancels:
  δ^L = (a^L − y) ⊙ σ'(z^L)
- :func:`bp2_w_transposed`: BP2 as δ^l = (δ^{l+1} (W^{l+1})ᵀ) ⊙ g'(z^l), Nielsen's column-vector
  (W^{l+1})ᵀ δ^{l+1} carried over to rows (the teaching mutant calls it ``bp2_w_not_transposed``)

Everything else is the reference's own code or convention: the forward pass is
``reference.network.feedforward``, the loss ``batch_cost`` ((1/m) Σ_x C_x + (λ/2) Σ_l ‖W^l‖²), g' is
read from the cached a^l (``PRIME_FROM_OUTPUT``), BP3/BP4 take the mean over the batch and add λW^l.
So on a correct implementation no variant matches, and on the bug each reproduces it to float64
rounding. The reference has no hook for replacing one step, hence the one compact backward pass here.

A variant that does not exist on the spec raises ``ValueError`` (never returns None, so every caller
gets a Gradients or an exception, and ``_hypothesis`` reads the exception as "not this bug here"): a conv
spec (these are dense networks), BP1's variants on a loss or output where the step has nothing to get
wrong (the variant would be the reference itself), BP2's where it cannot run: a network without a
hidden layer, or layers 1..L not all of one width (δ^{l+1} (W^{l+1})ᵀ needs n_{l+1} = n_l).

Why not the teaching mutants (conformance/mutants/dense.py): they are teaching material, edited for
the reader; the diagnosis must not change its readings when one is. tests/diagnosis/test_perturb.py
checks these against them, two independent codings of the same bug.
"""

from collections.abc import Callable, Sequence

import numpy as np

from conformance.spec import Spec
from reference.activations import PRIME_FROM_OUTPUT
from reference.conv import conv_stack
from reference.costs import output_error
from reference.network import Gradients, batch_cost, feedforward
from reference.validation import check_inputs

Params = Sequence[tuple[np.ndarray, np.ndarray]]  # [(W^l, b^l) for l = 1..L]
OutputError = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (a^L, y) -> δ^L, each (m, n_L)


def _dense(spec: Spec, params: Params, x: np.ndarray, y: np.ndarray) -> None:
    """The reference's input checks, then: a dense spec only."""
    check_inputs(spec, params, x, y)
    if conv_stack(spec)[1]:
        raise ValueError("perturb: the variants are dense networks; this spec has conv blocks")


def _prime(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """g'(z) read from a = g(z) (reference.activations.PRIME_FROM_OUTPUT) for an elementwise activation;
    softmax has none (the reference allows it only as the output, with the log-likelihood)."""
    prime = PRIME_FROM_OUTPUT[name]
    if prime is None:
        raise ValueError(f"perturb: {name!r} has no elementwise derivative")
    return prime


def _backprop(
    spec: Spec, params: Params, x: np.ndarray, y: np.ndarray, delta_L: OutputError, *, w_transposed: bool
) -> Gradients:
    """reference.network.backprop_unchecked on a dense spec, with BP1 as ``delta_L(a^L, y)`` and, if
    ``w_transposed``, BP2 multiplying by (W^{l+1})ᵀ instead of W^{l+1}."""
    activation, output, lam = spec.activation, spec.output, spec.weight_decay
    m, L = x.shape[0], len(params)

    zs, activations = feedforward(params, x, activation, output)
    g_prime = _prime(activation)  # g'(z^l) from the cached a^l = g(z^l)

    deltas: list[np.ndarray] = [np.empty(0)] * L
    delta = delta_L(activations[-1], y)  # BP1 (m, n_L)
    deltas[L - 1] = delta
    for l in range(L - 1, 0, -1):  # layers L-1 .. 1; list index l-1 holds layer l
        W_next = params[l][0]  # W^{l+1}: (n_{l+1}, n_l)
        if w_transposed:  # the wrong variant: (m, n_{l+1}) @ (n_l, n_{l+1}), runs only if n_l = n_{l+1}
            delta = (delta @ W_next.T) * g_prime(activations[l])  # BP2 with W^{l+1}ᵀ (m, n_l)
        else:
            delta = (delta @ W_next) * g_prime(activations[l])  # BP2 (m, n_l) = (m, n_{l+1}) @ (n_{l+1}, n_l)
        deltas[l - 1] = delta

    grads: list[tuple[np.ndarray, ...]] = []
    for l in range(1, L + 1):
        delta, a_prev, W = deltas[l - 1], activations[l - 1], params[l - 1][0]
        nabla_b = delta.sum(axis=0) / m  # BP3 (n_l,)
        nabla_w = (delta.T / m) @ a_prev  # BP4 (n_l, n_{l-1}) = (n_l, m) @ (m, n_{l-1})
        if lam:  # BP4 + λ W^l, as the reference (no term at all when λ = 0)
            nabla_w += lam * W
        grads.append((nabla_w, nabla_b))

    return Gradients(batch_cost(spec, params, zs, activations, y), grads, zs, activations, deltas)


def missing_g_prime_bp1(spec: Spec, params: Params, x: np.ndarray, y: np.ndarray) -> Gradients:
    """BP1 without g'(z^L) for the quadratic cost: δ^L = ∇_a C_x = a^L − y, not (a^L − y) ⊙ g'(z^L).
    ValueError for another loss (the log costs' δ^L is a^L − y already) or an identity output (g' = 1)."""
    _dense(spec, params, x, y)
    if spec.loss != "quadratic" or spec.output == "identity":
        raise ValueError(
            "perturb: BP1 without g'(z^L) differs from BP1 only for the quadratic cost with an output "
            f"other than identity, not loss={spec.loss!r}, output={spec.output!r}"
        )
    return _backprop(spec, params, x, y, lambda a, y: a - y, w_transposed=False)  # BP1 (m, n_L), no g'


def sigma_prime_with_cross_entropy(spec: Spec, params: Params, x: np.ndarray, y: np.ndarray) -> Gradients:
    """BP1 keeping σ'(z^L) with the cross-entropy: δ^L = (a^L − y) ⊙ σ'(z^L), the quadratic cost's,
    where the cross-entropy's δ^L is a^L − y. ValueError for another loss."""
    _dense(spec, params, x, y)
    if spec.loss != "cross_entropy":
        raise ValueError(f"perturb: σ'(z^L) kept with the cross-entropy needs that loss, not {spec.loss!r}")
    sigma_prime = _prime(spec.output)  # σ'(z^L) = a^L (1 − a^L) (the output is sigmoid)
    return _backprop(spec, params, x, y, lambda a, y: (a - y) * sigma_prime(a), w_transposed=False)


def bp2_w_transposed(spec: Spec, params: Params, x: np.ndarray, y: np.ndarray) -> Gradients:
    """BP2 with W^{l+1} transposed: δ^l = (δ^{l+1} (W^{l+1})ᵀ) ⊙ g'(z^l); BP1 is the reference's.
    ValueError unless there is a hidden layer and n_1 = ... = n_L (square W^2..W^L)."""
    _dense(spec, params, x, y)
    widths = tuple(spec.sizes[1:])
    if len(widths) < 2 or len(set(widths)) != 1:
        raise ValueError(
            f"perturb: BP2 with W^{{l+1}} transposed runs only on layers 1..L of one width, not {widths}"
        )
    prime = PRIME_FROM_OUTPUT[spec.output]  # None for softmax: output_error does not call it there
    return _backprop(spec, params, x, y, lambda a, y: output_error(spec.loss, a, y, prime), w_transposed=True)


# signature (the name of the bug, diagnose.SIGNATURES's) -> its wrong variant
PERTURBATIONS: dict[str, Callable[[Spec, Params, np.ndarray, np.ndarray], Gradients]] = {
    "missing_sigma_prime_bp1": missing_g_prime_bp1,
    "sigma_prime_with_cross_entropy": sigma_prime_with_cross_entropy,
    "bp2_w_not_transposed": bp2_w_transposed,
}
