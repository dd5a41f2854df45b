"""The catalogue covers every pair of feature values the contract allows (conformance/coverage.py),
overall and within each partial implementation's share of it; the feature model itself is tested
on hand-built problems, so that the coverage test cannot pass by seeing nothing; and the two
historical holes stay closed, shown by the mutants that once slipped through them."""

from dataclasses import replace

import numpy as np
import pytest

from conformance import CATALOGUE, Conv, Spec, check, coverage, make_problem
from conformance.calls import supports
from conformance.coverage import PROFILES, Profile, allowed_pairs, describe, features, missing_pairs
from conformance.mutants.dense import Mutant

PROFILE = {p.name: p for p in PROFILES}


@pytest.mark.parametrize("profile", [None, *PROFILES], ids=lambda p: p.name if p else "overall")
def test_catalogue_covers_every_allowed_pair(profile):
    missing = missing_pairs(CATALOGUE, profile)
    where = f"within the problems {profile.name} supports ({profile.who})" if profile else "overall"
    assert not missing, f"{len(missing)} allowed pairs have no catalogue problem {where}:\n  " + "\n  ".join(
        describe(pair) for pair in missing
    )


# --- the feature model, on problems whose features are known by construction ---------------------


def dense(activation="sigmoid", output="sigmoid", loss="quadratic", decay=0.0, **kwargs):
    return make_problem(Spec((3, 4, 2), activation, output, loss, decay), 7, name="hand-built", **kwargs)


def value(problem, feature):
    [v] = features(problem)[feature]
    return v


def test_dense_features():
    found = features(dense("relu", "softmax", "log_likelihood", 0.1))
    assert found == {
        "activation": {"relu"},
        "output": {"softmax/log_likelihood"},
        "decay": {"on"},
        "kink": {"off"},
        "batches": {"ragged"},
        "conv": {"none"},
        "recurrent": {"none"},
    }  # no conv-only features


def test_kinks_are_found_in_the_data_not_in_the_name():
    assert value(dense("relu", relu_kink=True), "kink") == "on"
    p = dense("relu")
    assert value(p, "kink") == "off"
    (W, b), *rest = p.params  # one hidden unit with zero weights and bias, by hand: z = 0.0 exactly
    assert (
        value(
            replace(p, params=[(np.where(np.arange(4)[:, None] == 1, 0.0, W), b * [1, 0, 1, 1]), *rest]),
            "kink",
        )
        == "on"
    )
    assert value(dense("tanh", relu_kink=True), "kink") == "off"  # z = 0.0, but tanh has no kink


def test_batch_shapes():
    assert value(dense(), "batches") == "ragged"  # make_problem's default: 10 examples in 3, 3, 3, 1
    assert value(dense(batch_size=5), "batches") == "even"
    assert value(dense(m=5, batch_size=1), "batches") == "even"  # SGD on single examples, m = 5
    assert value(dense(m=1, batch_size=1), "batches") == "one"
    assert value(replace(dense(), batches=[np.arange(4), np.arange(4, 10)]), "batches") == "ragged"


def test_conv_features_are_sets_over_the_blocks():
    spec = Spec(
        (3, 3),
        "relu",
        "sigmoid",
        "cross_entropy",
        input_shape=(1, 8, 8),
        conv=(Conv(2, 3, stride=2, padding=1, pool="max"), Conv(3, 3, padding=1, pool="avg")),
    )
    found = features(make_problem(spec, 3, relu_kink=True))
    assert found["conv"] == {"conv"} and found["kink"] == {"on"}
    assert found["pool"] == {"max", "avg"} and found["stride"] == {"1", ">1"} and found["padding"] == {">0"}


def test_what_the_contract_allows():
    pairs = allowed_pairs()
    assert (("activation", "relu"), ("kink", "on")) in pairs
    assert (("activation", "tanh"), ("kink", "on")) not in pairs  # only a ReLU layer has a kink
    assert (("conv", "none"), ("pool", "max")) not in pairs  # conv-only features need conv blocks
    assert (("kink", "on"), ("pool", "max")) in pairs  # a ReLU conv net
    assert not coverage.allowed({"activation": "sigmoid", "kink": "on"})
    # Every pair of two different features' values, less the 3 kink=on × non-ReLU pairs, the
    # 3 + 2 + 2 conv-only values × conv=none, the 2 recurrent modes × conv=conv and the 7 conv-only
    # values × the 2 recurrent modes; the dense features have 4, 6, 2, 2, 3, 2, 3 values.
    values = [len(v) for v in coverage.FEATURES.values()]
    every = (sum(values) ** 2 - sum(n * n for n in values)) // 2
    assert len(pairs) == every - 3 - (3 + 2 + 2) - 2 - 7 * 2 == 345
    assert (("conv", "conv"), ("recurrent", "all")) not in pairs  # a recurrent net has no conv blocks
    assert (("kink", "on"), ("recurrent", "last")) in pairs
    nielsen = allowed_pairs(PROFILE["nielsen-network2"])
    assert not [pair for pair in nielsen if ("kink", "on") in pair or ("conv", "conv") in pair]


