"""Rules for ``pcap-analyzer check``: a small expression language, parsed and evaluated here.

A rule is a true/false expression over one capture's tables::

    count(end == 'rst') / count() <= 0.05
    handshake_rtt_s.p95 < 0.2
    all(websocket.close_code in [1000, 1001])

It is tokenized and parsed by hand (recursive descent) into the dataclasses below, then
bound: every name is resolved to a column of a known table and every operator is
type-checked, so a typo or a hostile string (``__import__('os')``) is a :class:`RuleError`
that points at its column before any capture is read. Nothing is ever passed to ``eval``.

Tables (one row each): bare names are the connections table (the record contract);
``websocket.X`` the WebSocket upgrade attempts; ``http.X`` the HTTP transactions.

Grammar, lowest precedence first::

    rule       := or_expr EOF
    or_expr    := and_expr ('or' and_expr)*
    and_expr   := not_expr ('and' not_expr)*
    not_expr   := 'not' not_expr | comparison
    comparison := sum (('=='|'!='|'<'|'<='|'>'|'>='|'in'|'not' 'in') sum)?
    sum        := product (('+'|'-') product)*
    product    := unary (('*'|'/') unary)*
    unary      := '-' unary | primary
    primary    := NUMBER | STRING | 'true' | 'false' | 'null' | '[' items? ']'
                | '(' or_expr ')' | FUNCTION '(' items? ')' | NAME ('.' NAME)*

Semantics (README, "CI checks"):

* ``count(pred)``, ``all(pred)``, ``any(pred)`` evaluate ``pred`` on every row of the one
  table it names; ``count()`` counts connections. ``all`` of no rows is true.
* ``sum/mean/min/max/p50/p90/p95/p99(expr)`` and ``COLUMN.p50 .p90 .p95 .p99 .min .max
  .mean`` aggregate the non-null values; of no values, ``sum`` is 0 and the others null.
  Percentiles interpolate linearly (as pandas' ``quantile``, and the summary command).
* Null: ``x == null`` and ``x != null`` test for null; any other comparison with a null
  operand is false (so is ``in``). Arithmetic with null gives null. A nullable column
  (``int | None``, ``bool | None``, ``float | None`` in the record, so ``Int64``,
  ``boolean`` and ``float64`` in the DataFrame: the TCP health fields, null on UDP and
  ICMP rows) reads null where the record has None, and a float NaN reads null too.
* Division: ``0 / 0`` is 0 (so a rate over an empty capture is 0); ``x / 0`` is null
  otherwise.
"""

from __future__ import annotations

import difflib
import json
import math
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from analyzer.core.app import HttpTransaction, WebSocketSession
from analyzer.core.records import FIELD_NAMES, ConnectionRecord
from analyzer.report.app import HTTP_COLUMNS, WS_COLUMNS, http_rows, websocket_rows
from analyzer.report.frame import CATEGORIES
from analyzer.report.writers import inert, md_escape

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

#: The names in a WebSocket session's ``problems`` (README, "HTTP and WebSocket").
WS_PROBLEMS = (
    "wrong_accept", "missing_accept", "bad_version", "bad_upgrade_header",
    "bad_connection_header", "unoffered_subprotocol", "unoffered_extension",
    "unmasked_client_frame", "masked_server_frame", "control_frame_too_long",
    "fragmented_control_frame", "reserved_close_code", "invalid_close_code",
    "data_after_close",
)
OPCODES = ("text", "binary", "continuation", "ping", "pong", "close")
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


# --------------------------------------------------------------------------- tokens

KEYWORDS = ("and", "or", "not", "in", "true", "false", "null")
_TWO_CHAR = ("==", "!=", "<=", ">=")
_ONE_CHAR = "<>+-*/()[],."
_HINTS = {"=": "use '==' to compare", "!": "use 'not', or '!=' to compare",
          "&": "use 'and'", "|": "use 'or'"}
