"""Generate docs/rosetta.md and docs/optimizers.md from the source: each equation's tagged lines in
every implementation (docs/site/pages.py puts the same tables on the site's equations, conv and
recurrent pages).

A line is tagged by a trailing comment that starts with the tag, e.g. ``# BP2 (m, n_l) = ...``
(one call that serves two pages may carry two: ``# BP-grad BPTT-grad``). Consecutive lines with
the same tag form one block; a tag on the first or the last line of a statement that spans several
lines (a formatter puts a wrapped line's comment after its opening or its closing bracket) tags the
whole statement; a tagged line that is only a comment adds no code. A tag that a column needs but
cannot find, or a dense or conv tag that appears in two separate places of one column's files, is an
error: the page can never silently show the wrong line. The optimizers' rules (``# OPT-...``) and
the recurrent equations (``# BPTT-...``) branch (a hidden layer and the output layer, λ = 0 or not,
an output at every step or at the last), so one of them may have several blocks in one file: they
are shown together, in the file's order, ``…`` between them. A recurrent tag may also be found in
several files of one column (the torch column holds torch.autograd's own loop over time and
torch.module's nn.RNN): each file is then a row of its own. docs/optimizers.md also shows the
measured convention matrix, read from docs/optimizers.json, which ``backprop-conformance conventions
--json docs/optimizers.json`` writes (it needs torch and Optax; this script needs NumPy only). Run
``python docs/generate.py`` (or ``nox -s docs``); the test ``tests/e2e/test_docs.py`` fails when a
committed page is stale.
"""

import ast
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from a checkout: the registry is read from it

from conformance import conventions  # noqa: E402
from conformance.targets.registry import RECORDS  # noqa: E402

PAGE = ROOT / "docs" / "rosetta.md"
OPT_PAGE = ROOT / "docs" / "optimizers.md"
MEASURED = Path("docs") / "optimizers.json"  # under the root: the convention matrix's numbers
# BP1..BP4, BP-name, and BP2-conv etc.: a suffixed tag is its own tag, never read as the bare BP2
TAG = re.compile(r"#\s*(BP(?:[1-4](?:-[A-Za-z]+)?|-[A-Za-z]+))(?![\w-])")
OPT_TAG = re.compile(r"#\s*(OPT-[a-z]+(?:-[a-z]+)*)(?![\w-])")  # OPT-clip-norm, OPT-adam-eps-hat
# BPTT-z, BPTT-delta-out, BPTT-dW ...: the recurrent tags, first in the comment or after other BP tags
# ("# BP-grad BPTT-grad"); BPTT-delta-out is its own tag, never read as BPTT-delta
BPTT_TAG = re.compile(r"#\s*(?:BP[\w-]*\s+)*?(BPTT-[A-Za-z]+(?:-[A-Za-z]+)*)(?![\w-])")

# column titles, in the page's order; each column searches the files of the implementations the
# registry puts in it (conformance/targets/registry.py: RECORDS), in order, each file once
ORDER = (
    "NumPy reference",
    "PyTorch manual",
    "JAX manual",
    "PyTorch autograd",
    "JAX autodiff",
    "Flax + Optax",
)
COLUMNS = {
    title: list(dict.fromkeys(f for r in RECORDS if r.column == title for f in r.files)) for title in ORDER
}
AUTODIFF = ("PyTorch autograd", "JAX autodiff", "Flax + Optax")
# The Flax template returns no per-example δ (nnx.value_and_grad differentiates the Params only):
# where the other autodiff columns show their δ line, it shows the call that runs the backward pass.
SUBSTITUTE = {"Flax + Optax": {"BP-delta": "BP-grad"}}
# The recurrent maths lives in each folder's recurrent.py (docs/contract.md, section 8), which the
# registry's files do not list: the hand-written columns read it first, and JAX autodiff too, whose
# value_and_grad runs through jax_impl/recurrent.py's forward scan. torch.autograd and torch.module
# write their own forward (a loop over time; nn.RNN), as the Flax template does (nnx.RNN).
RECURRENT_FILES = {
    "NumPy reference": ("reference/recurrent.py",),
    "PyTorch manual": ("torch_impl/recurrent.py",),
    "JAX manual": ("jax_impl/recurrent.py",),
    "JAX autodiff": ("jax_impl/recurrent.py",),
}
REC_COLUMNS = {
    title: list(dict.fromkeys([*RECURRENT_FILES.get(title, ()), *files])) for title, files in COLUMNS.items()
}
# Where a column computes an equation inside a library call and so has no line of its own for it,
# the row shows the call that does: Flax's nnx.RNN(SimpleCell) computes z^l_t and h^l_t in one call
# (BPTT-h), and its output layer is the dense loop's nnx.Linear (BP-z). Used only while the column
# has no line tagged with the equation's own tag.
FALLBACK = {"Flax + Optax": {"BPTT-z": "BPTT-h", "BPTT-out": "BP-z"}}

