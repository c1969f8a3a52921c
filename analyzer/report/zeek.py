"""Zeek's conn.log, http.log and websocket.log in Zeek's ASCII format, so zeek-cut and zat
users can read our output.

The writing follows Zeek's ASCII writer (``threading/formatters/Ascii.cc`` and ``ODesc`` in
``Desc.cc``, with ``LogAscii::enable_utf_8`` on, Zeek's default): ``-`` for an unset field,
``(empty)`` for an empty string, set or vector; set and vector items joined by ``,``; and
``\\xNN`` for a backslash, the control bytes (0x00-0x1f, which includes the tab separator,
and 0x7f), a byte that is not valid UTF-8, and a ``,`` inside a set or vector item. A value
that reads as a placeholder (``-`` or ``(empty)``) gets its first byte escaped.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from analyzer.core.records import ConnectionRecord

COLUMNS: tuple[str, ...] = (
    "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service",
    "duration", "orig_bytes", "resp_bytes", "conn_state", "missed_bytes", "history",
    "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes", "tunnel_parents", "ip_proto",
)
TYPES: tuple[str, ...] = (
    "time", "string", "addr", "port", "addr", "port", "enum", "string", "interval", "count",
    "count", "string", "count", "string", "count", "count", "count", "count", "set[string]",
    "count",
)
#: http.log as Zeek's base/protocols/http/main.zeek declares it (the baselines' header).
HTTP_LOG_COLUMNS: tuple[str, ...] = (
    "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "trans_depth", "method",
    "host", "uri", "referrer", "version", "user_agent", "origin", "request_body_len",
    "response_body_len", "status_code", "status_msg", "info_code", "info_msg", "tags",
    "username", "password", "proxied", "orig_fuids", "orig_filenames", "orig_mime_types",
    "resp_fuids", "resp_filenames", "resp_mime_types",
)
HTTP_LOG_TYPES: tuple[str, ...] = (
    "time", "string", "addr", "port", "addr", "port", "count", "string", "string", "string",
    "string", "string", "string", "string", "count", "count", "count", "string", "count",
    "string", "set[enum]", "string", "string", "set[string]", "vector[string]",
    "vector[string]", "vector[string]", "vector[string]", "vector[string]", "vector[string]",
)
#: websocket.log as Zeek's base/protocols/websocket/main.zeek declares it.
WS_LOG_COLUMNS: tuple[str, ...] = (
    "ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "host", "uri",
    "user_agent", "subprotocol", "client_protocols", "server_extensions", "client_extensions",
)
WS_LOG_TYPES: tuple[str, ...] = (
    "time", "string", "addr", "port", "addr", "port", "string", "string", "string", "string",
    "vector[string]", "vector[string]", "vector[string]",
)
#: IP protocol numbers of conn.log's ``ip_proto`` column.
IP_PROTO = {"tcp": 6, "udp": 17, "icmp": 1}
UNSET = "-"
EMPTY = "(empty)"
SET_SEPARATOR = ","


def _escape_char(ch: str, in_set: bool) -> str:
    code = ord(ch)
    if code < 0x20 or code == 0x7F or ch == "\\" or (in_set and ch == SET_SEPARATOR):
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if 0xD800 <= code <= 0xDFFF:  # a lone surrogate: its bytes are not valid UTF-8
        return "".join(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogatepass"))
    return ch


def _escape(value: str, in_set: bool = False) -> str:
    """One string value as Zeek's ASCII writer writes it (module docstring)."""
    if not value:
        return EMPTY
    if value in (UNSET, EMPTY):
        return f"\\x{ord(value[0]):02x}" + value[1:]
    return "".join(_escape_char(ch, in_set) for ch in value)


def zeek_value(value: object) -> str:
    """A field's text: ``-`` for None, a list/tuple/set as a Zeek set or vector, numbers as
    decimal text, strings escaped."""
    if value is None:
        return UNSET
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        if not items:
            return EMPTY
        return SET_SEPARATOR.join(_escape(str(v), in_set=True) for v in items)
    if isinstance(value, bool):
        return "T" if value else "F"
    return _escape(str(value))


def zeek_time(seconds: float | None) -> str | None:
    """A ``time`` field: epoch seconds with six decimals (as conn.log's ``ts``)."""
    return None if seconds is None else f"{seconds:.6f}"


