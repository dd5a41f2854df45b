"""Train several implementations side by side: same seed, same initial weights, same batch order.

After every epoch each implementation's task score (tasks.py: test accuracy, or test reconstruction
cost), mean training cost over the epoch's steps, and largest parameter divergence from the
reference (max |θ_impl − θ_ref| over every array of every layer: W and b, and U of a recurrent layer)
are recorded. The score uses the reference forward pass on each implementation's own parameters, so
the numbers differ only where the parameters do. A conv spec is fed images (m, C, H, W); a
recurrent one sequences (m, T, n_0), an image's rows or a text's windows; a dense one the flat rows.
After training, ``sample`` writes text with each implementation's parameters from the same random
draws, so the samples are the same character for character where the parameters agree.

Plain SGD (``optimizer=None``, a constant ``lr``) is trained one epoch per ``train`` call, each from
the parameters the last one returned, exactly as always. With an ``optimizer`` the calls pass it on,
with ``lr_drops`` a per-step schedule built from the batch order. Every call starts the optimizer's
state afresh (the contract), so a rule with state (all but sgd, whose only state, the step count, it
never reads) is trained as one trajectory: epoch e's call retrains epochs 1..e from the initial
weights, and its parameters after e epochs are those of one ``train`` over the whole batch order.
"""

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np
import numpy.typing as npt

import reference
from conformance.calls import supports, supports_optimizer
from conformance.contract import Array, Named, Optimizes, Params
from conformance.spec import Recurrent, Spec
from conformance.training.datasets import Corpus, Dataset, aligned, encode
from conformance.training.tasks import Task


@dataclass
class History:
    impl: str
    epochs: list = field(default_factory=list)  # dicts: epoch, accuracy, cost, divergence, seconds
    step_losses: list = field(default_factory=list)  # every step's batch cost, in order
    # the latest parameters (not written to train.json); Any: Params once set, None until then
    params: Any = field(default=None, repr=False)

    def record(self) -> dict[str, object]:
        return {"impl": self.impl, "epochs": self.epochs, "step_losses": self.step_losses}


def divergence(params: Params, ref_params: Params) -> float:
    """max over layers and entries of |θ − θ_ref| (0.0 for the reference itself): every array of
    each layer's pair (W, b), or triple (W, U, b) for a recurrent layer."""
    return max(
        float(np.max(np.abs(a - b))) for layer, ref in zip(params, ref_params) for a, b in zip(layer, ref)
    )


def inputs(spec: Spec, x: np.ndarray) -> np.ndarray:
    """The flat rows x (m, n) as the spec's input layer takes them: images (m, C, H, W) for conv,
    sequences (m, T, n / T) for a recurrent spec (an image's T rows, one a step); a text's windows,
    already (m, T, K), as they are."""
    recurrent = getattr(spec, "recurrent", None)
    if recurrent is not None:
        return x if x.ndim == 3 else x.reshape(len(x), recurrent.steps, -1)
    if not getattr(spec, "conv", ()):
        return x
    assert spec.input_shape is not None  # a Spec with conv blocks has one (check_spec)
    return x.reshape(len(x), *spec.input_shape)


def forward(spec: Spec, params: Params, x: np.ndarray) -> tuple[list[Array], list[Array]]:
    """The reference forward pass (zs, activations) on float64 copies of any implementation's
    parameters: what the scores, the pictures and the samples are computed from."""
    p64 = [tuple(a.astype(np.float64) for a in layer) for layer in params]
    return reference.feedforward(
        p64,
        x.astype(np.float64),
        spec.activation,
        spec.output,
        conv=spec.conv,
        recurrent=getattr(spec, "recurrent", None),  # optional in a spec, so read with getattr
    )


def sample(spec: Spec, params: Params, corpus: Corpus, prompt: str, length: int, seed: int) -> str:
    """``length`` characters written by the network after ``prompt``, each drawn from the output's
    distribution over the alphabet given the last T characters (the windows it was trained on, from
    h_0 = 0): the k-th character is the first whose cumulative probability exceeds u_k, with
    u_1, u_2, ... from PCG64(``seed``), the same draws for every implementation. So the samples of
    two implementations part only where their parameters give a different character, the first
    time a cumulative probability falls on the other side of a u_k."""
    T, eye = corpus.steps, np.eye(len(corpus.alphabet))
    window = list(encode(corpus.alphabet, prompt))
    written = []
    for u in reference.rng_from(seed).random(length):
        context = window[-T:]  # the prompt's last characters, then the sample's own
        once = replace(spec, recurrent=Recurrent(len(context), "last"))  # the next character only
        p = forward(once, params, eye[context][None])[1][-1][0]  # (K,): its distribution
        cdf = np.cumsum(p)
        k = min(int(np.searchsorted(cdf, u * cdf[-1], side="right")), len(cdf) - 1)
        window.append(k)
        written.append(k)
    return corpus.decode(written)


