"""Run one implementation on one problem and check everything it returns against the reference.

Every call gets fresh read-only inputs and its result is recorded as plain data (calls.py). Order
of checks: the result has the contract's attributes, then for every array: it exists, it is a NumPy
array, it has the contract's shape and the input's dtype, and only then its values (compare.py).
Anything an implementation does wrong — raising, exiting, returning None or lists or a pair of one,
a wrong shape or dtype, NaN — becomes a failed :class:`CheckResult`, never an exception out of the
suite and never a pass.
"""

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

import reference
from conformance.calls import FIELDS, REQUIRED, CallFailed, Foreign, Returned, call, is_loss, shown
from conformance.compare import CheckResult, compare, failure
from conformance.contract import Implementation
from conformance.problems import Problem, layer_names
from conformance.tolerances import ZERO_FLOOR, tolerance
from reference import Gradients, Trajectory
from reference.conv import conv_stack


class Context(NamedTuple):
    """Who is checked on what: the first three fields of every CheckResult."""

    impl: str
    problem: str
    dtype: str


PER_LAYER = (  # (attribute, check family, quantity name, number of entries relative to L)
    ("zs", "forward", "z", 0),
    ("activations", "forward", "a", 1),
    ("deltas", "deltas", "delta", 0),
)


@functools.lru_cache(maxsize=256)
def _expected(problem: Problem, dtype: np.dtype) -> tuple[Gradients, Trajectory]:
    """The float64 reference on exactly the values a ``dtype`` implementation receives."""
    p = problem.as_dtype(dtype).as_dtype(np.float64)
    return (
        reference.backprop(p.spec, p.params, p.x, p.y),
        reference.train(p.spec, p.params, p.x, p.y, lr=p.lr, batches=p.batches, optimizer=p.optimizer),
    )


def _check_array(
    results: list[CheckResult],
    ctx: Context,
    family: str,
    quantity: str,
    got: object,
    want: np.ndarray,
    layer: int | None = None,
    time_axis: int | None = None,
) -> None:
    """Type, shape and dtype first (a structure failure if any is wrong), then the values
    (``time_axis``: a recurrent quantity's time steps, which a failure names)."""
    dtype = np.dtype(ctx[2])
    if not isinstance(got, np.ndarray):
        results.append(
            failure(
                *ctx,
                "structure",
                quantity,
                f"expected a numpy {dtype} array of shape {want.shape}, got {shown(got)}",
                layer,
            )
        )
    elif got.shape != want.shape:
        results.append(
            failure(*ctx, "structure", quantity, f"shape {got.shape}, expected {want.shape}", layer)
        )
    elif got.dtype != dtype:
        results.append(
            failure(
                *ctx, "structure", quantity, f"dtype {got.dtype}, expected {dtype} (no silent casts)", layer
            )
        )
    else:
        results.append(
            compare(
                got,
                want,
                impl=ctx[0],
                problem=ctx[1],
                dtype=ctx[2],
                check=family,
                quantity=quantity,
                layer=layer,
                time_axis=time_axis,
            )
        )


def _compare_list(
    results: list[CheckResult],
    ctx: Context,
    family: str,
    name: str,
    got_list: object,
    want_list: list[np.ndarray],
    offset: int = 0,
    recurrent: bool = False,
) -> None:
    """One array per layer; a recurrent spec's per-step arrays (m, T, n) have their time axis 1."""
    if not isinstance(got_list, (list, tuple)) or len(got_list) != len(want_list):
        results.append(
            failure(
                *ctx, "structure", name, f"expected a list of {len(want_list)} arrays, got {shown(got_list)}"
            )
        )
        return
    for i, (got, want) in enumerate(zip(got_list, want_list)):
        layer = i + offset
        time_axis = 1 if recurrent and want.ndim == 3 else None
        _check_array(results, ctx, family, f"{name}[layer {layer}]", got, want, layer, time_axis)


def _compare_params(
    results: list[CheckResult],
    ctx: Context,
    family: str,
    got_params: object,
    want_params: list,
    prefix: str,
    conv_layers: int,
    container: str | None = None,
) -> None:
    """Pairs named (K, b) for the first ``conv_layers`` layers, (W, b) for the dense ones, triples
    (W, U, b) for recurrent layers (as many arrays as the reference's layer has); a layer must be
    exactly that many arrays (a missing bias gradient is a failure, never unlooked at)."""
    L = len(want_params)
    container = container or ("grads" if prefix == "d" else "final params")
    if not isinstance(got_params, (list, tuple)) or len(got_params) != L:
        what = "pairs" if all(len(w) == 2 for w in want_params) else "layers"
        results.append(
            failure(*ctx, "structure", container, f"expected a list of {L} {what}, got {shown(got_params)}")
        )
        return
    for l, (got_layer, want_layer) in enumerate(zip(got_params, want_params), start=1):
        names = layer_names(l, conv_layers, len(want_layer))
        if not isinstance(got_layer, (list, tuple)) or len(got_layer) != len(want_layer):
            listed = ", ".join(f"d{q}" if prefix == "d" else q for q in names)
            kind = "a pair" if len(names) == 2 else "a triple"
            results.append(
                failure(
                    *ctx,
                    "structure",
                    f"{container}[layer {l}]",
                    f"expected {kind} ({listed}), got {shown(got_layer)}",
                    l,
                )
            )
            continue
        for q, got, want in zip(names, got_layer, want_layer):
            _check_array(results, ctx, family, f"{prefix}{q}[layer {l}]", got, want, l)


