"""Scale-out: a run's captures, or shards of one capture, as tasks on a Dask cluster (or, for
``--shards`` without ``--dask``, on this machine's process pool), merged into the records
of a local run.

>>> from analyzer.cluster import run_cluster
>>> run = run_cluster(["big.pcap"], options, config, dask="local:2", shards=4)
>>> run.results[0].records   # the same records, in the same order, as a local run

Where it runs (``dask``): ``"local:N"`` starts a LocalCluster of N worker processes on this
machine for the run; any other text is a scheduler's address (``tcp://host:8786``); a
``distributed.Client`` is used as it is (and left open). None runs the tasks here, ``jobs``
at a time. Workers must see the captures (and ``dataset``) under the same paths.

A task that fails (a worker lost more often than the scheduler allows, an exception in
the task) stops the run with :class:`TaskFailed`, naming its capture and shard; nothing is
merged or written then. A capture that cannot be read is not a task failure: its result
carries the error, as in a local run.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from analyzer import warmup
from analyzer.api import CaptureResult
from analyzer.cluster.merge import merge
from analyzer.cluster.tasks import PROGRESS_TOPIC, Task, TaskResult, plan, run_task
from analyzer.core.tracker import TrackerConfig
from analyzer.errors import EXIT_INPUT, EXIT_TASK_FAILED, AnalyzerError, UsageError
from analyzer.loader import LoadOptions

__all__ = ["ClusterRun", "TaskFailed", "connect", "parse_dask", "plan", "run_cluster"]

#: ``on_task(event)``: progress of the run's tasks, for a display. Events are dicts:
#: ``{"task": key, "bytes": n, "total": size, "packets": n}`` while a task reads (Dask
#: workers only), and ``{"task": key, "done": True, ...}`` when it finishes.
OnTask = Callable[[dict[str, Any]], None]


class TaskFailed(AnalyzerError):
    """A task of a scaled-out run failed: its capture and shard, and why."""

    exit_code = EXIT_TASK_FAILED

    def __init__(self, task: Task, reason: str) -> None:
        super().__init__(task, reason)
        self.task, self.reason = task, reason

    def __str__(self) -> str:
        return f"{self.task.label}: task failed: {self.reason}"


class ClusterUnavailable(AnalyzerError):
    """The Dask scheduler cannot be reached or the cluster cannot be started."""

    exit_code = EXIT_INPUT


@dataclass(slots=True)
class ClusterRun:
    """A scaled-out run: one merged result per capture, in input order, and every task's
    own result (for the dataset's files and the run's figures)."""

    results: list[CaptureResult]
    tasks: list[TaskResult] = field(default_factory=list)
    dashboard: str | None = None


def parse_dask(spec: str) -> str:
    """Check ``--dask``'s value: ``local:N`` (N >= 1) or a scheduler address; raises
    UsageError."""
    if spec.startswith("local"):
        count = spec.removeprefix("local").removeprefix(":")
        if not count.isdigit() or int(count) < 1:
            raise UsageError(f"--dask {spec!r}: give local:N with N >= 1 worker processes, "
                             "or a scheduler address such as tcp://host:8786")
    elif not spec.strip():
        raise UsageError("--dask: give local:N or a scheduler address")
    return spec


@contextmanager
def connect(dask: Any) -> Iterator[Any]:
    """A ``distributed.Client`` for ``dask`` (see the module docstring), closed at the end
    unless it was given."""
    try:
        import distributed
    except ImportError:
        raise ClusterUnavailable(
            "--dask needs dask.distributed: pip install 'pcap-analyzer[dask]'") from None
    if not isinstance(dask, str):
        yield dask
        return
    Client: Any = distributed.Client
    LocalCluster: Any = distributed.LocalCluster
    if dask.startswith("local"):
        workers = int(dask.removeprefix("local").removeprefix(":"))
        try:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=":0", silence_logs=logging.CRITICAL)
        except (OSError, RuntimeError) as exc:
            raise ClusterUnavailable(f"cannot start a local Dask cluster: {exc}") from None
        with cluster, Client(cluster) as client:
            yield client
        return
    timeout = os.environ.get("PCAP_ANALYZER_DASK_TIMEOUT", "30")
    try:
        client = Client(dask, timeout=f"{timeout}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterUnavailable(f"cannot reach the Dask scheduler at {dask}: "
                                 f"{exc}") from None
    with client:
        yield client


def run_cluster(paths: list[str], options: LoadOptions, config: TrackerConfig, *,
                dask: Any = None, shards: int = 1, jobs: int | None = None,
                dataset: str | None = None, on_task: OnTask | None = None,
                on_dashboard: Callable[[str], None] | None = None) -> ClusterRun:
    """Run every task of ``paths`` x ``shards`` and merge them per capture (see the module
    docstring). ``dataset``: the tasks write their records there as Parquet
    (``tasks.partition_dir``) instead of returning them. ``on_dashboard`` gets the Dask
    dashboard's address when there is one."""
    tasks = plan(paths, shards)
    if dask is None:
        done = _on_pool(tasks, options, config, dataset, jobs, on_task)
        dashboard = None
    else:
        with connect(dask) as client:
            dashboard = _dashboard(client)
            if dashboard and on_dashboard is not None:
                on_dashboard(dashboard)
            done = _on_dask(client, tasks, options, config, dataset, on_task)
    by_capture: dict[int, list[TaskResult]] = {}
    for result in done:
        by_capture.setdefault(result.task.index, []).append(result)
    merged = [merge(by_capture[i]) for i in sorted(by_capture)]
    return ClusterRun(merged, sorted(done, key=lambda r: (r.task.index, r.task.shard)),
                      dashboard)


