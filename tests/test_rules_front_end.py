"""The rules front end: ``ast.parse`` behind a whitelist, with today's messages and columns.

The GOLDEN table below was produced by the hand-written tokenizer and parser that the ast
front end replaced (``analyzer/report/rules.py`` before it became a package): every message
and column in it is what a user saw then. A message ending in ``...`` is compared up to
there (the rest lists column names, which follow the record schema).
"""

from __future__ import annotations

import ast
import builtins
from pathlib import Path
from typing import Any

import pytest

from analyzer.report import rules as R
from analyzer.report.rules.scan import Token
from analyzer.report.rules.syntax import ALLOWED, _Tree

PACKAGE = Path(R.__file__).parent

GOLDEN: list[tuple[str, int, str]] = [
    ('count(end = 1)', 11,
     "unexpected '=': use '==' to compare"),
    ("count(ned == 'rst') == 0", 7,
     "unknown connections column 'ned'; did you mean end?"),
    ("count(end == 'rts') == 0", 14,
     "'rts' is never a value of end (its values are fin, rst, half_closed, open)"),
    ("__import__('os')", 1,
     "unknown function '__import__' (the functions are count, all, any, sum, mean, min, max, "
     'p50, p90, p95, p99)'),
    ("__import__('os').system('x')", 1,
     "unknown function '__import__' (the functions are count, all, any, sum, mean, min, max, "
     'p50, p90, p95, p99)'),
    ('count() == 0; import os', 13,
     "unexpected ';'"),
    ('lambda: 1', 7,
     "unexpected ':'"),
    ('lambda x: x', 9,
     "unexpected ':'"),
    ('[x for x in [1]] == [1]', 4,
     "expected ',' or ']', got 'for'"),
    ('count() == 0 if true else false', 14,
     "expected an operator or the end of the rule, got 'if'"),
    ("f'{1}' == '1'", 2,
     'expected an operator or the end of the rule, got "\'{1}\'"'),
    ("b'x' == 'x'", 2,
     'expected an operator or the end of the rule, got "\'x\'"'),
    ("r'x' == 'x'", 2,
     'expected an operator or the end of the rule, got "\'x\'"'),
    ('().__class__', 2,
     "expected a value, got ')'"),
    ('count(end.__class__ == 1) == 0', 7,
     "unknown suffix '__class__' on end: the aggregates are .p50, .p90, .p95, .p99, .min, "
     '.max, .mean'),
    ('count() ** 2 == 0', 10,
     "expected a value, got '*'"),
    ('count() // 2 == 0', 10,
     "expected a value, got '/'"),
    ('count() % 2 == 0', 9,
     "unexpected '%'"),
    ('count() @ 2 == 0', 9,
     "unexpected '@'"),
    ('~count() == 0', 1,
     "unexpected '~'"),
    ('+count() == 0', 1,
     "expected a value, got '+'"),
    ('count() is 0', 9,
     "expected an operator or the end of the rule, got 'is'"),
    ('count() is not 0', 9,
     "expected an operator or the end of the rule, got 'is'"),
    ('count() <> 0', 10,
     "expected a value, got '>'"),
    ('x[0] == 1', 2,
     "expected an operator or the end of the rule, got '['"),
    ('count()[0] == 1', 8,
     "expected an operator or the end of the rule, got '['"),
    ('{1} == 1', 1,
     "unexpected '{'"),
    ("{'a': 1} == 1", 1,
     "unexpected '{'"),
    ('(1, 2) == 1', 3,
     "expected ')', got ','"),
    ('(x := 1) == 1', 4,
     "unexpected ':'"),
    ('count(*x) == 1', 7,
     "expected a value, got '*'"),
    ('count(x=1) == 1', 8,
     "unexpected '=': use '==' to compare"),
    ('count() == 0 and', 17,
     'expected a value, got the end of the rule'),
    ('await count()', 7,
     "expected an operator or the end of the rule, got 'count'"),
    ('yield 1', 7,
     "expected an operator or the end of the rule, got '1'"),
    ('count() == ...', 12,
     "expected a value, got '.'"),
    ('count() -> 1', 10,
     "expected a value, got '>'"),
    ('1 < 2 < 3', 7,
     "comparisons cannot be chained: join them with 'and'"),
    ('1 < 2 == 3', 7,
     "comparisons cannot be chained: join them with 'and'"),
    ('1 == 1 not in [1]', 8,
     "comparisons cannot be chained: join them with 'and'"),
    ('not count() == 1 == 1', 18,
     "comparisons cannot be chained: join them with 'and'"),
    ('(1 < 2) < 3', 9,
     "'<' needs two numbers or two strings, got a boolean and a number"),
    ('all(1 < 2, 1 < 2 < 3)', 18,
     "comparisons cannot be chained: join them with 'and'"),
    ('True', 1,
     "unknown connections column 'True'; did you mean true?"),
    ('count(handshake_valid == True) == 0', 26,
     "unknown connections column 'True'; did you mean true?"),
    ('count(closer == None) == 0', 17,
     "unknown connections column 'None'; did you mean null?"),
    ('count(False) == 0', 7,
     "unknown connections column 'False'; did you mean false?"),
    ('count(x AND y) == 0', 9,
     "expected ',' or ')', got 'AND'"),
    ('count() == 0 AND count() == 1', 14,
     "expected an operator or the end of the rule, got 'AND'"),
    ('NULL == null', 1,
     "unknown connections column 'NULL'; did you mean null?"),
    ("'abc", 1,
     "unterminated string (no closing ')"),
    ('"abc', 1,
     'unterminated string (no closing ")'),
    ("'a\\x41' == 'a'", 3,
     "unknown escape '\\x' in a string"),
    ("'a\\0' == 'a'", 3,
     "unknown escape '\\0' in a string"),
    ("'a' 'b' == 'ab'", 5,
     'expected an operator or the end of the rule, got "\'b\'"'),
    ('0x1f == 31', 2,
     "unexpected 'x' after the number 0"),
    ('1_000 == 1000', 2,
     "unexpected '_' after the number 1"),
    ('1j == 1', 2,
     "unexpected 'j' after the number 1"),
    ('.5 == 0.5', 1,
     "expected a value, got '.'"),
    ('5. == 5', 2,
     "expected an operator or the end of the rule, got '.'"),
    ('1e == 1', 2,
     "unexpected 'e' after the number 1"),
    ('1e+ == 1', 2,
     "unexpected 'e' after the number 1"),
    ('3x > 1', 2,
     "unexpected 'x' after the number 3"),
    ('count() == 1.5.5', 15,
     "expected an operator or the end of the rule, got '.'"),
    ("'é' == 'e' or 1 +", 18,
     'expected a value, got the end of the rule'),
    ('é == 1', 1,
     "unexpected 'é'"),
    ('count() == 1\n  +', 17,
     'expected a value, got the end of the rule'),
    ('count()\u3000== 0 ==', 14,
     "comparisons cannot be chained: join them with 'and'"),
    ('\x00', 1,
     "unexpected '\\\\x00'"),
    ('count() == 0 # comment', 14,
     "unexpected '#'"),
    ('count() == \\\n 0', 12,
     "unexpected '\\\\'"),
    ('count() == 0 – 1', 14,
     "unexpected '–'"),
    ("'a\nb' == 1 1", 12,
     "expected an operator or the end of the rule, got '1'"),
    ('websocket.in == 1', 1,
     "unknown WebSocket sessions column 'in'; did you mean ..."),
    ('count(websocket.not == 1) == 0', 7,
     "unknown WebSocket sessions column 'not'; did you mean ..."),
    ('end.and == 1', 1,
     "unknown suffix 'and' on end: the aggregates are .p50, .p90, .p95, .p99, .min, .max, .mean"),
    ('true.x == 1', 5,
     "expected an operator or the end of the rule, got '.'"),
    ('x.5 == 1', 3,
     "expected a name after '.', got '5'"),
    ('x. == 1', 4,
     "expected a name after '.', got '=='"),
    ('count().x == 1', 8,
     "expected an operator or the end of the rule, got '.'"),
    ('(end).p95 < 1', 6,
     "expected an operator or the end of the rule, got '.'"),
    ('a.b(1) == 1', 1,
     "unknown function 'a.b' (the functions are count, all, any, sum, mean, min, max, p50, "
     'p90, p95, p99)'),
    ('count(x, y) == 1', 1,
     'count() takes at most one condition'),
    ('count()(1) == 1', 8,
     "expected an operator or the end of the rule, got '('"),
    ('true(1) == 1', 5,
     "expected an operator or the end of the rule, got '('"),
    ('averag(x) > 1', 1,
     "unknown function 'averag' (the functions are count, all, any, sum, mean, min, max, "
     'p50, p90, p95, p99)'),
    ('p96(x) > 1', 1,
     "unknown function 'p96' (the functions are count, all, any, sum, mean, min, max, p50, "
     'p90, p95, p99); did you mean p99()?'),
    ('websocket.count() == 1', 1,
     "unknown function 'websocket.count' (the functions are count, all, any, sum, mean, min, "
     'max, p50, p90, p95, p99)'),
    ('count(,) == 1', 7,
     "expected a value, got ','"),
    ('count(1,) == 1', 7,
     "count() needs a condition (true/false), got a number: e.g. count(end == 'rst')"),
    ('[1,] == 1', 1,
     "'==' cannot compare a list; test membership with 'in'"),
    ('[,] == 1', 2,
     "expected a value, got ','"),
    ('[1 2] == 1', 4,
     "expected ',' or ']', got '2'"),
    ('[1, 2 == 1', 11,
     "expected ',' or ']', got the end of the rule"),
    ('(1 == 1', 8,
     "expected ')', got the end of the rule"),
    ('(1 == 1]', 8,
     "expected ')', got ']'"),
    ('(1, 1)', 3,
     "expected ')', got ','"),
    ('1 == 1)', 7,
     "unbalanced ')'"),
    ('1 == 1]', 7,
     "expected an operator or the end of the rule, got ']'"),
    ('1 == 1,', 7,
     "expected an operator or the end of the rule, got ','"),
    ('()', 2,
     "expected a value, got ')'"),
    ('[]', 1,
     'a rule must be true or false, this is a list: compare it with something, e.g. [] <= 1'),
    ('count(', 7,
     'expected a value, got the end of the rule'),
    ("count(end == 'rst'", 19,
     "expected ',' or ')', got the end of the rule"),
    ("count(end == 'rst'))", 20,
     "unbalanced ')'"),
    ('not', 4,
     'expected a value, got the end of the rule'),
    ('not not', 8,
     'expected a value, got the end of the rule'),
    ('- not true', 3,
     "expected a value, got the keyword 'not'"),
    ('1 + not 1', 5,
     "expected a value, got the keyword 'not'"),
    ('1 == not 1', 6,
     "expected a value, got the keyword 'not'"),
    ('and', 1,
     "expected a value, got the keyword 'and'"),
    ('count() == 0 or or', 17,
     "expected a value, got the keyword 'or'"),
    ('in [1]', 1,
     "expected a value, got the keyword 'in'"),
    ('1 in', 5,
     'expected a value, got the end of the rule'),
    ('1 not 2', 3,
     "expected an operator or the end of the rule, got 'not'"),
    ('1 not in not [1]', 10,
     "expected a value, got the keyword 'not'"),
    ('', 1,
     'the rule is empty'),
    ('   ', 4,
     'the rule is empty'),
    ('\n', 2,
     'the rule is empty'),
    ('count(end == 1) == 0', 11,
     'compares a string with a number'),
    ("end == 'rst'", 1,
     'end must be inside an aggregate: wrap the condition in count(...), all(...) or any(...)'),
    ('count()', 1,
     'a rule must be true or false, this is a number: compare it with something, e.g. '
     'count() <= 1'),
    ('1 + 2', 3,
     'a rule must be true or false, this is a number: compare it with something, e.g. 1 + 2 <= 1'),
    ('handshake_rtt_s.p96 < 1', 1,
     "unknown suffix 'p96' on handshake_rtt_s: the aggregates are .p50, .p90, .p95, .p99, "
     '.min, .max, .mean'),
    ('end.p95 < 1', 1,
     '.p95 needs a numeric column; end is a string'),
    ('websocket.close_cod.max > 1', 1,
     "unknown WebSocket sessions column 'close_cod'; did you mean websocket.close_code ..."),
    ('close_code == 1', 1,
     "unknown connections column 'close_code'; did you mean websocket.close_code or closer?"),
    ("count(end == 'rst' or websocket.close_code == 1000) == 0", 20,
     'one row expression mixes the connections and WebSocket sessions tables; use one '
     'aggregate per table'),
    ('all(websocket.frames_c2s > 1)', 5,
     'websocket.frames_c2s counts by key: write websocket.frames_c2s.KEY with KEY one of '
     'text, binary, continuation, ping, pong, close'),
    ('count(end) == 0', 7,
     "count() needs a condition (true/false), got a string: e.g. count(end == 'rst')"),
    ('sum(end) > 0', 5,
     'sum() needs a number, got a string'),
    ('max(3) > 0', 5,
     'max() needs a column, e.g. max(bytes_c2s)'),
    ('count() >= 1 and', 17,
     'expected a value, got the end of the rule'),
    ('average(bytes_c2s) > 1', 1,
     "unknown function 'average' (the functions are count, all, any, sum, mean, min, max, "
     'p50, p90, p95, p99)'),
    ('count(handshake_valid == None) == 0', 26,
     "unknown connections column 'None'; did you mean null?"),
    ("'chat' in websocket.subprotocol", 11,
     "'in' needs a list on its right, e.g. [1000, 1001], or a list column"),
    ('websocket.close_code.p95 in 1000', 29,
     "'in' needs a list on its right, e.g. [1000, 1001], or a list column"),
    ('count() == 0 && true', 14,
     "unexpected '&': use 'and'"),
    ('count() == 0 || true', 14,
     "unexpected '|': use 'or'"),
    ('!count()', 1,
     "unexpected '!': use 'not', or '!=' to compare"),
    ('count() =! 0', 9,
     "unexpected '=': use '==' to compare"),
    ("count(end == 'rst')  /  count()  <=  'x'", 34,
     "'<=' needs two numbers or two strings, got a number and a string"),
    ("(count() + (1)) * - 'a' == 1", 21,
     "'-' needs a number, got a string"),
    ("count(end == 'rst') / count() <= 0.01 and count(end in ['fin', 'rts']) == 0", 64,
     "'rts' is never a value of end (its values are fin, rst, half_closed, open)"),
    ("all(websocket.close_code in [1000, 'x'])", 29,
     'a list mixes number and strings'),
    ('count(1 in [[1]]) == 1', 13,
     'lists cannot be nested'),
    ('count(x) == 0 and 1 <', 22,
     'expected a value, got the end of the rule'),
]


