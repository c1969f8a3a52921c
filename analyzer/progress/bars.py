"""The rich displays behind ``analyzer.progress``: the bars of a local run
(:class:`CaptureProgress`) and of a scaled-out one (:class:`TaskProgress`). Imported only
when a display is shown, so that a run without one does not load rich."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TaskProgressColumn
from rich.text import Text

from analyzer.loader.files import file_size

#: Seconds between two redraws asked for by the callback (rich also redraws on its own).
_REDRAW = 0.1


def _count(n: float) -> str:
    if n >= 10_000_000:
        return f"{n / 1_000_000:.0f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    return f"{n:.0f}"


class _Packets(ProgressColumn):
    """Packets read and packets per second."""

    def render(self, task: Task) -> Text:
        packets = int(task.fields.get("packets", 0))
        elapsed = task.elapsed or 0.0
        rate = f"{_count(packets / elapsed)} packets/s" if elapsed > 0 and packets else (
            "? packets/s")
        return Text(f"{_count(packets)} packets {rate}", style="progress.data.speed")


class _Left(ProgressColumn):
    """Time left, from the rate over bytes; nothing when the total is unknown."""

    max_refresh = 0.5

    def render(self, task: Task) -> Text:
        if task.total is None or task.finished:
            return Text("")
        left = task.time_remaining
        if left is None:
            return Text("ETA ?", style="progress.remaining")
        minutes, seconds = divmod(int(left), 60)
        hours, minutes = divmod(minutes, 60)
        text = f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
        return Text(f"ETA {text}", style="progress.remaining")


def _bars(console: Console | None, force_terminal: bool, transient: bool,
          ) -> tuple[Console, Progress]:
    """The console (default: stderr) and the rich display both displays draw: name, bar,
    percent, packets and packets/s, time left."""
    console = console if console is not None else Console(
        stderr=True, force_terminal=True if force_terminal else None)
    return console, Progress(
        "[progress.description]{task.description}", BarColumn(bar_width=24),
        TaskProgressColumn(), _Packets(), _Left(),
        console=console, transient=transient, redirect_stdout=False,
        redirect_stderr=True, refresh_per_second=8)


class CaptureProgress:
    """The display: a context manager whose ``on_progress`` method is the callback.

    ``paths``: the captures of the run, in order (for the bar over all of them; none, or
    one, shows the capture's bar only). ``console``: where to draw (default: stderr, drawn
    as a terminal when ``force_terminal``).
    """

    def __init__(self, paths: Sequence[str | Path] = (), console: Console | None = None,
                 force_terminal: bool = False, transient: bool = True) -> None:
        self.console, self._progress = _bars(console, force_terminal, transient)
        self._paths = [str(p) for p in paths]
        self._sizes = [file_size(p) for p in self._paths]
        self._overall: TaskID | None = None
        self._task: TaskID | None = None
        self._current: str | None = None
        self._total = 0
        self._done = 0
        self._done_bytes = 0
        self._done_packets = 0
        self._current_bytes = 0
        self._current_packets = 0
        self._redrawn = 0.0

    def __enter__(self) -> CaptureProgress:
        self._progress.start()
        if len(self._paths) > 1:
            self._overall = self._progress.add_task(
                self._overall_text(), total=sum(self._sizes) or None, packets=0)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Mark the last capture done and take the display down (erased when transient)."""
        if self._current is not None:
            self._finish_current()
        self._progress.stop()

    def on_progress(self, path: str, bytes_read: int, total: int, packets: int) -> None:
        """The callback (see the module docstring)."""
        if path != self._current:
            if self._current is not None:
                self._finish_current()
            self._current, self._total = path, total
            self._task = self._progress.add_task(_name(path), total=total or None, packets=0)
        assert self._task is not None
        if total and total != self._total:
            self._total = total
            self._progress.update(self._task, total=total)
        self._current_bytes, self._current_packets = bytes_read, packets
        self._progress.update(self._task, completed=bytes_read if total else 0,
                              packets=packets)
        self._update_overall()
        now = time.monotonic()
        if now - self._redrawn >= _REDRAW:
            self._redrawn = now
            self._progress.refresh()

    def _finish_current(self) -> None:
        assert self._task is not None and self._current is not None
        if self._total:
            self._progress.update(self._task, completed=self._total)
        else:
            self._progress.update(self._task, total=1, completed=1)
        self._progress.refresh()
        self._progress.remove_task(self._task)
        size = file_size(self._current)
        self._done += 1
        self._done_bytes += size
        self._done_packets += self._current_packets
        self._current_bytes = self._current_packets = 0
        self._current = self._task = None
        self._update_overall()

    def _overall_text(self) -> str:
        return f"{self._done}/{len(self._paths)} captures"

    def _update_overall(self) -> None:
        if self._overall is None:
            return
        self._progress.update(
            self._overall, description=self._overall_text(),
            completed=self._done_bytes + self._current_bytes,
            packets=self._done_packets + self._current_packets)


def _name(path: str) -> str:
    name = os.path.basename(path) or path
    return name if len(name) <= 32 else name[:15] + "…" + name[-16:]


class TaskProgress:
    """The display of a scaled-out run (``analyzer.cluster``): one bar over every task, by
    bytes read (each shard of a capture reads the whole file), with the tasks done, the
    packets and packets/s across the cluster, and the time left. ``on_task`` is the
    cluster's callback: progress events while tasks read, and one when each is done."""

    def __init__(self, tasks: int, total_bytes: int, console: Console | None = None,
                 force_terminal: bool = False, transient: bool = True) -> None:
        self.console, self._progress = _bars(console, force_terminal, transient)
        self._tasks = tasks
        self._done: set[str] = set()
        self._bytes: dict[str, int] = {}
        self._packets: dict[str, int] = {}
        self._bar = self._progress.add_task(self._text(), total=total_bytes or None,
                                            packets=0)

    def __enter__(self) -> TaskProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.stop()

    def _text(self) -> str:
        return f"{len(self._done)}/{self._tasks} tasks"

    def on_task(self, event: dict[str, Any]) -> None:
        key = str(event.get("task"))
        if key in self._done:
            return  # a late event of a task already counted
        self._bytes[key] = int(event.get("bytes", 0))
        self._packets[key] = int(event.get("packets", 0))
        if event.get("done"):
            self._done.add(key)
        self._progress.update(self._bar, description=self._text(),
                              completed=sum(self._bytes.values()),
                              packets=sum(self._packets.values()))
