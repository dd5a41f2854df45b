"""The network specification every implementation receives (docs/contract.md, the harness contract)."""

from dataclasses import dataclass

from reference.validation import check_spec


@dataclass(frozen=True)
class Spec:
    """sizes = (n_0, ..., n_L); hidden ``activation``; ``output`` activation; ``loss``; λ = weight_decay.

    Validated on construction, so an impossible pairing (softmax with quadratic, say) never reaches
    an implementation. Any object with these five attribute names is accepted by the implementations.
    """

    sizes: tuple
    activation: str
    output: str
    loss: str
    weight_decay: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "sizes", tuple(self.sizes))
        check_spec(self)

    @property
    def label(self):
        """A short description for messages and plot titles, e.g. '64-30-10 sigmoid/sigmoid quadratic'."""
        decay = f" λ={self.weight_decay:g}" if self.weight_decay else ""
        return (f"{'-'.join(map(str, self.sizes))} {self.activation}/{self.output} "
                f"{self.loss}{decay}")
