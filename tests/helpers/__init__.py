"""Helpers the tests share (import them from here, never from a conftest.py)."""