def _dashboard(client: Any) -> str | None:
    try:
        link = client.dashboard_link
    except (AttributeError, KeyError, ValueError):
        return None
    return str(link) if link else None


def _on_pool(tasks: list[Task], options: LoadOptions, config: TrackerConfig,
             dataset: str | None, jobs: int | None, on_task: OnTask | None,
             ) -> list[TaskResult]:
    """The tasks on this machine: in this process, or ``jobs`` processes at once."""
    jobs = max(1, jobs or os.cpu_count() or 1)
    done: list[TaskResult] = []
    if jobs == 1 or len(tasks) == 1:
        for task in tasks:
            done.append(_finished(run_task(task, options, config, dataset), on_task))
        return done
    with warmup.process_pool(min(jobs, len(tasks))) as pool:
        futures = {pool.submit(run_task, t, options, config, dataset): t for t in tasks}
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as exc:  # a task that raised, or a worker process that died
                for other in futures:
                    other.cancel()
                raise TaskFailed(futures[future], f"{type(exc).__name__}: {exc}") from None
            done.append(_finished(result, on_task))
    return done


def _finished(result: TaskResult, on_task: OnTask | None) -> TaskResult:
    if on_task is not None:
        on_task({"task": result.task.key, "done": True, "bytes": result.bytes_read,
                 "total": result.bytes_read, "packets": result.result.packets})
    return result


def _on_dask(client: Any, tasks: list[Task], options: LoadOptions, config: TrackerConfig,
             dataset: str | None, on_task: OnTask | None) -> list[TaskResult]:
    """The tasks on the cluster, one Dask task each; progress from the workers' events."""
    import distributed

    dask_completed: Any = distributed.as_completed

    run_id = secrets.token_hex(4)
    if on_task is not None:
        client.subscribe_topic(PROGRESS_TOPIC, lambda event: on_task(event[1]))
    futures = {client.submit(run_task, task, options, config, dataset, pure=False,
                             key=f"pcap-analyzer-{run_id}-{task.key}"): task
               for task in tasks}
    done: list[TaskResult] = []
    try:
        for future in dask_completed(list(futures)):
            task = futures[future]
            try:
                result = future.result()
            except Exception as exc:
                client.cancel(list(futures))
                raise TaskFailed(task, _reason(exc)) from None
            done.append(_finished(result, on_task))
    finally:
        if on_task is not None:
            client.unsubscribe_topic(PROGRESS_TOPIC)
    return done


def _reason(exc: BaseException) -> str:
    """What a failed Dask task says, in one line."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    if name == "KilledWorker":
        return ("the workers running it died too often (KilledWorker; "
                "distributed.scheduler.allowed-failures)")
    if name in ("CancelledError", "FutureCancelledError"):
        return "cancelled (the scheduler or the client went away)"
    return f"{name}: {text}" if text else name
