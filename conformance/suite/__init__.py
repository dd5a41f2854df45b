"""The conformance matrix as a pytest suite, shipped in the package.

Run it on any implementation: ``pytest --pyargs conformance.suite --impl=PATH.py:ATTR``.
"""
