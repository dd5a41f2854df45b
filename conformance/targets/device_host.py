"""k JAX devices for a process that has fewer: a long-lived child process that has them.

``jax_impl.sharded`` computes on the devices JAX gives the process it runs in: on GPUs or TPUs the
real ones, on a CPU as many as ``XLA_FLAGS=--xla_force_host_platform_device_count=k`` asked for
when JAX started. The flag is read once, so a harness that already runs JAX with one CPU device
cannot grow more. It starts this child instead, with the flag set before JAX starts there, and the
child runs ``jax.sharded`` in-process behind the ordinary JAX adapter (adapters.Jax). Why the host
lives here, in the harness, and not in ``jax_impl``:

- the child exists only to give a CPU-only harness its devices; a program running on real devices
  never needs it, and ``jax_impl`` stays what it is elsewhere: pure functions of jax.Arrays;
- what crosses the pipe is NumPy, the harness's own boundary: the parent pickles the NumPy arrays it
  was handed, the child's adapter converts them to jax.Arrays and back (inside ``jax.enable_x64`` for
  float64), so no conversion happens anywhere but in ``conformance``.

The child says, as it starts, whether the hosted class declares ``supports_optimizer``; if it does,
the host declares it too and asks the child (optimizer problems are opt-in, calls.supports). Conv
specs go to the host as to any shipped port (``supports_conv``).

The child is started once and reused by every call, and stopped by ``close()`` or at exit; it also
exits by itself when its parent is gone. A call that raises in the child raises in the parent: bad
input as the same ValueError/TypeError (its message still starts with the argument's name), any
other error as a RuntimeError naming the host. A child that dies or does not answer within
``timeout`` seconds is a RuntimeError/TimeoutError, and the child is killed; the next call starts a
new one.
"""

import atexit
import multiprocessing
import os
import time
import traceback
from collections.abc import Sequence
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess

from conformance.contract import Array, Gradients, IndexArray, Params, Trajectory
from conformance.spec import Spec

_INPUT_ERRORS = {"ValueError": ValueError, "TypeError": TypeError}


def _serve(conn, name, path, workers, parent):
    os.environ["XLA_FLAGS"] = (
        f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={workers}"
    ).strip()
    os.environ["JAX_PLATFORMS"] = "cpu"  # the flag makes CPU devices: use those
    try:
        from conformance.targets.adapters import Jax
        from conformance.targets.resolve import resolve

        impl = resolve(path)(workers)
        impl = Jax(
            name, impl.gradients, impl.train, supports_optimizer=getattr(impl, "supports_optimizer", None)
        )
    except Exception as exc:
        conn.send(_error(exc))
        return
    conn.send((True, hasattr(impl, "supports_optimizer")))  # the opt-in, for the parent to declare
    while os.getppid() == parent:
        if not conn.poll(1.0):
            continue
        request = conn.recv()
        if request is None:
            break
        method, args, kwargs = request
        try:
            conn.send((True, getattr(impl, method)(*args, **kwargs)))
        except Exception as exc:
            conn.send(_error(exc))
    os._exit(0)  # nothing to finalise: skip the interpreter's slow teardown of JAX


def _error(exc):
    """(False, (type name, message, where)): plain strings, picklable whatever the exception."""
    where = traceback.extract_tb(exc.__traceback__)[-1]
    return False, (type(exc).__name__, str(exc), f"{where.filename}:{where.lineno}")


class DeviceHost:
    """A harness object (NumPy in and out) for ``path`` (a class taking ``workers``) run with
    ``workers`` CPU devices in a child process."""

    supports_conv = True  # every shipped data-parallel port implements the conv extension
    _proc: SpawnProcess | None  # the child, while it runs
    _conn: Connection | None  # this end of its pipe

    def __init__(
        self, name: str, path: str, workers: int, *, timeout: float = 300.0, start_timeout: float = 120.0
    ) -> None:
        self.name, self.workers, self._path = name, workers, path
        self.timeout, self.start_timeout = timeout, start_timeout
        self._proc = self._conn = None
        self._start()

    @property
    def pids(self) -> list[int | None]:
        """The host process's id while it runs (a list, like other data-parallel objects')."""
        return [self._proc.pid] if self._proc else []

    def _start(self):
        atexit.register(self.close)  # until close(): the child never outlives this program
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_serve,
            daemon=True,
            name=f"{self.name} device host",
            args=(child, self.name, self._path, self.workers, os.getpid()),
        )
        self._proc.start()
        child.close()
        try:
            optimizes = self._answer("start", self.start_timeout)
        except Exception:
            self.close(wait=0)
            raise
        if optimizes:  # the hosted class's opt-in to optimizer problems, asked of the child
            self.supports_optimizer = self._supports_optimizer

    def _call(self, method, *args, **kwargs):
        if self._proc is None:
            self._start()
        self._child()[1].send((method, args, kwargs))
        return self._answer(method, self.timeout)

    def _child(self):
        """(the child process, its end of the pipe): started, and not yet closed."""
        if self._proc is None or self._conn is None:
            raise RuntimeError(f"{self.name}: the device host is not running")
        return self._proc, self._conn

    def _answer(self, what, timeout):
        proc, conn = self._child()
        deadline = time.monotonic() + timeout
        while not conn.poll(0.1):
            if not proc.is_alive():
                break
            if time.monotonic() > deadline:
                self._fail(TimeoutError, f"did not answer within {timeout:g} s during {what}")
        try:
            ok, value = conn.recv()
        except EOFError:  # it ended without a word (a crash, or an abort inside XLA)
            proc.join(timeout=5)
            self._fail(RuntimeError, f"died (exit code {proc.exitcode}) during {what}")
        if ok:
            return value
        kind, message, where = value
        if kind in _INPUT_ERRORS:  # bad input, validated before computing: the same error here
            raise _INPUT_ERRORS[kind](message)
        raise RuntimeError(
            f"{self.name}: the device host process ({self.workers} CPU devices) "
            f"raised {kind}: {message} ({where}) during {what}"
        )

    def _fail(self, kind, what):
        self.close(wait=0)
        raise kind(
            f"{self.name}: the device host process ({self.workers} CPU devices) {what}; it "
            "was stopped (the next call starts a new one)"
        )

    def gradients(self, spec: Spec, params: Params, x: Array, y: Array) -> Gradients:
        return self._call("gradients", spec, params, x, y)

    def _supports_optimizer(self, optimizer: object) -> bool:
        return self._call("supports_optimizer", optimizer)

    def train(
        self,
        spec: Spec,
        params: Params,
        x: Array,
        y: Array,
        *,
        lr: float | Sequence[float],
        batches: Sequence[IndexArray],
        optimizer: object = None,
    ) -> Trajectory:
        """The child's adapter passes ``optimizer`` on only when it is set, as adapters.Jax does."""
        return self._call("train", spec, params, x, y, lr=lr, batches=batches, optimizer=optimizer)

    def close(self, wait: float = 5.0) -> None:
        """Stop the child: ask, wait up to ``wait`` s, then kill."""
        if self._proc is None:
            return
        proc, conn = self._child()
        if proc.is_alive() and wait:
            try:
                conn.send(None)
            except OSError:  # it has just gone
                pass
        proc.join(timeout=wait)
        if proc.is_alive():
            proc.kill()
            proc.join()
        conn.close()
        self._proc = self._conn = None
        atexit.unregister(self.close)
