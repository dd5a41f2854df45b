"""Known-bad convolutional backprops: the classic conv bugs, one switch each.

The companion of dense.py for seed 003's conv extension: tests/diagnosis/test_conv_mutants.py proves
that each bug below is caught by the check that names the quantity and the layer it breaks. A mutant is a
student's conv stack assembled from the reference's own pieces (reference/conv.py: windows,
correlate_transpose, unpool, forward) in front of the reference's dense layers, with one line
marked ``# BUG``; read it next to reference/conv.py's ``backward``.

    backprop-conformance check conformance.mutants.conv:kernel_flipped --problems 'conv-*'
"""

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any, Literal

import numpy as np

from conformance.contract import Array, IndexArray, Params
from conformance.mutants.loop import sgd_training
from conformance.spec import Spec
from reference.activations import ACTIVATIONS
from reference.conv import conv_stack, correlate_transpose, unpool, windows
from reference.conv import forward as conv_forward
from reference.network import Gradients, backprop_unchecked
from reference.training import Trajectory
from reference.validation import check_inputs

# bug -> (what it gets wrong, the check family that must catch it, a quantity it must name)
BUGS = {
    "kernel_flipped": (
        "∂K computed as for a true convolution: the kernel gradient rotated 180°",
        "grads",
        "dK[layer",
    ),
    "padding_ignored": (
        "BP2-conv keeps the top-left H×W of the padded ∂C/∂a instead of cutting the padding ring off",
        "deltas",
        "delta[layer",
    ),
    "max_pool_to_all": (
        "max-pool gradient copied to every element of the window, not the first maximum",
        "deltas",
        "delta[layer",
    ),
    "avg_pool_undivided": (
        "avg-pool gradient copied to every element without the 1/pool_size²",
        "deltas",
        "delta[layer",
    ),
    "flatten_f_order": (
        "a^c flattened (and δ un-flattened) in Fortran order, not torch's C order",
        "forward",
        "z[layer",
    ),
    "stride_ignored_bp4": (
        "BP4-conv pairs δ[i, j] with the patch at (i, j) instead of (s·i, s·j)",
        "grads",
        "dK[layer",
    ),
    "bias_averaged": ("BP3-conv averages δ over the positions instead of summing", "grads", "db[layer"),
    "kernels_not_decayed": (
        "weight decay λK left out of the kernel gradient (W still decayed)",
        "grads",
        "dK[layer",
    ),
    "relu_prime_one_at_zero": (
        "ReLU'(0) = 1 in the conv blocks' δ^l = ∂C/∂h ⊙ g'(z^l) (z >= 0)",
        "deltas",
        "delta[layer",
    ),
}


def _dense_part(spec):
    """The dense layers after the flatten, as a spec of their own (no conv fields: an MLP)."""
    return SimpleNamespace(
        sizes=spec.sizes,
        activation=spec.activation,
        output=spec.output,
        loss=spec.loss,
        weight_decay=spec.weight_decay,
    )


def _to_every_element(nabla_a, size):
    """∂C_x/∂a^l copied unchanged to all size² elements of its pooling window."""
    return nabla_a.repeat(size, axis=2).repeat(size, axis=3)


class ConvMutant:
    """A conv backprop with at most one bug (``bug=None`` is correct: the meta-test's control)."""

    supports_conv = True

    def __init__(self, bug: str | None = None) -> None:
        if bug is not None and bug not in BUGS:
            raise ValueError(f"bug: unknown conv mutant {bug!r}; expected one of {list(BUGS)}")
        self.bug = bug
        self.name = f"conv_mutant.{bug}" if bug else "conv_mutant.none"

    def gradients(self, spec: Spec, params: Params, x: Array, y: Array) -> Gradients:
        check_inputs(spec, params, x, y)
        return self._backprop(spec, params, x, y)

    def train(
        self,
        spec: Spec,
        params: Any,  # Any: Params, handed back in a reference Trajectory, whose params are a list
        x: Array,
        y: Array,
        *,
        lr: float,
        batches: Sequence[IndexArray],
    ) -> Trajectory:
        return sgd_training(self._backprop, spec, params, x, y, lr=lr, batches=batches)

    def _backprop(self, spec, params, x, y):
        conv = conv_stack(spec)[1]
        c, m = len(conv), x.shape[0]
        order: Literal["C", "F"] = "F" if self.bug == "flatten_f_order" else "C"  # BUG if "F"
        zs, activations = conv_forward(conv, params[:c], x, spec.activation)
        dense = backprop_unchecked(
            _dense_part(spec), params[c:], activations[-1].reshape(m, -1, order=order), y
        )
        if not c:
            return dense
        nabla_a = (dense.deltas[0] @ params[c][0]).reshape(activations[-1].shape, order=order)
        deltas, grads = self._conv_backward(spec, conv, params, zs, activations, nabla_a)
        penalty = 0.5 * spec.weight_decay * sum(np.sum(K * K) for K, _ in params[:c])
        return Gradients(
            float(dense.loss + penalty),
            grads + dense.grads,
            zs + dense.zs,
            activations + dense.activations[1:],
            deltas + dense.deltas,
        )

    def _conv_backward(self, spec, conv, params, zs, activations, nabla_a):
        bug, lam = self.bug, spec.weight_decay
        g, g_prime = ACTIVATIONS[spec.activation]
        assert g_prime is not None  # every hidden activation has one (check_spec)
        if bug == "relu_prime_one_at_zero" and spec.activation == "relu":
            g_prime = lambda z: (z >= 0).astype(z.dtype)  # BUG  # noqa: E731
        m, c = nabla_a.shape[0], len(conv)
        deltas: list = [None] * c  # filled from the last block down
        grads: list = [None] * c
        for l in range(c, 0, -1):
            block, (K, _), z, a_prev = conv[l - 1], params[l - 1], zs[l - 1], activations[l - 1]
            s, p, (H_l, W_l) = block.stride, block.padding, z.shape[2:]
            if (bug, block.pool) in (("max_pool_to_all", "max"), ("avg_pool_undivided", "avg")):
                routed = _to_every_element(nabla_a, block.pool_size)  # BUG
            else:
                routed = unpool(nabla_a, g(z), block.pool, block.pool_size)
            delta = routed * g_prime(z)
            patches = windows(a_prev, K.shape[-1], 1 if bug == "stride_ignored_bp4" else s, p)  # BUG if 1
            nabla_K = np.einsum("ndij,ncijpq->dcpq", delta, patches[:, :, :H_l, :W_l], optimize=True) / m
            if bug == "kernel_flipped":
                nabla_K = nabla_K[..., ::-1, ::-1]  # BUG: convolution's gradient for a correlation
            if bug != "kernels_not_decayed":  # BUG if skipped
                nabla_K = nabla_K + lam * K
            sums = delta.mean(axis=(2, 3)) if bug == "bias_averaged" else delta.sum(axis=(2, 3))  # BUG: mean
            deltas[l - 1], grads[l - 1] = delta, (nabla_K, sums.sum(axis=0) / m)
            if l > 1 and bug == "padding_ignored":
                H, W = a_prev.shape[2:]
                padded = correlate_transpose(delta, K, s, 0, (m, a_prev.shape[1], H + 2 * p, W + 2 * p))
                nabla_a = padded[:, :, :H, :W]  # BUG: the ring cut off at the bottom right only
            elif l > 1:
                nabla_a = correlate_transpose(delta, K, s, p, a_prev.shape)
        return deltas, grads


# module-level instances, so that ``check conformance.mutants.conv:kernel_flipped`` works
for _bug in BUGS:
    globals()[_bug] = ConvMutant(_bug)
