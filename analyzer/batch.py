"""Many captures in one run: expand directories and globs, work them in parallel.

Every input accounts for itself: a result per file, in input order, with a status
("ok", "warning: ...", "error: ..."); nothing is skipped silently.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable
from concurrent.futures import as_completed
from pathlib import Path

from analyzer import warmup
from analyzer.api import CaptureResult, OnBatch, analyze_capture
from analyzer.core.columns import RecordsBatch
from analyzer.core.tracker import TrackerConfig
from analyzer.loader import LoadOptions
from analyzer.loader.files import file_size
from analyzer.loader.native import OnProgress

#: What a directory contributes, searched recursively.
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz", ".cap.gz",
                    ".pcap.zst", ".pcapng.zst")


def is_capture_name(name: str) -> bool:
    return name.lower().endswith(CAPTURE_SUFFIXES)


def expand_inputs(paths: Iterable[str | Path],
                  on_empty: Callable[[str], None] | None = None) -> list[str]:
    """Files as given, directories searched recursively for captures, globs expanded.

    A pattern or name that matches nothing is kept, so that it is reported as missing.
    Inside a directory, every entry with a capture's name is kept, files or not (a
    directory or FIFO named ``x.pcap`` is then reported, not skipped); a directory with
    none is passed to ``on_empty``. A file named twice is read twice; order follows the
    arguments (directory contents sorted).
    """
    out: list[str] = []
    for raw in paths:
        text = str(raw)
        path = Path(text)
        if _is_dir(path):
            found = sorted(str(p) for p in path.rglob("*") if is_capture_name(p.name))
            if not found and on_empty is not None:
                on_empty(text)
            out.extend(found)
        elif not _exists(path) and any(ch in text for ch in "*?["):
            matches = sorted(glob.glob(text, recursive=True))
            out.extend(matches or [text])
        else:
            out.append(text)
    return out


def _is_dir(path: Path) -> bool:
    """``Path.is_dir``, false for a name the system cannot even look up (too long)."""
    try:
        return path.is_dir()
    except OSError:
        return False


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except OSError:
        return False


def _work(path: str, options: LoadOptions, config: TrackerConfig) -> CaptureResult:
    return analyze_capture(path, options, config)


def run_batch(paths: list[str], options: LoadOptions, config: TrackerConfig,
              jobs: int | None = None,
              on_done: Callable[[CaptureResult], None] | None = None,
              on_batch: OnBatch | None = None,
              on_progress: OnProgress | None = None) -> list[CaptureResult]:
    """Analyze every capture; ``jobs`` processes at once (default: the number of cores).

    ``on_batch``: every capture's records go to it, capture by capture in input order, and
    are not kept in the results (see ``analyze_capture``).

    ``on_progress(path, bytes_read, total, packets)`` (see ``analyzer.progress``): with one
    process, called while each capture is read; with a process pool, once per capture as
    it finishes (``bytes_read == total``, the file's size), so a display moves per file.
    """
    jobs = max(1, jobs or os.cpu_count() or 1)
    results: dict[int, CaptureResult] = {}
    if jobs == 1 or len(paths) <= 1:
        for i, path in enumerate(paths):
            results[i] = analyze_capture(path, options, config, on_batch, on_progress)
            if on_done:
                on_done(results[i])
    else:
        with warmup.process_pool(min(jobs, len(paths))) as pool:
            futures = {pool.submit(_work, path, options, config): i
                       for i, path in enumerate(paths)}
            written = 0
            for future in as_completed(futures):
                result = future.result()
                results[futures[future]] = result
                if on_progress is not None:
                    size = file_size(result.path)
                    on_progress(result.path, size, size, result.packets)
                if on_done:
                    on_done(result)
                # Hand the records over in input order as soon as their turn comes.
                while on_batch is not None and written in results:
                    done = results[written]
                    if done.error is None:
                        on_batch(RecordsBatch(done.records))
                    done.records = []
                    written += 1
    return [results[i] for i in range(len(paths))]