def zeek_switched(status: int | None, problems: Iterable[tuple[str, int]],
                  response_frame: int | None) -> bool:
    """Did Zeek's HTTP analyzer hand the connection to its WebSocket analyzer? It does on a
    101 that carries ``Connection: upgrade`` and ``Upgrade: websocket``, whatever the
    Sec-WebSocket-Accept (``HTTP_Analyzer::ReplyMade``; ws-wrong-accept has a
    websocket.log row)."""
    if status != 101:
        return False
    return not any(name in ("bad_upgrade_header", "bad_connection_header")
                   and frame == response_frame for name, frame in problems)


def zeek_service(r: ConnectionRecord) -> str | None:
    """conn.log's ``service`` as far as we detect protocols: ``http`` once a request was
    parsed (Zeek's HTTP analyzer confirms on a request line), ``http,websocket`` once the
    connection switched to WebSocket and a frame followed (Zeek's WebSocket analyzer
    confirms on its first message). Other protocols are not detected: unset."""
    services: list[str] = []
    if r.http_requests > 0:
        services.append("http")
        if any(zeek_switched(ws.status, ws.problems, ws.response_frame)
               and (any(ws.frames_c2s.values()) or any(ws.frames_s2c.values()))
               for ws in r.websockets):
            services.append("websocket")
    return ",".join(services) or None


def zeek_rows(records: Iterable[ConnectionRecord]) -> list[dict[str, str | None]]:
    """One dict per record, conn.log column -> text (None for Zeek's unset ``-``)."""
    rows: list[dict[str, str | None]] = []
    for r in records:
        if r.zeek_flipped:
            oh, op, rh, rp = r.server_ip, r.server_port, r.client_ip, r.client_port
        else:
            oh, op, rh, rp = r.client_ip, r.client_port, r.server_ip, r.server_port
        rows.append(
            {
                "ts": f"{r.first_ts_ns / 1e9:.6f}",
                "uid": r.uid,
                "id.orig_h": oh,
                "id.orig_p": str(op),
                "id.resp_h": rh,
                "id.resp_p": str(rp),
                "proto": r.proto,
                "service": zeek_service(r),
                "duration": None if r.duration_zeek is None else f"{r.duration_zeek:.6f}",
                "orig_bytes": None if r.orig_bytes is None else str(r.orig_bytes),
                "resp_bytes": None if r.resp_bytes is None else str(r.resp_bytes),
                "conn_state": r.conn_state,
                "missed_bytes": str(r.missed_bytes),
                "history": r.history or None,
                "orig_pkts": str(r.orig_pkts),
                "orig_ip_bytes": str(r.orig_ip_bytes),
                "resp_pkts": str(r.resp_pkts),
                "resp_ip_bytes": str(r.resp_ip_bytes),
                "tunnel_parents": ",".join(r.tunnel_parents) or None,
                "ip_proto": str(58 if r.proto == "icmp" and r.ip_version == 6
                                else IP_PROTO.get(r.proto, 0)),
            }
        )
    return rows


def write_log_header(out: TextIO, path: str, columns: Sequence[str],
                     types: Sequence[str]) -> None:
    """The header lines of a Zeek ASCII log: separators, placeholders, path, open time,
    field names and types."""
    now = time.strftime("%Y-%m-%d-%H-%M-%S")
    out.write(f"#separator \\x09\n#set_separator\t{SET_SEPARATOR}\n#empty_field\t{EMPTY}\n"
              f"#unset_field\t{UNSET}\n")
    out.write(f"#path\t{path}\n#open\t{now}\n")
    out.write("#fields\t" + "\t".join(columns) + "\n")
    out.write("#types\t" + "\t".join(types) + "\n")


def write_log_rows(rows: Iterable[Mapping[str, object]], columns: Sequence[str],
                   out: TextIO) -> None:
    for row in rows:
        out.write("\t".join(zeek_value(row.get(c)) for c in columns))
        out.write("\n")


def write_log_footer(out: TextIO) -> None:
    out.write(f"#close\t{time.strftime('%Y-%m-%d-%H-%M-%S')}\n")


def write_conn_log_header(out: TextIO) -> None:
    write_log_header(out, "conn", COLUMNS, TYPES)


