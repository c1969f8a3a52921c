"""Output formats shared by every command: one ``--format`` option, one registry."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO, TextIO

import pandas as pd

from analyzer.core.records import ConnectionRecord
from analyzer.report import formats
from analyzer.report.formats import Format
from analyzer.report.zeek import write_conn_log

#: Columns shown in the terminal table (every column is in the other formats).
TABLE_COLUMNS = (
    ("capture", "capture"), ("proto", "proto"), ("client", "client"), ("server", "server"),
    ("handshake", "handshake"), ("rtt ms", "handshake_rtt_s"), ("end", "end"),
    ("closer", "closer"), ("client state", "client_state"), ("server state", "server_state"),
    ("TIME_WAIT", "time_wait"), ("zeek", "conn_state"), ("history", "history"),
    ("pkts c>s/s>c", "packets"), ("bytes c>s/s>c", "bytes"), ("http req", "http_requests"),
    ("ws", "websocket"), ("health", "health"),
)

_CSV_RISKY = ("=", "+", "-", "@", "\t", "\r")
_CONTROLS = {c: f"\\x{c:02x}" for c in [*range(0x00, 0x09), *range(0x0A, 0x20),
                                         *range(0x7F, 0xA0)]}


def inert(text: str) -> str:
    """Control characters (ANSI escape sequences, CR, LF, ...) as visible \\xNN text."""
    return text.translate(_CONTROLS)


def _csv_safe(value: object) -> object:
    """Neutralise spreadsheet formula injection and terminal escapes in untrusted strings."""
    if isinstance(value, str):
        value = inert(value)
        if value.startswith(_CSV_RISKY):
            return "'" + value
    return value


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def write_jsonl(records: list[ConnectionRecord], out: TextIO) -> None:
    for r in records:
        out.write(json.dumps({k: _jsonable(v) for k, v in r.to_dict().items()}) + "\n")


def write_json(records: list[ConnectionRecord], out: TextIO) -> None:
    json.dump([{k: _jsonable(v) for k, v in r.to_dict().items()} for r in records], out,
              indent=2)
    out.write("\n")


def write_csv(df: pd.DataFrame, out: TextIO, header: bool = True) -> None:
    safe = df.copy()
    for col in safe.columns:
        if pd.api.types.is_string_dtype(safe[col]) or safe[col].dtype == object:
            safe[col] = safe[col].map(_csv_safe)
    safe["anomalies"] = df["anomalies"].map(lambda a: "; ".join(a))
    safe["tunnel_parents"] = df["tunnel_parents"].map(lambda a: " ".join(a))
    # Times always with nanoseconds, so that a file written batch by batch reads the same
    # as one written at once (pandas picks the precision per batch otherwise).
    for col in ("first_time", "last_time"):
        if col in safe.columns:
            safe[col] = df[col].map(_iso_ns)
    safe.to_csv(out, index=False, header=header)


def _iso_ns(ts: pd.Timestamp) -> str:
    return f"{ts:%Y-%m-%d %H:%M:%S}.{ts.microsecond:06d}{ts.nanosecond:03d}+00:00"


def parquet_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The connections frame as Parquet stores it (list columns as lists)."""
    frame = df.copy()
    frame["anomalies"] = frame["anomalies"].map(list)
    frame["tunnel_parents"] = frame["tunnel_parents"].map(list)
    return frame


def write_parquet(df: pd.DataFrame, out: BinaryIO) -> None:
    parquet_frame(df).to_parquet(out, engine="pyarrow", index=False)


def _null(value: object) -> bool:
    """None, pandas' NA or a float NaN: a nullable column's null."""
    return bool(pd.isna(value))  # type: ignore[call-overload]


def _count(value: object) -> int:
    return 0 if _null(value) else int(value)  # type: ignore[call-overload]


def health_cell(row: Mapping[Any, Any]) -> str:
    """A TCP connection's health in a few characters: its retransmission rate
    (``2.1% rtx``, ``<0.1% rtx`` below a tenth of a percent) and ``0w`` when a receiver
    advertised a zero window; ``-`` when neither happened, empty for UDP and ICMP."""
    if row.get("proto") != "tcp":
        return ""
    parts = []
    rate: Any = row.get("retrans_rate")
    if not _null(rate) and float(rate) > 0:
        pct = float(rate) * 100
        parts.append("<0.1% rtx" if pct < 0.1 else f"{pct:.1f}% rtx")
    if _count(row.get("zero_window_advertisements_c2s")) + _count(
            row.get("zero_window_advertisements_s2c")) > 0:
        parts.append("0w")
    return " ".join(parts) or "-"


