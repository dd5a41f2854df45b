"""A pool of k torch.distributed worker processes: started once, reused for every call, stopped by
``close()`` (or at interpreter exit), and never left behind.

The workers are spawned (``torch.multiprocessing`` with the spawn start method: a fresh
interpreter each, safe with threads and CUDA) and join one process group through a ``FileStore``
in a private temporary directory, so no port is fixed and pools of parallel test processes never
meet. Every collective has the group's ``timeout``; the caller's wait for a call is bounded by the
same ``timeout``. A worker that raises, dies or does not answer in time is a clear error naming
the worker (RuntimeError, or TimeoutError for silence), and the whole pool is torn down: the other
workers may be blocked in a collective with the failed one, so none of them can be trusted. The next
call starts a fresh pool. Workers also exit on their own when the process that started them is gone.

A call's small CPU tensors travel by value, pickled as NumPy arrays (``pack``, both ways):
torch.multiprocessing would move each one to shared memory, a handshake per tensor and per worker
that costs more than the copy. Measured on 2 cores, a call carrying a small network's weights and
data: 2.7 ms at 2 workers and 16 ms at 3 through shared memory, 0.5 ms by value (0.3 ms with no
tensors). Tensors from SHARED_BYTES up still go through shared memory.

    pool = Pool(2)
    pool.run(fn, *args)  # fn(worker, *args) on every worker (fn importable by name); results by rank
    pool.close()
"""

import atexit
import datetime
import os
import queue
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from typing import Any, NamedTuple, NoReturn, TypeAlias

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

SHARED_BYTES = 1 << 20  # a CPU tensor this large or larger travels through shared memory


class Worker(NamedTuple):
    rank: int  # 0 .. size-1
    size: int  # k, the number of workers
    device: torch.device  # where this worker computes


# what the parent puts to one worker: (fn, args) to run, or None to stop
TaskQueue: TypeAlias = "Queue[tuple[Callable[..., Any], tuple[Any, ...]] | None]"
# what every worker puts back: (rank, ok, fn's result or the error's description)
ResultQueue: TypeAlias = "Queue[tuple[int, bool, Any]]"


def check_workers(workers: object) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise TypeError(f"workers: expected an int >= 1, got {workers!r}")
    if workers < 1:
        raise ValueError(f"workers: expected an int >= 1, got {workers}")
    return workers


class _Value(NamedTuple):
    """A CPU tensor's values in transit (pack), a tensor again on arrival (unpack)."""

    array: np.ndarray


def _each(leaf: Callable[[Any], Any], obj: Any) -> Any:
    """``leaf`` applied to everything inside lists, tuples and dicts, their types kept."""
    if type(obj) in (list, tuple):
        return type(obj)(_each(leaf, item) for item in obj)
    if type(obj) is dict:
        return {key: _each(leaf, value) for key, value in obj.items()}
    return leaf(obj)


def _by_value(obj: Any) -> Any:
    if not isinstance(obj, torch.Tensor):
        return obj
    if obj.device.type != "cpu" or obj.requires_grad or obj.nbytes >= SHARED_BYTES:
        return obj
    try:
        return _Value(obj.numpy().copy())  # a private copy: the sender may change obj after
    except TypeError:  # a dtype NumPy does not have (bfloat16): shared memory, as before
        return obj


def pack(obj: Any) -> Any:
    """``obj`` with every small CPU tensor inside lists, tuples and dicts replaced by its values."""
    return _each(_by_value, obj)


def unpack(obj: Any) -> Any:
    """The inverse of pack: each _Value a CPU tensor again (owning its arrived values)."""
    return _each(lambda leaf: torch.from_numpy(leaf.array) if isinstance(leaf, _Value) else leaf, obj)


def _describe(exc: BaseException) -> str:
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    return f"{type(exc).__name__}: {exc}" + (f" ({where.filename}:{where.lineno})" if where else "")


def _serve(
    worker: Worker,
    store: str,
    timeout: float,
    precision: tuple[bool, bool, str],
    tasks: TaskQueue,
    results: ResultQueue,
    parent: int,
) -> None:
    """One worker: join the group, then run tasks until told to stop or the parent is gone."""
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, matmul = precision
    torch.set_float32_matmul_precision(matmul)  # the caller's precision settings, not the defaults
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // worker.size))  # k workers share the cores
    try:
        dist.init_process_group(
            "nccl" if worker.device.type == "cuda" else "gloo",
            store=dist.FileStore(store, worker.size),
            rank=worker.rank,
            world_size=worker.size,
            timeout=datetime.timedelta(seconds=timeout),
        )
    except Exception as exc:
        results.put((worker.rank, False, _describe(exc)))
        return
    results.put((worker.rank, True, None))
    while os.getppid() == parent:
        try:
            task = tasks.get(timeout=1.0)
        except queue.Empty:
            continue
        if task is None:
            dist.destroy_process_group()
            break
        fn, args = task
        try:
            results.put((worker.rank, True, pack(fn(worker, *unpack(args)))))
        except Exception as exc:  # the parent tears the pool down: leave, do not wait in a collective
            results.put((worker.rank, False, _describe(exc)))
            break
    results.close()
    results.join_thread()  # everything put is delivered; then skip the interpreter's slow teardown
    os._exit(0)


