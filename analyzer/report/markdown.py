"""``report.md``: GitHub-flavoured Markdown for a CI job summary.

Problems come first (failed handshakes, RSTs, CLOSE_WAIT left open, invalid WebSocket
handshakes), then the per-capture summary, the WebSocket sessions, and Mermaid ladder
diagrams of the few connections that matter most. Every packet-derived string is escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from analyzer.api import CaptureResult
from analyzer.core.records import ConnectionRecord
from analyzer.report.writers import md_escape

MAX_LISTED = 5


def _uids(records: Sequence[ConnectionRecord]) -> str:
    shown = ", ".join(f"`{r.uid}`" for r in records[:MAX_LISTED])
    more = len(records) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def problems(records: Sequence[ConnectionRecord]) -> list[tuple[str, list[ConnectionRecord]]]:
    """(what, connections) for each kind of problem present, most serious first."""
    tcp = [r for r in records if r.proto == "tcp"]
    kinds: list[tuple[str, Callable[[ConnectionRecord], bool]]] = [
        ("failed handshakes (refused, unanswered or incomplete)",
         lambda r: r.handshake in ("refused", "unanswered", "incomplete")),
        ("invalid handshakes (wrong SYN-ACK or ACK numbers)",
         lambda r: r.handshake_valid is False),
        ("connections ended by RST", lambda r: r.end == "rst" and r.handshake != "refused"),
        ("CLOSE_WAIT left open (the peer's FIN acknowledged, no FIN of its own)",
         lambda r: "CLOSE_WAIT" in (r.client_state, r.server_state)),
        ("invalid WebSocket handshakes or RFC 6455 violations",
         lambda r: any(not ws.established or ws.problems for ws in r.websockets)),
    ]
    out = []
    for what, test in kinds:
        hit = [r for r in tcp if test(r)]
        if hit:
            out.append((what, hit))
    return out


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
                    checks: Sequence[dict[str, object]] = ()) -> str:
    """The whole report. ``diagrams`` maps a connection uid to its Mermaid block."""
    records = [r for c in results for r in c.records]
    lines = [f"# {md_escape(title)}", ""]
    lines += ["## Problems", ""]
    found = problems(records)
    if not found:
        lines += ["No problems found: every handshake completed, no RST, no CLOSE_WAIT left "
                  "open, every WebSocket handshake valid.", ""]
    for what, hit in found:
        lines.append(f"- **{len(hit)} {what}**: {_uids(hit)}")
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


def pick_connections(records: Sequence[ConnectionRecord], limit: int = 3
                     ) -> list[ConnectionRecord]:
    """The connections worth a diagram: one per kind of problem, else complete ones."""
    chosen: list[ConnectionRecord] = []
    for _, hit in problems(records):
        if hit[0] not in chosen:
            chosen.append(hit[0])
    for r in records:
        if len(chosen) >= limit:
            break
        if r.proto == "tcp" and r not in chosen and r.handshake == "complete":
            chosen.append(r)
    return chosen[:limit]
