"""The ``pcap-analyzer`` command line: a thin layer over ``analyzer.api``."""

from __future__ import annotations

import contextlib
import enum
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from analyzer import __version__
from analyzer.api import CaptureResult
from analyzer.core.tracker import TrackerConfig
from analyzer.errors import (
    EXIT_CHECK_FAILED,
    EXIT_INPUT,
    EXIT_TRUNCATED_STRICT,
    EXIT_USAGE,
    AnalyzerError,
)
from analyzer.loader import LoadOptions, tshark_info, validate_filter
from analyzer.loader.tshark import SESSION_RESET
from analyzer.report.formats import Format

EPILOG = """\
Exit codes: 0 ok; 1 a check rule failed (check, report --rule); 2 usage error (bad
option, bad display filter, bad rule); 3 input or environment error (missing, empty or
non-capture file, tshark missing or too old); 4 a truncated capture with --strict.
A truncated capture is otherwise read up to the cut, with a warning.

Examples:
  pcap-analyzer connections capture.pcapng
  pcap-analyzer connections capture.pcap.gz --format jsonl -Y "tcp.port == 8080"
  pcap-analyzer connections capture.pcap --format zeek -o conn.log
  pcap-analyzer connections big.pcap.zst --format parquet -o conn.parquet
  pcap-analyzer summary captures/real/*.pcapng --format markdown
  pcap-analyzer explain capture.pcap --conn UID --format markdown
  pcap-analyzer report captures/ --out out/ --policy examples/policy.toml
  pcap-analyzer check captures/ --rule "count(end == 'rst') / count() <= 0.01" --junit j.xml
  pcap-analyzer diff before.pcap after.pcap
"""