def _loss(results: list[CheckResult], ctx: Context, quantity: str, loss: object) -> np.float64 | None:
    """The returned loss as a float64, or None (and a structure failure) if it is not a number."""
    if not is_loss(loss):
        results.append(failure(*ctx, "structure", quantity, f"expected a float, got {shown(loss)}"))
        return None
    return np.float64(loss)


def _result_ok(results: list[CheckResult], ctx: Context, kind: str, got: Returned) -> bool:
    """The returned object has the contract's required attributes; each one missing is named."""
    required = REQUIRED[kind]
    if got.type == "NoneType" or not any(f in got.fields for f in FIELDS[kind]):
        returned = (
            "None"
            if got.type == "NoneType"
            else f"a {got.type}, which has no attribute {' or '.join(required)}"
        )
        results.append(
            failure(
                *ctx,
                "structure",
                f"{kind} result",
                f"{kind} returned {returned}; expected an object with attributes "
                f"{' and '.join(required)} (a NamedTuple, a dataclass or a SimpleNamespace)",
            )
        )
        return False
    return True


def _field(got: Returned, name: str) -> object:
    """A required attribute of the result; a missing one reads as what it is, in the failure."""
    return got.fields.get(name, Foreign(f"nothing (the returned {got.type} has no attribute {name})"))


def implementation_name(impl: object) -> str:
    """The name printed for ``impl``: its ``name`` as text (whatever it is), else its type's name."""
    try:
        return str(getattr(impl, "name", None) or type(impl).__name__)
    except Exception:
        return type(impl).__name__


@dataclass(frozen=True)
class Checked:
    """One implementation checked on one problem in one dtype: every check's result and the arrays
    they were read from. The verdict (``passed``), the diagnosis (diagnosis/) and the report all read
    this one object; nothing is run or computed a second time."""

    impl: str  # the implementation's printed name
    problem: Problem
    dtype: str
    results: list[CheckResult]
    got: dict[str, Returned]  # "gradients"/"train" -> what it returned, where it has the contract's form
    want: dict[str, Gradients | Trajectory]  # "gradients"/"train" -> the float64 reference on the same values

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)


def check(
    impl: Implementation,
    problem: Problem,
    dtype: str | np.dtype | type = "float64",
    kinds: Sequence[str] = ("gradients", "train"),
) -> Checked:
    """Call ``impl.gradients`` and/or ``impl.train`` once each on fresh read-only copies of the
    problem cast to ``dtype`` (calls.py) and check everything they return against the reference.
    Only the ``kinds`` the problem has are run (an optimizer problem has no backward-pass check)."""
    dtype = str(np.dtype(dtype))
    kinds = tuple(k for k in kinds if k in problem.kinds)
    ctx = Context(implementation_name(impl), problem.name, dtype)
    gradients, trajectory = _expected(problem, np.dtype(dtype))
    want: dict[str, Gradients | Trajectory] = {"gradients": gradients, "train": trajectory}
    results: list[CheckResult] = []
    got: dict[str, Returned] = {}
    for kind in ("gradients", "train"):
        if kind in kinds:
            returned = _call(impl, problem, kind, ctx, results)
            if returned is not None:
                got[kind] = returned
                CHECKS[kind](results, ctx, problem, returned, want[kind])
    return Checked(ctx[0], problem, dtype, results, got, {k: want[k] for k in kinds})


def _call(
    impl: Implementation, problem: Problem, kind: str, ctx: Context, results: list[CheckResult]
) -> Returned | None:
    """The :class:`~conformance.calls.Returned` record of one call, or None (and a failure in
    ``results``) when the call failed or its result is not an object with the contract's attributes."""
    p = problem.as_dtype(ctx[2])
    try:
        got = call(impl, kind, p.spec, p.params, p.x, p.y, lr=p.lr, batches=p.batches, optimizer=p.optimizer)
    except CallFailed as exc:  # an implementation's own failure is a verdict, not a crash
        results.append(failure(*ctx, "call", f"call {kind}", str(exc)))
        return None
    return got if _result_ok(results, ctx, kind, got) else None


def check_gradients(
    impl: Implementation, problem: Problem, dtype: str | np.dtype | type = "float64"
) -> list[CheckResult]:
    """forward (z, a), deltas, grads (BP3, BP4) and loss of one backward pass."""
    return check(impl, problem, dtype, kinds=("gradients",)).results