# (title, LaTeX, tags in the hand-written columns, tags in the autodiff columns, note)
EQUATIONS = [
    (
        "Weighted input",
        r"z^l = a^{l-1} (W^l)^\top + b^l",
        ["BP-z"],
        ["BP-z"],
        "The JAX autodiff version adds a zero shift s^l, whose gradient is the batch δ.",
    ),
    ("Activation", r"a^l = g_l(z^l),\quad a^0 = x", ["BP-a"], ["BP-a"], ""),
    (
        "Cost",
        r"C = \frac{1}{m}\sum_x C_x + \frac{\lambda}{2}\sum_l \lVert W^l\rVert^2",
        ["BP-C"],
        ["BP-C"],
        "C_x is ½‖a − y‖², the cross-entropy or the log-likelihood (costs.py). Optax's "
        "l2_loss is ½(a − y)² per element, summed here over the outputs; the Flax template's "
        "(λ/2)Σ‖W‖² is its penalty(), and in training the optimizer's weight decay.",
    ),
    (
        "BP1: output error",
        r"\delta^L = \nabla_a C_x \odot g'(z^L)",
        ["BP1", "BP-out"],
        ["BP-grad", "BP-delta"],
        "Autodiff returns ∂C/∂z^L = δ^L / m: the batch mean's 1/m is undone to get the per-example δ. "
        "The Flax template asks for parameter gradients only; BP1–BP4 all happen inside its "
        "nnx.value_and_grad call.",
    ),
    (
        "BP2: error backwards",
        r"\delta^l = (\delta^{l+1} W^{l+1}) \odot g'(z^l)",
        ["BP2"],
        ["BP-delta"],
        "Rows are examples, so Nielsen's (W^{l+1})ᵀ δ^{l+1} becomes δ^{l+1} W^{l+1}.",
    ),
    (
        "BP3: bias gradient",
        r"\frac{\partial C}{\partial b^l} = \frac{1}{m}\sum_x \delta^l_x",
        ["BP3"],
        ["BP-dC"],
        "",
    ),
    (
        "BP4: weight gradient",
        r"\frac{\partial C}{\partial W^l} = \frac{1}{m} (\delta^l)^\top a^{l-1} + \lambda W^l",
        ["BP4"],
        ["BP-dC"],
        "",
    ),
    (
        "SGD step",
        r"W \leftarrow W - \eta \frac{\partial C}{\partial W},\quad b \leftarrow b - \eta "
        r"\frac{\partial C}{\partial b}",
        ["BP-SGD"],
        ["BP-SGD"],
        "torch.optim.SGD(weight_decay=λ) and optax.add_decayed_weights(λ), masked to the kernels, add "
        "the λW of BP4 inside the optimizer.",
    ),
]

# The convolutional extension (docs/contract.md, section 3): ã^{l-1} is a^{l-1} zero-padded by p,
# s the stride; the autodiff columns get these numbers from the same BP-grad call as the dense ones.
CONV_EQUATIONS = [
    (
        "Convolution (cross-correlation)",
        r"z^l_{n,c,i,j} = b^l_c + \sum_{c',p',q'} K^l_{c,c',p',q'}\, \tilde a^{l-1}_{n,c',\,si+p',\,sj+q'}",
        ["BP-conv"],
        ["BP-conv"],
        "No kernel flip: torch, JAX and this project correlate. H_z = ⌊(H + 2p − k)/s⌋ + 1.",
    ),
    (
        "Pooling",
        r"a^l_{n,c,i,j} = \max_{(u,v) \in P_{ij}} g(z^l)_{n,c,u,v}\ \text{ or }\ "
        r"\frac{1}{r^2}\sum_{(u,v) \in P_{ij}} g(z^l)_{n,c,u,v}",
        ["BP-pool"],
        ["BP-pool"],
        "P_ij is the non-overlapping r × r window (r = pool_size) of output position (i, j).",
    ),
    (
        "Flatten",
        r"a^c_{n,\ cH_cW_c + iW_c + j} = a^c_{n,c,i,j}",
        ["BP-flatten"],
        ["BP-flatten"],
        "C (row-major) order, torch's flatten(1).",
    ),
    (
        "Un-flatten",
        r"\frac{\partial C_x}{\partial a^c} = \operatorname{reshape}\big(\delta^{c+1} W^{c+1},\ "
        r"(m, C_c, H_c, W_c)\big)",
        ["BP-unflatten"],
        ["BP-delta"],
        "",
    ),
    (
        "Un-pool",
        r"\frac{\partial C_x}{\partial g(z^l)_{n,c,u,v}} = \begin{cases} "
        r"\partial C_x / \partial a^l_{n,c,i,j} "
        r"& \text{max: } (u,v) \text{ the first argmax of } P_{ij},\ 0 \text{ elsewhere} \\ "
        r"\frac{1}{r^2}\, \partial C_x / \partial a^l_{n,c,i,j} & \text{avg} \end{cases}",
        ["BP-unpool"],
        ["BP-delta"],
        "Then δ^l = ∂C_x/∂g(z^l) ⊙ g'(z^l). At a tie the whole gradient goes to the first maximal "
        "element in row-major order, as torch and JAX route it.",
    ),
    (
        "BP2-conv: error to the layer below",
        r"\frac{\partial C_x}{\partial \tilde a^{l-1}_{n,c',u,v}} = \sum_{c,i,j} \delta^l_{n,c,i,j}\, "
        r"K^l_{c,c',\,u-si,\,v-sj}",
        ["BP2-conv"],
        ["BP-delta"],
        "The transposed correlation: for stride 1, the full correlation of δ^l with the kernel rotated "
        "by 180°; the padded border is then cut off, and the result is un-pooled for block l − 1.",
    ),
    (
        "BP3-conv: conv bias gradient",
        r"\frac{\partial C}{\partial b^l_c} = \frac{1}{m}\sum_n \sum_{i,j} \delta^l_{n,c,i,j}",
        ["BP3-conv"],
        ["BP-dC"],
        "Summed over positions (one bias is shared by all), averaged over examples.",
    ),
    (
        "BP4-conv: kernel gradient",
        r"\frac{\partial C}{\partial K^l_{c,c',p',q'}} = \frac{1}{m}\sum_n \sum_{i,j} \delta^l_{n,c,i,j}\, "
        r"\tilde a^{l-1}_{n,c',\,si+p',\,sj+q'} + \lambda K^l_{c,c',p',q'}",
        ["BP4-conv"],
        ["BP-dC"],
        "The forward's correlation with δ^l in the kernel's place: no flip here.",
    ),
]


