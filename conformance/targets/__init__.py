"""What gets checked: the registry of shipped implementations (registry.py), loading a user's target
(target.py), the adapters that give every framework NumPy in and out (adapters.py), the host process
of a data-parallel JAX implementation (device_host.py) and the worker processes that keep a user's
code away from the harness (isolation.py). ``resolve.py`` is the one leaf they share.

Imports point down: the harness core (spec, problems, calls, checks, compare) never imports these.
"""