def write_conn_log_rows(records: Iterable[ConnectionRecord], out: TextIO) -> None:
    write_log_rows(zeek_rows(records), COLUMNS, out)


def write_conn_log_footer(out: TextIO) -> None:
    write_log_footer(out)


def write_conn_log(records: Iterable[ConnectionRecord], out: TextIO) -> None:
    write_conn_log_header(out)
    write_conn_log_rows(records, out)
    write_conn_log_footer(out)


def _reason(status: object, reason: object) -> object:
    """A status line without a reason phrase: Zeek logs ``<empty>`` (``HTTP_Reply``)."""
    if status is not None and not reason:
        return "<empty>"
    return reason


def http_log_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, object]]:
    """http.log rows from our HTTP transaction rows (``analyzer.report.app.http_rows``).

    ``ts`` is the request's time (the response's without a request), ``version`` the
    response's (Zeek overwrites the request's with it), body lengths the declared ones.
    ``referrer``, ``origin``, ``info_code`` and ``info_msg`` are written when the row has
    them; ``tags`` is an empty set; usernames, proxies and files are unset (not parsed).
    """
    out: list[dict[str, object]] = []
    for r in rows:
        ts = r.get("request_ts")
        if ts is None:
            ts = r.get("response_ts")
        out.append({
            "ts": zeek_time(ts),
            "uid": r.get("uid"),
            "id.orig_h": r.get("client_ip"),
            "id.orig_p": r.get("client_port"),
            "id.resp_h": r.get("server_ip"),
            "id.resp_p": r.get("server_port"),
            "trans_depth": r.get("trans_depth"),
            "method": r.get("method"),
            "host": r.get("host"),
            "uri": r.get("target"),
            "referrer": r.get("referrer"),
            "version": r.get("response_version") or r.get("request_version"),
            "user_agent": r.get("user_agent"),
            "origin": r.get("origin"),
            "request_body_len": r.get("request_body_len"),
            "response_body_len": r.get("response_body_len"),
            "status_code": r.get("status"),
            "status_msg": _reason(r.get("status"), r.get("reason")),
            "info_code": r.get("info_code"),
            "info_msg": _reason(r.get("info_code"), r.get("info_msg")),
            "tags": (),
        })
    return out


def websocket_log_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, object]]:
    """websocket.log rows from our WebSocket rows (``analyzer.report.app.websocket_rows``):
    one per upgrade Zeek's HTTP analyzer switched (``zeek_switched``), at the 101's time
    (Zeek logs at ``websocket_established``). An offer or choice that is absent is unset."""
    out: list[dict[str, object]] = []
    for r in rows:
        problems = [(str(p["problem"]), int(p["frame"])) for p in r.get("problems") or ()]
        if not zeek_switched(r.get("status"), problems, r.get("response_frame")):
            continue
        ts = r.get("response_ts")
        if ts is None:
            ts = r.get("request_ts")
        out.append({
            "ts": zeek_time(ts),
            "uid": r.get("uid"),
            "id.orig_h": r.get("client_ip"),
            "id.orig_p": r.get("client_port"),
            "id.resp_h": r.get("server_ip"),
            "id.resp_p": r.get("server_port"),
            "host": r.get("host"),
            "uri": r.get("request_target"),
            "user_agent": r.get("user_agent"),
            "subprotocol": r.get("subprotocol"),
            "client_protocols": list(r.get("offered_subprotocols") or ()) or None,
            "server_extensions": list(r.get("extensions") or ()) or None,
            "client_extensions": list(r.get("offered_extensions") or ()) or None,
        })
    return out


def write_http_log(rows: Iterable[Mapping[str, Any]], out: TextIO) -> None:
    """Zeek's http.log of our HTTP transaction rows."""
    write_log_header(out, "http", HTTP_LOG_COLUMNS, HTTP_LOG_TYPES)
    write_log_rows(http_log_rows(rows), HTTP_LOG_COLUMNS, out)
    write_log_footer(out)


def write_websocket_log(rows: Iterable[Mapping[str, Any]], out: TextIO) -> None:
    """Zeek's websocket.log of our WebSocket rows."""
    write_log_header(out, "websocket", WS_LOG_COLUMNS, WS_LOG_TYPES)
    write_log_rows(websocket_log_rows(rows), WS_LOG_COLUMNS, out)
    write_log_footer(out)
