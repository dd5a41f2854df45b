"""The harness's import rules, read from the source with ``ast`` (module-level and function-level imports
alike, ``if TYPE_CHECKING:`` ones included; ``from pkg import name`` is an edge to ``pkg.name`` when that
is a module, else to ``pkg``; an edge to one of the importing module's own parent packages is left out,
as Python imports those first anyway):

(a) no import cycle among conformance's modules;
(b) the core (CORE below) imports nothing from conformance.cli, conformance.diagnosis or
    conformance.training, directly or through other modules;
(c) nothing outside conformance/cli/ imports conformance.cli (in conformance/, bench/, docs/ and
    tests/ other than tests/cli/), but conformance/__main__.py, which calls its ``main``.

Each rule's checking function is also fed a small synthetic graph that breaks it, so that each rule
can be seen to fail.
"""

import ast
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "conformance"
CORE = tuple(
    f"{PACKAGE}.{name}"
    for name in (
        "spec",
        "problems",
        "calls",
        "checks",
        "compare",
        "tolerances",
        "golden",
        "selfcheck",
        "coverage",
        "contract",
    )
)
ABOVE_THE_CORE = (f"{PACKAGE}.cli", f"{PACKAGE}.diagnosis", f"{PACKAGE}.training")
CLI = f"{PACKAGE}.cli"
MAY_IMPORT_THE_CLI = ("conformance/__main__.py",)  # calls conformance.cli:main, the entry point


