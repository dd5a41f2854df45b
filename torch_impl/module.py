"""The template to copy into a real project: an nn.Module network trained with torch.optim.

Idiomatic PyTorch, checked number for number against the hand-written reference:
- the network is an ``nn.Sequential`` of ``nn.Linear`` layers and activation modules; ``nn.Linear``
  stores its weight as (out, in), which is exactly the contract's W^l (n_l, n_{l-1});
- a spec with ``conv`` blocks (seed 003) puts ``nn.Conv2d`` → activation → ``nn.MaxPool2d`` or
  ``nn.AvgPool2d`` blocks and an ``nn.Flatten`` in front. torch is NCHW: x is (m, C, H, W), and
  ``nn.Conv2d`` computes a cross-correlation (no kernel flip) whose weight (out_channels,
  in_channels, k, k) is exactly the contract's K^l (C_l, C_{l-1}, k, k); ``nn.Flatten`` flattens
  (C, H, W) in C order, as the contract does (a channels-last framework stores x as (m, H, W, C)
  and kernels as (k, k, C_in, C_out): transpose both to move between them);
- a spec with ``recurrent`` set (an Elman network, x (m, T, n_0)) is a :class:`RecurrentNetwork`:
  ``torch.nn.RNN(batch_first=True)`` for the recurrent layers (one ``nn.RNN(num_layers=k)`` when
  the hidden sizes are all equal, else one ``nn.RNN`` per layer) and an ``nn.Linear`` head at every
  step ("all") or at t = T ("last"). nn.RNN's ``weight_ih_l{k}`` (n_l, n_{l-1}) and
  ``weight_hh_l{k}`` (n_l, n_l) are exactly the contract's W^l and U^l. It keeps two biases,
  ``bias_ih`` and ``bias_hh``, whose sum is the contract's b^l: b^l goes into bias_ih and bias_hh is
  frozen at zero (``requires_grad=False``), so ∂C/∂b^l is bias_ih's gradient and the optimizer moves
  b^l once per step, as the contract does (two trainable biases would each get the same gradient
  and their sum would move twice as far). nn.RNN's nonlinearity is tanh or relu only:
  :func:`supports` declines the other hidden activations (sigmoid, identity) for recurrent specs;
- the model returns the logits z^L; the output activation is applied by the cost (or ``predict``),
  so the log costs use torch's stable ``*_with_logits`` / ``cross_entropy`` forms;
- costs come from ``torch.nn.functional`` with the contract's scaling: quadratic is
  ½ Σ‖a − y‖² / m, that is ``0.5 * F.mse_loss(a, y, reduction="sum") / m`` (``F.mse_loss`` alone
  averages over m·n_L elements and has no ½);
- weight decay: ``torch.optim.SGD(weight_decay=λ)`` adds λW to the gradient before the step, which
  is exactly the gradient of the contract's (λ/2)‖W‖² term. It is given to the weights and kernels
  only (biases are not decayed), through two parameter groups (one when nothing is decayed); in a
  recurrent network to weight_ih and weight_hh (W^l and U^l) and the head's weight.
  Where torch would add λW at the wrong moment — after ``clip_grad_*_`` has read the gradient, or
  not at all (AdamW's weight_decay is its decoupled λ_d) — the (λ/2)‖W‖² term is in the cost
  instead, so that ``backward()`` gives the full ∂C/∂θ;
- per step the loop does what a minimal loop does (``zero_grad``, forward, cost, ``backward``,
  ``step``, one ``.item()``) plus writing η_t into the groups: validation runs once per call, each a
  single pass (``aminmax``), and nothing is computed for λ = 0 (bench/minimal_torch.py measures it
  against a minimal loop: bench/README.md).

Optimizers, schedules and clipping (``train(..., optimizer=...)``) are torch's own:
``torch.optim.SGD`` (``momentum``, ``nesterov``), ``RMSprop`` (``alpha`` = ρ, ``momentum``), ``Adam``,
``AdamW`` (its ``weight_decay`` is the decoupled λ_d, on the weights and kernels' group only),
``Adagrad`` (``initial_accumulator_value``); the schedule η_t is written into every parameter
group's ``lr`` before each step; ``torch.nn.utils.clip_grad_value_`` / ``clip_grad_norm_`` between
``backward()`` and ``step()``. The state comes back from ``optimizer.state`` in the contract's layout
(momentum_buffer → b, square_avg and sum → s, exp_avg → m, exp_avg_sq → v).
Kingma & Ba's ε̂ form (``eps_hat=True``) is expressed with torch.optim.Adam as it is: its
m̂ / (√v̂ + ε_t) with ε_t = ε̂ / √(1 − β₂ᵗ), written into the groups' ``eps`` before each step, is
exactly √(1 − β₂ᵗ)/(1 − β₁ᵗ) · m / (√v + ε̂).

``supports_optimizer`` declines (and ``train`` refuses with a ValueError) what torch.optim cannot
express, one line per convention:
- ``momentum_form="velocity"`` (momentum, Nesterov, RMSprop with μ > 0): torch keeps η out of the
  buffer (b ← μb + g, Δ = −η_t b), which differs from the velocity v ← μv − η_t g once η changes;
- RMSprop ``eps_in_sqrt=True``: torch.optim.RMSprop divides by √s + ε, never √(s + ε);
- Adagrad ``eps_in_sqrt=True``: torch.optim.Adagrad divides by √s + ε, never √(s + ε);
- ``clip_norm`` with ``clip_eps`` other than 1e-6: clip_grad_norm_ scales by c / (‖g‖ + 1e-6), fixed.
"""

