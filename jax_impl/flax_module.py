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
"""

from collections.abc import Callable, Sequence
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy.typing as npt
import optax
from flax import nnx

from .training import Gradients, Trajectory
from .types import Activation, Batches, ConvBlock, Params, ParamsIn, PyTree, Spec
from .validation import Blocks, check_conv, check_inputs, check_training

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
    stride, padding, pool, pool_size), () for an MLP."""

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
        self.linears = nnx.List(
            [
                nnx.Linear(n_in, n_out, dtype=dtype, param_dtype=dtype, rngs=rngs)
                for n_in, n_out in zip(sizes[:-1], sizes[1:])
            ]
        )
        self.activation, self.output = activation, output

    def __call__(self, x: jax.Array) -> jax.Array:
        g, L = ACTIVATIONS[self.activation], len(self.linears)
        a = x
        if self.convs:
            a = x.transpose(0, 2, 3, 1)  # NCHW -> NHWC (m, H_0, W_0, C_0): Flax is channels-last
            for conv, (pool, size) in zip(self.convs, self.pools):
                z = conv(a)  # BP-conv (m, H_l, W_l, C_l), a cross-correlation as in the contract
                a = POOLS[pool](g(z), size)  # BP-pool g, then pooling: (m, H_l/n, W_l/n, C_l)
            a = a.transpose(0, 3, 1, 2).reshape(x.shape[0], -1)  # BP-flatten NCHW, then (m, C·H·W)
        for l, linear in enumerate(self.linears, start=1):
            z = linear(a)  # BP-z (m, n_l) = (m, n_{l-1}) @ kernel (n_{l-1}, n_l) + (n_l,)
            a = g(z) if l < L else z  # BP-a hidden layers; the output activation belongs to the cost
        return z

    def predict(self, x: jax.Array) -> jax.Array:
        """Output activations a^L (m, n_L)."""
        return ACTIVATIONS[self.output](self(x))

    def load(self, params: ParamsIn) -> "Network":
        """Copy the contract's [(K, b)] + [(W, b)] in: kernel = K.transpose(2, 3, 1, 0), (k, k,
        C_{l-1}, C_l), for a conv block; kernel = W.T, (n_{l-1}, n_l), for a dense layer."""
        layer: nnx.Conv | nnx.Linear
        for layer, (K, b) in zip(self.convs, params):
            assert layer.bias is not None  # every layer here has its bias b^l (use_bias=True)
            layer.kernel.set_value(K.transpose(2, 3, 1, 0))
            layer.bias.set_value(b)
        for layer, (W, b) in zip(self.linears, params[len(self.convs) :]):
            assert layer.bias is not None
            layer.kernel.set_value(W.T)
            layer.bias.set_value(b)
        return self

    def params(self) -> Params:
        """The contract's [(K, b)] + [(W, b)]."""
        return contract_pairs(nnx.state(self, nnx.Param))


def contract_pairs(state: nnx.State) -> Params:
    """[(K, b)] + [(W, b)] from an nnx.State of the Params or of their gradients: K = kernel.transpose(3,
    2, 0, 1), (C_l, C_{l-1}, k, k); W = kernel.T, (n_l, n_{l-1})."""
    convs, linears = state.get("convs", {}), state["linears"]
    K_pairs = [
        (convs[l]["kernel"][...].transpose(3, 2, 0, 1), convs[l]["bias"][...]) for l in range(len(convs))
    ]
    W_pairs = [  # BP-dC
        (linears[l]["kernel"][...].T, linears[l]["bias"][...])  # BP-dC ∂C/∂W = (∂C/∂kernel)ᵀ
        for l in range(len(linears))  # BP-dC
    ]  # BP-dC
    return K_pairs + W_pairs


def data_cost(model: Network, x: jax.Array, y: jax.Array, loss: str) -> jax.Array:
    """(1/m) Σ_x C_x from Optax (no weight-decay term)."""
    z = model(x)
    return COSTS[loss](z, ACTIVATIONS[model.output](z), y).mean()


def penalty(model: Network, weight_decay: float) -> jax.Array | float:
    """(λ/2)(Σ_l ‖K^l‖² + Σ_l ‖W^l‖²): each kernel holds its K's or W's entries, rearranged."""
    layers: tuple[nnx.Conv | nnx.Linear, ...] = (*model.convs, *model.linears)
    kernels = [layer.kernel[...] for layer in layers]
    return 0.5 * weight_decay * sum(jnp.sum(kernel**2) for kernel in kernels)


def build(spec: Spec, params: ParamsIn, blocks: Blocks | None = None) -> Network:
    """The model holding ``params``; ``blocks`` as check_inputs returns them (derived from the spec
    when not given, so ``build(spec, params)`` is a conv net for a conv spec). Flax's own initial
    values are overwritten."""
    blocks = check_conv(spec, tuple(spec.sizes)) if blocks is None else blocks
    # eval_shape: the layers are created abstractly (shapes and dtypes only), so Flax's random
    # initialisers never run (they would compile once per new shape, only to be overwritten)
    abstract = nnx.eval_shape(
        lambda: Network(
            spec.sizes,
            spec.activation,
            spec.output,
            dtype=params[0][0].dtype,
            rngs=nnx.Rngs(0),
            input_shape=getattr(spec, "input_shape", None),
            blocks=blocks,
        )
    )
    return abstract.load(params)


@nnx.jit(static_argnames="loss")
def loss_and_grads(
    model: Network, x: jax.Array, y: jax.Array, weight_decay: float, loss: str
) -> tuple[jax.Array, nnx.State]:
    """C and ∂C/∂θ for every nnx.Param, with the penalty inside C (no optimizer here)."""

    def cost(model: Network) -> jax.Array:
        return data_cost(model, x, y, loss) + penalty(model, weight_decay)

    C, grads = nnx.value_and_grad(cost)(model)  # BP-grad an nnx.State shaped like the model's Params
    return C, grads


def gradients(spec: Spec, params: ParamsIn, x: jax.Array, y: jax.Array) -> Gradients:
    """Loss and gradients of the full cost C through nnx.value_and_grad."""
    blocks = check_inputs(spec, params, x, y)
    C, grads = loss_and_grads(build(spec, params, blocks), x, y, spec.weight_decay, spec.loss)
    return Gradients(float(C), contract_pairs(grads))  # the gradient State read back like the Params


def decay_kernels(params: PyTree) -> PyTree:
    """The mask for add_decayed_weights: True on every kernel, False on every bias. (Paths are
    ('convs' or 'linears', l, 'kernel'), with a trailing '.value' where Flax hands Optax Variables.)"""
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


def train(
    spec: Spec, params: ParamsIn, x: jax.Array, y: jax.Array, *, lr: float, batches: Batches
) -> Trajectory:
    """optax.sgd over the given batch order; the decay comes from the optimizer, not the loss."""
    blocks = check_inputs(spec, params, x, y)
    check_training(lr, batches, x.shape[0])
    model = build(spec, params, blocks)
    optimizer = nnx.Optimizer(model, sgd(float(lr), float(spec.weight_decay)), wrt=nnx.Param)
    losses = [train_step(model, optimizer, x, y, idx, spec.weight_decay, spec.loss) for idx in batches]
    return Trajectory([float(C) for C in losses], model.params())
