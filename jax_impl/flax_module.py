"""The template to copy into a real JAX project: a Flax NNX module trained with Optax.

Idiomatic Flax and Optax, checked number for number against the hand-written reference:
- the network is an ``nnx.Module`` holding ``nnx.Linear`` layers, after optional ``nnx.Conv`` blocks.
  Flax's layouts differ from the contract's, and the conversions happen only at the boundary:
  ``nnx.Linear`` computes ``x @ kernel + bias`` with ``kernel`` (n_{l-1}, n_l), the TRANSPOSE of the
  contract's W^l (n_l, n_{l-1}); ``nnx.Conv`` is channels-last: images (m, H, W, C) and kernels
  (k, k, C_{l-1}, C_l), where the contract (and torch) have (m, C, H, W) and K^l (C_l, C_{l-1}, k, k).
  ``Network.load`` converts the weights on the way in and ``contract_pairs`` on the way out (the
  parameters and the gradients alike); ``Network.__call__`` turns x from NCHW to NHWC once, and the
  last block's output back to NCHW before flattening, so the first dense W sees the contract's
  (channel, row, column) order (torch's flatten(1));
- ``dtype`` and ``param_dtype`` both follow the input, so float64 weights stay float64 (inside
  ``jax.enable_x64(True)``) and float32 stays float32;
- the model returns the logits z^L; the output activation is applied by the cost (or ``predict``),
  so the log costs use Optax's stable forms on the logits. Costs come from Optax with the contract's
  scaling: ``optax.l2_loss`` is ½(a − y)² per element, so summed over the outputs and averaged over
  the batch it is the quadratic cost (1/m) Σ_x ½‖a − y‖² (``optax.squared_error`` has no ½);
  ``optax.sigmoid_binary_cross_entropy`` is per element too (summed over outputs);
  ``optax.softmax_cross_entropy`` is already per example;
- weight decay: ``optax.add_decayed_weights(λ)`` adds λ·θ to the gradient before ``optax.sgd``
  scales it by −η. ∂/∂W (λ/2)‖W‖² = λW, so the step is W ← W − η(∂C_data/∂W + λW): exactly SGD on
  the contract's C = C_data + (λ/2)Σ‖W‖², without the penalty ever being differentiated. The decay
  is masked to the kernels because the contract penalises weights only (large weights are what make
  a unit react strongly to small input changes; a bias only shifts its threshold, as in Nielsen's
  chapter 3). Unmasked, add_decayed_weights would decay every Param, biases too: the gradient of
  (λ/2)(‖W‖² + ‖b‖²), a different cost;
- one training step (value_and_grad, the recorded cost, the optimizer update) is one ``nnx.jit``.

A recurrent spec (``spec.recurrent``: an Elman network, backprop through time) is a stack of
``nnx.RNN(nnx.SimpleCell)``, one per hidden layer, then the ``nnx.Linear`` output layer (the head),
applied to every step's h^{L-1}_t ("all") or to the last step's only ("last"). nnx.RNN runs the cell
over the time axis with nnx.scan (batch first, x (m, T, n_0), as the contract has it) from the carry
it is given: h^l_0 = 0, passed explicitly (``initial_carry``), so no RNG stream is kept for it.
SimpleCell computes h' = g(dense_i(x) + dense_h(h)), and it keeps ONE bias: ``dense_i`` has the
kernel for the input and the bias, ``dense_h`` (use_bias=False) the recurrent kernel only. So the
contract's (W^l, U^l, b^l) load as dense_i.kernel = W^lᵀ (n_{l-1}, n_l), dense_h.kernel = U^lᵀ
(n_l, n_l), dense_i.bias = b^l, and read back the same way. Its ``activation_fn`` takes any
elementwise g, so every hidden activation of the contract is expressible (residual=False, the
default, is the contract's cell): recurrent specs decline nothing here. Both kernels are named
"kernel", so the masked decay reaches W and U (and the head's W), never the bias. The backward pass
through time is nnx.value_and_grad's reverse mode through nnx.RNN's scan.

With ``optimizer=`` (docs/optimizers.md) the update is Optax's own transformations, chained after the
coupled decay: ``optax.clip`` / ``optax.clip_by_global_norm``, then ``optax.sgd`` (momentum, nesterov:
the buffer form), ``optax.rmsprop`` (eps_in_sqrt; momentum in the velocity form), ``optax.adam``,
``optax.adamw`` (its decay masked to the kernels) or ``optax.adagrad``; the velocity forms of momentum
and Nesterov are ``chain(scale_by_learning_rate, trace)``, RMSprop's buffer form ``chain(scale_by_rms,
trace, scale_by_learning_rate)``, the order torch uses. The learning rate is a schedule, a callable
over the per-step array of η_t. The transformation is built inside the jitted step from the traced
hyperparameters (Optax's transformations are pure functions of them), so problems of one shape share
one compiled step. Its state is read back into the reference's layout (Optax's trace is "b" or "v",
scale_by_rms's nu and scale_by_rss's sum "s", scale_by_adam's mu and nu "m" and "v", the schedule's
count "t"). ``supports_optimizer`` declines what Optax's transformations cannot express:
- adam/adamw ``eps_hat=True``: scale_by_adam adds ε to √v̂ after the bias correction; Kingma & Ba's
  §2 form (ε̂ added to √v, Keras and TF; Optax #571) has no Optax transformation;
- adagrad ``eps_in_sqrt=False``: scale_by_rss always puts ε inside the root, 1/√(s + ε);
- ``clip_norm`` with ``clip_eps`` ≠ 0: clip_by_global_norm divides by ‖g‖ itself, with nothing added
  (torch's clip_grad_norm_ adds 1e-6).
"""

