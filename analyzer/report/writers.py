"""Output formats shared by every command: one ``--format`` option, one registry."""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from analyzer.core.records import FIELD_NAMES, ConnectionRecord
from analyzer.report import formats
from analyzer.report.endpoints import endpoint
from analyzer.report.formats import Format
from analyzer.report.zeek import write_conn_log
from analyzer.text import inert

if TYPE_CHECKING:  # pandas is imported where a frame is made: not for a streamed format
    import pandas as pd

_CSV_RISKY = ("=", "+", "-", "@", "\t", "\r")


def pipe_console(**kwargs: Any) -> Any:
    """A rich Console that lets a closed pipe (``| head``) reach the caller as the
    BrokenPipeError it is (rich's own handler exits with 1), so that the command line ends
    quietly with 0 as for every other format."""
    from rich.console import Console

    class _PipeConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return _PipeConsole(**kwargs)


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
    import pandas as pd

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
    import pandas as pd

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


# ------------------------------------------------------------------------ terminal tables

#: The table's width when it is not written to a terminal (a pipe, a file): ``$COLUMNS``
#: when set, else this.
PIPE_WIDTH = 200
_GAP = 1  # columns are one space apart


@dataclass(frozen=True, slots=True)
class TableColumn:
    """A column of a terminal table.

    ``name`` is what ``--columns`` takes (a field of the record, or a derived cell such as
    ``client``); ``priority`` 0 is kept longest: when the table is too wide, the columns of
    the highest priority drop out together, then the next. A ``wrap`` column holds free
    text and may wrap at spaces (a longer word is folded); a ``shorten`` one (a capture's
    name) stays on one line and loses its middle to an ellipsis when it must narrow; every
    other cell keeps its width and its line, so that an address or a state is never
    broken.
    """

    name: str
    header: str
    priority: int
    cell: Callable[[Mapping[str, Any]], str]
    wrap: bool = False
    right: bool = False
    min_width: int = 12  # the narrowest a wrap or shorten column gets
    shorten: bool = False

    @property
    def narrows(self) -> bool:
        return self.wrap or self.shorten


def table_width(out: TextIO) -> int:
    """The terminal's width; ``$COLUMNS`` or :data:`PIPE_WIDTH` when ``out`` is not a
    terminal."""
    if out.isatty():
        from rich.console import Console

        return Console(file=out).size.width
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    return columns if columns > 0 else PIPE_WIDTH


def _blank(value: object) -> bool:
    import pandas as pd

    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def plain(value: object) -> str:
    """A value as a table cell: empty for null, ``true``/``false``, lists joined by
    ``, ``, counts as ``text:2 close:1``, seconds to the nanosecond."""
    if isinstance(value, (list, tuple, dict)):
        return str(_compact(list(value) if isinstance(value, tuple) else value))
    if _blank(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.9f}".rstrip("0").rstrip(".")
    return str(value)


