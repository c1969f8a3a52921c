"""The ``--format`` choices shared by the record commands (kept apart from the writers so
that the CLI can parse its options without importing pandas)."""

from __future__ import annotations

import enum


class Format(str, enum.Enum):
    TABLE = "table"
    CSV = "csv"
    JSONL = "jsonl"
    JSON = "json"
    PARQUET = "parquet"
    ZEEK = "zeek"
    MARKDOWN = "markdown"
