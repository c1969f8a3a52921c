"""The front end's pre-scan: what a rule's text may contain, and in what order.

``ast.parse`` (in ``syntax``) builds the tree, but Python's grammar is wider than the rule
language and its error messages are Python's. So before the text reaches it, two passes
over the text decide whether it is a rule, and say what is wrong in the rule language's own
terms, pointing at the same column as ever:

* :func:`tokenize` reads the lexical units (numbers, strings, names, operators). It
  rejects anything else: ``=``, ``!``, ``&``, ``|``, ``;``, ``:``, ``@``, ``{``, a
  non-ASCII name, an escape other than ``\\' \\" \\\\ \\n \\t``, a letter glued to a
  number (``3x``, ``0x1f``, ``1j``), an unterminated string.
* :func:`check` walks the tokens once, left to right, with a stack of open brackets: it
  knows whether a value or an operator comes next, and raises at the first token that
  cannot come there (``expected ',' or ']', got 'for'``), at a chained comparison and at
  a call of anything but a known function. It builds nothing.

A text that passes both is a sentence of the grammar (README, "CI checks"), which is a
subset of Python's expressions, so ``ast.parse`` accepts it and every node it returns is
one the front end maps.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from analyzer.report.rules.vocabulary import FUNCTIONS, KEYWORDS, RuleError
from analyzer.text import inert

# --------------------------------------------------------------------------- tokens

_TWO_CHAR = ("==", "!=", "<=", ">=")
_ONE_CHAR = "<>+-*/()[],."
_HINTS = {"=": "use '==' to compare", "!": "use 'not', or '!=' to compare",
          "&": "use 'and'", "|": "use 'or'"}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "num", "str", "name", "op", "end"
    text: str
    value: Any
    pos: int


def tokenize(text: str) -> list[Token]:
    """The rule's lexical units, ending with an ``end`` token at ``len(text)``."""
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


# --------------------------------------------------------------------------- order

_COMPARE_OPS = ("==", "!=", "<", "<=", ">", ">=")
_ARITH_OPS = ("+", "-", "*", "/")
_LITERALS = ("true", "false", "null")


@dataclass(slots=True)
class _Open:
    """An open bracket: ``top`` (the rule itself), ``group`` ``(``, ``list`` ``[`` or
    ``call`` ``f(``; ``compared`` when its current comparison already has its operator."""

    kind: str
    compared: bool = False


def _got(tok: Token) -> str:
    return "the end of the rule" if tok.kind == "end" else repr(inert(tok.text))


def _is(tok: Token, kind: str, text: str) -> bool:
    return tok.kind == kind and tok.text == text


def check(text: str, tokens: list[Token]) -> None:
    """Raise a :class:`RuleError` at the first token the grammar does not allow there.

    ``value`` says whether a value comes next (else an operator, a closing bracket, a comma
    or the end); ``not_ok`` whether a ``not`` may start that value (at the start of a rule,
    a bracket or a list item, and after ``and``, ``or`` and ``not``, but not after ``-`` or
    another operator)."""
    if tokens[0].kind == "end":
        raise RuleError(text, tokens[0].pos, "the rule is empty")
    stack = [_Open("top")]
    value, not_ok, i = True, True, 0
    while True:
        tok = tokens[i]
        if value:
            i, value, not_ok = _value(text, tokens, i, stack, not_ok)
            continue
        frame = stack[-1]
        if tok.kind == "op" and tok.text in _ARITH_OPS:
            i, value, not_ok = i + 1, True, False
            continue
        compare = (tok.kind == "op" and tok.text in _COMPARE_OPS) or _is(tok, "name", "in") \
            or (_is(tok, "name", "not") and _is(tokens[i + 1], "name", "in"))
        if compare:
            if frame.compared:
                raise RuleError(text, tok.pos,
                                "comparisons cannot be chained: join them with 'and'")
            frame.compared = True
            i, value, not_ok = i + (2 if tok.text == "not" else 1), True, False
            continue
        if _is(tok, "name", "and") or _is(tok, "name", "or"):
            frame.compared = False
            i, value, not_ok = i + 1, True, True
            continue
        # The expression in this bracket ends here.
        if frame.kind == "top":
            if tok.kind == "end":
                return
            if _is(tok, "op", ")"):
                raise RuleError(text, tok.pos, "unbalanced ')'")
            raise RuleError(text, tok.pos,
                            f"expected an operator or the end of the rule, got {_got(tok)}")
        close = "]" if frame.kind == "list" else ")"
        if _is(tok, "op", close):
            stack.pop()
            i += 1
        elif frame.kind != "group" and _is(tok, "op", ","):
            frame.compared = False
            i, value, not_ok = i + 1, True, True
            if _is(tokens[i], "op", close):  # a trailing comma
                stack.pop()
                i, value = i + 1, False
        elif frame.kind == "group":
            raise RuleError(text, tok.pos, f"expected ')', got {_got(tok)}")
        else:
            raise RuleError(text, tok.pos, f"expected ',' or {close!r}, got {_got(tok)}")


def _value(text: str, tokens: list[Token], i: int, stack: list[_Open], not_ok: bool
           ) -> tuple[int, bool, bool]:
    """Read the start of a value at ``tokens[i]``: ``(next index, value still to come,
    not_ok)``."""
    tok = tokens[i]
    if _is(tok, "op", "-"):
        return i + 1, True, False
    if _is(tok, "name", "not") and not_ok:
        return i + 1, True, True
    if tok.kind in ("num", "str") or (tok.kind == "name" and tok.text in _LITERALS):
        return i + 1, False, False
    if _is(tok, "op", "(") or _is(tok, "op", "["):
        kind, close = ("group", "") if tok.text == "(" else ("list", "]")
        return _open(tokens, i + 1, stack, kind, close)
    if tok.kind == "name":
        if tok.text in KEYWORDS:
            raise RuleError(text, tok.pos, f"expected a value, got the keyword {tok.text!r}")
        parts = [tok.text]
        i += 1
        while _is(tokens[i], "op", "."):
            i += 1
            if tokens[i].kind != "name":  # any name, keywords too: websocket.in is a column
                raise RuleError(text, tokens[i].pos,
                                f"expected a name after '.', got {_got(tokens[i])}")
            parts.append(tokens[i].text)
            i += 1
        if not _is(tokens[i], "op", "("):
            return i, False, False
        if len(parts) > 1 or tok.text not in FUNCTIONS:
            raise unknown_function(text, tok.pos, ".".join(parts))
        return _open(tokens, i + 1, stack, "call", ")")
    if tok.kind == "end":
        raise RuleError(text, tok.pos, "expected a value, got the end of the rule")
    raise RuleError(text, tok.pos, f"expected a value, got {_got(tok)}")


def unknown_function(text: str, pos: int, dotted: str) -> RuleError:
    close = difflib.get_close_matches(dotted, FUNCTIONS, n=1)
    hint = f"; did you mean {close[0]}()?" if close else ""
    return RuleError(text, pos, f"unknown function {inert(dotted)!r} (the functions are "
                     f"{', '.join(FUNCTIONS)}){hint}")


def _open(tokens: list[Token], i: int, stack: list[_Open], kind: str, close: str
          ) -> tuple[int, bool, bool]:
    """Open a bracket whose first token is ``tokens[i]``; a list or a call may be empty."""
    if close and _is(tokens[i], "op", close):
        return i + 1, False, False
    stack.append(_Open(kind))
    return i, True, True
