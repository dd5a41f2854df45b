"""The built site (site/, from `nox -s docs`) in a real browser: Debian's headless Chromium driven by
Playwright (never a downloaded browser), the site served from localhost and opened from the file
system, with every request outside the site refused and recorded.

Every page: no console error, no uncaught exception, no failed or refused request, every image
loaded, every formula typeset. The equation pages (equations, conv, recurrent): one tab per
implementation, and clicking the JAX tab of BP2 shows JAX's line. Search finds the equation page.
Screenshots of three pages go to $SITE_SCREENSHOTS (default site-screenshots/) to be looked at.
"""

import functools
import http.server
import os
import shutil
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the browser tests need playwright (nox -s browser)"
)

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "site"
SHOTS = Path(os.environ.get("SITE_SCREENSHOTS", ROOT / "site-screenshots"))
sys.path[:0] = [str(ROOT / "docs"), str(ROOT / "docs" / "site")]
import generate  # noqa: E402  (the tagged lines the equation pages must show)

pytestmark = pytest.mark.browser
EQUATION_PAGES = {
    "equations.html": generate.EQUATIONS,
    "conv.html": generate.CONV_EQUATIONS,
    "recurrent.html": generate.REC_EQUATIONS,
}
SCREENSHOTS = {"equations.html": "equations-bp2-jax-tab", "teaching.html": "notebook", "bench.html": "bench"}


@pytest.fixture(scope="module")
def server():
    if not (SITE / "index.html").is_file():
        pytest.fail("no site/index.html: build the site first (nox -s docs)")
    handler = functools.partial(Quiet, directory=str(SITE))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
        httpd.shutdown()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if chromium is None:
        pytest.fail("no chromium: apt-get install -y chromium (or set CHROMIUM to its path)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-background-networking"]
        )
        yield b
        b.close()


class Visit:
    """One page in a fresh context, recording everything that went wrong while it loaded."""

    def __init__(self, browser, origin):
        self.context = browser.new_context(viewport={"width": 1280, "height": 1000})
        self.page = self.context.new_page()
        self.problems = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"uncaught: {e}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url} {r.failure}"))
        self.page.on(
            "response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}")
        )

        def route(route):
            url = route.request.url
            if url.startswith((f"{origin}/", "data:", "blob:")):
                return route.continue_()
            self.problems.append(f"outside the site: {route.request.url}")
            return route.abort()

        self.page.route("**/*", route)

    def open(self, url):
        self.page.goto(url, wait_until="load")
        self.page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        self.page.evaluate("() => MathJax.startup.promise")  # typesetting done
        self.page.wait_for_load_state("networkidle")
        return self.page

    def close(self):
        self.context.close()


@pytest.fixture
def visit(browser, server):
    visits = []

    def open_(path, origin=server):
        v = Visit(browser, origin)
        visits.append(v)
        v.open(f"{origin}/{path}")
        return v

    yield open_
    for v in visits:
        v.close()


