"""One way to spread per-file work over a job's cores.

Every stage works a hospital at a time and uses the threads its rule was given through a process
pool (files are independent; the GIL rules out threads for numpy/pydicom-heavy Python). With one
worker everything runs in the calling process: no pickling, and a debugger or a profiler sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


def pool_map(function: Callable[[In], Out], items: Sequence[In], workers: int = 1,
             initializer: Callable[..., None] | None = None, initargs: tuple = ()) -> Iterator[Out]:
    """`function(item)` for every item, in order; `initializer(*initargs)` first in every worker
    (or once here with one worker). Chunks of a few items amortise the inter-process hand-over
    while keeping the workers evenly loaded near the end."""
    if workers > 1 and len(items) > 1:
        chunk = max(1, min(8, len(items) // (4 * workers)))
        with ProcessPoolExecutor(workers, initializer=initializer, initargs=initargs) as pool:
            yield from pool.map(function, items, chunksize=chunk)
    else:
        if initializer is not None:
            initializer(*initargs)
        yield from map(function, items)
