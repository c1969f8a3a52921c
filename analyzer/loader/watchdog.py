"""A stalled tshark must not stall the analyzer: tshark runs under a watchdog that stops it
when it has made no progress for a while, and the read then fails with one line.

Progress is output (lines the loader reads) or CPU time (``/proc/PID/stat`` on Linux): a
tshark that works through a large capture whose filter matches nothing prints nothing for
a long time but keeps using the CPU, while one that hangs (blocked on a lock or a pipe,
stopped) uses none. The limit is ``PCAP_ANALYZER_TSHARK_TIMEOUT`` seconds (default
``DEFAULT_TIMEOUT``); ``0`` turns the watchdog off."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from types import TracebackType

from analyzer.errors import AnalyzerError

#: Seconds without output and without CPU time before tshark is stopped.
DEFAULT_TIMEOUT = 120.0
ENV = "PCAP_ANALYZER_TSHARK_TIMEOUT"


class TsharkStalled(AnalyzerError):
    """tshark made no progress for ``seconds`` and was stopped (exit 3)."""

    def __init__(self, path: str, seconds: float) -> None:
        super().__init__(path, seconds)
        self.path, self.seconds = path, seconds

    def __str__(self) -> str:
        return (f"{self.path}: tshark made no progress for {self.seconds:g} s and was "
                f"stopped (set {ENV} to wait longer, 0 for ever)")


def timeout() -> float:
    """The limit in seconds (``ENV``; a value that is not a number is the default)."""
    try:
        value = float(os.environ.get(ENV, DEFAULT_TIMEOUT))
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value >= 0 else DEFAULT_TIMEOUT


def _cpu_ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rpartition(b")")[2].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, ValueError, IndexError):
        return None


class Watchdog:
    """``with Watchdog(proc) as dog:`` call ``dog.progress()`` on output; when the block
    ends, ``dog.fired`` says whether the process was stopped for making no progress."""

    def __init__(self, proc: subprocess.Popen[bytes], limit: float | None = None,
                 poll: float = 0.5) -> None:
        self.proc, self.limit, self.poll = proc, timeout() if limit is None else limit, poll
        self.fired = False
        self._outputs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def progress(self) -> None:
        self._outputs += 1

    def __enter__(self) -> Watchdog:
        if self.limit > 0:
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _watch(self) -> None:
        seen = (self._outputs, _cpu_ticks(self.proc.pid))
        since = time.monotonic()
        while not self._stop.wait(self.poll):
            if self.proc.poll() is not None:
                return
            now = (self._outputs, _cpu_ticks(self.proc.pid))
            if now != seen:
                seen, since = now, time.monotonic()
            elif time.monotonic() - since >= self.limit:
                self.fired = True
                self.proc.kill()
                return


def run(args: list[str], path: str, limit: float | None = None
        ) -> subprocess.CompletedProcess[bytes]:
    """``subprocess.run(args, capture_output=True)`` under a watchdog; raises TsharkStalled."""
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL) as proc, Watchdog(proc, limit) as dog:
        out, err = proc.communicate()
    if dog.fired:
        raise TsharkStalled(path, dog.limit)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)
