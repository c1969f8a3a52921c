"""``diff BEFORE AFTER``: the same workload captured twice, compared.

Connections are matched by server endpoint (address, port, protocol) and, within an
endpoint, by order of their start; client ports and times are ignored. The result lists
new and vanished server endpoints, per-endpoint metric changes (handshake failures, RST
rate, close sides, TIME_WAIT sides, handshake RTT percentiles, WebSocket close codes) and
the matched connections whose outcome changed. A handshake failure is one of
``report.problems``' failed-handshake kinds; the percentiles are ``report.stats``' (linear).
A change is one of the printed values: an RTT percentile that moves by less than the printed
precision (0.001 ms) is not a change, even where rounding prints the two values apart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from analyzer.core.records import ConnectionRecord
from analyzer.report.endpoints import endpoint as address
from analyzer.report.problems import FAILED_HANDSHAKES, triage_records
from analyzer.report.stats import percentile


def endpoint(r: ConnectionRecord) -> str:
    """The server endpoint a connection is matched by: ``ADDRESS:PORT/PROTO``."""
    return f"{address(r.server_ip, r.server_port)}/{r.proto}"


#: The handshake-RTT percentiles compared, and their quantiles.
RTT_METRICS = {"rtt_p50_ms": 0.5, "rtt_p95_ms": 0.95}


#: RTT percentiles are printed in ms with 3 decimals (1 µs).
RTT_DECIMALS = 3


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, RTT_DECIMALS)


def _rtt_ms(records: Sequence[ConnectionRecord], q: float) -> float | None:
    """The handshake-RTT ``q``-percentile in ms, not rounded."""
    rtts = [r.handshake_rtt_s for r in records
            if r.proto == "tcp" and r.handshake_rtt_s is not None]
    value = percentile(rtts, q)
    return None if value is None else value * 1000


def _changed(key: str, before: object, after: object, a: Sequence[ConnectionRecord],
             b: Sequence[ConnectionRecord]) -> bool:
    """Whether a metric changed. The printed (rounded) values are compared; an RTT
    percentile also has to move by a whole printed unit (0.001 ms), so that two values a
    hair apart on either side of a rounding boundary (1.2344 and 1.2346 ms, printed 1.234
    and 1.235) are not a change."""
    if before == after:
        return False
    if key in RTT_METRICS and before is not None and after is not None:
        raw_a, raw_b = _rtt_ms(a, RTT_METRICS[key]), _rtt_ms(b, RTT_METRICS[key])
        assert raw_a is not None and raw_b is not None
        unit = 10.0 ** -RTT_DECIMALS
        return abs(raw_a - raw_b) >= unit * (1 - 1e-9)
    return True


def metrics(records: Sequence[ConnectionRecord]) -> dict[str, object]:
    """What is compared for one server endpoint."""
    tcp = [r for r in records if r.proto == "tcp"]
    n = len(records)
    rtts = [r.handshake_rtt_s for r in tcp if r.handshake_rtt_s is not None]
    failing = set(FAILED_HANDSHAKES.values())
    failed = len({p.conn.index for p in triage_records(tcp) if p.kind in failing})
    rst = sum(r.end == "rst" for r in tcp)
    closer = Counter(r.closer or "none" for r in tcp)
    tw = Counter(r.time_wait or "none" for r in tcp)
    codes = Counter(str(ws.close_code) for r in tcp for ws in r.websockets if ws.established)
    return {
        "connections": n,
        "handshake_failures": failed,
        "rst_rate": round(rst / len(tcp), 4) if tcp else None,
        "closer": ", ".join(f"{k} {v}" for k, v in sorted(closer.items())) if tcp else None,
        "time_wait": ", ".join(f"{k} {v}" for k, v in sorted(tw.items())) if tcp else None,
        **{key: _ms(percentile(rtts, q)) for key, q in RTT_METRICS.items()},
        "ws_close_codes": ", ".join(f"{k} x{v}" for k, v in sorted(codes.items())) or None,
    }


@dataclass(frozen=True, slots=True)
class Diff:
    new_endpoints: list[str]
    vanished_endpoints: list[str]
    changes: list[dict[str, object]]  # endpoint, metric, before, after
    connection_changes: list[dict[str, object]]  # endpoint, n, field, before, after, uids


def diff(before: Sequence[ConnectionRecord], after: Sequence[ConnectionRecord]) -> Diff:
    def group(records: Sequence[ConnectionRecord]) -> dict[str, list[ConnectionRecord]]:
        out: dict[str, list[ConnectionRecord]] = {}
        for r in sorted(records, key=lambda r: (r.first_ts_ns, r.first_frame)):
            out.setdefault(endpoint(r), []).append(r)
        return out

    a, b = group(before), group(after)
    changes: list[dict[str, object]] = []
    conn_changes: list[dict[str, object]] = []
    for ep in sorted(set(a) & set(b)):
        ma, mb = metrics(a[ep]), metrics(b[ep])
        for key in ma:
            if _changed(key, ma[key], mb[key], a[ep], b[ep]):
                changes.append({"endpoint": ep, "metric": key, "before": ma[key],
                                "after": mb[key]})
        for i, (ra, rb) in enumerate(zip(a[ep], b[ep], strict=False), 1):
            for fld in ("handshake", "end", "closer", "time_wait", "conn_state"):
                va, vb = getattr(ra, fld), getattr(rb, fld)
                if va != vb:
                    conn_changes.append({"endpoint": ep, "n": i, "field": fld, "before": va,
                                         "after": vb, "uids": f"{ra.uid} -> {rb.uid}"})
    return Diff(
        new_endpoints=sorted(set(b) - set(a)),
        vanished_endpoints=sorted(set(a) - set(b)),
        changes=changes,
        connection_changes=conn_changes,
    )


def render_markdown(d: Diff, before: str, after: str) -> str:
    from analyzer.report.writers import md_escape

    def table(header: list[str], rows: list[list[object]]) -> list[str]:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join("" if v is None else md_escape(str(v)) for v in row) + " |"
                for row in rows]
        return [*out, ""]

    lines = [f"# diff: {md_escape(before)} → {md_escape(after)}", ""]
    lines += ["## Server endpoints", ""]
    if not d.new_endpoints and not d.vanished_endpoints:
        lines += ["The same server endpoints in both captures.", ""]
    for ep in d.new_endpoints:
        lines.append(f"- new: `{ep}`")
    for ep in d.vanished_endpoints:
        lines.append(f"- vanished: `{ep}`")
    lines.append("")
    lines += ["## Changes per endpoint", ""]
    if d.changes:
        lines += table(["endpoint", "metric", "before", "after"],
                       [[c["endpoint"], c["metric"], c["before"], c["after"]]
                        for c in d.changes])
    else:
        lines += ["No metric changed.", ""]
    lines += ["## Matched connections whose outcome changed", ""]
    if d.connection_changes:
        lines += table(["endpoint", "n-th", "field", "before", "after", "uids"],
                       [[c["endpoint"], c["n"], c["field"], c["before"], c["after"],
                         c["uids"]] for c in d.connection_changes[:200]])
    else:
        lines += ["None.", ""]
    return "\n".join(lines) + "\n"
