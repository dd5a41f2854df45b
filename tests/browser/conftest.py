"""The browser tests of the built site: their own CI step (`nox -s browser`, after `nox -s docs`),
never part of the test command. They are collected only when ``-m`` names the ``browser`` marker:

    python -m pytest -m browser tests/browser
"""


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "browser: drives headless Chromium through the built site/ (nox -s browser; run -m browser)",
    )


def pytest_ignore_collect(collection_path, config):
    return "browser" not in (config.getoption("markexpr") or "")