from collections.abc import Callable, Sequence
from functools import lru_cache
from types import SimpleNamespace
from typing import Any, cast

import jax
import jax.numpy as jnp
import numpy as np
import numpy.typing as npt
import optax
from flax import nnx

from .optimizers import State
from .training import Gradients, Trajectory
from .types import Activation, Batches, ConvBlock, Layer, Params, ParamsIn, PyTree, Spec
from .validation import (
    Hyper,
    Rnn,
    Structure,
    check_conv,
    check_network,
    check_optimizer,
    check_recurrent,
    check_training,
)

supports_recurrent = True  # nnx.RNN(nnx.SimpleCell) layers and a dense head, every hidden activation

ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": nnx.sigmoid,
    "tanh": nnx.tanh,
    "relu": nnx.relu,  # relu'(0) = 0
    "identity": lambda z: z,
    "softmax": lambda z: nnx.softmax(z, axis=-1),
}
# pool -> (m, H, W, C) -> (m, H/n, W/n, C) over non-overlapping n × n windows; max's gradient goes to
# the first maximal element of a window, as the contract requires at ties
POOLS: dict[str | None, Callable[[jax.Array, int], jax.Array]] = {
    None: lambda a, n: a,
    "max": lambda a, n: nnx.max_pool(a, (n, n), strides=(n, n)),
    "avg": lambda a, n: nnx.avg_pool(a, (n, n), strides=(n, n)),
}

# loss -> C_x for every example (m,), from the logits z^L, the output a^L and the targets y
COSTS: dict[str, Callable[[jax.Array, jax.Array, jax.Array], jax.Array]] = {
    "quadratic": lambda z, a, y: optax.l2_loss(a, y).sum(axis=1),  # BP-C ½(a − y)² summed over outputs
    "cross_entropy": lambda z, a, y: optax.sigmoid_binary_cross_entropy(z, y).sum(axis=1),  # BP-C
    "log_likelihood": lambda z, a, y: optax.softmax_cross_entropy(z, y),  # BP-C −Σ_j y_j ln a_j
}