import math
from collections.abc import Callable, Sequence
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from .training import Gradients, Trajectory
from .types import Batches, ConvBlock, ConvSpec, LearningRate, Params, ParamsIn, RecurrentSpec, Spec
from .validation import Hyper, check_inputs, check_optimizer, check_training

supports_recurrent = True  # recurrent specs with a tanh or relu hidden layer (:func:`supports`)

ACTIVATION_MODULES: dict[str, Callable[[], nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "identity": nn.Identity,
    "softmax": lambda: nn.Softmax(dim=-1),  # over the units: (m, n_L), or (m, T, n_L) per step
}
RNN_NONLINEARITIES = ("tanh", "relu")  # all that torch.nn.RNN's nonlinearity= accepts
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

    def layers(self) -> list[tuple[torch.Tensor, ...]]:
        """The trained tensors per layer in the contract's order, the bias last: (weight, bias)."""
        return [(layer.weight, cast(torch.Tensor, layer.bias)) for layer in self.weighted()]

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


class RecurrentNetwork(nn.Module):
    """nn.RNN (the recurrent hidden layers, tanh or relu) → nn.Linear head (the output layer).

    x is (m, T, n_0) (``batch_first=True``); every nn.RNN starts from h_0 = 0, its default. forward
    returns the logits z^L: (m, T, n_L) for outputs "all" (the head at every step), (m, n_L) for
    "last" (the head on the last step's state only).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str,
        output: str,
        outputs: str,
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        hidden = list(sizes[1:-1])
        options: dict[str, Any] = dict(nonlinearity=activation, batch_first=True, dtype=dtype, device=device)
        if len(set(hidden)) == 1:  # equal sizes: one stacked nn.RNN, layer k reading layer k-1's states
            rnns = [nn.RNN(sizes[0], hidden[0], num_layers=len(hidden), **options)]
        else:  # nn.RNN(num_layers=k) has one hidden size: one nn.RNN per layer instead
            rnns = [nn.RNN(n_in, n, **options) for n_in, n in zip(sizes[:-2], hidden)]
        self.rnns = nn.ModuleList(rnns)
        self.head = nn.Linear(sizes[-2], sizes[-1], dtype=dtype, device=device)
        self.output = ACTIVATION_MODULES[output]()
        self.outputs = outputs
        for _, _, _, b_hh in self.recurrent():
            # The contract's b^l is bias_ih + bias_hh. bias_hh is frozen at zero: b^l lives in bias_ih
            # alone, its gradient is ∂C/∂b^l and the optimizer steps it once (module docstring).
            b_hh.requires_grad_(False)
            with torch.no_grad():
                b_hh.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for rnn in self.rnns:
            h, _ = rnn(h)  # BPTT-h every step's state h^l_t: (m, T, n_l)
        return self.head(h if self.outputs == "all" else h[:, -1])  # BPTT-out z^L_t

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Output activations a^L (per step for "all")."""
        return self.output(self(x))

    def recurrent(self) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
        """(weight_ih, weight_hh, bias_ih, bias_hh) of every recurrent layer, bottom up: nn.RNN names
        layer k's ``weight_ih_l{k}`` and so on."""
        found = []
        for rnn in cast(list[nn.RNN], list(self.rnns)):
            for k in range(rnn.num_layers):
                W, U, b_ih, b_hh = (
                    getattr(rnn, f"{name}_l{k}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                )
                found.append((W, U, b_ih, b_hh))
        return found

    def layers(self) -> list[tuple[torch.Tensor, ...]]:
        """The trained tensors per layer in the contract's order, the bias last: (W, U, b) =
        (weight_ih, weight_hh, bias_ih) per recurrent layer (bias_hh is frozen), then the head's."""
        head = (self.head.weight, self.head.bias)
        return [(W, U, b_ih) for W, U, b_ih, _ in self.recurrent()] + [head]

    @torch.no_grad()
    def load(self, params: ParamsIn) -> "RecurrentNetwork":
        """Copy the contract's [(W, U, b)] + [(W, b)]: b^l into bias_ih, bias_hh stays zero."""
        for (W_ih, W_hh, b_ih, b_hh), (W, U, b) in zip(self.recurrent(), params):
            W_ih.copy_(W)
            W_hh.copy_(U)
            b_ih.copy_(b)
            b_hh.zero_()  # b^l = b_ih + b_hh with b_hh = 0 (frozen)
        W, b = params[-1]
        self.head.weight.copy_(W)
        self.head.bias.copy_(b)
        return self

    def params(self) -> Params:
        """The contract's [(W, U, b)] + [(W, b)], detached copies; b^l read back as bias_ih + bias_hh
        (bias_hh is frozen at zero, so this is bias_ih, the one the optimizer trained)."""
        triples: Params = [
            (W.detach().clone(), U.detach().clone(), (b_ih + b_hh).detach())
            for W, U, b_ih, b_hh in self.recurrent()
        ]
        return triples + [(self.head.weight.detach().clone(), self.head.bias.detach().clone())]


Model = Network | RecurrentNetwork


def data_cost(model: Model, loss: str, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(1/m) Σ_x C_x with torch.nn.functional (no weight decay term); for a recurrent network
    (1/m) Σ_x Σ_t C_{x,t} over its output steps."""
    m = x.shape[0]
    z = model(x)
    if loss == "quadratic":
        return 0.5 * F.mse_loss(model.output(z), y, reduction="sum") / m
    if loss == "cross_entropy":
        return F.binary_cross_entropy_with_logits(z, y, reduction="sum") / m
    if z.dim() == 3:  # log_likelihood at every step: cross_entropy's classes are dim 1, so one row per (x, t)
        return F.cross_entropy(z.flatten(0, 1), y.flatten(0, 1), reduction="sum") / m
    return F.cross_entropy(z, y)  # log_likelihood; probability targets, mean over the batch


def penalty(model: Model, weight_decay: float) -> torch.Tensor | float:
    """(λ/2) Σ_l ‖W^l‖², kernels K^l and a recurrent layer's U^l included: every tensor of a layer
    but its bias (the loops call it only for λ > 0)."""
    return 0.5 * weight_decay * sum(torch.sum(w**2) for layer in model.layers() for w in layer[:-1])


def declined_spec(spec: Spec) -> str | None:
    """Why the template cannot express this spec, as the message gradients and train raise; None
    when it can. nn.RNN computes g(z) inside its fused step and offers only tanh and relu: a
    recurrent sigmoid (or identity) layer would need a hand-written cell, not nn.RNN."""
    if getattr(spec, "recurrent", None) is not None and spec.activation not in RNN_NONLINEARITIES:
        return (
            f"spec.activation: {spec.activation!r} is not expressible with torch.nn.RNN, whose "
            f"nonlinearity is {' or '.join(map(repr, RNN_NONLINEARITIES))}"
        )
    return None


def supports(spec: Spec) -> bool:
    """Every dense and conv spec; a recurrent spec when nn.RNN has its hidden activation
    (:func:`declined_spec`)."""
    return declined_spec(spec) is None


def build_recurrent(spec: RecurrentSpec, params: ParamsIn) -> RecurrentNetwork:
    W = params[0][0]
    net = RecurrentNetwork(
        spec.sizes, spec.activation, spec.output, spec.recurrent.outputs, dtype=W.dtype, device=W.device
    )
    return net.load(params)


def build_checked(spec: Spec, params: ParamsIn) -> Model:
    """The model for a checked spec: :func:`build_recurrent` or :func:`build`; a ValueError for what
    the template declines (:func:`declined_spec`)."""
    reason = declined_spec(spec)
    if reason is not None:  # supports(spec) says False for it
        raise ValueError(reason)
    if getattr(spec, "recurrent", None) is not None:
        return build_recurrent(cast(RecurrentSpec, spec), params)
    return build(spec, params)


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
    model = build_checked(spec, params)
    C = data_cost(model, spec.loss, x, y) + penalty(model, spec.weight_decay)
    C.backward()  # BPTT-grad gradients into .grad of every trained weight and bias (through time too)
    grads: Params = []
    for layer in model.layers():  # backward() has set each .grad (not the frozen bias_hh: not here)
        assert all(t.grad is not None for t in layer)
        grads.append(tuple(cast(torch.Tensor, t.grad) for t in layer))  # b_ih's .grad is ∂C/∂b^l
    return Gradients(float(C.detach()), grads)


CLIP_GRAD_NORM_EPS = 1e-6  # torch.nn.utils.clip_grad_norm_ scales by c / (‖g‖ + 1e-6)


def declined(hyper: Hyper) -> str | None:
    """Why torch.optim cannot express this optimizer (the module docstring), as the message that
    ``train`` raises; None when it can."""
    if hyper.momentum_form == "velocity" and (hyper.name != "rmsprop" or hyper.momentum > 0):
        return (
            "optimizer.momentum_form: 'velocity' is not expressible with torch.optim, which keeps η "
            "out of the momentum buffer (b ← μb + g, Δ = −ηb)"
        )
    if hyper.eps_in_sqrt and hyper.name in ("rmsprop", "adagrad"):
        return (
            f"optimizer.eps_in_sqrt: not expressible with torch.optim, whose {hyper.name} divides by √s + ε"
        )
    if hyper.clip_norm is not None and hyper.clip_eps != CLIP_GRAD_NORM_EPS:
        return (
            f"optimizer.clip_eps: {hyper.clip_eps!r} is not expressible with clip_grad_norm_, which "
            "scales by c / (‖g‖ + 1e-6)"
        )
    return None


def supports_optimizer(optimizer: object) -> bool:
    """True for every valid optimizer torch.optim can express (:func:`declined`)."""
    try:
        return declined(check_optimizer(optimizer)) is None
    except (TypeError, ValueError):
        return False


def make_optimizer(
    hyper: Hyper | None, model: Model, weight_decay: float, lr: float
) -> torch.optim.Optimizer:
    """torch.optim for ``hyper`` (None: plain SGD). ``weight_decay`` is the coupled λ that the
    optimizer adds to the gradient (0 when the cost carries it); AdamW's weight_decay is its
    decoupled λ_d instead. Either decays the weights, kernels and U^l only, never the biases (a
    recurrent network's frozen bias_hh is in no group: the optimizer never sees it)."""
    o = hyper
    decay = o.decoupled_decay if o is not None and o.name == "adamw" else weight_decay  # OPT-adamw λ_d
    weights = [w for layer in model.layers() for w in layer[:-1]]  # W^l, U^l and K^l: decayed
    biases = [layer[-1] for layer in model.layers()]
    # two parameter groups when something is decayed; one (cheaper per step) when nothing is
    groups: list[dict[str, Any]] = (
        [{"params": weights, "weight_decay": decay}, {"params": biases, "weight_decay": 0.0}]
        if decay
        else [{"params": weights + biases, "weight_decay": 0.0}]
    )
    if o is None or o.name == "sgd":
        return torch.optim.SGD(groups, lr=lr)  # OPT-sgd   Δ = −ηg
    if o.name == "momentum":  # b ← μb + g, Δ = −ηb
        return torch.optim.SGD(groups, lr=lr, momentum=o.momentum)  # OPT-momentum-buffer
    if o.name == "nesterov":
        return torch.optim.SGD(groups, lr=lr, momentum=o.momentum, nesterov=True)  # OPT-nesterov-buffer
    if o.name == "rmsprop":  # d = g/(√s + ε), then the buffer form on d if μ > 0
        return torch.optim.RMSprop(groups, lr=lr, alpha=o.rho, eps=o.eps, momentum=o.momentum)  # OPT-rmsprop
    if o.name == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=(o.beta1, o.beta2), eps=o.eps)  # OPT-adam
    if o.name == "adamw":  # Δ ← Δ − ηλ_d θ, from the weights group's weight_decay = λ_d
        return torch.optim.AdamW(groups, lr=lr, betas=(o.beta1, o.beta2), eps=o.eps)  # OPT-adamw
    # s ← s + g² from s₀ = initial_accumulator, Δ = −η g/(√s + ε)
    s0 = o.initial_accumulator
    return torch.optim.Adagrad(groups, lr=lr, eps=o.eps, initial_accumulator_value=s0)  # OPT-adagrad


# torch.optim's state names -> the contract's (reference/optimizers.py)
STATE_KEYS = {"momentum_buffer": "b", "square_avg": "s", "sum": "s", "exp_avg": "m", "exp_avg_sq": "v"}


def read_state(optimizer: torch.optim.Optimizer, model: Model, steps: int) -> dict[str, Any]:
    """optimizer.state in the contract's layout: {"t": steps, key: [(for W, [for U,] for b), ...]}."""
    state: dict[str, Any] = {"t": steps}
    for layer in model.layers():
        slots = [optimizer.state[t] for t in layer]
        for name, key in STATE_KEYS.items():
            if slots[0].get(name) is not None:
                state.setdefault(key, []).append(tuple(s[name].detach().clone() for s in slots))
    return state


def train(
    spec: Spec,
    params: ParamsIn,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    lr: LearningRate,
    batches: Batches,
    optimizer: object = None,
) -> Trajectory:
    """torch.optim over the given batch order: SGD for ``optimizer=None``, else the optimizer's
    torch.optim counterpart (:func:`make_optimizer`); ``lr`` is η or one η_t per step."""
    check_inputs(spec, params, x, y)
    hyper = None if optimizer is None else check_optimizer(optimizer)
    rates = check_training(lr, batches, x.shape[0])
    reason = None if hyper is None else declined(hyper)
    if reason is not None:  # supports_optimizer says False for it
        raise ValueError(reason)
    model = build_checked(spec, params)
    lam = spec.weight_decay
    clip_value = None if hyper is None else hyper.clip_value
    clip_norm = None if hyper is None else hyper.clip_norm
    optimizer_name = "sgd" if hyper is None else hyper.name
    # torch's coupled weight_decay=λ adds λW inside step(): after clip_grad_*_ has read the gradient,
    # and AdamW's weight_decay is λ_d. There the (λ/2)‖W‖² term goes into the cost instead, so that
    # backward() gives the full gradient ∂C/∂θ, λW included, as the contract clips and transforms it.
    in_cost = bool(lam) and (clip_value is not None or clip_norm is not None or optimizer_name == "adamw")
    opt = make_optimizer(hyper, model, 0.0 if in_cost else lam, rates[0])
    parameters = [p for p in model.parameters() if p.requires_grad]  # all but the frozen bias_hh
    losses = []
    for t, (idx, lr_t) in enumerate(zip(batches, rates), start=1):
        for group in opt.param_groups:  # the schedule: η_t for this step
            group["lr"] = lr_t
            if hyper is not None and hyper.eps_hat:  # ε_t = ε̂/√(1 − β₂ᵗ): Adam's ε̂ form (docstring)
                group["eps"] = hyper.eps / math.sqrt(1 - hyper.beta2**t)
        opt.zero_grad()
        C = data_cost(model, spec.loss, x[idx], y[idx])
        full = C + penalty(model, lam) if lam else C  # C + (λ/2)‖W‖²: the recorded cost
        (full if in_cost else C).backward()  # else the optimizer adds λW itself, inside step()
        losses.append(full.item())
        if clip_value is not None:
            nn.utils.clip_grad_value_(parameters, clip_value)  # OPT-clip-value g ← clip(g, −c, c)
        if clip_norm is not None:
            nn.utils.clip_grad_norm_(parameters, clip_norm)  # OPT-clip-norm g · min(1, c/(‖g‖ + 1e-6))
        opt.step()  # BP-SGD W ← W − η(∂C/∂W + λW), b ← b − η ∂C/∂b
    state = None if hyper is None else read_state(opt, model, len(batches))
    return Trajectory(losses, model.params(), state)
