"""``report.md``: GitHub-flavoured Markdown for a CI job summary.

Problems come first (``report.problems``' triage: failed and invalid handshakes, RSTs,
CLOSE_WAIT left open, WebSocket failures, retransmissions above a threshold, zero receive
windows, RFC anomalies), each with its capture, uid and endpoints; then the per-capture
summary and TCP health, the HTTP connections, the WebSocket sessions, and Mermaid ladder
diagrams of the few connections that matter most. Every packet-derived string is escaped.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from analyzer.core.records import ConnectionRecord
from analyzer.report.endpoints import endpoint
from analyzer.report.frame import to_frame
from analyzer.report.problems import (
    Problem,
    by_kind,
    percent,
    pick_connections,
    triage_records,
)
from analyzer.report.stats import percentile
from analyzer.report.summary import RETRANS_THRESHOLD, tcp_health
from analyzer.report.writers import md_escape

__all__ = ["MAX_LISTED", "CaptureLike", "percent", "pick_connections", "problem_lines",
           "render_markdown"]

#: Connections named per kind of problem, in its line and in the problems table.
MAX_LISTED = 10


class CaptureLike(Protocol):
    """What the report needs of one capture's outcome (``api.CaptureResult``; ``report/``
    does not import ``api``)."""

    path: str
    packets: int

    @property
    def records(self) -> list[ConnectionRecord]: ...

    @property
    def status(self) -> str: ...


def problem_lines(problems: Sequence[Problem],
                  retrans_threshold: float = RETRANS_THRESHOLD) -> list[str]:
    """The Problems section's body: one line per kind present, most serious first, with
    its count and the uids of its first connections; then a table of those connections
    (kind, capture, uid, endpoints, the one-line description)."""
    groups = by_kind(problems)
    lines = []
    rows: list[list[object]] = []
    for kind, found in groups.items():
        shown = found[:MAX_LISTED]
        more = len(found) - len(shown)
        lines.append(f"- **{len(found)} {kind.title(retrans_threshold)}**: "
                     + ", ".join(f"`{p.conn.uid}`" for p in shown)
                     + (f" and {more} more" if more > 0 else ""))
        rows += [[kind.label, p.conn.capture, f"`{p.conn.uid}`", p.conn.where, p.detail]
                 for p in shown]
    if not rows:
        return []
    lines.append("")
    if any(len(found) > MAX_LISTED for found in groups.values()):
        lines += [f"The first {MAX_LISTED} of each kind; report.html lists more, and "
                  "connections.parquet has every connection.", ""]
    return lines + _table(["kind", "capture", "uid", "client → server", "problem"], rows,
                          raw=(2,))


def _table(header: list[str], rows: list[list[object]], raw: Collection[int] = ()
           ) -> list[str]:
    """A table; every cell is escaped except the columns in ``raw`` (text made here, such
    as a uid in backticks)."""
    def cell(i: int, v: object) -> str:
        if v is None:
            return ""
        return str(v) if i in raw else md_escape(str(v))

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(i, v) for i, v in enumerate(row)) + " |" for row in rows]
    return [*lines, ""]


def _count(records: Sequence[ConnectionRecord], attr: str) -> str:
    counts: dict[str, int] = {}
    for r in records:
        key = str(getattr(r, attr) or "none")
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def _ms_percentile(seconds: list[float], q: float) -> str:
    """The ``q``-quantile (linear, ``stats.percentile``) of times in seconds, in ms."""
    value = percentile(seconds, q)
    return "" if value is None else f"{value * 1000:.3f}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def render_markdown(results: Sequence[CaptureLike], diagrams: dict[str, str],
                    title: str = "pcap-analyzer report",
                    checks: Sequence[dict[str, object]] = (),
                    retrans_threshold: float = RETRANS_THRESHOLD) -> str:
    """The whole report. ``diagrams`` maps a connection uid to its Mermaid block;
    ``retrans_threshold`` is the retransmission rate above which a connection is a
    problem."""
    records = [r for c in results for r in c.records]
    lines = [f"# {md_escape(title)}", ""]
    lines += ["## Problems", ""]
    found = triage_records(records, retrans_threshold)
    if not found:
        lines += ["No problems found: every handshake completed, no RST, no CLOSE_WAIT left "
                  "open, every WebSocket handshake valid, no connection retransmitted more "
                  f"than {percent(retrans_threshold)} of its segments, no zero window, no "
                  "RFC anomaly.", ""]
    lines += problem_lines(found, retrans_threshold)
    lines += ["## Captures", ""]
    lines += _table(["capture", "status", "packets", "TCP", "UDP"], [
        [c.path, c.status, c.packets, sum(r.proto == "tcp" for r in c.records),
         sum(r.proto == "udp" for r in c.records)] for c in results])
    if checks:
        failing = [c for c in checks if not c.get("passed")]
        errors = sum(c.get("severity") == "error" for c in failing)
        lines += ["## Checks", "",
                  f"{len(checks) - len(failing)} of {len(checks)} rule results hold "
                  f"({_plural(errors, 'error')}, {_plural(len(failing) - errors, 'warning')}).",
                  ""]
        if failing:
            lines += _table(["capture", "rule", "result", "measured"], [
                [c.get("capture"), c.get("rule"),
                 "FAIL" if c.get("severity") == "error" else "WARN", c.get("measured")]
                for c in failing])
    lines += ["## Summary", ""]
    rows = []
    for c in results:
        tcp = [r for r in c.records if r.proto == "tcp"]
        if not tcp:
            continue
        rtts = [r.handshake_rtt_s for r in tcp if r.handshake_rtt_s is not None]
        rows.append([c.path, len(tcp), _count(tcp, "handshake"), _count(tcp, "end"),
                     _count(tcp, "closer"), _count(tcp, "time_wait"), _ms_percentile(rtts, 0.5),
                     _ms_percentile(rtts, 0.95)])
    lines += _table(["capture", "TCP", "handshake", "end", "closer", "TIME_WAIT",
                     "RTT p50 ms", "RTT p95 ms"], rows)
    lines += _health_table(results)
    http = [r for r in records if r.http_requests]
    if http:
        lines += ["## HTTP", ""]
        lines += _table(["capture", "client", "server", "requests", "responses",
                         "last response keeps alive", "closer"], [
            [r.capture, endpoint(r.client_ip, r.client_port),
             endpoint(r.server_ip, r.server_port), r.http_requests, r.http_responses,
             r.transactions[-1].keep_alive if r.transactions else None, r.closer]
            for r in http[:50]])
    sessions = [(r, ws) for r in records for ws in r.websockets]
    if sessions:
        lines += ["## WebSocket sessions", ""]
        lines += _table(["capture", "client", "target", "host", "subprotocol", "status",
                         "established", "close code", "reply code", "closed by", "problems"], [
            [r.capture, endpoint(r.client_ip, r.client_port), ws.request_target, ws.host,
             ws.subprotocol, ws.status, ws.established, ws.close_code, ws.reply_close_code,
             ws.close_by, ", ".join(f"{n} (frame {f})" for n, f in ws.problems)]
            for r, ws in sessions[:50]])
    if diagrams:
        lines += ["## Connections that matter most", ""]
        by_uid = {r.uid: r for r in records}
        for uid, block in diagrams.items():
            r = by_uid[uid]
            lines += [f"### `{uid}` {md_escape(endpoint(r.client_ip, r.client_port))} → "
                      f"{md_escape(endpoint(r.server_ip, r.server_port))} "
                      f"({md_escape(r.capture)})", "",
                      block, ""]
    return "\n".join(lines) + "\n"


def _health_table(results: Sequence[CaptureLike]) -> list[str]:
    """The TCP health of each capture with TCP connections (``summary.tcp_health``)."""
    rows = []
    for c in results:
        tcp = [r for r in c.records if r.proto == "tcp"]
        if not tcp:
            continue
        h = tcp_health(to_frame(tcp))
        rows.append([c.path, h.connections, h.segments, h.retransmitted,
                     "" if h.retrans_rate is None else percent(h.retrans_rate),
                     h.with_retransmissions, h.with_dup_acks, h.with_zero_window,
                     *(f"{h.rtt_ms[q]:.3f}" if q in h.rtt_ms else ""
                       for q in ("p50", "p95", "p99"))])
    if not rows:
        return []
    return ["## TCP health", "",
            "Retransmissions pooled over every connection's segments that carry sequence "
            "space; data RTT percentiles over every data-to-ACK round trip.", "",
            *_table(["capture", "TCP", "segments", "retransmitted", "retrans rate",
                     "with retrans", "with dup ACKs", "with zero window", "data RTT p50 ms",
                     "data RTT p95 ms", "data RTT p99 ms"], rows)]