class Network(nnx.Module):
    """[nnx.Conv → activation → pool] × c, flatten, nnx.Linear → activation → ... → nnx.Linear;
    calling it returns the logits z^L (m, n_L). ``blocks``: the spec's conv blocks (channels, kernel,
    stride, padding, pool, pool_size), () for an MLP. With ``outputs`` ("all" or "last", a recurrent
    spec's) the hidden layers are nnx.RNN(nnx.SimpleCell) over x (m, T, n_0) instead, and the one
    nnx.Linear is the output layer: z^L (m, T, n_L) for "all", (m, n_L) for "last"."""

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str,
        output: str,
        *,
        dtype: npt.DTypeLike,
        rngs: nnx.Rngs,
        input_shape: Sequence[int] | None = None,
        blocks: Sequence[ConvBlock] = (),
        outputs: str | None = None,
    ) -> None:
        channels: list[int] = []  # C_{l-1} of every block: C_0, then each block's channels
        if blocks:
            if input_shape is None:
                raise TypeError("input_shape: conv blocks need the input shape (C_0, H_0, W_0), got None")
            channels = [input_shape[0]] + [block.channels for block in blocks]
        self.convs = nnx.List(
            [
                nnx.Conv(
                    c_in,
                    b.channels,
                    (b.kernel, b.kernel),
                    strides=b.stride,
                    padding=[(b.padding, b.padding)] * 2,
                    dtype=dtype,
                    param_dtype=dtype,
                    rngs=rngs,
                )
                for c_in, b in zip(channels, blocks)
            ]
        )
        self.pools = tuple((block.pool, block.pool_size) for block in blocks)
        recurrent = sizes[:-1] if outputs is not None else sizes[:1]  # n_0..n_{L-1}: the RNN layers
        self.rnns = nnx.List(
            [
                nnx.RNN(
                    nnx.SimpleCell(  # h' = g(x @ dense_i.kernel + dense_i.bias + h @ dense_h.kernel)
                        n_in,
                        n_out,
                        activation_fn=ACTIVATIONS[activation],
                        dtype=dtype,
                        param_dtype=dtype,
                        rngs=rngs,
                    ),
                    rngs=False,  # no carry RNG: __call__ hands it h^l_0 = 0
                )
                for n_in, n_out in zip(recurrent[:-1], recurrent[1:])
            ]
        )
        dense = sizes[len(recurrent) - 1 :]  # the MLP's sizes, or (n_{L-1}, n_L) after the RNN layers
        self.linears = nnx.List(
            [
                nnx.Linear(n_in, n_out, dtype=dtype, param_dtype=dtype, rngs=rngs)
                for n_in, n_out in zip(dense[:-1], dense[1:])
            ]
        )
        self.activation, self.output, self.outputs = activation, output, outputs

    def __call__(self, x: jax.Array) -> jax.Array:
        g, L = ACTIVATIONS[self.activation], len(self.linears)
        a = x
        if self.convs:
            a = x.transpose(0, 2, 3, 1)  # NCHW -> NHWC (m, H_0, W_0, C_0): Flax is channels-last
            for conv, (pool, size) in zip(self.convs, self.pools):
                z = conv(a)  # BP-conv (m, H_l, W_l, C_l), a cross-correlation as in the contract
                a = POOLS[pool](g(z), size)  # BP-pool g, then pooling: (m, H_l/n, W_l/n, C_l)
            a = a.transpose(0, 3, 1, 2).reshape(x.shape[0], -1)  # BP-flatten NCHW, then (m, C·H·W)
        for rnn, cell in zip(self.rnns, self.cells()):  # the recurrent layers, batch first
            h_0 = jnp.zeros((a.shape[0], cell.hidden_features), a.dtype)  # h^l_0 = 0
            a = rnn(a, initial_carry=h_0)  # BPTT-h (m, T, n_l): h^l_t = g(z^l_t) at every step t
        if self.outputs == "last":
            a = a[:, -1]  # h^{L-1}_T (m, n_{L-1}): the head reads the last step only
        for l, linear in enumerate(self.linears, start=1):
            z = linear(a)  # BP-z (m, n_l) = (m, n_{l-1}) @ kernel (n_{l-1}, n_l) + (n_l,)
            a = g(z) if l < L else z  # BP-a hidden layers; the output activation belongs to the cost
        return z

    def cells(self) -> list[nnx.SimpleCell]:
        """Each nnx.RNN's cell (typed as the RNNCellBase it may be in general; here a SimpleCell)."""
        return [cast(nnx.SimpleCell, rnn.cell) for rnn in self.rnns]

    def predict(self, x: jax.Array) -> jax.Array:
        """Output activations a^L (m, n_L); (m, T, n_L) for a recurrent spec's "all"."""
        return ACTIVATIONS[self.output](self(x))

    def load(self, params: ParamsIn) -> "Network":
        """Copy the contract's [(K, b)] + [(W, b)] in: kernel = K.transpose(2, 3, 1, 0), (k, k,
        C_{l-1}, C_l), for a conv block; kernel = W.T, (n_{l-1}, n_l), for a dense layer. A recurrent
        layer's (W, U, b): SimpleCell's one bias is dense_i's (dense_h has none), so dense_i gets
        W.T and b, dense_h gets U.T (n_l, n_l). The transposes are NumPy's, on the host, once: a jnp
        transpose outside a compiled step is a program of its own, compiled for every new shape."""
        layer: nnx.Conv | nnx.Linear
        for layer, (K, b) in zip(self.convs, params):
            assert layer.bias is not None  # every layer here has its bias b^l (use_bias=True)
            layer.kernel.set_value(jax.device_put(np.asarray(K).transpose(2, 3, 1, 0)))
            layer.bias.set_value(b)
        for cell, (W, U, b) in zip(self.cells(), params[len(self.convs) :]):
            assert cell.dense_i.bias is not None and cell.dense_h.bias is None  # the one bias
            cell.dense_i.kernel.set_value(jax.device_put(np.asarray(W).T))  # (n_{l-1}, n_l)
            cell.dense_i.bias.set_value(b)  # b^l, the cell's only bias
            cell.dense_h.kernel.set_value(jax.device_put(np.asarray(U).T))  # (n_l, n_l): h @ U.T, as h U^lᵀ
        for layer, (W, b) in zip(self.linears, params[len(self.convs) + len(self.rnns) :]):
            assert layer.bias is not None
            layer.kernel.set_value(jax.device_put(np.asarray(W).T))
            layer.bias.set_value(b)
        return self

    def params(self) -> Params:
        """The contract's [(K, b)] + [(W, b)]."""
        return contract_pairs(nnx.state(self, nnx.Param))


