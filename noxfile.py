"""nox sessions. Every install goes through constraints.txt (torch pinned to the local CPU wheel).

nox -s reference    NumPy + test tools only: proves the reference and harness need no framework
nox -s torch        NumPy + torch (no jax): torch ports against the reference
nox -s jax          NumPy + jax, flax, optax (no torch): JAX ports and the Flax template
nox -s tests        everything installed: the README's test command, then the slow tests
nox -s conformance  the conformance matrix alone (all shipped implementations)
nox -s lint         ruff check and ruff format --check (versions from constraints.txt)
nox -s typecheck    mypy on conformance/ and the three implementation folders
nox -s wheel        build the wheel, install it outside the repository, run check and the suite from it
nox -s docs         regenerate the generated pages, then build the documentation site into site/ (strict)
nox -s browser      the built site in headless Chromium (Debian's chromium): every page, maths, tabs, search
nox -s bench        the benchmarks (bench/README.md)
"""

import nox

nox.options.sessions = ["reference", "torch", "jax", "lint", "typecheck"]
nox.options.default_venv_backend = "venv"

CONSTRAINTS = ("-c", "constraints.txt")


def install(session, extras):
    session.install(*CONSTRAINTS, "-e", f".[{extras}]")


def assert_absent(session, *modules):
    """Fail the session if a framework that must not be there is importable."""
    check = "; ".join(f"assert importlib.util.find_spec({m!r}) is None, '{m} is importable'" for m in modules)
    session.run("python", "-c", f"import importlib.util; {check}")


@nox.session
def reference(session):
    install(session, "test")
    assert_absent(session, "torch", "jax")
    session.run("python", "-m", "pytest", "-n", "auto", *session.posargs)


@nox.session
def torch(session):
    install(session, "torch,test")
    assert_absent(session, "jax")
    session.run("python", "-m", "pytest", "-n", "auto", *session.posargs)


@nox.session
def jax(session):
    install(session, "jax,flax,test")
    assert_absent(session, "torch")
    session.run("python", "-m", "pytest", "-n", "auto", *session.posargs)


@nox.session
def tests(session):
    install(session, "all,test,notebook")
    session.run("python", "-m", "pytest", "-n", "auto", *session.posargs)
    session.run("python", "-m", "pytest", "-n", "auto", "-m", "slow", *session.posargs)


@nox.session
def conformance(session):
    install(session, "all,test")
    session.run("python", "-m", "pytest", "-n", "auto", "conformance/suite", *session.posargs)


@nox.session
def lint(session):
    session.install(*CONSTRAINTS, "ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session):
    install(session, "all,lint")
    session.run("mypy")


@nox.session
def wheel(session):
    session.install(*CONSTRAINTS, "build")
    session.run("bash", ".ci/wheel", external=True)


@nox.session
def docs(session):
    # everything: the build executes the teaching notebook, which trains every implementation
    install(session, "all,notebook,docs")
    session.run("python", "docs/generate.py")
    session.run("python", "docs/site/pages.py")
    # mkdocs-material's notice of its end of life (2027) is printed on every build: said once, here
    session.run("mkdocs", "build", "--strict", env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session
def browser(session):
    install(session, "test,docs")
    session.run("python", "-m", "pytest", "-m", "browser", "tests/browser", *session.posargs)


@nox.session
def bench(session):
    install(session, "all")
    session.run("python", "bench/run.py", *session.posargs)
