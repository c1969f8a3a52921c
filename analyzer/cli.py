"""The ``pcap-analyzer`` command line: a thin layer over ``analyzer.api``. The options are
declared in ``analyzer.options``, the captures read in ``analyzer.run`` and the output
written by the writer of (command, format) in ``analyzer.outputs``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias

import typer

from analyzer import __version__, outputs
from analyzer import options as o
from analyzer.errors import AnalyzerError
from analyzer.loader.tshark import SESSION_RESET
from analyzer.options import (
    READ,
    Command,
    EngineChoice,
    GlobalOptions,
    Group,
    RunOptions,
    shared,
)
from analyzer.run import fail, load_rules

EPILOG = """\
Exit codes: 0 ok; 1 a check rule failed (check, report --rule); 2 usage error (bad
option, bad display filter, bad rule, a --pref or --decode-as tshark rejects); 3 input,
environment or output error (missing, empty, unreadable or non-capture file, a FIFO,
tshark missing, too old or stalled, an output that cannot be written); 4 a truncated
capture with --strict; 5 a task of a scaled-out run failed (--dask, --shards: named by
capture and shard, nothing written); 70 an internal error (a bug); 130 interrupted.
Every error is one line on stderr naming the file. A truncated capture is otherwise read
up to the cut, with a warning. PCAP_ANALYZER_TSHARK_TIMEOUT: seconds without progress
before tshark is stopped (default 120).

\b
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
  pcap-analyzer connections big.pcap --shards 4 --dask local:2 -f parquet -o conn/
