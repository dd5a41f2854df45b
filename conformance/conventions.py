"""The convention matrix: torch.optim's and Optax's optimizers with their *default* arguments, run
now on catalogue problems chosen to expose each difference, against each other, against the
reference with the matching switches, and under the settings that make them agree
(``backprop-conformance conventions``; docs/optimizers.md shows the table).

Each library's defaults are written once, as contract optimizers: TORCH_DEFAULTS and OPTAX_DEFAULTS
(tests/cli/test_conventions.py reads them back from the libraries' own signatures). The momentum μ
and the clipping threshold c have no default in either library (torch: μ = 0 is off, Optax: None):
they are the row's problem's, the same on both sides, and so is η (Optax has none). Both libraries
decay every parameter in AdamW unless told otherwise; the contract, and both templates, decay the
weights and kernels only.

A side runs on its template (``torch.module``: torch.optim; ``jax.flax``: Optax) when the template's
``supports_optimizer`` accepts the optimizer; otherwise on the reference with the same switches, and
the row says so (``Side.declined``).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from importlib import metadata
from typing import Any, cast

import numpy as np

from conformance.calls import supports_optimizer
from conformance.compare import compare
from conformance.contract import Optimizes
from conformance.optimizer import SYMBOLS, Optimizer
from conformance.problems import CATALOGUE, Problem
from conformance.targets.registry import load

THRESHOLD = 1e-12  # relative: beyond it two runs differ; the agreeing settings must stay within it
TEMPLATES = {"torch": "torch.module", "optax": "jax.flax"}  # the side -> the template that runs it
LIBRARIES = {"torch": "torch.optim", "optax": "Optax"}
VERSIONS = ("torch", "jax", "flax", "optax", "numpy")  # recorded with every measurement

O = Optimizer
# The libraries' defaults as contract optimizers (torch 2.13 torch/optim/*.py and clip_grad_norm_'s
# 1e-6; Optax 0.2.8 optax/_src/alias.py). μ and c: the row's problem's (see above).
TORCH_DEFAULTS = {
    "sgd": O("sgd"),
    "momentum": O("momentum", momentum=0.9),
    "nesterov": O("nesterov", momentum=0.8),
    "rmsprop": O("rmsprop", rho=0.99, eps=1e-8),
    "rmsprop+momentum": O("rmsprop", rho=0.99, eps=1e-8, momentum=0.5),
    "adam": O("adam", beta1=0.9, beta2=0.999, eps=1e-8),
    "adamw": O("adamw", beta1=0.9, beta2=0.999, eps=1e-8, decoupled_decay=1e-2),
    "adagrad": O("adagrad", eps=1e-10, initial_accumulator=0.0),
    "clip-norm": O("momentum", momentum=0.9, clip_norm=0.17, clip_eps=1e-6),
}
OPTAX_DEFAULTS = {
    "sgd": O("sgd"),
    "momentum": O("momentum", momentum=0.9),
    "nesterov": O("nesterov", momentum=0.8),
    "rmsprop": O("rmsprop", rho=0.9, eps=1e-8, eps_in_sqrt=True),
    "rmsprop+momentum": O(
        "rmsprop", rho=0.9, eps=1e-8, eps_in_sqrt=True, momentum=0.5, momentum_form="velocity"
    ),
    "adam": O("adam", beta1=0.9, beta2=0.999, eps=1e-8),
    "adamw": O("adamw", beta1=0.9, beta2=0.999, eps=1e-8, decoupled_decay=1e-4),
    "adagrad": O("adagrad", eps=1e-7, eps_in_sqrt=True, initial_accumulator=0.1),
    "clip-norm": O("momentum", momentum=0.9, clip_norm=0.17),
}
# How each library spells its defaults (params, η and the mask aside).
TORCH_CALLS = {
    "sgd": "SGD(lr=η)",
    "momentum": "SGD(lr=η, momentum=0.9)",
    "nesterov": "SGD(lr=η, momentum=0.8, nesterov=True)",
    "rmsprop": "RMSprop(lr=η)",
    "rmsprop+momentum": "RMSprop(lr=η, momentum=0.5)",
    "adam": "Adam(lr=η)",
    "adamw": "AdamW(lr=η)",
    "adagrad": "Adagrad(lr=η)",
    "clip-norm": "clip_grad_norm_(params, 0.17); SGD(lr=η, momentum=0.9)",
}
OPTAX_CALLS = {
    "sgd": "sgd(η)",
    "momentum": "sgd(η, momentum=0.9)",
    "nesterov": "sgd(η, momentum=0.8, nesterov=True)",
    "rmsprop": "rmsprop(η)",
    "rmsprop+momentum": "rmsprop(η, momentum=0.5)",
    "adam": "adam(η)",
    "adamw": "adamw(η)",
    "adagrad": "adagrad(η)",
    "clip-norm": "chain(clip_by_global_norm(0.17), sgd(η, momentum=0.9))",
}
# The problem that exposes each row's difference: small gradients for ε's placement and Adagrad's
# s₀, an η drop for where η sits in momentum, clipping that triggers on some steps only.
PROBLEMS = {
    "sgd": "opt-sgd-lr-drop",
    "momentum": "opt-momentum-buffer-lr-drop",
    "nesterov": "opt-nesterov-buffer-lr-drop",
    "rmsprop": "opt-rmsprop-small-grads",
    "rmsprop+momentum": "opt-rmsprop-momentum-buffer-lr-drop",
    "adam": "opt-adam-decay",
    "adamw": "opt-adamw-decay-kink",
    "adagrad": "opt-adagrad-small-grads",
    "clip-norm": "opt-momentum-clip-norm",
}


@dataclass(frozen=True)
class Agree:
    """Settings that make the two libraries compute the same thing, and how each spells them
    (None: no argument of that library does; the reference then stands in for it)."""

    optimizer: Optimizer
    torch: str | None
    optax: str | None


AGREE = {
    "sgd": Agree(TORCH_DEFAULTS["sgd"], TORCH_CALLS["sgd"], OPTAX_CALLS["sgd"]),
    "momentum": Agree(TORCH_DEFAULTS["momentum"], TORCH_CALLS["momentum"], OPTAX_CALLS["momentum"]),
    "nesterov": Agree(TORCH_DEFAULTS["nesterov"], TORCH_CALLS["nesterov"], OPTAX_CALLS["nesterov"]),
    "rmsprop": Agree(TORCH_DEFAULTS["rmsprop"], "RMSprop(lr=η)", "rmsprop(η, decay=0.99, eps_in_sqrt=False)"),
    "rmsprop+momentum": Agree(  # optax.rmsprop's momentum is a velocity (trace after the η scaling)
        TORCH_DEFAULTS["rmsprop+momentum"],
        "RMSprop(lr=η, momentum=0.5)",
        "chain(scale_by_rms(decay=0.99, eps_in_sqrt=False), trace(decay=0.5), scale_by_learning_rate(η))",
    ),
    "adam": Agree(TORCH_DEFAULTS["adam"], TORCH_CALLS["adam"], OPTAX_CALLS["adam"]),
    "adamw": Agree(TORCH_DEFAULTS["adamw"], "AdamW(lr=η)", "adamw(η, weight_decay=1e-2)"),
    "adagrad": Agree(  # optax.scale_by_rss always puts ε inside the root; torch always outside
        OPTAX_DEFAULTS["adagrad"], None, OPTAX_CALLS["adagrad"]
    ),
    "clip-norm": Agree(  # clip_grad_norm_ always adds 1e-6 to the norm; clip_by_global_norm never does
        OPTAX_DEFAULTS["clip-norm"], None, OPTAX_CALLS["clip-norm"]
    ),
}
ROWS = tuple(TORCH_DEFAULTS)
assert tuple(OPTAX_DEFAULTS) == tuple(PROBLEMS) == tuple(AGREE) == tuple(TORCH_CALLS) == ROWS


@dataclass(frozen=True)
class Convention:
    """One switch, measured on the reference alone: ``a`` against ``b`` on ``problem``; ``agree``
    turns the problem into one where they coincide (None: no such problem)."""

    name: str
    problem: str
    a: Optimizer
    a_users: str
    b: Optimizer
    b_users: str
    agree: str | None  # what makes them coincide, in words
    agreeing: Callable[[Problem], Problem] | None


def _constant_rate(problem: Problem) -> Problem:
    """The same problem at its first η on every step: no drop."""
    rates = problem.lr if isinstance(problem.lr, tuple) else (problem.lr,)
    return replace(problem, lr=rates[0])


CONVENTIONS = (
    Convention(
        "η placement",
        "opt-momentum-buffer-lr-drop",
        O("momentum", momentum=0.9),
        "buffer (torch.optim, Optax)",
        O("momentum", momentum=0.9, momentum_form="velocity"),
        "velocity (Nielsen, Sutskever, Keras, CS231n)",
        "a constant η",
        _constant_rate,
    ),
    Convention(
        "ε̂",
        "opt-adam-eps-hat-small-grads",
        O("adam", beta1=0.9, beta2=0.999, eps=1e-8),
        "ε (torch.optim, Optax)",
        O("adam", beta1=0.9, beta2=0.999, eps=1e-8, eps_hat=True),
        "ε̂ (Keras, TF)",
        None,  # ε̂ acts as ε/√(1−β₂ᵗ), which moves with t: no constant ε matches it
        None,
    ),
)


# One optimizer per convention value, each asked of both templates' supports_optimizer.
PROBES = {
    "momentum, buffer": O("momentum", momentum=0.9),
    "momentum, velocity": O("momentum", momentum=0.9, momentum_form="velocity"),
    "nesterov, buffer": O("nesterov", momentum=0.9),
    "nesterov, velocity": O("nesterov", momentum=0.9, momentum_form="velocity"),
    "rmsprop, ε outside √": O("rmsprop"),
    "rmsprop, ε inside √": O("rmsprop", eps_in_sqrt=True),
    "rmsprop + momentum, buffer": O("rmsprop", momentum=0.5),
    "rmsprop + momentum, velocity": O("rmsprop", momentum=0.5, momentum_form="velocity"),
    "adam, ε": O("adam"),
    "adam, ε̂": O("adam", eps_hat=True),
    "adamw": O("adamw", decoupled_decay=1e-2),
    "adagrad, ε outside √, s₀ = 0": O("adagrad"),
    "adagrad, ε outside √, s₀ = 0.1": O("adagrad", initial_accumulator=0.1),
    "adagrad, ε inside √, s₀ = 0": O("adagrad", eps_in_sqrt=True),
    "adagrad, ε inside √, s₀ = 0.1": O("adagrad", eps_in_sqrt=True, initial_accumulator=0.1),
    "clip by value": O("sgd", clip_value=1.0),
    "clip by norm, ε = 0": O("sgd", clip_norm=1.0),
    "clip by norm, ε = 1e-6": O("sgd", clip_norm=1.0, clip_eps=1e-6),
}


@dataclass(frozen=True)
class Difference:
    """Two runs of one problem: ``first_step`` the first update after which they differ by more than
    THRESHOLD relative (seen in the next step's loss, or for the last update in the final
    parameters; None: they never do), ``loss`` the largest relative per-step loss difference,
    ``params`` the normwise relative difference of the final parameters."""

    first_step: int | None
    loss: float
    params: float

    @property
    def agrees(self) -> bool:
        return self.first_step is None


@dataclass(frozen=True)
class Side:
    """Which implementation ran one side: the template, or the reference where the template
    declined the optimizer."""

    optimizer: Optimizer
    impl: str
    declined: str | None  # the template that declined, None when it ran

    def record(self) -> dict[str, Any]:
        return {"optimizer": _fields(self.optimizer), "impl": self.impl, "declined": self.declined}


@dataclass(frozen=True)
class Row:
    """One optimizer: both libraries' defaults against each other and the reference, and under the
    agreeing settings."""

    name: str
    problem: str
    torch: Side
    optax: Side
    defaults: Difference
    torch_vs_reference: Difference
    optax_vs_reference: Difference
    agree: Agree
    agree_torch: Side
    agree_optax: Side
    agreement: Difference

    @property
    def differs(self) -> list[str]:
        """The switches and hyperparameters the two defaults set differently: 'ρ 0.99 vs 0.9'."""
        return _differs(self.torch.optimizer, self.optax.optimizer)

    def record(self) -> dict[str, Any]:
        return {
            "optimizer": self.name,
            "problem": self.problem,
            "differs": self.differs,
            "torch": {**self.torch.record(), "call": TORCH_CALLS[self.name]},
            "optax": {**self.optax.record(), "call": OPTAX_CALLS[self.name]},
            "defaults": vars(self.defaults),
            "torch_vs_reference": vars(self.torch_vs_reference),
            "optax_vs_reference": vars(self.optax_vs_reference),
            "agree": {
                "optimizer": _fields(self.agree.optimizer),
                "torch": {**self.agree_torch.record(), "call": self.agree.torch},
                "optax": {**self.agree_optax.record(), "call": self.agree.optax},
                "difference": vars(self.agreement),
            },
        }


@dataclass(frozen=True)
class Switch:
    """One convention measured on the reference: the two forms, and where they coincide."""

    convention: Convention
    difference: Difference
    agreement: Difference | None

    def record(self) -> dict[str, Any]:
        c = self.convention
        return {
            "convention": c.name,
            "problem": c.problem,
            "a": {"optimizer": _fields(c.a), "users": c.a_users},
            "b": {"optimizer": _fields(c.b), "users": c.b_users},
            "differs": _differs(c.a, c.b),
            "difference": vars(self.difference),
            "agree": c.agree,
            "agreement": None if self.agreement is None else vars(self.agreement),
        }


@dataclass(frozen=True)
class Matrix:
    rows: list[Row]
    switches: list[Switch]
    declines: dict[str, list[str]]  # template -> the PROBES it declines
    versions: dict[str, str]

    def record(self, command: str) -> dict[str, Any]:
        """Everything measured, as plain data (``--json``; docs/generate.py reads it back)."""
        return {
            "command": command,
            "versions": self.versions,
            "threshold": THRESHOLD,
            "rows": [r.record() for r in self.rows],
            "conventions": [s.record() for s in self.switches],
            "declines": self.declines,
        }


NAMES = {**SYMBOLS, "momentum_form": "form", "eps_in_sqrt": "ε in √", "initial_accumulator": "s₀"}


def _fields(optimizer: Optimizer) -> dict[str, Any]:
    return {f.name: getattr(optimizer, f.name) for f in fields(optimizer)}


def _value(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _differs(a: Optimizer, b: Optimizer) -> list[str]:
    return [
        f"{NAMES.get(f.name, f.name)} {_value(getattr(a, f.name))} vs {_value(getattr(b, f.name))}"
        for f in fields(a)
        if getattr(a, f.name) != getattr(b, f.name)
    ]


def number(x: float) -> str:
    """A measured relative difference as the tables print it: '3.5e-01', '0' for an exact match."""
    return "0" if x == 0 else f"{x:.1e}"


def step(first: int | None) -> str:
    return "never" if first is None else str(first)


def versions() -> dict[str, str]:
    """The installed versions of the libraries that ran (read from their metadata, nothing imported)."""
    found = {}
    for name in VERSIONS:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def difference(a: Any, b: Any, problem: str) -> Difference:
    """How far run ``a`` is from run ``b`` (both trajectories of ``problem``), relative to ``b``."""
    la, lb = np.asarray(a.losses, dtype=np.float64), np.asarray(b.losses, dtype=np.float64)
    loss = np.abs(la - lb) / np.maximum(np.abs(lb), np.finfo(np.float64).tiny)
    flat = lambda params: np.concatenate([np.ravel(p) for pair in params for p in pair])  # noqa: E731
    params = compare(
        flat(a.params),
        flat(b.params),
        impl="conventions",
        problem=problem,
        dtype="float64",
        check="trajectory",
        quantity="final params",
    ).rel
    # the loss of step k is C before update k: a difference first seen there was made by update k − 1
    later = np.flatnonzero(loss[1:] > THRESHOLD)
    first = int(later[0]) + 1 if later.size else (len(la) if params > THRESHOLD else None)
    return Difference(first, float(np.max(loss)), float(params))


class Runner:
    """Trains a problem on a side's template, or on the reference where the template declines the
    optimizer; each implementation is loaded once, and each run made once (the rows whose defaults
    already agree ask for the same runs twice)."""

    def __init__(self) -> None:
        self.impls = {name: load(name) for name in ("reference", *TEMPLATES.values())}
        self.runs: dict[tuple[str, Optimizer, str, Any], Any] = {}

    def side(self, side: str, optimizer: Optimizer) -> Side:
        name = TEMPLATES[side]
        if supports_optimizer(self.impls[name], optimizer):
            return Side(optimizer, name, None)
        return Side(optimizer, "reference", name)

    def run(self, side: Side, problem: Problem) -> Any:
        p = problem
        key = (side.impl, side.optimizer, p.name, p.lr)
        if key not in self.runs:
            impl = cast(Optimizes, self.impls[side.impl])  # the reference, or a template that accepts it
            self.runs[key] = impl.train(
                p.spec, p.params, p.x, p.y, lr=p.lr, batches=p.batches, optimizer=side.optimizer
            )
        return self.runs[key]


def _reference(optimizer: Optimizer) -> Side:
    return Side(optimizer, "reference", None)


def measure_row(runner: Runner, name: str) -> Row:
    problem = CATALOGUE[PROBLEMS[name]]
    torch, optax = runner.side("torch", TORCH_DEFAULTS[name]), runner.side("optax", OPTAX_DEFAULTS[name])
    t, o = runner.run(torch, problem), runner.run(optax, problem)
    t_ref, o_ref = (
        runner.run(_reference(torch.optimizer), problem),
        runner.run(_reference(optax.optimizer), problem),
    )
    agree = AGREE[name]
    agree_torch, agree_optax = runner.side("torch", agree.optimizer), runner.side("optax", agree.optimizer)
    at, ao = runner.run(agree_torch, problem), runner.run(agree_optax, problem)
    return Row(
        name,
        problem.name,
        torch,
        optax,
        difference(t, o, problem.name),
        difference(t, t_ref, problem.name),
        difference(o, o_ref, problem.name),
        agree,
        agree_torch,
        agree_optax,
        difference(at, ao, problem.name),
    )


def measure_switch(runner: Runner, convention: Convention) -> Switch:
    problem = CATALOGUE[convention.problem]

    def between(p: Problem) -> Difference:
        a, b = runner.run(_reference(convention.a), p), runner.run(_reference(convention.b), p)
        return difference(a, b, p.name)

    agreeing = convention.agreeing
    return Switch(convention, between(problem), None if agreeing is None else between(agreeing(problem)))


def measure(rows: Sequence[str] = ROWS, progress: Callable[[str], None] = lambda name: None) -> Matrix:
    """The rows named (every optimizer by default) and every convention, run now; ``progress`` is
    told each one's name as it starts."""
    runner = Runner()
    declines = {
        name: [probe for probe, o in PROBES.items() if not supports_optimizer(runner.impls[name], o)]
        for name in TEMPLATES.values()
    }
    measured = []
    for name in rows:
        progress(name)
        measured.append(measure_row(runner, name))
    switches = []
    for convention in CONVENTIONS:
        progress(convention.name)
        switches.append(measure_switch(runner, convention))
    return Matrix(measured, switches, declines, versions())


