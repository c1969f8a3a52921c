"""The syntax tree of a rule. The front end (``syntax``) builds ``Const``, ``ListExpr``,
``Name``, ``Call``, ``Not``, ``Neg``, ``Arith``, ``Compare`` and ``Logic``; the binder turns
names and calls into ``Column``, ``Count``, ``Quantifier`` and ``Aggregate``. ``pos`` is the
0-based offset in the rule's text that an error about the node points at: an operator's own
position for ``Not``, ``Neg``, ``Arith``, ``Compare`` and ``Logic``, the first character
otherwise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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

