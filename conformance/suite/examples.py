"""What keeps the suite's Hypothesis tests from passing without checking anything.

An implementation may decline a drawn problem (``supports``). Declined draws are filtered out
(``assume``), never passed; the strategies draw only the feature values the implementation accepts on
some catalogue problem (:func:`drawable`), so that a partial implementation is drawn what it can be
checked on; and each test counts the examples that reached the verdict (:class:`Reached`) and fails
when fewer than its stated minimum did. An implementation that supports no catalogue problem of the
kind drawn (a dense-only one and the conv or recurrent draws) is a skip, with the reason.
"""

from dataclasses import dataclass

import numpy as np
import pytest

from conformance.problems import CATALOGUE, OUTPUT_LOSSES
from reference import HIDDEN_ACTIVATIONS

DECAYS = (0.0, 0.1)  # the weight decays drawn: none, and one


@dataclass(frozen=True)
class Space:
    """The feature values the strategies draw from for one implementation: those of the catalogue
    problems of the kind (dense, conv or recurrent) that it supports, in the order of the full lists."""

    activations: tuple
    output_losses: tuple
    decays: tuple
    dtypes: tuple


KINDS = ("dense", "conv", "recurrent")


def kind_of(spec) -> str:
    """ "recurrent" for a spec with ``recurrent`` set, "conv" for one with conv blocks, else "dense"."""
    if getattr(spec, "recurrent", None) is not None:
        return "recurrent"
    return "conv" if getattr(spec, "conv", ()) else "dense"


def drawable(impls, impl_name, kind):
    """The :class:`Space` of ``impl_name`` (``impls``: the suite's Implementations) for problems of
    ``kind`` (KINDS); a skip, with the reason, when it supports no catalogue problem of that kind."""
    if kind not in KINDS:
        raise ValueError(f"kind: expected one of {KINDS}, got {kind!r}")
    specs = [
        p.spec for p in CATALOGUE.values() if kind_of(p.spec) == kind and impls.supports(impl_name, p.spec)
    ]
    if not specs:
        pytest.skip(f"{impl_name} supports no {kind} problem of the catalogue: nothing {kind} to draw")
    decayed = {s.weight_decay > 0 for s in specs}
    return Space(
        activations=tuple(a for a in HIDDEN_ACTIVATIONS if a in {s.activation for s in specs}),
        output_losses=tuple(pair for pair in OUTPUT_LOSSES if pair in {(s.output, s.loss) for s in specs}),
        decays=tuple(d for d in DECAYS if (d > 0) in decayed),
        # the reference in float64 is pinned by the golden vectors (tests/harness/test_golden.py)
        dtypes=(np.float32,) if impl_name == "reference" else (np.float64, np.float32),
    )


class Reached:
    """How many examples of one Hypothesis test reached the verdict for one implementation;
    :meth:`check` fails the test when fewer than ``minimum`` did."""

    def __init__(self, impl_name, what, minimum):
        self.impl_name, self.what, self.minimum, self.count = impl_name, what, minimum, 0

    def add(self):
        self.count += 1

    def check(self):
        if self.count < self.minimum:
            pytest.fail(
                f"{self.impl_name}: only {self.count} drawn {self.what} reached the verdict, fewer than "
                f"the {self.minimum} this test must check: {self.impl_name} declined (supports) "
                f"the others",
                pytrace=False,
            )
