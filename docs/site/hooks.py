"""MkDocs hooks of the documentation site (mkdocs.yml: ``hooks``): what makes it work offline, the
framework tabs, and the benchmark plots.

- MathJax comes from the django-static-mathjax wheel (MathJax 3.2.2, Apache-2.0; a pure data package,
  no Django needed): its one-file SVG build is copied into the site, so equations render with no
  fonts or scripts fetched (SVG output needs no web fonts).
- The offline plugin of mkdocs-material adds a script from a CDN that lets search run from file://
  (iframe-worker, MIT): docs/javascripts/iframe-worker.js is that script, vendored.
- nbconvert writes a MathJax 2 loader and a Mermaid loader from CDNs into the notebook page: both are
  cut (the site's MathJax typesets the notebook too).
- Every table shaped like docs/generate.py's becomes one tab per implementation (docs/site/tabs.py),
  on every page such tables appear on (equations, conv, recurrent, optimizers, rosetta).
- bench/results*.json are drawn as bar charts (bench-plots/NAME.png) for docs/bench.md.
- griffe (mkdocstrings) reads ``__all__`` statically and cannot expand the ``*BUGS`` in
  conformance.mutants's (a name list built at import): that one warning is dropped; the API page
  documents ``conformance`` itself, whose ``__all__`` is plain strings.
- After the build, any reference to a script, style, font or image outside the site is a warning,
  which the strict build turns into a failure.
"""

import importlib.util
import logging
import re
import sys
from pathlib import Path

from mkdocs.plugins import get_plugin_logger
from mkdocs.structure.files import File

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tabs import tabs  # docs/site/tabs.py

log = get_plugin_logger("site")
logging.getLogger("mkdocs.plugins.griffe").addFilter(
    lambda record: "Unsupported item in conformance.mutants.__all__" not in record.getMessage()
)
ROOT = Path(__file__).resolve().parents[2]
MATHJAX = "javascripts/mathjax/tex-svg-full.js"  # where mkdocs.yml's extra_javascript expects it
SHIM = "javascripts/iframe-worker.js"

# what nbconvert's lab template adds to a notebook page: MathJax 2 and Mermaid from CDNs
NOTEBOOK_CDN = [
    re.compile(r"<!-- Load mathjax -->.*?<!-- End of mathjax configuration -->", re.S),
    re.compile(
        r'<script type="module">\s*document\.addEventListener\("DOMContentLoaded", async \(\) => \{'
        r'\s*const diagrams = document\.querySelectorAll\("\.jp-Mermaid.*?</script>',
        re.S,
    ),
]
# a reference that makes the browser fetch from outside the site
OUTSIDE = re.compile(
    r"""<(?:script|img|iframe|source|audio|video)\b[^>]*\bsrc=["']?(?:https?:)?//"""
    r"""|<link\b[^>]*\bhref=["']?(?:https?:)?//[^>]*>"""
    r"""|url\(\s*["']?(?:https?:)?//|@import\s+["'](?:https?:)?//|import\(\s*["'](?:https?:)?//""",
    re.I,
)


def mathjax_source():
    spec = importlib.util.find_spec("mathjax")  # the django-static-mathjax wheel (the docs extra)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("MathJax not found: pip install -c constraints.txt -e '.[docs]'")
    return (
        Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" / "es5" / "tex-svg-full.js"
    )


def on_config(config):
    # the offline plugin's iframe-worker from a CDN -> the vendored copy
    polyfills = config.extra.get("polyfills", [])
    config.extra["polyfills"] = [SHIM if "iframe-worker" in str(p) else p for p in polyfills]
    return config


def on_files(files, config):
    # docs/site/plots.py, by its path (mkdocs's plugins reset sys.path after the hooks load); it
    # needs matplotlib, which only the build has
    spec = importlib.util.spec_from_file_location("site_plots", Path(__file__).with_name("plots.py"))
    plots = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plots)
    files.append(File.generated(config, MATHJAX, abs_src_path=str(mathjax_source())))
    for name, png in plots.bench_plots(ROOT / "bench"):
        files.append(File.generated(config, f"bench-plots/{name}.png", content=png))
    return files


def on_page_markdown(markdown, page, config, files):
    return tabs(markdown)


def on_page_content(content, page, config, files):
    if page.file.src_uri.endswith(".ipynb"):
        for pattern in NOTEBOOK_CDN:
            content = pattern.sub("", content)
    return content


def on_post_build(config):
    for path in sorted(Path(config.site_dir).rglob("*")):
        if path.suffix in (".html", ".css"):
            for hit in OUTSIDE.finditer(path.read_text(encoding="utf-8")):
                log.warning(
                    f"{path.relative_to(config.site_dir)} loads from outside the site: {hit[0][:120]}"
                )
