"""The network specification every implementation receives: dense layers, optionally after a stack of
convolutional blocks (seed 003's extension), or recurrent hidden layers unrolled over time (seed 001's
"feedback connections"; docs/contract.md, the harness contract)."""

from dataclasses import dataclass

from reference.validation import check_spec


@dataclass(frozen=True)
class Conv:
    """One convolutional block: cross-correlation with ``channels`` kernels of ``kernel`` × ``kernel``,
    zero ``padding`` and ``stride``, the hidden activation, then optional non-overlapping pooling
    (``pool`` None, "max" or "avg") over ``pool_size`` × ``pool_size`` windows.

    Checked when a :class:`Spec` holding it is built (the message names the block's index). Any object
    with these six attribute names is accepted by the implementations.
    """

    channels: int
    kernel: int
    stride: int = 1
    padding: int = 0
    pool: str | None = None
    pool_size: int = 2


def block_label(block: Conv) -> str:
    """e.g. 'c4k3p1max2': channels, kernel, then stride, padding and pooling where not the default."""
    stride = f"s{block.stride}" if block.stride != 1 else ""
    padding = f"p{block.padding}" if block.padding else ""
    pool = f"{block.pool}{block.pool_size}" if block.pool else ""
    return f"c{block.channels}k{block.kernel}{stride}{padding}{pool}"


@dataclass(frozen=True)
class Recurrent:
    """Every hidden layer is recurrent (an Elman network) and the sequence has ``steps`` = T time steps;
    the dense output layer is applied at every step (``outputs="all"``, many-to-many: x (m, T, n_0),
    y (m, T, n_L)) or at the last step only (``"last"``, many-to-one: y (m, n_L)).

    Checked when a :class:`Spec` holding it is built. Any object with these two attribute names is
    accepted by the implementations."""

    steps: int
    outputs: str = "all"


def recurrent_label(recurrent: Recurrent) -> str:
    """e.g. 'rnn T=6 all'."""
    return f"rnn T={recurrent.steps} {recurrent.outputs}"


@dataclass(frozen=True)
class Spec:
    """sizes = (n_0, ..., n_L); hidden ``activation``; ``output`` activation; ``loss``; λ = weight_decay;
    for a convolutional network also ``input_shape`` = (C_0, H_0, W_0) and ``conv`` = (Conv, ...),
    with sizes[0] the flattened size of the last block's output; for a recurrent network
    ``recurrent`` = :class:`Recurrent` (layers 1..L-1 recurrent, L dense; no conv blocks).

    Validated on construction, so an impossible pairing (softmax with quadratic, say) or conv stack
    (a kernel larger than its padded input) never reaches an implementation. Any object with these
    attribute names is accepted by the implementations; one without input_shape, conv and recurrent
    (or with them None and empty) is dense.
    """

    sizes: tuple
    activation: str
    output: str
    loss: str
    weight_decay: float = 0.0
    input_shape: tuple | None = None
    conv: tuple = ()
    recurrent: Recurrent | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "sizes", tuple(self.sizes))
        if isinstance(self.input_shape, list):
            object.__setattr__(self, "input_shape", tuple(self.input_shape))
        if isinstance(self.conv, list) or self.conv is None:
            object.__setattr__(self, "conv", tuple(self.conv or ()))
        check_spec(self)

    @property
    def label(self) -> str:
        """A short description for messages and plot titles, e.g. '64-30-10 sigmoid/sigmoid quadratic',
        '1x8x8 c4k3p1max2 | 16-10 relu/softmax log_likelihood' with a conv stack, or
        'rnn T=6 all | 5-8-5 tanh/softmax log_likelihood' for a recurrent network."""
        decay = f" λ={self.weight_decay:g}" if self.weight_decay else ""
        dense = f"{'-'.join(map(str, self.sizes))} {self.activation}/{self.output} {self.loss}{decay}"
        if self.recurrent is not None:
            return f"{recurrent_label(self.recurrent)} | {dense}"
        if not self.conv:
            return dense
        blocks = " ".join(block_label(b) for b in self.conv)
        return f"{'x'.join(map(str, self.input_shape or ()))} {blocks} | {dense}"