_NAME_HINTS = {"None": "null", "True": "true", "False": "false", "AND": "and",
               "OR": "or", "NOT": "not", "IN": "in", "NULL": "null"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "num", "str", "name", "op", "end"
    text: str
    value: Any
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch.isascii() and (ch.isalpha() or ch == "_"):
            j = i + 1
            while j < n and text[j].isascii() and (text[j].isalnum() or text[j] == "_"):
                j += 1
            tokens.append(Token("name", text[i:j], text[i:j], i))
            i = j
        elif ch.isascii() and ch.isdigit():
            i = _number(text, i, tokens)
        elif ch in "'\"":
            i = _string(text, i, tokens)
        elif text[i:i + 2] in _TWO_CHAR:
            tokens.append(Token("op", text[i:i + 2], None, i))
            i += 2
        elif ch in _ONE_CHAR:
            tokens.append(Token("op", ch, None, i))
            i += 1
        else:
            hint = _HINTS.get(ch)
            shown = inert(ch)
            raise RuleError(text, i, f"unexpected {shown!r}" + (f": {hint}" if hint else ""))
    tokens.append(Token("end", "", None, n))
    return tokens


def _number(text: str, i: int, tokens: list[Token]) -> int:
    j = i
    n = len(text)
    while j < n and text[j].isascii() and text[j].isdigit():
        j += 1
    is_float = False
    if j + 1 < n and text[j] == "." and text[j + 1].isascii() and text[j + 1].isdigit():
        is_float = True
        j += 1
        while j < n and text[j].isascii() and text[j].isdigit():
            j += 1
    if j < n and text[j] in "eE":
        k = j + 1
        if k < n and text[k] in "+-":
            k += 1
        if k < n and text[k].isascii() and text[k].isdigit():
            is_float = True
            j = k
            while j < n and text[j].isascii() and text[j].isdigit():
                j += 1
    if j < n and text[j].isascii() and (text[j].isalpha() or text[j] == "_"):
        raise RuleError(text, j, f"unexpected {text[j]!r} after the number {text[i:j]}")
    raw = text[i:j]
    tokens.append(Token("num", raw, float(raw) if is_float else int(raw), i))
    return j


_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t"}


def _string(text: str, i: int, tokens: list[Token]) -> int:
    quote = text[i]
    j = i + 1
    out: list[str] = []
    while j < len(text):
        ch = text[j]
        if ch == quote:
            tokens.append(Token("str", text[i:j + 1], "".join(out), i))
            return j + 1
        if ch == "\\" and j + 1 < len(text):
            esc = text[j + 1]
            if esc not in _ESCAPES:
                raise RuleError(text, j, f"unknown escape '\\{inert(esc)}' in a string")
            out.append(_ESCAPES[esc])
            j += 2
            continue
        out.append(ch)
        j += 1
    raise RuleError(text, i, f"unterminated string (no closing {quote})")


# --------------------------------------------------------------------------- syntax tree


@dataclass(frozen=True, slots=True)
class Node:
    pos: int


@dataclass(frozen=True, slots=True)
class Const(Node):
    value: Any  # int, float, str, bool or None


@dataclass(frozen=True, slots=True)
class ListExpr(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Name(Node):
    """A dotted name as written; binding turns it into a Column or an Aggregate."""

    parts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Call(Node):
    """A function call as written; binding turns it into a Count, Quantifier or Aggregate."""

    func: str
    args: tuple[Node, ...]
    #: The offset just after its closing parenthesis.
    end: int


@dataclass(frozen=True, slots=True)
class Not(Node):
    operand: Node


@dataclass(frozen=True, slots=True)
class Neg(Node):
    operand: Node


@dataclass(frozen=True, slots=True)
class Arith(Node):
    op: str  # + - * /
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Compare(Node):
    op: str  # == != < <= > >= in "not in"
    left: Node
    right: Node
    #: One side is the literal ``null``: ``==``/``!=`` then test for null.
    null_test: bool = False


@dataclass(frozen=True, slots=True)
class Logic(Node):
    op: str  # and, or
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Column(Node):
    """A column of the current row of ``table``; ``key`` picks from a dict-valued column."""

    table: str
    column: str
    key: str | None
    text: str


@dataclass(frozen=True, slots=True)
class Count(Node):
    table: str
    pred: Node | None


@dataclass(frozen=True, slots=True)
class Quantifier(Node):
    func: str  # all, any
    table: str
    pred: Node


@dataclass(frozen=True, slots=True)
class Aggregate(Node):
    stat: str  # sum, mean, min, max, p50, p90, p95, p99
    table: str
    expr: Node
    text: str


# --------------------------------------------------------------------------- parser

_COMPARE_OPS = ("==", "!=", "<", "<=", ">", ">=")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self, message: str, tok: Token | None = None) -> RuleError:
        tok = tok or self.tok
        return RuleError(self.text, tok.pos, message)

    def _got(self) -> str:
        return "the end of the rule" if self.tok.kind == "end" else repr(inert(self.tok.text))

    def at(self, kind: str, text: str | None = None) -> bool:
        tok = self.tok
        return tok.kind == kind and (text is None or tok.text == text)

    def expect_op(self, text: str) -> Token:
        if not self.at("op", text):
            raise self.error(f"expected {text!r}, got {self._got()}")
        tok = self.tok
        self.i += 1
        return tok

    def parse(self) -> Node:
        if self.at("end"):
            raise self.error("the rule is empty")
        node = self.or_expr()
        if not self.at("end"):
            if self.at("op", ")"):
                raise self.error("unbalanced ')'")
            raise self.error(f"expected an operator or the end of the rule, got {self._got()}")
        return node

    def or_expr(self) -> Node:
        node = self.and_expr()
        while self.at("name", "or"):
            tok = self.tok
            self.i += 1
            node = Logic(tok.pos, "or", node, self.and_expr())
        return node

    def and_expr(self) -> Node:
        node = self.not_expr()
        while self.at("name", "and"):
            tok = self.tok
            self.i += 1
            node = Logic(tok.pos, "and", node, self.not_expr())
        return node

    def not_expr(self) -> Node:
        if self.at("name", "not"):
            tok = self.tok
            self.i += 1
            return Not(tok.pos, self.not_expr())
        return self.comparison()

    def _compare_op(self) -> tuple[str, Token] | None:
        tok = self.tok
        if tok.kind == "op" and tok.text in _COMPARE_OPS:
            return tok.text, tok
        if tok.kind == "name" and tok.text == "in":
            return "in", tok
        if tok.kind == "name" and tok.text == "not":
            nxt = self.tokens[self.i + 1]
            if nxt.kind == "name" and nxt.text == "in":
                return "not in", tok
        return None

    def comparison(self) -> Node:
        left = self.sum()
        found = self._compare_op()
        if found is None:
            return left
        op, tok = found
        self.i += 2 if op == "not in" else 1
        right = self.sum()
        again = self._compare_op()
        if again is not None:
            raise self.error("comparisons cannot be chained: join them with 'and'", again[1])
        return Compare(tok.pos, op, left, right)

    def sum(self) -> Node:
        node = self.product()
        while self.at("op", "+") or self.at("op", "-"):
            tok = self.tok
            self.i += 1
            node = Arith(tok.pos, tok.text, node, self.product())
        return node

    def product(self) -> Node:
        node = self.unary()
        while self.at("op", "*") or self.at("op", "/"):
            tok = self.tok
            self.i += 1
            node = Arith(tok.pos, tok.text, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.at("op", "-"):
            tok = self.tok
            self.i += 1
            return Neg(tok.pos, self.unary())
        return self.primary()

    def primary(self) -> Node:
        tok = self.tok
        if tok.kind in ("num", "str"):
            self.i += 1
            return Const(tok.pos, tok.value)
        if tok.kind == "op" and tok.text == "(":
            self.i += 1
            node = self.or_expr()
            self.expect_op(")")
            return node
        if tok.kind == "op" and tok.text == "[":
            self.i += 1
            return ListExpr(tok.pos, self.items("]"))
        if tok.kind == "name":
            return self.name()
        if tok.kind == "end":
            raise self.error("expected a value, got the end of the rule")
        raise self.error(f"expected a value, got {self._got()}")

    def items(self, close: str) -> tuple[Node, ...]:
        out: list[Node] = []
        while not self.at("op", close):
            out.append(self.or_expr())
            if self.at("op", ","):
                self.i += 1
            elif not self.at("op", close):
                raise self.error(f"expected ',' or {close!r}, got {self._got()}")
        self.i += 1
        return tuple(out)

    def name(self) -> Node:
        first = self.tok
        word = first.text
        if word in ("true", "false", "null"):
            self.i += 1
            return Const(first.pos, {"true": True, "false": False, "null": None}[word])
        if word in KEYWORDS:
            raise self.error(f"expected a value, got the keyword {word!r}")
        parts = [word]
        self.i += 1
        while self.at("op", "."):
            self.i += 1
            if not self.at("name"):
                raise self.error(f"expected a name after '.', got {self._got()}")
            parts.append(self.tok.text)
            self.i += 1
        if self.at("op", "("):
            dotted = ".".join(parts)
            if len(parts) > 1 or word not in FUNCTIONS:
                close = difflib.get_close_matches(dotted, FUNCTIONS, n=1)
                hint = f"; did you mean {close[0]}()?" if close else ""
                raise RuleError(self.text, first.pos,
                                f"unknown function {inert(dotted)!r} (the functions are "
                                f"{', '.join(FUNCTIONS)}){hint}")
            self.i += 1
            args = self.items(")")
            return Call(first.pos, word, args, self.tokens[self.i - 1].pos + 1)
        return Name(first.pos, tuple(parts))


# --------------------------------------------------------------------------- binding


@dataclass(frozen=True, slots=True)
class _Info:
    kind: str
    #: The table whose current row the expression reads (None: one value per capture).
    table: str | None
    #: Allowed string values (a categorical column, or a list column's items).
    values: tuple[str, ...] | None = None
    #: For lists: the kinds of the items.
    item_kind: str | None = None


class _Binder:
    def __init__(self, text: str) -> None:
        self.text = text

    def error(self, node: Node, message: str) -> RuleError:
        return RuleError(self.text, node.pos, message)

    def bind(self, node: Node) -> tuple[Node, _Info]:
        if isinstance(node, Const):
            return node, _Info(_literal_kind(node.value), None)
        if isinstance(node, ListExpr):
            items = [self.bind(item) for item in node.items]
            kinds = {info.kind for _, info in items} - {NULL}
            for (item, info) in items:
                if info.table is not None:
                    raise self.error(item, "a list holds values, not columns")
                if info.kind in (LIST, DICT):
                    raise self.error(item, "lists cannot be nested")
            if len(kinds) > 1:
                raise self.error(node, "a list mixes " + " and ".join(sorted(kinds)) + "s")
            item_kind = kinds.pop() if kinds else NULL
            return ListExpr(node.pos, tuple(n for n, _ in items)), _Info(LIST, None,
                                                                        item_kind=item_kind)
        if isinstance(node, Name):
            return self.bind_name(node)
        if isinstance(node, Call):
            return self.bind_call(node)
        if isinstance(node, Not):
            operand, info = self.bind(node.operand)
            self.need(node.operand, info, BOOL, "'not'")
            return Not(node.pos, operand), _Info(BOOL, info.table)
        if isinstance(node, Neg):
            operand, info = self.bind(node.operand)
            self.need(node.operand, info, NUM, "'-'")
            return Neg(node.pos, operand), _Info(NUM, info.table)
        if isinstance(node, Arith):
            left, li = self.bind(node.left)
            right, ri = self.bind(node.right)
            self.need(node.left, li, NUM, repr(node.op))
            self.need(node.right, ri, NUM, repr(node.op))
            return (Arith(node.pos, node.op, left, right),
                    _Info(NUM, self.join(node, li, ri)))
        if isinstance(node, Logic):
            left, li = self.bind(node.left)
            right, ri = self.bind(node.right)
            self.need(node.left, li, BOOL, repr(node.op))
            self.need(node.right, ri, BOOL, repr(node.op))
            return (Logic(node.pos, node.op, left, right),
                    _Info(BOOL, self.join(node, li, ri)))
        if isinstance(node, Compare):
            return self.bind_compare(node)
        raise self.error(node, "unexpected expression")  # pragma: no cover

    def need(self, node: Node, info: _Info, kind: str, what: str) -> None:
        if info.kind == kind or (info.kind == NULL and kind in (NUM, BOOL)):
            return
        raise self.error(node, f"{what} needs a {kind}, got a {info.kind}")

    def join(self, node: Node, a: _Info, b: _Info) -> str | None:
        if a.table and b.table and a.table != b.table:
            raise self.error(node, f"one row expression mixes the {TABLE_TITLES[a.table]} "
                             f"and {TABLE_TITLES[b.table]} tables; use one aggregate per table")
        return a.table or b.table

    def bind_name(self, node: Name) -> tuple[Node, _Info]:
        parts = list(node.parts)
        dotted = ".".join(parts)
        if parts[0] in PREFIXES and len(parts) > 1:
            table, prefix = PREFIXES[parts[0]], parts[0] + "."
            parts = parts[1:]
        else:
            table, prefix = CONN, ""
        columns = COLUMNS[table]
        column = parts[0]
        if column not in columns:
            raise self.error(node, self.unknown_column(dotted, table, prefix, column))
        info = columns[column]
        rest = parts[1:]
        key = None
        kind = info.kind
        if kind == DICT:
            keys = DICT_KEYS.get(column, ())
            if not rest or rest[0] not in keys:
                raise self.error(node, f"{prefix}{column} counts by key: write "
                                 f"{prefix}{column}.KEY with KEY one of {', '.join(keys)}")
            key, rest, kind = rest[0], rest[1:], NUM
        text = prefix + column + (f".{key}" if key else "")
        col = Column(node.pos, table, column, key, text)
        if not rest:
            return col, _Info(kind, table, info.values,
                              item_kind=STR if kind == LIST else None)
        stat = rest[0]
        if stat not in STATS or len(rest) > 1:
            raise self.error(node, f"unknown suffix {'.'.join(rest)!r} on {text}: "
                             f"the aggregates are .{', .'.join(STATS)}")
        if kind != NUM:
            raise self.error(node, f".{stat} needs a numeric column; {text} is a {kind}")
        return Aggregate(node.pos, stat, table, col, dotted), _Info(NUM, None)

    def unknown_column(self, dotted: str, table: str, prefix: str, column: str) -> str:
        every = [p + c for p, t in (("", CONN), ("websocket.", WS), ("http.", HTTP))
                 for c in COLUMNS[t]]
        close = difflib.get_close_matches(dotted, every, n=3, cutoff=0.6)
        if not close:
            close = difflib.get_close_matches(prefix + column, every, n=3, cutoff=0.6)
        what = f"unknown {TABLE_TITLES[table]} column {inert(column)!r}"
        if dotted in _NAME_HINTS:
            return f"{what}; did you mean {_NAME_HINTS[dotted]}?"
        if close:
            return f"{what}; did you mean {' or '.join(close)}?"
        return f"{what}; the columns are {', '.join(COLUMNS[table])}"

    def bind_call(self, node: Call) -> tuple[Node, _Info]:
        func, args = node.func, node.args
        if func == "count":
            if len(args) > 1:
                raise self.error(node, "count() takes at most one condition")
            if not args:
                return Count(node.pos, CONN, None), _Info(NUM, None)
            pred, info = self.bind(args[0])
            self.need_condition(func, args[0], info)
            return Count(node.pos, info.table or CONN, pred), _Info(NUM, None)
        if len(args) != 1:
            raise self.error(node, f"{func}() takes exactly one argument")
        arg, info = self.bind(args[0])
        if func in ("all", "any"):
            self.need_condition(func, args[0], info)
            return Quantifier(node.pos, func, info.table or CONN, arg), _Info(BOOL, None)
        if info.kind != NUM:
            raise self.error(args[0], f"{func}() needs a number, got a {info.kind}")
        if info.table is None:
            raise self.error(args[0], f"{func}() needs a column, e.g. {func}(bytes_c2s)")
        text = self.text[node.pos:node.end]
        return Aggregate(node.pos, func, info.table, arg, text), _Info(NUM, None)

    def need_condition(self, func: str, node: Node, info: _Info) -> None:
        if info.kind != BOOL:
            raise self.error(node, f"{func}() needs a condition (true/false), got a "
                             f"{info.kind}: e.g. {func}(end == 'rst')")

    def bind_compare(self, node: Compare) -> tuple[Node, _Info]:
        left, li = self.bind(node.left)
        right, ri = self.bind(node.right)
        table = self.join(node, li, ri)
        op = node.op
        if op in ("in", "not in"):
            if ri.kind != LIST:
                raise self.error(node.right, f"{op!r} needs a list on its right, e.g. "
                                 "[1000, 1001], or a list column")
            if li.kind in (LIST, DICT):
                raise self.error(node.left, f"{op!r} needs a single value on its left")
            item = ri.item_kind or NULL
            if NULL not in (li.kind, item) and li.kind != item:
                raise self.error(node, f"compares a {li.kind} with a list of {item}s")
            self.check_values(left, li, right, ri.values)
            self.check_values(right, ri, left, li.values)
            return Compare(node.pos, op, left, right), _Info(BOOL, table)
        for side, info in ((node.left, li), (node.right, ri)):
            if info.kind in (LIST, DICT):
                raise self.error(side, f"{op!r} cannot compare a {info.kind}; test "
                                 "membership with 'in'")
        if op in ("==", "!="):
            if NULL not in (li.kind, ri.kind) and li.kind != ri.kind:
                raise self.error(node, f"compares a {li.kind} with a {ri.kind}")
        elif NULL not in (li.kind, ri.kind):
            if li.kind != ri.kind or li.kind == BOOL:
                raise self.error(node, f"{op!r} needs two numbers or two strings, got a "
                                 f"{li.kind} and a {ri.kind}")
        self.check_values(right, ri, left, li.values)
        self.check_values(left, li, right, ri.values)
        null_test = (isinstance(left, Const) and left.value is None) or (
            isinstance(right, Const) and right.value is None)
        return Compare(node.pos, op, left, right, null_test), _Info(BOOL, table)

    def check_values(self, node: Node, info: _Info, other: Node,
                     allowed: tuple[str, ...] | None) -> None:
        """A string literal compared with a categorical column must be one of its values."""
        if allowed is None:
            return
        consts = [node] if isinstance(node, Const) else (
            list(node.items) if isinstance(node, ListExpr) else [])
        for const in consts:
            if isinstance(const, Const) and isinstance(const.value, str) \
                    and const.value not in allowed:
                what = other.text if isinstance(other, Column) else "this column"
                raise self.error(const, f"{inert(const.value)!r} is never a value of {what} "
                                 f"(its values are {', '.join(allowed)})")


def _literal_kind(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, (int, float)):
        return NUM
    return STR


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True, slots=True)
class Rule:
    """A parsed, bound rule: ``expr`` as written, and its syntax tree."""

    name: str
    expr: str
    severity: str
    tree: Node = field(repr=False, compare=False)
    description: str = ""


def parse(expr: str, name: str | None = None, severity: str = "error",
          description: str = "") -> Rule:
    """Parse and bind one rule; raise :class:`RuleError` pointing at what is wrong."""
    try:
        raw = _Parser(expr).parse()
        tree, info = _Binder(expr).bind(raw)
        if info.table is not None:
            found = _columns_in(tree)
            columns = list(dict.fromkeys(c.text for c in found))
            raise RuleError(expr, found[0].pos if found else raw.pos,
                            f"{', '.join(columns)} must be inside an aggregate: wrap the "
                            "condition in count(...), all(...) or any(...)")
        if info.kind != BOOL:
            raise RuleError(expr, raw.pos, f"a rule must be true or false, this is a "
                            f"{info.kind}: compare it with something, e.g. {expr} <= 1")
    except RuleError as exc:
        exc.name = name
        raise
    if severity not in SEVERITIES:
        raise RuleError(expr, None, f"severity must be one of {', '.join(SEVERITIES)}, "
                        f"not {severity!r}", name)
    return Rule(name or expr, expr, severity, tree, description)


def _columns_in(node: Node, into_aggregates: bool = False) -> list[Column]:
    """The row columns a node reads, in order (not those inside nested aggregates)."""
    if isinstance(node, Column):
        return [node]
    if isinstance(node, (Count, Quantifier, Aggregate)) and not into_aggregates:
        return []
    out: list[Column] = []
    for child in _children(node):
        out.extend(_columns_in(child, into_aggregates))
    return out


def _children(node: Node) -> list[Node]:
    if isinstance(node, ListExpr):
        return list(node.items)
    if isinstance(node, (Not, Neg)):
        return [node.operand]
    if isinstance(node, (Arith, Compare, Logic)):
        return [node.left, node.right]
    if isinstance(node, Count):
        return [node.pred] if node.pred is not None else []
    if isinstance(node, Quantifier):
        return [node.pred]
    if isinstance(node, Aggregate):
        return [node.expr]
    return []


def load_policy(text: str, source: str = "policy") -> list[Rule]:
    """Rules from a policy file's TOML text::

        [[rule]]
        name = "no resets"
        expr = "count(end == 'rst') / count() <= 0.05"
        severity = "error"      # or "warning": shown, never fails the check
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from None
    extra = sorted(set(data) - {"rule"})
    if extra:
        raise PolicyError(f"{source}: unknown key {extra[0]!r}; rules go in [[rule]] tables")
    tables = data.get("rule", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise PolicyError(f"{source}: 'rule' must be an array of tables ([[rule]])")
    if not tables:
        raise PolicyError(f"{source}: no [[rule]] tables")
    rules: list[Rule] = []
    names: set[str] = set()
    for index, table in enumerate(tables, 1):
        where = f"{source}: rule {index}"
        unknown = sorted(set(table) - {"name", "expr", "severity", "description"})
        if unknown:
            raise PolicyError(f"{where}: unknown key {unknown[0]!r} (the keys are name, "
                              "expr, severity, description)")
        expr = table.get("expr")
        if not isinstance(expr, str):
            raise PolicyError(f"{where}: 'expr' must be a string")
        name = table.get("name", expr)
        severity = table.get("severity", "error")
        description = table.get("description", "")
        if not isinstance(description, str):
            raise PolicyError(f"{where}: 'description' must be a string")
        if not isinstance(name, str) or not name.strip():
            raise PolicyError(f"{where}: 'name' must be a non-empty string")
        if severity not in SEVERITIES:
            raise PolicyError(f"{where} ({name}): severity must be \"error\" or \"warning\", "
                              f"not {severity!r}")
        if name in names:
            raise PolicyError(f"{where}: the name {name!r} is used twice")
        names.add(name)
        try:
            rules.append(parse(expr, name, severity, description))
        except RuleError as exc:
            raise PolicyError(f"{source}: {exc}") from None
    return rules


# --------------------------------------------------------------------------- data


@dataclass(slots=True)
class CaptureData:
    """One capture's tables as rows (dicts keyed by column)."""

    capture: str
    tables: dict[str, list[dict[str, Any]]]

    @classmethod
    def from_records(cls, capture: str, records: Sequence[ConnectionRecord]) -> CaptureData:
        ws = websocket_rows(records)
        for row in ws:
            row["problems"] = [p["problem"] for p in row["problems"]]
        return cls(capture, {CONN: [r.to_dict() for r in records], WS: ws,
                             HTTP: http_rows(records)})


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True, slots=True)
class Offender:
    """A row that breaks the rule: its connection's uid and endpoints, and the values of
    the columns the rule reads."""

    uid: str
    client: str
    server: str
    values: tuple[tuple[str, Any], ...]

    def describe(self) -> str:
        vals = " ".join(f"{name}={_show(value)}" for name, value in self.values)
        return f"{self.uid} {self.client} -> {self.server}" + (f" {vals}" if vals else "")

    def to_dict(self) -> dict[str, Any]:
        return {"uid": self.uid, "client": self.client, "server": self.server,
                "values": {name: _jsonable(v) for name, v in self.values}}


