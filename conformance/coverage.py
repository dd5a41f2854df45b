"""Coverage by construction: every pair of feature values occurs together in some catalogue problem.

A bug in a backprop port is usually switched on by one feature value and shown by another: the L2
penalty added once per example instead of once per batch (Nielsen's network2.py, ported loosely)
only shows when λ > 0 *and* the port is one that gets the problem (a sigmoid output, for a port that
implements nothing else); ReLU′(0) = 1 only shows on an exact kink *with* the output the port
implements (softmax, for CS231n's two-layer net). Both of these passed the catalogue once, because
no problem had that pair of values, although each value on its own was well represented.

Combinatorial testing calls this pairwise (2-way) coverage: describe each problem by a few features
with a few values each, and ask that every pair (f1 = v1, f2 = v2) the contract allows occurs in at
least one problem. Faults that need one or two features to show are the large majority in the
empirical studies of that field (Kuhn, Wallace & Gallo 2004), and a covering array reaches all pairs
with far fewer rows than the cross product: here 9 features with 2 to 6 values make 2340 allowed
combinations but only 283 allowed pairs, and the catalogue covers them with about sixty problems
(most of them there for reasons of their own: seed networks, golden vectors, ties).

One more twist: an implementation may support only part of the catalogue (``supports(spec)``, and
conv problems only with ``supports_conv``; checks.py), and within what it gets, pairs must still be
covered, or a dense-only port is checked against fewer pairs than the catalogue boasts. So the
pairs are also asked for within each :data:`PROFILES` entry: a typical partial implementation.

:func:`features` describes a problem, :func:`allowed_pairs` lists what the contract allows,
:func:`missing_pairs` what a set of problems leaves out; ``python -m conformance.coverage`` prints
the gaps of the catalogue, and tests/harness/test_coverage.py fails on any.
"""

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np

import reference
from conformance.calls import supports
from conformance.problems import OUTPUT_LOSSES, Problem
from conformance.spec import Spec
from reference import HIDDEN_ACTIVATIONS
from reference.validation import OPTIMIZER_DEFAULTS, READS

# feature -> its values, in the order messages list them. Each feature is documented in features().
FEATURES = {
    "activation": HIDDEN_ACTIVATIONS,  # sigmoid, tanh, relu, identity
    "output": tuple(f"{out}/{loss}" for out, loss in OUTPUT_LOSSES),  # the six pairings
    "decay": ("off", "on"),
    "kink": ("off", "on"),
    "batches": ("one", "even", "ragged"),
    "conv": ("none", "conv"),
    "recurrent": ("none", "all", "last"),  # a recurrent spec's output mode; none for dense and conv
    "pool": ("none", "max", "avg"),  # conv only
    "stride": ("1", ">1"),  # conv only
    "padding": ("0", ">0"),  # conv only
}

# The features a spec determines (a profile's supports(spec) can only look at these); kink and batches
# are properties of a problem's weights and data.
SPEC_FEATURES = ("activation", "output", "decay", "conv", "recurrent", "pool", "stride", "padding")

# ((f1, v1), (f2, v2)): two feature values that occur together, f1 before f2 in FEATURES
FeaturePair: TypeAlias = tuple[tuple[str, str], tuple[str, str]]

# What the contract allows together, as data. The output feature already holds only the pairings
# costs.py allows (softmax with log_likelihood only, cross-entropy with a sigmoid output only), and
# the hidden activation never is softmax; what remains is:
CONV_ONLY = ("pool", "stride", "padding")  # a problem has these exactly when conv = "conv"
REQUIRES = {
    # A kink is a pre-activation at exactly 0 in a layer whose activation is ReLU, which needs a ReLU
    # hidden activation (the output layer is not counted, see features()).
    ("kink", "on"): ("activation", "relu"),
}


def allowed(assignment: Mapping[str, str]) -> bool:
    """Whether one problem may have these feature values, one value per feature present: the
    constraints above, applied to a whole assignment (so that a pair is allowed exactly when some
    allowed problem has both of its values, e.g. kink=on × pool=max needs a ReLU conv net)."""
    if {f in assignment for f in CONV_ONLY} != {assignment.get("conv") == "conv"}:
        return False  # all of them with conv blocks, none without
    if assignment.get("conv") == "conv" and assignment.get("recurrent", "none") != "none":
        return False  # a recurrent spec has no conv blocks (reference/validation.py)
    return all(
        assignment.get(need[0]) == need[1]
        for have, need in REQUIRES.items()
        if assignment.get(have[0]) == have[1]
    )


