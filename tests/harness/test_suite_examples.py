"""The suite's Hypothesis tests cannot pass vacuously (conformance/suite/examples.py): declined draws are
filtered out and counted, a test that reached the verdict on fewer than its minimum of examples fails,
and an implementation that supports nothing of the kind drawn is a skip. Here the counting itself is
shown to fail: directly, and through the suite's own dense draws for an implementation that declines
all but a rare shape of network."""

import numpy as np
import pytest

import reference
from conformance.calls import supports
from conformance.problems import OUTPUT_LOSSES
from conformance.selfcheck import Verdicts
from conformance.suite import test_matrix
from conformance.suite.examples import Reached, drawable
from reference import HIDDEN_ACTIVATIONS


class Declining:
    """The reference, supporting only the specs ``accepts`` says yes to (dense only: no supports_conv)."""

    def __init__(self, name, accepts):
        self.name, self.accepts = name, accepts

    def supports(self, spec):
        return self.accepts(spec)

    def gradients(self, spec, params, x, y):
        return reference.backprop(spec, params, x, y)

    def train(self, spec, params, x, y, *, lr, batches):
        return reference.train(spec, params, x, y, lr=lr, batches=batches)


class Implementations:
    """What the suite's tests ask of its ``impls`` fixture (conformance/suite/conftest.py), for one
    implementation object."""

    def __init__(self, impl):
        self.impl, self._verdicts = impl, Verdicts()

    def get(self, name):
        return self.impl

    def supports(self, name, spec):
        return supports(self.impl, spec)

    def self_consistency(self, name):
        return self._verdicts.of(name, self.impl)


def test_fewer_examples_than_the_minimum_fail():
    reached = Reached("someone", "dense problems", 3)
    reached.add()
    reached.add()
    with pytest.raises(pytest.fail.Exception, match=r"^someone: only 2 drawn dense problems reached"):
        reached.check()
    reached.add()
    reached.check()  # the minimum itself passes


def test_an_implementation_that_declines_almost_every_draw_fails_the_dense_draws():
    """2-n-1 networks with n <= 3 only (the catalogue's nielsen-2-3-1 among them, so not a skip): the
    draws it accepts are too few for the minimum, and the test says so, naming it."""
    impl = Declining("rare", lambda s: len(s.sizes) == 3 and s.sizes[::2] == (2, 1) and s.sizes[1] <= 3)
    impls = Implementations(impl)
    reached = Reached("rare", "dense problems", test_matrix.MIN_DENSE_EXAMPLES)
    test_matrix.dense_examples(impls, "rare", drawable(impls, "rare", "dense"), reached)
    assert 0 < reached.count < test_matrix.MIN_DENSE_EXAMPLES
    with pytest.raises(pytest.fail.Exception, match=r"^rare: only \d+ drawn dense problems .* declined"):
        reached.check()


def test_nothing_of_the_kind_to_draw_is_a_skip():
    """A dense-only implementation has no conv problem to be drawn: the conv draws skip, saying why."""
    impls = Implementations(Declining("dense-only", lambda s: True))
    with pytest.raises(pytest.skip.Exception, match=r"^dense-only supports no conv problem of the catalogue"):
        drawable(impls, "dense-only", "conv")
    assert drawable(impls, "dense-only", "dense").output_losses == OUTPUT_LOSSES


def test_a_partial_implementation_is_drawn_what_it_supports():
    """Sigmoid + quadratic only, as the student in tests/cli: every draw is one it supports, so its
    examples all reach the verdict; the reference is drawn float32 only (golden vectors pin float64)."""
    student = Declining("student", lambda s: s.activation == s.output == "sigmoid" and s.loss == "quadratic")
    impls = Implementations(student)
    space = drawable(impls, "student", "dense")
    assert (space.activations, space.output_losses) == (("sigmoid",), (("sigmoid", "quadratic"),))
    assert space.decays == (0.0, 0.1) and space.dtypes == (np.float64, np.float32)
    reached = Reached("student", "dense problems", test_matrix.MIN_DENSE_EXAMPLES)
    test_matrix.dense_examples(impls, "student", space, reached)
    assert reached.count == test_matrix.DENSE_EXAMPLES
    reached.check()
    everything = drawable(Implementations(Declining("reference", lambda s: True)), "reference", "dense")
    assert everything.activations == HIDDEN_ACTIVATIONS and everything.dtypes == (np.float32,)
