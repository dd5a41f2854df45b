"""User code in a worker process: whatever it does, the harness stays up and the verdict stays right.

``check`` and ``report`` (and the pytest suite, for a ``--impl`` that is not a shipped name) never run
the code under test in their own process. An :class:`Isolated` target loads it in a worker process
of its own and sends it each call; the worker answers with the plain-data record of the result
(calls.py) or one line saying why there is none. So ``sys.exit``, ``os._exit``, a segfault, a fatal
signal or the OOM killer end *that call* as a named failure ("the process exited with code 0",
"was killed by signal 11 (SIGSEGV)"), and the next call gets a fresh worker. A call that runs past
its time limit is a ``timed out`` failure; its worker is killed and replaced, and the same entry
point is not called again in that run (each further call would only wait out the limit again).

Workers lead their own process group (their own children die with them), ignore Ctrl-C (the parent
stops them all at once) and exit when the parent dies. They are started with the parent's
``sys.path`` and environment, so they import exactly what the parent would.
"""

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from conformance.calls import (
    CallFailed,
    Returned,
    SupportsError,
    call,
    describe,
    supports,
    supports_optimizer,
)
from conformance.contract import Array, IndexArray, Params
from conformance.spec import Spec
from conformance.targets.resolve import Unavailable

DEFAULT_TIMEOUT = 60.0  # s per call; a cold JAX compile of the largest catalogue problem takes < 10 s
LOAD_TIMEOUT_FACTOR = 2  # importing a framework (torch, JAX) is slower than any one call

_BOOT = (
    "import json, os, sys; sys.path[:] = json.loads(os.environ.pop('_CONFORMANCE_SYS_PATH')); "
    "from conformance.targets.isolation import serve; serve(int(sys.argv[1]))"
)


class CallTimedOut(CallFailed):
    """A call that ran past its time limit (its worker was stopped): the entry point is not called
    again in this run."""


class Died(Exception):
    """The worker process ended; ``str()`` says how (exit code or signal)."""


class TimedOut(Exception):
    pass


def exit_text(code: int | None) -> str:
    """'exited with code 0' or 'was killed by signal 11 (SIGSEGV)' for a Popen return code."""
    if code is None:
        return "stopped answering"
    if code >= 0:
        return f"exited with code {code}"
    try:
        name = f" ({signal.Signals(-code).name})"
    except ValueError:
        name = ""
    return f"was killed by signal {-code}{name}"


class Worker:
    """One worker process and the socket the parent talks to it through."""

    def __init__(self):
        parent, child = socket.socketpair()
        env = dict(os.environ, _CONFORMANCE_SYS_PATH=json.dumps(sys.path))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOT, str(child.fileno())],
            pass_fds=[child.fileno()],
            start_new_session=True,
            env=env,
        )
        child.close()
        self.conn = Connection(parent.detach())
        _LIVE.add(self)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def ask(self, request: tuple[object, ...], timeout: float) -> tuple[str, Any]:  # Any: per request
        """Send one request and wait up to ``timeout`` seconds for its reply."""
        try:
            self.conn.send(request)
            if not self.conn.poll(timeout):
                self.kill()
                raise TimedOut
            return self.conn.recv()
        except (EOFError, OSError):
            self.kill(wait_first=True)
            raise Died(exit_text(self.proc.returncode)) from None

    def kill(self, wait_first: bool = False) -> None:
        """Stop the worker and everything it started, and reap it."""
        if wait_first:  # it is ending by itself: let it, to read its own exit status
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the worker leads its own process group
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
            self.proc.wait()
        else:  # reaped; its own children may still be running in its group
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.conn.close()
        _LIVE.discard(self)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.conn.send(("exit",))
                self.proc.wait(timeout=2)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()


_LIVE: set[Worker] = set()  # every worker not yet stopped: stopped when the program ends, however it ends


@atexit.register
def stop_all() -> None:
    for worker in list(_LIVE):
        worker.kill()