def features(problem: Problem) -> dict[str, frozenset[str]]:
    """{feature: frozenset of values} of one problem (a set, because a conv stack can have a max block
    and an avg block; the other features have exactly one value):

    - ``activation``: the hidden activation g.
    - ``output``: the output activation and cost, e.g. ``"sigmoid/cross_entropy"``.
    - ``decay``: ``"on"`` when λ = weight_decay > 0 (BP4's λW and the penalty in C).
    - ``kink``: ``"on"`` when some pre-activation of a hidden ReLU layer (conv or dense) is exactly 0.0
      on the problem's x, found by running the reference, not from the name: there ReLU′(0) = 0 is the
      contract, and ``maximum``'s 0.5 or a ``z >= 0`` mask's 1 give other gradients. (A ReLU output
      layer at exactly 0 is not counted: no problem builds one, and it would need its own feature.)
    - ``batches``: ``"one"`` when m = 1 (the gradient check and every step see a single example: a
      ``squeeze`` or a broadcast of (n,) against (1, n) shows); ``"ragged"`` when the batches differ
      in size (the last of an epoch shorter: a port that divides by the nominal batch size, or by m,
      shows); ``"even"`` otherwise (every batch full, m > 1).
    - ``conv``: ``"conv"`` for a spec with conv blocks, else ``"none"``.
    - ``recurrent``: the output mode of a recurrent spec, ``"all"`` (an output at every time step)
      or ``"last"`` (after the last step only), else ``"none"``.
    - conv only, each a set over the blocks: ``pool`` (``"none"``, ``"max"``, ``"avg"``), ``stride``
      (``"1"``, ``">1"``) and ``padding`` (``"0"``, ``">0"``).
    """
    spec = problem.spec
    found = spec_features(spec)
    zs = reference.backprop(spec, problem.params, problem.x, problem.y).zs
    relu_layers = zs[:-1] if spec.activation == "relu" else []  # every layer but the output is hidden
    found["kink"] = frozenset({"on" if any(np.any(z == 0.0) for z in relu_layers) else "off"})
    sizes = {len(batch) for batch in problem.batches}
    found["batches"] = frozenset({"one" if len(problem.x) == 1 else "ragged" if len(sizes) > 1 else "even"})
    return found


def spec_features(spec: Spec) -> dict[str, frozenset[str]]:
    """The features a spec alone determines (all but kink and batches), as in :func:`features`."""
    blocks = tuple(getattr(spec, "conv", ()) or ())
    found = {
        "activation": frozenset({spec.activation}),
        "output": frozenset({f"{spec.output}/{spec.loss}"}),
        "decay": frozenset({"on" if spec.weight_decay > 0 else "off"}),
        "conv": frozenset({"conv" if blocks else "none"}),
        "recurrent": frozenset({getattr(getattr(spec, "recurrent", None), "outputs", "none")}),
    }
    if blocks:
        found["pool"] = frozenset(b.pool or "none" for b in blocks)
        found["stride"] = frozenset("1" if b.stride == 1 else ">1" for b in blocks)
        found["padding"] = frozenset("0" if b.padding == 0 else ">0" for b in blocks)
    return found


@dataclass(frozen=True, eq=False)
class Profile:
    """A typical partial implementation: ``supports(spec)`` accepts a spec whose features all lie in
    ``domain`` (feature -> the values it implements; a feature not named is implemented in full).
    It is an implementation as far as checks.supports is concerned, so conv problems reach it only
    when ``"conv"`` is in its domain."""

    name: str
    who: str  # whom it stands for
    domain: Mapping = field(default_factory=dict)

    def __post_init__(self) -> None:
        for f, values in self.domain.items():
            if f not in SPEC_FEATURES or not set(values) <= set(FEATURES[f]):
                raise ValueError(f"profile {self.name}: {f}={values!r} is not a spec feature's values")

    @property
    def supports_conv(self) -> bool:
        return "conv" in self.domain.get("conv", FEATURES["conv"])

    @property
    def supports_recurrent(self) -> bool:
        return set(self.domain.get("recurrent", FEATURES["recurrent"])) != {"none"}

    def supports(self, spec: Spec) -> bool:
        return all(
            values <= set(self.domain.get(f, FEATURES[f])) for f, values in spec_features(spec).items()
        )


DENSE = {"conv": ("none",), "recurrent": ("none",)}
PROFILES = (
    Profile(
        "dense-only",
        "every student's first implementation: an MLP with no supports_conv, which "
        "the harness never hands a conv problem",
        DENSE,
    ),
    Profile(
        "softmax-log-likelihood",
        "CS231n's two-layer net (assignment 1) and any classifier-only "
        "port: softmax output with the log-likelihood, L2 regularisation, any hidden activation "
        "(ReLU there), dense",
        {"output": ("softmax/log_likelihood",), **DENSE},
    ),
    Profile(
        "nielsen-network2",
        "Nielsen's network2.py (chapter 3): sigmoid hidden and output layers, "
        "QuadraticCost or CrossEntropyCost, L2 regularisation λ, dense",
        {"activation": ("sigmoid",), "output": ("sigmoid/quadratic", "sigmoid/cross_entropy"), **DENSE},
    ),
    Profile(
        "nielsen-network",
        "Nielsen's network.py (chapter 1, seed 004): sigmoid everywhere, the "
        "quadratic cost, no regularisation, dense",
        {"activation": ("sigmoid",), "output": ("sigmoid/quadratic",), "decay": ("off",), **DENSE},
    ),
)


