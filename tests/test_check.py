"""``pcap-analyzer check``: the rule grammar, its evaluation, the policy file, JUnit XML and
every exit code. Rules are parsed by hand; a hostile rule is rejected, never executed."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from typer.testing import CliRunner

from analyzer.api import analyze_capture
from analyzer.cli import app
from analyzer.report import junit
from analyzer.report import rules as R

ROOT = Path(__file__).resolve().parents[1]
MIXED = ROOT / "captures" / "real" / "mixed.pcap"
SYN = ROOT / "captures" / "synthetic"
WS_SYN = ROOT / "captures" / "ws_synthetic"
WS_REAL = ROOT / "captures" / "ws" / "ws_text_binary.pcapng"
BAD = SYN / "bad"
POLICY = ROOT / "examples" / "policy.toml"
XSD = Path(__file__).resolve().parent / "data" / "junit.xsd"
runner = CliRunner()

#: mixed.pcap, as `connections` reports it.
MIXED_RST = {"C8HbMt0EidV8uIcwcV", "CQoNPBfya2PWvDP0SF"}  # the refused one and the abort
MIXED_ABORT = "CQoNPBfya2PWvDP0SF"


def data(conn: list[dict[str, Any]] | None = None, ws: list[dict[str, Any]] | None = None,
         http: list[dict[str, Any]] | None = None) -> R.CaptureData:
    """A capture's tables, built by hand (rows only need the columns a rule reads)."""
    return R.CaptureData("hand.pcap", {R.CONN: conn or [], R.WS: ws or [], R.HTTP: http or []})


def holds(expr: str, d: R.CaptureData | None = None) -> bool:
    return R.evaluate(R.parse(expr), d or data()).passed


def measured(expr: str, d: R.CaptureData) -> Any:
    return R.evaluate(R.parse(expr), d).measured


@pytest.fixture(scope="module")
def mixed() -> R.CaptureData:
    result = analyze_capture(MIXED)
    assert result.error is None
    return R.CaptureData.from_records(str(MIXED), result.records)


def run(*args: str) -> Any:
    return runner.invoke(app, ["check", *args])


# --------------------------------------------------------------------------- grammar


def test_precedence_of_arithmetic() -> None:
    assert holds("1 + 2 * 3 == 7")
    assert holds("(1 + 2) * 3 == 9")
    assert holds("2 - 1 - 1 == 0")  # left-associative
    assert holds("8 / 4 / 2 == 1")
    assert holds("-2 * 3 == -6")
    assert holds("10 / 4 == 2.5")
    assert holds("1e3 == 1000 and 0.5e-1 == 0.05")


def test_precedence_of_boolean_operators() -> None:
    # 'and' binds tighter than 'or'; 'not' tighter than both, looser than comparisons.
    tree = R.parse("count() == 0 or count() == 1 and false").tree
    assert isinstance(tree, R.Logic) and tree.op == "or"
    assert isinstance(tree.right, R.Logic) and tree.right.op == "and"
    assert holds("true or true and false")
    assert not holds("(true or true) and false")
    assert holds("not 1 == 2")
    assert holds("not false and true")
    not_in = R.parse("not 3 in [1, 2]").tree
    assert isinstance(not_in, R.Not) and isinstance(not_in.operand, R.Compare)
    assert holds("3 not in [1, 2]")
    assert not holds("2 not in [1, 2]")


def test_names_resolve_to_tables() -> None:
    rule = R.parse("all(websocket.close_code in [1000, 1001]) and count(http.status >= 500) "
                   "== 0 and handshake_rtt_s.p95 < 0.2 and count(websocket) >= 0")
    cols = R._columns_in(rule.tree, into_aggregates=True)
    assert [(c.table, c.column) for c in cols] == [
        ("websocket", "close_code"), ("http", "status"), ("connections", "handshake_rtt_s"),
        ("connections", "websocket")]
    agg = R.parse("websocket.frames_c2s.ping.max <= 1").tree
    assert isinstance(agg, R.Compare) and isinstance(agg.left, R.Aggregate)
    assert (agg.left.stat, agg.left.table) == ("max", "websocket")