class Host:
    """One worker process that the targets of one job share (a job checks one problem at a time),
    started when first asked and started afresh after a crash or a timeout, each target loaded in it
    again when next called. Sharing keeps ``report``'s eight implementations to one interpreter,
    one torch and one JAX per job, and lets jax.manual and jax.scan share compiled programs."""

    def __init__(self):
        self.lock = threading.Lock()  # one request at a time
        self._worker, self._loaded = None, set()
        self.closed = False  # once stopped or closed, no worker is started again

    @property
    def pids(self) -> list[int]:
        return [self._worker.pid] if self._worker else []

    def load(self, target: str, timeout: float) -> dict[str, Any]:  # {name: str, supports_conv: bool, ...}
        """Load ``target`` in the worker (starting one if needed): its name and its opt-ins."""
        with self.lock:
            return self._load(target, timeout)

    def _load(self, target, timeout):
        if self.closed:
            raise ValueError("the run is stopping")
        if self._worker is None:
            self._worker, self._loaded = Worker(), set()
        limit = timeout * LOAD_TIMEOUT_FACTOR
        try:
            status, value = self._worker.ask(("load", target), limit)
        except TimedOut:
            self._worker = None
            raise ValueError(f"target: loading {target!r} did not finish within {limit:g} s") from None
        except Died as exc:
            self._worker = None
            raise ValueError(f"target: loading {target!r} ended its process: it {exc}") from None
        if status != "ok":
            raise (Unavailable if status == "unavailable" else ValueError)(value)
        self._loaded.add(target)
        return value

    def ask(self, target: str, request: tuple[object, ...], what: str, timeout: float) -> tuple[str, Any]:
        """One request about an already loaded ``target``; CallFailed if its worker dies or times out."""
        with self.lock:
            if self._worker is None or target not in self._loaded:
                try:
                    self._load(target, timeout)
                except (ValueError, ImportError) as exc:
                    raise CallFailed(f"a fresh worker could not load the target again: {exc}") from None
            worker = self._worker
            assert worker is not None  # loaded just above
            try:
                return worker.ask(request, timeout)
            except TimedOut:
                self._worker = None
                raise CallTimedOut(
                    f"timed out: no result after {timeout:g} s (the limit is --timeout); "
                    "its process was stopped"
                ) from None
            except Died as exc:
                self._worker = None
                raise CallFailed(f"the process {exc} while running {what}") from None

    def close(self) -> None:
        with self.lock:
            self.closed = True
            if self._worker is not None:
                self._worker.close()
                self._worker = None

    def stop(self) -> None:
        """Kill the worker now, whatever request a job thread is waiting on (Ctrl-C, an error): that
        request fails at once, and no new worker is started."""
        self.closed = True
        worker = self._worker
        if worker is not None:
            worker.kill()


