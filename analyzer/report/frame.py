"""Records -> a typed pandas DataFrame (the one schema every report is built on)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from analyzer.core.columns import Columns, columns_from_records
from analyzer.core.records import FIELD_NAMES, ConnectionRecord
from analyzer.report.schema import CATEGORIES, FRAME_KINDS, LIST_COLUMNS, STATES, TIME_COLUMNS

__all__ = ["CATEGORIES", "STATES", "frame_from_columns", "to_frame"]

#: pandas dtypes of the schema's kinds (``schema.FRAME_KINDS``; categories, lists and times
#: are made apart).
_DTYPES: dict[str, Any] = {"int64": "int64", "Int64": pd.Int64Dtype(), "bool": "bool",
                           "boolean": pd.BooleanDtype(), "float64": "float64"}


def to_frame(records: Iterable[ConnectionRecord]) -> pd.DataFrame:
    return frame_from_columns(columns_from_records(records))


def frame_from_columns(cols: Columns) -> pd.DataFrame:
    """The typed DataFrame of a batch of records given as columns."""
    data = dict(cols)
    for col in LIST_COLUMNS:
        data[col] = [list(v) for v in cols[col]]
    df = pd.DataFrame(data, columns=list(FIELD_NAMES))
    for col in FIELD_NAMES:
        kind = FRAME_KINDS[col]
        if kind == "category":
            df[col] = pd.Categorical(df[col], categories=CATEGORIES[col])
        elif kind in _DTYPES:
            df[col] = df[col].astype(_DTYPES[kind])
    for col, ns in TIME_COLUMNS.items():
        df[col] = pd.to_datetime(df[ns], unit="ns", utc=True)
    return df