def test_strings_and_literals() -> None:
    assert holds("'a\\'b' == \"a'b\"")
    assert holds("null == null and true != false")
    with pytest.raises(R.RuleError, match="'==' cannot compare a list"):
        R.parse("[1] == [1]")  # lists are only for 'in'
    assert holds("'x' in ['x', 'y'] and 'z' not in ['x']")


@pytest.mark.parametrize(("rule", "column", "fragment"), [
    ("count(end = 1)", 11, "unexpected '=': use '==' to compare"),
    ("count(end == 'rst'", 19, "expected ',' or ')', got the end of the rule"),
    ("count(end == 'rst'))", 20, "unbalanced ')'"),
    ("count(ned == 'rst') == 0", 7, "unknown connections column 'ned'; did you mean end?"),
    ("count(end == 'rts') == 0", 14, "'rts' is never a value of end"),
    ("count(end == 1) == 0", 11, "compares a string with a number"),
    ("end == 'rst'", 1, "must be inside an aggregate"),
    ("count()", 1, "a rule must be true or false"),
    ("1 < 2 < 3", 7, "comparisons cannot be chained"),
    ("handshake_rtt_s.p96 < 1", 1, "the aggregates are .p50, .p90, .p95, .p99"),
    ("end.p95 < 1", 1, ".p95 needs a numeric column; end is a string"),
    ("websocket.close_cod.max > 1", 1, "did you mean websocket.close_code"),
    ("close_code == 1", 1, "did you mean websocket.close_code"),
    ("count(end == 'rst' or websocket.close_code == 1000) == 0", 20,
     "mixes the connections and WebSocket sessions tables"),
    ("all(websocket.frames_c2s > 1)", 5, "KEY one of text, binary, continuation"),
    ("count(end) == 0", 7, "count() needs a condition"),
    ("sum(end) > 0", 5, "sum() needs a number, got a string"),
    ("max(3) > 0", 5, "max() needs a column"),
    ("'abc", 1, "unterminated string"),
    ("count() == 0 && true", 14, "unexpected '&': use 'and'"),
    ("count() >= 1 and", 17, "expected a value, got the end of the rule"),
    ("", 1, "the rule is empty"),
    ("average(bytes_c2s) > 1", 1, "unknown function 'average'"),
    ("count(handshake_valid == None) == 0", 26, "column 'None'; did you mean null?"),
    ("'chat' in websocket.subprotocol", 11, "'in' needs a list on its right"),
    ("websocket.close_code.p95 in 1000", 29, "needs a list"),
    ("3x > 1", 2, "unexpected 'x' after the number 3"),
])
def test_errors_point_at_the_column(rule: str, column: int, fragment: str) -> None:
    with pytest.raises(R.RuleError) as info:
        R.parse(rule)
    assert info.value.pos is not None and info.value.pos + 1 == column, str(info.value)
    message = str(info.value)
    assert message.startswith(f"bad rule {rule!r}: at column {column}: ")
    assert fragment in message


def test_unknown_name_lists_the_columns_when_nothing_is_close() -> None:
    with pytest.raises(R.RuleError) as info:
        R.parse("count(zzzzzz == 1) == 0")
    assert "the columns are capture, uid, proto" in str(info.value)
    assert "handshake_rtt_s" in str(info.value)


