"""The optimizer a training problem asks for: the rule, its hyperparameters, the convention switches
and clipping (docs/optimizers.md; the update rules are reference/optimizers.py).

Plain SGD at a constant rate stays what it always was: a problem without an optimizer. A problem
with one (or with a schedule: ``lr`` one η_t per step) is handed only to an implementation that
declares ``supports_optimizer(optimizer) -> bool`` and says True (calls.supports).
"""

from dataclasses import dataclass, fields

from reference.validation import OPTIMIZER_DEFAULTS, READS, check_optimizer


@dataclass(frozen=True)
class Optimizer:
    """``name`` is one of sgd, momentum, nesterov, rmsprop, adam, adamw, adagrad; the rest are the
    hyperparameters (μ = ``momentum``, ρ = ``rho``, β₁, β₂, ε, λ_d = ``decoupled_decay``), the
    convention switches (``momentum_form`` "buffer" or "velocity", ``eps_in_sqrt``, ``eps_hat``,
    ``initial_accumulator``) and clipping (``clip_value`` or ``clip_norm``, with ``clip_eps`` added to
    the norm). A hyperparameter the rule does not read must keep its default. Validated on
    construction (reference.validation.check_optimizer); any object with these attribute names is
    accepted by the implementations."""

    name: str = "sgd"
    momentum: float = 0.0
    momentum_form: str = "buffer"
    rho: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    eps_in_sqrt: bool = False
    eps_hat: bool = False
    decoupled_decay: float = 0.0
    initial_accumulator: float = 0.0
    clip_value: float | None = None
    clip_norm: float | None = None
    clip_eps: float = 0.0

    def __post_init__(self) -> None:
        check_optimizer(self)

    @property
    def label(self) -> str:
        """e.g. 'adam β1=0.9 β2=0.999 ε=1e-08 clip_norm=1': the name, the numbers its rule reads, and
        the switches and clipping where they are not the default."""
        parts = [self.name]
        for k, default in OPTIMIZER_DEFAULTS.items():
            value = getattr(self, k)
            number = (
                isinstance(value, float)
                and k not in ("decoupled_decay", "initial_accumulator")
                and not k.startswith("clip")
            )
            if (number and k in READS[self.name] and (k != "momentum" or value)) or (
                not number and value != default
            ):
                parts.append(f"{SYMBOLS.get(k, k)}={value:g}" if isinstance(value, float) else f"{k}={value}")
        return " ".join(parts)


SYMBOLS = {"momentum": "μ", "rho": "ρ", "beta1": "β1", "beta2": "β2", "eps": "ε", "decoupled_decay": "λ_d"}

assert {f.name for f in fields(Optimizer)} - {"name"} == set(OPTIMIZER_DEFAULTS)  # one list of fields
assert all(getattr(Optimizer(), k) == v for k, v in OPTIMIZER_DEFAULTS.items())  # and of defaults
