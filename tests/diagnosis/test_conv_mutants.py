"""Meta-test for the conv extension: every known-bad conv mutant is caught, by the check that names
the quantity it breaks, with a message that names the layer, and diagnosed by the signature of its
bug (conformance/diagnosis/signatures/conv.py) — the same one on every conv problem where it fails;
the bug-free control passes every conv problem of the catalogue and, as the shipped implementations, gets no
diagnosis."""

import numpy as np
import pytest

import reference
from conformance import CATALOGUE, NAMES, Unavailable, load
from conformance.calls import supports
from conformance.diagnosis.diagnose import run
from conformance.mutants import conv as conv_mutants_module
from conformance.mutants.conv import BUGS, ConvMutant
from conformance.mutants.dense import Mutant
from reference.conv import pool_windows, unpool, unpool_windows
from tests.helpers.mutants import assert_caught, assert_one_diagnosis

# Problems that together expose every bug: padding on a second block and both poolings
# (conv-lenet-2x9x9), stride 2 (conv-stride2-pad1), weight decay on two blocks (conv-decay),
# max-pooling over 3×3 windows (conv-max-pool-3), and exact ReLU kinks in a conv block (conv-relu-kink).
PROBLEMS = ["conv-lenet-2x9x9", "conv-stride2-pad1", "conv-decay", "conv-max-pool-3", "conv-relu-kink"]
# plain-SGD mutants: the conv problems without an optimizer
CONV_PROBLEMS = [name for name, p in CATALOGUE.items() if p.spec.conv and p.optimizer is None]

# bug -> the signature that must diagnose it wherever it fails (diagnose.SIGNATURES)
EXPECTED = {
    "kernel_flipped": "kernel_flipped",
    "padding_ignored": "padding_ignored",
    "max_pool_to_all": "max_pool_to_every_element",
    "avg_pool_undivided": "avg_pool_undivided",
    "flatten_f_order": "flatten_order",
    "stride_ignored_bp4": "stride_ignored",
    "bias_averaged": "bias_averaged",
    "kernels_not_decayed": "kernels_not_decayed",
    "relu_prime_one_at_zero": "relu_kink",
}


def outcomes(impl, problems):
    return [run(impl, CATALOGUE[name], "float64") for name in problems]


def signatures(outcome):
    return [d.signature for d in outcome.diagnoses]


@pytest.mark.parametrize("bug", list(BUGS))
def test_conv_mutant_is_caught_by_the_right_check_and_diagnosed(bug):
    _, family, quantity = BUGS[bug]
    runs = outcomes(ConvMutant(bug), PROBLEMS)
    for r in assert_caught(runs, f"conv_mutant.{bug}", BUGS[bug][0], family, quantity):
        assert "layer" in r.message, r.message
    for o in runs:  # the bug's own signature first, then the training failures as its consequence
        if not o.passed:
            assert signatures(o) == [EXPECTED[bug], "consequence"], "\n".join(o.lines())


@pytest.mark.parametrize("bug", list(BUGS))
def test_one_conv_failure_cause_gets_one_diagnosis(bug):
    """The same signature on every conv problem of the catalogue where the conv mutant fails (9 mutants
    × 16 problems in 2.5 s on one core, when written)."""
    impl = ConvMutant(bug)
    assert_one_diagnosis(outcomes(impl, CONV_PROBLEMS), impl.name, EXPECTED[bug])


def test_relu_kinks_in_a_conv_block_are_diagnosed_there():
    """ReLU′(0) = 1 in the conv block only: δ^1, ∂K^1 and ∂b^1 differ on channel 0 (z^1 = 0 there) and
    the diagnosis names the conv block."""
    outcome = run(ConvMutant("relu_prime_one_at_zero"), CATALOGUE["conv-relu-kink"])
    failing = {(r.check, r.quantity) for r in outcome.results if not r.passed and r.check != "trajectory"}
    assert failing == {("deltas", "delta[layer 1]"), ("grads", "dK[layer 1]"), ("grads", "db[layer 1]")}
    assert signatures(outcome) == ["relu_kink", "consequence"], outcome.lines()
    assert "(in the conv block(s) l = 1, δ^l = ∂C/∂h ⊙ g′(z^l)" in outcome.diagnoses[0].line