@pytest.mark.parametrize("hostile", [
    "__import__('os').system('touch {marker}')",
    "count(__import__('os').system('touch {marker}') == 0) == 0",
    "open('{marker}', 'w')",
    "exec(\"open('{marker}', 'w')\")",
    "eval('1') == 1",
    "().__class__.__bases__[0].__subclasses__()",
    "count(end.__class__ == 1) == 0",
    "count() == 0; import os",
    "lambda: 1",
    "[x for x in [1]] == [1]",
    "count() == 0 if true else false",
    "f'{{1}}' == '1'",
])
def test_a_hostile_rule_is_rejected_not_run(hostile: str, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(R.RuleError):
        R.parse(hostile.format(marker=marker))
    assert not marker.exists()
    # ... and the check command refuses it as a usage error before reading anything.
    result = run(str(MIXED), "--rule", hostile.format(marker=marker))
    assert result.exit_code == 2
    assert not marker.exists()


def test_the_rules_module_never_calls_eval_or_exec() -> None:
    modules = sorted(Path(R.__file__).parent.glob("*.py"))
    assert len(modules) > 1  # the rules package, every module of it
    for module in modules:
        tree = ast.parse(module.read_text(encoding="utf-8"))
        called = {node.func.id for node in ast.walk(tree)
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
        assert not called & {"eval", "exec", "compile", "__import__", "getattr", "setattr"}, \
            module.name


FUZZ_TOKENS = [*"()[],.'\"=!<>+-*/ 0123456789_abcdeflnorstuw", "count", "all", "end",
               "'rst'", "null", " and ", " or ", " not ", " in ", "websocket.",
               "handshake_rtt_s", ".p95", "==", "1e308", "/0"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FUZZ_TOKENS), max_size=30).map("".join))
def test_any_text_parses_or_raises_rule_error(text: str) -> None:
    try:
        rule = R.parse(text)
    except R.RuleError as exc:
        assert str(exc).startswith("bad rule")
        return
    result = R.evaluate(rule, data([{"end": "rst", "handshake_rtt_s": 0.1, "uid": "C1"}]))
    assert isinstance(result.passed, bool)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=8),
       st.lists(st.sampled_from("+-*"), min_size=7, max_size=7))
def test_arithmetic_precedence_matches_the_usual_rules(numbers: list[int], ops: list[str]
                                                      ) -> None:
    text = str(numbers[0])
    for n, op in zip(numbers[1:], ops, strict=False):
        text += f" {op} {n}"
    # Reference: sum the terms, each term a product (what '*' before '+'/'-' means).
    terms: list[tuple[int, int]] = []  # (sign, product)
    sign, product = 1, numbers[0]
    for n, op in zip(numbers[1:], ops, strict=False):
        if op == "*":
            product *= n
        else:
            terms.append((sign, product))
            sign, product = (1 if op == "+" else -1), n
    terms.append((sign, product))
    expected = sum(s * p for s, p in terms)
    assert holds(f"{text} == {expected}"), text


# --------------------------------------------------------------------------- semantics


def test_division_by_zero_and_empty_tables() -> None:
    empty = data()
    assert measured("count(end == 'rst') / count() <= 0.01", empty) == 0  # 0/0 is 0
    assert holds("count(end == 'rst') / count() <= 0.01", empty)
    assert holds("1 / 0 == null")  # x/0 is null otherwise
    assert not holds("1 / 0 > 0")
    assert holds("all(end == 'fin')", empty)  # all() of no rows is true
    assert not holds("any(end == 'fin')", empty)
    assert holds("sum(bytes_c2s) == 0", empty)
    assert holds("handshake_rtt_s.p95 == null and max(bytes_c2s) == null", empty)
    assert not holds("handshake_rtt_s.p95 < 0.2", empty)  # null compares false
    assert holds("handshake_rtt_s.p95 == null or handshake_rtt_s.p95 < 0.2", empty)


def test_null_semantics() -> None:
    rows = [{"uid": "C1", "closer": None, "handshake_valid": None, "handshake_rtt_s": None},
            {"uid": "C2", "closer": "client", "handshake_valid": True, "handshake_rtt_s": 0.1}]
    d = data(rows)
    assert measured("count(closer == null) == 1", d) == 1
    assert measured("count(closer != null) == 1", d) == 1
    assert measured("count(closer != 'server') == 1", d) == 1  # the null row is not counted
    assert measured("count(closer == 'client') == 1", d) == 1
    assert measured("count(not (closer == 'client')) == 1", d) == 1
    assert measured("count(closer in ['client', 'server']) == 1", d) == 1
    assert measured("count(closer not in ['server']) == 1", d) == 1  # null: false for 'not in'
    assert measured("count(handshake_rtt_s < 1) == 1", d) == 1
    assert measured("count(handshake_rtt_s + 1 > 0) == 1", d) == 1  # null + 1 is null
    assert measured("count(handshake_valid) == 1", d) == 1  # a null condition is not true
    assert not holds("all(handshake_valid)", d)
    assert measured("handshake_rtt_s.mean > 0", d) == pytest.approx(0.1)  # nulls skipped


