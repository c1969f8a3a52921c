"""The writers of the command line, one per (command, format): :data:`WRITERS`. Each
reads what its command needs and writes it; ``--format``'s choices come from here
(:func:`choices`), so that ``--help`` and the writers cannot disagree."""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from analyzer.errors import (
    EXIT_CHECK_FAILED,
    EXIT_INPUT,
    EXIT_TASK_FAILED,
    EXIT_USAGE,
    AnalyzerError,
)
from analyzer.options import RunOptions
from analyzer.report.formats import Format, default_format
from analyzer.run import err, evaluate, exit_code, fail, run


@dataclasses.dataclass(frozen=True)
class Job:
    """One command's request: what to read, how, and where to write."""

    command: str
    captures: list[Path]
    opts: RunOptions
    output: Path | None = None
    wide: bool = False
    columns: list[str] | None = None
    conn: str | None = None  # explain --conn
    rules: list[Any] = dataclasses.field(default_factory=list)  # check
    junit: Path | None = None  # check --junit


Writer = Callable[[Job], int]  # the exit code


@contextlib.contextmanager
def _text(job: Job, newline: str | None = "") -> Iterator[TextIO]:
    if job.output is None:
        yield sys.stdout
        return
    with job.output.open("w", encoding="utf-8", newline=newline) as out:
        yield out


def _require_file(job: Job) -> Path:
    if job.output is None:
        raise fail("error: --format parquet writes a binary file: give it one with -o FILE")
    return job.output


# connections ------------------------------------------------------------------------------

def _conn_stream(fmt: Format) -> Writer:
    def write(job: Job) -> int:
        """Records written batch by batch as the engine hands them over (the output file is
        opened before anything is read)."""
        from analyzer import warmup
        from analyzer.report.sinks import open_sink, warm_imports

        if fmt is Format.PARQUET:
            _require_file(job)
            if job.opts.dask is not None:
                return _conn_dataset(job)
        if fmt in (Format.PARQUET, Format.CSV):
            warmup.start(warm_imports, fmt)  # see analyzer.warmup
        with contextlib.ExitStack() as stack:
            if fmt is Format.PARQUET:
                assert job.output is not None
                sink = open_sink(fmt, None, stack.enter_context(job.output.open("wb")))
            else:
                sink = open_sink(fmt, stack.enter_context(_text(job)), None)
            # conn.log's service looks at the WebSocket sessions; the others write counts.
            results = run(job.captures, job.opts, on_batch=sink.write,
                          app_details=fmt is Format.ZEEK)
            sink.close()
        return exit_code(results, job.opts.strict)
    return write


def _conn_frame(fmt: Format) -> Writer:
    def write(job: Job) -> int:
        from analyzer.api import Analysis
        from analyzer.report import writers

        results = run(job.captures, job.opts)
        analysis = Analysis([r for r in results if r.error is None])
        with _text(job) as out:
            if fmt is Format.JSON:
                writers.write_json(analysis.records, out)
            elif fmt is Format.MARKDOWN:
                out.write(writers.markdown_table(analysis.connections.drop(
                    columns=["anomalies", "tunnel_parents", "first_time", "last_time"])))
            else:
                writers.write_table(analysis.connections, out, title="connections",
                                    several=len(results) > 1, wide=job.wide,
                                    columns=job.columns)
        return exit_code(results, job.opts.strict)
    return write


def _conn_dataset(job: Job) -> int:
    """``connections -f parquet -o DIR --dask ...``: the workers write a Parquet dataset,
    a hive partition per capture (``capture=<name>``), a file per task."""
    assert job.output is not None
    results = run(job.captures, job.opts, app_details=False, dataset=job.output)
    if not job.opts.quiet:
        files = sum(1 for _ in job.output.glob("capture=*/*.parquet"))
        err(f"wrote {job.output}: {files} Parquet file{'s' if files != 1 else ''}, "
            f"{sum(r.error is None for r in results)} capture(s)")
    return exit_code(results, job.opts.strict)


# http, websockets --------------------------------------------------------------------------

def _http_parquet(job: Job) -> int:
    """A row group per batch of records, straight from the engine's columns (memory follows
    one batch, not the whole capture)."""
    import pyarrow.parquet as pq

    from analyzer.core.columns import NativeBatch
    from analyzer.report import app as app_rows
    from analyzer.report.schema import (
        http_arrow_batch_from_engine,
        http_arrow_schema,
        plain_arrow_batch,
    )

    output = _require_file(job)
    schema = http_arrow_schema(app_rows.HTTP_COLUMNS)
    with output.open("wb") as f, pq.ParquetWriter(f, schema) as writer:
        def write(batch: Any) -> None:
            if isinstance(batch, NativeBatch):  # from the engine's buffers
                arrow = http_arrow_batch_from_engine(batch.engine_batch, batch.capture, schema)
            else:
                arrow = plain_arrow_batch(app_rows.batch_http_columns(batch), schema)
            if arrow.num_rows:
                writer.write_batch(arrow)

        results = run(job.captures, job.opts, on_batch=write)
    return exit_code(results, job.opts.strict)


