"""Running implementations × problems: the engine behind the CLI's ``report`` and ``check`` and the
benchmarks. Every target runs in worker processes of its own
(targets/isolation.py); the checks and diagnoses run here, in one thread per job.
"""

import fnmatch
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from conformance.calls import supports
from conformance.compare import CheckResult
from conformance.diagnosis.diagnose import run
from conformance.problems import CATALOGUE
from conformance.selfcheck import SelfConsistency, Verdicts
from conformance.targets.isolation import DEFAULT_TIMEOUT, Host, Isolated
from conformance.targets.resolve import Unavailable


@dataclass
class Matrix:
    skipped: list = field(default_factory=list)  # {impl, problem, reason}
    impls: dict = field(default_factory=dict)  # name -> Isolated (the target in its worker process)
    outcomes: list = field(default_factory=list)  # diagnose.Outcome per (impl, problem, dtype)
    consistency: Verdicts = field(default_factory=Verdicts)  # name -> selfcheck.SelfConsistency
    hosts: list = field(default_factory=list)  # isolation.Host: one worker process per job

    @property
    def results(self) -> list[CheckResult]:
        """Every check of the run, in report order."""
        return [r for o in self.outcomes for r in o.results]

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(r.passed for r in self.results)

    def self_consistency(self, name: str) -> SelfConsistency:
        """Computed once per implementation and run, when a diagnosis or the ``check`` command asks."""
        return self.consistency.of(name, self.impls[name])

    def failure_lines(self) -> list[str]:
        return [line for o in self.outcomes if not o.passed for line in o.lines()]

    def close(self) -> None:
        """Stop every worker process of the run."""
        for host in self.hosts:
            host.close()


def run_matrix(
    targets: Iterable[str],
    *,
    problems: str = "*",
    dtypes: Sequence[str] = ("float64", "float32"),
    progress: Callable[[], object] | None = None,
    jobs: int = 1,
    timeout: float = DEFAULT_TIMEOUT,
) -> Matrix:
    """Every target on every catalogue problem matching the ``problems`` glob, in every dtype, each
    run's failures diagnosed. Each target runs in worker processes of its own (isolation.py), one per
    job, ``timeout`` seconds at most per call; the checks and diagnoses run here, in ``jobs``
    threads, one per worker. Results come in the order ``jobs=1`` gives, so the report does not
    depend on the job count. The caller closes the matrix (its workers) when done with it."""
    matrix = Matrix()
    chosen = [p for name, p in CATALOGUE.items() if fnmatch.fnmatch(name, problems)]
    if not chosen:
        raise ValueError(f"--problems: {problems!r} matches no problem; names: {', '.join(CATALOGUE)}")
    tasks = []  # (implementation name, problem name, dtypes) in report order
    host = Host()  # job 0's worker process; every target is loaded there first
    matrix.hosts.append(host)
    try:
        for target in targets:
            try:
                impl = Isolated(target, timeout=timeout, host=host)
            except Unavailable as exc:
                matrix.skipped.append(dict(impl=target, problem="*", reason=str(exc)))
                continue
            matrix.impls[impl.name] = impl
            for problem in chosen:
                if not supports(impl, problem.spec, problem.optimizer):
                    with_optimizer = f" with {problem.optimizer.label}" if problem.optimizer else ""
                    matrix.skipped.append(
                        dict(
                            impl=impl.name,
                            problem=problem.name,
                            reason=f"does not support {problem.spec.label}{with_optimizer}",
                        )
                    )
                    continue
                # the reference in float64 is identical by construction; the golden vectors pin it
                kept = tuple(d for d in dtypes if not (impl.name == "reference" and d == "float64"))
                tasks.append((impl.name, problem.name, kept))
        for outcomes in _run_tasks(matrix, tasks, jobs, progress):
            matrix.outcomes += outcomes
    except BaseException:
        for host in matrix.hosts:  # Ctrl-C or an error: every worker now, whatever the jobs wait on
            host.stop()
        raise
    return matrix


def _check_task(matrix, impl, name, problem_name, dtypes):
    """One (implementation, problem) in every dtype."""
    return [
        run(impl, CATALOGUE[problem_name], d, consistency=lambda: matrix.self_consistency(name).passed)
        for d in dtypes
    ]


def _run_tasks(matrix, tasks, jobs, progress):
    """Each task's outcomes, in task order; ``progress()`` after each task finishes. Job 0 uses the
    targets' first workers; every other job a copy of each target in a worker of its own."""
    jobs = max(1, min(jobs, len(tasks)))
    todo: queue.Queue[tuple[int, tuple]] = queue.Queue()
    done: queue.Queue[tuple[int, object]] = queue.Queue()
    stopping = threading.Event()
    for item in enumerate(tasks):
        todo.put(item)

    hosts = matrix.hosts[:1] + [Host() for _ in range(jobs - 1)]  # one worker process per job
    matrix.hosts[1:] = hosts[1:]

    def work(job):
        impls = {}
        while not stopping.is_set():
            try:
                i, (name, *task) = todo.get_nowait()
            except queue.Empty:
                return
            try:
                if name not in impls:
                    impls[name] = matrix.impls[name] if job == 0 else matrix.impls[name].copy(hosts[job])
                done.put((i, _check_task(matrix, impls[name], name, *task)))
            except BaseException as exc:  # a harness error: re-raised in the main thread
                done.put((i, exc))

    threads = [threading.Thread(target=work, args=(job,), daemon=True) for job in range(jobs)]
    for t in threads:
        t.start()
    found: list = [None] * len(tasks)
    try:
        for _ in tasks:
            while True:
                try:
                    i, outcomes = done.get(timeout=0.2)  # a short wait, so Ctrl-C is seen at once
                    break
                except queue.Empty:
                    continue
            if isinstance(outcomes, BaseException):
                raise outcomes
            found[i] = outcomes
            if progress:
                progress()
    finally:
        stopping.set()  # on Ctrl-C or an error no job starts another task
    for t in threads:
        t.join()
    return found
