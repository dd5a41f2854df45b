"""The one problem generator: spec + seed -> weights, data and batch order, all from PCG64(seed).

A :class:`Problem` is everything an implementation is handed; the catalogue is the fixed list the
suite runs (every activation × cost pairing, the seed networks, deep and square nets, batch size 1,
weight decay on and off, ReLU pre-activations that are exactly 0; conv stacks, max-pool ties and an
autoencoder). It is also a covering array: every pair of feature values the contract allows (the
hidden activation, the output and cost, λ, kinks, the batch shape, and the conv blocks' pooling,
stride and padding) occurs in some problem, overall and within what each typical partial
implementation supports (coverage.py; tests/harness/test_coverage.py). Hypothesis draws further problems
through :func:`make_problem` as well.
"""

from dataclasses import dataclass, replace
from typing import TypedDict

import numpy as np
import numpy.typing as npt

from conformance.optimizer import Optimizer
from conformance.spec import Conv, Recurrent, Spec
from reference import HIDDEN_ACTIVATIONS, batch_order, init_params, rng_from
from reference.conv import conv_stack

# (output activation, cost) pairs the contract allows (reference/costs.py PAIRINGS).
OUTPUT_LOSSES = (
    ("sigmoid", "quadratic"),
    ("tanh", "quadratic"),
    ("relu", "quadratic"),
    ("identity", "quadratic"),
    ("sigmoid", "cross_entropy"),
    ("softmax", "log_likelihood"),
)


@dataclass(frozen=True, eq=False)  # hashed by identity: checks.py caches the reference per problem
class Problem:
    name: str
    spec: Spec
    params: list  # [(W, b)] ((K, b) first for conv blocks; (W, U, b) for recurrent layers), float64
    x: np.ndarray  # (m, n_0), or (m, C_0, H_0, W_0) with conv blocks, or (m, T, n_0) recurrent
    y: np.ndarray  # (m, n_L), or (m, T, n_L) for a recurrent spec with outputs="all"
    batches: list  # index arrays into x, y: one SGD step each
    lr: float | tuple[float, ...]  # η, or η_t for each step t (a schedule: then an optimizer is set)
    optimizer: Optimizer | None = None  # None: plain SGD at the constant rate lr, as always

    def __post_init__(self) -> None:
        if isinstance(self.lr, tuple) and (self.optimizer is None or len(self.lr) != len(self.batches)):
            raise ValueError(f"{self.name}: a schedule needs an optimizer and one rate per batch")

    @property
    def dtype(self) -> np.dtype:
        return self.x.dtype

    @property
    def kinds(self) -> tuple[str, ...]:
        """What is checked: a backward pass and a run; an optimizer problem only runs (its spec's
        backward pass is what the plain problems check)."""
        return ("train",) if self.optimizer is not None else ("gradients", "train")

    def as_dtype(self, dtype: npt.DTypeLike) -> "Problem":
        """The same problem in ``dtype``, cast once here so every implementation sees identical values."""
        dtype = np.dtype(dtype)
        return replace(
            self,
            params=[tuple(a.astype(dtype) for a in layer) for layer in self.params],
            x=self.x.astype(dtype),
            y=self.y.astype(dtype),
        )


def layer_names(l: int, conv_layers: int, size: int) -> tuple[str, ...]:
    """The names of layer l's arrays: (K, b) for a conv block, (W, U, b) for a recurrent layer, else
    (W, b)."""
    if size == 3:
        return ("W", "U", "b")
    return ("K", "b") if l <= conv_layers else ("W", "b")


def targets(rng: np.random.Generator, spec: Spec, m: int) -> npt.NDArray[np.float64]:
    """Targets in the range the output activation and cost can reach: (m, n_L), or (m, T, n_L) for
    a recurrent spec with an output at every step (drawn as m·T rows, example by example)."""
    recurrent = getattr(spec, "recurrent", None)
    if recurrent is not None and recurrent.outputs == "all":
        flat = replace(spec, recurrent=None) if isinstance(spec, Spec) else spec
        return targets(rng, flat, m * recurrent.steps).reshape(m, recurrent.steps, -1)
    n = spec.sizes[-1]
    if spec.loss == "log_likelihood":
        return np.eye(n)[rng.integers(0, n, m)]  # one-hot classes
    if spec.loss == "cross_entropy":
        return (rng.random((m, n)) < 0.5).astype(np.float64)  # binary labels
    if spec.output == "sigmoid":
        return rng.random((m, n))
    if spec.output == "tanh":
        return rng.uniform(-1, 1, (m, n))
    return rng.standard_normal((m, n))