def _domain(profile):
    """feature -> the values a problem admitted by ``profile`` can have."""
    return {f: tuple(profile.domain.get(f, values)) if profile else values for f, values in FEATURES.items()}


def allowed_pairs(profile: Profile | None = None) -> list[FeaturePair]:
    """Every pair ((f1, v1), (f2, v2)), f1 before f2 in FEATURES, that some problem the contract allows
    (and ``profile`` supports) has: the pairs of all allowed assignments, enumerated (a few thousand)."""
    domain = _domain(profile)
    dense = [f for f in FEATURES if f not in CONV_ONLY]
    pairs: set[tuple] = set()
    for conv in domain["conv"]:
        names = dense if conv == "none" else list(FEATURES)
        choices = [domain[f] if f != "conv" else (conv,) for f in names]
        for values in itertools.product(*choices):
            assignment = dict(zip(names, values))
            if allowed(assignment):
                pairs.update(itertools.combinations(assignment.items(), 2))
    return _sorted(pairs)


def covered_pairs(problems: Iterable[Problem]) -> set[FeaturePair]:
    """Every pair ((f1, v1), (f2, v2)) that some problem of ``problems`` has: v1 ∈ features[f1] and
    v2 ∈ features[f2]."""
    return set().union(*map(_pairs, problems))


def _pairs(problem: Problem) -> set[FeaturePair]:
    found = features(problem)
    items = [(f, v) for f in FEATURES if f in found for v in found[f]]
    return {(a, b) for a, b in itertools.combinations(items, 2) if a[0] != b[0]}


def missing_pairs(
    problems: Iterable[Problem] | Mapping[str, Problem], profile: Profile | None = None
) -> list[FeaturePair]:
    """The allowed pairs (within ``profile``, if given) that no problem (of those ``profile`` supports)
    covers, in FEATURES order. ``problems``: an iterable of problems, or a mapping such as CATALOGUE."""
    problems = problems.values() if isinstance(problems, Mapping) else problems
    admitted = [p for p in problems if profile is None or supports(profile, p.spec, p.optimizer)]
    covered = covered_pairs(admitted)
    return [pair for pair in allowed_pairs(profile) if pair not in covered]


def _sorted(pairs):
    order = {(f, v): i for i, (f, v) in enumerate((f, v) for f, vs in FEATURES.items() for v in vs)}
    return sorted(pairs, key=lambda pair: (order[pair[0]], order[pair[1]]))


def describe(pair: Iterable[tuple[str, str]]) -> str:
    """e.g. 'output=sigmoid/quadratic × decay=on'."""
    return " × ".join(f"{f}={v}" for f, v in pair)


def training_features(problem: Problem) -> set[tuple[str, str]]:
    """What a problem's training asks for beyond its spec and data: the optimizer rule, each of its
    switches and clipping away from the default (e.g. ``("optimizer", "eps_in_sqrt")``), and a
    learning-rate schedule. Plain SGD at a constant rate has none."""
    optimizer, found = problem.optimizer, set()
    if optimizer is not None:
        found.add(("optimizer", optimizer.name))
        found.update(
            ("optimizer", k)
            for k, default in OPTIMIZER_DEFAULTS.items()
            if k not in READS[optimizer.name] and getattr(optimizer, k) != default
        )
    if isinstance(problem.lr, tuple) and len(set(problem.lr)) > 1:
        found.add(("schedule", "on"))
    return found


def covering(problems: Mapping[str, Problem]) -> list[str]:
    """The names of a small subset of ``problems`` that still has every feature pair they have, every
    optimizer rule, switch and schedule (training_features) and both check kinds, in ``problems``'
    order: for a second, costlier pass over the catalogue (CI runs the JAX matrix once more under
    XLA's default compiler so), where what matters is that every feature value meets every other,
    not that each problem is seen twice. (The profiles' shares are not kept: the pass is meant for
    implementations that support every problem.)

    Greedy set cover (each pick the problem with the most still uncovered, ties to the earlier one):
    within a factor ln(n) of the smallest cover, and deterministic."""
    wanted = {
        name: _pairs(p) | {("kind", kind) for kind in p.kinds} | training_features(p)
        for name, p in problems.items()
    }
    uncovered = set().union(*wanted.values())
    chosen: list[str] = []
    while uncovered:
        best = max(wanted, key=lambda name: len(wanted[name] & uncovered))  # max keeps the first tie
        chosen.append(best)
        uncovered -= wanted.pop(best)
    return [name for name in problems if name in chosen]


def main() -> None:
    from conformance.problems import CATALOGUE

    for profile in (None, *PROFILES):
        missing = missing_pairs(CATALOGUE, profile)
        name = profile.name if profile else "overall"
        print(f"{name}: {len(missing)} of {len(allowed_pairs(profile))} allowed pairs missing")
        for pair in missing:
            print(f"  {describe(pair)}")


if __name__ == "__main__":
    main()