# Recurrent (Elman) networks, backprop through time (docs/contract.md, section 8): every hidden
# layer l < L is recurrent, the output layer dense; t = 1..T; x_t = x[:, t]. The autodiff columns get
# every backward number from the one differentiation that BPTT-grad tags.
REC_EQUATIONS = [
    (
        "Weighted input through time",
        r"z^l_t = a^{l-1}_t (W^l)^\top + h^l_{t-1} (U^l)^\top + b^l,\quad h^l_0 = 0,\ a^0_t = x_t",
        ["BPTT-z"],
        ["BPTT-z"],
        "The same $W^l$, $U^l$ and $b^l$ at every step. torch.nn.RNN and Flax's nnx.RNN(SimpleCell) "
        "compute $z^l_t$ and $h^l_t$ inside one call: their row is that call (nn.RNN's is under PyTorch "
        "autograd, in `torch_impl/module.py`, with the next equation).",
    ),
    (
        "State",
        r"h^l_t = a^l_t = g(z^l_t)",
        ["BPTT-h"],
        ["BPTT-h"],
        "$h^l_t$ is both the layer's output at step t (the layer above reads it) and its state (step "
        "t + 1 reads it through $U^l$).",
    ),
    (
        "Output layer at each output step",
        r"z^L_t = a^{L-1}_t (W^L)^\top + b^L,\quad a^L_t = g_L(z^L_t)\quad "
        r"(t = 1..T\ \text{for all},\ t = T\ \text{for last})",
        ["BPTT-out"],
        ["BPTT-out"],
        "A softmax normalises each (example, step) on its own: the steps are folded into the rows. The "
        "module templates return the logits $z^L_t$; the output activation belongs to the cost.",
    ),
    (
        "Cost summed over the output steps",
        r"C = \frac{1}{m}\sum_x \sum_{t\ \text{out}} C_{x,t} + \frac{\lambda}{2}\sum_{l} "
        r"\big(\lVert W^l\rVert^2 + \lVert U^l\rVert^2\big)",
        ["BPTT-C"],
        ["BPTT-C"],
        "$C_{x,t}$ is the dense per-example cost at step t; the sum over the steps is divided by m, not "
        "by m·T. $W^L$ is decayed too; no bias is.",
    ),
    (
        "Output error at each step",
        r"\delta^L_t = \nabla_a C_{x,t} \odot g_L'(z^L_t)\quad "
        r"(\text{last: } \delta^L_t = 0 \text{ for } t < T)",
        ["BPTT-delta-out"],
        ["BPTT-grad"],
        "BP1 at every output step. Autodiff returns ∂C/∂z = δ/m; the autodiff ports' per-example "
        "$\\delta^l_t$ come out of the same call as their gradients (the Flax template returns parameter "
        "gradients only).",
    ),
    (
        "Error through the layers and through time",
        r"\delta^l_t = \big(\delta^{l+1}_t W^{l+1} + \delta^l_{t+1} U^l\big) \odot g'(z^l_t),\quad "
        r"\delta^l_{T+1} = 0",
        ["BPTT-delta"],
        ["BPTT-grad"],
        "Two paths back from $z^l_t$: up to $z^{l+1}_t$ (BP2) and forward in time to $z^l_{t+1}$. The "
        "second is why the loop runs backwards, t = T..1. Rows are examples, so $U^l$ multiplies from the "
        "right untransposed here, as $W^{l+1}$ does.",
    ),
    (
        "Input-weight gradient",
        r"\frac{\partial C}{\partial W^l} = \frac{1}{m}\sum_{t} (\delta^l_t)^\top a^{l-1}_t + \lambda W^l",
        ["BPTT-dW"],
        ["BPTT-grad"],
        "The weights are shared by every step, so their gradient sums over t (the output layer's over "
        "its output steps). Folding (m, T) into m·T rows makes one product sum over both.",
    ),
    (
        "Recurrent-weight gradient",
        r"\frac{\partial C}{\partial U^l} = \frac{1}{m}\sum_{t=2}^{T} (\delta^l_t)^\top h^l_{t-1} "
        r"+ \lambda U^l",
        ["BPTT-dU"],
        ["BPTT-grad"],
        "$\\delta^l_t$ meets the state one step back; $h^l_0 = 0$ adds nothing, so with T = 1 this is "
        "$\\lambda U^l$ alone.",
    ),
    (
        "Recurrent bias gradient",
        r"\frac{\partial C}{\partial b^l} = \frac{1}{m}\sum_{t}\sum_x \delta^l_{x,t}",
        ["BPTT-db"],
        ["BPTT-grad"],
        "Summed over the steps and the examples, divided by m only.",
    ),
]

