"""The units of work of a scaled-out run, and what one task does on a worker.

A task is a capture, or one shard of a capture (``--shards N``: shard ``k`` tracks only
the connections of the host pairs that hash to ``k``; see ``_engine.shard_of``). A task
reads its capture with the engine the options choose and either returns its records or
writes them as one Parquet file of a dataset (``dataset``), and always returns its
:class:`TaskResult`. A task run twice (a worker lost mid-task, the task rerun elsewhere)
writes the same file under the same name, so that the dataset never holds a record twice.
"""

from __future__ import annotations

import os
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from analyzer.api import CaptureResult, analyze_capture
from analyzer.core.columns import Batch
from analyzer.core.tracker import TrackerConfig
from analyzer.errors import AnalyzerError, CaptureError
from analyzer.loader import LoadOptions
from analyzer.loader.files import file_size

#: The topic workers publish their progress on (``Worker.log_event``).
PROGRESS_TOPIC = "pcap-analyzer-progress"
#: Seconds between two progress events of one task.
PROGRESS_EVERY_S = 0.5


@dataclass(frozen=True, slots=True)
class Task:
    """Shard ``shard`` of ``shards`` of the capture ``name`` (as the user gave it; records
    and messages name it so), found at ``path`` (absolute, for workers elsewhere).
    ``index``: the capture's place among the run's inputs."""

    index: int
    name: str
    path: str
    shard: int = 0
    shards: int = 1

    @property
    def label(self) -> str:
        """How messages name the task: the capture, and its shard when there are several."""
        if self.shards == 1:
            return self.name
        return f"{self.name} (shard {self.shard + 1} of {self.shards})"

    @property
    def key(self) -> str:
        return f"{self.index}-{self.shard}-of-{self.shards}"


def plan(paths: list[str], shards: int = 1) -> list[Task]:
    """The tasks of a run: every capture, each in ``shards`` shards, in input order."""
    shards = max(1, shards)
    return [Task(i, name, os.path.abspath(name), k, shards)
            for i, name in enumerate(paths) for k in range(shards)]


@dataclass(slots=True)
class TaskResult:
    """What a task hands back: the capture's result for its shard (records included unless
    they went to the dataset), the rows it wrote there, where and how long it ran."""

    task: Task
    result: CaptureResult
    rows: int = 0
    file: str | None = None
    worker: str = ""
    seconds: float = 0.0
    bytes_read: int = 0


def partition_dir(dataset: str | Path, capture: str) -> Path:
    """The dataset folder of one capture: a hive partition ``capture=<name>``, the name
    percent-encoded as pyarrow encodes partition values (so ``/`` is ``%2F``)."""
    return Path(dataset) / f"capture={urllib.parse.quote(capture, safe='')}"


def part_name(task: Task) -> str:
    """The task's file in its partition: the capture's place among the inputs (a capture
    given twice is read twice, as in a local run) and the shard."""
    return f"part-{task.index:05d}-{task.shard:04d}-of-{task.shards:04d}.parquet"


def drop_leftovers(dataset: str | Path) -> None:
    """Remove what tasks left that is not data: files lost mid-write (a worker killed
    while it wrote: the rerun of its task wrote the file whole), and the empty folders of
    captures that could not be read."""
    for left in Path(dataset).glob("capture=*/.part-*.tmp"):
        left.unlink(missing_ok=True)
    # A capture that could not be read left its partition's folder empty.
    for folder in Path(dataset).glob("capture=*"):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def run_task(task: Task, options: LoadOptions, config: TrackerConfig,
             dataset: str | None = None) -> TaskResult:
    """Run one task (on a worker, or in this process): read the capture's shard and return
    its records, or write them to ``dataset`` as ``capture=<name>/part-I-K-of-N.parquet``
    (written aside and renamed into place, so that a file there is always whole)."""
    start = time.monotonic()
    name = _readable_name(task)
    shard = (task.shard, task.shards) if task.shards > 1 else None
    options = replace(options, shard=shard)
    on_progress = _progress_reporter(task)
    out = TaskResult(task, CaptureResult(task.name), worker=_worker_address())
    if dataset is None:
        result = analyze_capture(name, options, config, on_progress=on_progress)
    else:
        result, out.rows, out.file = _write_part(task, name, options, config, dataset,
                                                 on_progress)
    if result.error is not None:
        # Only the error travels back: not the engine's exception it was raised from (its
        # class lives in the extension module, which pickle cannot name).
        result.error.__context__ = result.error.__cause__ = None
        result.error.__traceback__ = None
    out.result = _renamed(result, name, task.name)
    out.seconds = time.monotonic() - start
    out.bytes_read = file_size(name) if result.error is None else 0
    return out


