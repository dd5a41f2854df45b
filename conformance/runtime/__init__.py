"""Process-wide settings the harness makes before a framework starts: which frameworks are installed
and how they are configured (environment.py), threads per worker (threads.py), XLA's compile flags
(xla.py)."""