# docs/optimizers.md: the update rules (reference/optimizers.py) in the hand-written ports and, where
# they tag a line, the two framework templates
OPT_COLUMNS = {
    "NumPy reference": ["reference/optimizers.py"],
    "PyTorch by hand": ["torch_impl/optimizers.py"],
    "JAX by hand": ["jax_impl/optimizers.py"],
    "torch.optim template": ["torch_impl/module.py"],
    "Optax template": ["jax_impl/flax_module.py"],
}
OPTIONAL = ("torch.optim template", "Optax template")  # a row only where the template tags the rule

# (title, LaTeX, tags, note); η_t is step t's rate, g the gradient of the full cost C (λW included)
OPT_EQUATIONS = [
    ("Clipping by value", r"g \leftarrow \operatorname{clip}(g, -c, c)", ["OPT-clip-value"], ""),
    (
        "Clipping by the global norm",
        r"g \leftarrow g \cdot \min\Big(1, \frac{c}{\lVert g\rVert + \epsilon_c}\Big),\quad "
        r"\lVert g\rVert^2 = \sum_{\theta} \lVert g_\theta \rVert^2",
        ["OPT-clip-norm"],
        "One norm over every weight and bias together. ε_c is `clip_eps`: torch's "
        "`clip_grad_norm_` adds 1e-6, Optax's `clip_by_global_norm` nothing.",
    ),
    ("SGD", r"\Delta = -\eta_t\, g", ["OPT-sgd"], ""),
    (
        "Momentum, buffer form",
        r"b \leftarrow \mu b + g\ \ (b_1 = g),\quad \Delta = -\eta_t\, b",
        ["OPT-momentum-buffer"],
        "torch.optim and Optax: η stays out of the buffer, so a new η applies at once to everything "
        "accumulated.",
    ),
    (
        "Momentum, velocity form",
        r"v \leftarrow \mu v - \eta_t\, g\ \ (v_0 = 0),\quad \Delta = v",
        ["OPT-momentum-velocity"],
        "Nielsen ch. 3 eqs. 107–108, Sutskever et al. 2013, Keras, CS231n: each step's η is baked "
        "into the velocity. With a constant η, v = −ηb exactly; after an η drop the old steps "
        "keep their old η.",
    ),
    (
        "Nesterov, buffer form",
        r"b \leftarrow \mu b + g,\quad \Delta = -\eta_t\,(g + \mu b)",
        ["OPT-nesterov-buffer"],
        "b is updated by the momentum line above. Both forms store the look-ahead parameters, as "
        "every framework does (Sutskever's θ is the stored value minus μv).",
    ),
    (
        "Nesterov, velocity form",
        r"v \leftarrow \mu v - \eta_t\, g,\quad \Delta = \mu v - \eta_t\, g",
        ["OPT-nesterov-velocity"],
        "v is updated by the velocity line above.",
    ),
    (
        "RMSprop",
        r"s \leftarrow \rho s + (1-\rho)\, g^2,\quad d = \frac{g}{\sqrt{s} + \epsilon}\ \text{or}\ "
        r"\frac{g}{\sqrt{s + \epsilon}},\quad \Delta = -\eta_t\, d",
        ["OPT-rmsprop"],
        "`eps_in_sqrt` picks the second (Optax, Keras). With μ > 0 the momentum forms above apply "
        "to d instead of g (torch: buffer; Optax: velocity).",
    ),
    (
        "Adam: the moments",
        r"m \leftarrow \beta_1 m + (1-\beta_1)\, g,\quad v \leftarrow \beta_2 v + (1-\beta_2)\, g^2",
        ["OPT-adam-m", "OPT-adam-v"],
        "",
    ),
    (
        "Adam: the step (Kingma & Ba, Algorithm 1)",
        r"\hat m = \frac{m}{1-\beta_1^t},\ \ \hat v = \frac{v}{1-\beta_2^t},\quad "
        r"\Delta = -\eta_t\, \frac{\hat m}{\sqrt{\hat v} + \epsilon}",
        ["OPT-adam-correct", "OPT-adam"],
        "torch.optim and Optax.",
    ),
    (
        "Adam: the ε̂ form (Kingma & Ba, end of §2)",
        r"\Delta = -\eta_t\, \frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}\, \frac{m}{\sqrt{v} + \hat\epsilon}",
        ["OPT-adam-eps-hat"],
        "Keras and TF (`eps_hat`). The same as Algorithm 1 with ε = ε̂/√(1−β₂ᵗ): at step 1 with "
        "β₂ = 0.999 that is 31.6 ε̂, so Keras's default ε̂ = 1e-7 acts as about 316× torch's ε = 1e-8. "
        "The torch.optim template expresses it so: ε̂/√(1−β₂ᵗ) written into Adam's `eps` before each step.",
    ),
    (
        "AdamW: decoupled decay",
        r"\Delta \leftarrow \Delta - \eta_t\, \lambda_d\, \theta\quad \text{(weights and kernels only)}",
        ["OPT-adamw"],
        "θ before the step, times η_t as torch and Optax do (Loshchilov & Hutter's Algorithm 2 "
        "multiplies by the schedule multiplier only). Both libraries decay every parameter unless "
        "told otherwise (parameter groups, `mask=`); the contract never decays biases.",
    ),
    (
        "Adagrad",
        r"s \leftarrow s + g^2\ \ (s_0 = \text{initial\_accumulator}),\quad "
        r"\Delta = -\eta_t\, \frac{g}{\sqrt{s} + \epsilon}\ \text{or}\ "
        r"-\eta_t\, \frac{g}{\sqrt{s + \epsilon}}",
        ["OPT-adagrad"],
        "torch: s₀ = 0, ε = 1e-10 outside; Optax: s₀ = 0.1, ε = 1e-7 inside.",
    ),
    ("The update", r"\theta \leftarrow \theta + \Delta", ["OPT-update"], ""),
]

