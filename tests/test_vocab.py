"""One vocabulary: the names the engine gives are the enums' (core/vocab.py), and the
rule language, the DataFrame's categories and the reports take them from there."""

from __future__ import annotations

import re
from pathlib import Path

from analyzer.core.vocab import ConnState, End, Handshake, Opcode, WsProblem
from analyzer.report.frame import CATEGORIES
from analyzer.report.rules import parse
from analyzer.report.rules.vocabulary import OPCODES, WS_PROBLEMS

ENGINE = Path(__file__).resolve().parents[1] / "engine" / "src"


def test_every_websocket_problem_the_engine_names_is_in_the_vocabulary() -> None:
    source = (ENGINE / "app" / "analysis.rs").read_text()
    # Every snake_case name in the analysis is a WebSocket problem, but for the one HTTP
    # anomaly it names.
    named = set(re.findall(r'"((?:[a-z]+_)+[a-z]+)"', source)) - {"http_content_length_too_large"}
    assert {"wrong_accept", "invalid_length", "reserved_close_code"} <= named
    assert named <= {p.value for p in WsProblem}
    assert tuple(p.value for p in WsProblem) == WS_PROBLEMS


def test_a_rule_may_name_invalid_length() -> None:
    rule = parse("count('invalid_length' in websocket.problems) == 0")
    assert rule.expr == "count('invalid_length' in websocket.problems) == 0"


def test_opcodes_and_categories_come_from_the_enums() -> None:
    assert OPCODES == ("text", "binary", "continuation", "ping", "pong", "close")
    assert {int(o) for o in Opcode} == {0, 1, 2, 8, 9, 10}
    assert CATEGORIES["handshake"] == [h.value for h in Handshake]
    assert CATEGORIES["end"] == ["fin", "rst", "half_closed", "open"] == [e.value for e in End]
    assert CATEGORIES["conn_state"][:3] == ["S0", "S1", "SF"]
    assert len(CATEGORIES["conn_state"]) == len(ConnState) == 13
