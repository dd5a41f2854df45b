"""Signatures of known conv bugs that change δ itself (seed 003's extension): BP2-conv ignoring the
padding, and the pooling's gradient routed the wrong way. Each recomputes the conv blocks' δ and
gradients with reference.conv.backward, one block at a time, with that one piece swapped for the
known wrong one (built from reference/conv.py's own functions), and asks whether the implementation
returns exactly that in every quantity it returns (signatures.reproduced).

    padding_ignored           ∂C/∂a^{l−1} for p = 0, its top-left H×W kept                 BP2-conv
    max_pool_to_every_element ∂C/∂a^l copied to each element of a max window               un-pool
    max_pool_last_maximum     ∂C/∂a^l sent to the last maximum of a window, not the first  un-pool
    avg_pool_undivided        ∂C/∂a^l copied to each element of an avg window, no 1/size²  un-pool

They come before the general readings in diagnose.SIGNATURES: a single avg block without its
1/pool_size² is also "4 times the reference".
"""

from types import SimpleNamespace

from conformance.diagnosis.evidence import Diagnosis, Evidence
from conformance.diagnosis.signatures.dense import reproduced
from reference.activations import ACTIVATIONS
from reference.conv import backward, conv_stack, correlate_transpose, unpool


def _blocks(ev):
    return conv_stack(ev.problem.spec)[1]


def _unpooled_block(block):
    """The block as reference.conv.backward sees it once its gradient is routed already."""
    return SimpleNamespace(stride=block.stride, padding=block.padding, pool=None, pool_size=1)


def _conv_backward(ev, route=None, transpose=correlate_transpose):
    """The reference's Gradients with the conv blocks' δ and gradients recomputed by
    reference.conv.backward one block at a time, so that a pooling's routing (``route(nabla_a, h,
    block)``, None where it keeps the reference's unpool) or BP2-conv (``transpose``) can be a known
    wrong one. Starts from the reference's ∂C_x/∂a^c: the dense layers are right."""
    p, R, conv = ev.problem, ev.want["gradients"], _blocks(ev)
    c, g = len(conv), ACTIVATIONS[p.spec.activation][0]
    nabla_a = (R.deltas[c] @ p.params[c][0]).reshape(R.activations[c].shape)  # (m, C_c, H_c, W_c)
    deltas: list = [None] * c  # filled from the last block down
    grads: list = [None] * c
    for l in range(c, 0, -1):
        block, z, a_prev = conv[l - 1], R.zs[l - 1], R.activations[l - 1]
        routed = route(nabla_a, g(z), block) if route else None
        if routed is not None:
            nabla_a, block = routed, _unpooled_block(block)
        [deltas[l - 1]], [grads[l - 1]] = backward(
            (block,), p.params[l - 1 : l], [z], [a_prev], nabla_a, p.spec.activation, p.spec.weight_decay
        )
        if l > 1:
            nabla_a = transpose(deltas[l - 1], p.params[l - 1][0], block.stride, block.padding, a_prev.shape)
    return R._replace(deltas=deltas + R.deltas[c:], grads=grads + R.grads[c:])


def _bp2_without_padding(delta, K, stride, padding, shape):
    """BP2-conv as if block l had no padding: the transposed correlation onto a (H + 2p) × (W + 2p)
    input, of which the top-left H × W is kept instead of the middle."""
    m, C, H, W = shape
    return correlate_transpose(delta, K, stride, 0, (m, C, H + 2 * padding, W + 2 * padding))[:, :, :H, :W]


def padding_ignored(ev: Evidence) -> Diagnosis | None:
    if "gradients" not in ev.want:  # no single-pass check ran (an optimizer problem: Problem.kinds)
        return None
    padded = [l for l, block in enumerate(_blocks(ev), 1) if l > 1 and block.padding]
    if not padded:
        return None
    return reproduced(
        ev,
        "padding_ignored",
        _conv_backward(ev, transpose=_bp2_without_padding),
        f"δ^{{l−1}} below the padded layer(s) l = {', '.join(map(str, padded))} is shifted "
        "by p: BP2-conv ignores the padding, keeping the top-left H×W of ∂C/∂pad(a^{l−1})",
        "∂C/∂a^{l−1} is the transposed correlation onto pad(a^{l−1}), (H + 2p)×(W + 2p), with "
        "the padding ring cut off on every side, [p:p+H, p:p+W] (torch: conv_transpose2d "
        "with padding=p; lax: the padding in the transposed convolution)",
    )


def _copied_to_every_element(kind):
    """Routing that copies ∂C/∂a^l unchanged to every element of the pooling windows of ``kind``:
    the reference's avg routing (equal shares 1/size²) times size²."""

    def route(nabla_a, h, block):
        return unpool(nabla_a, h, "avg", block.pool_size) * block.pool_size**2 if block.pool == kind else None

    return route


def _to_last_maximum(nabla_a, h, block):
    """Max pooling's gradient sent to the LAST maximal element of each window: the reference's
    first-maximum routing on h rotated 180° (windows stay windows, their row-major order reversed)."""
    if block.pool != "max":
        return None
    rot = (..., slice(None, None, -1), slice(None, None, -1))
    return unpool(nabla_a[rot], h[rot], "max", block.pool_size)[rot]


def _routing(ev, signature, kind, route, cause, fix):
    if "gradients" not in ev.want:  # no single-pass check ran (an optimizer problem: Problem.kinds)
        return None
    pooled = [l for l, block in enumerate(_blocks(ev), 1) if block.pool == kind]
    if not pooled:
        return None
    where = f" (un-pooling in layer(s) {', '.join(map(str, pooled))}, before δ^l = ∂C/∂h ⊙ g′(z^l))"
    return reproduced(ev, signature, _conv_backward(ev, route=route), cause + where, fix)


def max_pool_to_every_element(ev: Evidence) -> Diagnosis | None:
    return _routing(
        ev,
        "max_pool_to_every_element",
        "max",
        _copied_to_every_element("max"),
        "the max-pooling gradient is copied to every element of its window, not sent to the "
        "window's maximum alone",
        "send each window's ∂C/∂a^l to its first maximal element "
        "(row-major order, as torch and JAX) and 0 to the others: a one-hot mask at the argmax",
    )


def max_pool_last_maximum(ev: Evidence) -> Diagnosis | None:
    return _routing(
        ev,
        "max_pool_last_maximum",
        "max",
        _to_last_maximum,
        "where a window holds tied maxima, the max-pooling gradient goes to the last of them, not the first",
        "send it to the FIRST maximal element in row-major window order, as "
        "torch and JAX do (np.argmax finds it; a >= comparison in a loop finds the last)",
    )


def avg_pool_undivided(ev: Evidence) -> Diagnosis | None:
    return _routing(
        ev,
        "avg_pool_undivided",
        "avg",
        _copied_to_every_element("avg"),
        "the avg-pooling gradient is copied to each element of its window without the "
        "1/pool_size² of the mean",
        "every element contributed 1/pool_size² of the mean: "
        "∂C/∂h = ∂C/∂a^l / pool_size² in each element of the window",
    )
