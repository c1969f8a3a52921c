"""The rule language's vocabulary: its tables and their columns, functions, value kinds and
errors. Everything here is data; the front end (``scan``, ``syntax``), the binder and the
evaluator read it."""

from __future__ import annotations

from dataclasses import dataclass, fields

from analyzer.core.app import HttpTransaction, WebSocketSession
from analyzer.core.records import FIELD_NAMES, ConnectionRecord
from analyzer.core.vocab import Opcode, WsProblem
from analyzer.report.app import HTTP_COLUMNS, WS_COLUMNS
from analyzer.report.frame import CATEGORIES

MAX_OFFENDERS = 5
SEVERITIES = ("error", "warning")

# --------------------------------------------------------------------------- vocabulary

CONN, WS, HTTP = "connections", "websocket", "http"
#: Name prefix -> table. Bare names are connection columns.
PREFIXES = {"websocket": WS, "http": HTTP}
TABLE_TITLES = {CONN: "connections", WS: "WebSocket sessions", HTTP: "HTTP transactions"}
ROW_TITLES = {CONN: "connection", WS: "WebSocket session", HTTP: "HTTP transaction"}

FUNCTIONS = ("count", "all", "any", "sum", "mean", "min", "max", "p50", "p90", "p95", "p99")
STATS = ("p50", "p90", "p95", "p99", "min", "max", "mean")
QUANTILES = {"p50": 0.50, "p90": 0.90, "p95": 0.95, "p99": 0.99}
#: The words of the language; none of them is a column or a function.
KEYWORDS = ("and", "or", "not", "in", "true", "false", "null")

#: The names in a WebSocket session's ``problems`` (README, "HTTP and WebSocket").
WS_PROBLEMS = tuple(p.value for p in WsProblem)
OPCODES = tuple(o.label for o in Opcode)
#: Keys of the dict-valued WebSocket columns (``websocket.frames_c2s.close``).
DICT_KEYS = {"frames_c2s": OPCODES, "frames_s2c": OPCODES,
             "messages_c2s": ("text", "binary"), "messages_s2c": ("text", "binary")}

NUM, STR, BOOL, LIST, DICT, NULL = "number", "string", "boolean", "list", "dict", "null"


def _kind_of(annotation: object) -> str:
    text = str(annotation).replace(" ", "")
    if text.startswith(("tuple", "list")):
        return LIST
    if text.startswith("dict"):
        return DICT
    base = text.split("|")[0]
    return {"bool": BOOL, "int": NUM, "float": NUM, "str": STR}.get(base, STR)


def _annotations(cls: type) -> dict[str, str]:
    return {f.name: _kind_of(f.type) for f in fields(cls)}


@dataclass(frozen=True, slots=True)
class ColumnInfo:
    kind: str
    #: The values a string column (or a list column's items) can take, when known.
    values: tuple[str, ...] | None = None


def _columns() -> dict[str, dict[str, ColumnInfo]]:
    conn_kinds = _annotations(ConnectionRecord)
    conn = {
        name: ColumnInfo(conn_kinds[name], tuple(CATEGORIES[name]) if name in CATEGORIES
                         else None)
        for name in FIELD_NAMES
    }
    ws_kinds = {**conn_kinds, **_annotations(WebSocketSession)}
    ws = {name: ColumnInfo(ws_kinds[name]) for name in WS_COLUMNS}
    ws["close_by"] = ColumnInfo(STR, ("client", "server"))
    ws["problems"] = ColumnInfo(LIST, WS_PROBLEMS)
    http_kinds = {**conn_kinds, **_annotations(HttpTransaction)}
    http = {name: ColumnInfo(http_kinds[name]) for name in HTTP_COLUMNS}
    return {CONN: conn, WS: ws, HTTP: http}


COLUMNS = _columns()

# --------------------------------------------------------------------------- errors


class RuleError(Exception):
    """A rule that cannot be parsed or bound; ``pos`` is a 0-based offset into ``text``."""

    def __init__(self, text: str, pos: int | None, message: str,
                 name: str | None = None) -> None:
        super().__init__(text, pos, message, name)
        self.text, self.pos, self.message, self.name = text, pos, message, name

    def __str__(self) -> str:
        where = f"at column {self.pos + 1}: " if self.pos is not None else ""
        rule = f"rule {self.name!r}: " if self.name and self.name != self.text else ""
        return f"{rule}bad rule {self.text!r}: {where}{self.message}"


class PolicyError(Exception):
    """A policy file that is not valid TOML or does not follow the ``[[rule]]`` schema."""

