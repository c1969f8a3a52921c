"""The ``--format`` choices shared by the record commands (kept apart from the writers so
that the CLI can parse its options without importing pandas)."""

from __future__ import annotations

import enum
import sys


class Format(str, enum.Enum):
    TABLE = "table"
    CSV = "csv"
    JSONL = "jsonl"
    JSON = "json"
    PARQUET = "parquet"
    ZEEK = "zeek"
    MARKDOWN = "markdown"


def default_format() -> Format:
    """A table on a terminal, JSON Lines into a pipe or file."""
    return Format.TABLE if sys.stdout.isatty() else Format.JSONL
