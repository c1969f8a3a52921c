"""``report.md``: GitHub-flavoured Markdown for a CI job summary.

Problems come first (failed handshakes, RSTs, CLOSE_WAIT left open, invalid WebSocket
handshakes, retransmissions above a threshold, zero receive windows), then the per-capture
summary and TCP health, the WebSocket sessions, and Mermaid ladder diagrams of the few
connections that matter most. Every packet-derived string is escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from analyzer.api import CaptureResult
from analyzer.core.records import ConnectionRecord
from analyzer.report.frame import to_frame
from analyzer.report.summary import RETRANS_THRESHOLD, tcp_health
from analyzer.report.writers import md_escape

MAX_LISTED = 5


def _listed(records: Sequence[ConnectionRecord],
            show: Callable[[ConnectionRecord], str]) -> str:
    shown = ", ".join(show(r) for r in records[:MAX_LISTED])
    more = len(records) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _uid(record: ConnectionRecord) -> str:
    return f"`{record.uid}`"


def percent(rate: float) -> str:
    """A rate as a short percentage: 0.01 -> "1%", 0.0213 -> "2.13%"."""
    return f"{rate * 100:.3g}%"


def retransmitting(record: ConnectionRecord, threshold: float) -> bool:
    """Whether the connection retransmitted more than ``threshold`` of its segments."""
    return record.retrans_rate is not None and record.retrans_rate > threshold


def zero_window(record: ConnectionRecord) -> bool:
    """Whether either receiver advertised a zero window."""
    return ((record.zero_window_advertisements_c2s or 0)
            + (record.zero_window_advertisements_s2c or 0)) > 0


def _retransmissions(record: ConnectionRecord) -> str:
    n = (record.retrans_packets_c2s or 0) + (record.retrans_packets_s2c or 0)
    of = (record.seq_packets_c2s or 0) + (record.seq_packets_s2c or 0)
    return f"`{record.uid}` ({percent(record.retrans_rate or 0.0)}: {n} of {of} segments)"


def _zero_windows(record: ConnectionRecord) -> str:
    sides = ", ".join(f"{n} from the {side}" for side, n in (
        ("client", record.zero_window_advertisements_c2s),
        ("server", record.zero_window_advertisements_s2c)) if n)
    return f"`{record.uid}` ({sides})"


@dataclass(frozen=True, slots=True)
class Problem:
    """One kind of problem and the connections that show it."""

    what: str
    hit: list[ConnectionRecord]
    #: How one connection is listed: its uid, and for some kinds a figure.
    show: Callable[[ConnectionRecord], str] = _uid

    def line(self) -> str:
        return f"- **{len(self.hit)} {self.what}**: {_listed(self.hit, self.show)}"


def problem_list(records: Sequence[ConnectionRecord],
                 retrans_threshold: float = RETRANS_THRESHOLD) -> list[Problem]:
    """Each kind of problem present, most serious first. Connections retransmitting more
    than ``retrans_threshold`` of their segments are listed worst first, with their rate;
    those with zero windows with who advertised them and how often."""
    tcp = [r for r in records if r.proto == "tcp"]
    kinds: list[tuple[str, Callable[[ConnectionRecord], bool],
                      Callable[[ConnectionRecord], str]]] = [
        ("failed handshakes (refused, unanswered or incomplete)",
         lambda r: r.handshake in ("refused", "unanswered", "incomplete"), _uid),
        ("invalid handshakes (wrong SYN-ACK or ACK numbers)",
         lambda r: r.handshake_valid is False, _uid),
        ("connections ended by RST", lambda r: r.end == "rst" and r.handshake != "refused",
         _uid),
        ("CLOSE_WAIT left open (the peer's FIN acknowledged, no FIN of its own)",
         lambda r: "CLOSE_WAIT" in (r.client_state, r.server_state), _uid),
        ("invalid WebSocket handshakes or RFC 6455 violations",
         lambda r: any(not ws.established or ws.problems for ws in r.websockets), _uid),
        (f"connections retransmitting more than {percent(retrans_threshold)} of their "
         "segments", lambda r: retransmitting(r, retrans_threshold), _retransmissions),
        ("connections whose receiver window went to zero (zero-window advertisements)",
         zero_window, _zero_windows),
    ]
    out = []
    for what, test, show in kinds:
        hit = [r for r in tcp if test(r)]
        if show is _retransmissions:
            hit.sort(key=lambda r: -(r.retrans_rate or 0.0))
        if hit:
            out.append(Problem(what, hit, show))
    return out


def problems(records: Sequence[ConnectionRecord], retrans_threshold: float = RETRANS_THRESHOLD
             ) -> list[tuple[str, list[ConnectionRecord]]]:
    """(what, connections) for each kind of problem present, most serious first."""
    return [(p.what, p.hit) for p in problem_list(records, retrans_threshold)]


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    def cell(v: object) -> str:
        return "" if v is None else md_escape(str(v))

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return [*lines, ""]


def _count(records: Sequence[ConnectionRecord], attr: str) -> str:
    counts: dict[str, int] = {}
    for r in records:
        key = str(getattr(r, attr) or "none")
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def _pct(values: list[float], q: float) -> str:
    if not values:
        return ""
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return f"{ordered[idx] * 1000:.3f}"


def render_markdown(results: Sequence[CaptureResult], diagrams: dict[str, str],
                    title: str = "pcap-analyzer report",
                    checks: Sequence[dict[str, object]] = (),
                    retrans_threshold: float = RETRANS_THRESHOLD) -> str:
    """The whole report. ``diagrams`` maps a connection uid to its Mermaid block;
    ``retrans_threshold`` is the retransmission rate above which a connection is a
    problem."""
    records = [r for c in results for r in c.records]
    lines = [f"# {md_escape(title)}", ""]
    lines += ["## Problems", ""]
    found = problem_list(records, retrans_threshold)
    if not found:
        lines += ["No problems found: every handshake completed, no RST, no CLOSE_WAIT left "
                  "open, every WebSocket handshake valid, no connection retransmitted more "
                  f"than {percent(retrans_threshold)} of its segments, no zero window.", ""]
    lines += [p.line() for p in found]
    lines.append("")
    lines += ["## Captures", ""]
    lines += _table(["capture", "status", "packets", "TCP", "UDP"], [
        [c.path, c.status, c.packets, sum(r.proto == "tcp" for r in c.records),
         sum(r.proto == "udp" for r in c.records)] for c in results])
    if checks:
        failing = [c for c in checks if not c.get("passed")]
        lines += ["## Checks", "",
                  f"{len(checks) - len(failing)} of {len(checks)} rule results hold "
                  f"({sum(c.get('severity') == 'error' for c in failing)} errors, "
                  f"{sum(c.get('severity') != 'error' for c in failing)} warnings).", ""]
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
                     _count(tcp, "closer"), _count(tcp, "time_wait"), _pct(rtts, 0.5),
                     _pct(rtts, 0.95)])
    lines += _table(["capture", "TCP", "handshake", "end", "closer", "TIME_WAIT",
                     "RTT p50 ms", "RTT p95 ms"], rows)
    lines += _health_table(results)
    http = [r for r in records if r.http_requests]
    if http:
        lines += ["## HTTP", ""]
        lines += _table(["capture", "client", "server", "requests", "responses",
                         "last response keeps alive", "closer"], [
            [r.capture, f"{r.client_ip}:{r.client_port}", f"{r.server_ip}:{r.server_port}",
             r.http_requests, r.http_responses,
             r.transactions[-1].keep_alive if r.transactions else None, r.closer]
            for r in http[:50]])
    sessions = [(r, ws) for r in records for ws in r.websockets]
    if sessions:
        lines += ["## WebSocket sessions", ""]
        lines += _table(["capture", "client", "target", "host", "subprotocol", "status",
                         "established", "close code", "reply code", "closed by", "problems"], [
            [r.capture, f"{r.client_ip}:{r.client_port}", ws.request_target, ws.host,
             ws.subprotocol, ws.status, ws.established, ws.close_code, ws.reply_close_code,
             ws.close_by, ", ".join(f"{n} (frame {f})" for n, f in ws.problems)]
            for r, ws in sessions[:50]])
    if diagrams:
        lines += ["## Connections that matter most", ""]
        by_uid = {r.uid: r for r in records}
        for uid, block in diagrams.items():
            r = by_uid[uid]
            lines += [f"### `{uid}` {md_escape(r.client_ip)}:{r.client_port} → "
                      f"{md_escape(r.server_ip)}:{r.server_port} ({md_escape(r.capture)})", "",
                      block, ""]
    return "\n".join(lines) + "\n"


def _health_table(results: Sequence[CaptureResult]) -> list[str]:
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


def pick_connections(records: Sequence[ConnectionRecord], limit: int = 3,
                     retrans_threshold: float = RETRANS_THRESHOLD) -> list[ConnectionRecord]:
    """The connections worth a diagram: one per kind of problem, else complete ones."""
    chosen: list[ConnectionRecord] = []
    for _, hit in problems(records, retrans_threshold):
        if hit[0] not in chosen:
            chosen.append(hit[0])
    for r in records:
        if len(chosen) >= limit:
            break
        if r.proto == "tcp" and r not in chosen and r.handshake == "complete":
            chosen.append(r)
    return chosen[:limit]
