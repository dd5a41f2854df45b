"""The template to copy into a real project: an nn.Module network trained with torch.optim.SGD.

Idiomatic PyTorch, checked number for number against the hand-written reference:
- the network is an ``nn.Sequential`` of ``nn.Linear`` layers and activation modules; ``nn.Linear``
  stores its weight as (out, in), which is exactly the contract's W^l (n_l, n_{l-1});
- a spec with ``conv`` blocks (seed 003) puts ``nn.Conv2d`` → activation → ``nn.MaxPool2d`` or
  ``nn.AvgPool2d`` blocks and an ``nn.Flatten`` in front. torch is NCHW: x is (m, C, H, W), and
  ``nn.Conv2d`` computes a cross-correlation (no kernel flip) whose weight (out_channels,
  in_channels, k, k) is exactly the contract's K^l (C_l, C_{l-1}, k, k); ``nn.Flatten`` flattens
  (C, H, W) in C order, as the contract does (a channels-last framework stores x as (m, H, W, C)
  and kernels as (k, k, C_in, C_out): transpose both to move between them);
- the model returns the logits z^L; the output activation is applied by the cost (or ``predict``),
  so the log costs use torch's stable ``*_with_logits`` / ``cross_entropy`` forms;
- costs come from ``torch.nn.functional`` with the contract's scaling: quadratic is
  ½ Σ‖a − y‖² / m, that is ``0.5 * F.mse_loss(a, y, reduction="sum") / m`` (``F.mse_loss`` alone
  averages over m·n_L elements and has no ½);
- weight decay: ``torch.optim.SGD(weight_decay=λ)`` adds λW to the gradient before the step, which
  is exactly the gradient of the contract's (λ/2)‖W‖² term. It is given to the weights and kernels
  only (biases are not decayed), through two parameter groups.
"""

from collections.abc import Callable, Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from .training import Gradients, Trajectory
from .types import Batches, ConvBlock, ConvSpec, Params, ParamsIn, Spec
from .validation import check_inputs, check_training