def test_one_wrong_relu_prime_in_conv_and_dense_layers_is_one_diagnosis(monkeypatch):
    """A student's one ReLU′ serves both: with the dense layers' kinks wrong too (the dense mutant's
    backprop behind the conv blocks), δ, ∂b, ∂W of layer 2 differ as well, and relu_kink reads both."""
    monkeypatch.setattr(
        conv_mutants_module,
        "backprop_unchecked",
        lambda spec, *args: Mutant("relu_prime_one_at_zero")._backprop(spec, *args),
    )
    outcome = run(ConvMutant("relu_prime_one_at_zero"), CATALOGUE["conv-relu-kink"])
    assert {r.layer for r in outcome.results if not r.passed and r.check == "grads"} == {1, 2}
    assert signatures(outcome) == ["relu_kink", "consequence"], outcome.lines()
    assert "of those units; in the conv block(s) l = 1" in outcome.diagnoses[0].line


def test_flatten_order_is_caught_at_the_first_dense_layer():
    """conv-lenet-2x9x9 has two conv blocks: the F-order flatten first shows in z of layer 3."""
    outcome = run(ConvMutant("flatten_f_order"), CATALOGUE["conv-lenet-2x9x9"])
    assert min(r.layer for r in outcome.results if not r.passed and r.check == "forward") == 3
    assert "z of the first dense layer (3) is what a column-major" in outcome.diagnoses[0].line


def test_ties_routed_to_the_last_maximum_are_diagnosed(monkeypatch):
    """conv-max-pool-tie holds tied maxima: a max un-pooling that picks the last of them (here the
    control with such an unpool) is told to pick the first."""

    def to_last_maximum(nabla_a, h, kind, size):
        if kind != "max":
            return unpool(nabla_a, h, kind, size)
        last = size * size - 1 - pool_windows(h, size)[..., ::-1].argmax(axis=-1)
        return unpool_windows((np.arange(size * size) == last[..., None]) * nabla_a[..., None], size)

    monkeypatch.setattr(conv_mutants_module, "unpool", to_last_maximum)
    outcome = run(ConvMutant(None), CATALOGUE["conv-max-pool-tie"])
    assert signatures(outcome) == ["max_pool_last_maximum", "consequence"], outcome.lines()
    assert "FIRST maximal element" in outcome.diagnoses[0].line


def test_kernels_left_out_of_both_decay_and_cost_are_diagnosed():
    """λ on the weights W only, in the gradient and in the cost alike."""

    class NoKernelDecay(ConvMutant):
        def _backprop(self, spec, params, x, y):
            result = super()._backprop(spec, params, x, y)
            penalty = 0.5 * spec.weight_decay * sum(np.sum(K * K) for K, _ in params[: len(spec.conv)])
            return result._replace(loss=result.loss - penalty)

    outcome = run(NoKernelDecay("kernels_not_decayed"), CATALOGUE["conv-decay"])
    assert signatures(outcome) == ["kernels_not_decayed", "consequence"], outcome.lines()
    assert "the cost leaves out (λ/2)Σ‖K^l‖²" in outcome.diagnoses[0].line


def test_a_conv_bias_bug_of_no_known_shape_gets_the_conv_form_of_bp3():
    """Only the conv biases wrong (doubled): bias_only, with BP3-conv's sum over positions."""

    class DoubledConvBias:
        name = "doubled"

        def gradients(self, spec, params, x, y):
            result = reference.backprop(spec, params, x, y)
            c = len(spec.conv)
            return result._replace(grads=[(dK, 2 * db) for dK, db in result.grads[:c]] + result.grads[c:])

    [d] = run(DoubledConvBias(), CATALOGUE["conv-stride2-pad1"], kinds=("gradients",)).diagnoses
    assert d.signature == "bias_only" and "(BP3-conv)" in d.line


def test_bug_free_control_passes_every_conv_problem_without_a_diagnosis():
    assert len(CONV_PROBLEMS) >= 12
    runs = outcomes(ConvMutant(None), CONV_PROBLEMS)
    assert all(o.results and o.passed and not o.diagnoses for o in runs), [o.lines() for o in runs]


@pytest.mark.parametrize("name", NAMES)
def test_shipped_implementations_get_no_conv_diagnosis(name):
    """Two problems that hold every conv feature the signatures read (padding, stride, both poolings,
    two blocks, weight decay); the conformance matrix (conformance/suite) runs them all."""
    try:
        impl = load(name)
    except Unavailable as exc:
        pytest.skip(str(exc))
    problems = [n for n in ("conv-lenet-2x9x9", "conv-decay") if supports(impl, CATALOGUE[n].spec)]
    if not problems:
        pytest.skip(f"{name} does not support conv specs")
    runs = outcomes(impl, problems)
    assert all(o.passed and not o.diagnoses for o in runs), [o.lines() for o in runs]