def module_name(path, root=ROOT):
    """conformance/targets/registry.py -> conformance.targets.registry; a package's __init__.py -> it."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root=ROOT, package=PACKAGE):
    """{dotted name: path} of every module of ``package`` under ``root``."""
    return {module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}


def within(name, prefix):
    """``name`` is the module ``prefix`` or one inside it."""
    return name == prefix or name.startswith(prefix + ".")


def imported(source, known, importer="", is_package=False):
    """The modules of ``known`` (dotted names) that ``source`` imports, anywhere in it: ``import a.b``
    is an edge to a.b; ``from a import b`` to a.b if that is a known module, else to a (relative
    imports resolved from ``importer``, a package if ``is_package``). A name outside ``known`` counts
    as its nearest known parent; none, no edge. Edges to the importer itself and to its own parent
    packages are left out."""
    found = set()

    def add(name):
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and not within(importer, name):
            found.add(name)

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # from . import x, from ..y import z
                anchor = importer.split(".")[: None if is_package else -1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return found


def graph(root=ROOT, package=PACKAGE):
    """{module: {modules of the package it imports}} for every module of the package."""
    known = modules(root, package)
    return {
        name: imported(path.read_text(), known, name, is_package=path.name == "__init__.py")
        for name, path in known.items()
    }


def cycles(edges):
    """Every import cycle of ``edges`` ({module: {modules}}): for each strongly connected set of two
    or more modules (or a module that imports itself), one path a -> b -> ... -> a through it."""
    index, low, stack, found = {}, {}, [], []

    def connect(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while not component or w != v:
                w = stack.pop()
                component.add(w)
            if len(component) > 1 or v in edges.get(v, ()):
                found.append(path_through(edges, component))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return found


def path_through(edges, component):
    """The shortest cycle start -> ... -> start inside ``component``, from its first module."""
    start = min(component)
    previous, frontier = {start: None}, [start]
    while frontier:  # breadth first, until an edge leads back to start
        nxt = []
        for v in frontier:
            for w in sorted(edges.get(v, ())):
                if w == start:
                    chain = [v]
                    while previous[chain[-1]] is not None:
                        chain.append(previous[chain[-1]])
                    return [*reversed(chain), start]
                if w in component and w not in previous:
                    previous[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"{sorted(component)} is not strongly connected")


def reachable(edges, start):
    """{module: the import chain from ``start`` to it} for every module ``start`` imports, directly or not."""
    chains, frontier = {start: [start]}, [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(edges.get(v, ())):
                if w not in chains:
                    chains[w] = [*chains[v], w]
                    nxt.append(w)
        frontier = nxt
    del chains[start]
    return chains


def forbidden(edges, sources, banned):
    """[import chain] from each module of ``sources`` to a module within any of ``banned``."""
    return [
        chain
        for source in sources
        for target, chain in reachable(edges, source).items()
        if any(within(target, b) for b in banned)
    ]


def cli_importers(files, known, allowed=MAY_IMPORT_THE_CLI, root=ROOT):
    """[(file, imported module)] for each of ``files`` that imports conformance.cli or a module in it."""
    found = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        if rel in allowed:
            continue
        inside = rel.startswith(f"{PACKAGE}/")
        importer = module_name(path, root) if inside else ""
        edges = imported(path.read_text(), known, importer, is_package=path.name == "__init__.py")
        found += [(rel, m) for m in sorted(edges) if within(m, CLI)]
    return found


# rule (c) reads every .py file of these folders, but those in the second (None: no exception)
READ_FOR_THE_CLI = (
    ("conformance", "conformance/cli"),
    ("bench", None),
    ("docs", None),
    ("tests", "tests/cli"),
)


def outside_the_cli(root=ROOT):
    """The .py files rule (c) reads (READ_FOR_THE_CLI)."""
    files = []
    for folder, but in READ_FOR_THE_CLI:
        files += [
            p
            for p in sorted((root / folder).rglob("*.py"))
            if but is None or not p.relative_to(root).as_posix().startswith(but + "/")
        ]
    return files


# --- the rules, on the code as it is ----------------------------------------------------------------


def test_no_import_cycle_among_conformance_modules():
    found = cycles(graph())
    assert not found, "import cycles among conformance's modules:\n  " + "\n  ".join(
        " -> ".join(cycle) for cycle in found
    )


def test_the_core_imports_nothing_from_cli_diagnosis_or_training():
    edges = graph()
    assert set(CORE) <= set(edges), f"core modules missing: {sorted(set(CORE) - set(edges))}"
    found = forbidden(edges, CORE, ABOVE_THE_CORE)
    assert not found, "the core imports what is built on it:\n  " + "\n  ".join(" -> ".join(c) for c in found)


def test_only_the_cli_and_the_entry_point_import_the_cli():
    files = outside_the_cli()
    assert len(files) > 50 and any(p.name == "test_layout.py" for p in files)  # it reads what it should
    found = cli_importers(files, modules())
    assert not found, "conformance.cli imported outside conformance/cli/ and tests/cli/:\n  " + "\n  ".join(
        f"{file}: imports {module}" for file, module in found
    )


# --- each rule can fail: synthetic graphs and files that break it -----------------------------------


def test_a_cycle_is_reported_with_its_modules():
    edges = {"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": {"p.a", "p.d"}, "p.d": set(), "p.e": {"p.a"}}
    assert cycles(edges) == [["p.a", "p.b", "p.c", "p.a"]]
    assert cycles({"p.x": {"p.x"}, "p.y": {"p.x"}}) == [["p.x", "p.x"]]
    two = cycles({"p.a": {"p.b"}, "p.b": {"p.a"}, "p.c": {"p.d"}, "p.d": {"p.c", "p.a"}})
    assert sorted(two) == [["p.a", "p.b", "p.a"], ["p.c", "p.d", "p.c"]]
    assert cycles({"p.a": {"p.b"}, "p.b": {"p.c"}, "p.c": set()}) == []


def test_a_core_module_that_reaches_the_diagnosis_is_reported():
    edges = {
        "conformance.checks": {"conformance.compare", "conformance.helper"},
        "conformance.compare": set(),
        "conformance.helper": {"conformance.diagnosis.diagnose"},
        "conformance.diagnosis.diagnose": {"conformance.checks"},
        "conformance.selfcheck": {"conformance.training"},
        "conformance.cli.report": {"conformance.checks"},  # above the core: may import it
    }
    assert forbidden(edges, CORE, ABOVE_THE_CORE) == [
        ["conformance.checks", "conformance.helper", "conformance.diagnosis.diagnose"],
        ["conformance.selfcheck", "conformance.training"],
    ]
    assert forbidden({"conformance.spec": {"conformance.diagnostics"}}, CORE, ABOVE_THE_CORE) == []


def test_a_cli_import_outside_the_cli_is_reported(tmp_path):
    files = {
        "conformance/__init__.py": "",
        "conformance/__main__.py": "from conformance.cli import main\n",  # the entry point: allowed
        "conformance/cli/__init__.py": "from conformance.cli.report import write\n",
        "conformance/cli/report.py": "from conformance import __version__\n",
        "conformance/matrix.py": "def f():\n    from conformance.cli import report\n",
        "tests/harness/test_x.py": "from conformance import cli\n",
        "tests/cli/test_y.py": "import conformance.cli\n",  # tests/cli: allowed
        "bench/b.py": "import conformance.cli.report as r\n",
        "docs/d.py": "import conformance\nfrom conformance import matrix\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    found = cli_importers(outside_the_cli(tmp_path), modules(tmp_path), root=tmp_path)
    assert found == [
        ("conformance/matrix.py", "conformance.cli.report"),
        ("bench/b.py", "conformance.cli.report"),
        ("tests/harness/test_x.py", "conformance.cli"),
    ]


def test_edges_follow_pythons_import_semantics():
    """``from pkg import name``: pkg.name when that is a module, else pkg; relative imports resolved;
    function-level imports count; the importer's own parent packages do not."""
    known = {
        "conformance",
        "conformance.calls",
        "conformance.cli",
        "conformance.cli.report",
        "conformance.targets",
        "conformance.targets.registry",
        "conformance.targets.resolve",
    }
    source = textwrap.dedent(
        """
        from conformance import CATALOGUE, calls  # conformance: a parent; calls: a module
        import conformance.targets  # a parent
        from . import resolve
        from .. import calls as again


        def late():
            from conformance.cli import main  # not a module: the package
            import conformance.cli.report.SCHEMA  # no such module: its nearest known parent
        """
    )
    assert imported(source, known, "conformance.targets.registry") == {
        "conformance.calls",
        "conformance.cli",
        "conformance.cli.report",
        "conformance.targets.resolve",
    }
    assert imported("from . import registry\n", known, "conformance.targets", is_package=True) == {
        "conformance.targets.registry"
    }
    assert imported("from . import cli\n", known, "conformance", is_package=True) == {"conformance.cli"}
