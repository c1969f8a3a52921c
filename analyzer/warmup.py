"""Imports loaded on a thread while the engine reads, and the process pools that wait for
them.

The Parquet and CSV writers load pyarrow (and pandas) on a daemon thread while the engine
reads the first frames (the engine does not hold the GIL), so that the first batch finds
them ready. A process pool forks its workers: forked while that thread holds a module's
import lock, a worker inherits the lock but not the thread, and waits for it for ever when
it imports that module (``connections -f parquet --shards 4 -j 2`` hung so, every time).
So every pool is made by :func:`process_pool`, which first waits for the imports. (Waiting
inside an ``os.register_at_fork`` hook is no cure: the imports register fork hooks of their
own, whose parent half then runs without its first half.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

#: The longest a pool waits for the imports (a stuck import must not stop the run too).
WAIT_S = 60.0

#: One event per warming thread, set when its imports are done.
_PENDING: list[threading.Event] = []


def start(imports: Callable[..., None], *args: Any) -> None:
    """Run ``imports(*args)`` on a daemon thread."""
    _PENDING[:] = [e for e in _PENDING if not e.is_set()]
    done = threading.Event()
    _PENDING.append(done)

    def run() -> None:
        try:
            imports(*args)
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()


def finish() -> None:
    """Wait for every warming thread's imports (at most :data:`WAIT_S` each)."""
    for done in tuple(_PENDING):
        done.wait(WAIT_S)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool of ``workers``, made once the warming imports are done."""
    finish()
    return ProcessPoolExecutor(max_workers=workers)
