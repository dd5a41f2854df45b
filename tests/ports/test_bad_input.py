"""One test per bad input (docs/contract.md, "Bad input"), against every public entry point of every
backend: a TypeError/ValueError whose message starts with the argument's name, raised before any
arithmetic. The bad arguments are built in NumPy here and handed to each backend in its own array
type (torch tensors, jax arrays), because the implementations themselves take no NumPy."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

import reference
from conformance import NAMES, Conv, Recurrent, Spec, Unavailable, load, make_problem
from conformance.runtime.environment import available
from conformance.targets.registry import RECORDS
from conformance.targets.resolve import resolve

GOOD = make_problem(Spec((3, 4, 2), "tanh", "sigmoid", "cross_entropy", 0.1), 0, m=5)


def spec_with(**changes):
    fields = dict(
        sizes=GOOD.spec.sizes, activation="tanh", output="sigmoid", loss="cross_entropy", weight_decay=0.1
    )
    fields.update(changes)
    return SimpleNamespace(**fields)  # bypasses conformance.Spec's own validation on purpose


def params_with(layer, which, value):
    params = [list(pair) for pair in GOOD.params]
    params[layer][which] = value
    return [tuple(pair) for pair in params]


def nan_at(a, index):
    a = a.copy()
    a[index] = np.nan
    return a


# id -> (arguments changed from GOOD, exception, message regex)
CASES = {
    "x-nan": (dict(x=nan_at(GOOD.x, (0, 0))), ValueError, r"^x: contains NaN"),
    "y-inf": (dict(y=np.where(GOOD.y == 1, np.inf, GOOD.y)), ValueError, r"^y: contains NaN or Inf"),
    "W-nan": (
        dict(params=params_with(1, 0, nan_at(GOOD.params[1][0], (0, 0)))),
        ValueError,
        r"^params\[1\]\.W \(layer 2\): contains NaN",
    ),
    "x-wrong-width": (dict(x=GOOD.x[:, :2].copy()), ValueError, r"^x: expected shape \(5, 3\)"),
    "y-wrong-rows": (dict(y=GOOD.y[:4].copy()), ValueError, r"^y: expected shape \(5, 2\)"),
    "y-1d": (dict(y=GOOD.y[:, 0].copy()), ValueError, r"^y: expected shape \(5, 2\)"),
    "b-column-not-broadcast": (
        dict(params=params_with(0, 1, GOOD.params[0][1][:, None].copy())),
        ValueError,
        r"^params\[0\]\.b \(layer 1\): expected shape \(4,\)",
    ),
    "W-transposed": (
        dict(params=params_with(0, 0, GOOD.params[0][0].T.copy())),
        ValueError,
        r"^params\[0\]\.W \(layer 1\): expected shape \(4, 3\)",
    ),
    "x-int": (dict(x=GOOD.x.astype(np.int64)), TypeError, r"^x: expected dtype float32 or float64"),
    "x-float32-params-float64": (
        dict(x=GOOD.x.astype(np.float32)),
        TypeError,
        r"^x: .*float32.*nothing is cast",
    ),
    "x-empty": (dict(x=GOOD.x[:0], y=GOOD.y[:0]), ValueError, r"^x: .*(empty|non-empty)"),
    "params-missing-layer": (dict(params=GOOD.params[:1]), ValueError, r"^params: expected a list of 2"),
    "labels-out-of-range": (dict(y=GOOD.y * 2), ValueError, r"^y: targets for cross_entropy"),
    "activation-unknown": (
        dict(spec=spec_with(activation="swish")),
        ValueError,
        r"^spec\.activation: unknown",
    ),
    "output-unknown": (dict(spec=spec_with(output="softsign")), ValueError, r"^spec\.output: unknown"),
    "loss-unknown": (dict(spec=spec_with(loss="hinge")), ValueError, r"^spec\.loss: unknown"),
    "softmax-with-quadratic": (
        dict(spec=spec_with(output="softmax", loss="quadratic")),
        ValueError,
        r"^spec\.loss: 'quadratic' cannot be paired with output='softmax'",
    ),
    "cross-entropy-with-tanh": (
        dict(spec=spec_with(output="tanh")),
        ValueError,
        r"^spec\.loss: 'cross_entropy' cannot be paired",
    ),
    "weight-decay-negative": (dict(spec=spec_with(weight_decay=-0.1)), ValueError, r"^spec\.weight_decay"),
    "sizes-zero-width": (dict(spec=spec_with(sizes=(3, 0, 2))), ValueError, r"^spec\.sizes"),
}
# A conv spec: 1×4×4 input, 4 kernels 3×3 with padding 1 (z 4×4×4), max-pooled to 4×2×2 = 16.
BLOCK = Conv(4, 3, padding=1, pool="max")
CONV_GOOD = make_problem(
    Spec((16, 2), "tanh", "sigmoid", "cross_entropy", 0.1, input_shape=(1, 4, 4), conv=(BLOCK,)), 0, m=5
)


def conv_spec_with(**changes):
    fields = {f.name: getattr(CONV_GOOD.spec, f.name) for f in dataclasses.fields(CONV_GOOD.spec)}
    return SimpleNamespace(**(fields | changes))  # bypasses conformance.Spec's own validation


def block_with(**changes):
    return conv_spec_with(conv=(dataclasses.replace(BLOCK, **changes),))


CONV_CASES = {
    "conv-kernel-larger-than-padded-input": (
        dict(spec=block_with(kernel=5, padding=0)),
        ValueError,
        r"^spec\.conv\[0\]: kernel 5 is larger than the padded input",
    ),
    "conv-pool-does-not-divide": (
        dict(spec=block_with(kernel=2, padding=0)),
        ValueError,
        r"^spec\.conv\[0\]: pool_size 2 does not divide",
    ),
    "conv-sizes0-not-flattened-size": (
        dict(spec=conv_spec_with(sizes=(10, 2))),
        ValueError,
        r"^spec\.sizes: sizes\[0\]=10 does not equal the flattened size 16",
    ),
    "conv-x-3d": (dict(x=CONV_GOOD.x[:, 0].copy()), ValueError, r"^x: expected a 4-D array"),
    "conv-kernel-wrong-shape": (
        dict(
            params=[
                (CONV_GOOD.params[0][0].swapaxes(0, 1).copy(), CONV_GOOD.params[0][1]),
                CONV_GOOD.params[1],
            ]
        ),
        ValueError,
        r"^params\[0\]\.K \(layer 1\): expected shape \(4, 1, 3, 3\)",
    ),
    "conv-block-channels-zero": (
        dict(spec=block_with(channels=0)),
        ValueError,
        r"^spec\.conv\[0\]\.channels: ",
    ),
    "conv-block-stride-zero": (dict(spec=block_with(stride=0)), ValueError, r"^spec\.conv\[0\]\.stride: "),
    "conv-block-pool-unknown": (dict(spec=block_with(pool="min")), ValueError, r"^spec\.conv\[0\]\.pool: "),
    "conv-without-input-shape": (
        dict(spec=conv_spec_with(input_shape=None)),
        ValueError,
        r"^spec\.input_shape: ",
    ),
}
# A recurrent spec every port supports: tanh (torch.nn.RNN and Flax's cell have it), many-to-many.
RNN_GOOD = make_problem(
    Spec((3, 4, 2), "tanh", "sigmoid", "cross_entropy", 0.1, recurrent=Recurrent(3, "all")), 0, m=5
)


def rnn_spec_with(**changes):
    fields = {f.name: getattr(RNN_GOOD.spec, f.name) for f in dataclasses.fields(RNN_GOOD.spec)}
    return SimpleNamespace(**(fields | changes))  # bypasses conformance.Spec's own validation


def rnn_params_with(layer, value):
    params = list(RNN_GOOD.params)
    params[layer] = value
    return params


(W1, U1, B1), (W2, B2) = RNN_GOOD.params
RECURRENT_CASES = {
    "rnn-x-2d": (dict(x=RNN_GOOD.x[:, 0].copy()), ValueError, r"^x: expected shape \(m, T, n_0\) = "),
    "rnn-steps-do-not-match-x": (
        dict(x=RNN_GOOD.x[:, :2].copy(), y=RNN_GOOD.y[:, :2].copy()),
        ValueError,
        r"^x: expected shape \(m, T, n_0\) = \(5, 3, 3\)",
    ),
    "rnn-y-rank-for-all": (
        dict(y=RNN_GOOD.y[:, -1].copy()),
        ValueError,
        r"^y: expected shape \(m, T, n_L\) = \(5, 3, 2\) for outputs='all'",
    ),
    "rnn-y-rank-for-last": (
        dict(spec=rnn_spec_with(recurrent=Recurrent(3, "last"))),
        ValueError,
        r"^y: expected shape \(m, n_L\) = \(5, 2\) for outputs='last'",
    ),
    "rnn-U-not-square": (
        dict(params=rnn_params_with(0, (W1, U1[:, :3].copy(), B1))),
        ValueError,
        r"^params\[0\]\.U \(layer 1\): expected shape \(4, 4\)",
    ),
    "rnn-pair-where-triple-belongs": (
        dict(params=rnn_params_with(0, (W1, B1))),
        TypeError,
        r"^params\[0\]: expected a \(W, U, b\) triple for recurrent layer 1",
    ),
    "rnn-triple-where-pair-belongs": (
        dict(params=rnn_params_with(1, (W2, np.zeros((2, 2)), B2))),
        TypeError,
        r"^params\[1\]: expected a \(W, b\) pair for layer 2",
    ),
    "rnn-triple-in-a-dense-spec": (
        dict(spec=rnn_spec_with(recurrent=None), x=RNN_GOOD.x[:, 0].copy(), y=RNN_GOOD.y[:, 0].copy()),
        TypeError,
        r"^params\[0\]: expected a \(W, b\) pair for layer 1",
    ),
    "rnn-steps-zero": (
        dict(spec=rnn_spec_with(recurrent=Recurrent(0, "all"))),
        ValueError,
        r"^spec\.recurrent\.steps: ",
    ),
    "rnn-outputs-unknown": (
        dict(spec=rnn_spec_with(recurrent=Recurrent(3, "every"))),
        ValueError,
        r"^spec\.recurrent\.outputs: ",
    ),
    "rnn-no-hidden-layer": (
        dict(spec=rnn_spec_with(sizes=(3, 2))),
        ValueError,
        r"^spec\.recurrent: ",
    ),
}
TRAIN_CASES = {
    "lr-zero": (dict(lr=0.0), ValueError, r"^lr: expected a finite learning rate > 0"),
    "lr-negative": (dict(lr=-1.0), ValueError, r"^lr: expected a finite learning rate > 0"),
    "lr-nan": (dict(lr=float("nan")), ValueError, r"^lr: expected a finite learning rate > 0"),
    "batches-empty-list": (dict(batches=[]), ValueError, r"^batches: expected a non-empty list"),
    "batch-empty": (dict(batches=[np.arange(2), np.arange(0)]), ValueError, r"^batches\[1\]"),
    "batch-index-out-of-range": (
        dict(batches=[np.arange(2), np.array([4, 5])]),
        ValueError,
        r"^batches\[1\]: indices must lie in \[0, 5\)",
    ),
    "batch-negative-index": (dict(batches=[np.array([-1, 0])]), ValueError, r"^batches\[0\]"),
    "batch-float-indices": (
        dict(batches=[np.array([0.0, 1.0])]),
        TypeError,
        r"^batches\[0\]: expected integer indices",
    ),
}


def opt(name, **hyper):
    return SimpleNamespace(name=name, **hyper)  # duck-typed: bypasses conformance.Optimizer's checks


# id -> (arguments changed from optimizer_args(), exception, message regex): docs/contract.md, section 5
OPTIMIZER_CASES = {
    "optimizer-unknown": (dict(optimizer=opt("adamax")), ValueError, r"^optimizer\.name: unknown optimizer"),
    "optimizer-without-name": (dict(optimizer=object()), TypeError, r"^optimizer: expected an object"),
    "beta1-one": (dict(optimizer=opt("adam", beta1=1.0)), ValueError, r"^optimizer\.beta1: expected"),
    "beta2-negative": (dict(optimizer=opt("adam", beta2=-0.5)), ValueError, r"^optimizer\.beta2: expected"),
    "eps-zero": (dict(optimizer=opt("adam", eps=0.0)), ValueError, r"^optimizer\.eps: expected"),
    "eps-nan": (dict(optimizer=opt("rmsprop", eps=float("nan"))), ValueError, r"^optimizer\.eps: expected"),
    "rho-above-one": (dict(optimizer=opt("rmsprop", rho=1.5)), ValueError, r"^optimizer\.rho: expected"),
    "momentum-zero": (dict(optimizer=opt("momentum")), ValueError, r"^optimizer\.momentum: expected"),
    "momentum-inf": (
        dict(optimizer=opt("nesterov", momentum=float("inf"))),
        ValueError,
        r"^optimizer\.momentum: expected",
    ),
    "momentum-form-unknown": (
        dict(optimizer=opt("momentum", momentum=0.9, momentum_form="heavy-ball")),
        ValueError,
        r"^optimizer\.momentum_form: expected 'buffer' or 'velocity'",
    ),
    "decoupled-decay-negative": (
        dict(optimizer=opt("adamw", decoupled_decay=-0.1)),
        ValueError,
        r"^optimizer\.decoupled_decay: expected",
    ),
    "hyperparameter-not-read": (
        dict(optimizer=opt("sgd", beta1=0.5)),
        ValueError,
        r"^optimizer\.beta1: sgd does not use it",
    ),
    "switch-not-bool": (
        dict(optimizer=opt("adam", eps_hat="yes")),
        TypeError,
        r"^optimizer\.eps_hat: expected",
    ),
    "clip-norm-zero": (
        dict(optimizer=opt("sgd", clip_norm=0.0)),
        ValueError,
        r"^optimizer\.clip_norm: expected",
    ),
    "clip-value-negative": (
        dict(optimizer=opt("adam", clip_value=-1.0)),
        ValueError,
        r"^optimizer\.clip_value: expected",
    ),
    "clip-both": (
        dict(optimizer=opt("sgd", clip_norm=1.0, clip_value=1.0)),
        ValueError,
        r"^optimizer\.clip_norm: set clip_value or clip_norm, not both",
    ),
    "schedule-wrong-length": (
        dict(lr=[0.1, 0.1, 0.1]),
        ValueError,
        r"^lr: expected one learning rate per step",
    ),
    "schedule-zero-entry": (
        dict(lr=[0.1, 0.0]),
        ValueError,
        r"^lr\[1\]: expected a finite learning rate > 0",
    ),
    "schedule-nan-entry": (dict(lr=[float("nan"), 0.1]), ValueError, r"^lr\[0\]: expected a finite"),
    "schedule-string": (dict(lr="0.1"), TypeError, r"^lr: expected a float or a sequence"),
}


def entry_points(framework):
    """{"gradients": [...], "train": [...]}: the entry points of every shipped implementation of
    ``framework`` (None: the NumPy reference), read from the registry's records, each function once
    (jax.scan shares jax.manual's backprop). A record whose other libraries are missing (jax.flax
    without flax and optax) is left out: the registry reports it unavailable, and its module does not
    import."""
    records = [r for r in RECORDS if r.framework == framework and all(map(available, r.libraries))]
    found = {kind: [] for kind in ("gradients", "train")}
    for record in records:
        for kind in found:
            fn = resolve(getattr(record, kind))
            if fn not in found[kind]:
                found[kind].append(fn)
    return found


def _torch():
    import torch

    def convert(a):
        return torch.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a

    return entry_points("torch") | dict(convert=convert, context=None)


def _jax():
    import jax

    def convert(a):
        return jax.numpy.asarray(a) if isinstance(a, np.ndarray) else a

    return entry_points("jax") | dict(convert=convert, context=lambda: jax.enable_x64(True))


def _reference():
    return entry_points(None) | dict(convert=lambda a: a, context=None)


# backend -> (the framework it needs, its entry points with their conversion and context)
BACKENDS = {"reference": (None, _reference), "torch": ("torch", _torch), "jax": ("jax", _jax)}


def test_every_shipped_implementation_has_a_backend():
    """The records' frameworks are exactly the backends here: a new framework's ports cannot be left
    out of the bad-input cases."""
    assert {r.framework for r in RECORDS} == {framework for framework, _ in BACKENDS.values()}


def backend(name):
    framework, build = BACKENDS[name]
    if framework and not available(framework):
        pytest.skip(f"{framework} is not installed")
    return build()


def call_all(b, kind, args):
    """Yield one zero-argument call per entry point, arguments converted inside the backend's
    context (JAX: x64 on, else its asarray would already have turned float64 into float32)."""
    import contextlib

    conv = b["convert"]
    with (b["context"] or contextlib.nullcontext)():
        params = [tuple(conv(a) for a in layer) for layer in args["params"]]
        x, y, spec = conv(args["x"]), conv(args["y"]), args["spec"]
        batches = [conv(i) for i in args["batches"]]
        for fn in b[kind]:
            if kind == "gradients":
                yield lambda fn=fn: fn(spec, params, x, y)
            elif "optimizer" in args:  # the optimizer cases: passed only there (plain SGD as before)
                yield lambda fn=fn: fn(
                    spec, params, x, y, lr=args["lr"], batches=batches, optimizer=args["optimizer"]
                )
            else:
                yield lambda fn=fn: fn(spec, params, x, y, lr=args["lr"], batches=batches)


def good_args():
    """The accepted baseline every bad case changes one thing of."""
    return dict(
        spec=GOOD.spec,
        params=GOOD.params,
        x=GOOD.x,
        y=GOOD.y,
        lr=0.5,
        batches=[np.arange(2), np.arange(2, 5)],
    )


def optimizer_args():
    """The accepted optimizer baseline: Adam with elementwise clipping on a two-step schedule (every
    port expresses it; global-norm clipping adds 1e-6 in torch.optim and nothing in Optax)."""
    return good_args() | dict(lr=[0.1, 0.01], optimizer=opt("adam", clip_value=1.0))


def conv_args():
    """The accepted conv baseline the bad conv cases change one thing of."""
    return good_args() | dict(spec=CONV_GOOD.spec, params=CONV_GOOD.params, x=CONV_GOOD.x, y=CONV_GOOD.y)


def _check(name, kind, changes, exc, pattern, base=good_args):
    b = backend(name)
    args = base() | changes
    kinds = [kind] if kind == "train" else ["gradients", "train"]
    for k in kinds:
        for call in call_all(b, k, args):
            with pytest.raises(exc, match=pattern):
                call()


@pytest.mark.parametrize("backend_name", list(BACKENDS))
@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(case, backend_name):
    _check(backend_name, "gradients", *CASES[case])


@pytest.mark.parametrize("backend_name", list(BACKENDS))
@pytest.mark.parametrize("case", list(CONV_CASES))
def test_bad_conv_input(case, backend_name):
    _check(backend_name, "gradients", *CONV_CASES[case], base=conv_args)


@pytest.mark.parametrize("backend_name", list(BACKENDS))
def test_good_conv_input_passes(backend_name):
    b = backend(backend_name)
    for kind in ("gradients", "train"):
        for call in call_all(b, kind, conv_args()):
            call()


def recurrent_args():
    """The accepted recurrent baseline the bad recurrent cases change one thing of."""
    return good_args() | dict(spec=RNN_GOOD.spec, params=RNN_GOOD.params, x=RNN_GOOD.x, y=RNN_GOOD.y)


@pytest.mark.parametrize("backend_name", list(BACKENDS))
@pytest.mark.parametrize("case", list(RECURRENT_CASES))
def test_bad_recurrent_input(case, backend_name):
    _check(backend_name, "gradients", *RECURRENT_CASES[case], base=recurrent_args)


@pytest.mark.parametrize("backend_name", list(BACKENDS))
def test_good_recurrent_input_passes(backend_name):
    b = backend(backend_name)
    for kind in ("gradients", "train"):
        for call in call_all(b, kind, recurrent_args()):
            call()


@pytest.mark.parametrize("backend_name", list(BACKENDS))
@pytest.mark.parametrize("case", list(TRAIN_CASES))
def test_bad_training_input(case, backend_name):
    _check(backend_name, "train", *TRAIN_CASES[case])


@pytest.mark.parametrize("backend_name", list(BACKENDS))
@pytest.mark.parametrize("case", list(OPTIMIZER_CASES))
def test_bad_optimizer_input(case, backend_name):
    _check(backend_name, "train", *OPTIMIZER_CASES[case], base=optimizer_args)


@pytest.mark.parametrize("backend_name", list(BACKENDS))
def test_good_optimizer_input_passes(backend_name):
    for call in call_all(backend(backend_name), "train", optimizer_args()):
        call()


def test_good_input_passes_everywhere():
    """The baseline the bad cases are derived from is itself accepted (so each case tests one thing)."""
    for name in BACKENDS:
        framework, build = BACKENDS[name]
        if framework and not available(framework):
            continue
        b = build()
        for kind in ("gradients", "train"):
            for call in call_all(b, kind, good_args()):
                call()


def test_one_hot_labels_out_of_range():
    with pytest.raises(ValueError, match=r"^labels: class labels must lie in \[0, 10\)"):
        reference.one_hot(np.array([0, 3, 10]), 10)
    with pytest.raises(TypeError, match=r"^labels: expected a 1-D integer array"):
        reference.one_hot(np.array([0.0, 1.0]), 10)


def test_spec_validates_on_construction():
    with pytest.raises(ValueError, match=r"^spec\.loss: 'quadratic' cannot be paired"):
        Spec((3, 2), "sigmoid", "softmax", "quadratic")


def test_jax_float64_without_x64_is_refused():
    """Without x64, float64 would silently become float32: refused, with how to enable x64."""
    if not available("jax"):
        pytest.skip("jax is not installed")
    import jax_impl

    with pytest.raises(TypeError, match=r"^params\[0\]\.W \(layer 1\): float64 input while JAX's x64"):
        jax_impl.manual.backprop(GOOD.spec, GOOD.params, GOOD.x, GOOD.y)


# Bad batch indices through the harness objects: the adapters convert integer index arrays only, so
# every implementation refuses what the reference refuses, with the reference's message.
INDEX_CASES = {
    "float-indices": ([np.array([0.5, 1.0])], TypeError, r"^batches\[0\]: expected integer indices"),
    "float-whole-indices": ([np.array([0.0, 1.0])], TypeError, r"^batches\[0\]: expected integer indices"),
    "out-of-range": (
        [np.arange(2), np.array([4, 5])],
        ValueError,
        r"^batches\[1\]: indices must lie in \[0, 5\)",
    ),
    "empty": ([np.arange(2), np.arange(0)], ValueError, r"^batches\[1\]: expected a non-empty 1-D"),
    "empty-float": ([np.array([])], ValueError, r"^batches\[0\]: expected a non-empty 1-D"),
}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("case", list(INDEX_CASES))
def test_bad_batch_indices_through_the_harness(case, name):
    try:
        impl = load(name)
    except Unavailable as exc:
        pytest.skip(str(exc))
    batches, exc, pattern = INDEX_CASES[case]
    for dtype in (np.float64, np.float32):
        p = GOOD.as_dtype(dtype)
        with pytest.raises(exc, match=pattern):
            impl.train(p.spec, p.params, p.x, p.y, lr=0.5, batches=batches)