def _check_pass(
    results: list[CheckResult], ctx: Context, problem: Problem, got: Returned, want: Gradients
) -> None:
    loss = _loss(results, ctx, "loss", _field(got, "loss"))
    if loss is not None:
        results.append(
            compare(
                loss,
                want.loss,
                impl=ctx[0],
                problem=ctx[1],
                dtype=ctx[2],
                check="loss",
                quantity="loss",
            )
        )
    _compare_params(
        results, ctx, "grads", _field(got, "grads"), want.grads, "d", len(conv_stack(problem.spec)[1])
    )
    for attr, family, quantity, extra in PER_LAYER:
        value = got.fields.get(attr)
        if value is not None:  # optional in the contract
            _compare_list(
                results,
                ctx,
                family,
                quantity,
                value,
                getattr(want, attr),
                1 - extra,
                recurrent=getattr(problem.spec, "recurrent", None) is not None,
            )


def _losses(losses: object, steps: int) -> tuple[np.ndarray | None, str]:
    """The per-step losses as a float64 vector, or the reason they are not one."""
    if isinstance(losses, np.ndarray) and losses.dtype.kind == "f" and losses.ndim == 1:
        losses = list(losses)
    if not isinstance(losses, (list, tuple)):
        return None, f"expected a list of {steps} per-step losses, got {shown(losses)}"
    bad = [i for i, v in enumerate(losses) if not is_loss(v)]
    if bad:
        return None, f"losses[{bad[0]}]: expected a float, got {shown(losses[bad[0]])}"
    if len(losses) != steps:
        return None, f"expected {steps} per-step losses, got {shown(losses)}"
    return np.asarray(losses, dtype=np.float64), ""


def check_training(
    impl: Implementation, problem: Problem, dtype: str | np.dtype | type = "float64"
) -> list[CheckResult]:
    """Per-step losses (the first diverging step is named) and final parameters of a whole run."""
    return check(impl, problem, dtype, kinds=("train",)).results


def _check_run(
    results: list[CheckResult], ctx: Context, problem: Problem, got: Returned, want: Trajectory
) -> None:
    losses, why = _losses(_field(got, "losses"), len(want.losses))
    if losses is None:
        results.append(failure(*ctx, "structure", "losses", why))
    else:
        results.append(_compare_steps(ctx, losses, np.asarray(want.losses)))
    _compare_params(
        results,
        ctx,
        "trajectory",
        _field(got, "params"),
        want.params,
        "final ",
        len(conv_stack(problem.spec)[1]),
    )
    state = got.fields.get("state")
    if state is not None and want.state is not None:  # optional: compared where both sides give it
        _compare_state(results, ctx, problem, state, want.state)


def _compare_state(
    results: list[CheckResult], ctx: Context, problem: Problem, got: object, want: dict
) -> None:
    """The optimizer's final state, key by key, where the implementation returns it."""
    if not isinstance(got, dict):
        results.append(failure(*ctx, "structure", "state", f"expected a dict, got {shown(got)}"))
        return
    unknown = sorted(set(got) - set(want))
    if unknown:
        results.append(
            failure(
                *ctx,
                "structure",
                "state",
                f"unknown key {unknown[0]!r}: the reference keeps {', '.join(sorted(want))} "
                f"for {getattr(problem.optimizer, 'name', 'this optimizer')}",
            )
        )
    if "t" in got and (not is_loss(got["t"]) or got["t"] != want["t"]):
        results.append(
            failure(
                *ctx, "trajectory", "state t", f"{shown(got['t'])} = {got['t']!r}, expected {want['t']} steps"
            )
        )
    conv_layers = len(conv_stack(problem.spec)[1])
    for key in sorted(set(got) & set(want) - {"t"}):
        _compare_params(
            results, ctx, "trajectory", got[key], want[key], f"state {key} ", conv_layers, f"state {key}"
        )


def _compare_steps(ctx: Context, losses: np.ndarray, want_losses: np.ndarray) -> CheckResult:
    """Every step's loss within tolerance on its own; the failure names the first step that is not."""
    tol = tolerance("trajectory", ctx[2])
    diff = np.abs(losses - want_losses)
    step_rel = diff / np.maximum(np.abs(want_losses), ZERO_FLOOR)
    bad = np.flatnonzero(~(step_rel <= tol))  # NaN compares False, so it counts as diverged
    detail = (
        (
            f"first diverging step {bad[0]} of {len(losses)}: loss {losses[bad[0]]:.12g}, "
            f"reference {want_losses[bad[0]]:.12g}"
        )
        if bad.size
        else ""
    )
    return CheckResult(
        *ctx,
        "trajectory",
        "losses",
        None,
        float(np.max(step_rel)),
        float(np.max(diff)),
        tol,
        not bad.size,
        detail,
    )


# kind -> the checks of what it returned
CHECKS: dict[str, Callable[[list[CheckResult], Context, Problem, Returned, Any], None]] = {
    "gradients": _check_pass,
    "train": _check_run,
}
