"""Running a command's captures: checks before anything is read, the batch (with the
progress display of ``analyzer.progress``), one line per failure, note or warning on
stderr, and the exit codes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from analyzer.api import CaptureResult
from analyzer.errors import (
    EXIT_INPUT,
    EXIT_TRUNCATED_STRICT,
    EXIT_USAGE,
    AnalyzerError,
    one_line,
)
from analyzer.options import RunOptions


def err(message: str) -> None:
    """One line on stderr (control characters escaped: see ``errors.one_line``)."""
    typer.echo(one_line(message), err=True)


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print ``message`` on stderr; the ``typer.Exit`` to raise."""
    err(message)
    return typer.Exit(code)


def run(captures: list[Path], opts: RunOptions, *,
        on_batch: Callable[[Any], None] | None = None, app_details: bool = True,
        jobs: int | None = None, quiet: bool | None = None,
        dataset: Path | None = None) -> list[CaptureResult]:
    """Read every capture (directories and globs expanded, ``jobs`` at a time); report each
    failure as one line; exit at once on environment errors (tshark, display filter).

    A scaled-out run (``opts.scaled_out``) goes through ``analyzer.cluster``; with
    ``dataset`` its tasks write their records there as a Parquet dataset (written aside and
    moved into place once every task is done) instead of handing them to ``on_batch``."""
    from analyzer import progress
    from analyzer.api import check_options
    from analyzer.batch import CAPTURE_SUFFIXES, expand_inputs, run_batch
    from analyzer.core.tracker import TrackerConfig

    quiet = opts.quiet if quiet is None else quiet
    options = opts.load_options(app_details=app_details)
    try:
        check_options(options)
        if opts.dask is not None:
            from analyzer.cluster import parse_dask

            parse_dask(opts.dask)
    except AnalyzerError as exc:
        raise fail(f"error: {exc}", exc.exit_code) from None
    config = TrackerConfig(check_checksums=opts.check_checksums)
    empty: list[str] = []
    paths = expand_inputs(captures, on_empty=empty.append)
    if not paths:
        raise fail(f"error: no capture files found in {', '.join(empty)} (looked for "
                   f"{', '.join('*' + s for s in CAPTURE_SUFFIXES)})", EXIT_INPUT)
    for directory in empty:
        err(f"note: {directory}: no capture files in it")
    if opts.scaled_out:
        try:
            results: list[CaptureResult]
            if dataset is None:
                results = run_scaled(paths, options, config, opts, quiet=quiet).results
            else:
                from analyzer.cluster.tasks import drop_leftovers
                from analyzer.report.folder import staged

                with staged(dataset) as stage:
                    results = run_scaled(paths, options, config, opts, quiet=quiet,
                                         dataset=str(stage.absolute())).results
                    drop_leftovers(stage)
        except AnalyzerError as exc:  # the cluster is out of reach, or a task failed
            raise fail(f"error: {exc}", exc.exit_code) from None
        if on_batch is not None:
            from analyzer.core.columns import RecordsBatch

            for result in results:
                if result.error is None:
                    on_batch(RecordsBatch(result.records))
                    result.records = []
    else:
        with progress.display(paths, quiet=quiet, forced=opts.progress) as on_progress:
            results = run_batch(paths, options, config, jobs or opts.jobs, on_batch=on_batch,
                                on_progress=on_progress)
    for result in results:
        for note in result.notes:
            err(f"note: {note}")
        if result.error is not None:
            err(f"error: {result.error}")
        for warning in result.warnings:
            err(f"warning: {result.path}: {warning}")
    if len(results) > 1 and not quiet:
        ok = sum(r.status == "ok" for r in results)
        err(f"{len(results)} captures: {ok} ok, "
            f"{sum(r.status.startswith('warning') for r in results)} with warnings, "
            f"{sum(r.error is not None for r in results)} failed")
    return results


def run_scaled(paths: list[str], options: Any, config: Any, opts: RunOptions, *,
               quiet: bool, dataset: str | None = None) -> Any:
    """The tasks of ``paths`` on the cluster (``--dask``) or the process pool (``--shards``
    alone), with the task display on stderr and the dashboard's address; a failed task is
    :class:`analyzer.cluster.TaskFailed`, raised (the caller writes nothing)."""
    import os

    from analyzer import progress
    from analyzer.cluster import plan, run_cluster
    from analyzer.loader.files import file_size

    tasks = plan(paths, opts.shards)
    total = sum(file_size(t.path) for t in tasks)
    if opts.shards > 1 and not quiet and options.engine == "tshark":
        err("note: --shards splits what the native engine reads; with --engine tshark each "
            "capture is read whole by its first shard")

    def dashboard(link: str) -> None:
        if not quiet:
            err(f"Dask dashboard: {link}")

    with progress.task_display(len(tasks), total, quiet=quiet,
                               forced=opts.progress) as on_task:
        return run_cluster(paths, options, config, dask=opts.dask, shards=opts.shards,
                           jobs=opts.jobs or os.cpu_count(), dataset=dataset,
                           on_task=on_task, on_dashboard=dashboard)



def exit_code(results: list[CaptureResult], strict: bool) -> int:
    if any(r.error is not None for r in results):
        return EXIT_INPUT
    if strict and any(r.truncated_at is not None for r in results):
        return EXIT_TRUNCATED_STRICT
    return 0


def load_rules(policy: Path | None, rule: list[str] | None) -> list[Any]:
    """Rules from --policy FILE and --rule EXPR, parsed before any capture is read."""
    from analyzer.report import rules as rules_mod

    rules: list[rules_mod.Rule] = []
    try:
        if policy is not None:
            try:
                text = policy.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                raise fail(f"error: {policy}: cannot read the policy: {reason}") from None
            rules.extend(rules_mod.load_policy(text, str(policy)))
        rules.extend(rules_mod.parse(expr) for expr in rule or ())
    except (rules_mod.RuleError, rules_mod.PolicyError) as exc:
        raise fail(f"error: {exc}") from None
    return rules


def evaluate(results: list[CaptureResult], rules: list[Any]) -> list[Any]:
    """Every rule on every capture that could be read; an error entry for the others."""
    from analyzer.report import rules as rules_mod

    checks: list[rules_mod.CaptureCheck] = []
    for result in results:
        if result.error is not None:
            message = str(result.error).removeprefix(f"{result.path}: ")
            checks.append(rules_mod.CaptureCheck(result.path, error=message))
            continue
        data = rules_mod.CaptureData.from_records(result.path, result.records)
        checks.append(rules_mod.CaptureCheck(
            result.path, rules_mod.evaluate_all(rules, data), warnings=list(result.warnings),
            truncated=result.truncated_at is not None))
    return checks
