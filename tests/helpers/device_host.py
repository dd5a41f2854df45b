"""Stand-ins for jax_impl.sharded.Sharded that the device host (conformance/targets/device_host.py) runs in
its child process, for tests/ports/test_distributed.py: the child imports them by name
(``tests.helpers.device_host:FaultySharded``)."""

import os
import time


class FaultySharded:
    """Stands in for jax_impl.sharded.Sharded in the device host: raises in ``gradients``, hangs in
    ``train``."""

    def __init__(self, workers):
        self.workers = workers

    def gradients(self, spec, params, x, y):
        raise RuntimeError("deliberate failure in the device host")

    def train(self, spec, params, x, y, *, lr, batches):
        time.sleep(3600)


class DyingSharded:
    """Stands in for Sharded in the device host, and kills the host as it starts."""

    def __init__(self, workers):
        os._exit(3)
