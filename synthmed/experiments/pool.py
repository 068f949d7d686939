"""Worker processes: how many run a chapter's points at once, and a pool that runs tasks in them."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from synthmed import profiles


def sweep_workers(profile: str, device: str = "auto", workers: int | None = None) -> int:
    """How many processes run a chapter's points: `workers`, else the profile's (`Profile.workers`), at
    most the CPU count; 1 on CUDA, where one process keeps the GPU busy."""
    if workers is not None:
        if int(workers) < 1:
            raise ValueError(f"workers: expected at least 1, got {workers}")
        return int(workers)
    if device != "cpu":
        import torch  # only to ask for CUDA: importing this module stays cheap

        if device.startswith("cuda") or (device == "auto" and torch.cuda.is_available()):
            return 1
    return max(1, min(profiles.get(profile).workers, os.cpu_count() or 1))


def _init_worker(threads: int) -> None:
    import torch  # in the fresh pool process

    torch.set_num_threads(threads)


def in_processes(task, arguments: dict, workers: int) -> dict:
    """`task(key, *arguments[key])` for each key, in order: in this process when `workers` is 1,
    else in a pool of that many fresh processes whose CPU threads share this machine's cores.

    Every step a task runs writes its cache atomically, so processes never see each other's half-written
    files, and a task that fails raises here after the others have finished what they could."""
    if workers <= 1 or len(arguments) <= 1:
        return {m: task(m, *args) for m, args in arguments.items()}
    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker, initargs=(threads,)
    ) as pool:
        futures = {m: pool.submit(task, m, *args) for m, args in arguments.items()}
        return {m: future.result() for m, future in futures.items()}