def test_percentiles_match_pandas_quantile() -> None:
    values = [0.010, 0.200, 0.030, 0.045, 0.5, 0.021, 0.013]
    d = data([{"uid": f"C{i}", "handshake_rtt_s": v} for i, v in enumerate(values)])
    series = pd.Series(values)
    for stat, q in (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)):
        assert measured(f"handshake_rtt_s.{stat} > 0", d) == pytest.approx(series.quantile(q))
        assert measured(f"{stat}(handshake_rtt_s) > 0", d) == pytest.approx(series.quantile(q))
    assert measured("handshake_rtt_s.min > 0", d) == 0.010
    assert measured("handshake_rtt_s.max > 0", d) == 0.5
    assert measured("mean(handshake_rtt_s * 1000) > 0", d) == pytest.approx(series.mean() * 1000)


def test_measured_is_the_deciding_comparisons_left_side() -> None:
    d = data([{"uid": "C1", "handshake_rtt_s": 0.3}])
    assert measured("handshake_rtt_s.p95 == null or handshake_rtt_s.p95 < 0.2", d) == 0.3
    assert measured("count() == 1 and handshake_rtt_s.max < 0.2", d) == 0.3
    assert measured("all(handshake_rtt_s < 1)", d) is True


def test_offenders_of_an_upper_bound_on_a_percentile_are_the_slowest_rows() -> None:
    rows = [{"uid": f"C{i}", "client_ip": "10.0.0.1", "client_port": 1000 + i,
             "server_ip": "::1", "server_port": 80, "handshake_rtt_s": i / 10}
            for i in range(10)]
    result = R.evaluate(R.parse("handshake_rtt_s.max < 0.25"), data(rows))
    assert not result.passed and result.violations == 7
    assert [o.uid for o in result.offenders] == ["C9", "C8", "C7", "C6", "C5"]
    assert result.offenders[0].describe() == "C9 10.0.0.1:1009 -> [::1]:80 handshake_rtt_s=0.9"
    assert result.detail_lines()[0] == "7 offending connections, the first 5:"


# --------------------------------------------------------------------------- real captures


@pytest.mark.tshark
def test_counts_and_rates_on_mixed(mixed: R.CaptureData) -> None:
    assert measured("count() == 4", mixed) == 4
    assert holds("count(handshake == 'complete') == 3", mixed)
    assert holds("count(handshake == 'refused') == 1", mixed)
    assert holds("count(closer == 'client') == 2 and count(closer == 'server') == 1", mixed)
    assert holds("count(client_state == 'CLOSE_WAIT' or server_state == 'CLOSE_WAIT') == 0",
                 mixed)
    assert holds("count(handshake == 'unanswered') == 0", mixed)
    assert holds("sum(bytes_c2s) == 338 and max(bytes_c2s + bytes_s2c) == 436", mixed)
    assert holds("count(http.status == 200) == 3 and count(http.keep_alive) == 2", mixed)
    assert holds("all(websocket.close_code in [1000, 1001])", mixed)  # no sessions at all
    rtts = pd.Series([0.025e-3, 0.024e-3, 0.036e-3])
    assert measured("handshake_rtt_s.p95 < 0.2", mixed) == pytest.approx(rtts.quantile(0.95))


