"""docs/rosetta.md and docs/optimizers.md are generated from the tagged source lines: stale pages,
edited tagged lines, missing and duplicated tags all fail; the recurrent (# BPTT-…) tags are found
in each folder's recurrent.py, branch by branch and file by file."""

import importlib.util
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("generate", ROOT / "docs" / "generate.py")
generate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generate)


@pytest.fixture
def tree(tmp_path):
    """A copy of the files the generator reads, to edit freely."""
    for path in {p for files in generate.REC_COLUMNS.values() for p in files} | {"docs/crosswalk.md"}:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, tmp_path / path)
    return tmp_path


def edit(tree, path, old, new):
    text = (tree / path).read_text()
    assert text.count(old) == 1, f"{path}: expected one {old!r}"
    (tree / path).write_text(text.replace(old, new))


def test_committed_page_is_current():
    assert generate.PAGE.read_text() == generate.render(), (
        "docs/rosetta.md is stale: run `python docs/generate.py` (or `nox -s docs`)"
    )


def test_changing_a_tagged_line_makes_the_page_stale(tree):
    edit(
        tree,
        "torch_impl/manual.py",
        "delta = (delta @ W_next) * g_prime(activations[l])",
        "delta = (delta @ W_next.T) * g_prime(activations[l])",
    )
    page = generate.render(tree)
    assert page != generate.PAGE.read_text()
    assert "delta = (delta @ W_next.T) * g_prime(activations[l])" in page


def test_missing_tag_is_an_error(tree):
    edit(tree, "jax_impl/manual.py", "# BP3 (n_l,)", "# (n_l,)")
    with pytest.raises(generate.TagError, match=r"JAX manual: no line tagged '# BP3'"):
        generate.render(tree)


def test_duplicated_tag_is_an_error(tree):
    edit(tree, "reference/network.py", "        zs.append(z)\n", "        zs.append(z)  # BP4\n")
    with pytest.raises(generate.TagError, match=r"NumPy reference: tag '# BP4' appears in 2 places"):
        generate.render(tree)


def test_suffixed_tag_is_its_own_tag(tmp_path):
    """'# BP2-conv' is the tag BP2-conv, never the dense BP2: each is looked up on its own."""
    for path in {p for files in generate.COLUMNS.values() for p in files}:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("")
    conv_line = "dA = transposed_correlation(delta, K)"
    (tmp_path / "reference/conv.py").write_text(f"{conv_line}  # BP2-conv (m, C_{{l-1}}, H, W)\n")
    assert generate.blocks(tmp_path, "reference/conv.py") == {"BP2-conv": [[conv_line]]}
    assert generate.lookup(tmp_path, "NumPy reference", "BP2-conv") == ("reference/conv.py", [conv_line])
    with pytest.raises(generate.TagError, match=r"NumPy reference: no line tagged '# BP2'"):
        generate.lookup(tmp_path, "NumPy reference", "BP2")
    (tmp_path / "reference/network.py").write_text("delta = (delta @ W_next) * g_prime(z)  # BP2 (m, n_l)\n")
    assert generate.lookup(tmp_path, "NumPy reference", "BP2") == (
        "reference/network.py",
        ["delta = (delta @ W_next) * g_prime(z)"],
    )


def test_every_equation_has_a_line_in_every_column():
    page = generate.PAGE.read_text()
    for title, *_ in generate.EQUATIONS + generate.CONV_EQUATIONS + generate.REC_EQUATIONS:
        section = page.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
        for column in generate.COLUMNS:
            assert f"| {column} | <code>" in section, f"{title}: no {column} line"


def empty_tree(tmp_path):
    """Every file the generator searches, empty: a test writes the lines it needs."""
    for path in {p for files in generate.REC_COLUMNS.values() for p in files}:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("")
    return tmp_path


def test_every_column_reads_its_folders_recurrent_module():
    """The registry lists no recurrent.py: the hand-written columns and JAX autodiff (which
    differentiates jax_impl/recurrent.py's scan) read it first; every other file stays searched."""
    for column, files in generate.COLUMNS.items():
        assert generate.REC_COLUMNS[column][len(generate.RECURRENT_FILES.get(column, ())) :] == files
    assert generate.REC_COLUMNS["JAX autodiff"][0] == "jax_impl/recurrent.py"
    assert not any("recurrent.py" in p for p in generate.REC_COLUMNS["PyTorch autograd"])


def test_changing_a_recurrent_line_makes_the_page_stale(tree):
    (path, lines), *_ = generate.found(ROOT, "PyTorch manual", "BPTT-delta")
    (line,) = [ln for ln in lines if "@ U" in ln]  # δ^l_{t+1} U^l, the path through time
    wrong = line.replace("@ U", "@ U.T")
    edit(tree, path, line, wrong)
    page = generate.render(tree)
    assert page != generate.PAGE.read_text()
    assert generate.escape(wrong) in page.split("## Error through the layers and through time\n", 1)[1]


def test_a_missing_recurrent_tag_is_an_error(tree):
    path = "jax_impl/recurrent.py"
    text = (tree / path).read_text()
    assert "# BPTT-dU" in text
    (tree / path).write_text(text.replace("# BPTT-dU", "# dU"))
    with pytest.raises(
        generate.TagError, match=r"JAX manual: no line tagged '# BPTT-dU' in jax_impl/recurrent.py"
    ):
        generate.render(tree)