ACTIVATION_MODULES: dict[str, Callable[[], nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "identity": nn.Identity,
    "softmax": lambda: nn.Softmax(dim=1),
}
# stride = window: non-overlapping
POOL_MODULES: dict[str, Callable[[int], nn.Module]] = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


class Network(nn.Module):
    """[Conv2d → activation → pool] per conv block → Flatten → Linear → activation → ... → Linear.

    forward returns the logits z^L (m, n_L). Without conv blocks this is a plain MLP on (m, n_0).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str,
        output: str,
        blocks: Sequence[ConvBlock] = (),
        in_channels: int | None = None,
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for block in blocks:
            if in_channels is None:  # C_0, the input's channels: needed by the first block
                raise TypeError("in_channels: conv blocks need the input's channel count C_0, got None")
            layers.append(
                nn.Conv2d(
                    in_channels,
                    block.channels,
                    block.kernel,
                    stride=block.stride,
                    padding=block.padding,
                    dtype=dtype,
                    device=device,
                )
            )
            layers.append(ACTIVATION_MODULES[activation]())
            if block.pool is not None:
                layers.append(POOL_MODULES[block.pool](block.pool_size))
            in_channels = block.channels
        if blocks:
            layers.append(nn.Flatten())  # (m, C, H, W) -> (m, C·H·W), C order
        for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            layers.append(nn.Linear(n_in, n_out, dtype=dtype, device=device))
            if l < len(sizes) - 1:
                layers.append(ACTIVATION_MODULES[activation]())
        self.net = nn.Sequential(*layers)
        self.output = ACTIVATION_MODULES[output]()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Output activations a^L."""
        return self.output(self(x))

    def weighted(self) -> list[nn.Conv2d | nn.Linear]:
        """The nn.Conv2d and nn.Linear layers, in the contract's params order."""
        return [layer for layer in self.net if isinstance(layer, (nn.Conv2d, nn.Linear))]

    @torch.no_grad()
    def load(self, params: ParamsIn) -> "Network":
        """Copy the contract's [(K, b)] + [(W, b)] into the nn.Conv2d and nn.Linear layers."""
        for layer, (W, b) in zip(self.weighted(), params):
            assert layer.bias is not None  # every layer here is built with its bias b^l
            layer.weight.copy_(W)
            layer.bias.copy_(b)
        return self

    def params(self) -> Params:
        """The contract's [(K, b)] + [(W, b)], detached copies."""
        pairs: Params = []
        for layer in self.weighted():
            assert layer.bias is not None  # every layer here is built with its bias b^l
            pairs.append((layer.weight.detach().clone(), layer.bias.detach().clone()))
        return pairs


def data_cost(model: Network, loss: str, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(1/m) Σ_x C_x with torch.nn.functional (no weight decay term)."""
    m = x.shape[0]
    z = model(x)
    if loss == "quadratic":
        return 0.5 * F.mse_loss(model.output(z), y, reduction="sum") / m
    if loss == "cross_entropy":
        return F.binary_cross_entropy_with_logits(z, y, reduction="sum") / m
    return F.cross_entropy(z, y)  # log_likelihood; probability targets, mean over the batch


def penalty(model: Network, weight_decay: float) -> torch.Tensor | float:
    """(λ/2) Σ_l ‖W^l‖², kernels K^l included."""
    return 0.5 * weight_decay * sum(torch.sum(layer.weight**2) for layer in model.weighted())


def build(spec: Spec, params: ParamsIn) -> Network:
    blocks = getattr(spec, "conv", ()) or ()
    in_channels = cast(ConvSpec, spec).input_shape[0] if blocks else None  # conv blocks: a ConvSpec
    return Network(
        spec.sizes,
        spec.activation,
        spec.output,
        blocks,
        in_channels,
        dtype=params[0][0].dtype,
        device=params[0][0].device,
    ).load(params)


def gradients(spec: Spec, params: ParamsIn, x: torch.Tensor, y: torch.Tensor) -> Gradients:
    """Loss and gradients of the full cost C through loss.backward()."""
    check_inputs(spec, params, x, y)
    model = build(spec, params)
    C = data_cost(model, spec.loss, x, y) + penalty(model, spec.weight_decay)
    C.backward()  # gradients into .grad of every nn.Conv2d/nn.Linear weight and bias
    grads: Params = []
    for layer in model.weighted():  # every layer has its bias, and backward() has set each .grad
        assert layer.weight.grad is not None and layer.bias is not None and layer.bias.grad is not None
        grads.append((layer.weight.grad, layer.bias.grad))
    return Gradients(float(C.detach()), grads)


def train(
    spec: Spec, params: ParamsIn, x: torch.Tensor, y: torch.Tensor, *, lr: float, batches: Batches
) -> Trajectory:
    """torch.optim.SGD over the given batch order; the decay comes from the optimizer, not the loss."""
    check_inputs(spec, params, x, y)
    check_training(lr, batches, x.shape[0])
    model = build(spec, params)
    weights = [layer.weight for layer in model.weighted()]  # W^l and K^l: decayed
    biases = [layer.bias for layer in model.weighted()]
    optimizer = torch.optim.SGD(
        [{"params": weights, "weight_decay": spec.weight_decay}, {"params": biases, "weight_decay": 0.0}],
        lr=lr,
    )
    losses = []
    for idx in batches:
        optimizer.zero_grad()
        C = data_cost(model, spec.loss, x[idx], y[idx])
        with torch.no_grad():  # the recorded cost includes (λ/2)‖W‖², the optimizer adds its gradient
            losses.append(float(C + penalty(model, spec.weight_decay)))
        C.backward()  # gradients of the data cost; the optimizer adds λW itself
        optimizer.step()  # BP-SGD W ← W − η(∂C/∂W + λW), b ← b − η ∂C/∂b
    return Trajectory(losses, model.params())
