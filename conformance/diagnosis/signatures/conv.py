"""Signatures of known bugs in the conv blocks' gradients and the flatten (seed 003's extension):
each a small function of the evidence (evidence.Evidence) that builds what the reference computes
with one piece done the known wrong way — from the reference's own results and functions
(reference/conv.py, reference/network.py) — and asks whether the implementation returns exactly
that, in every quantity it returns, to the checks' tolerances (signatures.reproduced).

    kernel_flipped        ∂K's data term rotated 180°                                      BP4-conv
    kernels_not_decayed   ∂K − λK (the cost with or without (λ/2)Σ‖K‖²)                    BP4-conv
    bias_averaged         ∂b / (H_l·W_l)                                                   BP3-conv
    stride_ignored        ∂K from the patches at (i, j), not (s·i, s·j)                    BP4-conv
    flatten_order         a^c flattened in column-major (F) order into W^{c+1}              flatten

conv_delta_signatures.py has those that change δ itself (BP2-conv's padding, the pooling's routing);
signatures.relu_kink reads ReLU′(0) ≠ 0 in conv blocks and dense layers alike (a conv unit is a
channel), and signatures.data_gradient_lost a ∂K that is λK alone.
All come before the general readings in diagnose.SIGNATURES (a constant multiple, bias only).
"""

from types import SimpleNamespace

import numpy as np

from conformance.diagnosis.evidence import Diagnosis, Evidence
from conformance.diagnosis.signatures.dense import reproduced
from reference.conv import backward, conv_stack
from reference.network import backprop_unchecked


def _parts(ev):
    """(problem, the reference's Gradients on it, the conv blocks, the conv layers '1, 2')."""
    conv = conv_stack(ev.problem.spec)[1]
    return ev.problem, ev.want["gradients"], conv, ", ".join(str(l) for l in range(1, len(conv) + 1))


def kernel_flipped(ev: Evidence) -> Diagnosis | None:
    if "gradients" not in ev.want:  # no single-pass check ran (an optimizer problem: Problem.kinds)
        return None
    p, R, conv, layers = _parts(ev)
    if not any(block.kernel > 1 for block in conv):
        return None
    lam, c = p.spec.weight_decay, len(conv)
    grads = [
        ((dK - lam * K)[..., ::-1, ::-1] + lam * K, db)  # the data term flipped, λK^l as it is
        for (dK, db), (K, _) in zip(R.grads, p.params[:c])
    ]
    return reproduced(
        ev,
        "kernel_flipped",
        R._replace(grads=grads + R.grads[c:]),
        f"∂C/∂K in layer(s) {layers} is the reference's rotated 180° (BP4-conv): the kernel "
        "gradient of a true convolution, but z^l is a cross-correlation (no kernel flip)",
        "∂C/∂K^l[c,c′,p′,q′] = (1/m)Σ_x Σ_{i,j} δ^l[c,i,j] · pad(a^{l−1})[c′,s·i+p′,s·j+q′] "
        "+ λK^l: offset (p′, q′) of the patch, unflipped — no [::-1, ::-1] or torch.flip",
    )


def kernels_not_decayed(ev: Evidence) -> Diagnosis | None:
    if "gradients" not in ev.want:  # no single-pass check ran (an optimizer problem: Problem.kinds)
        return None
    p, R, conv, layers = _parts(ev)
    lam, c = p.spec.weight_decay, len(conv)
    if lam == 0 or not c:
        return None
    grads = [(dK - lam * K, db) for (dK, db), (K, _) in zip(R.grads, p.params[:c])] + R.grads[c:]
    penalty = 0.5 * lam * sum(float(np.vdot(K, K)) for K, _ in p.params[:c])
    for loss, cost in (
        (R.loss, "while the cost includes (λ/2)Σ‖K^l‖²"),
        (R.loss - penalty, "and the cost leaves out (λ/2)Σ‖K^l‖²"),
    ):
        found = reproduced(
            ev,
            "kernels_not_decayed",
            R._replace(grads=grads, loss=loss),
            f"∂C/∂K in layer(s) {layers} lacks the decay term λK^l (BP4-conv) {cost}: the "
            "kernels are not decayed as the weights W are",
            "every kernel is decayed as every W: ∂C/∂K^l = (1/m)Σ_x (δ^l ⋆ a^{l−1}) + λK^l "
            "and C = (1/m)Σ_x C_x + (λ/2)(Σ‖K^l‖² + Σ‖W^l‖²)",
        )
        if found:
            return found
    return None