def make_problem(
    spec: Spec,
    seed: int,
    *,
    m: int = 10,
    batch_size: int = 3,
    epochs: int = 3,
    lr: float = 0.5,
    init: str = "scaled",
    name: str | None = None,
    relu_kink: bool = False,
    optimizer: Optimizer | None = None,
    lr_drops: tuple[tuple[int, float], ...] = (),
) -> Problem:
    """Weights (init_params), then x ~ N(0, 1), then targets, then the batch order: one PCG64 stream.
    x has shape (m, n_0), or (m, C_0, H_0, W_0) for a spec with conv blocks, or (m, T, n_0) for a
    recurrent spec.

    relu_kink=True makes the first hidden unit of every layer l < L (the first channel of a conv
    block: its whole kernel; a recurrent unit: its rows of W and U) have zero weights and a zero
    bias, so its pre-activation is exactly 0.0 for every example (and time step) in every framework:
    a ReLU whose derivative at 0 is not 0 (seed 002's convention, or jnp.maximum's 0.5) changes
    ∂C/∂W there.

    ``optimizer`` trains with that rule instead of plain SGD; ``lr_drops`` ((step, factor), ...)
    makes ``lr`` a schedule, η_t multiplied by each factor from its (0-based) step on.
    """
    rng = rng_from(seed)
    input_shape, conv = conv_stack(spec)
    recurrent = getattr(spec, "recurrent", None)
    if recurrent is not None:
        params = init_params(spec.sizes, rng, scheme=init, recurrent=True)
    else:
        params = init_params(spec.sizes, rng, scheme=init, input_shape=input_shape, conv=conv)
    if relu_kink:
        for layer in params[:-1]:
            for array in layer:  # W and b (K and b; W, U and b): the first unit's row
                array[0] = 0.0
    steps = () if recurrent is None else (recurrent.steps,)
    x = rng.standard_normal((m, *steps, *(input_shape or spec.sizes[:1])))
    y = targets(rng, spec, m)
    batches = batch_order(m, batch_size, epochs, rng)
    rate: float | tuple[float, ...] = lr
    if lr_drops:
        rate = tuple(lr * float(np.prod([f for s, f in lr_drops if s <= t])) for t in range(len(batches)))
        optimizer = optimizer or Optimizer("sgd")
    label = f"{spec.label} seed={seed}" + (f" {optimizer.label}" if optimizer else "")
    return Problem(name or label, spec, params, x, y, batches, rate, optimizer)


class BatchShape(TypedDict, total=False):
    """make_problem's keywords of the batch shape (a type for ``**``): examples, batch size, epochs."""

    m: int
    batch_size: int
    epochs: int


# The three values of coverage.py's batch-shape feature, as make_problem keywords: make_problem's
# defaults m = 10, batch_size = 3 give batches of 3, 3, 3 and 1 in each epoch.
BATCH_SHAPES: dict[str, BatchShape] = {
    "ragged": {},
    "even": {"batch_size": 5},
    "one": {"m": 1, "batch_size": 1},
}
BATCH_CYCLE = ("ragged", "one", "even")
BATCH_START = (1, 0, 2, 1, 0, 0)  # per OUTPUT_LOSSES entry; see the 24 rows in _catalogue


def _row(act, out, loss, seed, *, decay=False, kink=False, batches="ragged"):
    """A 5-4-3 problem named for its features, e.g. 'relu-softmax-log_likelihood-decay-kink-even':
    λ = 0.05 with ``decay``, exact ReLU kinks (make_problem's relu_kink) with ``kink``, and one of
    the BATCH_SHAPES (ragged, the default, adds nothing to the name; m = 1 adds '-m1')."""
    spec = Spec((5, 4, 3), act, out, loss, 0.05 if decay else 0.0)
    name = (
        f"{act}-{out}-{loss}"
        + ("-decay" if decay else "")
        + ("-kink" if kink else "")
        + {"ragged": "", "even": "-even", "one": "-m1"}[batches]
    )
    return make_problem(spec, seed, lr=0.1, relu_kink=kink, name=name, **BATCH_SHAPES[batches])