def _app_rows(kind: str, fmt: Format) -> Writer:
    def write(job: Job) -> int:
        from analyzer.report import app as app_rows
        from analyzer.report import writers

        if fmt is Format.PARQUET:
            _require_file(job)
        # Rows are taken from each batch of records as the engine hands it over, and the
        # records dropped: only the rows are kept.
        parts: list[Any] = []

        def collect(batch: Any) -> None:
            parts.append(app_rows.batch_http_columns(batch) if kind == "http"
                         else app_rows.batch_websocket_rows(batch))

        df: Any = None
        if fmt is Format.TABLE:  # the records are kept, to number the rows as `connections`
            results = run(job.captures, job.opts)
            rows = app_rows.numbered_rows(kind, [r for res in results for r in res.records])
        elif kind == "http":
            results = run(job.captures, job.opts, on_batch=collect)
            cols = app_rows.concat_columns(parts, app_rows.HTTP_COLUMNS)
            df = app_rows.http_frame_from_columns(cols)
            rows = app_rows.rows_from_columns(cols) if fmt is not Format.PARQUET else []
        else:
            results = run(job.captures, job.opts, on_batch=collect)
            rows = [row for part in parts for row in part]
            df = app_rows.websocket_frame_from_rows(rows)
        if fmt is Format.PARQUET:
            writers.flat_frame(df).to_parquet(job.output, engine="pyarrow", index=False)
            return exit_code(results, job.opts.strict)
        table, fields = app_table(kind)
        with _text(job) as out:
            if fmt is Format.ZEEK:  # Zeek's http.log or websocket.log
                from analyzer.report import zeek

                (zeek.write_http_log if kind == "http" else zeek.write_websocket_log)(rows, out)
            else:
                writers.write_rows(rows, df, fmt, out, table, "HTTP transactions"
                                   if kind == "http" else "WebSocket upgrades",
                                   several=len(results) > 1, wide=job.wide,
                                   columns=job.columns, field_names=fields)
        return exit_code(results, job.opts.strict)
    return write


def app_table(kind: str) -> tuple[Any, Any]:
    """The table columns and the field names of ``connections``, ``http`` or
    ``websockets`` (for ``--wide`` and ``--columns``)."""
    from analyzer.report import app as app_rows
    from analyzer.report import writers

    return {"connections": (writers.TABLE_COLUMNS, writers.CONNECTION_FIELDS),
            "http": (app_rows.HTTP_TABLE, app_rows.HTTP_COLUMNS),
            "websockets": (app_rows.WS_TABLE, app_rows.WS_COLUMNS)}[kind]


def table_request(command: str, fmt: str | None, wide: bool,
                  columns: str | None) -> tuple[str, list[str] | None]:
    """The format (``-f``, or the default) and the ``--columns`` names (exit 2 when they
    do not go together)."""
    if not wide and columns is None:  # nothing to check: no table code (nor pandas) loaded
        return fmt or default_format().value, None
    from analyzer.report import writers

    try:
        return writers.table_request(None if fmt is None else Format(fmt), wide, columns,
                                     *app_table(command))
    except ValueError as exc:
        raise fail(f"error: {exc}") from None


# summary ---------------------------------------------------------------------------------

def _summary(render: Callable[[Any, TextIO], None]) -> Writer:
    def write(job: Job) -> int:
        from analyzer.api import Analysis

        results = run(job.captures, job.opts)
        df = Analysis(results).summary()
        with _text(job) as out:
            render(df, out)
        return exit_code(results, job.opts.strict)
    return write


def _summary_json(df: Any, out: TextIO) -> None:
    df.to_json(out, orient="records", indent=2)
    out.write("\n")


def _summary_markdown(df: Any, out: TextIO) -> None:
    from analyzer.report import writers

    for capture, group in df.groupby("capture", sort=False):
        out.write(f"### {writers.md_escape(str(capture))}\n\n")
        out.write(writers.markdown_table(group.drop(columns=["capture"])))
        out.write("\n")