def contract_pairs(state: nnx.State) -> Params:
    """[(K, b)] + [(W, b)] from an nnx.State of the Params or of their gradients, as NumPy arrays on
    the host (the transposes there, for the reason ``Network.load`` gives): K = kernel.transpose(3,
    2, 0, 1), (C_l, C_{l-1}, k, k); W = kernel.T, (n_l, n_{l-1}). A recurrent spec's layers come back
    as [(W, U, b)] + [(W, b)]: W = dense_i.kernel.T, U = dense_h.kernel.T, b = dense_i.bias (the
    cell's one bias)."""
    state = jax.device_get(state)  # one transfer of every array: NumPy's transposes from here
    convs, rnns, linears = state.get("convs", {}), state.get("rnns", {}), state["linears"]
    K_pairs = [
        (convs[l]["kernel"][...].transpose(3, 2, 0, 1), convs[l]["bias"][...]) for l in range(len(convs))
    ]
    cells = [rnns[l]["cell"] for l in range(len(rnns))]
    triples: list[Layer] = [  # ∂C/∂W = (∂C/∂dense_i.kernel)ᵀ, ∂C/∂U = (∂C/∂dense_h.kernel)ᵀ
        (c["dense_i"]["kernel"][...].T, c["dense_h"]["kernel"][...].T, c["dense_i"]["bias"][...])
        for c in cells
    ]
    W_pairs = [  # BP-dC
        (linears[l]["kernel"][...].T, linears[l]["bias"][...])  # BP-dC ∂C/∂W = (∂C/∂kernel)ᵀ
        for l in range(len(linears))  # BP-dC
    ]  # BP-dC
    if triples:  # a recurrent spec (no conv blocks)
        return [*triples, *cast(list[Layer], W_pairs)]
    return K_pairs + W_pairs


def data_cost(model: Network, x: jax.Array, y: jax.Array, loss: str) -> jax.Array:
    """(1/m) Σ_x C_x from Optax (no weight-decay term); for a recurrent spec's "all",
    (1/m) Σ_x Σ_t C_{x,t}: every (example, step) a row, summed, then divided by m (not m·T)."""
    z = model(x)
    n_L = z.shape[-1]
    z_rows, y_rows = z.reshape(-1, n_L), y.reshape(-1, n_L)  # (m, n_L) stays as it is
    rows = COSTS[loss](z_rows, ACTIVATIONS[model.output](z_rows), y_rows)  # BPTT-C C_{x,t} per row
    return rows.sum() / x.shape[0]


def penalty(model: Network, weight_decay: float) -> jax.Array | float:
    """(λ/2)(Σ_l ‖K^l‖² + Σ_l ‖W^l‖² + Σ_l ‖U^l‖²): each kernel holds its K's, W's or U's entries,
    rearranged (a recurrent cell has two: dense_i's W^lᵀ and dense_h's U^lᵀ)."""
    layers: tuple[nnx.Conv | nnx.Linear, ...] = (
        *model.convs,
        *(dense for cell in model.cells() for dense in (cell.dense_i, cell.dense_h)),
        *model.linears,
    )
    kernels = [layer.kernel[...] for layer in layers]
    return 0.5 * weight_decay * sum(jnp.sum(kernel**2) for kernel in kernels)


