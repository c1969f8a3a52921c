"""HTTP transaction and WebSocket session rows (the ``http`` and ``websockets`` commands)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from analyzer.core.app import NS, WebSocketSession, session_from_engine
from analyzer.core.columns import Batch, Columns, NativeBatch, RecordsBatch, records_from_columns
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
    return [_ws_row(_conn(r), ws) for r in records for ws in r.websockets]


def _ws_row(row: dict[str, Any], ws: WebSocketSession) -> dict[str, Any]:
    """A session's row: the connection's columns in ``row``, then the session's."""
    for c in WS_COLUMNS:
        if c in row:
            continue
        value = getattr(ws, c)
        if c == "problems":
            value = [{"problem": name, "frame": frame} for name, frame in value]
        elif isinstance(value, tuple):
            value = list(value)
        row[c] = value
    return row


def batch_http_columns(batch: Batch) -> Columns:
    """The HTTP rows of one batch of records, as columns in ``HTTP_COLUMNS`` order (the
    native engine builds them without a Python object per transaction)."""
    if isinstance(batch, NativeBatch):
        raw = batch.engine_batch.http_columns()
        n = len(raw["uid"])
        cols: Columns = {}
        for name in HTTP_COLUMNS:
            if name == "capture":
                cols[name] = [batch.capture] * n
            elif name in ("request_ts", "response_ts"):
                cols[name] = [None if x is None else x / NS for x in raw[name + "_ns"]]
            else:
                cols[name] = raw[name]
        return cols
    rows = http_rows(batch.records if isinstance(batch, RecordsBatch)
                     else records_from_columns(batch.columns))
    return {name: [row[name] for row in rows] for name in HTTP_COLUMNS}


def batch_websocket_rows(batch: Batch) -> list[dict[str, Any]]:
    """The WebSocket rows of one batch of records."""
    if isinstance(batch, RecordsBatch):
        return websocket_rows(batch.records)
    if isinstance(batch, NativeBatch):
        raw = batch.engine_batch.ws_columns()
        rows = []
        for i, d in enumerate(raw["sessions"]):
            ws = session_from_engine(d)
            row: dict[str, Any] = {"capture": batch.capture}
            row.update({c: raw[c][i] for c in ("uid", "client_ip", "client_port",
                                                 "server_ip", "server_port")})
            rows.append(_ws_row(row, ws))
        return rows
    return websocket_rows(records_from_columns(batch.columns))


def concat_columns(parts: list[Columns], names: tuple[str, ...]) -> Columns:
    return {name: [v for part in parts for v in part[name]] for name in names}


def rows_from_columns(cols: Columns) -> list[dict[str, Any]]:
    names = list(cols)
    return [dict(zip(names, values, strict=True))
            for values in zip(*(cols[n] for n in names), strict=True)]


def http_frame(records: Iterable[ConnectionRecord]) -> pd.DataFrame:
    rows = http_rows(records)
    return http_frame_from_columns({c: [r[c] for r in rows] for c in HTTP_COLUMNS})


def http_frame_from_columns(cols: Columns) -> pd.DataFrame:
    df = pd.DataFrame(cols, columns=list(HTTP_COLUMNS))
    for col in ("trans_depth", "request_body_len", "status", "info_code", "response_body_len",
                "request_frame", "response_frame", "client_port", "server_port"):
        df[col] = df[col].astype("Int64")
    df["keep_alive"] = df["keep_alive"].astype("boolean")
    df["chunked"] = df["chunked"].astype("bool")
    return df


def websocket_frame(records: Iterable[ConnectionRecord]) -> pd.DataFrame:
    return websocket_frame_from_rows(websocket_rows(records))


def websocket_frame_from_rows(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(WS_COLUMNS))
    for col in ("status", "close_code", "reply_close_code", "payload_bytes_c2s",
                "payload_bytes_s2c", "request_frame", "response_frame", "client_port",
                "server_port"):
        df[col] = df[col].astype("Int64")
    for col in ("accept_valid",):
        df[col] = df[col].astype("boolean")
    df["established"] = df["established"].astype("bool")
    return df