@dataclass(frozen=True, slots=True)
class RuleResult:
    """One rule on one capture."""

    capture: str
    rule: Rule
    passed: bool
    #: The left side of the deciding comparison, else the rule's value.
    measured: Any
    #: Up to MAX_OFFENDERS rows that break it, when its shape says which rows do.
    offenders: tuple[Offender, ...] = ()
    #: How many rows break it (None when the rule's shape does not say).
    violations: int | None = None
    #: The table the offending rows are from.
    table: str | None = None

    @property
    def status(self) -> str:
        if self.passed:
            return "PASS"
        return "FAIL" if self.rule.severity == "error" else "WARN"

    @property
    def fails(self) -> bool:
        """Whether this result fails the check (an error-severity rule that does not hold)."""
        return not self.passed and self.rule.severity == "error"

    def headline(self) -> str:
        name = "" if self.rule.name == self.rule.expr else f"{self.rule.name}: "
        return f"{self.capture}: {name}{self.rule.expr} (measured: {_show(self.measured)})"

    def detail_lines(self) -> list[str]:
        if self.passed or not self.offenders:
            return []
        table = self.table or CONN
        n = self.violations if self.violations is not None else len(self.offenders)
        rows = ROW_TITLES[table] if n == 1 else TABLE_TITLES[table]
        lines = [f"{n} offending {rows}" + (f", the first {len(self.offenders)}:"
                                            if n > len(self.offenders) else ":")]
        lines.extend(o.describe() for o in self.offenders)
        return lines

    def details(self) -> str:
        """Everything about it, as plain text (the JUnit failure body)."""
        lines = [f"{self.status} {self.headline()}",
                 f"rule: {self.rule.name}", f"expr: {self.rule.expr}",
                 f"severity: {self.rule.severity}", f"capture: {self.capture}",
                 f"measured: {_show(self.measured)}"]
        if self.rule.description:
            lines.insert(2, f"description: {self.rule.description}")
        lines.extend(self.detail_lines())
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"capture": self.capture, "name": self.rule.name, "expr": self.rule.expr,
                "severity": self.rule.severity, "description": self.rule.description,
                "status": self.status,
                "passed": self.passed, "measured": _jsonable(self.measured),
                "violations": self.violations, "table": self.table,
                "offenders": [o.to_dict() for o in self.offenders]}


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, tuple):
        return list(value)
    return value


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return f"'{inert(value)}'"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return inert(str(value))


