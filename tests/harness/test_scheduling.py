"""The suite's xdist groups (conformance/suite/conftest.py ``scope``): which tests share a worker."""

import pytest

from conformance.suite.conftest import SHARING, scope
from conformance.targets.registry import RECORD

MATRIX = "conformance/suite/test_matrix.py::"
DISTRIBUTED = "conformance/suite/test_distributed.py::"


def test_the_sharing_implementations_are_those_with_one_gradients_entry_point():
    """Read off the registry: jax.scan runs jax.manual's backprop; nothing else is shared."""
    assert SHARING == {"jax.manual": "jax_impl.manual:backprop", "jax.scan": "jax_impl.manual:backprop"}
    assert {RECORD[name].gradients for name in SHARING} == {"jax_impl.manual:backprop"}


@pytest.mark.parametrize(
    "test",
    [
        "test_gradients[{}-float64-relu-kink]",
        "test_gradients[{}-float32-rnn-last-t1]",
        "test_hypothesis_problems[{}]",
        "test_hypothesis_recurrent_problems[{}]",
    ],
)
def test_a_shared_backward_pass_is_one_group(test):
    assert scope(MATRIX + test.format("jax.manual")) == scope(MATRIX + test.format("jax.scan"))


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("test_gradients[jax.manual-float64-relu-kink]", "test_gradients[jax.manual-float32-relu-kink]"),
        ("test_gradients[jax.manual-float64-relu-kink]", "test_gradients[jax.manual-float64-neuron]"),
        ("test_gradients[jax.manual-float64-relu-kink]", "test_gradients[jax.autodiff-float64-relu-kink]"),
        ("test_training[jax.manual-float64-relu-kink]", "test_training[jax.scan-float64-relu-kink]"),
        ("test_gradients[jax.scan-float64-relu-kink]", "test_training[jax.scan-float64-relu-kink]"),
        ("test_hypothesis_problems[jax.scan]", "test_hypothesis_conv_problems[jax.scan]"),
        ("test_self_consistency[jax.manual]", "test_self_consistency[jax.scan]"),
    ],
)
def test_everything_else_in_the_matrix_is_its_own_group(one, other):
    assert scope(MATRIX + one) != scope(MATRIX + other)


def test_an_ungrouped_test_is_its_own_scope():
    for test in ("test_training[torch.manual-float64-neuron]", "test_gradients[jax.flax-float32-neuron]"):
        assert scope(MATRIX + test) == MATRIX + test


def test_a_data_parallel_implementation_is_one_group_per_worker_count():
    w2 = DISTRIBUTED + "test_gradients[torch.ddp-w2-neuron-float64]"
    assert scope(w2) == scope(DISTRIBUTED + "test_training[torch.ddp-w2-relu-kink-float32]") == "torch.ddp-w2"
    assert scope(DISTRIBUTED + "test_training[torch.ddp-w3-neuron-float64]") == "torch.ddp-w3"
    assert scope(DISTRIBUTED + "test_training[jax.sharded-w2-neuron-float64]") == "jax.sharded-w2"