def _field(name: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda row: plain(row.get(name))


def _endpoint_cell(ip: str, port: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda row: endpoint(row.get(ip), row.get(port))


def _ms(name: str) -> Callable[[Mapping[str, Any]], str]:
    def cell(row: Mapping[str, Any]) -> str:
        v: Any = row.get(name)
        return "" if _blank(v) else f"{float(v) * 1000:.3f}"
    return cell


def _pair(name: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda row: f"{plain(row.get(name + '_c2s'))}/{plain(row.get(name + '_s2c'))}"


def _yes(name: str, no: str = "") -> Callable[[Mapping[str, Any]], str]:
    def cell(row: Mapping[str, Any]) -> str:
        v = row.get(name)
        return "" if _blank(v) else ("yes" if v else no)
    return cell


def _number(row: Mapping[str, Any]) -> str:
    n = row.get("n")
    return "" if _blank(n) else f"#{n}"


#: Columns every table can show: the connection's ``#N`` (see ``report.select``), its
#: capture and endpoints.
COMMON_COLUMNS = (
    TableColumn("n", "#", 0, _number, right=True),
    TableColumn("capture", "capture", 2, lambda row: str(row.get("label") or ""),
                shorten=True),
    TableColumn("client", "client", 0, _endpoint_cell("client_ip", "client_port")),
    TableColumn("server", "server", 0, _endpoint_cell("server_ip", "server_port")),
)
_N, _CAPTURE, _CLIENT, _SERVER = COMMON_COLUMNS

#: The ``connections`` table's columns, in order (``--columns`` takes any field too).
TABLE_COLUMNS: tuple[TableColumn, ...] = (
    _N, replace(_CAPTURE, priority=3), TableColumn("proto", "proto", 5, _field("proto")),
    _CLIENT, _SERVER,
    TableColumn("handshake", "handshake", 1, _field("handshake")),
    TableColumn("handshake_rtt_s", "rtt ms", 6, _ms("handshake_rtt_s"), right=True),
    TableColumn("end", "end", 1, _field("end")),
    TableColumn("closer", "closer", 2, _field("closer")),
    TableColumn("client_state", "client state", 4, _field("client_state")),
    TableColumn("server_state", "server state", 4, _field("server_state")),
    TableColumn("time_wait", "TIME_WAIT", 2, _field("time_wait")),
    TableColumn("conn_state", "zeek", 5, _field("conn_state")),
    TableColumn("history", "history", 6, _field("history")),
    TableColumn("packets", "pkts c/s", 8, _pair("packets"), right=True),
    TableColumn("bytes", "bytes c/s", 8, _pair("bytes"), right=True),
    TableColumn("http_requests", "http", 9, _field("http_requests"), right=True),
    TableColumn("websocket", "ws", 9, _yes("websocket")),
    TableColumn("health", "health", 7, lambda row: health_cell(row)),
)


def capture_labels(names: Iterable[str]) -> dict[str, str]:
    """Each capture's name in a table: the file name when it is unique among them, else
    the path as given."""
    unique = list(dict.fromkeys(names))
    base = Counter(PurePath(n).name for n in unique)
    return {n: (PurePath(n).name if base[PurePath(n).name] == 1 else n) for n in unique}


def columns_named(names: Sequence[str], table: Sequence[TableColumn],
                  fields: Sequence[str]) -> list[TableColumn]:
    """The columns ``--columns`` asks for: a table column by its name (``#`` is ``n``), or
    any of ``fields``, with its table header when it has one."""
    by_name = {c.name: c for c in (*table, *COMMON_COLUMNS)}
    by_name["#"] = _N
    out = []
    for name in names:
        column = by_name.get(name)
        if column is None:
            wrap = name in ("anomalies", "tunnel_parents", "problems", "user_agent", "target",
                            "request_target", "referrer", "origin", "reason", "host")
            column = TableColumn(name, name, 0, _field(name), wrap=wrap)
        out.append(column)
    return out


def parse_columns(text: str, table: Sequence[TableColumn], fields: Sequence[str]
                  ) -> list[str]:
    """``--columns a,b,c``: the names, checked against the table's columns and ``fields``;
    ``ValueError`` (one line, with close matches) for an unknown one."""
    import difflib

    known = list(dict.fromkeys([c.name for c in (*table, *COMMON_COLUMNS)] + list(fields)))
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ValueError("--columns: give field names, e.g. --columns n,client,server,end")
    for name in names:
        if name not in known and name != "#":
            close = difflib.get_close_matches(name, known, n=5, cutoff=0.6)
            near = (f"did you mean {', '.join(close)}?" if close
                    else f"the names are the record's fields and {', '.join(known[:8])}, ...")
            raise ValueError(f"--columns: unknown column {name!r}: {near}")
    return names


@dataclass(frozen=True, slots=True)
class Layout:
    """Which columns a table shows, how wide each is, and which dropped out."""

    columns: list[TableColumn]
    widths: list[int]
    dropped: list[TableColumn]
    width: int  # the console's width to render at


def _words(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(w) for w in text.split()), default=0)


#: A word longer than this (a URI, say) may be folded in a wrap column; shorter ones are
#: never broken.
LONG_WORD = 40


def layout(columns: Sequence[TableColumn], cells: Sequence[Sequence[str]], width: int | None,
           drop: bool = True) -> Layout:
    """Fit ``columns`` (``cells[i]`` is column i's cells) into ``width``.

    A column's natural width is its widest cell or header. Priorities are taken in order,
    each whole or not at all: a priority's columns join when they fit beside those already
    in, its wrap columns as narrow as their longest word allows (up to ``LONG_WORD``), its
    shorten columns as wide as they are or as the room left (not below ``min_width``);
    a priority that does not fit drops out, and a later one that fits still joins. The
    room left over then widens the wrap and shorten columns. ``drop=False`` (the user's
    ``--columns``) keeps every column; without a ``width`` (``--wide``), or when those
    columns cannot fit, each gets its natural width and lines may be longer than
    ``width``."""
    from rich.cells import cell_len

    natural = [max([cell_len(c.header), *(cell_len(x) for x in col)])
               for c, col in zip(columns, cells, strict=True)]
    least: list[int] = []
    for c, col, n in zip(columns, cells, natural, strict=True):
        if c.wrap:
            words = [cell_len(w) for x in col for w in x.split()] + [_words(c.header)]
            least.append(min(n, max([c.min_width, *(w for w in words if w <= LONG_WORD)])))
        else:
            least.append(min(n, c.min_width) if c.shorten else n)

    def used(ws: Mapping[int, int]) -> int:
        return sum(ws.values()) + _GAP * max(0, len(ws) - 1)

    everything = list(range(len(columns)))
    natural_layout = Layout(list(columns), natural, [], used(dict(enumerate(natural))))
    if width is None:
        return natural_layout
    widths: dict[int, int] = {}
    if not drop:
        widths = {i: least[i] for i in everything}
        if used(widths) > width:
            return natural_layout
    else:
        for priority in sorted({c.priority for c in columns}):
            trial = dict(widths)
            tier = [i for i in everything if columns[i].priority == priority]
            for i in tier:
                trial[i] = natural[i] if columns[i].shorten else least[i]
            over = used(trial) - width
            for i in tier:
                if columns[i].shorten and over > 0:
                    cut = min(over, trial[i] - least[i])
                    trial[i] -= cut
                    over -= cut
            if over <= 0:
                widths = trial
        if not widths:  # not even the first priority fits: what does
            for i in everything:
                if used({**widths, i: least[i]}) <= width:
                    widths[i] = least[i]
    spare = width - used(widths)
    growing = [i for i in sorted(widths) if widths[i] < natural[i]]
    while spare > 0 and growing:
        share = max(1, spare // len(growing))
        for i in list(growing):
            add = min(share, natural[i] - widths[i], spare)
            widths[i] += add
            spare -= add
            if widths[i] == natural[i]:
                growing.remove(i)
            if not spare:
                break
    keep = sorted(widths)
    return Layout([columns[i] for i in keep], [widths[i] for i in keep],
                  [columns[i] for i in everything if i not in widths], width)


def _middle(text: str, width: int) -> str:
    """``text`` in ``width`` cells: whole when it fits, else its start and its end around
    an ellipsis, two thirds of it from the start (``simultaneo…pcap``)."""
    from rich.cells import cell_len

    if cell_len(text) <= width:
        return text
    head, tail, room = "", "", width - 1
    chars = list(text)
    while chars and room > 0:
        take_tail = 2 * cell_len(tail) < cell_len(head)  # the start matters more
        ch = chars[-1] if take_tail else chars[0]
        if cell_len(ch) > room:
            break
        room -= cell_len(ch)
        if take_tail:
            tail = chars.pop() + tail
        else:
            head += chars.pop(0)
    return head + "…" + tail


def render_table(rows: Sequence[Mapping[str, Any]], out: TextIO, columns: Sequence[TableColumn],
                 title: str | None = None, *, wide: bool = False, chosen: bool = False,
                 width: int | None = None, what: str = "rows") -> None:
    """Print ``rows`` as a table that fits ``width`` (the terminal's by default, see
    :func:`table_width`), and a footer that names the columns dropped to fit and how to
    bring them back. ``wide``: every column, at its natural width (the terminal wraps the
    lines); ``chosen``: the user's ``--columns``, none dropped."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    limit = width if width is not None else table_width(out)
    cells = [[inert(c.cell(row)) for row in rows] for c in columns]  # packet data: no escapes
    fit = layout(columns, cells, None if wide else limit, drop=not chosen)
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 0),
                  collapse_padding=True, title_justify="left")
    shown = [columns.index(c) for c in fit.columns]
    for column, w in zip(fit.columns, fit.widths, strict=True):
        if column.shorten:
            i = columns.index(column)
            cells[i] = [_middle(text, w) for text in cells[i]]
        table.add_column(column.header, width=w, no_wrap=not column.wrap,
                         overflow="fold" if column.wrap else "ellipsis",
                         justify="right" if column.right else "left")
    for r in range(len(rows)):
        table.add_row(*(Text(cells[i][r]) for i in shown))  # Text: no markup
    console = pipe_console(file=out, width=max(fit.width, 20), highlight=False)
    console.print(table)
    if fit.dropped:
        console.print(Text(footer(fit.dropped, limit)))


#: What ``connections --columns`` takes besides the table's columns: every field.
CONNECTION_FIELDS: tuple[str, ...] = (*FIELD_NAMES, "first_time", "last_time")


def table_request(fmt: Format | None, wide: bool, columns: str | None,
                  table: Sequence[TableColumn], fields: Sequence[str]
                  ) -> tuple[Format, list[str] | None]:
    """The format and the ``--columns`` names of a command: ``--wide`` or ``--columns``
    mean the table when no ``-f`` is given, and go with no other format. ``ValueError``
    (one line) for a bad combination or an unknown column."""
    if wide or columns is not None:
        if fmt is None:
            fmt = Format.TABLE
        elif fmt is not Format.TABLE:
            raise ValueError(f"--wide and --columns shape the table; -f {fmt.value} writes "
                             "every column (leave out -f, or give -f table)")
    names = parse_columns(columns, table, fields) if columns is not None else None
    return fmt or default_format(), names


def footer(dropped: Sequence[TableColumn], width: int) -> str:
    """The line under a table that left columns out: which, and how to see them."""
    names = ", ".join(c.name for c in dropped)
    return (f"hidden to fit {width} columns: {names} (--wide shows every column, "
            "--columns A,B,C picks them)")


def write_table(df: pd.DataFrame, out: TextIO, title: str | None = None, *,
                several: bool | None = None, wide: bool = False,
                columns: Sequence[str] | None = None, width: int | None = None) -> None:
    """The ``connections`` table: ``#N`` (the row's place, as the reports number it), the
    capture when ``several`` captures were given (by default: when the rows come from more
    than one), then :data:`TABLE_COLUMNS` as far as they fit; or the fields ``columns``."""
    rows: list[dict[str, Any]] = df.to_dict("records")  # type: ignore[assignment]
    labels = capture_labels(str(r["capture"]) for r in rows)
    for i, row in enumerate(rows, start=1):
        row["n"] = i
        row["label"] = labels[str(row["capture"])]
    render_table(rows, out, _pick(TABLE_COLUMNS, rows, several, columns, df.columns), title,
                 wide=wide, chosen=columns is not None, width=width)


def _pick(table: Sequence[TableColumn], rows: Sequence[Mapping[str, Any]],
          several: bool | None, columns: Sequence[str] | None, fields: Iterable[str]
          ) -> list[TableColumn]:
    if columns is not None:
        return columns_named(columns, table, list(fields))
    if several is None:
        several = len({str(r.get("capture")) for r in rows}) > 1
    return [c for c in table if several or c.name != "capture"]


def write_row_table(rows: Sequence[Mapping[str, Any]], out: TextIO,
                    table: Sequence[TableColumn], title: str, *, several: bool | None = None,
                    wide: bool = False, columns: Sequence[str] | None = None,
                    width: int | None = None, field_names: Sequence[str] = ()) -> None:
    """The ``http`` and ``websockets`` tables (rows carry their connection's ``n``)."""
    labels = capture_labels(str(r.get("capture")) for r in rows)
    rows = [{**row, "label": labels[str(row.get("capture"))]} for row in rows]
    render_table(rows, out, _pick(table, rows, several, columns, field_names), title,
                 wide=wide, chosen=columns is not None, width=width)


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


def write_rows(rows: list[dict[str, Any]], df: pd.DataFrame | None, fmt: Format, out: TextIO,
               table_columns: Sequence[TableColumn], title: str, *,
               several: bool | None = None, wide: bool = False,
               columns: Sequence[str] | None = None, width: int | None = None,
               field_names: Sequence[str] = ()) -> None:
    """Write application-layer rows (HTTP transactions, WebSocket sessions) as text; the
    table (see :func:`render_table`) shows ``table_columns``, or the fields ``columns``."""
    if fmt is Format.JSONL:
        for row in rows:
            out.write(json.dumps({k: _jsonable(v) for k, v in row.items()}) + "\n")
    elif fmt is Format.JSON:
        out.write(json.dumps(rows, indent=2) + "\n")
    elif fmt is Format.TABLE or df is None:
        write_row_table(rows, out, table_columns, title, several=several, wide=wide,
                        columns=columns, width=width, field_names=field_names)
    elif fmt is Format.CSV:
        import pandas as pd

        flat = flat_frame(df)
        for col in flat.columns:
            if flat[col].dtype == object or pd.api.types.is_string_dtype(flat[col]):
                flat[col] = flat[col].map(_csv_safe)
        flat.to_csv(out, index=False)
    else:
        out.write(markdown_table(flat_frame(df)))
