"""Streaming writers: connection records written batch by batch as the engine hands them
over, so that memory follows the open connections, not the records.

JSON Lines, CSV, Zeek conn.log and Parquet stream (Parquet as one row group per batch);
the other formats need every record at once and are written from the DataFrame.
"""

from __future__ import annotations

from typing import Any, BinaryIO, Protocol, TextIO

from analyzer.core.records import ConnectionRecord
from analyzer.report.formats import Format

STREAMING_FORMATS = (Format.JSONL, Format.CSV, Format.ZEEK, Format.PARQUET)


class RecordSink(Protocol):
    def write(self, records: list[ConnectionRecord]) -> None: ...
    def close(self) -> None: ...


class JsonlSink:
    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, records: list[ConnectionRecord]) -> None:
        from analyzer.report.writers import write_jsonl

        write_jsonl(records, self.out)

    def close(self) -> None:
        self.out.flush()


class CsvSink:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.header = True

    def write(self, records: list[ConnectionRecord]) -> None:
        from analyzer.report.frame import to_frame
        from analyzer.report.writers import write_csv

        if records or self.header:
            write_csv(to_frame(records), self.out, header=self.header)
            self.header = False

    def close(self) -> None:
        if self.header:
            self.write([])
        self.out.flush()


class ZeekSink:
    def __init__(self, out: TextIO) -> None:
        from analyzer.report.zeek import write_conn_log_header

        self.out = out
        write_conn_log_header(out)

    def write(self, records: list[ConnectionRecord]) -> None:
        from analyzer.report.zeek import write_conn_log_rows

        write_conn_log_rows(records, self.out)

    def close(self) -> None:
        from analyzer.report.zeek import write_conn_log_footer

        write_conn_log_footer(self.out)
        self.out.flush()


class ParquetSink:
    """One Parquet file, a row group per batch; the schema is the DataFrame's (dtypes and
    categories as ``analyzer.report.frame.to_frame`` makes them)."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.writer: Any = None

    def write(self, records: list[ConnectionRecord]) -> None:
        if not records and self.writer is not None:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        from analyzer.report.frame import to_frame
        from analyzer.report.writers import parquet_frame

        table = pa.Table.from_pandas(parquet_frame(to_frame(records)), preserve_index=False)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.out, table.schema)
        else:
            table = table.cast(self.writer.schema)
        if records:
            self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is None:
            self.write([])
        self.writer.close()


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
