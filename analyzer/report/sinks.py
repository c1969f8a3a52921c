"""Streaming writers: connection records written batch by batch as the engine hands them
over, so that memory follows the open connections, not the records.

Batches (``analyzer.core.columns.Batch``) give their records as columns or as Arrow.
JSON Lines, CSV, Zeek conn.log and Parquet stream (Parquet as one row group per batch,
built from the engine's own buffers); the other formats need every record at once and are
written from the DataFrame.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO, Protocol, TextIO

from analyzer.core.columns import Batch, records_from_columns
from analyzer.core.records import FIELD_NAMES
from analyzer.report.formats import Format

STREAMING_FORMATS = (Format.JSONL, Format.CSV, Format.ZEEK, Format.PARQUET)


class RecordSink(Protocol):
    def write(self, batch: Batch) -> None: ...
    def close(self) -> None: ...


class JsonlSink:
    """The same lines as ``writers.write_jsonl``: contract order, null for None."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, batch: Batch) -> None:
        cols = batch.columns
        dumps, keys = json.dumps, FIELD_NAMES
        lines = [dumps(dict(zip(keys, row, strict=True)))
                 for row in zip(*(cols[k] for k in keys), strict=True)]
        if lines:
            self.out.write("\n".join(lines) + "\n")

    def close(self) -> None:
        self.out.flush()


class CsvSink:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.header = True

    def write(self, batch: Batch) -> None:
        self._write_columns(batch.columns)

    def _write_columns(self, cols: dict[str, list[Any]]) -> None:
        from analyzer.report.frame import frame_from_columns
        from analyzer.report.writers import write_csv

        if cols["uid"] or self.header:
            write_csv(frame_from_columns(cols), self.out, header=self.header)
            self.header = False

    def close(self) -> None:
        if self.header:
            self._write_columns({f: [] for f in FIELD_NAMES})
        self.out.flush()


class ZeekSink:
    def __init__(self, out: TextIO) -> None:
        from analyzer.report.zeek import write_conn_log_header

        self.out = out
        write_conn_log_header(out)

    def write(self, batch: Batch) -> None:
        from analyzer.report.zeek import write_conn_log_rows

        write_conn_log_rows(records_from_columns(batch.columns), self.out)

    def close(self) -> None:
        from analyzer.report.zeek import write_conn_log_footer

        write_conn_log_footer(self.out)
        self.out.flush()


def dictionary_columns(schema: Any) -> list[str]:
    """The columns worth Parquet's dictionary encoding: strings and categories. The numeric
    ones (most of them the TCP health counts) are cheaper to write without it."""
    import pyarrow as pa

    return [f.name for f in schema
            if pa.types.is_dictionary(f.type) or pa.types.is_large_string(f.type)
            or pa.types.is_string(f.type)]


class ParquetSink:
    """One Parquet file, a row group per batch, built with pyarrow alone from the engine's
    buffers; the schema (``schema.arrow_schema``) carries pandas metadata, so that pandas
    reads the file back with ``to_frame``'s dtypes and categories. pyarrow is loaded at the
    first batch, so that its import overlaps the engine's read (see ``warm_imports``)."""

    def __init__(self, out: BinaryIO, without: tuple[str, ...] = ()) -> None:
        self.out = out
        self.schema: Any = None
        self.writer: Any = None
        #: Columns left out (a dataset's partition column: its folder names it).
        self.without = without

    def _open(self) -> None:
        import pyarrow.parquet as pq

        from analyzer.report.schema import arrow_schema

        self.schema = arrow_schema(without=self.without)
        self.writer = pq.ParquetWriter(self.out, self.schema,
                                       use_dictionary=dictionary_columns(self.schema))

    def write(self, batch: Batch) -> None:
        if not len(batch):
            return
        if self.writer is None:
            self._open()
        self.writer.write_batch(batch.arrow(self.schema))

    def close(self) -> None:
        if self.writer is None:
            self._open()
        self.writer.close()


def warm_imports(fmt: Format) -> None:
    """Import what the CSV and Parquet sinks need (run on a thread while the engine reads)."""
    import pyarrow.parquet  # noqa: F401

    if fmt is Format.CSV:
        import analyzer.report.frame
        import analyzer.report.writers  # noqa: F401


def open_sink(fmt: Format, text: TextIO | None, binary: BinaryIO | None) -> RecordSink:
    """The streaming writer for ``fmt`` (one of STREAMING_FORMATS)."""
    if fmt is Format.PARQUET:
        assert binary is not None
        return ParquetSink(binary)
    assert text is not None
    if fmt is Format.JSONL:
        return JsonlSink(text)
    if fmt is Format.CSV:
        return CsvSink(text)
    if fmt is Format.ZEEK:
        return ZeekSink(text)
    raise ValueError(f"{fmt.value} does not stream")