def pages():
    return sorted(p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html")) if SITE.is_dir() else []


def test_the_site_has_every_page():
    assert {"index.html", "teaching.html", "check.html", "api.html", "bench.html"} | set(
        EQUATION_PAGES
    ) <= set(pages())


@pytest.mark.parametrize("path", pages())
def test_page_loads_clean(visit, path):
    v = visit(path)
    images = v.page.evaluate(
        "() => [...document.images].map(i => [i.currentSrc.slice(0, 80), i.complete && i.naturalWidth > 0])"
    )
    broken = [src for src, loaded in images if not loaded]
    math = v.page.evaluate(
        """() => [...document.querySelectorAll('.arithmatex')].map(
             e => e.querySelector('mjx-container svg') !== null && !e.querySelector('[data-mjx-error]'))"""
    )
    assert v.problems == [] and broken == [] and all(math), (v.problems, broken, math.count(False))
    if path == "bench.html":
        SHOTS.mkdir(parents=True, exist_ok=True)
        v.page.screenshot(path=SHOTS / f"{SCREENSHOTS[path]}.png")


@pytest.mark.parametrize("path", sorted(EQUATION_PAGES))
def test_equation_pages_render_every_formula_and_tab(visit, path):
    equations = EQUATION_PAGES[path]
    page = visit(path).page
    # one display formula per equation, each typeset to SVG
    rendered = page.locator("div.arithmatex mjx-container[display='true'] svg").count()
    assert rendered == len(equations), f"{rendered} formulas typeset, {len(equations)} equations"
    # one tab set per equation, one tab per implementation, in the generator's order
    labels = page.locator(".tabbed-set").first.locator(".tabbed-labels > label").all_inner_texts()
    assert labels == list(generate.COLUMNS)
    assert page.locator(".tabbed-set").count() == len(equations)


def test_jax_tab_on_bp2_shows_jax_line(visit):
    page = visit("equations.html").page
    _, (numpy_line,) = generate.lookup(ROOT, "NumPy reference", "BP2")
    _, (jax_line,) = generate.lookup(ROOT, "JAX manual", "BP2")
    assert numpy_line != jax_line  # the JAX port indexes z, the reference its activations
    section = page.locator("h2#bp2-error-backwards ~ .tabbed-set").first
    blocks = section.locator(".tabbed-content > .tabbed-block")
    numpy, jax = (blocks.nth(list(generate.COLUMNS).index(c)) for c in ("NumPy reference", "JAX manual"))
    assert numpy.is_visible() and not jax.is_visible()
    assert numpy.locator("code").inner_text().strip() == numpy_line
    section.locator(".tabbed-labels > label", has_text="JAX manual").click()
    assert jax.is_visible() and not numpy.is_visible()
    assert jax.locator("code").inner_text().strip() == jax_line
    assert jax.locator(".filename").inner_text() == "jax_impl/manual.py"
    jax.scroll_into_view_if_needed()
    page.evaluate("() => window.scrollBy(0, -250)")  # the BP2 heading and formula in view too
    # the tab's underline slides over with a CSS transition: shoot once it (and any other) has ended
    page.wait_for_function("() => document.getAnimations().every(a => a.playState !== 'running')")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{SCREENSHOTS['equations.html']}.png")


def test_the_notebook_shows_its_outputs(visit):
    """Executed by the build: its equations typeset, its plots drawn, the planted bug diagnosed."""
    page = visit("teaching.html").page
    assert page.locator(".jp-RenderedMarkdown mjx-container svg").count() >= 4  # BP1–BP4, at least
    plots = page.evaluate("() => [...document.images].filter(i => i.src.startsWith('data:image/png')).length")
    assert plots >= 1
    assert "c = 10 = m" in "\n".join(page.locator(".jp-OutputArea").all_inner_texts())
    page.locator("img[src^='data:image/png']").first.scroll_into_view_if_needed()  # the training curves
    page.evaluate("() => window.scrollBy(0, -300)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{SCREENSHOTS['teaching.html']}.png")


def search(page, query):
    box = page.locator("input.md-search__input")
    box.click()
    box.press_sequentially(query)  # typed: the search reacts to keys, not to a filled value
    hits = page.locator("a.md-search-result__link")
    hits.first.wait_for(timeout=15_000)
    hrefs = hits.evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )  # all at once: the list grows
    return [urlparse(h).path.rsplit("/", 1)[-1] for h in hrefs]


def test_search_finds_the_equation_page(visit):
    v = visit("index.html")
    pages = search(v.page, "BP3")
    assert pages[0] == "equations.html", pages  # the best hit: the page, then its BP3 section
    assert v.problems == []


def test_the_build_flags_what_would_load_from_outside():
    """docs/site/hooks.py's last check (what the browser would fetch), on the usual suspects."""
    import hooks  # docs/site/hooks.py (needs mkdocs: the docs extra)

    outside = [
        '<script src="https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/latest.js"> </script>',
        '<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">',
        "<img src='//example.org/plot.png'>",
        "<style>@font-face { src: url(https://fonts.gstatic.com/x.woff2) }</style>",
        'const mermaid = (await import("https://cdnjs.cloudflare.com/ajax/libs/mermaid.mjs")).default;',
    ]
    inside = [
        '<a href="https://github.com/">a link</a>',
        '<script src="javascripts/mathjax/tex-svg-full.js">',
    ]
    assert [bool(hooks.OUTSIDE.search(h)) for h in outside + inside] == [True] * len(outside) + [False] * 2


def test_from_the_file_system(browser):
    """Opened as files, as from a USB stick: formulas typeset and search works (the offline plugin's
    inlined index, the vendored iframe-worker), with nothing fetched from outside."""
    v = Visit(browser, SITE.as_uri())
    try:
        page = v.open((SITE / "equations.html").as_uri())
        assert page.locator("div.arithmatex mjx-container svg").count() == len(generate.EQUATIONS)
        assert search(page, "BP3")[0] == "equations.html"
        assert v.problems == []
    finally:
        v.close()
