"""Run one implementation on one problem and check everything it returns against the reference.

Order of checks for every array: it exists, it has the contract's shape, it has the input's dtype,
and only then its values (compare.py). Anything an implementation does wrong — raising, a wrong
shape or dtype, NaN — becomes a failed :class:`CheckResult`, never an exception out of the suite.
"""

import functools
import traceback

import numpy as np

import reference
from reference.conv import conv_stack

from .compare import CheckResult, compare, failure
from .tolerances import ZERO_FLOOR, tolerance

PER_LAYER = (  # (attribute, check family, quantity name, number of entries relative to L)
    ("zs", "forward", "z", 0),
    ("activations", "forward", "a", 1),
    ("deltas", "deltas", "delta", 0),
)


@functools.lru_cache(maxsize=256)
def _expected(problem, dtype):
    """The float64 reference on exactly the values a ``dtype`` implementation receives."""
    p = problem.as_dtype(dtype).as_dtype(np.float64)
    return (reference.backprop(p.spec, p.params, p.x, p.y),
            reference.train(p.spec, p.params, p.x, p.y, lr=p.lr, batches=p.batches))


def _call(results, ctx, name, fn):
    try:
        return fn()
    except Exception as exc:  # an implementation's own failure is a verdict, not a crash
        last = traceback.extract_tb(exc.__traceback__)[-1]
        results.append(failure(*ctx, "call", f"call {name}",
                               f"raised {type(exc).__name__}: {exc} ({last.filename}:{last.lineno})"))
        return None


def _check_array(results, ctx, family, quantity, got, want, layer=None):
    """Type, shape and dtype first (a structure failure if any is wrong), then the values."""
    dtype = np.dtype(ctx[2])
    if not isinstance(got, np.ndarray):
        results.append(failure(*ctx, "structure", quantity,
                               f"expected a numpy array, got {type(got).__name__}", layer))
    elif got.shape != want.shape:
        results.append(failure(*ctx, "structure", quantity,
                               f"shape {got.shape}, expected {want.shape}", layer))
    elif got.dtype != dtype:
        results.append(failure(*ctx, "structure", quantity,
                               f"dtype {got.dtype}, expected {dtype} (no silent casts)", layer))
    else:
        results.append(compare(got, want, impl=ctx[0], problem=ctx[1], dtype=ctx[2], check=family,
                               quantity=quantity, layer=layer))


def _compare_list(results, ctx, family, name, got_list, want_list, offset=0):
    if not isinstance(got_list, (list, tuple)) or len(got_list) != len(want_list):
        length = len(got_list) if hasattr(got_list, "__len__") else "?"
        results.append(failure(*ctx, "structure", name, f"expected a list of {len(want_list)} "
                               f"arrays, got {type(got_list).__name__} of length {length}"))
        return
    for i, (got, want) in enumerate(zip(got_list, want_list)):
        layer = i + offset
        _check_array(results, ctx, family, f"{name}[layer {layer}]", got, want, layer)


def _compare_params(results, ctx, family, got_params, want_params, prefix, conv_layers):
    """Pairs named (K, b) for the first ``conv_layers`` layers, (W, b) for the dense ones."""
    L = len(want_params)
    if not isinstance(got_params, (list, tuple)) or len(got_params) != L:
        results.append(failure(*ctx, "structure", f"{prefix}", f"expected a list of {L} pairs"))
        return
    for l, (got_pair, want_pair) in enumerate(zip(got_params, want_params), start=1):
        for (q, got), want in zip(zip(("K" if l <= conv_layers else "W", "b"), got_pair), want_pair):
            _check_array(results, ctx, family, f"{prefix}{q}[layer {l}]", got, want, l)


def _loss_ok(results, ctx, quantity, loss):
    if isinstance(loss, (bool, np.bool_)) or not isinstance(loss, (float, int, np.floating)):
        results.append(failure(*ctx, "structure", quantity,
                               f"expected a float, got {type(loss).__name__}"))
        return False
    return True


def _run(impl, problem, dtype, kind):
    """Call ``impl.gradients`` or ``impl.train`` on the problem cast to dtype; return
    (context, the reference's answer, what the implementation returned or None, results so far)."""
    ctx = (getattr(impl, "name", type(impl).__name__), problem.name, str(np.dtype(dtype)))
    p = problem.as_dtype(dtype)
    gradients, trajectory = _expected(problem, np.dtype(dtype))
    results = []
    if kind == "gradients":
        got = _call(results, ctx, kind, lambda: impl.gradients(p.spec, p.params, p.x, p.y))
        return ctx, gradients, got, results
    got = _call(results, ctx, kind, lambda: impl.train(p.spec, p.params, p.x, p.y, lr=p.lr,
                                                       batches=p.batches))
    return ctx, trajectory, got, results


def check_gradients(impl, problem, dtype):
    """forward (z, a), deltas, grads (BP3, BP4) and loss of one backward pass."""
    ctx, want, got, results = _run(impl, problem, dtype, "gradients")
    if got is None:
        return results
    loss = getattr(got, "loss", None)
    if _loss_ok(results, ctx, "loss", loss):
        results.append(compare(np.float64(loss), want.loss, impl=ctx[0], problem=ctx[1],
                               dtype=ctx[2], check="loss", quantity="loss"))
    _compare_params(results, ctx, "grads", getattr(got, "grads", None), want.grads, "d",
                    len(conv_stack(problem.spec)[1]))
    for attr, family, quantity, extra in PER_LAYER:
        value = getattr(got, attr, None)
        if value is not None:  # optional in the contract
            _compare_list(results, ctx, family, quantity, value, getattr(want, attr), 1 - extra)
    return results


def check_training(impl, problem, dtype):
    """Per-step losses (the first diverging step is named) and final parameters of a whole run."""
    ctx, want, got, results = _run(impl, problem, dtype, "train")
    if got is None:
        return results
    losses = getattr(got, "losses", None)
    try:
        losses = np.asarray(losses, dtype=np.float64)
    except (TypeError, ValueError):
        losses = None
    if losses is None or losses.shape != (len(want.losses),):
        results.append(failure(*ctx, "structure", "losses",
                               f"expected {len(want.losses)} per-step losses, got "
                               f"{getattr(losses, 'shape', type(losses).__name__)}"))
    else:
        results.append(_compare_steps(ctx, losses, np.asarray(want.losses)))
    _compare_params(results, ctx, "trajectory", getattr(got, "params", None), want.params, "final ",
                    len(conv_stack(problem.spec)[1]))
    return results


def _compare_steps(ctx, losses, want_losses):
    """Every step's loss within tolerance on its own; the failure names the first step that is not."""
    tol = tolerance("trajectory", ctx[2])
    diff = np.abs(losses - want_losses)
    step_rel = diff / np.maximum(np.abs(want_losses), ZERO_FLOOR)
    bad = np.flatnonzero(~(step_rel <= tol))  # NaN compares False, so it counts as diverged
    detail = (f"first diverging step {bad[0]} of {len(losses)}: loss {losses[bad[0]]:.12g}, "
              f"reference {want_losses[bad[0]]:.12g}") if bad.size else ""
    return CheckResult(*ctx, "trajectory", "losses", None, float(np.max(step_rel)),
                       float(np.max(diff)), tol, not bad.size, detail)


def supports(impl, spec):
    """An implementation may declare ``supports(spec) -> bool``; by default it supports everything."""
    fn = getattr(impl, "supports", None)
    return True if fn is None else bool(fn(spec))