# (convention, switch, torch.optim, Optax, others, why it matters)
CONVENTIONS = [
    (
        "where η sits in momentum",
        "`momentum_form`",
        "buffer",
        "buffer",
        "velocity: Nielsen ch. 3 eqs. 107–108, Sutskever et al. 2013 eqs. 1–4, Keras, CS231n `optim.py`",
        "identical at a constant η; they part after η changes",
    ),
    (
        "RMSprop's momentum",
        "`momentum_form`",
        "buffer (`RMSprop(momentum=μ)`)",
        "velocity (`rmsprop(momentum=μ)`: `trace` after `scale_by_learning_rate`)",
        "",
        "as above, and η is baked in on the Optax side",
    ),
    (
        "ε inside or outside the root",
        "`eps_in_sqrt`",
        "outside (RMSprop, Adagrad)",
        "inside (`scale_by_rms(eps_in_sqrt=True)`, `scale_by_rss`)",
        "inside: Keras; Karpathy's min-char-rnn Adagrad (ε = 1e-8)",
        "ε inside acts like √ε outside: 1e-4 for ε = 1e-8, the size of a small gradient",
    ),
    ("RMSprop's decay", "`rho`", "0.99 (`alpha`)", "0.9 (`decay`)", "0.9: Hinton's lecture 6e", ""),
    (
        "Adam's ε",
        "`eps_hat`",
        "ε (Algorithm 1)",
        "ε (Algorithm 1)",
        'ε̂ (end of §2): Keras (documented as "epsilon hat"), TF',
        "ε̂ acts as ε/√(1−β₂ᵗ): 31.6× at step 1",
    ),
    (
        "AdamW's decay",
        "`decoupled_decay`",
        "1e-2",
        "1e-4",
        "Keras decouples `weight_decay` on every optimizer",
        "a 100× different default λ_d",
    ),
    (
        "Adagrad's start",
        "`initial_accumulator`, `eps`",
        "s₀ = 0, ε = 1e-10",
        "s₀ = 0.1, ε = 1e-7",
        "s₀ = 0.1, ε inside: Keras",
        "s₀ dominates the first steps of small gradients",
    ),
    (
        "ε added to the clipping norm",
        "`clip_eps`",
        "1e-6 (`clip_grad_norm_`)",
        "0 (`clip_by_global_norm`)",
        "",
        "a relative 1e-6/‖g‖ on every clipped step",
    ),
]

