"""HTTP transaction and WebSocket session rows (the ``http`` and ``websockets`` commands)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

import pandas as pd

from analyzer.core.app import NS, WebSocketSession, session_from_engine
from analyzer.core.columns import Batch, Columns, NativeBatch, RecordsBatch, records_from_columns
from analyzer.core.records import ConnectionRecord
from analyzer.report.writers import COMMON_COLUMNS, TableColumn, plain

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


def _field(name: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda row: plain(row.get(name))


def _yes_no(name: str) -> Callable[[Mapping[str, Any]], str]:
    def cell(row: Mapping[str, Any]) -> str:
        value = row.get(name)
        if value is None or value is pd.NA:
            return ""
        return "yes" if value else "no"
    return cell


_N, _CAPTURE, _CLIENT, _SERVER = COMMON_COLUMNS

#: The ``http`` table: which connection (``#N`` as in ``connections``, the capture when
#: there are several, the endpoints), then the transaction, by priority as far as it fits.
HTTP_TABLE: tuple[TableColumn, ...] = (
    _N, _CAPTURE, _CLIENT, _SERVER,
    TableColumn("trans_depth", "depth", 4, _field("trans_depth"), right=True),
    TableColumn("method", "method", 1, _field("method")),
    TableColumn("target", "target", 1, _field("target"), wrap=True, min_width=16),
    TableColumn("host", "host", 3, _field("host"), wrap=True),
    TableColumn("request_version", "req ver", 5, _field("request_version")),
    TableColumn("status", "status", 1, _field("status"), right=True),
    TableColumn("reason", "reason", 6, _field("reason"), wrap=True),
    TableColumn("response_version", "resp ver", 5, _field("response_version")),
    TableColumn("chunked", "chunked", 6, lambda row: "yes" if row.get("chunked") else ""),
    TableColumn("keep_alive", "keep-alive", 6, _yes_no("keep_alive")),
)
#: The ``websockets`` table, likewise.
WS_TABLE: tuple[TableColumn, ...] = (
    _N, replace(_CAPTURE, priority=3), _CLIENT, _SERVER,
    TableColumn("request_target", "target", 1, _field("request_target"), wrap=True,
                min_width=16),
    TableColumn("status", "status", 1, _field("status"), right=True),
    TableColumn("accept_valid", "accept ok", 4, _yes_no("accept_valid")),
    TableColumn("established", "established", 1, _yes_no("established")),
    TableColumn("subprotocol", "subprotocol", 5, _field("subprotocol"), wrap=True),
    TableColumn("frames_c2s", "frames c>s", 6, _field("frames_c2s"), wrap=True),
    TableColumn("frames_s2c", "frames s>c", 6, _field("frames_s2c"), wrap=True),
    TableColumn("close_code", "close", 2, _field("close_code"), right=True),
    TableColumn("close_by", "closed by", 2, _field("close_by")),
    TableColumn("reply_close_code", "reply close", 4, _field("reply_close_code"),
                right=True),
    TableColumn("problems", "problems", 2, _field("problems"), wrap=True),
)


def numbered_rows(kind: str, records: Iterable[ConnectionRecord]) -> list[dict[str, Any]]:
    """The ``http`` (``kind``) or ``websockets`` rows of ``records``, each with its
    connection's ``#N`` as ``n`` (``records`` in the order the tables number them)."""
    rows = []
    for n, r in enumerate(records, start=1):
        for row in (http_rows([r]) if kind == "http" else websocket_rows([r])):
            row["n"] = n
            rows.append(row)
    return rows


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