def why_declined(impl: Named, spec: Spec | None, optimizer: object) -> str | None:
    """Why ``impl`` cannot train ``spec`` with ``optimizer``, or None when it can: the opt-ins of
    calls.supports (conv and recurrent specs, an implementation's own supports) and of
    calls.supports_optimizer."""
    if spec is not None and not supports(impl, spec):
        for kind, opt_in in (("recurrent", "supports_recurrent"), ("conv", "supports_conv")):
            needed = getattr(spec, kind, None)
            if needed and getattr(impl, opt_in, False) is not True:
                return f"it does not declare {opt_in} = True, so it is given no {kind} network"
        return f"its supports declines {spec.label}"
    if optimizer is None or supports_optimizer(impl, optimizer):
        return None
    if hasattr(impl, "supports_optimizer"):
        return f"its supports_optimizer declines {getattr(optimizer, 'label', optimizer)}"
    return "it declares no supports_optimizer, so it trains with plain SGD at a constant η only"


def declined(impls: Sequence[Named], optimizer: object, spec: Spec | None = None) -> dict[str, str]:
    """{name: why} for each implementation that cannot train ``spec`` (when given) with ``optimizer``
    (:func:`why_declined`); none for a dense spec and plain SGD."""
    reasons = {impl.name: why_declined(impl, spec, optimizer) for impl in impls}
    return {name: why for name, why in reasons.items() if why is not None}


def replays(optimizer: object) -> bool:
    """Whether each epoch retrains from the initial weights: the rule keeps state that the next
    ``train`` call would start afresh (every rule but sgd, whose only state is a step count it never
    reads)."""
    return optimizer is not None and getattr(optimizer, "name", None) != "sgd"


def schedule(
    lr: float, lr_drops: Sequence[tuple[int, float]], steps: int, epochs: int
) -> float | list[float]:
    """η_t for every step of ``epochs`` epochs of ``steps`` batches: ``lr`` times the factor of every
    (epoch, factor) in ``lr_drops`` whose epoch has begun by step t's epoch; ``lr`` itself, a float,
    when there is no drop (the constant rate of plain SGD)."""
    if not lr_drops:
        return lr
    per_epoch = [lr * math.prod(f for e, f in lr_drops if e <= epoch) for epoch in range(1, epochs + 1)]
    return [rate for rate in per_epoch for _ in range(steps)]


def train_side_by_side(
    impls: Sequence[Named],
    spec: Spec,
    task: Task,
    data: Dataset | Corpus,
    *,
    lr: float,
    batch_size: int,
    epochs: int,
    seed: int,
    dtype: npt.DTypeLike,
    init: str,
    optimizer: object = None,
    lr_drops: Sequence[tuple[int, float]] = (),
    progress: Callable[[str, int, dict], object] | None = None,
) -> dict[str, History]:
    """Returns {name: History}. ``impls`` must start with the reference (the divergence baseline) and
    must all support ``optimizer`` (:func:`declined` names those that do not)."""
    dtype = np.dtype(dtype)
    x, y = aligned(inputs(spec, data.x_train), dtype), task.targets(data, dtype)  # data.py: aligned
    x_test = inputs(spec, data.x_test)
    params0 = reference.init_params(
        spec.sizes,
        seed,
        scheme=init,
        dtype=dtype,
        input_shape=spec.input_shape,
        conv=spec.conv,
        recurrent=getattr(spec, "recurrent", None) is not None,  # (W, U, b) triples for its hidden layers
    )
    order = reference.batch_order(len(x), batch_size, epochs, seed + 1)  # separate, seeded stream
    steps = -(-len(x) // batch_size)
    rates = schedule(lr, lr_drops, steps, epochs)
    replay = replays(optimizer)
    histories = {impl.name: History(impl.name, params=params0) for impl in impls}
    for epoch in range(1, epochs + 1):
        first, end = (0 if replay else (epoch - 1) * steps), epoch * steps  # the steps of this call
        rate = rates[first:end] if isinstance(rates, list) else rates
        for impl in impls:
            history = histories[impl.name]
            params, batches = params0 if replay else history.params, order[first:end]
            start = time.perf_counter()
            if optimizer is None and not isinstance(rate, list):  # plain SGD: called exactly as always
                run = impl.train(spec, params, x, y, lr=rate, batches=batches)
            else:  # an opt-in implementation (declined names the others)
                run = cast(Optimizes, impl).train(
                    spec, params, x, y, lr=rate, batches=batches, optimizer=optimizer
                )
            seconds = time.perf_counter() - start
            history.params = run.params
            zs, activations = forward(spec, run.params, x_test)
            history.step_losses[first:] = [float(c) for c in run.losses]
            history.epochs.append(
                {
                    "epoch": epoch,
                    task.metric: task.score(spec, zs, activations, data),
                    "cost": float(np.mean(run.losses[end - steps - first :])),  # this epoch's steps
                    "divergence": divergence(run.params, histories[impls[0].name].params),
                    "seconds": seconds,
                }
            )
            if progress is not None:
                progress(impl.name, epoch, history.epochs[-1])
    return histories