# (reported by, what they hit), in the project's words
REPORTS = [
    (
        "PyTorch #1099",
        "torch's momentum keeps η out of the buffer, unlike Sutskever et al. (now a note in the docs)",
    ),
    ("PyTorch #5920", "torch's Nesterov looked wrong until one notices it stores the look-ahead parameters"),
    ("PyTorch #23796", "RMSprop's ε inside the root in TF, outside in torch; an option for it was declined"),
    ("PyTorch #6616", "Adagrad's `initial_accumulator_value`, added to port a TF model"),
    ("PyTorch #104857", "a TF model ported to torch trained differently: Adam's ε̂ among the causes"),
    ("Optax #532", "RMSprop in Optax and torch differ (ε's placement), found reproducing IMPALA"),
    ("Optax #571", "Optax's Adam is torch's (Algorithm 1), TF's is the ε̂ form"),
    ("HorizonRobotics/alf #466", "a TF-style Adam for torch: no choice of ε makes the two agree"),
    (
        "jax-ml/jax #1427",
        "JAX's own `optimizers.rmsprop` (now `jax.example_libraries`) moved ε inside the root, as TF",
    ),
    ("timm `RMSpropTF`", "a torch RMSprop with TF's conventions, ε inside the root among them"),
    ("keras-team/keras #19051", "AdamW's decay became coupled (L2) for a while, against the paper"),
    ("tensorflow #9047", "TF's Adam ε is the paper's ε̂, scaled by √(1−β₂ᵗ)"),
]


class TagError(ValueError):
    pass


def blocks(root, path, tag_pattern=TAG):
    """tag -> list of blocks (each a list of stripped source lines) in one file."""
    text = (root / path).read_text()
    lines = text.splitlines()
    starts = statement_starts(text)
    ends = {first: last for last, first in starts.items()}
    found, last = {}, {}
    for number, line in enumerate(lines, start=1):
        comment = line.partition("  #")[2]
        for tag in tag_pattern.findall("#" + comment) if comment else []:
            if last.get(tag, 0) >= number:  # inside a statement already taken whole from its first line
                continue
            if last.get(tag) == number - 1:
                block = found[tag][-1]
            else:  # a new block: with the lines above it of the statement it ends
                start = starts.get(number, number)
                block = [ln.partition("  #")[0].strip() for ln in lines[start - 1 : number - 1]]
                found.setdefault(tag, []).append(block)
            end = ends.get(number, number)  # a tag on a statement's first line takes all of it
            block += [ln.partition("  #")[0].strip() for ln in lines[number - 1 : end]]
            last[tag] = end
    # a tagged line that is only a comment has no code to show
    return {tag: [[ln for ln in block if ln] for block in found[tag]] for tag in found}


def statement_starts(text):
    """{last line: first line} of each simple statement that spans several lines."""
    return {
        node.end_lineno: node.lineno
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.stmt)
        and not hasattr(node, "body")  # compound statements (if, for, def) end in their body
        and node.end_lineno is not None
        and node.end_lineno > node.lineno
    }


def lookup(root, column, tag, columns=COLUMNS, tag_pattern=TAG, spread=False):
    """(path, lines) of ``tag`` in ``column``'s files: one block, or with ``spread`` every block of
    one file, in order (an optimizer's branches)."""
    files = columns[column]
    missing = [path for path in files if not (root / path).is_file()]
    if missing:
        raise TagError(f"{column}: {', '.join(missing)} does not exist")
    hits = [(path, block) for path in files for block in blocks(root, path, tag_pattern).get(tag, [])]
    if not hits:
        raise TagError(f"{column}: no line tagged '# {tag}' in {', '.join(files)}")
    where = sorted({p for p, _ in hits})
    if len(hits) > 1 and (not spread or len(where) > 1):
        raise TagError(f"{column}: tag '# {tag}' appears in {len(hits)} places ({', '.join(where)})")
    return hits[0][0], [line for k, (_, block) in enumerate(hits) for line in ["…"] * (k > 0) + block]