@pytest.mark.tshark
def test_a_failing_rate_names_the_rst_connections(mixed: R.CaptureData) -> None:
    result = R.evaluate(R.parse("count(end == 'rst') / count() <= 0.01"), mixed)
    assert (result.passed, result.measured, result.violations) == (False, 0.5, 2)
    assert {o.uid for o in result.offenders} == MIXED_RST
    assert all(o.values == (("end", "rst"),) for o in result.offenders)
    assert result.headline() == (f"{MIXED}: count(end == 'rst') / count() <= 0.01 "
                                 "(measured: 0.5)")
    no_abort = R.evaluate(R.parse("not any(end == 'rst' and handshake == 'complete')"), mixed)
    assert [o.uid for o in no_abort.offenders] == [MIXED_ABORT]


@pytest.mark.tshark
def test_websocket_rules_on_real_and_synthetic_sessions() -> None:
    def on(path: Path) -> R.CaptureData:
        result = analyze_capture(path)
        return R.CaptureData.from_records(str(path), result.records)

    invalid = on(WS_SYN / "ws_invalid_close_code.pcap")
    result = R.evaluate(R.parse("all(websocket.close_code in [1000, 1001])"), invalid)
    assert not result.passed and result.table == "websocket"
    assert [(o.uid, o.values) for o in result.offenders] == [
        ("CFmWWtdIEiMjYUr5i9", (("websocket.close_code", 2999),))]
    assert holds("any('invalid_close_code' in websocket.problems)", invalid)
    assert holds("websocket.reply_close_code.max == 1002", invalid)
    ok = on(WS_SYN / "ws_ok.pcap")
    assert holds("sum(websocket.frames_c2s.ping) == 1 and sum(websocket.frames_s2c.pong) == 1",
                 ok)
    assert holds("all(websocket.established and websocket.accept_valid)", ok)
    # The real session (websockets 17.4 on loopback) closes with 1000 "bye" both ways.
    real = on(WS_REAL)
    assert holds("all(websocket.close_code in [1000, 1001])", real)
    assert holds("all(websocket.close_by == 'client' and websocket.reply_close_code == 1000)",
                 real)
    assert not holds("all(websocket.close_code in [4000])", real)


@pytest.mark.tshark
def test_example_policy_on_the_bundled_captures() -> None:
    rules = R.load_policy(POLICY.read_text(encoding="utf-8"), str(POLICY))
    assert 4 <= len(rules) <= 6
    assert {r.severity for r in rules} == {"error", "warning"}
    failing: dict[str, set[str]] = {}
    for path in (MIXED, SYN / "close_wait_leak.pcap", SYN / "syn_only.pcap",
                 SYN / "simultaneous_close.pcap", WS_SYN / "ws_reserved_close_code.pcap"):
        d = R.CaptureData.from_records(path.name, analyze_capture(path).records)
        failing[path.name] = {r.rule.name for r in R.evaluate_all(rules, d) if not r.passed}
    assert failing == {
        "mixed.pcap": {"resets below 5%"},
        "close_wait_leak.pcap": {"no CLOSE_WAIT leak"},
        "syn_only.pcap": {"every SYN answered"},
        "simultaneous_close.pcap": set(),
        "ws_reserved_close_code.pcap": {"WebSocket closes are normal"},
    }


# --------------------------------------------------------------------------- policy files


def test_policy_errors() -> None:
    with pytest.raises(R.PolicyError, match="not valid TOML"):
        R.load_policy("[[rule]\n", "p.toml")
    with pytest.raises(R.PolicyError, match="unknown key 'rules'"):
        R.load_policy("[[rules]]\nexpr = 'count() == 0'\n", "p.toml")
    with pytest.raises(R.PolicyError, match="unknown key 'sevrity'"):
        R.load_policy("[[rule]]\nexpr = 'count() == 0'\nsevrity = 'error'\n", "p.toml")
    with pytest.raises(R.PolicyError, match="severity must be"):
        R.load_policy("[[rule]]\nexpr = 'count() == 0'\nseverity = 'fatal'\n", "p.toml")
    with pytest.raises(R.PolicyError, match="used twice"):
        R.load_policy("[[rule]]\nname='a'\nexpr='true'\n[[rule]]\nname='a'\nexpr='true'\n",
                      "p.toml")
    with pytest.raises(R.PolicyError, match="no \\[\\[rule\\]\\] tables"):
        R.load_policy("", "p.toml")
    with pytest.raises(R.PolicyError) as info:
        R.load_policy("[[rule]]\nname = 'resets'\nexpr = 'count(end = 1) == 0'\n", "p.toml")
    assert str(info.value) == ("p.toml: rule 'resets': bad rule 'count(end = 1) == 0': "
                               "at column 11: unexpected '=': use '==' to compare")