def test_recurrent_tags_are_their_own_tags(tmp_path):
    """'# BPTT-delta-out' is never BPTT-delta, a BPTT tag is never a dense tag nor the reverse, and one
    comment may carry a dense and a recurrent tag."""
    tree = empty_tree(tmp_path)
    (tree / "reference/recurrent.py").write_text(
        "d_out = error(a, y)  # BPTT-delta-out (m, T, n_L)\n"
        "d = (above + d_next @ U) * g_prime(z)  # BPTT-delta δ^l_t\n"
        "C, grads = value_and_grad(cost)(model)  # BP-grad BPTT-grad\n"
    )
    assert generate.blocks(tree, "reference/recurrent.py", generate.BPTT_TAG) == {
        "BPTT-delta-out": [["d_out = error(a, y)"]],
        "BPTT-delta": [["d = (above + d_next @ U) * g_prime(z)"]],
        "BPTT-grad": [["C, grads = value_and_grad(cost)(model)"]],
    }
    assert generate.blocks(tree, "reference/recurrent.py") == {  # the dense pattern: BP-grad only
        "BP-grad": [["C, grads = value_and_grad(cost)(model)"]]
    }


def test_recurrent_branches_and_files_are_all_shown(tmp_path):
    """A recurrent tag's blocks in one file are joined by … in the file's order; a second file of
    the column that has it is a row of its own (torch.autograd's loop and torch.module's nn.RNN)."""
    tree = empty_tree(tmp_path)
    (tree / "torch_impl/autograd.py").write_text(
        "h = g(z)  # BPTT-h\nzs.append(z)\nout = g_out(z_out)  # BPTT-h (the output layer, say)\n"
    )
    (tree / "torch_impl/module.py").write_text("h, _ = rnn(h)  # BPTT-h\n")
    assert generate.found(tree, "PyTorch autograd", "BPTT-h") == [
        ("torch_impl/autograd.py", ["h = g(z)", "…", "out = g_out(z_out)"]),
        ("torch_impl/module.py", ["h, _ = rnn(h)"]),
    ]
    with pytest.raises(
        generate.TagError, match=r"PyTorch manual: no line tagged '# BPTT-h' in torch_impl/recurrent.py"
    ):
        generate.found(tree, "PyTorch manual", "BPTT-h")


def test_flax_shows_the_call_that_computes_what_it_has_no_line_for(tmp_path):
    """nnx.RNN computes z^l_t inside the cell: without a BPTT-z line the Flax row is its BPTT-h call;
    once the template tags a BPTT-z line, that line."""
    tree = empty_tree(tmp_path)
    flax = tree / "jax_impl/flax_module.py"
    flax.write_text("a = rnn(a, initial_carry=h_0)  # BPTT-h\nz = linear(a)  # BP-z\n")
    assert generate.found(tree, "Flax + Optax", "BPTT-z") == [
        ("jax_impl/flax_module.py", ["a = rnn(a, initial_carry=h_0)"])
    ]
    assert generate.found(tree, "Flax + Optax", "BPTT-out") == [
        ("jax_impl/flax_module.py", ["z = linear(a)"])
    ]
    flax.write_text(flax.read_text() + "z = cell(a, h)  # BPTT-z\n")
    assert generate.found(tree, "Flax + Optax", "BPTT-z") == [("jax_impl/flax_module.py", ["z = cell(a, h)"])]


def test_a_tag_on_a_statements_first_line_takes_all_of_it(tmp_path):
    """A formatter leaves a wrapped statement's comment after its opening bracket: the whole statement
    is the block; a tagged line that is only a comment adds no code."""
    tree = empty_tree(tmp_path)
    (tree / "jax_impl/flax_module.py").write_text(
        "triples = [  # BPTT-grad (W, U, b) read back\n"
        "    (c.W.T, c.U.T, c.b)\n"
        "    for c in cells\n"
        "]\n"
        "if cells:\n"
        "    # BPTT-grad through nnx.RNN's scan\n"
        "    C, grads = nnx.value_and_grad(cost)(model)  # BPTT-grad\n"
    )
    assert generate.found(tree, "Flax + Optax", "BPTT-grad") == [
        (
            "jax_impl/flax_module.py",
            [
                "triples = [",
                "(c.W.T, c.U.T, c.b)",
                "for c in cells",
                "]",
                "…",
                "C, grads = nnx.value_and_grad(cost)(model)",
            ],
        )
    ]


def test_committed_optimizers_page_is_current():
    """docs/optimizers.md: the # OPT-… lines as they are now, and the numbers of docs/optimizers.json
    (whether those are current is tests/cli/test_conventions.py's: it runs the frameworks)."""
    assert generate.OPT_PAGE.read_text() == generate.render_optimizers(), (
        "docs/optimizers.md is stale: run `python docs/generate.py` (or `nox -s docs`)"
    )


def test_changing_an_optimizer_line_makes_its_page_stale(tmp_path):
    for path in [p for files in generate.OPT_COLUMNS.values() for p in files] + [str(generate.MEASURED)]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, tmp_path / path)
    edit(
        tmp_path,
        "jax_impl/optimizers.py",
        "return -lr * m_hat / (jnp.sqrt(v_hat) + o.eps)",
        "return -lr * m_hat / jnp.sqrt(v_hat + o.eps)",
    )
    page = generate.render_optimizers(tmp_path)
    assert page != generate.OPT_PAGE.read_text()
    assert "return -lr * m_hat / jnp.sqrt(v_hat + o.eps)" in page
