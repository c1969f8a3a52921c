"""Evaluation: a bound rule on one capture's tables, its measured value, and the rows that
break it.

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

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from analyzer.core.records import ConnectionRecord
from analyzer.report.app import http_rows, websocket_rows
from analyzer.report.endpoints import endpoint
from analyzer.report.rules.bind import Rule, _columns_in
from analyzer.report.rules.nodes import (
    Aggregate,
    Arith,
    Column,
    Compare,
    Const,
    Count,
    ListExpr,
    Logic,
    Neg,
    Node,
    Not,
    Quantifier,
)
from analyzer.report.rules.vocabulary import (
    CONN,
    HTTP,
    MAX_OFFENDERS,
    QUANTILES,
    ROW_TITLES,
    TABLE_TITLES,
    WS,
)
from analyzer.report.stats import percentile
from analyzer.text import inert


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
            Offender(str(r.get("uid")), endpoint(r.get("client_ip"), r.get("client_port")),
                     endpoint(r.get("server_ip"), r.get("server_port")),
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
    return percentile(values, QUANTILES[stat])


def evaluate(rule: Rule, data: CaptureData) -> RuleResult:
    """One rule on one capture."""
    return _Evaluator(data).result(rule)


def evaluate_all(rules: Iterable[Rule], data: CaptureData) -> list[RuleResult]:
    """Every rule on one capture."""
    return [evaluate(rule, data) for rule in rules]