def test_policy_defaults() -> None:
    (rule,) = R.load_policy("[[rule]]\nexpr = 'count() >= 0'\n", "p.toml")
    assert (rule.name, rule.severity) == ("count() >= 0", "error")


# --------------------------------------------------------------------------- the command


@pytest.mark.tshark
def test_exit_0_when_every_rule_holds() -> None:
    result = run(str(MIXED), "--rule", "count() == 4", "--rule",
                 "count(handshake == 'refused') == 1")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"PASS {MIXED}: count() == 4 (measured: 4)"
    assert lines[1] == f"PASS {MIXED}: count(handshake == 'refused') == 1 (measured: 1)"
    assert lines[-1] == "2 passed, 0 failed, 0 warnings (2 rules on 1 capture)"


@pytest.mark.tshark
def test_exit_1_names_capture_rule_value_and_uids() -> None:
    result = run(str(MIXED), "--rule", "count(end == 'rst') / count() <= 0.01")
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"FAIL {MIXED}: count(end == 'rst') / count() <= 0.01 (measured: 0.5)"
    assert lines[1] == "    2 offending connections:"
    assert {ln.split()[0] for ln in lines[2:4]} == MIXED_RST


@pytest.mark.tshark
def test_a_failed_warning_shows_but_exits_0(tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text("[[rule]]\nname = 'no resets'\nexpr = \"not any(end == 'rst')\"\n"
                      "severity = 'warning'\n", encoding="utf-8")
    result = run(str(MIXED), "--policy", str(policy))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"WARN {MIXED}: no resets: not any(end == 'rst') "
                                    "(measured: false)")
    assert "0 passed, 0 failed, 1 warning (1 rule on 1 capture)" in result.stdout


