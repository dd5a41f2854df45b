"""The data-parallel machinery: the harness's ``workers`` argument; workers started once, reused and
stopped; a worker that raises or hangs reported as a failed check within the timeout; no worker
process left behind (after close, after a failure, at exit, or when the parent is killed); the copy
tests. The conformance of torch.ddp and jax.sharded itself is conformance/suite/test_distributed.py;
conv and optimizer runs built to expose the split (ragged shards, global-norm clipping, every worker's
state) are in test_distributed_optimizers.py.
"""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from conformance import CATALOGUE, DATA_PARALLEL, Optimizer, check, check_gradients, check_training, load
from conformance.calls import supports
from conformance.runtime.environment import available
from tests.helpers.copy import ROOT, run_copied

TIMEOUT = 3.0  # s: the bound given to the faulty workers below, small to keep the test quick
SLACK = 5.0  # s: polling (0.1 s), killing and reporting, on a loaded machine
PROBLEM = CATALOGUE["deep-relu-softmax"]
needs_torch = pytest.mark.skipif(not available("torch"), reason="torch is not installed")
needs_jax = pytest.mark.skipif(not available("jax"), reason="jax is not installed")
INSTALLED = [n for n in DATA_PARALLEL if available(n.split(".")[0])]


def alive(pid):
    """The process exists and is not a zombie (read from /proc: no psutil needed)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def gone(pids, within=15.0):
    """Wait up to ``within`` s for every pid to end; return those still running."""
    deadline = time.monotonic() + within
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


@pytest.mark.parametrize(
    ("name", "workers", "message"),
    [
        ("jax.manual", 2, r"^workers: 'jax.manual' is not data-parallel"),
        ("reference", 1, r"^workers: 'reference' is not data-parallel"),
        ("torch.ddp", None, r"^workers: torch.ddp is data-parallel and needs workers=k, an int >= 1"),
        ("torch.ddp", 0, r"^workers: .* got 0"),
        ("jax.sharded", -1, r"^workers: .* got -1"),
        ("torch.ddp", True, r"^workers: .* got True"),
        ("jax.sharded", 2.0, r"^workers: .* got 2.0"),
        ("torch.nope", 2, r"^name: unknown implementation 'torch.nope'"),
    ],
)
def test_load_rejects_bad_workers_before_starting_anything(name, workers, message):
    with pytest.raises(ValueError, match=message):
        load(name, workers=workers)


@pytest.mark.parametrize("name", INSTALLED)
def test_workers_start_once_are_reused_and_stop_at_close(name):
    """Also: the opt-ins to conv and optimizer problems reach the harness object; bad input (a rate,
    a schedule, an optimizer) is the usual ValueError, named first, and costs no worker (torch
    validates before sending; the JAX device host validates in the child and raises the same error
    here)."""
    impl = load(name, workers=2)
    pids = impl.pids
    assert pids and all(alive(p) for p in pids)  # torch: 2 processes; jax here: 1 device host
    for problem in ("neuron", "relu-kink"):
        assert all(r.passed for r in check(impl, CATALOGUE[problem]))
    p, conv, rnn = PROBLEM, CATALOGUE["conv-batch-1"], CATALOGUE["rnn-char-next"]
    assert supports(impl, conv.spec) and supports(impl, p.spec, Optimizer("adam"))
    assert not supports(impl, rnn.spec)  # data-parallel ports decline recurrent specs...
    with pytest.raises(ValueError, match=r"^spec\.recurrent: this implementation takes dense and conv"):
        impl.gradients(rnn.spec, rnn.params, rnn.x, rnn.y)  # ...and refuse one by name if called
    with pytest.raises(ValueError, match=r"^lr: expected a finite learning rate > 0"):
        impl.train(p.spec, p.params, p.x, p.y, lr=-1.0, batches=p.batches)
    with pytest.raises(ValueError, match=r"^lr: expected one learning rate per step"):
        impl.train(p.spec, p.params, p.x, p.y, lr=[0.1], batches=p.batches, optimizer=Optimizer("sgd"))
    with pytest.raises(ValueError, match=r"^optimizer\.beta1: "):  # duck-typed: Optimizer refuses it
        impl.train(
            p.spec,
            p.params,
            p.x,
            p.y,
            lr=0.1,
            batches=p.batches,
            optimizer=SimpleNamespace(name="adam", beta1=1.0),
        )
    assert impl.pids == pids, "workers were restarted between calls"
    impl.close()
    assert impl.pids == [] and not gone(pids, within=0.0)


@pytest.mark.slow
@needs_torch
def test_raising_and_hanging_torch_workers_are_failed_checks_within_the_timeout():
    from conformance.targets.adapters import Torch
    from tests.helpers.faults import FaultyDataParallel, exit_on_rank_1, noop

    faulty = FaultyDataParallel(2, timeout=TIMEOUT)
    impl = Torch("faulty.ddp-w2", faulty.gradients, faulty.train)
    first = faulty.pids
    start = time.monotonic()
    [failure] = check_gradients(impl, PROBLEM, "float64")
    assert time.monotonic() - start < TIMEOUT + SLACK
    assert failure.check == "call" and not failure.passed
    assert "worker 1 of 2 raised RuntimeError: deliberate failure on worker 1" in failure.message
    assert not gone(first, within=0.0), "a failed pool must be torn down at once"

    assert faulty.pool.run(noop) == [0, 1]  # the next call starts a fresh pool
    second = faulty.pids
    assert set(second).isdisjoint(first)
    start = time.monotonic()
    [failure] = check_training(impl, PROBLEM, "float64")
    assert time.monotonic() - start < TIMEOUT + SLACK
    assert re.search(
        r"raised (TimeoutError|RuntimeError): torch.ddp-w2: .*1 of 2 did not answer", failure.message
    ), failure.message
    assert not gone(second, within=0.0)

    with pytest.raises(RuntimeError, match=r"worker 1 of 2 died \(exit code 3\)"):
        faulty.pool.run(exit_on_rank_1)  # a fresh pool again, whose worker 1 crashes
    assert faulty.pids == []


@pytest.mark.slow
@needs_jax
def test_raising_and_hanging_device_host_are_failed_checks_within_the_timeout():
    from conformance.targets.device_host import DeviceHost

    host = DeviceHost("faulty.sharded-w2", "tests.helpers.device_host:FaultySharded", 2, timeout=TIMEOUT)
    pids = host.pids
    [failure] = check_gradients(host, PROBLEM, "float32")
    assert (
        "device host process (2 CPU devices) raised RuntimeError: deliberate failure in the device host"
    ) in failure.message
    assert host.pids == pids and alive(pids[0]), "an exception does not cost the host its devices"
    start = time.monotonic()
    [failure] = check_training(host, PROBLEM, "float32")
    assert time.monotonic() - start < TIMEOUT + SLACK
    assert (
        "raised TimeoutError: faulty.sharded-w2: the device host process (2 CPU devices) did "
        "not answer within 3 s" in failure.message
    )
    assert not gone(pids, within=0.0)


@needs_jax
def test_device_host_that_dies_is_a_clear_error():
    from conformance.targets.device_host import DeviceHost

    with pytest.raises(
        RuntimeError,
        match=r"^dying-w2: the device host process \(2 CPU devices\) "
        r"died \(exit code 3\) during start",
    ):
        DeviceHost("dying-w2", "tests.helpers.device_host:DyingSharded", 2, timeout=TIMEOUT)


CHILD = """
import sys, time
import conformance

