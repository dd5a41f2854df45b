"""The network specification every implementation receives: dense layers, optionally after a stack of
convolutional blocks (seed 003's extension; docs/contract.md, the harness contract)."""

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
class Spec:
    """sizes = (n_0, ..., n_L); hidden ``activation``; ``output`` activation; ``loss``; λ = weight_decay;
    for a convolutional network also ``input_shape`` = (C_0, H_0, W_0) and ``conv`` = (Conv, ...),
    with sizes[0] the flattened size of the last block's output.

    Validated on construction, so an impossible pairing (softmax with quadratic, say) or conv stack
    (a kernel larger than its padded input) never reaches an implementation. Any object with these
    attribute names is accepted by the implementations; one without input_shape and conv is dense.
    """

    sizes: tuple
    activation: str
    output: str
    loss: str
    weight_decay: float = 0.0
    input_shape: tuple | None = None
    conv: tuple = ()

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
        or '1x8x8 c4k3p1max2 | 16-10 relu/softmax log_likelihood' with a conv stack."""
        decay = f" λ={self.weight_decay:g}" if self.weight_decay else ""
        dense = f"{'-'.join(map(str, self.sizes))} {self.activation}/{self.output} {self.loss}{decay}"
        if not self.conv:
            return dense
        blocks = " ".join(block_label(b) for b in self.conv)
        return f"{'x'.join(map(str, self.input_shape or ()))} {blocks} | {dense}"
