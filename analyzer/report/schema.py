"""The connection record's column types, in one place and without pandas: the DataFrame
(``frame``) and the Arrow/Parquet schema (``arrow_schema``) are both built from them."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from analyzer.core.records import FIELD_NAMES, HEALTH_FIELDS, ConnectionRecord
from analyzer.core.vocab import ConnState, End, Handshake, Proto, Role, Sides, TcpState

STATES = [s.value for s in TcpState]

#: The enum whose values a categorical column takes (its categories, in this order).
FIELD_ENUMS: dict[str, type[enum.Enum]] = {
    "proto": Proto, "handshake": Handshake, "end": End, "closer": Sides, "rst_by": Role,
    "time_wait": Sides, "client_state": TcpState, "server_state": TcpState,
    "conn_state": ConnState,
}
CATEGORIES: dict[str, list[str]] = {
    name: [str(v.value) for v in e] for name, e in FIELD_ENUMS.items()}

#: A record field's kind from its annotation (the dataclass is the one schema).
_KIND_OF_ANNOTATION = {
    "int": "int64", "int | None": "Int64", "bool": "bool", "bool | None": "boolean",
    "float": "float64", "float | None": "float64", "str": "str", "str | None": "str",
    "tuple[str, ...]": "list",
}
#: Derived columns the DataFrame adds after the record's fields.
TIME_COLUMNS = {"first_time": "first_ts_ns", "last_time": "last_ts_ns"}


def _field_kind(name: str) -> str:
    if name in FIELD_ENUMS:
        return "category"
    if name in TIME_COLUMNS:
        return "time"
    return _KIND_OF_ANNOTATION[str(ConnectionRecord.__annotations__[name])]


FRAME_KINDS: dict[str, str] = {name: _field_kind(name) for name in (*FIELD_NAMES, *TIME_COLUMNS)}
#: The TCP health columns' kinds (all nullable).
HEALTH_KINDS: dict[str, str] = {name: FRAME_KINDS[name] for name in HEALTH_FIELDS}
INT_COLUMNS = tuple(n for n, k in FRAME_KINDS.items() if k == "int64")
NULLABLE_INT = tuple(n for n, k in FRAME_KINDS.items() if k == "Int64")
BOOL_COLUMNS = tuple(n for n, k in FRAME_KINDS.items() if k == "bool")
NULLABLE_BOOL = tuple(n for n, k in FRAME_KINDS.items() if k == "boolean")
FLOAT_COLUMNS = tuple(n for n, k in FRAME_KINDS.items() if k == "float64")
LIST_COLUMNS = tuple(n for n, k in FRAME_KINDS.items() if k == "list")


def column_kind(name: str) -> str:
    return FRAME_KINDS.get(name, "str")


FRAME_COLUMNS: tuple[str, ...] = (*FIELD_NAMES, *TIME_COLUMNS)

# (Arrow type maker, pandas_type, numpy_type) of each kind, as pyarrow's from_pandas
# writes them for the DataFrame's dtypes.
_PANDAS_META = {
    "str": ("object", "str"), "int64": ("int64", "int64"), "Int64": ("int64", "Int64"),
    "bool": ("bool", "bool"), "boolean": ("bool", "boolean"),
    "float64": ("float64", "float64"), "category": ("categorical", "int8"),
    "list": ("list[unicode]", "object"), "time": ("datetimetz", "datetime64[ns]"),
}


def arrow_schema(without: tuple[str, ...] = ()) -> Any:
    """The Parquet schema of the connections table, with pandas metadata, so that
    ``pandas.read_parquet`` gives back ``to_frame``'s dtypes, without importing pandas
    (``without``: columns left out)."""
    return schema_of([(name, column_kind(name)) for name in FRAME_COLUMNS
                      if name not in without])


#: The kinds of the ``http`` command's columns (``analyzer.report.app.HTTP_COLUMNS``).
HTTP_KINDS: dict[str, str] = {
    "client_port": "Int64", "server_port": "Int64", "trans_depth": "Int64",
    "request_ts": "float64", "response_ts": "float64", "request_body_len": "Int64",
    "status": "Int64", "info_code": "Int64", "response_body_len": "Int64",
    "chunked": "bool", "keep_alive": "boolean", "request_frame": "Int64",
    "response_frame": "Int64",
}


def http_arrow_schema(columns: tuple[str, ...]) -> Any:
    """The Parquet schema of the ``http`` table (every other column a string)."""
    return schema_of([(name, HTTP_KINDS.get(name, "str")) for name in columns])


def plain_arrow_batch(cols: dict[str, list[Any]], schema: Any) -> Any:
    """Columns of plain values (no categories, lists or times) -> a RecordBatch."""
    import pyarrow as pa

    return pa.RecordBatch.from_arrays(
        [pa.array(cols[f.name], type=f.type) for f in schema], schema=schema)


def schema_of(columns: list[tuple[str, str]]) -> Any:
    """An Arrow schema of (name, kind) columns, with the pandas metadata that makes
    ``pandas.read_parquet`` give each kind's dtype (nullable ints stay ``Int64``)."""
    import json
    from importlib.metadata import version

    import pyarrow as pa

    types = {
        "str": pa.large_string(), "int64": pa.int64(), "Int64": pa.int64(),
        "bool": pa.bool_(), "boolean": pa.bool_(), "float64": pa.float64(),
        "category": pa.dictionary(pa.int8(), pa.large_string()),
        "list": pa.list_(pa.large_string()), "time": pa.timestamp("ns", tz="UTC"),
    }
    fields, meta = [], []
    for name, kind in columns:
        fields.append(pa.field(name, types[kind]))
        pandas_type, numpy_type = _PANDAS_META[kind]
        extra: dict[str, Any] | None = None
        if kind == "category":
            extra = {"num_categories": len(CATEGORIES[name]), "ordered": False}
        elif kind == "time":
            extra = {"timezone": "UTC"}
        meta.append({"name": name, "field_name": name, "pandas_type": pandas_type,
                     "numpy_type": numpy_type, "metadata": extra})
    pandas_meta = {"index_columns": [], "column_indexes": [], "columns": meta,
                   "creator": {"library": "pyarrow", "version": pa.__version__},
                   "pandas_version": version("pandas")}
    return pa.schema(fields, metadata={b"pandas": json.dumps(pandas_meta).encode()})


