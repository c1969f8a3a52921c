"""Rules for ``pcap-analyzer check``: a small expression language, parsed and evaluated here.

A rule is a true/false expression over one capture's tables::

    count(end == 'rst') / count() <= 0.05
    handshake_rtt_s.p95 < 0.2
    all(websocket.close_code in [1000, 1001])

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

The modules, in the order a rule goes through them:

* ``vocabulary``: the tables and their columns, the functions, the value kinds, the errors.
* ``scan``: the pre-scan: the lexical units, and the order the grammar allows them in, with
  the error messages and columns a user sees.
* ``syntax``: the front end proper: ``ast.parse(mode="eval")`` behind a whitelist of node
  types, mapped to the dataclasses of ``nodes``. Nothing is compiled or evaluated, and
  nothing is ever passed to ``eval``.
* ``bind``: names to columns of a known table, calls to aggregates, operators type-checked,
  so a typo or a hostile string (``__import__('os')``) is a :class:`RuleError` that points
  at its column before any capture is read; :func:`parse` makes a :class:`Rule`.
* ``evaluate``: a rule on one capture's tables (:class:`CaptureData`): its result, measured
  value and offending rows.
* ``policy``: :func:`load_policy`, rules from a TOML file.
* ``report``: the results of every capture, as text, JSON and Markdown.
"""

from __future__ import annotations

from analyzer.report.rules.bind import Rule, _columns_in, parse
from analyzer.report.rules.evaluate import (
    CaptureData,
    Offender,
    RuleResult,
    _show,
    evaluate,
    evaluate_all,
)
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
from analyzer.report.rules.policy import load_policy
from analyzer.report.rules.report import (
    CaptureCheck,
    counts,
    failed,
    render_json,
    render_markdown,
    render_text,
    tally,
)
from analyzer.report.rules.scan import Token, tokenize
from analyzer.report.rules.syntax import parse_tree
from analyzer.report.rules.vocabulary import (
    BOOL,
    COLUMNS,
    CONN,
    DICT,
    DICT_KEYS,
    FUNCTIONS,
    HTTP,
    KEYWORDS,
    LIST,
    MAX_OFFENDERS,
    NULL,
    NUM,
    OPCODES,
    PREFIXES,
    QUANTILES,
    ROW_TITLES,
    SEVERITIES,
    STATS,
    STR,
    TABLE_TITLES,
    WS,
    WS_PROBLEMS,
    ColumnInfo,
    PolicyError,
    RuleError,
)

__all__ = [
    "BOOL", "COLUMNS", "CONN", "DICT", "DICT_KEYS", "FUNCTIONS", "HTTP", "KEYWORDS", "LIST",
    "MAX_OFFENDERS", "NULL", "NUM", "OPCODES", "PREFIXES", "QUANTILES", "ROW_TITLES",
    "SEVERITIES", "STATS", "STR", "TABLE_TITLES", "WS", "WS_PROBLEMS",
    "Aggregate", "Arith", "Call", "CaptureCheck", "CaptureData", "Column", "ColumnInfo",
    "Compare", "Const", "Count", "ListExpr", "Logic", "Name", "Neg", "Node", "Not", "Offender",
    "PolicyError", "Quantifier", "Rule", "RuleError", "RuleResult", "Token",
    "_columns_in", "_show", "counts", "evaluate", "evaluate_all", "failed", "load_policy",
    "parse", "parse_tree", "render_json", "render_markdown", "render_text", "tally",
    "tokenize",
]
