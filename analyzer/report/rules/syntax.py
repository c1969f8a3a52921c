"""The front end: a rule's text to its syntax tree, by Python's own parser.

:func:`parse_tree` runs the pre-scan (``scan.tokenize`` and ``scan.check``: today's error
messages and columns), then hands ``ast.parse(..., mode="eval")`` a copy of the text that
Python reads the same way the rule language does, and maps the tree it returns to the
dataclasses of ``nodes``. ``ast.parse`` only parses: nothing is compiled to a code object
and nothing is evaluated.

The copy keeps every token at its column, on one line, in ASCII, so that an ``ast`` offset
is a column of the rule:

* whitespace (newlines and non-ASCII spaces too) becomes a space;
* a number becomes zeros (``1e-3`` -> ``0000``) and a string ``'x...'`` of the same width:
  their values are the pre-scan's, which reads only the rule language's escapes;
* a name that Python reserves (``if``, ``lambda``, ``True``, ``None``, ...) and a keyword
  after a dot (``websocket.in``) become underscores: to the rule language they are names,
  which the binder then reports (``unknown connections column 'None'; did you mean null?``);
* the whole is put in parentheses, so that it may start with a space.

Only the node types in :data:`ALLOWED` are mapped; any other, and any shape the rule
language does not have (a chained comparison, a call of an attribute, a keyword argument,
a constant that is not a number or a string) is a :class:`RuleError`. The pre-scan already
rejects every such text, so this is a second, independent fence.
"""

from __future__ import annotations

import ast
import keyword
from bisect import bisect_left

from analyzer.report.rules.nodes import (
    Arith,
    Call,
    Compare,
    Const,
    ListExpr,
    Logic,
    Name,
    Neg,
    Node,
    Not,
)
from analyzer.report.rules.scan import Token, check, tokenize, unknown_function
from analyzer.report.rules.vocabulary import FUNCTIONS, KEYWORDS, RuleError

#: Every node type a rule's tree may hold. Anything else (Lambda, Subscript, IfExp,
#: NamedExpr, comprehensions, f-strings, Starred, Dict, Set, Tuple, Await, Yield, ...) and
#: any other operator (``**``, ``//``, ``%``, ``@``, ``is``, unary ``+`` and ``~``, ...) is
#: rejected.
ALLOWED: frozenset[type[ast.AST]] = frozenset({
    ast.Expression, ast.Load,
    ast.BoolOp, ast.And, ast.Or,
    ast.UnaryOp, ast.Not, ast.USub,
    ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div,
    ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn,
    ast.Call, ast.Attribute, ast.Name, ast.Constant, ast.List,
})

_LOGIC: dict[type[ast.boolop], str] = {ast.And: "and", ast.Or: "or"}
_ARITH: dict[type[ast.operator], str] = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*",
                                         ast.Div: "/"}
_COMPARE: dict[type[ast.cmpop], str] = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<",
                                        ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
                                        ast.In: "in", ast.NotIn: "not in"}
_LITERALS = {"true": True, "false": False, "null": None}
#: Names that Python reads as something else than a name.
_RESERVED = frozenset(keyword.kwlist) - {"and", "or", "not", "in"}
_WHAT: dict[type[ast.AST], str] = {
    ast.Lambda: "a lambda", ast.IfExp: "an 'if' expression", ast.NamedExpr: "':='",
    ast.Subscript: "indexing with [...]", ast.Slice: "a slice", ast.Starred: "'*'",
    ast.Tuple: "a tuple", ast.Dict: "a dict", ast.Set: "a set",
    ast.ListComp: "a comprehension", ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension", ast.GeneratorExp: "a comprehension",
    ast.JoinedStr: "an f-string", ast.FormattedValue: "an f-string",
    ast.Await: "'await'", ast.Yield: "'yield'", ast.YieldFrom: "'yield'",
    ast.keyword: "a keyword argument",
}


def parse_tree(text: str) -> Node:
    """The syntax tree of one rule, before binding; a :class:`RuleError` if it is not one."""
    tokens = tokenize(text)
    check(text, tokens)
    try:
        tree = ast.parse(_python_text(tokens, len(text)), mode="eval")
    except (SyntaxError, RecursionError, MemoryError) as exc:
        # The grammar is Python's, so only Python's nesting limits are left: 200 brackets
        # ("too many nested parentheses"), a few thousand operators.
        offset = exc.offset if isinstance(exc, SyntaxError) and exc.offset else 1
        raise RuleError(text, max(0, min(offset - 2, len(text))),
                        "the rule is nested too deeply") from None
    return _Tree(text, tokens).build(tree)


def _python_text(tokens: list[Token], width: int) -> str:
    """The rule as Python reads it (see the module's docstring), in parentheses."""
    out = [" "] * width
    after_dot = False
    for tok in tokens[:-1]:
        word = tok.text
        if tok.kind == "num":
            word = "0" * len(tok.text)
        elif tok.kind == "str":
            word = "'" + "x" * (len(tok.text) - 2) + "'"
        elif tok.kind == "name" and (tok.text in _RESERVED or (after_dot
                                                               and tok.text in KEYWORDS)):
            word = "_" * len(tok.text)
        out[tok.pos:tok.pos + len(word)] = word
        after_dot = tok.kind == "op" and tok.text == "."
    return "(" + "".join(out) + ")"