def build(spec: Spec, params: ParamsIn, structure: Structure | None = None) -> Network:
    """The model holding ``params``; ``structure`` as check_network returns it, the conv blocks or a
    recurrent spec's Rnn (derived from the spec when not given, so ``build(spec, params)`` is a conv
    net for a conv spec and a recurrent one for a recurrent spec). Flax's own initial values are
    overwritten."""
    if structure is None:
        sizes = tuple(spec.sizes)
        structure = check_recurrent(spec, sizes) or check_conv(spec, sizes)
    rnn, blocks = (structure, ()) if isinstance(structure, Rnn) else (None, structure)
    input_shape = getattr(spec, "input_shape", None)
    graphdef, abstract = blueprint(
        tuple(spec.sizes),
        spec.activation,
        spec.output,
        np.dtype(params[0][0].dtype),
        None if input_shape is None else tuple(input_shape),
        tuple(blocks),
        None if rnn is None else rnn.outputs,
    )
    return nnx.merge(graphdef, abstract).load(params)  # new Variables, each then given its θ


# 256: the catalogue has 122 architectures × dtypes, and the suite builds each for every backward
# pass before any training run; with 64 slots each was evicted before its second use (242 traces, not 122)
@lru_cache(maxsize=256)
def blueprint(
    sizes: tuple[int, ...],
    activation: str,
    output: str,
    dtype: np.dtype,
    input_shape: tuple[int, ...] | None,
    blocks: tuple[ConvBlock, ...],
    outputs: str | None,
) -> tuple[nnx.GraphDef[Network], nnx.State]:
    """The Network's structure and abstract state (shapes and dtypes only), traced once per
    architecture. eval_shape creates the layers abstractly, so Flax's random initialisers never run
    (they would compile once per new shape, only to be overwritten); it is a trace of the whole
    constructor, so its split is kept and merged into a new model for every call."""
    abstract = nnx.eval_shape(
        lambda: Network(
            sizes,
            activation,
            output,
            dtype=dtype,
            rngs=nnx.Rngs(0),
            input_shape=input_shape,
            blocks=blocks,
            outputs=outputs,
        )
    )
    return nnx.split(abstract)


@nnx.jit(static_argnames="loss")
def loss_and_grads(
    model: Network, x: jax.Array, y: jax.Array, weight_decay: float, loss: str
) -> tuple[jax.Array, nnx.State]:
    """C and ∂C/∂θ for every nnx.Param, with the penalty inside C (no optimizer here)."""

    def cost(model: Network) -> jax.Array:
        return data_cost(model, x, y, loss) + penalty(model, weight_decay)

    # BP-grad an nnx.State shaped like the model's Params; through nnx.RNN's scan for a recurrent spec
    C, grads = nnx.value_and_grad(cost)(model)  # BP-grad BPTT-grad
    return C, grads


def gradients(spec: Spec, params: ParamsIn, x: jax.Array, y: jax.Array) -> Gradients:
    """Loss and gradients of the full cost C through nnx.value_and_grad."""
    structure = check_network(spec, params, x, y)  # the conv blocks, or a recurrent spec's Rnn
    C, grads = loss_and_grads(build(spec, params, structure), x, y, spec.weight_decay, spec.loss)
    return Gradients(float(C), contract_pairs(grads))  # the gradient State read back like the Params


def decay_kernels(params: PyTree) -> PyTree:
    """The mask for add_decayed_weights: True on every kernel, False on every bias. (Paths are
    ('convs' or 'linears', l, 'kernel'), or ('rnns', l, 'cell', 'dense_i' or 'dense_h', 'kernel') for
    a recurrent cell's W and U, with a trailing '.value' where Flax hands Optax Variables.)"""
    return jax.tree.map_with_path(
        lambda path, _: any(getattr(k, "key", None) == "kernel" for k in path), params
    )


@lru_cache(maxsize=32)
def sgd(lr: float, weight_decay: float) -> optax.GradientTransformation:
    """Cached per (η, λ): the same transformation object lets nnx.jit reuse its compiled step."""
    return optax.chain(optax.add_decayed_weights(weight_decay, mask=decay_kernels), optax.sgd(lr))


