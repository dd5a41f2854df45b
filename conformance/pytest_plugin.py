"""pytest plugin (registered through the ``pytest11`` entry point): ``--impl`` selects what the
conformance suite checks, e.g. ``pytest --pyargs conformance.suite --impl=my_net.py:Network``.
Without ``--impl`` the suite checks every shipped implementation whose framework is installed.
"""


def pytest_addoption(parser):
    group = parser.getgroup("conformance", "backprop conformance suite")
    group.addoption("--impl", action="append", default=[], metavar="TARGET",
                    help="implementation to check: a shipped name (reference, torch.manual, ...), "
                         "PATH.py:ATTR, PATH.py or module:attr; repeatable. Default: all shipped.")
