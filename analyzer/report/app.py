"""HTTP transaction and WebSocket session rows (the ``http`` and ``websockets`` commands)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from analyzer.core.records import ConnectionRecord

HTTP_COLUMNS: tuple[str, ...] = (
    "capture", "uid", "client_ip", "client_port", "server_ip", "server_port", "trans_depth",
    "request_ts", "method", "target", "host", "request_version", "user_agent", "referrer",
    "origin", "request_body_len", "status", "reason", "info_code", "info_msg",
    "response_version", "response_ts",
    "response_body_len", "chunked", "keep_alive", "request_frame", "response_frame",
)
WS_COLUMNS: tuple[str, ...] = (
    "capture", "uid", "client_ip", "client_port", "server_ip", "server_port", "request_ts",
    "request_target", "host", "origin", "user_agent", "sec_websocket_key",
    "sec_websocket_version", "offered_subprotocols", "offered_extensions", "status",
    "response_ts", "sec_websocket_accept", "accept_valid", "subprotocol", "extensions",
    "established", "frames_c2s", "frames_s2c", "messages_c2s", "messages_s2c",
    "payload_bytes_c2s", "payload_bytes_s2c", "close_code", "close_reason", "close_by",
    "reply_close_code", "problems", "request_frame", "response_frame",
)


def _conn(r: ConnectionRecord) -> dict[str, Any]:
    return {"capture": r.capture, "uid": r.uid, "client_ip": r.client_ip,
            "client_port": r.client_port, "server_ip": r.server_ip,
            "server_port": r.server_port}


def http_rows(records: Iterable[ConnectionRecord]) -> list[dict[str, Any]]:
    rows = []
    for r in records:
        for tx in r.transactions:
            row = _conn(r)
            row.update({c: getattr(tx, c) for c in HTTP_COLUMNS if c not in row})
            rows.append(row)
    return rows


def websocket_rows(records: Iterable[ConnectionRecord]) -> list[dict[str, Any]]:
    rows = []
    for r in records:
        for ws in r.websockets:
            row = _conn(r)
            for c in WS_COLUMNS:
                if c in row:
                    continue
                value = getattr(ws, c)
                if c == "problems":
                    value = [{"problem": name, "frame": frame} for name, frame in value]
                elif isinstance(value, tuple):
                    value = list(value)
                row[c] = value
            rows.append(row)
    return rows


def http_frame(records: Iterable[ConnectionRecord]) -> pd.DataFrame:
    df = pd.DataFrame(http_rows(records), columns=list(HTTP_COLUMNS))
    for col in ("trans_depth", "request_body_len", "status", "info_code", "response_body_len",
                "request_frame", "response_frame", "client_port", "server_port"):
        df[col] = df[col].astype("Int64")
    df["keep_alive"] = df["keep_alive"].astype("boolean")
    df["chunked"] = df["chunked"].astype("bool")
    return df


def websocket_frame(records: Iterable[ConnectionRecord]) -> pd.DataFrame:
    df = pd.DataFrame(websocket_rows(records), columns=list(WS_COLUMNS))
    for col in ("status", "close_code", "reply_close_code", "payload_bytes_c2s",
                "payload_bytes_s2c", "request_frame", "response_frame", "client_port",
                "server_port"):
        df[col] = df[col].astype("Int64")
    for col in ("accept_valid",):
        df[col] = df[col].astype("boolean")
    df["established"] = df["established"].astype("bool")
    return df
