"""Generate docs/rosetta.md from the source: each equation's tagged lines in every implementation.

A line is tagged by a trailing comment that starts with the tag, e.g. ``# BP2 (m, n_l) = ...``.
Consecutive lines with the same tag form one block. A tag that a column needs but cannot find,
or that appears in two separate places of one column's files, is an error: the page can never
silently show the wrong line. Run ``python docs/generate.py`` (or ``nox -s docs``); the test
``tests/e2e/test_docs.py`` fails when the committed page is stale.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from a checkout: the registry is read from it

from conformance.targets.registry import RECORDS  # noqa: E402

PAGE = ROOT / "docs" / "rosetta.md"
# BP1..BP4, BP-name, and BP2-conv etc.: a suffixed tag is its own tag, never read as the bare BP2
TAG = re.compile(r"#\s*(BP(?:[1-4](?:-[A-Za-z]+)?|-[A-Za-z]+))(?![\w-])")

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


class TagError(ValueError):
    pass


def blocks(root, path):
    """tag -> list of blocks (each a list of stripped source lines) in one file."""
    found, last = {}, {}
    for number, line in enumerate((root / path).read_text().splitlines(), start=1):
        code, _, comment = line.partition("  #")
        for tag in TAG.findall("#" + comment) if comment else []:
            if last.get(tag) == number - 1:
                found[tag][-1].append(code.strip())
            else:
                found.setdefault(tag, []).append([code.strip()])
            last[tag] = number
    return found


def lookup(root, column, tag):
    missing = [path for path in COLUMNS[column] if not (root / path).is_file()]
    if missing:
        raise TagError(f"{column}: {', '.join(missing)} does not exist")
    hits = [(path, block) for path in COLUMNS[column] for block in blocks(root, path).get(tag, [])]
    if not hits:
        raise TagError(f"{column}: no line tagged '# {tag}' in {', '.join(COLUMNS[column])}")
    if len(hits) > 1:
        where = ", ".join(sorted({p for p, _ in hits}))
        raise TagError(f"{column}: tag '# {tag}' appears in {len(hits)} places ({where})")
    return hits[0]


def render(root=ROOT):
    out = [
        "<!-- Generated by docs/generate.py from the # BP… tags in the source. Do not edit. -->",
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
    out += [(root / "docs" / "crosswalk.md").read_text().rstrip(), ""]
    return "\n".join(out)


def sections(root, equations):
    """One '## title' section per equation: its LaTeX, then a row per column."""
    out = []
    for title, latex, hand_tags, auto_tags, note in equations:
        out += [f"## {title}", "", f"$${latex}$$", "", "| implementation | code | file |", "|---|---|---|"]
        for column in COLUMNS:
            tags = auto_tags if column in AUTODIFF else hand_tags
            swap = SUBSTITUTE.get(column, {})
            for t in dict.fromkeys(swap.get(t, t) for t in tags):  # a substituted tag shows once
                path, lines = lookup(root, column, t)
                code = "<br>".join(f"<code>{escape(line)}</code>" for line in lines)
                out.append(f"| {column} | {code} | `{path}` |")
        if note:
            out += ["", note]
        out.append("")
    return out


def escape(code):
    return code.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "&#124;")


def main():
    try:
        PAGE.write_text(render())
    except TagError as exc:
        print(f"docs/generate.py: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