def _catalogue():
    problems = [
        # Seed 000: one sigmoid neuron, per-example SGD (batch size 1).
        make_problem(
            Spec((3, 1), "sigmoid", "sigmoid", "quadratic"),
            0,
            m=5,
            batch_size=1,
            epochs=2,
            lr=1.0,
            name="neuron",
        ),
        # Seed 004's Network([2, 3, 1]) with Nielsen's N(0, 1) initialisation.
        make_problem(
            Spec((2, 3, 1), "sigmoid", "sigmoid", "quadratic"),
            1,
            init="standard",
            lr=3.0,
            name="nielsen-2-3-1",
        ),
        # Seed 003's MNIST network on random inputs: 784-30-10, η = 3.0, mini-batch 10.
        make_problem(
            Spec((784, 30, 10), "sigmoid", "sigmoid", "quadratic"),
            2,
            m=20,
            batch_size=10,
            epochs=2,
            lr=3.0,
            init="standard",
            name="mnist-784-30-10",
        ),
        # Square layers: W and W.T have the same shape, so only the numbers tell them apart in BP2.
        make_problem(Spec((4, 4, 4, 4), "tanh", "identity", "quadratic"), 3, lr=0.1, name="square-4-4-4-4"),
        # Deep: five layers, ReLU, softmax, weight decay.
        make_problem(
            Spec((6, 5, 5, 4, 4, 3), "relu", "softmax", "log_likelihood", 0.01),
            4,
            m=10,
            batch_size=4,
            name="deep-relu-softmax",
        ),
        # Exact ReLU kinks (z = 0.0): ReLU'(0) must be 0.
        make_problem(
            Spec((5, 4, 4, 3), "relu", "sigmoid", "cross_entropy"), 5, relu_kink=True, name="relu-kink"
        ),
        # One batch of one example.
        make_problem(
            Spec((3, 4, 2), "tanh", "sigmoid", "cross_entropy", 0.1),
            6,
            m=1,
            batch_size=1,
            epochs=3,
            name="batch-1",
        ),
    ]
    # Every hidden activation a × (output, cost) pairing o: 24 rows, which also carry the decay, kink
    # and batch-shape values by a formula that covers every pair of those five features within these
    # rows alone (coverage.py), but ReLU without kinks (deep-relu-softmax has that):
    # - λ > 0 where a + o is odd, so each row and each column has both values, and a sigmoid output
    #   gets λ under the tanh and identity hidden layers (the old rule, o odd, never gave it one);
    # - the batch shape cycles down each column through BATCH_CYCLE from BATCH_START[o], so each
    #   column has all three, and so has each row, as BATCH_START holds all three;
    # - every ReLU row has exact kinks, so kink = on meets every output, both decays and all shapes.
    # Under the sigmoid row the formula keeps the rows that tests and docs name exactly as they were
    # (λ as before, BATCH_START 0: ragged): sigmoid-tanh-quadratic-decay, sigmoid-sigmoid-cross_entropy
    # and sigmoid-softmax-log_likelihood-decay; BATCH_START[0] = 1 makes sigmoid-sigmoid-quadratic the
    # m = 1 problem that network.py's profile (sigmoid/quadratic, λ = 0) had none of.
    for a, act in enumerate(HIDDEN_ACTIVATIONS):
        for o, (out, loss) in enumerate(OUTPUT_LOSSES):
            problems.append(
                _row(
                    act,
                    out,
                    loss,
                    100 + len(OUTPUT_LOSSES) * a + o,
                    decay=(a + o) % 2,
                    kink=act == "relu",
                    batches=BATCH_CYCLE[(BATCH_START[o] + a) % 3],
                )
            )
    # What the rows above leave out within the partial implementations of coverage.PROFILES.
    problems += [
        # Softmax + log-likelihood only (CS231n): each hidden activation needs all three batch shapes
        # with softmax, of which the rows above, deep-relu-softmax and golden-deep-tanh-softmax give
        # one or two; ReLU's kinks need all three shapes and both decays too.
        _row("relu", "softmax", "log_likelihood", 130, kink=True, batches="one"),  # relu × λ=0 too
        _row("relu", "softmax", "log_likelihood", 131, decay=True, kink=True),  # kink × ragged
        _row("sigmoid", "softmax", "log_likelihood", 132, batches="one"),  # sigmoid × λ=0 too
        _row("sigmoid", "softmax", "log_likelihood", 133, decay=True, batches="even"),
        _row("tanh", "softmax", "log_likelihood", 134),  # tanh × ragged
        _row("identity", "softmax", "log_likelihood", 135, decay=True, batches="one"),  # λ>0 × one too
        _row("identity", "softmax", "log_likelihood", 136, batches="even"),  # λ=0 × even too
        # Nielsen's network2.py (sigmoid hidden, sigmoid output): λ > 0 with each batch shape and
        # each of its two costs (the seed networks above are all λ = 0), cross-entropy with m = 1
        # and with even batches.
        _row("sigmoid", "sigmoid", "cross_entropy", 137, decay=True, batches="one"),
        _row("sigmoid", "sigmoid", "cross_entropy", 138, decay=True, batches="even"),
        _row("sigmoid", "sigmoid", "quadratic", 139, decay=True),
    ]
    problems += conv_problems() + recurrent_problems() + golden_problems() + optimizer_problems()
    catalogue = {p.name: p for p in problems}
    if len(catalogue) != len(problems):  # a dict would silently keep only the last of two namesakes
        names = [p.name for p in problems]
        raise AssertionError(f"catalogue names repeat: {sorted({n for n in names if names.count(n) > 1})}")
    return catalogue