def _summary_table(df: Any, out: TextIO) -> None:
    import pandas as pd
    from rich.table import Table
    from rich.text import Text

    from analyzer.report.writers import pipe_console
    from analyzer.text import inert

    console = pipe_console(file=out)
    for capture, group in df.groupby("capture", sort=False):
        table = Table(title=str(capture))
        for col in ("section", "item", "count", "percent", "value"):
            table.add_column(col, justify="right" if col in ("count", "percent", "value")
                             else "left")
        for row in group.to_dict("records"):
            pct, value = row["percent"], row["value"]
            cells = [row["section"], row["item"], str(row["count"]),
                     "" if pd.isna(pct) else f"{float(pct):.1f}%",
                     "" if pd.isna(value) else f"{float(value):g}"]
            table.add_row(*(Text(inert(str(c))) for c in cells))
        console.print(table)


# diff ------------------------------------------------------------------------------------

def _diff(fmt: str) -> Writer:
    def write(job: Job) -> int:
        import json

        from analyzer.report import diff as diff_mod

        before, after = job.captures
        results = run([before, after], job.opts, jobs=2, quiet=True)
        if any(r.error is not None for r in results):
            return EXIT_INPUT
        result = diff_mod.diff(results[0].records, results[1].records)
        with _text(job, newline=None) as out:
            if fmt == "json":
                json.dump({"before": str(before), "after": str(after),
                           "new_endpoints": result.new_endpoints,
                           "vanished_endpoints": result.vanished_endpoints,
                           "changes": result.changes,
                           "connection_changes": result.connection_changes}, out, indent=2)
                out.write("\n")
                return 0
            text = diff_mod.render_markdown(result, str(before), str(after))
            if fmt == "markdown":
                out.write(text)
            else:
                from rich.markdown import Markdown

                from analyzer.report.writers import pipe_console

                pipe_console(file=out).print(Markdown(text))
        return 0
    return write


# explain ---------------------------------------------------------------------------------

def _explain(fmt: str) -> Writer:
    def write(job: Job) -> int:
        from analyzer.report import explain as ex
        from analyzer.report.select import SelectionError
        from analyzer.reread import connection_packets

        results = run(job.captures, job.opts)
        if any(result.error is not None for result in results):
            return EXIT_INPUT
        try:
            number, record = ex.choose([r for res in results for r in res.records], job.conn)
        except SelectionError as exc:
            # the error line, then the candidates one per line
            for line in ex.selection_error(exc, [str(c) for c in job.captures]).splitlines():
                err(line)
            return EXIT_USAGE if job.conn else EXIT_INPUT
        try:
            packets = connection_packets(record, job.opts.load_options(session_reset=0))
        except AnalyzerError as exc:
            err(f"error: {exc}")
            return EXIT_INPUT
        steps = ex.ladder(record, packets)
        _put(job, ex.render_mermaid(record, steps) if fmt == "markdown"
             else ex.render_text(record, steps, number))
        return 0
    return write


def _put(job: Job, text: str) -> None:
    if job.output:
        job.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


# check -----------------------------------------------------------------------------------

def _check(fmt: str) -> Writer:
    def write(job: Job) -> int:
        from analyzer.report import junit as junit_xml
        from analyzer.report import rules as rules_mod

        results = run(job.captures, job.opts)
        checks = evaluate(results, job.rules)
        render = {"text": rules_mod.render_text, "json": rules_mod.render_json,
                  "markdown": rules_mod.render_markdown}[fmt]
        _put(job, render(checks))
        if job.junit is not None:
            try:
                junit_xml.write(checks, job.junit, job.opts.strict)
            except OSError as exc:
                err(f"error: {job.junit}: cannot write the JUnit report: "
                    f"{exc.strerror or exc}")
                return EXIT_INPUT
        code = exit_code(results, job.opts.strict)
        return code or (EXIT_CHECK_FAILED if rules_mod.failed(checks) else 0)
    return write


#: ``connections`` writes these batch by batch (``report.sinks.STREAMING_FORMATS``, not
#: imported here: the CLI parses its options without pandas).
STREAMED = (Format.JSONL, Format.CSV, Format.ZEEK, Format.PARQUET)

#: Every (command, format) pair ``--help`` offers, in ``--help``'s order.
WRITERS: dict[tuple[str, str], Writer] = {
    **{("connections", f.value): _conn_stream(f) if f in STREAMED else _conn_frame(f)
       for f in Format},
    **{("http", f.value): _http_parquet if f is Format.PARQUET else _app_rows("http", f)
       for f in Format},
    **{("websockets", f.value): _app_rows("websockets", f) for f in Format},
    ("summary", "table"): _summary(_summary_table),
    ("summary", "markdown"): _summary(_summary_markdown),
    ("summary", "json"): _summary(_summary_json),
    ("summary", "csv"): _summary(lambda df, out: df.to_csv(out, index=False)),
    **{("diff", f): _diff(f) for f in ("table", "markdown", "json")},
    **{("explain", f): _explain(f) for f in ("text", "markdown")},
    **{("check", f): _check(f) for f in ("text", "json", "markdown")},
}