def _endpoint(ip: Any, port: Any) -> str:
    ip = str(ip)
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


class _Evaluator:
    def __init__(self, data: CaptureData) -> None:
        self.data = data
        self.cache: dict[int, Any] = {}

    def rows(self, table: str) -> list[dict[str, Any]]:
        return self.data.tables[table]

    def ev(self, node: Node, row: dict[str, Any] | None = None) -> Any:
        if isinstance(node, Const):
            return node.value
        if isinstance(node, Column):
            assert row is not None, "a column outside an aggregate"
            value = row.get(node.column)
            if node.key is not None:
                return None if value is None else value.get(node.key, 0)
            if isinstance(value, float) and math.isnan(value):
                return None  # a float column's "not measured" (NaN) is null
            return value
        if isinstance(node, (Count, Quantifier, Aggregate)):
            key = id(node)
            if key not in self.cache:
                self.cache[key] = self.aggregate(node)
            return self.cache[key]
        if isinstance(node, ListExpr):
            return [self.ev(item, row) for item in node.items]
        if isinstance(node, Not):
            value = self.ev(node.operand, row)
            return None if value is None else not value
        if isinstance(node, Neg):
            value = self.ev(node.operand, row)
            return None if value is None else -value
        if isinstance(node, Arith):
            return _arith(node.op, self.ev(node.left, row), self.ev(node.right, row))
        if isinstance(node, Compare):
            return _compare(node, self.ev(node.left, row), self.ev(node.right, row))
        if isinstance(node, Logic):
            left = self.ev(node.left, row)
            if node.op == "and" and left is False:
                return False
            if node.op == "or" and left is True:
                return True
            right = self.ev(node.right, row)
            if node.op == "and":
                return False if right is False else (True if left and right else None)
            return True if right is True else (False if left is False and right is False
                                               else None)
        raise TypeError(f"cannot evaluate {node!r}")  # pragma: no cover

    def aggregate(self, node: Count | Quantifier | Aggregate) -> Any:
        rows = self.rows(node.table)
        if isinstance(node, Count):
            if node.pred is None:
                return len(rows)
            pred = node.pred
            return sum(1 for r in rows if self.ev(pred, r) is True)
        if isinstance(node, Quantifier):
            test = (self.ev(node.pred, r) is True for r in rows)
            return all(test) if node.func == "all" else any(test)
        values = [v for r in rows if (v := self.ev(node.expr, r)) is not None]
        return _stat(node.stat, values)

    # ---- why a rule failed

    def measured(self, node: Node) -> Any:
        if isinstance(node, Compare):
            return self.ev(node.left)
        if isinstance(node, Logic):
            left, right = self.ev(node.left), self.ev(node.right)
            if node.op == "and":
                pick = node.left if left is not True or right is True else node.right
            else:
                pick = node.left if left is True else node.right
            return self.measured(pick)
        if isinstance(node, Not):
            return self.measured(node.operand) if isinstance(node.operand, Compare) \
                else self.ev(node)
        return self.ev(node)

    def offenders(self, node: Node) -> tuple[str, list[dict[str, Any]], list[Column]] | None:
        """The rows that make a false rule false, worst first, when its shape says."""
        if isinstance(node, Logic):
            found = [self.offenders(side) for side in (node.left, node.right)
                     if self.ev(side) is not True]
            hits = [f for f in found if f is not None]
            if not hits:
                return None
            table = hits[0][0]
            rows: list[dict[str, Any]] = []
            cols: list[Column] = []
            seen: set[int] = set()
            for t, r, c in hits:
                if t != table:
                    continue
                for x in r:
                    if id(x) not in seen:
                        seen.add(id(x))
                        rows.append(x)
                cols.extend(c)
            return table, rows, cols
        if isinstance(node, Quantifier) and node.func == "all":
            rows = [r for r in self.rows(node.table) if self.ev(node.pred, r) is not True]
            return node.table, rows, _columns_in(node.pred)
        if isinstance(node, Not) and isinstance(node.operand, Quantifier) \
                and node.operand.func == "any":
            q = node.operand
            rows = [r for r in self.rows(q.table) if self.ev(q.pred, r) is True]
            return q.table, rows, _columns_in(q.pred)
        if isinstance(node, Compare):
            for side, op, other in ((node.left, node.op, node.right),
                                    (node.right, _FLIP.get(node.op), node.left)):
                bounded = self.bound_offenders(side, op, other)
                if bounded is not None:
                    return bounded
        return None

    def bound_offenders(self, side: Node, op: str | None, other: Node
                        ) -> tuple[str, list[dict[str, Any]], list[Column]] | None:
        if op not in ("<", "<=", "==", ">", ">="):
            return None
        if op in ("<", "<=", "=="):
            if op == "==" and not _gt(self.ev(side), self.ev(other)):
                return None
            counts = [c for c in _positive_counts(side) if c.pred is not None]
            if counts:
                table = counts[0].table
                rows = [r for r in self.rows(table)
                        if any(c.table == table and self.ev(c.pred, r) is True
                               for c in counts if c.pred is not None)]
                cols = [col for c in counts if c.table == table and c.pred is not None
                        for col in _columns_in(c.pred)]
                return table, rows, cols
        if isinstance(side, Aggregate) and side.stat != "sum" and op != "==":
            bound = self.ev(other)
            scored = [(v, r) for r in self.rows(side.table)
                      if (v := self.ev(side.expr, r)) is not None
                      and not _compare(Compare(0, op, side, other), v, bound)]
            scored.sort(key=lambda vr: vr[0], reverse=op in ("<", "<="))
            return side.table, [r for _, r in scored], _columns_in(side.expr)
        return None

    def result(self, rule: Rule) -> RuleResult:
        value = self.ev(rule.tree)
        passed = value is True
        measured = self.measured(rule.tree)
        if passed:
            return RuleResult(self.data.capture, rule, True, measured)
        found = self.offenders(rule.tree)
        if found is None:
            return RuleResult(self.data.capture, rule, False, measured)
        table, rows, cols = found
        seen: dict[str, Column] = {}
        for col in cols:
            seen.setdefault(col.text, col)
        offenders = tuple(
            Offender(str(r.get("uid")), _endpoint(r.get("client_ip"), r.get("client_port")),
                     _endpoint(r.get("server_ip"), r.get("server_port")),
                     tuple((text, self.ev(col, r)) for text, col in seen.items()))
            for r in rows[:MAX_OFFENDERS])
        return RuleResult(self.data.capture, rule, False, measured, offenders, len(rows),
                          table)


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def _gt(a: Any, b: Any) -> bool:
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and a > b


