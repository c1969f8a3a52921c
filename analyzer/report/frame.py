"""Records -> a typed pandas DataFrame (the one schema every report is built on)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from analyzer.core.columns import Columns, columns_from_records
from analyzer.core.records import FIELD_NAMES, ConnectionRecord
from analyzer.report.schema import (
    BOOL_COLUMNS,
    CATEGORIES,
    FLOAT_COLUMNS,
    HEALTH_KINDS,
    INT_COLUMNS,
    LIST_COLUMNS,
    NULLABLE_INT,
    STATES,
)

__all__ = ["CATEGORIES", "STATES", "frame_from_columns", "to_frame"]

#: pandas dtypes of the record's nullable kinds (``schema.HEALTH_KINDS``).
_DTYPES: dict[str, Any] = {"Int64": pd.Int64Dtype(), "boolean": pd.BooleanDtype(),
                           "float64": "float64"}


def to_frame(records: Iterable[ConnectionRecord]) -> pd.DataFrame:
    return frame_from_columns(columns_from_records(records))


def frame_from_columns(cols: Columns) -> pd.DataFrame:
    """The typed DataFrame of a batch of records given as columns."""
    data = dict(cols)
    for col in LIST_COLUMNS:
        data[col] = [list(v) for v in cols[col]]
    df = pd.DataFrame(data, columns=list(FIELD_NAMES))
    for col in INT_COLUMNS:
        df[col] = df[col].astype("int64")
    for col in NULLABLE_INT:
        df[col] = df[col].astype("Int64")
    for col, cats in CATEGORIES.items():
        df[col] = pd.Categorical(df[col], categories=cats)
    df["handshake_valid"] = df["handshake_valid"].astype("boolean")
    for col in BOOL_COLUMNS:
        df[col] = df[col].astype("bool")
    for col in FLOAT_COLUMNS:
        df[col] = df[col].astype("float64")
    for col, kind in HEALTH_KINDS.items():
        df[col] = df[col].astype(_DTYPES[kind])
    df["first_time"] = pd.to_datetime(df["first_ts_ns"], unit="ns", utc=True)
    df["last_time"] = pd.to_datetime(df["last_ts_ns"], unit="ns", utc=True)
    return df