@nnx.jit(static_argnames="loss")
def train_step(
    model: Network,
    optimizer: nnx.Optimizer,
    x: jax.Array,
    y: jax.Array,
    idx: jax.Array,
    weight_decay: float,
    loss: str,
) -> jax.Array:
    """One SGD step on the batch x[idx], y[idx]; returns C (penalty included) before the update."""
    C, grads = nnx.value_and_grad(data_cost)(model, x[idx], y[idx], loss)
    C = C + penalty(model, weight_decay)  # recorded with (λ/2)‖W‖²; the optimizer adds its gradient
    optimizer.update(model, grads)  # BP-SGD W ← W − η(∂C/∂W + λW), b ← b − η ∂C/∂b
    return C


def supports_optimizer(optimizer: object) -> bool:
    """False for the conventions Optax's transformations cannot express (the module docstring says
    why); True for the rest. An invalid optimizer raises check_optimizer's error."""
    o = check_optimizer(optimizer)
    if o.name in ("adam", "adamw") and o.eps_hat:
        return False  # scale_by_adam: ε added to √v̂, never the ε̂ form
    if o.name == "adagrad" and not o.eps_in_sqrt:
        return False  # scale_by_rss: ε inside the root only
    return not (o.clip_norm is not None and o.clip_eps)  # clip_by_global_norm adds nothing to ‖g‖


def transformation(
    hyper: Hyper, rates: jax.Array, weight_decay: Any, rms_momentum: bool
) -> optax.GradientTransformation:
    """The contract's update as Optax transformations: the coupled decay (the gradient of (λ/2)‖W‖²),
    clipping, the rule. Every number may be a tracer; ``rms_momentum`` (μ > 0 for RMSprop) is the
    one choice of chain that a traced μ cannot make."""
    o = hyper

    def schedule(count: jax.Array) -> jax.Array:
        return rates[count]  # η_t for t = count + 1: Optax's schedules count from 0

    rule: optax.GradientTransformation
    if o.name == "sgd":
        rule = optax.sgd(schedule)  # OPT-sgd   Δ = −ηg
    elif o.name in ("momentum", "nesterov") and o.momentum_form == "velocity":  # the rate, then trace:
        lr = optax.scale_by_learning_rate(schedule)  # v ← μv + (−ηg), Δ = v (Nesterov: Δ = −ηg + μv)
        rule = optax.chain(lr, optax.trace(o.momentum, o.name == "nesterov"))  # OPT-momentum-velocity
    elif o.name in ("momentum", "nesterov"):  # trace, then the rate: b ← μb + g, Δ = −ηb (or −η(g + μb))
        rule = optax.sgd(schedule, momentum=o.momentum, nesterov=o.name == "nesterov")  # OPT-momentum-buffer
    elif o.name == "rmsprop" and rms_momentum and o.momentum_form == "buffer":
        rms = optax.scale_by_rms(o.rho, o.eps, eps_in_sqrt=o.eps_in_sqrt)  # OPT-rmsprop   d = g/(√s + ε)
        rule = optax.chain(rms, optax.trace(o.momentum), optax.scale_by_learning_rate(schedule))
    elif o.name == "rmsprop":  # optax.rmsprop's momentum is a trace after the rate: the velocity form
        mu = o.momentum if rms_momentum else None
        rule = optax.rmsprop(schedule, o.rho, o.eps, eps_in_sqrt=o.eps_in_sqrt, momentum=mu)  # OPT-rmsprop
    elif o.name == "adam":
        rule = optax.adam(schedule, o.beta1, o.beta2, o.eps)  # OPT-adam   Δ = −η m̂/(√v̂ + ε)
    elif o.name == "adamw":  # Δ = −η(m̂/(√v̂ + ε) + λ_d θ), θ the kernels only
        rule = optax.adamw(
            schedule, o.beta1, o.beta2, o.eps, weight_decay=o.decoupled_decay, mask=decay_kernels
        )  # OPT-adamw
    else:  # adagrad: s ← s + g², Δ = −η g/√(s + ε); scale_by_rss's 0 where s = 0 is right: g = 0 there
        rule = optax.adagrad(schedule, o.initial_accumulator, o.eps)  # OPT-adagrad
    clips = []
    if o.clip_value is not None:
        clips.append(optax.clip(o.clip_value))  # OPT-clip-value   g ← clip(g, −c, c)
    if o.clip_norm is not None:
        clips.append(optax.clip_by_global_norm(o.clip_norm))  # OPT-clip-norm   g ← g · c/‖g‖ if ‖g‖ > c
    return optax.chain(optax.add_decayed_weights(weight_decay, mask=decay_kernels), *clips, rule)