def test_two_problems_leave_exactly_their_uncovered_pairs():
    """Two dense problems with no feature value in common but conv = none and recurrent = none cover
    21 pairs each (7 features), one of them, (conv=none, recurrent=none), shared."""
    a = dense()  # sigmoid, sigmoid/quadratic, λ = 0, no kink, ragged
    b = dense("relu", "softmax", "log_likelihood", 0.1, relu_kink=True, batch_size=5)
    missing = missing_pairs([a, b])
    assert len(missing) == len(allowed_pairs()) - (2 * 21 - 1)
    assert (("activation", "sigmoid"), ("decay", "on")) in missing
    assert (("output", "sigmoid/quadratic"), ("kink", "on")) in missing
    assert (("activation", "relu"), ("kink", "on")) not in missing
    assert (("output", "softmax/log_likelihood"), ("batches", "even")) not in missing
    # Within the softmax profile only b is admitted: a's pairs count no more, and no pair with
    # another output is asked for.
    profile = PROFILE["softmax-log-likelihood"]
    softmax = missing_pairs([a, b], profile)
    assert len(softmax) == len(allowed_pairs(profile)) - 21
    assert (("activation", "sigmoid"), ("decay", "off")) in softmax  # a has it, but a is sigmoid/quadratic
    assert not [pair for pair in softmax if ("output", "sigmoid/quadratic") in pair]


def test_profiles_are_implementations_to_the_harness():
    conv = CATALOGUE["conv-lenet-1x8x8"].spec
    assert not supports(PROFILE["dense-only"], conv) and supports(PROFILE["dense-only"], dense().spec)
    assert supports(Profile("all", "anyone"), conv)
    assert not supports(PROFILE["softmax-log-likelihood"], dense().spec)
    assert not supports(PROFILE["nielsen-network"], dense(decay=0.1).spec)
    assert supports(PROFILE["nielsen-network2"], dense(decay=0.1).spec)
    with pytest.raises(ValueError, match="kink"):
        Profile("bad", "a profile cannot see the data", {"kink": ("off",)})


# --- the historical holes --------------------------------------------------------------------------


class Within:
    """A mutant as the partial implementation a profile stands for: it declines what it lacks."""

    def __init__(self, bug, profile):
        self.impl, self.profile, self.name = Mutant(bug), profile, f"{bug} within {profile.name}"
        self.supports, self.supports_conv = profile.supports, profile.supports_conv

    def gradients(self, *args):
        return self.impl.gradients(*args)

    def train(self, *args, **kwargs):
        return self.impl.train(*args, **kwargs)


def caught_on(impl):
    """The supported catalogue problems on which ``impl`` fails some check."""
    return [
        p
        for p in CATALOGUE.values()
        if supports(impl, p.spec, p.optimizer) and not all(r.passed for r in check(impl, p))
    ]


def test_a_sigmoid_output_has_weight_decay():
    """A loose port of network2.py adds the L2 term once per example: a catalogue whose sigmoid
    outputs all had λ = 0 passed it, as that port implements no other output."""
    decayed = [
        p
        for p in CATALOGUE.values()
        if p.spec.output == "sigmoid"
        and p.spec.weight_decay > 0
        and supports(PROFILE["nielsen-network2"], p.spec, p.optimizer)
    ]
    assert {p.spec.loss for p in decayed} == {"quadratic", "cross_entropy"}
    for bug in ("decay_per_example", "penalty_per_example"):
        caught = caught_on(Within(bug, PROFILE["nielsen-network2"]))
        assert caught and all(p.spec.weight_decay > 0 for p in caught), bug


def test_exact_kinks_meet_softmax():
    """CS231n-style code with ReLU′(0) = 1 implements only softmax: a catalogue whose kinks all sat
    under a sigmoid cross-entropy output passed it."""
    kinked = [p for p in CATALOGUE.values() if p.spec.output == "softmax" and value(p, "kink") == "on"]
    assert {value(p, "batches") for p in kinked if not p.spec.conv} == {"one", "even", "ragged"}
    caught = caught_on(Within("relu_prime_one_at_zero", PROFILE["softmax-log-likelihood"]))
    assert caught and all(value(p, "kink") == "on" for p in caught)


# --- the covering subset (CI's second pass of the JAX matrix, --catalogue=covering) ----------------


def test_the_covering_subset_keeps_every_pair_rule_switch_schedule_and_kind():
    chosen = coverage.covering(CATALOGUE)
    subset = {name: CATALOGUE[name] for name in chosen}
    assert len(chosen) < len(CATALOGUE) / 2, f"{len(chosen)} of {len(CATALOGUE)} problems: no saving"
    assert not missing_pairs(subset), [describe(p) for p in missing_pairs(subset)]
    for what, of in ((coverage.training_features, "training"), (lambda p: set(p.kinds), "kinds")):
        everything = set().union(*map(what, CATALOGUE.values()))
        kept = set().union(*map(what, subset.values()))
        assert kept == everything, f"{of} features lost: {sorted(everything - kept)}"


def test_covering_picks_what_only_one_problem_has():
    """A problem that alone has a feature pair is always chosen; one whose pairs all occur elsewhere
    is not (greedy set cover, ties to the earlier problem)."""
    base = {n: CATALOGUE[n] for n in ("neuron", "nielsen-2-3-1")}
    assert coverage.covering({**base, "again": CATALOGUE["neuron"]}) == coverage.covering(base)
    kink = CATALOGUE["relu-kink"]
    assert "relu-kink" in coverage.covering({**base, "relu-kink": kink})


def test_training_features_name_rule_switches_and_schedule():
    assert coverage.training_features(CATALOGUE["neuron"]) == set()
    found = coverage.training_features(CATALOGUE["opt-adam-clip-norm-eps"])
    assert ("optimizer", "adam") in found and ("optimizer", "clip_norm") in found
    assert ("schedule", "on") in coverage.training_features(CATALOGUE["opt-momentum-buffer-lr-drop"])