@pytest.mark.parametrize(("text", "column", "message"), GOLDEN)
def test_messages_and_columns_are_todays(text: str, column: int, message: str) -> None:
    with pytest.raises(R.RuleError) as info:
        R.parse(text)
    assert info.value.pos is not None and info.value.pos + 1 == column, str(info.value)
    if message.endswith("..."):
        assert info.value.message.startswith(message[:-3]), info.value.message
    else:
        assert info.value.message == message
    assert str(info.value) == f"bad rule {text!r}: at column {column}: {info.value.message}"


def _tree(expr: str) -> Any:
    """A syntax tree as nested tuples: (type, fields...), positions included."""
    node = R.parse_tree(expr)
    return _plain(node)


def _plain(value: Any) -> Any:
    if isinstance(value, R.Node):
        return (type(value).__name__,
                *(_plain(getattr(value, f)) for f in value.__dataclass_fields__))
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def test_nodes_point_at_their_operators() -> None:
    #        0         1         2         3
    #        0123456789012345678901234567890123456
    text = "count(end == 'rst') / count() <= 0.01"
    assert _tree(text) == (
        "Compare", 30, "<=",
        ("Arith", 20, "/",
         ("Call", 0, "count", (("Compare", 10, "==", ("Name", 6, ("end",)),
                                ("Const", 13, "rst"), False),), 19),
         ("Call", 22, "count", (), 29)),
        ("Const", 33, 0.01), False)
    # Parentheses, newlines, tabs and a string with non-ASCII characters move nothing.
    text = "(('é\\n' != x)\n  or not  -(a.b .c) in [1, ]) and\tp95(y) > 1e3"
    assert text.index("and") == 44 and text.index("p95") == 48
    assert _tree(text) == (
        "Logic", 44, "and",
        ("Logic", 16, "or",
         ("Compare", 8, "!=", ("Const", 2, "é\n"), ("Name", 11, ("x",)), False),
         ("Not", 19, ("Compare", 34, "in", ("Neg", 24, ("Name", 26, ("a", "b", "c"))),
                      ("ListExpr", 37, (("Const", 38, 1),)), False))),
        ("Compare", 55, ">", ("Call", 48, "p95", (("Name", 52, ("y",)),), 54),
         ("Const", 57, 1000.0), False))