def main():
    p = conformance.CATALOGUE["neuron"]
    impls = [conformance.load(name, workers=2) for name in sys.argv[1].split(",")]
    for impl in impls:
        impl.gradients(p.spec, p.params, p.x, p.y)
    print(*[pid for impl in impls for pid in impl.pids], flush=True)
    time.sleep(600)  # until killed

if __name__ == "__main__":
    main()
"""


@pytest.mark.slow
@pytest.mark.skipif(not INSTALLED, reason="neither torch nor jax is installed")
def test_workers_exit_when_their_parent_is_killed(tmp_path):
    """SIGKILL leaves no atexit to run: the workers notice that their parent is gone and leave."""
    (tmp_path / "child.py").write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, tmp_path / "child.py", ",".join(INSTALLED)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        pids = [int(p) for p in child.stdout.readline().split()]
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    assert len(pids) == 2 * ("torch.ddp" in INSTALLED) + ("jax.sharded" in INSTALLED)
    assert not gone(pids), "worker processes outlived their killed parent"


@pytest.mark.slow
@needs_torch
def test_copy_torch_impl_alone_trains_data_parallel_and_leaves_no_process(tmp_path):
    """torch_impl/ alone: DataParallel(2) trains exactly as module.train, and its workers end with
    the program (atexit: close() is never called here)."""
    result = run_copied(
        "torch_impl",
        """
        import torch, torch_impl
        from types import SimpleNamespace
        from torch_impl.distributed import DataParallel
        spec = SimpleNamespace(sizes=(4, 5, 3), activation="tanh", output="softmax",
                               loss="log_likelihood", weight_decay=0.01)
        g = torch.Generator().manual_seed(0)
        params = [(torch.randn(5, 4, generator=g, dtype=torch.float64), torch.zeros(5, dtype=torch.float64)),
                  (torch.randn(3, 5, generator=g, dtype=torch.float64), torch.zeros(3, dtype=torch.float64))]
        x = torch.randn(11, 4, generator=g, dtype=torch.float64)
        y = torch.nn.functional.one_hot(torch.arange(11) % 3, 3).to(torch.float64)
        batches = [torch.arange(0, 5), torch.arange(5, 10), torch.arange(10, 11)] * 3
        dp = DataParallel(2)
        parallel = dp.train(spec, params, x, y, lr=0.5, batches=batches)
        single = torch_impl.module.train(spec, params, x, y, lr=0.5, batches=batches)
        assert max(abs(a - b) for a, b in zip(parallel.losses, single.losses)) < 1e-13
        print("pids", *dp.pids)
    """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    pids = [int(p) for p in result.stdout.split("pids", 1)[1].split()]
    assert len(pids) == 2 and not gone(pids, within=5.0)


@pytest.mark.slow
@needs_jax
def test_copy_jax_impl_alone_trains_sharded(tmp_path):
    """jax_impl/ alone, with two CPU devices: Sharded(2) trains as manual.train, in float64."""
    result = run_copied(
        "jax_impl",
        """
        import os
        os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
        import jax, jax.numpy as jnp, jax_impl
        from types import SimpleNamespace
        from jax_impl.sharded import Sharded
        spec = SimpleNamespace(sizes=(4, 5, 3), activation="relu", output="sigmoid",
                               loss="cross_entropy", weight_decay=0.01)
        with jax.enable_x64(True):
            k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
            params = [(jax.random.normal(k1, (5, 4), jnp.float64), jnp.zeros(5, jnp.float64)),
                      (jax.random.normal(k2, (3, 5), jnp.float64), jnp.zeros(3, jnp.float64))]
            x = jax.random.normal(k3, (11, 4), jnp.float64)
            y = jax.nn.one_hot(jnp.arange(11) % 3, 3, dtype=jnp.float64)
            batches = [jnp.arange(0, 5), jnp.arange(5, 10), jnp.arange(10, 11)] * 3
            parallel = Sharded(2).train(spec, params, x, y, lr=0.5, batches=batches)
            single = jax_impl.manual.train(spec, params, x, y, lr=0.5, batches=batches)
        assert max(abs(a - b) for a, b in zip(parallel.losses, single.losses)) < 1e-13
        print("trained", parallel.params[0][0].dtype)
    """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "trained float64" in result.stdout


@pytest.mark.gpu
@pytest.mark.parametrize("name", DATA_PARALLEL)
def test_gpu_float64_catalogue_at_two_workers(name):
    """On two or more GPUs: the float64 catalogue with one GPU per worker (nccl / a GPU mesh)."""
    framework = name.split(".")[0]
    if framework == "torch":
        torch = pytest.importorskip("torch")
        if torch.cuda.device_count() < 2:
            pytest.skip("fewer than two CUDA GPUs on this machine")
        impl = load(name, device="cuda", workers=2)
    else:
        jax = pytest.importorskip("jax")
        if jax.default_backend() != "gpu" or jax.device_count() < 2:
            pytest.skip("fewer than two GPUs visible to JAX on this machine")
        impl = load(name, workers=2)
    try:
        results = [r for p in CATALOGUE.values() for r in check(impl, p, "float64")]
    finally:
        impl.close()
    assert all(r.passed for r in results), [r.message for r in results if not r.passed]


COMPILES_PER_RUN = """
import jax, numpy as np
from conformance import CATALOGUE
from jax_impl import sharded
p = CATALOGUE["nielsen-2-3-1"]  # batches of 3, 3, 3, 1: two batch sizes, padded to one shard length
impl = sharded.Sharded(2)
with jax.enable_x64(True):
    for run in range(2):  # the weights as a caller hands them in: on one device, not on the mesh
        before = sharded.step._cache_size()
        impl.train(p.spec, [(jax.device_put(W), jax.device_put(b)) for W, b in p.params],
                   jax.device_put(p.x), jax.device_put(p.y), lr=p.lr,
                   batches=[np.asarray(i, np.int32) for i in p.batches])
        print(sharded.step._cache_size() - before)