def _max_pool_ties(problem):
    """0/1 inputs and a constant first kernel: every z^1 is 0.5·(ones under the kernel) + b^1[c], so
    a pooling window often holds equal maxima, and routing δ to the first rather than the last of
    them changes ∂K^1 (torch and JAX route to the first)."""
    (K, b), *rest = problem.params
    return replace(
        problem, params=[(np.full_like(K, 0.5), b), *rest], x=(problem.x > 0).astype(problem.x.dtype)
    )


def _autoencoder(problem):
    """Targets equal to inputs, squashed into (0, 1) so that a sigmoid output can reach them."""
    x = 1 / (1 + np.exp(-problem.x))
    return replace(problem, x=x, y=x.copy())


def conv_problems() -> list[Problem]:
    """Seed 003's extensions: conv blocks in front of the dense layers, and an autoencoder."""

    def conv(sizes, activation, output, loss, input_shape, *blocks, decay=0.0):
        return Spec(sizes, activation, output, loss, decay, input_shape=input_shape, conv=blocks)

    return [
        # LeNet-like stacks: conv-pool-conv-pool-dense, on random 1×8×8 and 2×9×9 inputs.
        make_problem(
            conv(
                (6, 12, 10),
                "relu",
                "softmax",
                "log_likelihood",
                (1, 8, 8),
                Conv(4, 3, padding=1, pool="max"),
                Conv(6, 3, pool="max"),
                decay=0.01,
            ),
            200,
            batch_size=5,
            epochs=2,
            lr=0.1,
            name="conv-lenet-1x8x8",
        ),
        make_problem(
            conv(
                (16, 8, 3),
                "tanh",
                "sigmoid",
                "cross_entropy",
                (2, 9, 9),
                Conv(3, 2, pool="avg"),
                Conv(4, 3, padding=1, pool="max"),
            ),
            201,
            lr=0.3,
            name="conv-lenet-2x9x9",
        ),
        # Stride 2 with padding; the output size floors (8 + 2 − 3)/2 + 1 = 4.5 to 4.
        make_problem(
            conv((48, 4), "sigmoid", "identity", "quadratic", (1, 8, 8), Conv(3, 3, stride=2, padding=1)),
            202,
            lr=0.1,
            name="conv-stride2-pad1",
        ),
        # Padding on the second block: BP2-conv must cut the padding ring off ∂C/∂a^1.
        make_problem(
            conv((144, 5), "tanh", "softmax", "log_likelihood", (1, 8, 8), Conv(3, 3), Conv(4, 3, padding=1)),
            203,
            lr=0.1,
            name="conv-two-blocks-pad",
        ),
        # Both poolings under an identity output, stride 1 and no padding on the second block (was
        # conv-avg-pool, its first block alone under a sigmoid output, which other problems cover).
        make_problem(
            conv(
                (3, 3),
                "sigmoid",
                "identity",
                "quadratic",
                (2, 6, 6),
                Conv(3, 3, padding=1, pool="avg"),
                Conv(3, 2, pool="max"),
            ),
            204,
            lr=0.1,
            name="conv-avg-max-identity-output",
        ),
        make_problem(
            conv(
                (16, 3),
                "identity",
                "softmax",
                "log_likelihood",
                (1, 8, 8),
                Conv(4, 3, pool="max", pool_size=3),
            ),
            205,
            lr=0.1,
            name="conv-max-pool-3",
        ),
        _max_pool_ties(
            make_problem(
                conv((18, 3), "sigmoid", "sigmoid", "quadratic", (1, 7, 7), Conv(2, 2, pool="max")),
                206,
                name="conv-max-pool-tie",
            )
        ),
        # Exact ReLU kinks in a conv layer: the first kernel and bias are 0, so z^1[:, 0] = 0.0.
        make_problem(
            conv(
                (27, 4, 3), "relu", "sigmoid", "cross_entropy", (1, 6, 6), Conv(3, 3, padding=1, pool="max")
            ),
            207,
            relu_kink=True,
            name="conv-relu-kink",
        ),
        make_problem(
            conv(
                (12, 4, 2),
                "tanh",
                "tanh",
                "quadratic",
                (2, 5, 5),
                Conv(2, 3, padding=1),
                Conv(3, 3, stride=2),
                decay=0.1,
            ),
            208,
            lr=0.1,
            name="conv-decay",
        ),
        make_problem(
            conv(
                (8, 2),
                "sigmoid",
                "sigmoid",
                "cross_entropy",
                (1, 7, 7),
                Conv(2, 3, stride=2, padding=1, pool="avg"),
                decay=0.05,
            ),
            209,
            m=1,
            batch_size=1,
            epochs=3,
            name="conv-batch-1",
        ),
        # Pair coverage (coverage.py) of the conv features with the output, the hidden activation,
        # kinks and m = 1: each output needs a conv problem with each pooling, stride and padding.
        # Three blocks (unpooled with stride 2 and padding, max, avg) under a ReLU output, with exact
        # kinks in every block and a single example: every conv value meets relu/quadratic, kink = on
        # and m = 1, and max pooling meets stride 2. On one example most seeds leave some layer
        # nearly all dead: seed 222 is the first from 211 with z > 0 for 30 % of every layer's units.
        make_problem(
            conv(
                (3, 4, 3),
                "relu",
                "relu",
                "quadratic",
                (1, 9, 9),
                Conv(3, 3, stride=2, padding=1),
                Conv(4, 2, pool="max"),
                Conv(3, 1, pool="avg"),
            ),
            222,
            relu_kink=True,
            lr=0.1,
            name="conv-three-blocks-kink-m1",
            **BATCH_SHAPES["one"],
        ),
        # Both poolings under a tanh output.
        make_problem(
            conv(
                (16, 3),
                "sigmoid",
                "tanh",
                "quadratic",
                (2, 8, 8),
                Conv(3, 3, padding=1, pool="avg"),
                Conv(4, 3, padding=1, pool="max"),
                decay=0.05,
            ),
            212,
            lr=0.3,
            name="conv-avg-max-tanh-output",
            **BATCH_SHAPES["even"],
        ),
        # A block without pooling under sigmoid + cross-entropy.
        make_problem(
            conv((18, 2), "tanh", "sigmoid", "cross_entropy", (1, 5, 5), Conv(2, 3)),
            213,
            lr=0.3,
            name="conv-no-pool-cross-entropy",
        ),
        # Average pooling and stride 2 under softmax; the identity hidden activation with no pooling,
        # average pooling, stride 2 and padding.
        make_problem(
            conv(
                (12, 3),
                "identity",
                "softmax",
                "log_likelihood",
                (1, 8, 8),
                Conv(2, 3, stride=2, padding=1),
                Conv(3, 3, padding=1, pool="avg"),
            ),
            214,
            lr=0.1,
            name="conv-stride2-avg-softmax",
        ),
        # Autoencoder: y = x through a 3-unit bottleneck, sigmoid output, cross-entropy.
        _autoencoder(
            make_problem(
                Spec((8, 3, 8), "sigmoid", "sigmoid", "cross_entropy"), 210, name="autoencoder-8-3-8"
            )
        ),
    ]


