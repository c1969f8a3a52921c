"""Zeek conn.log in Zeek's ASCII format, so zeek-cut and zat users can read our output."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TextIO

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
#: IP protocol numbers of conn.log's ``ip_proto`` column.
IP_PROTO = {"tcp": 6, "udp": 17, "icmp": 1}


def _escape(value: str) -> str:
    """Zeek's ASCII writer escapes the separator and non-printables as \\xNN."""
    out: list[str] = []
    for ch in value:
        if ch == "\t" or ch == "\\" or not ch.isprintable():
            out.extend(f"\\x{b:02x}" for b in ch.encode())
        else:
            out.append(ch)
    return "".join(out)


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
                "service": None,
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


def write_conn_log_header(out: TextIO) -> None:
    now = time.strftime("%Y-%m-%d-%H-%M-%S")
    out.write("#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n")
    out.write(f"#path\tconn\n#open\t{now}\n")
    out.write("#fields\t" + "\t".join(COLUMNS) + "\n")
    out.write("#types\t" + "\t".join(TYPES) + "\n")


def write_conn_log_rows(records: Iterable[ConnectionRecord], out: TextIO) -> None:
    for row in zeek_rows(records):
        out.write("\t".join("-" if row[c] is None else _escape(str(row[c])) for c in COLUMNS))
        out.write("\n")


def write_conn_log_footer(out: TextIO) -> None:
    out.write(f"#close\t{time.strftime('%Y-%m-%d-%H-%M-%S')}\n")


def write_conn_log(records: Iterable[ConnectionRecord], out: TextIO) -> None:
    write_conn_log_header(out)
    write_conn_log_rows(records, out)
    write_conn_log_footer(out)
