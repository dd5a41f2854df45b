"""docs/rosetta.md and docs/optimizers.md are generated from the tagged source lines: stale pages,
edited tagged lines, missing and duplicated tags all fail."""

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
    for path in {p for files in generate.COLUMNS.values() for p in files} | {"docs/crosswalk.md"}:
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
    for title, *_ in generate.EQUATIONS + generate.CONV_EQUATIONS:
        section = page.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
        for column in generate.COLUMNS:
            assert f"| {column} | <code>" in section, f"{title}: no {column} line"


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
