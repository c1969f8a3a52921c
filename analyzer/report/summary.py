"""The ``summary`` table: how handshakes went and how connections ended, per capture,
and how healthy the TCP connections were (retransmissions, duplicate ACKs, zero windows,
data round-trip times)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analyzer.core.records import ConnectionRecord
from analyzer.report.endpoints import endpoint
from analyzer.report.stats import percentile

SECTIONS = ("handshake", "end", "closer", "time_wait", "conn_state")
PERCENTILES = (("p50", 0.50), ("p90", 0.90), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))
#: Connections listed in the ``worst_retransmissions`` section.
WORST_RETRANSMITTERS = 5
#: The report's Problems list a connection whose ``retrans_rate`` is above this (1%);
#: ``report --retrans-threshold`` changes it.
RETRANS_THRESHOLD = 0.01


def summarize(df: pd.DataFrame, records: Sequence[ConnectionRecord] = (),
              top_servers: int = 5,
              statuses: Sequence[tuple[str, str, int]] = ()) -> pd.DataFrame:
    """A tidy frame: capture, section, item, count, percent (of the capture's TCP
    connections), and for ``handshake_rtt_ms`` the percentile in ``value``.

    With the records, it also has the HTTP lines (requests, responses, requests per
    connection) and the WebSocket lines (upgrades established and rejected, close codes,
    who closed). The TCP health lines (``tcp_health``, ``data_rtt_ms``,
    ``worst_retransmissions``) are those of :func:`tcp_health`. ``statuses`` (capture,
    status, packets) adds a "capture" row for every input, including those that could not
    be read."""
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
                             "value": round(float(percentile(rtt, q) or 0.0) * 1000, 3)})
        rows.extend(_health_rows(str(capture), tcp_health(tcp), total))
        labels = [f"{endpoint(ip, port)}/{proto}" for ip, port, proto in
                  zip(group["server_ip"], group["server_port"], group["proto"], strict=True)]
        servers = (pd.Series(labels, index=group.index, dtype="object").groupby(labels).size()
                   .sort_values(ascending=False).head(top_servers))
        for label, n in servers.items():
            rows.append(_row(capture, "top_servers", str(label), int(n), len(group)))
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


# ------------------------------------------------------------------------------ TCP health


@dataclass(frozen=True, slots=True)
class Retransmitter:
    """One connection among the worst by retransmitted segments."""

    uid: str
    client: str
    server: str
    retrans_c2s: int
    retrans_s2c: int
    retrans_rate: float | None

    @property
    def retrans(self) -> int:
        return self.retrans_c2s + self.retrans_s2c


@dataclass(frozen=True, slots=True)
class TcpHealth:
    """The TCP health of a set of connections (one capture's, in the summary).

    ``retrans_rate`` pools every connection: the retransmitted segments of both directions
    of all of them over the segments that carry sequence space (data, SYN or FIN) of both
    directions of all of them, so a long transfer weighs as many segments as it sent; it is
    None when no segment carried sequence space.

    ``rtt_ms`` are percentiles (``stats.percentile``: linear, as pandas' ``quantile``) over
    every data-to-ACK round trip of every direction of every connection: the engine keeps a
    direction's samples as their count and their mean (``rtt_samples``, ``rtt_avg_s``), so
    each sample stands at its direction's mean, and a direction weighs as many samples as
    it had (``stats.percentile``'s weights, without repeating the means).
    ``max`` is the largest single sample (the largest ``rtt_max_s``). Empty without any
    sample."""

    connections: int
    segments: int
    retransmitted: int
    retrans_rate: float | None
    with_retransmissions: int
    with_dup_acks: int
    with_zero_window: int
    rtt_samples: int
    rtt_ms: dict[str, float]
    worst: tuple[Retransmitter, ...]


def _ints(df: pd.DataFrame, col: str) -> np.ndarray:
    """A nullable integer column as int64, null as 0."""
    values: np.ndarray = df[col].astype("Int64").fillna(0).to_numpy(dtype="int64")
    return values


def sequence_segments(tcp: pd.DataFrame) -> np.ndarray:
    """Each connection's segments that carry sequence space (data, SYN or FIN), both ways:
    ``retrans_rate``'s denominator."""
    both: np.ndarray = _ints(tcp, "seq_packets_c2s") + _ints(tcp, "seq_packets_s2c")
    return both


def tcp_health(tcp: pd.DataFrame, top: int = WORST_RETRANSMITTERS) -> TcpHealth:
    """The health figures of ``tcp`` (the TCP rows of the connections frame)."""
    retrans_c2s, retrans_s2c = _ints(tcp, "retrans_packets_c2s"), _ints(tcp, "retrans_packets_s2c")
    retrans = retrans_c2s + retrans_s2c
    segments = int(sequence_segments(tcp).sum())
    dup = _ints(tcp, "dup_acks_c2s") + _ints(tcp, "dup_acks_s2c")
    zero = (_ints(tcp, "zero_window_advertisements_c2s")
            + _ints(tcp, "zero_window_advertisements_s2c"))
    means: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    maxima: list[np.ndarray] = []
    for d in ("c2s", "s2c"):
        n = _ints(tcp, f"rtt_samples_{d}")
        avg = tcp[f"rtt_avg_s_{d}"].astype("float64").to_numpy()
        top_rtt = tcp[f"rtt_max_s_{d}"].astype("float64").to_numpy()
        has = (n > 0) & ~np.isnan(avg)
        means.append(avg[has])
        weights.append(n[has])
        maxima.append(top_rtt[has & ~np.isnan(top_rtt)])
    # each sample at its direction's mean: a mean weighs as many samples as it had
    mean, weight = np.concatenate(means), np.concatenate(weights)
    rtt_samples = int(weight.sum())
    rtt_ms: dict[str, float] = {}
    if rtt_samples:
        for name, q in PERCENTILES[:-1]:
            rtt_ms[name] = round(float(percentile(mean, q, weight) or 0.0) * 1000, 3)
        peak = np.concatenate(maxima)
        rtt_ms["max"] = round(float(peak.max() if len(peak) else mean.max()) * 1000, 3)
    order = sorted((i for i in range(len(tcp)) if retrans[i] > 0),
                   key=lambda i: -int(retrans[i]))[:top]
    rates = tcp["retrans_rate"].astype("float64").to_numpy()
    uids, cips, cports = list(tcp["uid"]), list(tcp["client_ip"]), list(tcp["client_port"])
    sips, sports = list(tcp["server_ip"]), list(tcp["server_port"])
    worst = tuple(
        Retransmitter(str(uids[i]), endpoint(cips[i], cports[i]),
                      endpoint(sips[i], sports[i]), int(retrans_c2s[i]), int(retrans_s2c[i]),
                      None if np.isnan(rates[i]) else float(rates[i]))
        for i in order)
    total = int(retrans.sum())
    return TcpHealth(
        connections=len(tcp), segments=segments, retransmitted=total,
        retrans_rate=total / segments if segments else None,
        with_retransmissions=int((retrans > 0).sum()), with_dup_acks=int((dup > 0).sum()),
        with_zero_window=int((zero > 0).sum()), rtt_samples=rtt_samples, rtt_ms=rtt_ms,
        worst=worst)


def _health_rows(capture: str, health: TcpHealth, total: int) -> list[dict[str, object]]:
    """The summary's lines of one capture's TCP health (none without TCP connections)."""
    if not total:
        return []
    rows = [
        _row(capture, "tcp_health", "segments", health.segments, None),
        {**_row(capture, "tcp_health", "retransmitted", health.retransmitted,
                health.segments), "value": health.retrans_rate},
        _row(capture, "tcp_health", "with_retransmissions", health.with_retransmissions, total),
        _row(capture, "tcp_health", "with_dup_acks", health.with_dup_acks, total),
        _row(capture, "tcp_health", "with_zero_window", health.with_zero_window, total),
    ]
    for name, ms in health.rtt_ms.items():
        rows.append({**_row(capture, "data_rtt_ms", name, health.rtt_samples, None),
                     "value": ms})
    for w in health.worst:
        rows.append({**_row(capture, "worst_retransmissions",
                            f"{w.uid} {w.client} -> {w.server} "
                            f"(c2s {w.retrans_c2s}, s2c {w.retrans_s2c})", w.retrans, None),
                     "value": w.retrans_rate})
    return rows