@pytest.mark.tshark
@pytest.mark.parametrize(("args", "message"), [
    (["--rule", "count(end = 1)"],
     "error: bad rule 'count(end = 1)': at column 11: unexpected '=': use '==' to compare"),
    ([], "error: no rules to check: give --rule EXPR or --policy FILE"),
    (["--policy", "/nonexistent/policy.toml"],
     "error: /nonexistent/policy.toml: cannot read the policy: No such file or directory"),
])
def test_exit_2_for_bad_rules_before_any_capture_is_read(args: list[str], message: str
                                                         ) -> None:
    # The capture does not exist and tshark cannot be found: neither is looked at.
    result = runner.invoke(app, ["check", "/nonexistent/x.pcap", *args, "--tshark-path",
                                 "/nonexistent/tshark"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [message]
    assert result.stdout == ""


@pytest.mark.tshark
def test_exit_2_for_a_bad_policy_filter_or_option(tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text("[[rule]]\nexpr = 'count() = 0'\n", encoding="utf-8")
    result = run(str(MIXED), "--policy", str(policy))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {policy}: bad rule 'count() = 0': at column 9")
    result = run(str(MIXED), "--rule", "count() == 4", "-Y", "tcp.port ==")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: bad display filter 'tcp.port =='")
    result = run(str(MIXED), "--rule", "count() == 4", "--format", "xml")
    assert result.exit_code == 2


@pytest.mark.tshark
@pytest.mark.parametrize("capture", [BAD / "not_a_capture.pcap", BAD / "empty.pcap",
                                     SYN / "missing.pcap"])
def test_exit_3_for_an_unreadable_capture(capture: Path) -> None:
    result = run(str(capture), "--rule", "count() >= 0")
    assert result.exit_code == 3
    assert result.stderr.startswith(f"error: {capture}: ")
    assert result.stdout.startswith(f"ERROR {capture}: ")


@pytest.mark.tshark
def test_exit_3_when_tshark_is_missing() -> None:
    result = run(str(MIXED), "--rule", "count() >= 0", "--tshark-path", "/nonexistent/tshark",
                 "-Y", "tcp")
    assert result.exit_code == 3
    assert "tshark" in result.stderr
    # Without an option that needs tshark, the native engine reads the capture.
    result = run(str(MIXED), "--rule", "count() == 4", "--tshark-path", "/nonexistent/tshark")
    assert result.exit_code == 0, result.stderr


@pytest.mark.tshark
def test_an_unreadable_capture_outranks_a_failed_rule() -> None:
    result = run(str(MIXED), str(BAD / "not_a_capture.pcap"), "-q", "--rule",
                 "count(end == 'rst') == 0")
    assert result.exit_code == 3
    assert result.stdout.startswith(f"FAIL {MIXED}: ")


@pytest.mark.tshark
def test_a_truncated_capture_warns_and_fails_only_under_strict(tmp_path: Path) -> None:
    cut = BAD / "truncated.pcap"
    result = run(str(cut), "--rule", "count() == 1")
    assert result.exit_code == 0
    assert result.stderr.startswith(f"warning: {cut}: truncated after frame 7")
    assert result.stdout.startswith(f"PASS {cut}: count() == 1 (measured: 1)")
    report = tmp_path / "junit.xml"
    result = run(str(cut), "--rule", "count() == 1", "--strict", "--junit", str(report))
    assert result.exit_code == 4
    root = _valid_junit(report)
    (error,) = root.iter("error")
    assert "truncated after frame 7" in (error.get("message") or "")
    assert error.get("type") == "truncated capture"


@pytest.mark.tshark
def test_directories_are_searched_and_each_capture_reported() -> None:
    result = run(str(WS_SYN), "-q", "--rule",
                 "all(websocket.close_code in [1000, 1001])", "--format", "json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    per_capture = {Path(c["capture"]).name: c["results"][0] for c in doc["captures"]}
    assert len(per_capture) == len(list(WS_SYN.glob("*.pcap")))
    failed = {name for name, r in per_capture.items() if not r["passed"]}
    assert failed == {"ws_control_too_long.pcap", "ws_fragmented_control.pcap",
                      "ws_invalid_close_code.pcap", "ws_reserved_close_code.pcap"}
    bad = per_capture["ws_invalid_close_code.pcap"]
    assert (bad["measured"], bad["violations"], bad["table"]) == (False, 1, "websocket")
    assert bad["offenders"][0]["uid"] == "CFmWWtdIEiMjYUr5i9"
    assert bad["offenders"][0]["values"] == {"websocket.close_code": 2999}
    assert doc["passed"] is False and doc["counts"]["failed"] == 4


@pytest.mark.tshark
def test_markdown_format() -> None:
    result = run(str(MIXED), "--rule", "count(end == 'rst') == 0", "--format", "markdown")
    assert result.exit_code == 1
    assert "| status | rule | expression | measured | offending |" in result.stdout
    row = next(ln for ln in result.stdout.splitlines() if ln.startswith("| ❌"))
    assert "`count(end == 'rst') == 0`" in row and "| 2 |" in row
    assert all(uid in row for uid in MIXED_RST)


# --------------------------------------------------------------------------- JUnit


def _valid_junit(path: Path) -> Any:
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    doc = etree.parse(str(path))
    assert schema.validate(doc), schema.error_log
    return doc.getroot()


def test_the_schema_rejects_what_ci_systems_cannot_read() -> None:
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    ok = b'<testsuites><testsuite name="a" tests="1"><testcase name="t" classname="c">' \
         b'<failure message="m">body</failure></testcase></testsuite></testsuites>'
    assert schema.validate(etree.fromstring(ok))
    for bad in (b'<testsuites><testsuite name="a"><testcase name="t" classname="c"/>'
                b'</testsuite></testsuites>',  # no tests count
                b'<testsuites><testsuite name="a" tests="1"><testcase name="t"/>'
                b'</testsuite></testsuites>',  # no classname
                b'<testsuites><testsuite name="a" tests="1"><testcase name="t" classname="c">'
                b'<failure><b/></failure></testcase></testsuite></testsuites>'):
        assert not schema.validate(etree.fromstring(bad))


@pytest.mark.tshark
def test_junit_has_a_case_per_rule_per_capture(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    result = run(str(MIXED), str(SYN / "close_wait_leak.pcap"), str(BAD / "empty.pcap"), "-q",
                 "--policy", str(POLICY), "--junit", str(report))
    assert result.exit_code == 3  # the empty file
    root = _valid_junit(report)
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert list(suites) == [str(MIXED), str(SYN / "close_wait_leak.pcap"),
                            str(BAD / "empty.pcap")]
    rules = R.load_policy(POLICY.read_text(encoding="utf-8"), str(POLICY))
    mixed = suites[str(MIXED)]
    names = [c.get("name") for c in mixed.iter("testcase")]
    assert names == [f"{r.name}: {r.expr}" for r in rules]
    assert {c.get("classname") for c in root.iter("testcase")} == {"pcap-analyzer.check"}
    assert (mixed.get("tests"), mixed.get("failures"), mixed.get("errors")) == ("5", "1", "0")
    (failure,) = mixed.iter("failure")
    message, body = failure.get("message") or "", failure.text or ""
    # Both the message and the body carry the capture, the rule, the value and the uids.
    for text in (message, body):
        assert str(MIXED) in text and "resets below 5%" in text and "measured: 0.5" in text
    assert message == (f"FAIL {MIXED}: resets below 5%: count(end == 'rst') / count() <= 0.05"
                       " (measured: 0.5)")
    assert all(uid in body for uid in MIXED_RST)
    assert "2 offending connections:" in body
    leak = suites[str(SYN / "close_wait_leak.pcap")]
    (leak_failure,) = leak.iter("failure")
    assert "Cb7utlXXGxrrgNazyQ" in (leak_failure.text or "")
    assert "server_state='CLOSE_WAIT'" in (leak_failure.text or "")
    empty = suites[str(BAD / "empty.pcap")]
    (case,) = empty.iter("testcase")
    assert case.get("name") == "read capture"
    (error,) = case.iter("error")
    assert error.get("message") == f"{BAD / 'empty.pcap'}: empty file (0 bytes), not a capture"
    assert root.get("tests") == "11" and root.get("failures") == "2" and root.get("errors") == "1"


@pytest.mark.tshark
def test_junit_puts_a_failed_warning_in_system_out(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    result = run(str(WS_SYN / "ws_reserved_close_code.pcap"), "--policy", str(POLICY),
                 "--junit", str(report))
    assert result.exit_code == 0, result.output
    root = _valid_junit(report)
    assert root.get("failures") == "0"
    (case,) = [c for c in root.iter("testcase")
               if (c.get("name") or "").startswith("WebSocket closes are normal")]
    out = case.find("system-out")
    assert out is not None and "WARN" in (out.text or "")
    assert "websocket.close_code=1005" in (out.text or "")


def test_junit_text_is_made_inert() -> None:
    rule = R.parse("all(websocket.close_reason == 'ok')")
    d = data(ws=[{"uid": "C1", "client_ip": "1.2.3.4", "client_port": 1, "server_ip": "5.6.7.8",
                  "server_port": 2, "close_reason": "bye\x1b[31m\x00"}])
    check = R.CaptureCheck("evil\x07.pcap", R.evaluate_all([rule], d))
    root = etree.fromstring(junit.build([check]).tostring())
    failure = root.find(".//failure")
    assert failure is not None
    assert "\\x1b[31m\\x00" in (failure.text or "")
    assert root.find("testsuite").get("name") == "evil\\x07.pcap"
