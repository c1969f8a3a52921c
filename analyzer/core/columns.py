"""Records as columns: the native engine's batches, one list per field.

A batch of records travels from the engine to the writers as :data:`Columns` (a dict of
equal-length lists keyed by the record contract's field names), which is far cheaper than
one object per record; :func:`records_from_columns` makes the record objects when the API
needs them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from analyzer.core.app import sessions_from_engine, transactions_from_engine
from analyzer.core.records import FIELD_NAMES, ConnectionRecord

Columns = dict[str, list[Any]]

NS = 1_000_000_000


def complete_columns(capture: str, raw: dict[str, list[Any]]) -> Columns:
    """An engine batch (times in integer ns) -> every field of the record contract, in
    contract order, then the HTTP transactions and WebSocket sessions of each record
    (``transactions``, ``websockets``: tuples, empty for most). Float seconds are computed
    here, exactly as Python divides integers."""
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
        else:
            cols[name] = raw[name]
    cols["transactions"] = [transactions_from_engine(t) for t in raw["transactions"]]
    cols["websockets"] = [sessions_from_engine(w) for w in raw["websockets"]]
    return cols


def records_from_columns(cols: Columns) -> list[ConnectionRecord]:
    n = column_count(cols)
    txs = cols.get("transactions") or [()] * n
    sessions = cols.get("websockets") or [()] * n
    return [ConnectionRecord(**dict(zip(FIELD_NAMES, row, strict=True)), transactions=t,
                             websockets=w)
            for row, t, w in zip(zip(*(cols[f] for f in FIELD_NAMES), strict=True), txs,
                                 sessions, strict=True)]


def columns_from_records(records: Iterable[ConnectionRecord]) -> Columns:
    records = list(records)
    cols: Columns = {f: [getattr(r, f) for r in records] for f in FIELD_NAMES}
    cols["transactions"] = [r.transactions for r in records]
    cols["websockets"] = [r.websockets for r in records]
    return cols


def column_count(cols: Columns) -> int:
    return len(cols["uid"]) if cols else 0


class Batch:
    """A batch of one capture's records, in start order, as a writer wants them: as
    columns (``columns``), or as an Arrow record batch of a schema (``arrow``)."""

    def __len__(self) -> int:
        raise NotImplementedError

    @property
    def columns(self) -> Columns:
        raise NotImplementedError

    def arrow(self, schema: Any) -> Any:
        from analyzer.report.schema import arrow_batch

        return arrow_batch(self.columns, schema)


class RecordsBatch(Batch):
    """Records already made in Python (the tshark engine)."""

    def __init__(self, records: list[ConnectionRecord]) -> None:
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    @property
    def columns(self) -> Columns:
        return columns_from_records(self.records)


class NativeBatch(Batch):
    """Records still in the engine: columns are made on demand, and an Arrow batch is
    built from the engine's own buffers, without a Python object per value."""

    def __init__(self, capture: str, engine_batch: _engine.RecordBatch) -> None:
        self.capture = capture
        self.engine_batch = engine_batch
        self._columns: Columns | None = None

    def __len__(self) -> int:
        return len(self.engine_batch)

    @property
    def columns(self) -> Columns:
        if self._columns is None:
            self._columns = complete_columns(self.capture, self.engine_batch.columns())
        return self._columns

    def arrow(self, schema: Any) -> Any:
        from analyzer.report.schema import arrow_batch_from_engine

        return arrow_batch_from_engine(self.engine_batch, self.capture, schema)


if TYPE_CHECKING:
    from analyzer import _engine