def render(root=ROOT):
    out = [
        "<!-- Generated by docs/generate.py from the # BP… and # BPTT… tags in the source. Do not edit. -->",
        "",
        "# The four equations, side by side",
        "",
        "Each equation of backpropagation in the project's convention (docs/contract.md: rows are",
        "examples, `W^l` is `(n_l, n_{l-1})`, δ is per example, C averages over the batch), then",
        "the very lines that compute it in the NumPy reference and the hand-written PyTorch and",
        "JAX ports, and, for contrast, how the autograd versions and the Flax NNX + Optax",
        "template obtain the same number (the Flax kernel is W transposed). Each",
        "line is found through its `# BP…` tag, so this page always shows the code that the",
        "conformance suite checks.",
        "",
    ]
    out += sections(root, EQUATIONS)
    out += [
        "# Convolutional layers, side by side",
        "",
        "The same for a conv block (NCHW; `K^l` is `(C_l, C_{l-1}, k, k)`; `ã^{l-1}` is `a^{l-1}`",
        "zero-padded by p; s is the stride; δ^l is per example and shaped like z^l). The autodiff",
        "versions differentiate the whole forward pass, so their backward rows show the lines that",
        "collect what autodiff returned.",
        "",
    ]
    out += sections(root, CONV_EQUATIONS)
    out += [
        "# Recurrent networks (backprop through time), side by side",
        "",
        "The same for an Elman network (every hidden layer recurrent, the output layer dense;",
        "docs/contract.md, section 8): `x` is `(m, T, n_0)`, batch first; `U^l` is `(n_l, n_l)`;",
        "`h^l_0 = 0`; δ^l_t is per example and per step. The recurrent lines are found through their",
        "`# BPTT-…` tags; where an equation branches (a hidden layer and the output layer, λ, the",
        "output mode) every branch is shown, `…` between them. The autodiff versions differentiate",
        "the whole unrolled forward pass, so every backward row shows their one differentiation.",
        "",
    ]
    out += sections(root, REC_EQUATIONS)
    out += [(root / "docs" / "crosswalk.md").read_text().rstrip(), ""]
    return "\n".join(out)


def sections(root, equations):
    """One '## title' section per equation: its LaTeX, then a row per column (and per file, for a
    recurrent tag found in several files of one column)."""
    out = []
    for title, latex, hand_tags, auto_tags, note in equations:
        out += [f"## {title}", "", f"$${latex}$$", "", "| implementation | code | file |", "|---|---|---|"]
        for column in COLUMNS:
            tags = auto_tags if column in AUTODIFF else hand_tags
            swap = SUBSTITUTE.get(column, {})
            for t in dict.fromkeys(swap.get(t, t) for t in tags):  # a substituted tag shows once
                for path, lines in found(root, column, t):
                    code = "<br>".join(f"<code>{escape(line)}</code>" for line in lines)
                    out.append(f"| {column} | {code} | `{path}` |")
        if note:
            out += ["", note]
        out.append("")
    return out


def found(root, column, tag):
    """[(path, lines)]: a dense or conv tag's one block; a recurrent tag's blocks, one entry per file
    of the column that has it (REC_COLUMNS), or, where none has it, its FALLBACK's."""
    if not tag.startswith("BPTT-"):
        return [lookup(root, column, tag)]
    hits = [
        lookup(root, column, tag, {column: [path]}, BPTT_TAG, spread=True)
        for path in REC_COLUMNS[column]
        if tag in blocks(root, path, BPTT_TAG)
    ]
    if hits:
        return hits
    if tag in FALLBACK.get(column, {}):
        return found(root, column, FALLBACK[column][tag])
    lookup(root, column, tag, REC_COLUMNS, BPTT_TAG)  # raises: which files, which tag
    raise AssertionError("unreachable: lookup raises when no file has the tag")


def escape(code):
    return code.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "&#124;")


def render_optimizers(root=ROOT):
    """docs/optimizers.md: the tagged update rules, the conventions, the libraries' defaults and the
    convention matrix measured by ``backprop-conformance conventions`` (read from MEASURED)."""
    measured = json.loads((root / MEASURED).read_text())
    out = [
        "<!-- Generated by docs/generate.py from the # OPT-… tags in the source and "
        f"{MEASURED.as_posix()}. Do not edit. -->",
        "",
        "# Optimizers, side by side",
        "",
        "Each step of `train(..., optimizer=...)` takes g = ∂C/∂θ of the full cost on the step's",
        "batch (the coupled λW included), then clips it, turns it into Δ with the optimizer's state",
        "(fresh at every call), adds AdamW's decoupled decay, and sets θ ← θ + Δ (docs/contract.md).",
        "Below, each rule's equation and the very lines that compute it, found through their",
        "`# OPT-…` tags: the NumPy reference and the hand-written PyTorch and JAX ports, and the",
        "torch.optim and Optax templates where they tag a line (elsewhere the library does it",
        "inside its optimizer). Then the conventions that frameworks choose differently, each",
        "library's defaults, and what those differences measure to.",
        "",
    ]
    for title, latex, tags, note in OPT_EQUATIONS:
        out += [f"## {title}", "", f"$${latex}$$", "", "| implementation | code | file |", "|---|---|---|"]
        for column in OPT_COLUMNS:
            for tag in tags:
                try:
                    path, lines = lookup(root, column, tag, OPT_COLUMNS, OPT_TAG, spread=True)
                except TagError:
                    if column in OPTIONAL and (root / OPT_COLUMNS[column][0]).is_file():
                        continue
                    raise
                code = "<br>".join(f"<code>{escape(line)}</code>" for line in lines)
                out.append(f"| {column} | {code} | `{path}` |")
        if note:
            out += ["", note]
        out.append("")
    out += conventions_sections(measured)
    return "\n".join(out)


