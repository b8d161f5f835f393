"""One way to spread per-file work over a job's cores.

Every stage works a hospital at a time and uses the threads its rule was given through a process
pool (files are independent; the GIL rules out threads for numpy/pydicom-heavy Python). With one
worker everything runs in the calling process: no pickling, and a debugger or a profiler sees it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

In = TypeVar("In")
Out = TypeVar("Out")
_opencv_threads: list[int] = []


def _before_fork() -> None:
    """OpenCV's thread pool does not survive fork: a worker forked while the parent's pool had
    threads hung at its first parallel OpenCV call (deid's text search, after the contact sheet
    had used OpenCV in the same process). Workers are forked with OpenCV at one thread, which is
    what they use anyway; the parent gets its count back right after. cv2 is not imported here:
    a process that never loaded it has no pool to worry about."""
    cv2 = sys.modules.get("cv2")
    if cv2 is not None:
        _opencv_threads.append(cv2.getNumThreads())
        cv2.setNumThreads(1)


def _after_fork_in_parent() -> None:
    cv2 = sys.modules.get("cv2")
    if cv2 is not None and _opencv_threads:
        cv2.setNumThreads(_opencv_threads.pop())


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent)


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