def bias_averaged(ev: Evidence) -> Diagnosis | None:
    if "gradients" not in ev.want:  # no single-pass check ran (an optimizer problem: Problem.kinds)
        return None
    _, R, conv, layers = _parts(ev)
    c = len(conv)
    if not any(z.shape[2] * z.shape[3] > 1 for z in R.zs[:c]):
        return None
    grads = [(dK, db / (z.shape[2] * z.shape[3])) for (dK, db), z in zip(R.grads, R.zs[:c])] + R.grads[c:]
    return reproduced(
        ev,
        "bias_averaged",
        R._replace(grads=grads),
        f"∂C/∂b in layer(s) {layers} is the reference's divided by H_l·W_l (BP3-conv): δ^l "
        "averaged over the positions instead of summed",
        "a conv bias is shared by every position, so its gradient sums over them and averages "
        "over the batch only: ∂C/∂b^l[c] = (1/m)Σ_x Σ_{i,j} δ^l_x[c,i,j], "
        "delta.sum(axis=(0, 2, 3)) / m",
    )


def _stride_one_kernel_gradient(delta, a_prev, K, padding, lam):
    """BP4-conv pairing δ^l[i, j] with the patch at (i, j) instead of (s·i, s·j): reference.conv.backward
    on this block with stride 1 over the part of pad(a^{l−1}) those patches reach, δ^l passed through
    unchanged (no pooling, g = identity, so the routed ∂C/∂a is δ^l itself)."""
    k, (H_l, W_l) = K.shape[-1], delta.shape[2:]
    edge = ((0, 0), (0, 0), (padding, padding), (padding, padding))
    reach = np.pad(a_prev, edge)[:, :, : H_l + k - 1, : W_l + k - 1]  # (m, C_{l−1}, H_l + k − 1, W_l + k − 1)
    one = SimpleNamespace(stride=1, padding=0, pool=None, pool_size=1)
    no_bias = np.zeros(K.shape[0], dtype=K.dtype)  # backward reads only K of the pair
    _, [(nabla_K, _)] = backward((one,), [(K, no_bias)], [delta], [reach], delta, "identity", lam)
    return nabla_K


def stride_ignored(ev: Evidence) -> Diagnosis | None:
    if "gradients" not in ev.want:  # no single-pass check ran (an optimizer problem: Problem.kinds)
        return None
    p, R, conv, _ = _parts(ev)
    strided = [l for l, block in enumerate(conv, 1) if block.stride > 1]
    if not strided:
        return None
    grads = list(R.grads)
    for l in strided:
        K, padding = p.params[l - 1][0], conv[l - 1].padding
        nabla_K = _stride_one_kernel_gradient(
            R.deltas[l - 1], R.activations[l - 1], K, padding, p.spec.weight_decay
        )
        grads[l - 1] = (nabla_K, grads[l - 1][1])
    return reproduced(
        ev,
        "stride_ignored",
        R._replace(grads=grads),
        f"∂C/∂K in layer(s) {', '.join(map(str, strided))} pairs δ^l[i,j] with the patch at "
        "(i, j) instead of (s·i, s·j): BP4-conv ignores the stride s",
        "z^l[i,j] came from the patch of pad(a^{l−1}) at (s·i, s·j), so ∂C/∂K^l = (1/m)Σ_x "
        "Σ_{i,j} δ^l[c,i,j] · pad(a^{l−1})[c′,s·i+p′,s·j+q′] + λK^l: take the patches "
        "(im2col) with the forward pass's stride",
    )


def flatten_order(ev: Evidence) -> Diagnosis | None:
    """An F-order flatten feeds W^{c+1} the C-order features in another order: the reference with the
    columns of W^{c+1} permuted to match computes the same z, a, δ and loss, and ∂W^{c+1} permuted."""
    if "gradients" not in ev.want:  # no single-pass check ran (an optimizer problem: Problem.kinds)
        return None
    p, R, conv, _ = _parts(ev)
    c = len(conv)
    if not c:
        return None
    order = np.arange(R.activations[c][0].size).reshape(R.activations[c].shape[1:]).ravel(order="F")
    if np.array_equal(order, np.arange(order.size)):
        return None  # at most one axis longer than 1: both orders agree
    W, b = p.params[c]  # column j of an F-order flatten is C-order feature order[j]
    params = [*p.params[:c], (W[:, np.argsort(order)], b), *p.params[c + 1 :]]
    hyp = backprop_unchecked(p.spec, params, p.x, p.y)
    grads = [*hyp.grads[:c], (hyp.grads[c][0][:, order], hyp.grads[c][1]), *hyp.grads[c + 1 :]]
    return reproduced(
        ev,
        "flatten_order",
        hyp._replace(grads=grads),
        f"z of the first dense layer ({c + 1}) is what a column-major (Fortran-order) flatten "
        "of a^c gives: the features meet W^{c+1} in another order than torch's flatten(1), "
        "and δ^{c+1}W^{c+1} is un-flattened in that order too (flatten)",
        "flatten a^c (m, C, H, W) in C order, a.reshape(m, -1) (torch: a.flatten(1)): channel "
        "slowest, column fastest; un-flatten with the same reshape; no order='F'",
    )
