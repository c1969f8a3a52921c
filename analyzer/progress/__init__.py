"""A progress display on stderr while captures are read (rich.progress).

How the CLI wires it (``--progress/--no-progress``, ``--quiet``)::

    from analyzer import progress

    with progress.display(paths, quiet=quiet, forced=forced) as on_progress:
        results = run_batch(paths, options, config, jobs, on_done, on_batch,
                            on_progress=on_progress)

``display(...)`` yields ``None`` (no display at all, nothing written) unless
``enabled(quiet, forced)``: stderr is a terminal and ``$CI`` is not set, or ``forced`` is
True (``--progress``; then the bar is drawn even on a pipe); ``forced=False``
(``--no-progress``) and ``quiet`` turn it off, and ``quiet`` wins. ``forced=None`` (neither
flag) follows the terminal. ``analyze_capture(path, ..., on_progress=on_progress)`` takes
the same callback for one capture.

What it shows: one bar for the capture being read, with its name, the percent of the file
read (bytes of the file, compressed bytes for gzip/zstd), packets, packets/s and the time
left; with several captures a second bar over all of them (bytes of every file, a count of
captures done, a rate and the time left). The tshark engine cannot say how far into the
file it is: its bar shows packets and packets/s, without percent or time left. The bars are
transient: they are erased when the ``with`` block ends, leaving only what was printed.

While the display is live, ``sys.stderr`` is redirected above the bars, so warnings and
notes written to ``sys.stderr`` (or ``print(..., file=sys.stderr)``) stay readable; a
different rich ``Console`` on stderr would draw over the bars, so print through
``bars.CaptureProgress.console`` or plain ``sys.stderr`` until the block ends. stdout is never
touched: reports written there (or piped) are unchanged.

With ``--jobs > 1`` (a process pool) a capture's progress is not seen until it is done:
``run_batch`` reports each capture once, complete, as it finishes, so the bar over all
captures moves per file, with a rate and time left in bytes of the files.

The callback, ``on_progress(path, bytes_read, total, packets)``: ``total`` is the file's
size in bytes, 0 when unknown (tshark: ``bytes_read`` is then 0 and only ``packets``
counts). A call for a new path means the previous capture is done.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from analyzer.loader.native import OnProgress

__all__ = ["OnProgress", "display", "enabled", "task_display"]


def enabled(quiet: bool, forced: bool | None, stream: IO[str] | None = None) -> bool:
    """Whether to show the progress display: never with ``quiet``; else as ``forced`` says
    when it is not None; else only when ``stream`` (stderr) is a terminal and ``$CI`` is
    not set (or empty)."""
    if quiet:
        return False
    if forced is not None:
        return forced
    if os.environ.get("CI"):
        return False
    stream = stream if stream is not None else sys.stderr
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@contextmanager
def display(paths: Sequence[str | Path] = (), *, quiet: bool = False,
            forced: bool | None = None) -> Iterator[OnProgress | None]:
    """The callback of a display on stderr for the ``with`` block, or None when
    ``enabled(quiet, forced)`` says no (then nothing is drawn)."""
    if not enabled(quiet, forced):
        yield None
        return
    from analyzer.progress.bars import CaptureProgress

    with CaptureProgress(paths, force_terminal=bool(forced)) as shown:
        yield shown.on_progress


@contextmanager
def task_display(tasks: int, total_bytes: int, *, quiet: bool = False,
                 forced: bool | None = None) -> Iterator[Any]:
    """``TaskProgress.on_task`` for the ``with`` block, or None when ``enabled(quiet,
    forced)`` says no."""
    if not enabled(quiet, forced):
        yield None
        return
    from analyzer.progress.bars import TaskProgress

    with TaskProgress(tasks, total_bytes, force_terminal=bool(forced)) as shown:
        yield shown.on_task