app = typer.Typer(
    name="pcap-analyzer",
    help="What happened to every TCP connection in a packet capture: the handshake, "
    "how it ended, who closed first, who is left in TIME_WAIT (RFC 9293), with Zeek's "
    "conn_state and history.",
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


class Loader(str, enum.Enum):
    tshark = "tshark"
    pyshark = "pyshark"


class SummaryFormat(str, enum.Enum):
    table = "table"
    markdown = "markdown"
    json = "json"
    csv = "csv"


CapturesArg = Annotated[list[Path], typer.Argument(
    help="Capture files (pcap, pcapng, .cap, .gz), directories (searched recursively) or "
    "globs.", show_default=False)]
FilterOpt = Annotated[str | None, typer.Option(
    "--display-filter", "-Y", help="Wireshark display filter: keep the connections with a "
    "packet it matches, each built from all of its packets.")]
LoaderOpt = Annotated[Loader, typer.Option(
    help="tshark: fast field export; pyshark: pyshark packet objects (slow reference).")]
ChecksumOpt = Annotated[bool, typer.Option(
    "--check-checksums/--ignore-checksums",
    help="Drop packets with bad TCP/UDP checksums, as Zeek does without -C. Off by "
    "default: captures taken on the sending host carry unfinished checksums.")]
TsharkOpt = Annotated[str | None, typer.Option(
    envvar="TSHARK_PATH", help="The tshark binary to use.")]
DecodeOpt = Annotated[list[str] | None, typer.Option(
    "--decode-as", "-d", help="tshark decode-as rule, e.g. 'tcp.port==8765,http'.")]
PrefOpt = Annotated[list[str] | None, typer.Option(
    "--pref", help="tshark preference name:value (tshark -o).")]
OutputOpt = Annotated[Path | None, typer.Option(
    "--output", "-o", help="Write here instead of standard output.")]
StrictOpt = Annotated[bool, typer.Option(help="Treat a truncated capture as an error (exit 4).")]
JobsOpt = Annotated[int | None, typer.Option(
    "--jobs", "-j", help="Captures to work on in parallel (default: the number of cores).")]
QuietOpt = Annotated[bool, typer.Option(
    "--quiet", "-q", help="No progress bar and no batch tally on stderr.")]
WideOpt = Annotated[bool, typer.Option(
    "--wide", help="Table: every column, none dropped to fit the terminal (long lines "
    "wrap). Implies -f table.")]
ColumnsOpt = Annotated[str | None, typer.Option(
    "--columns", metavar="A,B,C", help="Table: these columns in this order, by field name "
    "like zeek-cut (any field of -f jsonl; n is the #N id, client and server the "
    "endpoints). Implies -f table.", show_default=False)]


#: ``--session-reset``, a global option (set by the app callback before any command runs).
_SESSION_RESET = SESSION_RESET
#: ``--engine``, a global option too.
_ENGINE = "auto"


class EngineChoice(str, enum.Enum):
    native = "native"
    tshark = "tshark"
    auto = "auto"


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _run(captures: list[Path], display_filter: str | None, loader: Loader,
         check_checksums: bool, tshark_path: str | None, decode_as: list[str] | None,
         pref: list[str] | None, *, jobs: int | None = None, quiet: bool = False,
         on_batch: Callable[[Any], None] | None = None, engine: str | None = None,
         app_details: bool = True) -> list[CaptureResult]:
    """Read every capture (directories and globs expanded, ``jobs`` at a time); report each
    failure as one line; exit at once on environment errors (tshark, display filter)."""
    from analyzer.api import resolve_engine, tshark_only_options
    from analyzer.batch import expand_inputs, run_batch

    options = LoadOptions(
        engine=engine or _ENGINE,
        display_filter=display_filter,
        check_checksums=check_checksums,
        loader=loader.value,
        tshark_path=tshark_path,
        decode_as=tuple(decode_as or ()),
        prefs=tuple(pref or ()),
        session_reset=_SESSION_RESET,
        app_details=app_details,
    )
    try:
        if resolve_engine(options) == "native":
            needs = tshark_only_options(options)
            if needs:
                _err(f"error: --engine native cannot apply {', '.join(needs)}: use "
                     "--engine tshark or auto")
                raise typer.Exit(EXIT_USAGE)
        else:
            tshark_info(tshark_path)
        if display_filter:  # either engine: tshark finds the frames it matches
            validate_filter(display_filter, tshark_path)
    except AnalyzerError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(exc.exit_code) from None
    config = TrackerConfig(check_checksums=check_checksums)
    paths = expand_inputs(captures)
    if not paths:
        _err("error: no capture files found in the given directories")
        raise typer.Exit(EXIT_INPUT)
    with _progress(paths, quiet) as advance:
        results = run_batch(paths, options, config, jobs, on_done=advance, on_batch=on_batch)
    for result in results:
        for note in result.notes:
            _err(f"note: {note}")
        if result.error is not None:
            _err(f"error: {result.error}")
        for warning in result.warnings:
            _err(f"warning: {result.path}: {warning}")
    if len(results) > 1 and not quiet:
        ok = sum(r.status == "ok" for r in results)
        _err(f"{len(results)} captures: {ok} ok, "
             f"{sum(r.status.startswith('warning') for r in results)} with warnings, "
             f"{sum(r.error is not None for r in results)} failed")
    return results


@contextlib.contextmanager
def _progress(paths: list[str], quiet: bool) -> Iterator[Callable[[CaptureResult], None]]:
    """A rich progress bar on stderr (bytes of capture read, rate, ETA), only on a terminal
    and not with --quiet or CI=true."""
    if quiet or not sys.stderr.isatty() or os.environ.get("CI") or len(paths) < 2:
        yield lambda _result: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    sizes = {p: (Path(p).stat().st_size if Path(p).is_file() else 0) for p in paths}
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(f"{len(paths)} captures", total=sum(sizes.values()) or 1)
        yield lambda result: progress.advance(task, sizes.get(result.path, 0))


def _exit_code(results: list[CaptureResult], strict: bool) -> int:
    if any(r.error is not None for r in results):
        return EXIT_INPUT
    if strict and any(r.truncated_at is not None for r in results):
        return EXIT_TRUNCATED_STRICT
    return 0


@app.command()
def connections(
    captures: CapturesArg,
    format: Annotated[Format | None, typer.Option(
        "--format", "-f", help="table (default on a terminal), csv, jsonl (default "
        "otherwise), json, parquet, zeek (a Zeek conn.log), markdown.")] = None,
    output: OutputOpt = None,
    display_filter: FilterOpt = None,
    loader: LoaderOpt = Loader.tshark,
    check_checksums: ChecksumOpt = False,
    tshark_path: TsharkOpt = None,
    decode_as: DecodeOpt = None,
    pref: PrefOpt = None,
    strict: StrictOpt = False,
    jobs: JobsOpt = None,
    quiet: QuietOpt = False,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
) -> None:
    """One record per TCP connection, UDP flow and ICMP exchange: handshake, close, RFC 9293
    states of both endpoints, TIME_WAIT side, bytes each way, Zeek conn_state, history and
    tunnel_parents, and TCP health each way (retransmissions, duplicate ACKs, SACK, zero
    windows, windows, RTT, idle time, throughput, as tcptrace counts them). The table fits
    the terminal ($COLUMNS or 200 columns in a pipe): #N names a connection for explain,
    and a footer names the columns left out."""
    from analyzer.api import Analysis
    from analyzer.report import writers
    from analyzer.report.sinks import STREAMING_FORMATS

    try:
        fmt, names = writers.table_request(format, wide, columns, writers.TABLE_COLUMNS,
                                           writers.CONNECTION_FIELDS)
    except ValueError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    if fmt is Format.PARQUET and output is None:
        _err("error: --format parquet writes a binary file: give it one with -o FILE")
        raise typer.Exit(2)
    if fmt in STREAMING_FORMATS:
        results = _stream(captures, fmt, output, display_filter, loader, check_checksums,
                          tshark_path, decode_as, pref, jobs, quiet)
        raise typer.Exit(_exit_code(results, strict))
    results = _run(captures, display_filter, loader, check_checksums, tshark_path, decode_as,
                   pref, jobs=jobs, quiet=quiet)
    analysis = Analysis([r for r in results if r.error is None])
    records = analysis.records
    if fmt is Format.PARQUET:
        assert output is not None
        with output.open("wb") as fh:
            writers.write_parquet(analysis.connections, fh)
    else:
        out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
        try:
            if fmt in writers.CONNECTION_WRITERS:
                writers.CONNECTION_WRITERS[fmt](records, out)
            elif fmt is Format.CSV:
                writers.write_csv(analysis.connections, out)
            elif fmt is Format.MARKDOWN:
                out.write(writers.markdown_table(analysis.connections.drop(
                    columns=["anomalies", "tunnel_parents", "first_time", "last_time"])))
            else:
                writers.write_table(analysis.connections, out, title="connections",
                                    several=len(results) > 1, wide=wide, columns=names)
        finally:
            if output:
                out.close()
    raise typer.Exit(_exit_code(results, strict))


def _stream(captures: list[Path], fmt: Format, output: Path | None,
            display_filter: str | None, loader: Loader, check_checksums: bool,
            tshark_path: str | None, decode_as: list[str] | None, pref: list[str] | None,
            jobs: int | None, quiet: bool) -> list[CaptureResult]:
    """``connections`` in a streaming format: records are written batch by batch as the
    engine hands them over (the output file is opened before anything is read)."""
    from analyzer.report.sinks import open_sink, warm_imports

    if fmt in (Format.PARQUET, Format.CSV):
        # pandas and pyarrow load on another thread while the engine reads (it does not
        # hold the GIL): the first batch finds them ready.
        import threading

        threading.Thread(target=warm_imports, args=(fmt,), daemon=True).start()
    with contextlib.ExitStack() as stack:
        if fmt is Format.PARQUET:
            assert output is not None
            sink = open_sink(fmt, None, stack.enter_context(output.open("wb")))
        else:
            text = (stack.enter_context(output.open("w", encoding="utf-8", newline=""))
                    if output else sys.stdout)
            sink = open_sink(fmt, text, None)
        results = _run(captures, display_filter, loader, check_checksums, tshark_path,
                       decode_as, pref, jobs=jobs, quiet=quiet, on_batch=sink.write,
                       # conn.log's service looks at the WebSocket sessions; the other
                       # formats write counts only.
                       app_details=fmt is Format.ZEEK)
        sink.close()
    return results


@app.command()
def summary(
    captures: CapturesArg,
    format: Annotated[SummaryFormat, typer.Option(
        "--format", "-f", help="table, markdown, json or csv.")] = SummaryFormat.table,
    output: OutputOpt = None,
    display_filter: FilterOpt = None,
    loader: LoaderOpt = Loader.tshark,
    check_checksums: ChecksumOpt = False,
    tshark_path: TsharkOpt = None,
    decode_as: DecodeOpt = None,
    pref: PrefOpt = None,
    strict: StrictOpt = False,
    jobs: JobsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """How the handshakes went and how connections ended: counts by handshake, end, closer,
    time_wait and conn_state, handshake RTT percentiles, and the top server endpoints; TCP
    health (the retransmission rate, connections with retransmissions, duplicate ACKs and
    zero windows, data RTT percentiles, the worst connections by retransmissions)."""
    from analyzer.api import Analysis
    from analyzer.report import writers

    results = _run(captures, display_filter, loader, check_checksums, tshark_path, decode_as,
                   pref, jobs=jobs, quiet=quiet)
    analysis = Analysis(results)
    df = analysis.summary()
    out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        if format is SummaryFormat.json:
            df.to_json(out, orient="records", indent=2)
            out.write("\n")
        elif format is SummaryFormat.csv:
            df.to_csv(out, index=False)
        elif format is SummaryFormat.markdown:
            for capture, group in df.groupby("capture", sort=False):
                out.write(f"### {writers.md_escape(str(capture))}\n\n")
                out.write(writers.markdown_table(group.drop(columns=["capture"])))
                out.write("\n")
        else:
            _summary_table(df, out)
    finally:
        if output:
            out.close()
    raise typer.Exit(_exit_code(results, strict))


def _summary_table(df: object, out: object) -> None:
    import pandas as pd
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from analyzer.report.writers import inert as writers_inert

    assert isinstance(df, pd.DataFrame)
    console = Console(file=out)  # type: ignore[arg-type]
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
            table.add_row(*(Text(writers_inert(str(c))) for c in cells))
        console.print(table)


HttpFormat = Annotated[Format | None, typer.Option(
    "--format", "-f", help="table (default on a terminal), csv, jsonl (default otherwise), "
    "json, parquet, zeek (a Zeek http.log), markdown.")]
WsFormat = Annotated[Format | None, typer.Option(
    "--format", "-f", help="table (default on a terminal), csv, jsonl (default otherwise), "
    "json, parquet, zeek (a Zeek websocket.log: one row per upgrade switched by a 101), "
    "markdown.")]


def _app_command(kind: str, captures: list[Path], format: Format | None, output: Path | None,
                 options: tuple[str | None, Loader, bool, str | None, list[str] | None,
                                list[str] | None], strict: bool, jobs: int | None,
                 quiet: bool, wide: bool = False, columns: str | None = None) -> None:
    from analyzer.report import app as app_rows
    from analyzer.report import writers

    kind_title = "HTTP transactions" if kind == "http" else "WebSocket upgrades"
    table, fields = ((app_rows.HTTP_TABLE, app_rows.HTTP_COLUMNS) if kind == "http"
                     else (app_rows.WS_TABLE, app_rows.WS_COLUMNS))
    try:
        fmt, names = writers.table_request(format, wide, columns, table, fields)
    except ValueError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    if fmt is Format.PARQUET and output is None:
        _err("error: --format parquet writes a binary file: give it one with -o FILE")
        raise typer.Exit(2)
    if kind == "http" and fmt is Format.PARQUET:
        assert output is not None
        _http_parquet(captures, options, output, jobs, quiet, strict)
    # Rows are taken from each batch of records as the engine hands it over, and the
    # records dropped: only the rows are kept.
    parts: list[Any] = []

    def collect(batch: Any) -> None:
        parts.append(app_rows.batch_http_columns(batch) if kind == "http"
                     else app_rows.batch_websocket_rows(batch))

    df: Any = None
    if fmt is Format.TABLE:  # the records are kept, to number the rows as `connections`
        results = _run(captures, *options, jobs=jobs, quiet=quiet)
        rows = app_rows.numbered_rows(kind, [r for res in results for r in res.records])
    elif kind == "http":
        results = _run(captures, *options, jobs=jobs, quiet=quiet, on_batch=collect)
        cols = app_rows.concat_columns(parts, app_rows.HTTP_COLUMNS)
        df = app_rows.http_frame_from_columns(cols)
        rows = app_rows.rows_from_columns(cols) if fmt is not Format.PARQUET else []
    else:
        results = _run(captures, *options, jobs=jobs, quiet=quiet, on_batch=collect)
        rows = [row for part in parts for row in part]
        df = app_rows.websocket_frame_from_rows(rows)
    if fmt is Format.PARQUET:
        assert output is not None
        writers.flat_frame(df).to_parquet(output, engine="pyarrow", index=False)
    else:
        out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
        try:
            if fmt is Format.ZEEK:  # Zeek's http.log or websocket.log
                from analyzer.report import zeek

                (zeek.write_http_log if kind == "http" else zeek.write_websocket_log)(rows, out)
            else:
                writers.write_rows(rows, df, fmt, out, table, kind_title,
                                   several=len(results) > 1,
                                   wide=wide, columns=names, field_names=fields)
        finally:
            if output:
                out.close()
    raise typer.Exit(_exit_code(results, strict))


def _http_parquet(captures: list[Path], options: tuple[str | None, Loader, bool, str | None,
                                                    list[str] | None, list[str] | None],
                  output: Path, jobs: int | None, quiet: bool, strict: bool) -> None:
    """``http --format parquet``: a row group per batch of records, straight from the
    engine's columns (memory follows one batch, not the whole capture)."""
    import pyarrow.parquet as pq

    from analyzer.core.columns import NativeBatch
    from analyzer.report import app as app_rows
    from analyzer.report.schema import (
        http_arrow_batch_from_engine,
        http_arrow_schema,
        plain_arrow_batch,
    )

    schema = http_arrow_schema(app_rows.HTTP_COLUMNS)
    with output.open("wb") as f, pq.ParquetWriter(f, schema) as writer:
        def write(batch: Any) -> None:
            if isinstance(batch, NativeBatch):  # from the engine's buffers
                arrow = http_arrow_batch_from_engine(batch.engine_batch, batch.capture, schema)
            else:
                arrow = plain_arrow_batch(app_rows.batch_http_columns(batch), schema)
            if arrow.num_rows:
                writer.write_batch(arrow)

        results = _run(captures, *options, jobs=jobs, quiet=quiet, on_batch=write)
    raise typer.Exit(_exit_code(results, strict))


@app.command()
def http(
    captures: CapturesArg,
    format: HttpFormat = None,
    output: OutputOpt = None,
    display_filter: FilterOpt = None,
    loader: LoaderOpt = Loader.tshark,
    check_checksums: ChecksumOpt = False,
    tshark_path: TsharkOpt = None,
    decode_as: DecodeOpt = None,
    pref: PrefOpt = None,
    strict: StrictOpt = False,
    jobs: JobsOpt = None,
    quiet: QuietOpt = False,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
) -> None:
    """One record per HTTP/1.x request/response pair: method, target, host, versions, status,
    body sizes, chunked, keep-alive and trans_depth (its index on the connection). HTTP is
    found on any port."""
    _app_command("http", captures, format, output,
                 (display_filter, loader, check_checksums, tshark_path, decode_as, pref), strict,
                 jobs, quiet, wide, columns)


@app.command()
def websockets(
    captures: CapturesArg,
    format: WsFormat = None,
    output: OutputOpt = None,
    display_filter: FilterOpt = None,
    loader: LoaderOpt = Loader.tshark,
    check_checksums: ChecksumOpt = False,
    tshark_path: TsharkOpt = None,
    decode_as: DecodeOpt = None,
    pref: PrefOpt = None,
    strict: StrictOpt = False,
    jobs: JobsOpt = None,
    quiet: QuietOpt = False,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
) -> None:
    """One record per WebSocket upgrade attempt: the handshake (status, Sec-WebSocket-Accept
    checked per RFC 6455, subprotocol, extensions), frames and messages each way by opcode,
    the close handshake (codes, who closed first) and named RFC 6455 problems with frames."""
    _app_command("websockets", captures, format, output,
                 (display_filter, loader, check_checksums, tshark_path, decode_as, pref), strict,
                 jobs, quiet, wide, columns)


def _load_rules(policy: Path | None, rule: list[str] | None) -> list[Any]:
    """Rules from --policy FILE and --rule EXPR, parsed before any capture is read."""
    from analyzer.report import rules as rules_mod

    rules: list[rules_mod.Rule] = []
    try:
        if policy is not None:
            try:
                text = policy.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                _err(f"error: {policy}: cannot read the policy: {reason}")
                raise typer.Exit(EXIT_USAGE) from None
            rules.extend(rules_mod.load_policy(text, str(policy)))
        rules.extend(rules_mod.parse(expr) for expr in rule or ())
    except (rules_mod.RuleError, rules_mod.PolicyError) as exc:
        _err(f"error: {exc}")
        raise typer.Exit(EXIT_USAGE) from None
    return rules


def _evaluate(results: list[CaptureResult], rules: list[Any]) -> list[Any]:
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


@app.command()
def report(
    captures: CapturesArg,
    out: Annotated[Path, typer.Option("--out", help="The report folder (created).")],
    csv: Annotated[bool, typer.Option("--csv", help="Also write the tables as CSV.")] = False,
    title: Annotated[str, typer.Option(help="The report's title.")] = "pcap-analyzer report",
    step_summary: Annotated[bool, typer.Option(
        "--step-summary/--no-step-summary",
        help="Append report.md to $GITHUB_STEP_SUMMARY when it is set.")] = True,
    rule: Annotated[list[str] | None, typer.Option(
        "--rule", help="A rule to check (see `check`); with rules, junit.xml is written and "
        "the exit code is 1 when one fails.")] = None,
    policy: Annotated[Path | None, typer.Option(
        "--policy", help="A TOML policy file of named rules (see `check`).")] = None,
    retrans_threshold: Annotated[float, typer.Option(
        "--retrans-threshold", min=0.0, max=1.0,
        help="List a connection in the problems when its retrans_rate (retransmitted over "
        "all segments carrying sequence space) is above this.")] = 0.01,  # RETRANS_THRESHOLD
    display_filter: FilterOpt = None,
    loader: LoaderOpt = Loader.tshark,
    check_checksums: ChecksumOpt = False,
    tshark_path: TsharkOpt = None,
    decode_as: DecodeOpt = None,
    pref: PrefOpt = None,
    strict: StrictOpt = False,
    jobs: JobsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Write a report folder: report.md (CI job summary, with Mermaid diagrams of the
    connections that matter most), report.html (self-contained, with charts), and
    connections/http/websockets as Parquet (and CSV with --csv)."""
    from analyzer.report import junit as junit_xml
    from analyzer.report import rules as rules_mod
    from analyzer.report.folder import write_report

    rules = _load_rules(policy, rule)
    results = _run(captures, display_filter, loader, check_checksums, tshark_path, decode_as,
                   pref, jobs=jobs, quiet=quiet)
    checks = _evaluate(results, rules) if rules else []
    check_rows: list[dict[str, object]] = [
        {"capture": r.capture, "rule": f"{r.rule.name}: {r.rule.expr}"
         if r.rule.name != r.rule.expr else r.rule.expr, "passed": r.passed,
         "measured": rules_mod._show(r.measured), "severity": r.rule.severity}
        for c in checks for r in c.results]
    options = LoadOptions(engine=_ENGINE, check_checksums=check_checksums,
                          loader=loader.value, tshark_path=tshark_path,
                          decode_as=tuple(decode_as or ()), prefs=tuple(pref or ()),
                          display_filter=display_filter, session_reset=_SESSION_RESET)
    written = write_report(results, out, options, csv=csv, title=title,
                           step_summary=step_summary, checks=check_rows,
                           retrans_threshold=retrans_threshold)
    if checks:
        junit_xml.write(checks, out / "junit.xml", strict)
        written.append(out / "junit.xml")
    if not quiet:
        for path in written:
            _err(f"wrote {path}")
    code = _exit_code(results, strict)
    raise typer.Exit(code or (EXIT_CHECK_FAILED if checks and rules_mod.failed(checks) else 0))


class DiffFormat(str, enum.Enum):
    table = "table"
    markdown = "markdown"
    json = "json"


@app.command()
def diff(
    before: Annotated[Path, typer.Argument(help="The capture before the change.",
                                           show_default=False)],
    after: Annotated[Path, typer.Argument(help="The capture after the change.",
                                          show_default=False)],
    format: Annotated[DiffFormat, typer.Option("--format", "-f")] = DiffFormat.table,
    output: OutputOpt = None,
    display_filter: FilterOpt = None,
    loader: LoaderOpt = Loader.tshark,
    check_checksums: ChecksumOpt = False,
    tshark_path: TsharkOpt = None,
    decode_as: DecodeOpt = None,
    pref: PrefOpt = None,
) -> None:
    """Compare two captures of the same workload (say, before and after a deploy).
    Connections are matched by server endpoint and order, ignoring client ports and times:
    new or vanished server endpoints, handshake failures, RST rates, close sides, TIME_WAIT
    sides, handshake-RTT percentiles and WebSocket close codes."""
    import json as json_mod

    from analyzer.report import diff as diff_mod

    results = _run([before, after], display_filter, loader, check_checksums, tshark_path,
                   decode_as, pref, jobs=2, quiet=True)
    if any(r.error is not None for r in results):
        raise typer.Exit(EXIT_INPUT)
    result = diff_mod.diff(results[0].records, results[1].records)
    out = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        if format is DiffFormat.json:
            json_mod.dump({"before": str(before), "after": str(after),
                           "new_endpoints": result.new_endpoints,
                           "vanished_endpoints": result.vanished_endpoints,
                           "changes": result.changes,
                           "connection_changes": result.connection_changes}, out, indent=2)
            out.write("\n")
        else:
            text = diff_mod.render_markdown(result, str(before), str(after))
            if format is DiffFormat.markdown:
                out.write(text)
            else:
                from rich.console import Console
                from rich.markdown import Markdown

                Console(file=out).print(Markdown(text))
    finally:
        if output:
            out.close()
    raise typer.Exit(0)


class ExplainFormat(str, enum.Enum):
    text = "text"
    markdown = "markdown"


@app.command()
def explain(
    captures: Annotated[list[Path], typer.Argument(
        help="A capture file (or several: #N then counts as `connections` numbers them).",
        show_default=False)],
    conn: Annotated[str | None, typer.Option(
        "--conn", metavar="ID", help="The connection: its #N in the `connections` table "
        "(quote it: '#3', or give 3), its uid, or CLIENT:PORT-SERVER:PORT (IPv6 in "
        "brackets); any unique prefix of a uid or endpoints does.")] = None,
    display_filter: FilterOpt = None,
    format: Annotated[ExplainFormat, typer.Option(
        "--format", "-f", help="text (a ladder in the terminal) or markdown (a Mermaid "
        "sequenceDiagram).")] = ExplainFormat.text,
    output: OutputOpt = None,
    loader: LoaderOpt = Loader.tshark,
    check_checksums: ChecksumOpt = False,
    tshark_path: TsharkOpt = None,
    decode_as: DecodeOpt = None,
    pref: PrefOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Draw one TCP connection as a ladder diagram: every segment with its frame, time,
    flags, relative seq/ack and length, both sides' RFC 9293 states after each step, and a
    plain-language verdict. Pick it with --conn (#N, uid or endpoints), or with -Y FILTER
    (the first TCP connection with a matching packet); by default the first TCP one."""
    from analyzer.report import explain as ex
    from analyzer.report.select import SelectionError

    results = _run(captures, display_filter, loader, check_checksums, tshark_path,
                   decode_as, pref, quiet=quiet)
    if any(result.error is not None for result in results):
        raise typer.Exit(EXIT_INPUT)
    try:
        number, record = ex.choose([r for result in results for r in result.records], conn)
    except SelectionError as exc:
        _err(ex.selection_error(exc, [str(c) for c in captures]))
        raise typer.Exit(2 if conn else EXIT_INPUT) from None
    options = LoadOptions(engine=_ENGINE, check_checksums=check_checksums,
                          loader=loader.value, tshark_path=tshark_path,
                          decode_as=tuple(decode_as or ()), prefs=tuple(pref or ()),
                          display_filter=display_filter, session_reset=0)
    try:
        packets = ex.connection_packets(record, options)
    except AnalyzerError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(EXIT_INPUT) from None
    steps = ex.ladder(record, packets)
    text = (ex.render_mermaid(record, steps) if format is ExplainFormat.markdown
            else ex.render_text(record, steps, number))
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    raise typer.Exit(0)


class CheckFormat(str, enum.Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


RuleOpt = Annotated[list[str] | None, typer.Option(
    "--rule", "-r", help="A rule, e.g. \"count(end == 'rst') / count() <= 0.01\" or "
    "'handshake_rtt_s.p95 < 0.2' (repeatable; severity error). The vocabulary is in the "
    "README, \"CI checks\".")]
PolicyOpt = Annotated[Path | None, typer.Option(
    "--policy", "-p", help="A TOML policy: [[rule]] tables with name, expr and severity "
    "(\"error\" fails the check, \"warning\" is only shown).", show_default=False)]
JunitOpt = Annotated[Path | None, typer.Option(
    "--junit", help="Also write JUnit XML here: a test suite per capture, a test case per "
    "rule.", show_default=False)]


@app.command()
def check(
    captures: CapturesArg,
    rule: RuleOpt = None,
    policy: PolicyOpt = None,
    junit: JunitOpt = None,
    format: Annotated[CheckFormat, typer.Option(
        "--format", "-f", help="text, json or markdown (for a pull-request comment).")]
    = CheckFormat.text,
    output: OutputOpt = None,
    display_filter: FilterOpt = None,
    loader: LoaderOpt = Loader.tshark,
    check_checksums: ChecksumOpt = False,
    tshark_path: TsharkOpt = None,
    decode_as: DecodeOpt = None,
    pref: PrefOpt = None,
    strict: StrictOpt = False,
    jobs: JobsOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """The CI gate: evaluate rules on every capture and fail when one does not hold.

    Exit codes: 0 every error rule holds on every capture; 1 a rule failed; 2 usage error
    (bad rule, policy, option or display filter; rules are checked before any capture is
    read); 3 a capture could not be read or tshark is missing; 4 a truncated capture with
    --strict. Warning rules are shown and never fail. Each failure names the capture, the
    rule, the measured value and up to five offending connections by uid.

    \b
    Examples:
      pcap-analyzer check captures/ --policy examples/policy.toml --junit junit.xml
      pcap-analyzer check cap.pcap --rule "count(handshake == 'unanswered') == 0"
    """
    from analyzer.report import junit as junit_xml
    from analyzer.report import rules as rules_mod

    rules = _load_rules(policy, rule)
    if not rules:
        _err("error: no rules to check: give --rule EXPR or --policy FILE")
        raise typer.Exit(EXIT_USAGE)
    results = _run(captures, display_filter, loader, check_checksums, tshark_path, decode_as,
                   pref, jobs=jobs, quiet=quiet)
    checks = _evaluate(results, rules)
    render = {CheckFormat.text: rules_mod.render_text, CheckFormat.json: rules_mod.render_json,
              CheckFormat.markdown: rules_mod.render_markdown}[format]
    report = render(checks)
    if output:
        output.write_text(report, encoding="utf-8")
    else:
        sys.stdout.write(report)
    if junit is not None:
        try:
            junit_xml.write(checks, junit, strict)
        except OSError as exc:
            _err(f"error: {junit}: cannot write the JUnit report: {exc.strerror or exc}")
            raise typer.Exit(EXIT_INPUT) from None
    code = _exit_code(results, strict)
    raise typer.Exit(code or (EXIT_CHECK_FAILED if rules_mod.failed(checks) else 0))


def _version_callback(value: bool) -> None:
    if value:
        try:
            path, version = tshark_info(None)
            tshark = f"tshark {version} ({path})"
        except AnalyzerError as exc:
            tshark = str(exc)
        typer.echo(f"pcap-analyzer {__version__}; {tshark}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version_callback,
                                          is_eager=True, help="Show versions and exit.")]
    = False,
    session_reset: Annotated[int, typer.Option(
        "--session-reset", min=0, envvar="PCAP_ANALYZER_SESSION_RESET",
        help="Have tshark drop its dissection state every N packets (tshark -M), so that "
        "its memory stays flat on large captures; connections open across a reset are "
        "read again, so records do not change. 0 turns it off. Goes before the command: "
        "pcap-analyzer --session-reset 0 connections ...")] = SESSION_RESET,
    engine: Annotated[EngineChoice, typer.Option(
        "--engine", envvar="PCAP_ANALYZER_ENGINE",
        help="native: the Rust engine reads the capture itself (fast; HTTP and WebSocket "
        "found on any port); tshark: tshark's dissection; auto: native unless "
        "--decode-as, --pref or --loader pyshark needs tshark (-Y asks tshark only for the "
        "matching frames, with either engine). Captures the native engine "
        "cannot decode are read with tshark, with a note. Goes before the command: "
        "pcap-analyzer --engine tshark connections ...")]
    = EngineChoice.auto,
) -> None:
    """pcap-analyzer."""
    global _SESSION_RESET, _ENGINE
    _SESSION_RESET = session_reset
    _ENGINE = engine.value


def main() -> None:
    app()