def _positive_counts(node: Node) -> list[Count]:
    """The count(...) terms that make ``node`` larger as they grow."""
    if isinstance(node, Count):
        return [node]
    if isinstance(node, Arith):
        if node.op in ("+", "*"):
            return _positive_counts(node.left) + _positive_counts(node.right)
        return _positive_counts(node.left)
    return []


def _arith(op: str, a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        return 0 if a == 0 else None
    try:
        return a / b
    except OverflowError:
        return None


def _compare(node: Compare, a: Any, b: Any) -> bool:
    op = node.op
    if node.null_test and op in ("==", "!="):
        right_is_null = isinstance(node.right, Const) and node.right.value is None
        is_null = a is None if right_is_null else b is None
        return is_null if op == "==" else not is_null
    if a is None or b is None:
        return False
    if op in ("in", "not in"):
        found = any(item is not None and item == a for item in b)
        return found if op == "in" else not found
    if op == "==":
        return bool(a == b)
    if op == "!=":
        return bool(a != b)
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def _stat(stat: str, values: list[Any]) -> Any:
    if stat == "sum":
        return sum(values)
    if not values:
        return None
    if stat == "min":
        return min(values)
    if stat == "max":
        return max(values)
    if stat == "mean":
        return sum(values) / len(values)
    ordered = sorted(values)
    pos = QUANTILES[stat] * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def evaluate(rule: Rule, data: CaptureData) -> RuleResult:
    """One rule on one capture."""
    return _Evaluator(data).result(rule)


def evaluate_all(rules: Iterable[Rule], data: CaptureData) -> list[RuleResult]:
    """Every rule on one capture."""
    return [evaluate(rule, data) for rule in rules]


# --------------------------------------------------------------------------- reports


@dataclass(slots=True)
class CaptureCheck:
    """What ``check`` found for one capture: its rule results, or why it could not be read."""

    capture: str
    results: list[RuleResult] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    truncated: bool = False


def failed(checks: Iterable[CaptureCheck]) -> bool:
    """Whether any error-severity rule does not hold on any capture."""
    return any(r.fails for c in checks for r in c.results)


def counts(checks: Sequence[CaptureCheck]) -> dict[str, int]:
    results = [r for c in checks for r in c.results]
    return {"captures": len(checks), "rules": len({r.rule.name for r in results}),
            "passed": sum(r.passed for r in results),
            "failed": sum(r.status == "FAIL" for r in results),
            "warnings": sum(r.status == "WARN" for r in results),
            "unreadable": sum(c.error is not None for c in checks)}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def tally(checks: Sequence[CaptureCheck]) -> str:
    """``3 passed, 1 failed, 0 warnings (2 rules on 2 captures)``."""
    n = counts(checks)
    unreadable = f", {n['unreadable']} unreadable" if n["unreadable"] else ""
    return (f"{n['passed']} passed, {n['failed']} failed, {_plural(n['warnings'], 'warning')} "
            f"({_plural(n['rules'], 'rule')} on {_plural(n['captures'], 'capture')}"
            f"{unreadable})")


def render_text(checks: Sequence[CaptureCheck]) -> str:
    lines: list[str] = []
    for check in checks:
        if check.error is not None:
            lines.append(f"ERROR {inert(check.capture)}: {inert(check.error)}")
        for result in check.results:
            lines.append(f"{result.status} {inert(result.headline())}")
            lines.extend("    " + inert(line) for line in result.detail_lines())
    lines.append(tally(checks))
    return "\n".join(lines) + "\n"


def render_json(checks: Sequence[CaptureCheck]) -> str:
    doc = {
        "passed": not failed(checks) and not any(c.error for c in checks),
        "counts": counts(checks),
        "captures": [{"capture": c.capture, "error": c.error, "warnings": c.warnings,
                      "truncated": c.truncated,
                      "results": [r.to_dict() for r in c.results]} for c in checks],
    }
    return json.dumps(doc, indent=2) + "\n"


def render_markdown(checks: Sequence[CaptureCheck]) -> str:
    icons = {"PASS": "✅ pass", "FAIL": "❌ fail", "WARN": "⚠️ warn"}
    out: list[str] = []
    for check in checks:
        out.append(f"### {md_escape(check.capture)}\n")
        if check.error is not None:
            out.append(f"**error:** {md_escape(check.error)}\n")
        for warning in check.warnings:
            out.append(f"**warning:** {md_escape(warning)}\n")
        if not check.results:
            continue
        out.append("| status | rule | expression | measured | offending |")
        out.append("|---|---|---|---|---|")
        for r in check.results:
            offending = "<br>".join(md_escape(o.describe()) for o in r.offenders)
            if r.violations and r.violations > len(r.offenders):
                offending += f"<br>… {r.violations - len(r.offenders)} more"
            expr = inert(r.rule.expr).replace("`", "'").replace("|", "\\|")
            out.append(f"| {icons[r.status]} | {md_escape(r.rule.name)} | `{expr}` | "
                       f"{md_escape(_show(r.measured))} | {offending} |")
        out.append("")
    out.append(f"**{tally(checks)}**\n")
    return "\n".join(out)
