"""Deliberately failing torch.ddp workers for tests/ports/test_distributed.py. Spawned workers import
what they run by name, so the faults live in a module of their own rather than inside a test (the
device host's stand-ins, which need no torch, are in tests/helpers/device_host.py)."""

import os
import time

import torch

from torch_impl.distributed import DataParallel, rank_gradients


def noop(worker):
    return worker.rank


def exit_on_rank_1(worker):
    if worker.rank == 1:
        os._exit(3)  # a crash: no exception, no message
    torch.distributed.barrier()


def gradients_raising_on_rank_1(worker, *args):
    if worker.rank == 1:
        raise RuntimeError("deliberate failure on worker 1")
    return rank_gradients(worker, *args)  # worker 0 goes on, and waits for 1 in DDP's collectives


def train_hanging_on_rank_1(worker, *args):
    if worker.rank == 1:
        time.sleep(3600)
    torch.distributed.barrier()  # worker 0 waits for 1, as in every training step


class FaultyDataParallel(DataParallel):
    """torch.ddp whose worker 1 raises in ``gradients`` and hangs in ``train``."""

    rank_gradients = staticmethod(gradients_raising_on_rank_1)
    rank_train = staticmethod(train_hanging_on_rank_1)
