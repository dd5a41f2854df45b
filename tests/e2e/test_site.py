"""The site's generated pages (docs/site/pages.py) are current, show the tagged lines, and fail when
the source moves; the site's tabs show exactly generate.py's lines. The commands' real outputs take
seconds each, so checking those is a slow test. The built site itself is tested in a browser
(tests/browser/, its own CI step)."""

import html
import importlib.util
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pages = _load("site_pages", "docs/site/pages.py")
tabs = _load("site_tabs", "docs/site/tabs.py")
generate = pages.generate


def stale(run):
    return [p.name for p in pages.pages() if pages.render(p.read_text(), run=run) != p.read_text()]


def test_generated_regions_are_current():
    assert stale(run=False) == [], "stale: run `python docs/site/pages.py` (or `nox -s docs`)"


@pytest.mark.slow
def test_command_outputs_are_current():
    """The tutorial's outputs are the commands' real outputs, as they print them today."""
    assert stale(run=True) == [], "stale: run `python docs/site/pages.py` (or `nox -s docs`)"


def test_the_tutorial_shows_what_its_prose_explains():
    page = (ROOT / "docs" / "check.md").read_text()
    bp2, mean = page.split("<!-- generated: run ")[1:3]
    assert "W^{l+1} transposed in BP2" in bp2 and "self-consistency: FAIL" in bp2
    assert "c = 0.25 = 1/n_L" in mean and "self-consistency: PASS" in mean


def sections(text):
    """'## title' -> that section's text."""
    return dict(re.findall(r"^## (.+?)\n(.*?)(?=^## |\Z)", text, re.S | re.M))


@pytest.mark.parametrize(
    "name, page",
    [("EQUATIONS", "equations.md"), ("CONV_EQUATIONS", "conv.md"), ("REC_EQUATIONS", "recurrent.md")],
)
def test_each_equation_gets_a_tab_per_implementation_with_the_tables_lines(name, page):
    """On the site every equation has one tab per implementation, holding exactly its table's rows
    (the table is generate.sections' output: test_generated_regions_are_current)."""
    text = (ROOT / "docs" / page).read_text()
    tables, site = sections(text), sections(tabs.tabs(text))
    assert list(site) == [title for title, *_ in getattr(generate, name)]
    for title, body in site.items():
        rows = [r.split(" | ") for r in re.findall(r"^\| (.+) \|$", tables[title], re.M)[1:]]
        expected = [(c, p.strip("`"), [html.unescape(x) for x in re.findall("<code>(.*?)</code>", code)])
                    for c, code, p in rows]  # fmt: skip
        shown = []
        for column, tab in re.findall(r'^=== "(.+?)"\n(.*?)(?=^=== |\Z)', body, re.S | re.M):
            for path, code in re.findall(r'^    ```python title="(.+?)"\n(.*?)\n    ```$', tab, re.S | re.M):
                shown.append((column, path, [line.removeprefix("    ") for line in code.split("\n")]))
        assert shown == expected, title
        assert list(dict.fromkeys(c for c, *_ in shown)) == list(generate.COLUMNS), title


def test_a_changed_tagged_line_makes_the_page_stale(tmp_path):
    for path in {p for files in generate.COLUMNS.values() for p in files}:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, tmp_path / path)
    text = (ROOT / "docs" / "equations.md").read_text()
    source = (tmp_path / "jax_impl" / "manual.py").read_text()
    _, (line,) = generate.lookup(ROOT, "JAX manual", "BP2")
    assert source.count(line) == 1
    (tmp_path / "jax_impl" / "manual.py").write_text(source.replace(line, line.replace("W_next", "W_next.T")))
    new = pages.render(text, root=tmp_path)
    assert new != text and line.replace("W_next", "W_next.T") in new


def test_a_changed_recurrent_line_makes_the_recurrent_page_stale(tmp_path):
    for path in {p for files in generate.REC_COLUMNS.values() for p in files}:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / path, tmp_path / path)
    text = (ROOT / "docs" / "recurrent.md").read_text()
    (path, lines), *_ = generate.found(ROOT, "NumPy reference", "BPTT-dU")
    (line,) = [ln for ln in lines if ":-1]" in ln]  # δ^l_t against h^l_{t-1}
    source = (tmp_path / path).read_text()
    assert source.count(line) == 1
    wrong = line.replace("[:, :-1]", "[:, 1:]")  # h^l_t for h^l_{t-1}
    (tmp_path / path).write_text(source.replace(line, wrong))
    new = pages.render(text, root=tmp_path)
    assert new != text and generate.escape(wrong) in new


def test_regions_that_cannot_be_generated_are_errors(tmp_path):
    with pytest.raises(pages.RegionError, match="no line contains 'no such line'"):
        pages.render('<!-- generated: source README.md "no such line" -->\n<!-- end generated -->')
    with pytest.raises(pages.RegionError, match="unknown generated region 'nonsense'"):
        pages.render("<!-- generated: nonsense x -->\n<!-- end generated -->")
    with pytest.raises(pages.RegionError, match="only backprop-conformance commands"):
        pages.render("<!-- generated: run rm -rf x -->\n<!-- end generated -->")
    with pytest.raises(pages.RegionError, match="no heading '## Nowhere'"):
        pages.render("<!-- generated: readme ## Nowhere -->\n<!-- end generated -->")


def test_the_home_page_quickstart_is_the_readme_one():
    readme = (ROOT / "README.md").read_text().split("\n## Quickstart\n", 1)[1]
    block = re.search(r"^```bash\n(.*?)^```$", readme, re.S | re.M)[1]
    assert len(block.strip().split("\n")) == 2  # the two Quickstart commands
    assert block in (ROOT / "docs" / "index.md").read_text()


def test_every_page_is_in_the_site_nav():
    config = (ROOT / "mkdocs.yml").read_text()
    listed = set(re.findall(r"^\s+- [^:]+: (\S+\.(?:md|ipynb))$", config, re.M))
    on_disk = {p.name for p in (ROOT / "docs").iterdir() if p.suffix in (".md", ".ipynb")}
    assert on_disk - listed <= {"rosetta.md"}, "add the page to mkdocs.yml's nav (one line)"
    assert listed <= on_disk


def test_tables_with_pipes_and_markup_round_trip():
    table = [
        tabs.HEAD,
        "|---|---|---|",
        f"| A | <code>{generate.escape('x = a | b < c & d')}</code><br><code>y</code> | `a.py` |",
        "| B | <code>z</code> | `b.py` |",
        "| A | <code>w</code> | `c.py` |",
    ]
    assert tabs.tabs("\n".join(table)).split("\n") == [
        '=== "A"', "",
        '    ```python title="a.py"', "    x = a | b < c & d", "    y", "    ```", "",
        '    ```python title="c.py"', "    w", "    ```", "",
        '=== "B"', "",
        '    ```python title="b.py"', "    z", "    ```", "",
    ]  # fmt: skip