def _next_character(problem: Problem) -> Problem:
    """A character-level language model's data (min-char-rnn): each sequence is T + 1 symbols drawn
    from an alphabet of n_0 = n_L, x one-hot of symbols 1..T and y one-hot of symbols 2..T+1, so
    that the target at step t is the input at step t + 1 (a port whose targets are off by one step
    fails on every step). The symbols come from the problem's own x (its argmax), so nothing is drawn
    outside the seed's stream."""
    n = problem.x.shape[2]  # the alphabet: n_0 = n_L symbols
    symbols = np.argmax(problem.x, axis=2)  # (m, T): a symbol per step, uniform over the alphabet
    following = np.argmax(problem.y[:, -1], axis=1)  # (m,): one more symbol for the last target
    sequence = np.concatenate([symbols, following[:, None]], axis=1)  # (m, T + 1)
    one_hot = np.eye(n)[sequence]  # (m, T + 1, n)
    return replace(problem, x=one_hot[:, :-1].copy(), y=one_hot[:, 1:].copy())


def recurrent_problems() -> list[Problem]:
    """Elman networks unrolled over time (seed 001's feedback connections), both output modes. The
    twelve rows put each (output, cost) pairing under each mode and carry every hidden activation,
    λ on and off, each batch shape and ReLU kinks under both modes (pair coverage, coverage.py), and
    with them what backprop through time gets wrong: next-character prediction on one-hot sequences
    (targets one step ahead of the inputs), two stacked recurrent layers of equal and of unequal
    sizes, T = 1 (exactly the dense network; tests/harness/test_recurrent_catalogue.py), a long tanh
    sequence (T = 32: the deltas of the first steps are orders of magnitude smaller than the last
    step's), a single example, and exact ReLU kinks at every step."""

    def rnn(sizes, activation, output, loss, steps, outputs, decay=0.0):
        return Spec(sizes, activation, output, loss, decay, recurrent=Recurrent(steps, outputs))

    def row(spec, seed, name, batches="ragged", **kw):
        return make_problem(spec, seed, name=name, lr=kw.pop("lr", 0.1), **{**BATCH_SHAPES[batches], **kw})

    return [
        # many-to-many: an output at every step
        row(rnn((3, 4, 2), "sigmoid", "sigmoid", "quadratic", 4, "all"), 400, "rnn-all-sigmoid-m1", "one"),
        row(
            rnn((3, 5, 2), "tanh", "tanh", "quadratic", 5, "all", 0.05),
            401,
            "rnn-all-tanh-decay-even",
            "even",
        ),
        row(rnn((4, 5, 3), "relu", "relu", "quadratic", 6, "all"), 402, "rnn-all-relu-kink", relu_kink=True),
        # A linear recurrence grows its state step by step: most seeds' first steps overshoot (the
        # cost rises a hundredfold by step 3 at η = 0.1); seed 420 at η = 0.05 descends.
        row(
            rnn((3, 4, 4, 2), "identity", "identity", "quadratic", 4, "all", 0.05),
            420,
            "rnn-all-stacked-identity-decay-m1",
            "one",
            lr=0.05,
        ),
        row(
            rnn((4, 6, 5, 3), "tanh", "sigmoid", "cross_entropy", 5, "all"),
            404,
            "rnn-all-stacked-unequal-cross-entropy",
        ),
        _next_character(
            row(rnn((5, 8, 5), "tanh", "softmax", "log_likelihood", 6, "all"), 405, "rnn-char-next", "even")
        ),
        # many-to-one: an output after the last step only
        row(rnn((5, 4, 3), "tanh", "sigmoid", "quadratic", 1, "last", 0.05), 406, "rnn-last-t1"),
        row(
            rnn((3, 5, 2), "relu", "tanh", "quadratic", 5, "last"),
            407,
            "rnn-last-relu-kink-m1",
            "one",
            relu_kink=True,
        ),
        row(
            rnn((4, 4, 2), "identity", "relu", "quadratic", 6, "last"), 408, "rnn-last-identity-even", "even"
        ),
        row(rnn((3, 6, 2), "tanh", "identity", "quadratic", 32, "last"), 409, "rnn-long-tanh-t32"),
        row(
            rnn((4, 5, 5, 2), "sigmoid", "sigmoid", "cross_entropy", 4, "last", 0.05),
            410,
            "rnn-last-stacked-sigmoid-decay-even",
            "even",
        ),
        row(
            rnn((4, 6, 3), "relu", "softmax", "log_likelihood", 8, "last", 0.01),
            411,
            "rnn-classify-relu-decay-kink",
            relu_kink=True,
        ),
    ]