class Isolated:
    """A target (a shipped name, PATH.py[:ATTR] or module:attr) loaded and run in a worker process
    (a :class:`Host`, its own unless one is given), with the harness contract's attributes:
    ``name``, ``supports_conv``, ``supports(spec)``, ``gradients(...)`` and ``train(...)``. A call
    that does not return raises :class:`~conformance.calls.CallFailed`. Loading raises ValueError (a
    bad target) or :class:`~conformance.targets.resolve.Unavailable` (a missing framework), as
    ``load_target`` does.

    ``timed_out`` is shared between the copies of one target that parallel jobs use, so that an
    entry point that ran past the limit in one job is not called again in another."""

    def __init__(
        self,
        target: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        host: Host | None = None,
        timed_out: set[str] | None = None,
    ) -> None:
        self.target, self.timeout = target, float(timeout)
        self.host = Host() if host is None else host
        self.timed_out = set() if timed_out is None else timed_out
        info = self.host.load(target, self.timeout)
        self.name, self.supports_conv = info["name"], info["supports_conv"]
        self.supports_recurrent = info["supports_recurrent"]
        if info["supports_optimizer"]:  # declared only where the target declares it (calls.supports)
            self.supports_optimizer = self._supports_optimizer

    def copy(self, host: Host) -> "Isolated":
        """The same target in another job's worker, sharing ``timed_out``."""
        return Isolated(self.target, timeout=self.timeout, host=host, timed_out=self.timed_out)

    @property
    def pids(self) -> list[int]:
        return self.host.pids

    def supports(self, spec: Spec) -> bool:
        status, value = self.host.ask(self.target, ("supports", self.target, spec), "supports", self.timeout)
        if status == "ok":
            return value
        raise SupportsError(value)

    def _supports_optimizer(self, optimizer: object) -> bool:
        status, value = self.host.ask(
            self.target, ("supports_optimizer", self.target, optimizer), "supports_optimizer", self.timeout
        )
        if status == "ok":
            return value
        raise SupportsError(value)

    def _call(self, kind, spec, params, x, y, lr=None, batches=None, optimizer=None):
        if kind in self.timed_out:
            raise CallFailed(
                f"not called: {kind} ran past the {self.timeout:g} s limit earlier in this "
                "run (--timeout sets it)"
            )
        try:
            status, value = self.host.ask(
                self.target,
                ("call", self.target, kind, spec, params, x, y, lr, batches, optimizer),
                kind,
                self.timeout,
            )
        except CallTimedOut:
            self.timed_out.add(kind)
            raise
        if status != "ok":
            raise CallFailed(value)
        return value

    def gradients(self, spec: Spec, params: Params, x: Array, y: Array) -> Returned:
        return self._call("gradients", spec, params, x, y)

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
    ) -> Returned:
        return self._call("train", spec, params, x, y, lr, batches, optimizer)

    def close(self) -> None:
        """Stop its worker (and with it every other target that shares the host)."""
        self.host.close()


# --- the worker's side -------------------------------------------------------------------------


def _die_with_parent():
    """Exit when the parent process ends, even while user code runs: a thread that watches the
    parent's pid (PR_SET_PDEATHSIG would fire when the parent *thread* that started the worker ends,
    and the matrix's job threads end before the parent is done with their workers)."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _handle(request, impls):
    from conformance.targets.target import load_target

    op, target, *args = request
    if op == "load":
        try:
            impls[target] = impl = load_target(target)
        except Unavailable as exc:
            return "unavailable", str(exc)
        except (ValueError, TypeError) as exc:
            return "error", str(exc)
        return "ok", {
            "name": impl.name,
            "supports_conv": getattr(impl, "supports_conv", False) is True,
            "supports_recurrent": getattr(impl, "supports_recurrent", False) is True,
            "supports_optimizer": getattr(impl, "supports_optimizer", None) is not None,
        }
    impl = impls[target]
    if op in ("supports", "supports_optimizer"):
        try:
            return "ok", (supports if op == "supports" else supports_optimizer)(impl, args[0])
        except SupportsError as exc:
            return "error", str(exc)
    kind, spec, params, x, y, lr, batches, optimizer = args
    try:
        return "ok", call(
            impl, kind, spec, params, x, y, lr=lr, batches=batches, optimizer=optimizer, real_interrupts=False
        )
    except CallFailed as exc:
        return "failed", str(exc)


def serve(fd: int) -> None:
    """The worker's loop: one request in, one reply out, until told to exit or the parent goes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _die_with_parent()
    conn = Connection(fd)
    impls: dict[str, object] = {}
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request[0] == "exit":
            return
        try:
            reply = _handle(request, impls)
        except BaseException as exc:  # user code the handlers do not expect to raise (a name property...)
            reply = ("failed", describe(exc))
        try:
            conn.send(reply)
        except Exception as exc:  # a result that does not pickle: say so instead of dying
            conn.send(("failed", f"its result could not be sent back: {type(exc).__name__}: {exc}"))
