"""Records -> a typed pandas DataFrame (the one schema every report is built on)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from analyzer.core.records import FIELD_NAMES, ConnectionRecord
from analyzer.core.vocab import CONN_STATES, Proto, TcpState

STATES = [s.value for s in TcpState]
CATEGORIES: dict[str, list[str]] = {
    "proto": [p.value for p in Proto],
    "handshake": ["complete", "refused", "unanswered", "incomplete", "not_seen"],
    "end": ["fin", "rst", "half_closed", "open"],
    "closer": ["client", "server", "both"],
    "rst_by": ["client", "server"],
    "time_wait": ["client", "server", "both"],
    "client_state": STATES,
    "server_state": STATES,
    "conn_state": list(CONN_STATES),
}
INT_COLUMNS = ("client_port", "server_port", "ip_version", "first_ts_ns", "last_ts_ns",
               "syn_retransmissions", "packets_c2s", "packets_s2c", "bytes_c2s", "bytes_s2c",
               "missed_bytes", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes",
               "http_requests", "http_responses", "first_frame", "last_frame")
NULLABLE_INT = ("orig_bytes", "resp_bytes")


def to_frame(records: Iterable[ConnectionRecord]) -> pd.DataFrame:
    rows = [r.to_dict() for r in records]
    df = pd.DataFrame(rows, columns=list(FIELD_NAMES))
    for col in INT_COLUMNS:
        df[col] = df[col].astype("int64")
    for col in NULLABLE_INT:
        df[col] = df[col].astype("Int64")
    for col, cats in CATEGORIES.items():
        df[col] = pd.Categorical(df[col], categories=cats)
    df["handshake_valid"] = df["handshake_valid"].astype("boolean")
    for col in ("client_inferred", "websocket", "zeek_flipped"):
        df[col] = df[col].astype("bool")
    for col in ("first_ts", "last_ts", "duration_s", "handshake_rtt_s", "duration_zeek"):
        df[col] = df[col].astype("float64")
    df["first_time"] = pd.to_datetime(df["first_ts_ns"], unit="ns", utc=True)
    df["last_time"] = pd.to_datetime(df["last_ts_ns"], unit="ns", utc=True)
    return df
