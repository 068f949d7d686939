"""Two spawned processes that start one piece of work at the same moment: the cache races of issue 12."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable


def race(target: Callable, *args, timeout: float = 600) -> list[tuple]:
    """Run `target(*args, start, results)` in two spawned processes; return what each put on `results`.

    `target` is a module-level function (spawn pickles it by name); it waits on the barrier `start`
    so that both find the cache as it was, and puts one tuple, ("ok", ...) or ("error", message).
    """
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(2), context.Queue()
    children = [context.Process(target=target, args=(*args, start, results)) for _ in range(2)]
    for child in children:
        child.start()
    outcomes = [results.get(timeout=timeout) for _ in children]
    for child in children:
        child.join(timeout=60)
    return outcomes