def arrow_batch(cols: dict[str, list[Any]], schema: Any) -> Any:
    """A batch of records as columns -> an Arrow RecordBatch of ``schema``."""
    import pyarrow as pa

    arrays = []
    for field in schema:
        name = field.name
        kind = column_kind(name)
        if kind == "time":
            arrays.append(pa.array(cols[TIME_COLUMNS[name]], type=field.type))
        elif kind == "category":
            cats = CATEGORIES[name]
            index = {c: i for i, c in enumerate(cats)}
            codes = pa.array([None if v is None else index[v] for v in cols[name]], pa.int8())
            arrays.append(pa.DictionaryArray.from_arrays(
                codes, pa.array(cats, pa.large_string())))
        elif kind == "list":
            arrays.append(pa.array([list(v) for v in cols[name]], type=field.type))
        else:
            arrays.append(pa.array(cols[name], type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def engine_spec(names: Sequence[str] = FRAME_COLUMNS) -> list[tuple[str, str, list[str]]]:
    """The columns ``names`` as the engine builds them: (record field, kind, categories);
    a time column is built from its nanosecond field."""
    return [(TIME_COLUMNS.get(name, name), column_kind(name), CATEGORIES.get(name, []))
            for name in names]


def arrow_batch_from_engine(engine_batch: Any, capture: str, schema: Any) -> Any:
    """An engine batch -> an Arrow RecordBatch of ``schema`` (``arrow_schema``'s columns,
    or some of them), from the engine's buffers."""
    spec = engine_spec([f.name for f in schema])
    return _from_buffers(len(engine_batch), engine_batch.arrow_buffers(spec, capture),
                         schema, column_kind)


def http_arrow_batch_from_engine(engine_batch: Any, capture: str, schema: Any) -> Any:
    """The HTTP transactions of an engine batch -> an Arrow RecordBatch of ``schema``
    (``http_arrow_schema``), from the engine's buffers."""
    def kind(name: str) -> str:
        return HTTP_KINDS.get(name, "str")

    spec: list[tuple[str, str, list[str]]] = [(f.name, kind(f.name), []) for f in schema]
    return _from_buffers(engine_batch.http_len(),
                         engine_batch.http_arrow_buffers(spec, capture), schema, kind)


def _from_buffers(n: int, columns: list[Any], schema: Any, kind_of: Any) -> Any:
    import pyarrow as pa

    arrays = []
    dictionaries = _dictionaries(schema)
    for field, buffers in zip(schema, columns, strict=True):
        kind = kind_of(field.name)
        bufs: list[Any] = [None if b is None else pa.py_buffer(b) for b in buffers]
        if kind == "category":
            arrays.append(pa.DictionaryArray.from_buffers(
                field.type, n, bufs, dictionaries[field.name]))
        elif kind == "list":
            offsets, child_offsets, child_data = bufs
            child = pa.Array.from_buffers(pa.large_string(), child_offsets.size // 8 - 1,
                                          [None, child_offsets, child_data])
            arrays.append(pa.Array.from_buffers(field.type, n, [None, offsets],
                                                children=[child]))
        else:
            arrays.append(pa.Array.from_buffers(field.type, n, bufs))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


_DICTIONARIES: dict[str, Any] = {}


def _dictionaries(schema: Any) -> dict[str, Any]:
    """The categories of each category column as Arrow string arrays (built once, from
    buffers: ``pa.array`` would import pandas)."""
    import pyarrow as pa

    if not _DICTIONARIES:
        for name, cats in CATEGORIES.items():
            data = "".join(cats).encode()
            offsets, at = [0], 0
            for c in cats:
                at += len(c.encode())
                offsets.append(at)
            off = b"".join(x.to_bytes(8, "little") for x in offsets)
            _DICTIONARIES[name] = pa.Array.from_buffers(
                pa.large_string(), len(cats), [None, pa.py_buffer(off), pa.py_buffer(data)])
    return _DICTIONARIES