@dataclass(frozen=True)
class Listing:
    """One table of the record, as text: the command prints it with rich, docs/optimizers.md as
    Markdown."""

    title: str
    caption: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]


NUMERIC = ("first step", "loss", "θ", "torch vs ref", "Optax vs ref", "agreement")


def _largest(d: dict[str, Any] | None) -> str:
    return "—" if d is None else number(max(d["loss"], d["params"]))


def _versus_reference(side: dict[str, Any], d: dict[str, Any]) -> str:
    return "—" if side["declined"] else _largest(d)


def _ran(side: dict[str, Any]) -> str:
    return side["impl"] if side["declined"] is None else "reference"


def listings(record: dict[str, Any]) -> list[Listing]:
    """The three tables of a record (Matrix.record): the defaults against each other, the agreeing
    settings, the two conventions measured on the reference."""
    threshold = f"{record['threshold']:g}"
    defaults = Listing(
        "torch.optim's defaults against Optax's (float64; η the problem's on both sides)",
        f"first step: the first update after which they differ by more than {threshold} relative; "
        "loss: the largest relative per-step loss difference; θ: the final parameters, normwise; "
        "vs ref: the larger of the two against the reference with the same switches (—: the "
        "template declines it and the reference ran that side)",
        ("optimizer", "problem", "torch.optim vs Optax", *NUMERIC[:5]),
        [
            (
                r["optimizer"],
                r["problem"],
                ", ".join(r["differs"]) or "the same",
                step(r["defaults"]["first_step"]),
                number(r["defaults"]["loss"]),
                number(r["defaults"]["params"]),
                _versus_reference(r["torch"], r["torch_vs_reference"]),
                _versus_reference(r["optax"], r["optax_vs_reference"]),
            )
            for r in record["rows"]
        ],
    )
    agree = Listing(
        "The settings that make them agree",
        f"agreement: the larger of the loss and θ differences (at most {threshold}); a side whose "
        "template cannot express the setting (—: no argument of that library does) ran on the "
        "reference",
        ("optimizer", "torch.optim", "Optax", "torch side", "Optax side", "agreement"),
        [
            (
                r["optimizer"],
                r["agree"]["torch"]["call"] or "—",
                r["agree"]["optax"]["call"] or "—",
                _ran(r["agree"]["torch"]),
                _ran(r["agree"]["optax"]),
                _largest(r["agree"]["difference"]),
            )
            for r in record["rows"]
        ],
    )
    switches = Listing(
        "Two conventions the defaults above share, on the reference",
        "each convention's two forms, a against b; agreement: the two where they coincide (—: at no "
        "constant setting)",
        ("convention", "problem", "a", "b", "first step", "loss", "θ", "coincide at", "agreement"),
        [
            (
                c["convention"],
                c["problem"],
                c["a"]["users"],
                c["b"]["users"],
                step(c["difference"]["first_step"]),
                number(c["difference"]["loss"]),
                number(c["difference"]["params"]),
                c["agree"] or "—",
                _largest(c["agreement"]),
            )
            for c in record["conventions"]
        ],
    )
    return [defaults, agree, switches]


def failures(record: dict[str, Any]) -> list[str]:
    """What contradicts the tables: a template that does not match the reference with the switches
    its row gives it, or agreeing settings (or forms) that do not agree."""
    lines = []

    def differ(where: str, d: dict[str, Any]) -> None:
        if d["first_step"] is not None:
            size = f"loss {number(d['loss'])}, θ {number(d['params'])}"
            lines.append(f"{where} differ from step {d['first_step']} ({size})")

    for r in record["rows"]:
        name = r["optimizer"]
        for side, library in LIBRARIES.items():
            if not r[side]["declined"]:
                differ(f"{name}: {library}'s defaults and the reference", r[f"{side}_vs_reference"])
        differ(f"{name}: the agreeing settings", r["agree"]["difference"])
    for c in record["conventions"]:
        if c["agreement"] is not None:
            differ(f"{c['convention']}: the two forms at {c['agree']}", c["agreement"])
    return lines
