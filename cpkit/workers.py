"""Several processes on one sweep: one per GPU, sharing a results folder.

Every finished run is kept in a :class:`cpkit.protocols.RunStore` and
trained under a per-run lock, so processes that share the folder never
train a run twice: a process that reaches a run another one is training
waits for it and reads it back. What keeps them from queueing behind one
another is the order: worker ``i`` of ``n`` (``CPKIT_WORKER="i/n"``, set
by ``cpkit notebooks --worker i/n``) walks the seeds of every sweep
starting a fraction i/n of the way along, so each starts on different
runs. Results come back in the seeds' own order, so every worker ends
with the same, complete tables.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TypeVar

from cpkit.errors import ConfigError

ENV = "CPKIT_WORKER"
T = TypeVar("T")


def parse(text: str) -> tuple[int, int]:
    """``"i/n"`` -> (i, n), with 0 <= i < n; else a one-line error."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ConfigError(
            f"worker = {text!r} must read i/n, e.g. 0/4 (worker 0 of 4)"
        ) from None
    if count < 1 or not 0 <= index < count:
        raise ConfigError(f"worker = {text!r}: need n >= 1 and 0 <= i < n")
    return index, count


def current() -> tuple[int, int]:
    """This process's (i, n) from the environment; (0, 1) when unset."""
    text = os.environ.get(ENV, "").strip()
    return parse(text) if text else (0, 1)


def order(seeds: Sequence[int]) -> list[int]:
    """The seeds rotated to start i/n of the way along (worker i of n)."""
    index, count = current()
    start = (index * len(seeds)) // count
    seeds = list(seeds)
    return seeds[start:] + seeds[:start]


def per_seed(seeds: Sequence[int], work: Callable[[int], T]) -> list[T]:
    """``work(seed)`` for every seed, in this worker's order; the results
    in the order of ``seeds``."""
    done = {seed: work(seed) for seed in order(seeds)}
    return [done[seed] for seed in seeds]