class _Tree:
    """``ast`` nodes to ``nodes`` dataclasses; names, numbers and strings come from the
    tokens at the nodes' columns."""

    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.starts = [tok.pos for tok in tokens]

    def build(self, tree: ast.Expression) -> Node:
        self.fence(tree, 0)
        return self.node(tree.body)

    # ---- the whitelist

    def fence(self, node: ast.AST, pos: int) -> None:
        """Reject the first node, in reading order, whose type is not in ALLOWED."""
        if isinstance(node, ast.expr):
            pos = _pos(node)
        if type(node) not in ALLOWED:
            raise self.reject(node, pos)
        for child in ast.iter_child_nodes(node):
            self.fence(child, pos)

    def reject(self, node: ast.AST, pos: int) -> RuleError:
        what = _WHAT.get(type(node), f"Python's {type(node).__name__}")
        return RuleError(self.text, pos, f"{what} is not part of the rule language")

    # ---- the mapping

    def index(self, pos: int, *kinds: str) -> int:
        """The index of the token that starts at ``pos``; it must be of one of ``kinds``."""
        k = bisect_left(self.starts, pos)
        if k == len(self.tokens) or self.tokens[k].pos != pos or self.tokens[k].kind not in kinds:
            raise RuleError(self.text, pos, "the rule cannot be read here")
        return k

    def token(self, pos: int, *kinds: str) -> Token:
        return self.tokens[self.index(pos, *kinds)]

    def operator(self, left: ast.expr) -> Token:
        """The operator token after ``left``: the first token past it and its ``)``s."""
        k = bisect_left(self.starts, _end(left))
        while self.tokens[k].kind == "op" and self.tokens[k].text == ")":
            k += 1
        return self.tokens[k]

    def node(self, e: ast.expr) -> Node:
        if isinstance(e, ast.Constant):
            if type(e.value) not in (int, float, str):
                raise self.reject(e, _pos(e))
            tok = self.token(_pos(e), "num", "str")
            return Const(tok.pos, tok.value)
        if isinstance(e, ast.Name):
            tok = self.token(_pos(e), "name")
            if tok.text in _LITERALS:
                return Const(tok.pos, _LITERALS[tok.text])
            return Name(tok.pos, (tok.text,))
        if isinstance(e, ast.Attribute):
            return self.dotted(e)
        if isinstance(e, ast.Call):
            return self.call(e)
        if isinstance(e, ast.List):
            return ListExpr(_pos(e), tuple(self.node(item) for item in e.elts))
        if isinstance(e, ast.UnaryOp):
            operand = self.node(e.operand)
            if isinstance(e.op, ast.Not):
                return Not(_pos(e), operand)
            if isinstance(e.op, ast.USub):
                return Neg(_pos(e), operand)
        elif isinstance(e, ast.BinOp) and type(e.op) in _ARITH:
            left = self.node(e.left)
            return Arith(self.operator(e.left).pos, _ARITH[type(e.op)], left,
                         self.node(e.right))
        elif isinstance(e, ast.BoolOp) and type(e.op) in _LOGIC:
            logic = _LOGIC[type(e.op)]
            tree = self.node(e.values[0])
            for before, value in zip(e.values, e.values[1:], strict=False):
                tree = Logic(self.operator(before).pos, logic, tree, self.node(value))
            return tree
        elif isinstance(e, ast.Compare):
            left = self.node(e.left)
            op = _COMPARE.get(type(e.ops[0]))
            if op is None:
                raise self.reject(e.ops[0], _pos(e))
            tok = self.operator(e.left)
            right = self.node(e.comparators[0])
            if len(e.ops) > 1:
                raise RuleError(self.text, self.operator(e.comparators[0]).pos,
                                "comparisons cannot be chained: join them with 'and'")
            return Compare(tok.pos, op, left, right)
        raise self.reject(e, _pos(e))

    def dotted(self, e: ast.Attribute) -> Name:
        """``a.b.c``: a name and the names after its dots, read from the tokens."""
        depth, base = 1, e.value
        while isinstance(base, ast.Attribute):
            depth, base = depth + 1, base.value
        if not isinstance(base, ast.Name):
            raise RuleError(self.text, _end(base), "a '.' must follow a name")
        k = self.index(_pos(base), "name")
        first = self.tokens[k]
        if first.text in _LITERALS or k + 2 * depth >= len(self.tokens):
            raise RuleError(self.text, _end(base), "a '.' must follow a name")
        words: list[str] = []
        for j in range(k, k + 2 * depth + 1, 2):
            tok = self.tokens[j]
            if tok.kind != "name" or (j > k and self.tokens[j - 1].text != "."):
                raise RuleError(self.text, tok.pos, "the rule cannot be read here")
            words.append(tok.text)
        return Name(first.pos, tuple(words))

    def call(self, e: ast.Call) -> Call:
        if e.keywords:
            raise self.reject(e.keywords[0], _pos(e))
        if isinstance(e.func, ast.Attribute):
            name = self.dotted(e.func)
            raise unknown_function(self.text, name.pos, ".".join(name.parts))
        if not isinstance(e.func, ast.Name):
            raise RuleError(self.text, _pos(e), "only a function can be called "
                            f"({', '.join(FUNCTIONS)})")
        func = self.token(_pos(e.func), "name")
        if func.text not in FUNCTIONS or _pos(e) != func.pos:  # not (f)(x)
            raise unknown_function(self.text, func.pos, func.text)
        return Call(func.pos, func.text, tuple(self.node(arg) for arg in e.args), _end(e))


def _pos(e: ast.expr) -> int:
    """The column of a node in the rule (less the opening parenthesis)."""
    return e.col_offset - 1


def _end(e: ast.expr) -> int:
    return (e.end_col_offset or e.col_offset) - 1
