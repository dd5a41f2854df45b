"""``backprop-conformance conventions``: the libraries' defaults as written in conformance/conventions.py
against the libraries' own signatures; the command, run once (``main(argv)`` in this process),
reporting where the defaults part and that the agreeing settings agree; its ``--json``; and
docs/optimizers.json (what docs/optimizers.md shows) against this run."""

import inspect
import json
import os
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

import pytest

from conformance import conventions
from conformance.conventions import OPTAX_DEFAULTS, PROBLEMS, ROWS, THRESHOLD, TORCH_DEFAULTS
from conformance.problems import CATALOGUE
from conformance.runtime.environment import available
from conformance.runtime.threads import THREAD_VARS
from conformance.runtime.xla import FAST_JAX_ENV

ROOT = Path(__file__).resolve().parents[2]
FRAMEWORKS = ("torch", "jax", "flax", "optax", "rich")
pytestmark = pytest.mark.skipif(
    not all(available(m) for m in FRAMEWORKS), reason="the convention matrix runs torch.optim and Optax"
)
DIFFERING = ("rmsprop", "rmsprop+momentum", "adamw", "adagrad", "clip-norm")


def defaults(fn):
    return {k: p.default for k, p in inspect.signature(fn).parameters.items() if p.default is not p.empty}


def test_torch_defaults_are_torch_optims():
    import torch

    sgd, rms = defaults(torch.optim.SGD), defaults(torch.optim.RMSprop)
    adam, adamw, adagrad = (
        defaults(torch.optim.Adam),
        defaults(torch.optim.AdamW),
        defaults(torch.optim.Adagrad),
    )
    assert (sgd["momentum"], sgd["dampening"], sgd["nesterov"]) == (0, 0, False)  # μ: no default
    assert (rms["alpha"], rms["eps"], rms["momentum"], rms["centered"]) == (
        TORCH_DEFAULTS["rmsprop"].rho,
        TORCH_DEFAULTS["rmsprop"].eps,
        0,
        False,
    )
    for name, found in (("adam", adam), ("adamw", adamw)):
        o = TORCH_DEFAULTS[name]
        assert (found["betas"], found["eps"], found["amsgrad"]) == ((o.beta1, o.beta2), o.eps, False)
    assert adam["weight_decay"] == 0 and adamw["weight_decay"] == TORCH_DEFAULTS["adamw"].decoupled_decay
    o = TORCH_DEFAULTS["adagrad"]
    assert (adagrad["eps"], adagrad["initial_accumulator_value"], adagrad["lr_decay"]) == (
        o.eps,
        o.initial_accumulator,
        0,
    )
    # clip_grad_norm_ has no argument for it: the 1e-6 is in its source
    source = inspect.getsource(torch.nn.utils.clip_grad)
    assert "max_norm / (total_norm + 1e-6)" in source
    assert TORCH_DEFAULTS["clip-norm"].clip_eps == 1e-6


def test_optax_defaults_are_optaxs():
    import optax

    rms, adam, adamw = defaults(optax.rmsprop), defaults(optax.adam), defaults(optax.adamw)
    o = OPTAX_DEFAULTS["rmsprop"]
    assert (rms["decay"], rms["eps"], rms["eps_in_sqrt"], rms["initial_scale"]) == (o.rho, o.eps, True, 0.0)
    assert (rms["momentum"], rms["centered"], rms["bias_correction"]) == (None, False, False)
    for name, found in (("adam", adam), ("adamw", adamw)):
        o = OPTAX_DEFAULTS[name]
        assert (found["b1"], found["b2"], found["eps"], found["eps_root"]) == (o.beta1, o.beta2, o.eps, 0.0)
    assert adamw["weight_decay"] == OPTAX_DEFAULTS["adamw"].decoupled_decay
    assert adamw["mask"] is None  # every parameter decayed unless masked: the template masks biases out
    o = OPTAX_DEFAULTS["adagrad"]
    assert (defaults(optax.adagrad)["initial_accumulator_value"], defaults(optax.adagrad)["eps"]) == (
        o.initial_accumulator,
        o.eps,
    )
    assert defaults(optax.sgd) == {"momentum": None, "nesterov": False, "accumulator_dtype": None}
    assert list(inspect.signature(optax.clip_by_global_norm).parameters) == ["max_norm"]  # no ε
    assert OPTAX_DEFAULTS["clip-norm"].clip_eps == 0.0