class Pool:
    """k worker processes in one process group; ``device`` "cpu" (gloo) or "cuda" (nccl, one GPU
    per worker). ``timeout`` (s) bounds each call and each collective; ``start_timeout`` the start."""

    _procs: list[BaseProcess]  # the k workers while the pool is up, [] once closed
    _dir: str | None  # the FileStore's private directory
    _tasks: list[TaskQueue]  # one per worker, by rank
    _results: "ResultQueue | None"  # shared by all workers; None only until the first start

    def __init__(
        self,
        workers: int,
        *,
        device: str | torch.device = "cpu",
        timeout: float = 300.0,
        start_timeout: float = 120.0,
        name: str = "pool",
    ) -> None:
        self.size = check_workers(workers)
        self.device, self.timeout, self.start_timeout = torch.device(device), timeout, start_timeout
        self.name = name
        self._procs, self._dir, self._tasks, self._results = [], None, [], None
        self._start()

    @property
    def pids(self) -> list[int | None]:
        return [p.pid for p in self._procs]

    def _start(self) -> None:
        atexit.register(self.close)  # until close(): no worker outlives this program
        ctx = mp.get_context("spawn")
        self._dir = tempfile.mkdtemp(prefix="torch-ddp-")
        self._tasks, self._results = [ctx.Queue() for _ in range(self.size)], ctx.Queue()
        precision = (
            torch.backends.cuda.matmul.allow_tf32,
            torch.backends.cudnn.allow_tf32,
            torch.get_float32_matmul_precision(),
        )
        for rank in range(self.size):
            device = torch.device("cuda", rank) if self.device.type == "cuda" else self.device
            self._procs.append(
                ctx.Process(
                    target=_serve,
                    daemon=True,
                    name=f"{self.name} worker {rank}",
                    args=(
                        Worker(rank, self.size, device),
                        os.path.join(self._dir, "store"),
                        self.timeout,
                        precision,
                        self._tasks[rank],
                        self._results,
                        os.getpid(),
                    ),
                )
            )
            self._procs[-1].start()
        self._collect("start", self.start_timeout)

    def run(self, fn: Callable[..., Any], *args: Any) -> list[Any]:
        """``fn(worker, *args)`` on every worker; the list of their results, by rank."""
        if not self._procs:
            self._start()
        packed = pack(args)
        for tasks in self._tasks:
            tasks.put((fn, packed))
        return self._collect(fn.__name__, self.timeout)

    def _collect(self, what: str, timeout: float) -> list[Any]:
        results: dict[int, Any]  # rank -> the value it sent
        deadline, results = time.monotonic() + timeout, {}
        while len(results) < self.size:
            rank, ok, value = self._next(what, timeout, deadline, results)
            if not ok:
                self._fail(
                    RuntimeError,
                    f"worker {rank} of {self.size} raised {value} during {what}",
                    {**results, rank: None},
                )
            results[rank] = value
        return [unpack(results[r]) for r in range(self.size)]

    def _next(
        self, what: str, timeout: float, deadline: float, answered: Mapping[int, Any]
    ) -> tuple[int, bool, Any]:
        """The next worker's message; a worker's death or the deadline is a failure."""
        assert self._results is not None  # _start has made it
        while True:
            try:
                return self._results.get(timeout=0.1)
            except queue.Empty:
                pass
            dead = [(r, p.exitcode) for r, p in enumerate(self._procs) if p.exitcode is not None]
            if dead:
                try:  # a worker that raised has said so before leaving: read that first
                    return self._results.get(timeout=1.0)
                except queue.Empty:
                    self._fail(
                        RuntimeError,
                        f"worker {dead[0][0]} of {self.size} died (exit code {dead[0][1]}) during {what}",
                        answered,
                    )
            if time.monotonic() > deadline:
                self._fail(TimeoutError, f"no answer within {timeout:g} s during {what}", answered)

    def _fail(self, kind: type[Exception], message: str, answered: Mapping[int, Any]) -> NoReturn:
        """Tear the pool down and raise, naming every worker that crashed or did not answer."""
        deadline = time.monotonic() + 0.5  # a crash is often what made another worker raise
        for proc in self._procs:
            proc.join(timeout=max(0.0, deadline - time.monotonic()))
        silent = [(r, self._procs[r].exitcode) for r in range(self.size) if r not in answered]
        died = [
            f"worker {r} of {self.size} died (exit code {code})"
            for r, code in silent
            if code is not None and f"worker {r} " not in message
        ]
        quiet = [str(r) for r, code in silent if code is None]
        self.close(wait=0)
        raise kind(
            "; ".join(
                [f"{self.name}: {message}", *died]
                + ([f"worker {', '.join(quiet)} of {self.size} did not answer"] if quiet else [])
                + ["the pool was shut down (the next call starts a new one)"]
            )
        )

    def close(self, wait: float = 5.0) -> None:
        """Stop every worker: ask, wait up to ``wait`` s, then kill; remove the rendezvous directory."""
        for tasks, proc in zip(self._tasks, self._procs):
            if proc.is_alive() and wait:
                tasks.put(None)
        deadline = time.monotonic() + wait
        for proc in self._procs:
            proc.join(timeout=max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join()
        for q in self._tasks + [self._results] if self._procs else []:
            assert q is not None  # with workers started, _results is set
            q.cancel_join_thread()  # never block this process's exit on a queue nobody reads
            q.close()
        self._procs = []
        atexit.unregister(self.close)
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
