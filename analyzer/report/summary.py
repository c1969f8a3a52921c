"""The ``summary`` table: how handshakes went and how connections ended, per capture."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pandas as pd

from analyzer.core.records import ConnectionRecord

SECTIONS = ("handshake", "end", "closer", "time_wait", "conn_state")
PERCENTILES = (("p50", 0.50), ("p90", 0.90), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))


def summarize(df: pd.DataFrame, records: Sequence[ConnectionRecord] = (),
              top_servers: int = 5,
              statuses: Sequence[tuple[str, str, int]] = ()) -> pd.DataFrame:
    """A tidy frame: capture, section, item, count, percent (of the capture's TCP
    connections), and for ``handshake_rtt_ms`` the percentile in ``value``.

    With the records, it also has the HTTP lines (requests, responses, requests per
    connection) and the WebSocket lines (upgrades established and rejected, close codes,
    who closed). ``statuses`` (capture, status, packets) adds a "capture" row for every
    input, including those that could not be read."""
    rows: list[dict[str, object]] = []
    for path, status, packets in statuses:
        rows.append(_row(path, "capture", status, packets, None))
    by_capture: dict[str, list[ConnectionRecord]] = {}
    for rec in records:
        by_capture.setdefault(rec.capture, []).append(rec)
    for capture, group in df.groupby("capture", sort=False, observed=True):
        tcp = group[group["proto"] == "tcp"]
        total = len(tcp)
        rows.append(_row(capture, "connections", "tcp", total, total))
        rows.append(_row(capture, "connections", "udp", int((group["proto"] == "udp").sum()),
                         None))
        icmp = int((group["proto"] == "icmp").sum())
        if icmp:  # only the native engine reports ICMP
            rows.append(_row(capture, "connections", "icmp", icmp, None))
        for section in SECTIONS:
            counts = tcp[section].astype("string").fillna("none").value_counts(sort=True)
            for item, n in counts.items():
                rows.append(_row(capture, section, str(item), int(n), total))
        rtt = tcp["handshake_rtt_s"].dropna()
        if len(rtt):
            for name, q in PERCENTILES:
                rows.append({"capture": capture, "section": "handshake_rtt_ms", "item": name,
                             "count": len(rtt), "percent": None,
                             "value": round(float(rtt.quantile(q)) * 1000, 3)})
        servers = (group.assign(endpoint=group["server_ip"].astype(str) + ":"
                                + group["server_port"].astype(str) + "/"
                                + group["proto"].astype(str))
                   .groupby("endpoint").size().sort_values(ascending=False).head(top_servers))
        for endpoint, n in servers.items():
            rows.append(_row(capture, "top_servers", str(endpoint), int(n), len(group)))
        rows.extend(_app_rows(str(capture), by_capture.get(str(capture), [])))
    out = pd.DataFrame(rows, columns=["capture", "section", "item", "count", "percent", "value"])
    if statuses:
        order = {c: i for i, (c, _, _) in enumerate(statuses)}
        out = out.sort_values("capture", key=lambda col: col.map(order), kind="stable")
        out = out.reset_index(drop=True)
    out["count"] = out["count"].astype("int64")
    out["percent"] = out["percent"].astype("float64")
    out["value"] = out["value"].astype("float64")
    return out


def _app_rows(capture: str, records: list[ConnectionRecord]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    with_http = [r for r in records if r.http_requests or r.http_responses]
    if with_http:
        n = len(with_http)
        rows.append(_row(capture, "http", "connections", n, None))
        rows.append(_row(capture, "http", "requests", sum(r.http_requests for r in with_http),
                         None))
        rows.append(_row(capture, "http", "responses",
                         sum(r.http_responses for r in with_http), None))
        per_conn = Counter(r.http_requests for r in with_http)
        for depth in sorted(per_conn):
            rows.append(_row(capture, "http_requests_per_connection", str(depth),
                             per_conn[depth], n))
        keep = Counter(
            "keep-alive" if r.transactions and r.transactions[-1].keep_alive else "closing"
            for r in with_http)
        for k, v in sorted(keep.items()):
            rows.append(_row(capture, "http_last_response", k, v, n))
    sessions = [ws for r in records for ws in r.websockets]
    if sessions:
        n = len(sessions)
        outcome = Counter(
            "established" if ws.established
            else ("no_response" if ws.status is None else f"rejected_{ws.status}")
            for ws in sessions)
        for k, v in sorted(outcome.items()):
            rows.append(_row(capture, "websocket", k, v, n))
        codes = Counter("none" if ws.close_code is None else str(ws.close_code)
                        for ws in sessions if ws.established)
        for k, v in sorted(codes.items()):
            rows.append(_row(capture, "websocket_close_code", k, v, n))
        closers = Counter(ws.close_by or "none" for ws in sessions if ws.established)
        for k, v in sorted(closers.items()):
            rows.append(_row(capture, "websocket_close_by", k, v, n))
        problems = Counter(name for ws in sessions for name, _ in ws.problems)
        for k, v in sorted(problems.items()):
            rows.append(_row(capture, "websocket_problem", k, v, n))
    return rows


def _row(capture: object, section: str, item: str, n: int, total: int | None
         ) -> dict[str, object]:
    pct = round(100.0 * n / total, 1) if total else None
    return {"capture": capture, "section": section, "item": item, "count": n, "percent": pct,
            "value": None}