def _small_gradients(problem: Problem, factor: float = 1e-4) -> Problem:
    """The first two input features scaled by ``factor``: their columns of ∂C/∂W^1 are ≲ 1e-4, where
    ε's placement (inside or outside the square root, ε̂) changes an adaptive step several-fold."""
    x = problem.x.copy()
    x[:, :2] *= factor
    return replace(problem, x=x)


def optimizer_problems() -> list[Problem]:
    """Each optimizer and each convention switch on small specs, with what exposes the conventions:
    an η drop mid-run (momentum forms), small gradients (ε placement, ε̂), λ > 0 with momentum and
    with Adam, λ_d, clipping that triggers on some steps only, and 20-40 steps so that bias
    correction and the accumulated state matter (docs/optimizers.md). Trajectories only (kinds)."""
    O = Optimizer
    dense = Spec((5, 4, 3), "tanh", "sigmoid", "quadratic", 0.05)
    softmax = Spec((5, 4, 3), "sigmoid", "softmax", "log_likelihood")
    relu = Spec((5, 4, 4, 3), "relu", "identity", "quadratic", 0.01)
    long: BatchShape = dict(m=12, batch_size=3, epochs=8)  # 32 steps of 3
    drop = ((16, 0.1),)  # η × 0.1 from step 16 (0-based) on: the two momentum forms part there

    def opt(spec, seed, name, optimizer, lr, **kw):
        return make_problem(spec, seed, name=f"opt-{name}", optimizer=optimizer, lr=lr, **{**long, **kw})

    problems = [
        opt(dense, 300, "sgd-lr-drop", O("sgd"), 0.5, lr_drops=drop),
        opt(dense, 301, "momentum-buffer-lr-drop", O("momentum", momentum=0.9), 0.1, lr_drops=drop),
        opt(
            dense,
            301,
            "momentum-velocity-lr-drop",
            O("momentum", momentum=0.9, momentum_form="velocity"),
            0.1,
            lr_drops=drop,
        ),
        opt(softmax, 302, "nesterov-buffer-lr-drop", O("nesterov", momentum=0.8), 0.2, lr_drops=drop),
        opt(
            relu,
            303,
            "nesterov-velocity-lr-drop-kink",
            O("nesterov", momentum=0.9, momentum_form="velocity"),
            0.05,
            lr_drops=drop,
            relu_kink=True,
        ),
        _small_gradients(opt(dense, 304, "rmsprop-small-grads", O("rmsprop", rho=0.99, eps=1e-8), 0.01)),
        _small_gradients(
            opt(
                softmax,
                305,
                "rmsprop-eps-in-sqrt-small-grads",
                O("rmsprop", rho=0.9, eps=1e-8, eps_in_sqrt=True),
                0.01,
            )
        ),
        opt(
            relu,
            306,
            "rmsprop-momentum-buffer-lr-drop",
            O("rmsprop", rho=0.9, eps=1e-8, momentum=0.5),
            0.01,
            lr_drops=drop,
        ),
        opt(
            dense,
            307,
            "rmsprop-momentum-velocity-lr-drop",
            O("rmsprop", rho=0.9, eps=1e-8, momentum=0.5, momentum_form="velocity"),
            0.01,
            lr_drops=drop,
        ),
        opt(dense, 308, "adam-decay", O("adam", beta1=0.9, beta2=0.999, eps=1e-8), 0.01, epochs=12),
        _small_gradients(
            opt(
                softmax,
                309,
                "adam-eps-hat-small-grads",
                O("adam", beta1=0.9, beta2=0.999, eps=1e-8, eps_hat=True),
                0.01,
            )
        ),
        opt(
            relu,
            310,
            "adamw-decay-kink",
            O("adamw", beta1=0.9, beta2=0.99, eps=1e-8, decoupled_decay=0.1),
            0.01,
            relu_kink=True,
        ),
        _small_gradients(opt(softmax, 311, "adagrad-small-grads", O("adagrad", eps=1e-10), 0.1)),
        opt(
            dense,
            312,
            "adagrad-eps-in-sqrt-initial-accumulator",
            O("adagrad", eps=1e-7, eps_in_sqrt=True, initial_accumulator=0.1),
            0.1,
        ),
        # Clipping that triggers on some steps only (measured: see tests/harness/test_optimizer_catalogue.py).
        opt(dense, 313, "momentum-clip-norm", O("momentum", momentum=0.9, clip_norm=0.17), 0.1),
        opt(
            softmax,
            314,
            "adam-clip-norm-eps",
            O("adam", beta1=0.9, beta2=0.999, eps=1e-8, clip_norm=0.5, clip_eps=1e-6),
            0.01,
        ),
        opt(relu, 315, "sgd-clip-value-even", O("sgd", clip_value=1.0), 0.1, batch_size=4, relu_kink=True),
        # A single example per step, and a conv stack (the data-parallel ports run both too).
        opt(
            softmax,
            316,
            "adam-m1",
            O("adam", beta1=0.9, beta2=0.999, eps=1e-8),
            0.01,
            m=1,
            batch_size=1,
            epochs=20,
        ),
        make_problem(
            Spec(
                (6, 10),
                "relu",
                "softmax",
                "log_likelihood",
                0.01,
                input_shape=(1, 8, 8),
                conv=(Conv(4, 3, padding=1, pool="max"), Conv(6, 3, pool="max")),
            ),
            317,
            name="opt-conv-adam-clip-norm",
            optimizer=O("adam", beta1=0.9, beta2=0.999, eps=1e-8, clip_norm=2.0),
            lr=0.01,
            m=8,
            batch_size=4,
            epochs=10,
        ),
        # Recurrent nets as they are trained: min-char-rnn's Adagrad (ε inside the root, gradients
        # clipped elementwise) on next-character prediction, and Adam with global-norm clipping (over
        # W, U and b of every layer; torch's clip_grad_norm_ ε) and λ on W and U on a sequence
        # classifier. torch.optim cannot put ε inside Adagrad's root, Optax's clipping has no ε:
        # each framework's template runs one of the two.
        _next_character(
            opt(
                Spec((5, 8, 5), "tanh", "softmax", "log_likelihood", recurrent=Recurrent(6, "all")),
                318,
                "rnn-adagrad-clip-value",
                O("adagrad", eps=1e-8, eps_in_sqrt=True, clip_value=1.0),  # clips on 12 of 32 steps
                0.1,
            )
        ),
        opt(
            Spec((4, 6, 3), "tanh", "softmax", "log_likelihood", 0.01, recurrent=Recurrent(8, "last")),
            319,
            "rnn-adam-clip-norm-decay",
            O("adam", beta1=0.9, beta2=0.999, eps=1e-8, clip_norm=1.0, clip_eps=1e-6),  # 17 of 32 steps
            0.01,
        ),
    ]
    return problems