@nnx.jit(static_argnames=("loss", "rms_momentum"))
def optimizer_step(
    model: Network,
    opt_state: PyTree,
    x: jax.Array,
    y: jax.Array,
    idx: jax.Array,
    rates: jax.Array,
    weight_decay: float,
    hyper: Hyper,
    loss: str,
    rms_momentum: bool,
) -> tuple[jax.Array, PyTree]:
    """One step of ``transformation`` on the batch x[idx], y[idx]: C (penalty included) before the
    update, and the new Optax state. ``hyper`` and ``rates`` are traced, like the parameters."""
    C, grads = nnx.value_and_grad(data_cost)(model, x[idx], y[idx], loss)
    C = C + penalty(model, weight_decay)
    params = nnx.as_pure(nnx.state(model, nnx.Param))
    tx = transformation(hyper, rates, weight_decay, rms_momentum)
    updates, opt_state = tx.update(nnx.as_pure(grads), opt_state, params)  # OPT-update
    nnx.update(model, optax.apply_updates(params, updates))  # OPT-update   θ ← θ + Δ
    return C, opt_state


def reference_state(opt_state: PyTree, hyper: Hyper) -> State:
    """Optax's state in the reference's layout, kernels back to W and K (contract_pairs)."""
    state: State = {}
    kinds = (optax.TraceState, optax.ScaleByRmsState, optax.ScaleByAdamState, optax.ScaleByRssState)
    for part in jax.tree.leaves(
        opt_state, is_leaf=lambda s: isinstance(s, (*kinds, optax.ScaleByScheduleState))
    ):
        if isinstance(part, optax.ScaleByScheduleState):
            state["t"] = int(part.count)  # the steps taken
        elif isinstance(part, optax.TraceState):
            state["b" if hyper.momentum_form == "buffer" else "v"] = contract_pairs(part.trace)
        elif isinstance(part, optax.ScaleByRmsState):
            state["s"] = contract_pairs(part.nu)
        elif isinstance(part, optax.ScaleByAdamState):
            state["m"], state["v"] = contract_pairs(part.mu), contract_pairs(part.nu)
        elif isinstance(part, optax.ScaleByRssState):
            state["s"] = contract_pairs(part.sum_of_squares)
    return state


PLAIN_SGD = check_optimizer(SimpleNamespace(name="sgd"))  # the rule of a schedule without an optimizer


def train(
    spec: Spec,
    params: ParamsIn,
    x: jax.Array,
    y: jax.Array,
    *,
    lr: float | Sequence[float],
    batches: Batches,
    optimizer: object = None,
) -> Trajectory:
    """optax.sgd over the given batch order, the decay from the optimizer, not the loss; with
    ``optimizer`` (or a schedule) Optax's transformation of it (``transformation``)."""
    structure = check_network(spec, params, x, y)  # the conv blocks, or a recurrent spec's Rnn
    hyper = None if optimizer is None else check_optimizer(optimizer)
    rates = check_training(lr, batches, x.shape[0])
    model = build(spec, params, structure)
    if hyper is None and not isinstance(lr, (Sequence, np.ndarray)):
        tx = nnx.Optimizer(model, sgd(rates[0], float(spec.weight_decay)), wrt=nnx.Param)
        # cached_partial: the model's and optimizer's graph is traversed once, not at every step
        step = nnx.cached_partial(train_step, model, tx)
        losses = [step(x, y, idx, spec.weight_decay, spec.loss) for idx in batches]
        return Trajectory([float(C) for C in jax.device_get(losses)], model.params())
    o = PLAIN_SGD if hyper is None else hyper
    eta = jax.device_put(np.asarray(rates, dtype=x.dtype))  # η_t, one per step
    rms_momentum = o.name == "rmsprop" and o.momentum > 0
    opt_state = transformation(o, eta, spec.weight_decay, rms_momentum).init(
        nnx.as_pure(nnx.state(model, nnx.Param))
    )
    opt_step = nnx.cached_partial(optimizer_step, model)  # the model's graph traversed once, as above
    losses = []
    for idx in batches:
        C, opt_state = opt_step(opt_state, x, y, idx, eta, spec.weight_decay, o, spec.loss, rms_momentum)
        losses.append(C)
    state = None if hyper is None else reference_state(opt_state, hyper)
    return Trajectory([float(C) for C in jax.device_get(losses)], model.params(), state)