def _write_part(task: Task, name: str, options: LoadOptions, config: TrackerConfig,
                dataset: str, on_progress: Callable[[str, int, int, int], None] | None,
                ) -> tuple[CaptureResult, int, str | None]:
    """Stream the task's records into its Parquet file of the dataset."""
    from analyzer.report.sinks import ParquetSink

    folder = partition_dir(dataset, task.name)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / part_name(task)
    # A hidden name while it is written: readers of the dataset skip it (pyarrow ignores
    # names starting with '.' or '_'), and a rerun of the task writes its own.
    aside = folder / f".{final.name}.{uuid.uuid4().hex}.tmp"
    rows = [0]
    try:
        with aside.open("wb") as fh:
            # The capture is the partition's value (``capture=<name>``), not a column
            # of the file: readers of the dataset (pyarrow, pandas, Dask, DuckDB) add it.
            sink = ParquetSink(fh, without=("capture",))

            def write(batch: Batch) -> None:
                rows[0] += len(batch)
                sink.write(_named(batch, name, task.name))

            try:
                result = analyze_capture(name, replace(options, app_details=False), config,
                                         on_batch=write, on_progress=on_progress)
            finally:
                sink.close()
        if result.error is not None:
            aside.unlink(missing_ok=True)
            return result, 0, None
        os.replace(aside, final)
    except BaseException:
        aside.unlink(missing_ok=True)
        raise
    return result, rows[0], str(final)


def _named(batch: Batch, name: str, given: str) -> Batch:
    """A batch whose records name the capture as the user gave it."""
    from analyzer.core.columns import NativeBatch, RecordsBatch

    if name == given:
        return batch
    if isinstance(batch, NativeBatch):
        return NativeBatch(given, batch.engine_batch)
    if isinstance(batch, RecordsBatch):
        return RecordsBatch([replace(r, capture=given) for r in batch.records])
    return batch


def _readable_name(task: Task) -> str:
    """The name to open: the one the user gave when it names the same file here (the
    worker runs where the client does), else the absolute path."""
    if task.name == task.path or os.path.isabs(task.name):
        return task.name
    try:
        if os.path.samefile(task.name, task.path):
            return task.name
    except OSError:
        pass
    return task.path


def _renamed(result: CaptureResult, name: str, given: str) -> CaptureResult:
    """The result as if the capture had been opened by the name the user gave."""
    if name == given:
        return result
    result.path = given
    result.records = [replace(r, capture=given) for r in result.records]
    result.notes = [n.replace(name, given) for n in result.notes]
    result.warnings = [w.replace(name, given) for w in result.warnings]
    if isinstance(result.error, CaptureError):
        result.error = CaptureError(given, str(result.error).removeprefix(f"{name}: "))
    elif result.error is not None:
        error = AnalyzerError(str(result.error).replace(name, given))
        error.exit_code = result.error.exit_code
        result.error = error
    return result


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


def _progress_reporter(task: Task) -> Callable[[str, int, int, int], None] | None:
    """On a Dask worker, a progress callback that publishes ``(key, bytes, total,
    packets)`` on ``PROGRESS_TOPIC`` at most every ``PROGRESS_EVERY_S``; elsewhere None."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return None
    last = [0.0]

    def report(_path: str, done: int, total: int, packets: int) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY_S and done < total:
            return
        last[0] = now
        worker.log_event(PROGRESS_TOPIC, {"task": task.key, "bytes": done, "total": total,
                                          "packets": packets, "worker": worker.address})

    return report