def conventions_sections(measured):
    """The conventions, the defaults, what each template declines, the measured tables, sources."""
    c = conventions
    out = [
        "# The conventions",
        "",
        "Each is a switch of `conformance.Optimizer`, named for the convention, never for a",
        "framework.",
        "",
        "| convention | switch | torch.optim | Optax | others | what it does |",
        "|---|---|---|---|---|---|",
        *(f"| {' | '.join(escape(cell) for cell in row)} |" for row in CONVENTIONS),
        "",
        "# The libraries' defaults as contract optimizers",
        "",
        "`conformance/conventions.py` writes them once (TORCH_DEFAULTS, OPTAX_DEFAULTS);",
        "`tests/cli/test_conventions.py` reads them back from the libraries' signatures. μ and the",
        "clipping threshold have no default in either library: they are the row's problem's, the same",
        "on both sides, and so is η (Optax has no default). The rows run the catalogue problem that",
        "exposes their difference: small gradients for ε and Adagrad's s₀, an η drop for the",
        "momentum forms, clipping that triggers on some steps only.",
        "",
        "| optimizer | problem | torch.optim | as a contract optimizer | Optax | as a contract optimizer |",
        "|---|---|---|---|---|---|",
        *(
            f"| {name} | `{c.PROBLEMS[name]}` | `{escape(c.TORCH_CALLS[name])}` | "
            f"{escape(c.TORCH_DEFAULTS[name].label)} | `{escape(c.OPTAX_CALLS[name])}` | "
            f"{escape(c.OPTAX_DEFAULTS[name].label)} |"
            for name in c.ROWS
        ),
        "",
        "# What each template declines",
        "",
        "A template answers `supports_optimizer` False for what its library cannot express (its",
        "module docstring says why); the convention matrix then runs that side on the reference.",
        "",
        f"| convention | {' | '.join(measured['declines'])} |",
        f"|---|{'---|' * len(measured['declines'])}",
        *(
            f"| {escape(probe)} | "
            + " | ".join("declines" if probe in d else "runs it" for d in measured["declines"].values())
            + " |"
            for probe in c.PROBES
        ),
        "",
        "# Measured",
        "",
        f"`{measured['command']}`, float64 on the CPU, with "
        + ", ".join(f"{k} {v}" for k, v in measured["versions"].items())
        + ". Numbers are relative differences. Run it again to see them on your versions.",
        "",
    ]
    for listing in c.listings(measured):
        out += [f"## {listing.title}", "", f"| {' | '.join(listing.columns)} |"]
        out.append("|" + "".join("---:|" if col in c.NUMERIC else "---|" for col in listing.columns))
        out += [f"| {' | '.join(escape(cell) for cell in row)} |" for row in listing.rows]
        out += ["", listing.caption[0].upper() + listing.caption[1:] + ".", ""]
    out += [
        "# Where the conventions come from",
        "",
        "- The libraries: torch `torch/optim/{sgd,rmsprop,adam,adamw,adagrad}.py` and",
        "  `torch/nn/utils/clip_grad.py`; Optax `optax/_src/{alias,transform}.py`; Keras",
        "  `keras/src/optimizers/`.",
        "- The papers and notes: Kingma & Ba 2015, Algorithm 1 and the end of §2 (ε̂); Loshchilov &",
        "  Hutter 2019, Algorithm 2; Sutskever et al. 2013, eqs. 1–4; Nielsen, *Neural Networks and",
        "  Deep Learning* ch. 3, eqs. 107–108; Hinton's lecture 6e; CS231n `optim.py`.",
        "- Users who hit the differences:",
        *(f"  - {who}: {what}." for who, what in REPORTS),
        "  - jax-ml/jax #23646 is cited with these in the project's design notes; not summarised here.",
        "- How others test optimizers: tinygrad against torch.optim over 1–10 steps (atol",
        "  1e-6…2e-3); Keras against 4-digit golden values over 5 steps; Optax by convergence on a",
        "  parabola and Rosenbrock; AlgoPerf JAX against PyTorch over 10 SGD steps at rtol 5e-3.",
        "  None checks every step against a hand-written reference in float64, nor measures the",
        "  frameworks' defaults against each other, as the convention matrix above does.",
        "",
    ]
    return out


def main():
    try:
        pages = {PAGE: render(), OPT_PAGE: render_optimizers()}
    except TagError as exc:
        print(f"docs/generate.py: error: {exc}", file=sys.stderr)
        return 2
    for page, text in pages.items():
        page.write_text(text)
        print(f"wrote {page.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