def golden_problems() -> list[Problem]:
    """The problems whose reference results are pinned in conformance/golden/*.npz: 20 SGD steps each
    (10 examples, batches of 2, 4 epochs)."""
    kw: BatchShape = dict(m=10, batch_size=2, epochs=4)
    return [
        make_problem(
            Spec((2, 3, 1), "sigmoid", "sigmoid", "quadratic"),
            11,
            lr=3.0,
            init="standard",
            name="golden-nielsen-2-3-1",
            **kw,
        ),
        make_problem(
            Spec((5, 4, 4, 3), "relu", "sigmoid", "cross_entropy", 0.01),
            12,
            lr=0.3,
            relu_kink=True,
            name="golden-relu-kink",
            **kw,
        ),
        make_problem(
            Spec((6, 5, 5, 4, 3), "tanh", "softmax", "log_likelihood", 0.05),
            13,
            lr=0.3,
            name="golden-deep-tanh-softmax",
            **kw,
        ),
        make_problem(
            Spec((4, 4, 4), "identity", "identity", "quadratic"),
            14,
            lr=0.05,
            name="golden-square-linear",
            **kw,
        ),
        make_problem(
            Spec(
                (6, 10),
                "relu",
                "softmax",
                "log_likelihood",
                0.01,
                input_shape=(1, 8, 8),
                conv=(Conv(4, 3, padding=1, pool="max"), Conv(6, 3, pool="max")),
            ),
            15,
            lr=0.1,
            name="golden-conv-lenet",
            **kw,
        ),
        make_problem(
            Spec(
                (27, 3),
                "tanh",
                "sigmoid",
                "quadratic",
                0.05,
                input_shape=(2, 7, 7),
                conv=(Conv(3, 3, stride=2, padding=1, pool="avg"), Conv(3, 2, padding=1)),
            ),
            16,
            lr=0.3,
            name="golden-conv-stride-avg",
            **kw,
        ),
        # Backprop through time, both modes: next-character prediction and a sequence classifier.
        _next_character(
            make_problem(
                Spec((4, 6, 4), "tanh", "softmax", "log_likelihood", recurrent=Recurrent(5, "all")),
                17,
                lr=0.3,
                name="golden-rnn-char",
                **kw,
            )
        ),
        make_problem(
            Spec((3, 5, 2), "relu", "sigmoid", "cross_entropy", 0.01, recurrent=Recurrent(6, "last")),
            18,
            lr=0.3,
            relu_kink=True,
            name="golden-rnn-classify",
            **kw,
        ),
    ]


CATALOGUE = _catalogue()
