"""Structure before values, always: Hypothesis draws malformed results — a wrong container, a wrong
length, a wrong dtype or shape, None in any slot, extra or missing layers, a foreign object where an
array belongs — and each must get a named structure failure (the quantity it broke), never a pass and
never an exception out of the checks or the diagnosis."""

from types import SimpleNamespace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reference
from conformance import CATALOGUE
from conformance.diagnosis.diagnose import run

PROBLEMS = [CATALOGUE["nielsen-2-3-1"], CATALOGUE["conv-decay"]]


class Tensor:
    """Stands for a framework tensor handed back unconverted."""


def bad_values(want):
    """Things that are not a numpy float64 array of ``want``'s shape."""
    return st.sampled_from(
        [
            None,
            want.tolist(),
            want.astype(np.int64),
            want.astype(np.float32),
            want.ravel()[:-1].copy(),
            np.zeros((*want.shape, 1)),
            Tensor(),
            float(want.ravel()[0]),
            {"value": want},
            (want,),
        ]
    )


@st.composite
def malformed_pairs(draw, want_pairs, family, conv_layers):
    """(a malformed list of pairs, the quantity a failure must name)."""
    L = len(want_pairs)
    pairs = [tuple(np.array(a) for a in pair) for pair in want_pairs]
    container = "grads" if family == "grads" else "final params"
    how = draw(st.sampled_from(["container", "missing layer", "extra layer", "pair", "slot"]))
    if how == "container":
        return draw(st.sampled_from([None, {}, 3, Tensor(), "grads"])), container
    if how == "missing layer":
        return pairs[:-1], container
    if how == "extra layer":
        return [*pairs, pairs[-1]], container
    l = draw(st.integers(0, L - 1))
    if how == "pair":
        pairs[l] = draw(st.sampled_from([(), pairs[l][:1], (*pairs[l], pairs[l][1]), None, pairs[l][0]]))
        return pairs, f"{container}[layer {l + 1}]"
    which = draw(st.integers(0, 1))
    pair = list(pairs[l])
    pair[which] = draw(bad_values(pair[which]))
    pairs[l] = tuple(pair)
    q = "b" if which else ("K" if l < conv_layers else "W")
    return pairs, f"{'d' if family == 'grads' else 'final '}{q}[layer {l + 1}]"


@st.composite
def malformed(draw):
    """(problem, kind, a malformed result, the quantity a structure failure must name)."""
    p = draw(st.sampled_from(PROBLEMS))
    kind = draw(st.sampled_from(["gradients", "train"]))
    if kind == "gradients":
        want = reference.backprop(p.spec, p.params, p.x, p.y)
        fields = dict(loss=want.loss, grads=[tuple(pair) for pair in want.grads])
        target = draw(st.sampled_from(["result", "loss", "grads", "zs"]))
        if target == "grads":
            fields["grads"], quantity = draw(malformed_pairs(want.grads, "grads", len(p.spec.conv)))
        elif target == "loss":
            fields["loss"], quantity = (
                draw(st.sampled_from([None, [want.loss], "0.1", True, np.array([want.loss]), Tensor()])),
                "loss",
            )
        elif target == "zs":  # optional, but checked when given
            fields["zs"], quantity = draw(st.sampled_from([want.zs[:-1], [None] * len(want.zs), 3])), "z"
        else:
            return (
                p,
                kind,
                *draw(
                    st.sampled_from(
                        [
                            (None, "gradients result"),
                            (fields, "gradients result"),
                            ((want.loss, want.grads), "gradients result"),
                            ([want.loss], "gradients result"),
                            (SimpleNamespace(loss=want.loss), "grads"),
                            (SimpleNamespace(grads=want.grads), "loss"),
                        ]
                    )
                ),
            )
        return p, kind, SimpleNamespace(**fields), quantity
    want = reference.train(p.spec, p.params, p.x, p.y, lr=p.lr, batches=p.batches)
    fields = dict(losses=list(want.losses), params=[tuple(pair) for pair in want.params])
    target = draw(st.sampled_from(["result", "losses", "params"]))
    if target == "params":
        fields["params"], quantity = draw(malformed_pairs(want.params, "trajectory", len(p.spec.conv)))
    elif target == "losses":
        fields["losses"], quantity = (
            draw(
                st.sampled_from(
                    [
                        None,
                        want.losses[:-1],
                        [*want.losses, 0.0],
                        [None] * len(want.losses),
                        np.array(want.losses)[:, None],
                        [str(v) for v in want.losses],
                        Tensor(),
                    ]
                )
            ),
            "losses",
        )
    else:
        return (
            p,
            kind,
            *draw(
                st.sampled_from(
                    [
                        (None, "train result"),
                        (fields, "train result"),
                        ((want.losses, want.params), "train result"),
                        (SimpleNamespace(params=want.params), "losses"),
                        (SimpleNamespace(losses=want.losses), "final params"),
                    ]
                )
            ),
        )
    return p, kind, SimpleNamespace(**fields), quantity


class Returns:
    """Correct in one entry point; ``result`` from the other."""

    supports_conv = True

    def __init__(self, kind, result):
        self.name, self.kind, self.result = "malformed", kind, result

    def gradients(self, spec, params, x, y):
        return self.result if self.kind == "gradients" else reference.backprop(spec, params, x, y)

    def train(self, spec, params, x, y, *, lr, batches):
        if self.kind == "train":
            return self.result
        return reference.train(spec, params, x, y, lr=lr, batches=batches)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=malformed())
def test_a_malformed_result_is_a_named_structure_failure(case):
    problem, kind, result, quantity = case
    outcome = run(Returns(kind, result), problem, "float64", kinds=(kind,))  # must not raise
    structure = [r for r in outcome.results if not r.passed and r.check == "structure"]
    assert structure, f"{kind} returning {result!r:.200} got no structure failure: " + "; ".join(
        r.message for r in outcome.results if not r.passed
    )
    assert not outcome.passed
    assert any(r.quantity == quantity or r.quantity.startswith(f"{quantity}[") for r in structure), (
        quantity,
        [r.message for r in structure],
    )
    assert all(r.impl in r.message and problem.name in r.message for r in structure)
    assert outcome.diagnoses, "a failing run gets a diagnosis line, if only 'no known signature matched'"
