"""Records as columns: the native engine's batches, one list per field.

A batch of records travels from the engine to the writers as :data:`Columns` (a dict of
equal-length lists keyed by the record contract's field names), which is far cheaper than
one object per record; :func:`records_from_columns` makes the record objects when the API
needs them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from analyzer.core.records import FIELD_NAMES, ConnectionRecord

Columns = dict[str, list[Any]]

NS = 1_000_000_000


def complete_columns(capture: str, raw: dict[str, list[Any]]) -> Columns:
    """An engine batch (times in integer ns) -> every field of the record contract, in
    contract order. Float seconds are computed here, exactly as Python divides integers."""
    n = len(raw["uid"])
    first, last = raw["first_ts_ns"], raw["last_ts_ns"]
    cols: Columns = {}
    for name in FIELD_NAMES:
        if name == "capture":
            cols[name] = [capture] * n
        elif name == "first_ts":
            cols[name] = [x / NS for x in first]
        elif name == "last_ts":
            cols[name] = [x / NS for x in last]
        elif name == "duration_s":
            cols[name] = [(b - a) / NS for a, b in zip(first, last, strict=True)]
        elif name == "handshake_rtt_s":
            cols[name] = [None if x is None else x / NS for x in raw["handshake_rtt_ns"]]
        elif name == "duration_zeek":
            cols[name] = [None if x is None else x / NS for x in raw["duration_zeek_ns"]]
        elif name in ("http_requests", "http_responses"):
            cols[name] = [0] * n
        elif name == "websocket":
            cols[name] = [False] * n
        else:
            cols[name] = raw[name]
    return cols


def records_from_columns(cols: Columns) -> list[ConnectionRecord]:
    return [ConnectionRecord(*row) for row in zip(*(cols[f] for f in FIELD_NAMES), strict=True)]


def columns_from_records(records: Iterable[ConnectionRecord]) -> Columns:
    records = list(records)
    return {f: [getattr(r, f) for r in records] for f in FIELD_NAMES}


def column_count(cols: Columns) -> int:
    return len(cols["uid"]) if cols else 0