def formats(command: str) -> list[str]:
    """The formats of ``command``, in the registry's order."""
    return [fmt for cmd, fmt in WRITERS if cmd == command]


def choices(command: str) -> type[enum.Enum]:
    """``--format``'s choices for ``command``: a str enum of its registered formats."""
    made: type[enum.Enum] = enum.Enum(  # type: ignore[misc]
        f"{command.title()}Format", {fmt: fmt for fmt in formats(command)}, type=str)
    return made


def write(job: Job, fmt: str) -> int:
    """Run ``job`` with the writer of (its command, ``fmt``); its exit code."""
    writer = WRITERS[(job.command, str(getattr(fmt, "value", fmt)))]
    clash = _output_is_input(job)
    if clash is not None:
        err(f"error: {clash}: -o names one of the captures; refusing to overwrite it")
        return EXIT_USAGE
    return writing(job, lambda: writer(job))


def _output_is_input(job: Job) -> str | None:
    """The capture that ``-o`` would overwrite (opening it for writing empties it before it
    is read), or None."""
    import os

    if job.output is None or not job.output.exists():
        return None
    for capture in job.captures:
        try:
            if os.path.samefile(capture, job.output):
                return str(capture)
        except OSError:
            continue
    return None


def writing(job: Job, do: Callable[[], int]) -> int:
    """Run a writer and turn what the output side can do to it into the error contract: a
    reader of standard output that went away (``| head``) ends the run quietly, exit 0, as
    ``cat`` does; any other failure to write (a read-only or missing directory, a
    directory given as a file, a full disk) is one line naming the file, exit 3."""
    import typer

    try:
        return do()
    except typer.Exit as exc:
        if exc.exit_code == EXIT_TASK_FAILED and job.output is not None and \
                job.output.is_file():
            # A scaled-out run whose task failed wrote nothing: no file that looks whole.
            job.output.unlink(missing_ok=True)
        raise
    except BrokenPipeError:
        silence_stdout()
        return 0
    except OSError as exc:
        where = exc.filename or job.output or "standard output"
        err(f"error: {where}: cannot write: {exc.strerror or exc}")
        return EXIT_INPUT


def silence_stdout() -> None:
    """Point standard output at /dev/null, so that the interpreter's last flush into a
    closed pipe does not fail again."""
    import os

    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def report_folder(job: Job, *, csv: bool, title: str, step_summary: bool,
                  retrans_threshold: float) -> int:
    """``report``: the report folder ``job.output`` (and junit.xml with rules)."""
    return writing(job, lambda: _report_folder(job, csv=csv, title=title,
                                               step_summary=step_summary,
                                               retrans_threshold=retrans_threshold))


def _report_folder(job: Job, *, csv: bool, title: str, step_summary: bool,
                   retrans_threshold: float) -> int:
    from analyzer.report import junit as junit_xml
    from analyzer.report import rules as rules_mod
    from analyzer.report.folder import append_step_summary, staged, write_report

    assert job.output is not None
    results = run(job.captures, job.opts)
    checks = evaluate(results, job.rules) if job.rules else []
    check_rows: list[dict[str, object]] = [
        {"capture": r.capture, "rule": f"{r.rule.name}: {r.rule.expr}"
         if r.rule.name != r.rule.expr else r.rule.expr, "passed": r.passed,
         "measured": rules_mod._show(r.measured), "severity": r.rule.severity}
        for c in checks for r in c.results]
    from analyzer.reread import packet_source

    # Written aside and moved into place whole: a failure leaves no folder that looks
    # complete (report.md without report.html or junit.xml), and the old one untouched.
    with staged(job.output) as stage:
        written = write_report(results, stage, packets=packet_source(job.opts.load_options()),
                               csv=csv, title=title, step_summary=False, checks=check_rows,
                               retrans_threshold=retrans_threshold)
        if checks:
            junit_xml.write(checks, stage / "junit.xml", job.opts.strict)
            written.append(stage / "junit.xml")
    if step_summary:
        append_step_summary(job.output / "report.md")
    if not job.opts.quiet:
        for path in written:
            err(f"wrote {job.output / path.name}")
    code = exit_code(results, job.opts.strict)
    return code or (EXIT_CHECK_FAILED if checks and rules_mod.failed(checks) else 0)
