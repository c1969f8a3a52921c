"""Binding: every name of a rule's tree resolved to a column of a known table, every call to
an aggregate, and every operator type-checked, so that a misspelt column or a wrong value is
a :class:`RuleError` that points at its column before any capture is read. :func:`parse`
(the front end, then this) makes a :class:`Rule`."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from analyzer.report.rules.nodes import (
    Aggregate,
    Arith,
    Call,
    Column,
    Compare,
    Const,
    Count,
    ListExpr,
    Logic,
    Name,
    Neg,
    Node,
    Not,
    Quantifier,
)
from analyzer.report.rules.syntax import parse_tree
from analyzer.report.rules.vocabulary import (
    BOOL,
    COLUMNS,
    CONN,
    DICT,
    DICT_KEYS,
    HTTP,
    LIST,
    NULL,
    NUM,
    PREFIXES,
    SEVERITIES,
    STATS,
    STR,
    TABLE_TITLES,
    WS,
    RuleError,
)
from analyzer.text import inert

_NAME_HINTS = {"None": "null", "True": "true", "False": "false", "AND": "and",
               "OR": "or", "NOT": "not", "IN": "in", "NULL": "null"}



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
        raw = parse_tree(expr)
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