def write_table(df: pd.DataFrame, out: TextIO, title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, show_lines=False)
    for header, col in TABLE_COLUMNS:
        # the health cell is short: kept on one line, so that "0w" is not cut off
        table.add_column(header, overflow="fold", no_wrap=col == "health")
    for r in df.to_dict("records"):
        cells: list[str] = []
        for _, col in TABLE_COLUMNS:
            if col == "client":
                cells.append(f"{r['client_ip']}:{r['client_port']}")
            elif col == "server":
                cells.append(f"{r['server_ip']}:{r['server_port']}")
            elif col == "packets":
                cells.append(f"{r['packets_c2s']}/{r['packets_s2c']}")
            elif col == "bytes":
                cells.append(f"{r['bytes_c2s']}/{r['bytes_s2c']}")
            elif col == "handshake_rtt_s":
                v = r[col]
                cells.append("" if v is None or pd.isna(v) else f"{v * 1000:.3f}")
            elif col == "capture":
                cells.append(str(r[col]).rsplit("/", 1)[-1])
            elif col == "websocket":
                cells.append("yes" if r[col] else "")
            elif col == "health":
                cells.append(health_cell(r))
            else:
                v = r[col]
                cells.append("" if v is None or (not isinstance(v, str) and pd.isna(v))
                             else str(v))
        table.add_row(*(Text(inert(c)) for c in cells))  # packet data: no markup, no escapes
    Console(file=out, width=200 if not out.isatty() else None).print(table)


def md_escape(text: str) -> str:
    """Escape Markdown/HTML syntax in untrusted text (packet data, file names)."""
    text = inert(text)
    for ch in ("\\", "|", "`", "*", "_", "[", "]", "#"):
        text = text.replace(ch, "\\" + ch)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def markdown_table(df: pd.DataFrame) -> str:
    """GitHub-flavoured Markdown table; cell text is escaped (packet data is untrusted)."""
    def cell(v: object) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        return md_escape(str(v))

    head = "| " + " | ".join(cell(c) for c in df.columns) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *body]) + "\n"


CONNECTION_WRITERS: dict[Format, Callable[..., None]] = {
    Format.JSONL: write_jsonl,
    Format.JSON: write_json,
    Format.ZEEK: write_conn_log,
}


default_format = formats.default_format


def _flat(value: object) -> object:
    """Lists and dicts as compact JSON text, for CSV, Markdown and table cells."""
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(value, separators=(",", ":"))
    return value


def _compact(value: object) -> object:
    """Dicts of counts as "text:2 close:1" (zeros left out), lists of problems as names."""
    if isinstance(value, dict):
        return " ".join(f"{k}:{v}" for k, v in value.items() if v) or "-"
    if isinstance(value, list):
        return ", ".join(
            f"{v['problem']}@{v['frame']}" if isinstance(v, dict) else str(v) for v in value)
    return value


def flat_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Lists and dicts in object columns as JSON text (for CSV, Parquet, tables)."""
    flat = df.copy()
    for col in flat.columns:
        if flat[col].dtype == object:
            flat[col] = flat[col].map(_flat)
    return flat


def write_rows(rows: list[dict[str, Any]], df: pd.DataFrame, fmt: Format, out: TextIO,
               table_columns: tuple[str, ...], title: str) -> None:
    """Write application-layer rows (HTTP transactions, WebSocket sessions) as text."""
    if fmt is Format.JSONL:
        for row in rows:
            out.write(json.dumps({k: _jsonable(v) for k, v in row.items()}) + "\n")
        return
    if fmt is Format.JSON:
        out.write(json.dumps(rows, indent=2) + "\n")
        return
    flat = flat_frame(df)
    if fmt is Format.CSV:
        for col in flat.columns:
            if flat[col].dtype == object or pd.api.types.is_string_dtype(flat[col]):
                flat[col] = flat[col].map(_csv_safe)
        flat.to_csv(out, index=False)
    elif fmt is Format.MARKDOWN:
        out.write(markdown_table(flat))
    else:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        table = Table(title=title)
        for col in table_columns:
            table.add_column(col, overflow="fold")
        compact = df[list(table_columns)].copy()
        for col in compact.columns:
            if compact[col].dtype == object:
                compact[col] = compact[col].map(_compact)
        for values in compact.itertuples(index=False, name=None):
            table.add_row(*(Text("" if v is None or v is pd.NA
                                 or (isinstance(v, float) and math.isnan(v)) else inert(str(v)))
                            for v in values))
        Console(file=out, width=None if out.isatty() else 220).print(table)