"""


@needs_jax
def test_sharded_step_compiles_once_per_run():
    """Ragged batches are padded to one shard length and the weights are put on the mesh as every
    step returns them, so a run compiles its step once (on 2 CPU devices the caller's single-device
    weights used to cost a second compile), and a second run of the same problem compiles nothing."""
    env = {
        **os.environ,
        "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2",
    }
    r = subprocess.run(
        [sys.executable, "-c", COMPILES_PER_RUN],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["1", "0"], f"new step programs per run: {r.stdout.split()}"


@needs_torch
def test_small_tensors_travel_by_value_and_arrive_equal():
    """workers.pack/unpack, as every call and result goes: small CPU tensors as their values (no
    shared memory), large, bfloat16 and requires_grad ones as tensors; every value, dtype and shape
    arrives as sent, in the containers it was sent in, and a change to the sent tensor after packing
    does not reach the packed copy."""
    import torch

    from torch_impl.workers import SHARED_BYTES, pack, unpack

    small = [torch.arange(6, dtype=d).reshape(2, 3) for d in (torch.float64, torch.float32, torch.int64)]
    large = torch.zeros(SHARED_BYTES // 8, dtype=torch.float64)  # exactly SHARED_BYTES
    odd = [torch.ones(3, dtype=torch.bfloat16), torch.ones(3, requires_grad=True)]
    sent = ([(small[0], small[1])], {"t": 3, "m": [small[2]]}, large, odd, "label", 0.5)
    packed = pack(sent)
    assert not any(isinstance(a, torch.Tensor) for a in (*packed[0][0], packed[1]["m"][0]))
    assert packed[2] is large and packed[3][0] is odd[0] and packed[3][1] is odd[1]
    small[0].add_(100)  # after packing: the copy in transit keeps the values it had
    got = unpack(packed)
    assert (
        type(got) is tuple and type(got[0]) is list and type(got[0][0]) is tuple and got[4:] == ("label", 0.5)
    )
    W, b = got[0][0]
    assert W.dtype == torch.float64 and b.dtype == torch.float32 and got[1]["m"][0].dtype == torch.int64
    assert torch.equal(W, torch.arange(6, dtype=torch.float64).reshape(2, 3))
    assert torch.equal(b, small[1]) and torch.equal(got[1]["m"][0], small[2]) and got[1]["t"] == 3
