"""The template to copy into a real project: an nn.Module MLP trained with torch.optim.SGD.

Idiomatic PyTorch, checked number for number against the hand-written reference:
- the network is an ``nn.Sequential`` of ``nn.Linear`` layers and activation modules; ``nn.Linear``
  stores its weight as (out, in), which is exactly the contract's W^l (n_l, n_{l-1});
- the model returns the logits z^L; the output activation is applied by the cost (or ``predict``),
  so the log costs use torch's stable ``*_with_logits`` / ``cross_entropy`` forms;
- costs come from ``torch.nn.functional`` with the contract's scaling: quadratic is
  ½ Σ‖a − y‖² / m, that is ``0.5 * F.mse_loss(a, y, reduction="sum") / m`` (``F.mse_loss`` alone
  averages over m·n_L elements and has no ½);
- weight decay: ``torch.optim.SGD(weight_decay=λ)`` adds λW to the gradient before the step, which
  is exactly the gradient of the contract's (λ/2)‖W‖² term. It is given to the weights only (biases
  are not decayed), through two parameter groups.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .training import Gradients, Trajectory
from .validation import check_inputs, check_training

ACTIVATION_MODULES = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU,
                      "identity": nn.Identity, "softmax": lambda: nn.Softmax(dim=1)}


class MLP(nn.Module):
    """Linear → activation → ... → Linear; forward returns the logits z^L (m, n_L)."""

    def __init__(self, sizes, activation, output, *, dtype=None, device=None):
        super().__init__()
        layers = []
        for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            layers.append(nn.Linear(n_in, n_out, dtype=dtype, device=device))
            if l < len(sizes) - 1:
                layers.append(ACTIVATION_MODULES[activation]())
        self.net = nn.Sequential(*layers)
        self.output = ACTIVATION_MODULES[output]()

    def forward(self, x):
        return self.net(x)

    def predict(self, x):
        """Output activations a^L."""
        return self.output(self(x))

    def linears(self):
        return [layer for layer in self.net if isinstance(layer, nn.Linear)]

    @torch.no_grad()
    def load(self, params):
        """Copy the contract's [(W, b)] into the nn.Linear layers."""
        for linear, (W, b) in zip(self.linears(), params):
            linear.weight.copy_(W)
            linear.bias.copy_(b)
        return self

    def params(self):
        """The contract's [(W, b)], detached copies."""
        return [(lin.weight.detach().clone(), lin.bias.detach().clone()) for lin in self.linears()]


def data_cost(model, loss, x, y):
    """(1/m) Σ_x C_x with torch.nn.functional (no weight decay term)."""
    m = x.shape[0]
    z = model(x)
    if loss == "quadratic":
        return 0.5 * F.mse_loss(model.output(z), y, reduction="sum") / m
    if loss == "cross_entropy":
        return F.binary_cross_entropy_with_logits(z, y, reduction="sum") / m
    return F.cross_entropy(z, y)  # log_likelihood; probability targets, mean over the batch


def penalty(model, weight_decay):
    """(λ/2) Σ_l ‖W^l‖²."""
    return 0.5 * weight_decay * sum(torch.sum(lin.weight ** 2) for lin in model.linears())


def build(spec, params):
    return MLP(spec.sizes, spec.activation, spec.output, dtype=params[0][0].dtype,
               device=params[0][0].device).load(params)


def gradients(spec, params, x, y):
    """Loss and gradients of the full cost C through loss.backward()."""
    check_inputs(spec, params, x, y)
    model = build(spec, params)
    C = data_cost(model, spec.loss, x, y) + penalty(model, spec.weight_decay)
    C.backward()  # gradients into .grad of every nn.Linear weight and bias
    grads = [(lin.weight.grad, lin.bias.grad) for lin in model.linears()]
    return Gradients(float(C.detach()), grads)


def train(spec, params, x, y, *, lr, batches):
    """torch.optim.SGD over the given batch order; the decay comes from the optimizer, not the loss."""
    check_inputs(spec, params, x, y)
    check_training(lr, batches, x.shape[0])
    model = build(spec, params)
    weights = [lin.weight for lin in model.linears()]
    biases = [lin.bias for lin in model.linears()]
    optimizer = torch.optim.SGD([{"params": weights, "weight_decay": spec.weight_decay},
                                 {"params": biases, "weight_decay": 0.0}], lr=lr)
    losses = []
    for idx in batches:
        optimizer.zero_grad()
        C = data_cost(model, spec.loss, x[idx], y[idx])
        with torch.no_grad():  # the recorded cost includes (λ/2)‖W‖², the optimizer adds its gradient
            losses.append(float(C + penalty(model, spec.weight_decay)))
        C.backward()  # gradients of the data cost; the optimizer adds λW itself
        optimizer.step()  # BP-SGD W ← W − η(∂C/∂W + λW), b ← b − η ∂C/∂b
    return Trajectory(losses, model.params())