def test_no_default_values_are_the_problems():
    """μ and c have no default in either library: both sides take the row's problem's."""
    for name in ROWS:
        torch, optax, want = TORCH_DEFAULTS[name], OPTAX_DEFAULTS[name], CATALOGUE[PROBLEMS[name]].optimizer
        assert torch.momentum == optax.momentum == want.momentum, name
        assert torch.clip_norm == optax.clip_norm == want.clip_norm, name


def conventions_command(path):
    """``main(["conventions", "--json", path])`` in this process: (exit status, stdout, the record).
    The variables main sets (threads.py, xla.py) are restored after."""
    from conformance.cli import main

    saved = {var: os.environ.get(var) for var in (*THREAD_VARS, *FAST_JAX_ENV)}
    out = StringIO()
    try:
        with redirect_stdout(out):
            code = main(["conventions", "--json", str(path)])
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
    return code, out.getvalue(), json.loads(Path(path).read_text())


def test_the_command(tmp_path):
    """One run (a few hundred training runs, most of them JAX compiles: one test, so that xdist runs
    it once): the tables, where the defaults part, that the agreeing settings agree, the JSON, and
    that docs/optimizers.json is what it measures now."""
    code, stdout, record = conventions_command(tmp_path / "conventions.json")
    assert code == 0, stdout
    for name in (*ROWS, "η placement", "ε̂"):
        assert name in stdout
    check_shape(record)
    rows = {r["optimizer"]: r for r in record["rows"]}
    for name, r in rows.items():
        d = r["defaults"]
        if name in DIFFERING:
            assert d["first_step"] is not None and max(d["loss"], d["params"]) > 1e-7, name
        else:
            assert d["first_step"] is None and max(d["loss"], d["params"]) <= THRESHOLD, name
        for d in (r["agree"]["difference"], r["torch_vs_reference"], r["optax_vs_reference"]):
            assert d["first_step"] is None and max(d["loss"], d["params"]) <= THRESHOLD, name
    eta, eps_hat = record["conventions"]
    drop = 17  # the problem's η drops from step 17 (1-based) on: the forms part in that update
    assert eta["difference"]["first_step"] == drop and eta["difference"]["loss"] > 1e-3
    assert max(eta["agreement"]["loss"], eta["agreement"]["params"]) <= THRESHOLD
    assert eps_hat["difference"]["first_step"] == 1 and eps_hat["agreement"] is None
    committed = json.loads((ROOT / "docs" / "optimizers.json").read_text())
    assert coarse(committed, THRESHOLD) == coarse(record, THRESHOLD), (
        "docs/optimizers.json is stale: run `backprop-conformance conventions --json "
        "docs/optimizers.json` and `python docs/generate.py`"
    )


def check_shape(record):
    assert set(record) == {"command", "versions", "threshold", "rows", "conventions", "declines"}
    assert record["command"].startswith("backprop-conformance conventions --json ")
    assert set(record["versions"]) == set(conventions.VERSIONS)
    assert [r["optimizer"] for r in record["rows"]] == list(ROWS)
    assert set(record["declines"]) == set(conventions.TEMPLATES.values())
    for r in record["rows"]:
        for side in ("torch", "optax"):
            assert set(r[side]) == {"optimizer", "impl", "declined", "call"}
        for d in (r["defaults"], r["torch_vs_reference"], r["optax_vs_reference"], r["agree"]["difference"]):
            assert set(d) == {"first_step", "loss", "params"}


def coarse(value, threshold):
    """A record with every measured difference reduced to what is the same on any machine: the step,
    and each size to two digits, or 'agrees' at or below the threshold (float64 rounding)."""
    if isinstance(value, dict):
        if set(value) == {"first_step", "loss", "params"}:
            size = lambda x: "agrees" if x <= threshold else f"{x:.1e}"  # noqa: E731
            return (value["first_step"], size(value["loss"]), size(value["params"]))
        return {k: coarse(v, threshold) for k, v in value.items() if k != "command"}
    if isinstance(value, list):
        return [coarse(v, threshold) for v in value]
    return value