def test_names_python_reserves_are_names_of_the_rule_language() -> None:
    assert _tree("if + True - lambda.in.not") == (
        "Arith", 10, "-", ("Arith", 3, "+", ("Name", 0, ("if",)), ("Name", 5, ("True",))),
        ("Name", 12, ("lambda", "in", "not")))
    assert _tree("true or false or null") == (
        "Logic", 14, "or", ("Logic", 5, "or", ("Const", 0, True), ("Const", 8, False)),
        ("Const", 17, None))


# --------------------------------------------------------------------------- nothing runs


HOSTILE = [
    "__import__('os').system('touch {marker}')",
    "count(__import__('os').system('touch {marker}') == 0) == 0",
    "open('{marker}', 'w').write('x') == 1",
    "[c for c in ().__class__.__base__.__subclasses__()] == []",
    "(lambda: open('{marker}', 'w'))() == 1",
    "count(__builtins__.open('{marker}', 'w')) == 0",
    "eval(\"open('{marker}', 'w')\") == 1",
    "f'{{open(\"{marker}\", \"w\")}}' == ''",
    "breakpoint() == 1",
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_hostile_rule_is_rejected_at_parse_and_nothing_runs(
        hostile: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "pwned"
    compiled: list[int] = []

    def only_ast(source: Any, filename: Any, mode: str, flags: int = 0, *args: Any,
                 **kwargs: Any) -> Any:
        assert flags & ast.PyCF_ONLY_AST, "compiled to a code object"
        compiled.append(flags)
        return real_compile(source, filename, mode, flags, *args, **kwargs)

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("eval or exec was called")

    real_compile = builtins.compile
    monkeypatch.setattr(builtins, "compile", only_ast)
    monkeypatch.setattr(builtins, "eval", never)
    monkeypatch.setattr(builtins, "exec", never)
    with pytest.raises(R.RuleError) as info:
        R.parse(hostile.format(marker=marker))
    assert str(info.value).startswith("bad rule ")
    # And a rule that is fine goes through ast.parse, and only ast.parse.
    R.parse("count(end == 'rst') / count() <= 0.05")
    monkeypatch.undo()
    assert compiled and not marker.exists()


def test_import_is_an_unknown_function() -> None:
    with pytest.raises(R.RuleError) as info:
        R.parse("__import__('os').system('x')")
    assert str(info.value) == (
        "bad rule \"__import__('os').system('x')\": at column 1: unknown function "
        "'__import__' (the functions are count, all, any, sum, mean, min, max, p50, p90, p95, "
        "p99)")


def test_no_module_of_the_package_calls_eval_exec_or_compile() -> None:
    banned = {"eval", "exec", "compile", "__import__", "getattr", "setattr", "breakpoint"}
    modules = sorted(PACKAGE.glob("*.py"))
    assert {m.name for m in modules} >= {"__init__.py", "scan.py", "syntax.py", "bind.py",
                                         "evaluate.py", "policy.py"}
    for module in modules:
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else (
                func.attr if isinstance(func, ast.Attribute) else "")
            assert name not in banned, f"{module.name}:{node.lineno} calls {name}"
            if name == "parse" and isinstance(func, ast.Attribute) \
                    and isinstance(func.value, ast.Name) and func.value.id == "ast":
                modes = [k.value for k in node.keywords if k.arg == "mode"]
                assert modes and isinstance(modes[0], ast.Constant) \
                    and modes[0].value == "eval", f"{module.name}:{node.lineno}"


# --------------------------------------------------------------------------- the whitelist

#: Python expressions with every node type outside the whitelist, and the ones the rule
#: language has but not in that shape.
OUTSIDE = {
    "lambda: 1": "a lambda", "1 if 2 else 3": "an 'if' expression", "(x := 1)": "':='",
    "x[0]": "indexing with [...]", "x[1:2]": "indexing with [...]", "f(*x)": "'*'",
    "(1, 2)": "a tuple", "{1: 2}": "a dict", "{1}": "a set", "[x for x in y]":
    "a comprehension", "{x for x in y}": "a comprehension", "{x: 1 for x in y}":
    "a comprehension", "(x for x in y)": "a comprehension", "f'{x!r:>3}'": "an f-string",
    "await x": "'await'", "(yield x)": "'yield'", "(yield from x)": "'yield'",
    "f(x=1)": "a keyword argument", "f(**x)": "a keyword argument",
    "lambda a, *b, c=1, **d: 1": "a lambda",
    "x ** 2": "Python's Pow", "x // 2": "Python's FloorDiv", "x % 2": "Python's Mod",
    "x @ 2": "Python's MatMult", "x << 2": "Python's LShift", "x >> 2": "Python's RShift",
    "x | 2": "Python's BitOr", "x ^ 2": "Python's BitXor", "x & 2": "Python's BitAnd",
    "+x": "Python's UAdd", "~x": "Python's Invert", "x is y": "Python's Is",
    "x is not y": "Python's IsNot",
}
#: In the whitelist, but not in these shapes.
SHAPES = {
    "None": "Python's Constant", "True == 1": "Python's Constant", "b'x'": "Python's Constant",
    "1j": "Python's Constant", "...": "Python's Constant", "(1).real": "a '.' must follow",
    "x.y()": "unknown function 'x.y'", "f()()": "only a function can be called",
    "(f)(1)": "unknown function 'f'", "1 < 2 < 3": "cannot be chained",
    "open(1)": "unknown function 'open'",
}
#: Node classes an expression never holds (deprecated aliases, statements' contexts).
NEVER = {"Num", "Str", "Bytes", "NameConstant", "Ellipsis", "Index", "ExtSlice", "AugLoad",
         "AugStore", "Param", "Suite", "Del"}


def _build(source: str) -> R.Node:
    """The front end's mapping alone, on Python's tree of ``source`` (no pre-scan)."""
    tree = ast.parse(f"({source})", mode="eval")
    try:
        tokens = R.tokenize(source)
    except R.RuleError:
        tokens = [Token("end", "", None, len(source))]
    return _Tree(source, tokens).build(tree)


def test_every_node_type_outside_the_whitelist_is_covered() -> None:
    kinds = (ast.expr, ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop,
             ast.comprehension, ast.arguments, ast.arg, ast.keyword)
    expression_types = {c for c in vars(ast).values() if isinstance(c, type)
                        and issubclass(c, kinds) and c not in kinds and c.__name__ not in NEVER}
    seen = {type(n) for source in OUTSIDE for n in ast.walk(ast.parse(f"({source})",
                                                                       mode="eval"))}
    assert expression_types - ALLOWED <= seen, expression_types - ALLOWED - seen
    assert expression_types | {ast.Expression} >= ALLOWED


@pytest.mark.parametrize(("source", "what"), [*OUTSIDE.items(), *SHAPES.items()])
def test_the_mapping_rejects_what_is_outside_the_whitelist(source: str, what: str) -> None:
    with pytest.raises(R.RuleError) as info:
        _build(source)
    assert what in info.value.message
    assert info.value.pos is not None and 0 <= info.value.pos <= len(source)


@pytest.mark.parametrize("source", [*OUTSIDE, *SHAPES])
def test_the_pre_scan_rejects_them_first(source: str) -> None:
    with pytest.raises(R.RuleError) as info:
        R.parse(source)
    assert str(info.value).startswith(f"bad rule {source!r}: at column ")


def test_the_mapping_points_at_the_offending_node() -> None:
    with pytest.raises(R.RuleError) as info:
        _build("count(x) == [1, lambda: 2]")
    assert info.value.pos == 16
    with pytest.raises(R.RuleError) as info:
        _build("1 + 2 ** 3")
    assert info.value.pos == 4  # the BinOp that holds the operator


def test_nesting_beyond_pythons_limits_is_a_rule_error() -> None:
    for text in ("(" * 250 + "1" + ")" * 250 + " == 1", "1 in " + "[" * 250 + "]" * 250):
        with pytest.raises(R.RuleError, match="nested too deeply"):
            R.parse(text)