"""

app = typer.Typer(
    name="pcap-analyzer",
    cls=Group,
    help="What happened to every TCP connection in a packet capture: the handshake, "
    "how it ended, who closed first, who is left in TIME_WAIT (RFC 9293), with Zeek's "
    "conn_state and history.",
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

# --format's choices come from the writer registry (mypy sees them as str).
if TYPE_CHECKING:
    ConnFormat: TypeAlias = str
    HttpFormat: TypeAlias = str
    WsFormat: TypeAlias = str
    SummaryFormat: TypeAlias = str
    DiffFormat: TypeAlias = str
    ExplainFormat: TypeAlias = str
    CheckFormat: TypeAlias = str
else:
    ConnFormat, HttpFormat, WsFormat, SummaryFormat, DiffFormat, ExplainFormat, CheckFormat = (
        outputs.choices(c) for c in ("connections", "http", "websockets", "summary", "diff",
                                     "explain", "check"))


def _fmt(help: str) -> Any:
    return typer.Option("--format", "-f", help=help)


def _records_fmt(log: str) -> Any:
    return _fmt("table (default on a terminal), csv, jsonl (default otherwise), json, "
                f"parquet, zeek (a Zeek {log}), markdown.")


@app.command(cls=Command)
@shared()
def connections(
    captures: o.CapturesArg,
    format: Annotated[ConnFormat | None, _records_fmt("conn.log")] = None,
    output: o.OutputOpt = None, wide: o.WideOpt = False, columns: o.ColumnsOpt = None, *,
    opts: RunOptions,
) -> None:
    """One record per TCP connection, UDP flow and ICMP exchange: handshake, close, RFC 9293
    states of both endpoints, TIME_WAIT side, bytes each way, Zeek conn_state, history and
    tunnel_parents, and TCP health each way (retransmissions, duplicate ACKs, SACK, zero
    windows, windows, RTT, idle time, throughput, as tcptrace counts them). The table fits
    the terminal ($COLUMNS or 200 columns in a pipe): #N names a connection for explain,
    and a footer names the columns left out."""
    _records("connections", opts, captures, format, output, wide, columns)


@app.command(cls=Command)
@shared()
def summary(
    captures: o.CapturesArg,
    format: Annotated[SummaryFormat, _fmt("table, markdown, json or csv.")] = "table",
    output: o.OutputOpt = None, *, opts: RunOptions,
) -> None:
    """How the handshakes went and how connections ended: counts by handshake, end, closer,
    time_wait and conn_state, handshake RTT percentiles, and the top server endpoints; TCP
    health (the retransmission rate, connections with retransmissions, duplicate ACKs and
    zero windows, data RTT percentiles, the worst connections by retransmissions)."""
    job = outputs.Job("summary", captures, opts, output)
    raise typer.Exit(outputs.write(job, format))


@app.command(cls=Command)
@shared()
def http(
    captures: o.CapturesArg,
    format: Annotated[HttpFormat | None, _records_fmt("http.log")] = None,
    output: o.OutputOpt = None, wide: o.WideOpt = False, columns: o.ColumnsOpt = None, *,
    opts: RunOptions,
) -> None:
    """One record per HTTP/1.x request/response pair: method, target, host, versions, status,
    body sizes, chunked, keep-alive and trans_depth (its index on the connection). HTTP is
    found on any port."""
    _records("http", opts, captures, format, output, wide, columns)


@app.command(cls=Command)
@shared()
def websockets(
    captures: o.CapturesArg,
    format: Annotated[WsFormat | None, _records_fmt(
        "websocket.log: one row per upgrade switched by a 101")] = None,
    output: o.OutputOpt = None, wide: o.WideOpt = False, columns: o.ColumnsOpt = None, *,
    opts: RunOptions,
) -> None:
    """One record per WebSocket upgrade attempt: the handshake (status, Sec-WebSocket-Accept
    checked per RFC 6455, subprotocol, extensions), frames and messages each way by opcode,
    the close handshake (codes, who closed first) and named RFC 6455 problems with frames."""
    _records("websockets", opts, captures, format, output, wide, columns)


def _records(command: str, opts: RunOptions, captures: list[Path], format: str | None,
             output: Path | None, wide: bool, columns: str | None) -> None:
    fmt, names = outputs.table_request(command, format, wide, columns)
    job = outputs.Job(command, captures, opts, output, wide=wide, columns=names)
    raise typer.Exit(outputs.write(job, fmt))


@app.command(cls=Command)
@shared()
def report(
    captures: o.CapturesArg,
    out: o.ReportOutOpt, csv: o.CsvOpt = False, title: o.TitleOpt = "pcap-analyzer report",
    step_summary: o.StepSummaryOpt = True, rule: o.ReportRuleOpt = None,
    policy: o.ReportPolicyOpt = None,
    retrans_threshold: o.RetransThresholdOpt = 0.01,  # report.summary.RETRANS_THRESHOLD
    *, opts: RunOptions,
) -> None:
    """Write a report folder: report.md (CI job summary, with Mermaid diagrams of the
    connections that matter most), report.html (self-contained, with charts), and
    connections/http/websockets as Parquet (and CSV with --csv)."""
    job = outputs.Job("report", captures, opts, out, rules=load_rules(policy, rule))
    raise typer.Exit(outputs.report_folder(job, csv=csv, title=title,
                                           step_summary=step_summary,
                                           retrans_threshold=retrans_threshold))


@app.command(cls=Command)
@shared(READ)
def diff(
    before: o.BeforeArg, after: o.AfterArg,
    format: Annotated[DiffFormat, _fmt("table, markdown or json.")] = "table",
    output: o.OutputOpt = None, *, opts: RunOptions,
) -> None:
    """Compare two captures of the same workload (say, before and after a deploy).
    Connections are matched by server endpoint and order, ignoring client ports and times:
    new or vanished server endpoints, handshake failures, RST rates, close sides, TIME_WAIT
    sides, handshake-RTT percentiles and WebSocket close codes."""
    raise typer.Exit(outputs.write(outputs.Job("diff", [before, after], opts, output),
                                   format))


@app.command(cls=Command)
@shared((*READ, "quiet", "progress"))
def explain(
    captures: o.ExplainCapturesArg, conn: o.ConnOpt = None,
    format: Annotated[ExplainFormat, _fmt("text (a ladder in the terminal) or markdown (a "
                                          "Mermaid sequenceDiagram).")] = "text",
    output: o.OutputOpt = None, *, opts: RunOptions,
) -> None:
    """Draw one TCP connection as a ladder diagram: every segment with its frame, time,
    flags, relative seq/ack and length, both sides' RFC 9293 states after each step, and a
    plain-language verdict. Pick it with --conn (#N, uid or endpoints), or with -Y FILTER
    (the first TCP connection with a matching packet); by default the first TCP one."""
    job = outputs.Job("explain", captures, opts, output, conn=conn)
    raise typer.Exit(outputs.write(job, format))


@app.command(cls=Command)
@shared()
def check(
    captures: o.CapturesArg, rule: o.RuleOpt = None,
    policy: o.PolicyOpt = None, junit: o.JunitOpt = None,
    format: Annotated[CheckFormat, _fmt("text, json or markdown (for a pull-request "
                                        "comment).")] = "text",
    output: o.OutputOpt = None, *, opts: RunOptions,
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
    rules = load_rules(policy, rule)
    if not rules:
        raise fail("error: no rules to check: give --rule EXPR or --policy FILE")
    job = outputs.Job("check", captures, opts, output, rules=rules, junit=junit)
    raise typer.Exit(outputs.write(job, format))


def _version_callback(value: bool) -> None:
    if value:
        from analyzer.loader import tshark_info

        try:
            path, version = tshark_info(None)
            tshark = f"tshark {version} ({path})"
        except AnalyzerError as exc:
            tshark = str(exc)
        typer.echo(f"pcap-analyzer {__version__}; {tshark}")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", callback=_version_callback,
                                          is_eager=True, help="Show versions and exit.")]
    = False,
    session_reset: Annotated[int, typer.Option(
        "--session-reset", min=0, envvar="PCAP_ANALYZER_SESSION_RESET", metavar="N",
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
    ctx.obj = GlobalOptions(engine=engine.value, session_reset=session_reset)


def main() -> None:
    try:
        app()
    finally:
        # What is still buffered for a pipe whose reader went away: drop it quietly.
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            outputs.silence_stdout()
