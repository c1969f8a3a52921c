"""TCP health (issue 10) in the reports: the summary's ``tcp_health``, ``data_rtt_ms`` and
``worst_retransmissions`` lines, check rules on the health fields, the report's Problems,
charts and TCP health table, and the terminal table's health cell.

Every figure is recomputed here from the connections DataFrame of the same real capture
(or read from tcptrace, an independent implementation), never from the code under test.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import analyzer
from analyzer.api import Analysis, analyze_capture
from analyzer.cli import app
from analyzer.core.records import HEALTH_FIELDS
from analyzer.report import rules as R
from analyzer.report.app import http_frame, websocket_frame
from analyzer.report.html import render_html, retrans_bars
from analyzer.report.summary import RETRANS_THRESHOLD

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tcptrace

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "captures" / "real"
CLIENT_CLOSE = REAL / "client_close.pcapng"
MIXED = REAL / "mixed.pcap"
UDP = REAL / "udp_exchange.pcapng"
RETRANSMISSION = ROOT / "captures" / "synthetic" / "retransmission.pcap"
LOSSY_BULK = REAL / "lossy_bulk.pcapng"
LOSSY_ZERO_WINDOW = REAL / "lossy_zero_window.pcapng"
LOSSY_IPV6 = REAL / "lossy_ipv6.pcapng"
runner = CliRunner()

#: The README's rules on the health fields (all hold on client_close.pcapng).
README_RULES = (
    "max(retrans_rate) < 0.01",
    "count(retrans_packets_c2s + retrans_packets_s2c > 0) == 0",
    "sum(retrans_packets_c2s + retrans_packets_s2c) / "
    "sum(seq_packets_c2s + seq_packets_s2c) <= 0.005",
    "p95(rtt_avg_s_c2s) < 0.2",
    "rtt_max_s_s2c.max < 0.5",
    "count(zero_window_advertisements_s2c > 0) == 0",
    "all(proto != 'tcp' or zero_window_advertisements_s2c == 0)",
    "all(proto != 'tcp' or mss_c2s == null or mss_c2s >= 1200)",
)


def frame(*paths: Path) -> pd.DataFrame:
    return analyzer.analyze(list(paths)).connections


def summary_of(*paths: Path) -> pd.DataFrame:
    return analyzer.analyze(list(paths)).summary()


def lines(summary: pd.DataFrame, capture: Path, section: str) -> pd.DataFrame:
    rows = summary[(summary["capture"] == str(capture)) & (summary["section"] == section)]
    return rows.set_index("item")


def ints(df: pd.DataFrame, col: str) -> list[int]:
    return [0 if pd.isna(v) else int(v) for v in df[col]]


def check(*args: str) -> Any:
    return runner.invoke(app, ["check", *args])


# ------------------------------------------------------------------------------ summary


def test_summary_pools_the_retransmission_rate_over_every_connection() -> None:
    """retransmission.pcap resends one 100-byte server segment: 1 of 8 segments carrying
    sequence space (3 from the client, 5 from the server)."""
    s = summary_of(RETRANSMISSION, MIXED)
    health = lines(s, RETRANSMISSION, "tcp_health")
    assert health.loc["segments", "count"] == 8
    assert health.loc["retransmitted", "count"] == 1
    assert health.loc["retransmitted", "value"] == 1 / 8
    assert health.loc["retransmitted", "percent"] == 12.5
    assert health.loc["with_retransmissions", "count"] == 1
    assert health.loc["with_retransmissions", "percent"] == 100.0
    mixed = lines(s, MIXED, "tcp_health")
    df = frame(MIXED)
    seq = sum(ints(df, "seq_packets_c2s")) + sum(ints(df, "seq_packets_s2c"))
    assert mixed.loc["segments", "count"] == seq == 19
    assert mixed.loc["retransmitted", "count"] == 0
    assert mixed.loc["retransmitted", "value"] == 0.0
    # with_dup_acks counts connections, of the capture's four
    dup = [a + b for a, b in zip(ints(df, "dup_acks_c2s"), ints(df, "dup_acks_s2c"),
                                 strict=True)]
    with_dup = sum(d > 0 for d in dup)
    assert (mixed.loc["with_dup_acks", "count"], mixed.loc["with_dup_acks", "percent"]) == (
        with_dup, 100.0 * with_dup / 4)
    assert mixed.loc["with_zero_window", "count"] == 0
    assert lines(s, MIXED, "worst_retransmissions").empty  # nothing was retransmitted


def test_summary_data_rtt_percentiles_weigh_each_direction_by_its_samples() -> None:
    """Each sample stands at its direction's mean; p50 is then the median of all samples,
    not the median of the directions' means, and max is the largest single sample."""
    df = frame(MIXED)
    means: list[float] = []
    for d in ("c2s", "s2c"):
        for n, avg in zip(df[f"rtt_samples_{d}"], df[f"rtt_avg_s_{d}"], strict=True):
            if not pd.isna(n) and n > 0:
                means += [float(avg)] * int(n)
    pooled = pd.Series(means)
    samples = sum(ints(df, "rtt_samples_c2s")) + sum(ints(df, "rtt_samples_s2c"))
    assert len(pooled) == samples > 10
    rtt = lines(summary_of(MIXED), MIXED, "data_rtt_ms")
    assert list(rtt.index) == ["p50", "p90", "p95", "p99", "max"]
    assert (rtt["count"] == samples).all()
    for q, name in ((0.5, "p50"), (0.9, "p90"), (0.95, "p95"), (0.99, "p99")):
        assert rtt.loc[name, "value"] == round(pooled.quantile(q) * 1000, 3)
    largest = max(df["rtt_max_s_c2s"].max(), df["rtt_max_s_s2c"].max())
    assert rtt.loc["max", "value"] == round(largest * 1000, 3)
    assert rtt.loc["max", "value"] > rtt.loc["p99", "value"]  # a sample above its mean
    # the unweighted median of the seven directions' means would be another figure
    per_direction = pd.Series([m for d in ("c2s", "s2c")
                               for m in df[f"rtt_avg_s_{d}"].dropna()])
    assert round(per_direction.median() * 1000, 3) != rtt.loc["p50", "value"]


def test_summary_has_no_health_lines_without_tcp() -> None:
    s = summary_of(UDP)
    assert not s["section"].isin(["tcp_health", "data_rtt_ms",
                                  "worst_retransmissions"]).any()


def test_summary_lists_the_worst_retransmitter() -> None:
    s = summary_of(RETRANSMISSION)
    worst = s[s["section"] == "worst_retransmissions"]
    df = frame(RETRANSMISSION)
    uid = df["uid"].iloc[0]
    assert list(worst["item"]) == [
        f"{uid} 10.0.0.1:40024 -> 10.0.0.2:8080 (c2s 0, s2c 1)"]
    assert list(worst["count"]) == [1] and list(worst["value"]) == [0.125]


def test_summary_command_prints_the_health_lines() -> None:
    df = frame(RETRANSMISSION)
    dup = int(df["dup_acks_c2s"].iloc[0] + df["dup_acks_s2c"].iloc[0] > 0)
    result = runner.invoke(app, ["summary", str(RETRANSMISSION), "-f", "json"])
    assert result.exit_code == 0, result.output
    rows = [(r["section"], r["item"], r["count"], r["percent"], r["value"])
            for r in json.loads(result.stdout) if r["section"] == "tcp_health"]
    assert rows == [("tcp_health", "segments", 8, None, None),
                    ("tcp_health", "retransmitted", 1, 12.5, 0.125),
                    ("tcp_health", "with_retransmissions", 1, 100.0, None),
                    ("tcp_health", "with_dup_acks", dup, 100.0 * dup, None),
                    ("tcp_health", "with_zero_window", 0, 0.0, None)]
    table = runner.invoke(app, ["summary", str(RETRANSMISSION), "-f", "table"])
    assert re.search(r"tcp_health\s*│\s*retransmitted\s*│\s*1\s*│\s*12\.5%\s*│\s*0\.125",
                     table.stdout)


# -------------------------------------------------------------------------------- rules


def test_every_health_field_is_in_the_rule_vocabulary_with_its_kind() -> None:
    conn = R.COLUMNS[R.CONN]
    for name in ("retrans_rate", "seq_packets_c2s", *HEALTH_FIELDS):
        assert name in conn, name
    assert conn["retrans_packets_s2c"].kind == R.NUM
    assert conn["rtt_stdev_s_c2s"].kind == R.NUM
    assert conn["sack_permitted_c2s"].kind == R.BOOL
    assert conn["timestamps_s2c"].kind == R.BOOL
    with pytest.raises(R.RuleError, match="did you mean retrans_rate"):
        R.parse("max(retrans_rat) < 0.01")
    with pytest.raises(R.RuleError):  # a true/false column is not a number
        R.parse("sum(sack_permitted_c2s) > 0")


@pytest.mark.parametrize("rule", README_RULES)
def test_readme_health_rules_hold_on_a_clean_capture(rule: str) -> None:
    result = check(str(CLIENT_CLOSE), "--rule", rule)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"PASS {CLIENT_CLOSE}: {rule} (measured: ")


def test_health_rules_measure_the_records_values() -> None:
    result = analyze_capture(MIXED)
    data = R.CaptureData.from_records(str(MIXED), result.records)
    df = frame(MIXED)

    def measured(expr: str) -> Any:
        return R.evaluate(R.parse(expr), data).measured

    assert measured("max(retrans_rate) < 1") == 0.0
    assert measured("p95(rtt_avg_s_c2s) < 1") == pytest.approx(
        df["rtt_avg_s_c2s"].quantile(0.95), abs=0, rel=1e-12)
    assert measured("sum(seq_packets_c2s + seq_packets_s2c) > 0") == 19
    # the refused connection's server sent no SYN: its mss_s2c is null, not 0
    assert measured("count(mss_s2c == null) == 1") == 1
    assert measured("count(sack_permitted_c2s) > 0") == 4


def test_health_fields_are_null_on_udp_rows() -> None:
    """UDP rows are null: skipped by aggregates, never counted, offending under all()."""
    result = analyze_capture(UDP)
    data = R.CaptureData.from_records(str(UDP), result.records)

    def run(expr: str) -> R.RuleResult:
        return R.evaluate(R.parse(expr), data)

    assert run("count(retrans_rate == null) == count()").passed
    assert run("max(retrans_rate) == null").passed
    assert not run("max(retrans_rate) < 0.01").passed  # max of no values is null
    assert run("count(zero_window_advertisements_s2c > 0) == 0").passed
    plain = run("all(zero_window_advertisements_s2c == 0)")
    assert not plain.passed and plain.violations == 1
    assert run("all(proto != 'tcp' or zero_window_advertisements_s2c == 0)").passed
    assert run("count(sack_permitted_c2s == null) == 1").passed


def test_a_nan_in_a_float_column_reads_as_null() -> None:
    data = R.CaptureData("hand.pcap", {R.CONN: [
        {"uid": "C1", "rtt_avg_s_c2s": float("nan")}, {"uid": "C2", "rtt_avg_s_c2s": 0.25}],
        R.WS: [], R.HTTP: []})
    assert R.evaluate(R.parse("count(rtt_avg_s_c2s == null) == 1"), data).passed
    assert R.evaluate(R.parse("max(rtt_avg_s_c2s) == 0.25"), data).passed
    assert R.evaluate(R.parse("mean(rtt_avg_s_c2s) == 0.25"), data).passed


def test_a_retransmission_rule_fails_with_exit_1_and_names_the_connection() -> None:
    uid = frame(RETRANSMISSION)["uid"].iloc[0]
    result = check(str(RETRANSMISSION), "--rule", "max(retrans_rate) < 0.01",
                   "--rule", "count(retrans_packets_c2s + retrans_packets_s2c > 0) == 0")
    assert result.exit_code == 1, result.output
    out = result.stdout.splitlines()
    assert out[0] == f"FAIL {RETRANSMISSION}: max(retrans_rate) < 0.01 (measured: 0.125)"
    assert out[2].strip() == f"{uid} 10.0.0.1:40024 -> 10.0.0.2:8080 retrans_rate=0.125"
    assert (f"{uid} 10.0.0.1:40024 -> 10.0.0.2:8080 retrans_packets_c2s=0 "
            "retrans_packets_s2c=1") in [line.strip() for line in out]
    assert out[-1] == "0 passed, 2 failed, 0 warnings (2 rules on 1 capture)"


# ------------------------------------------------------------------- real lossy traffic


def sockets(capture: Path) -> dict[str, dict[str, Any]]:
    """What the recording's kernel sockets saw (``NAME.ss.json``, written by
    captures/record_lossy.py from ``ss -tin``, not from the capture), by role."""
    sidecar = json.loads(capture.with_suffix(".ss.json").read_text())
    return {s["role"]: s for s in sidecar["sockets"]}


def kernel_counts(capture: Path) -> tuple[int, int, int, int]:
    """(client's, server's retransmitted segments, client's, server's segments carrying
    sequence space) as the kernel counted them: its data segments out (retransmissions
    included) and one SYN and one FIN per side (the recorder keeps those lossless)."""
    ss = sockets(capture)
    return (ss["client"]["retrans_total"], ss["server"]["retrans_total"],
            ss["client"]["data_segs_out"] + 2, ss["server"]["data_segs_out"] + 2)


def tcptrace_counts(capture: Path) -> tuple[int, int]:
    """(retransmitted segments, segments carrying sequence space), both ways, as tcptrace
    counts them (``rexmt data pkts``; ``actual data pkts`` plus ``SYN/FIN pkts sent``)."""
    conns = tcptrace.run(capture)
    assert conns is not None and len(conns) == 1
    row = conns[0].row
    rexmt = sum(int(row[f"rexmt_data_pkts_{ab}"]) for ab in ("a2b", "b2a"))
    sent = sum(int(row[f"actual_data_pkts_{ab}"])
               + sum(map(int, row[f"SYN/FIN_pkts_sent_{ab}"].split("/")))
               for ab in ("a2b", "b2a"))
    return rexmt, sent


@pytest.mark.parametrize("capture", [LOSSY_BULK, LOSSY_IPV6])
def test_lossy_summary_rate_is_what_the_kernel_and_tcptrace_counted(capture: Path) -> None:
    """nftables dropped data segments each way; every drop was retransmitted, and the
    kernel's sockets counted both the retransmissions and the segments sent."""
    c_rexmt, s_rexmt, c_segs, s_segs = kernel_counts(capture)
    assert c_rexmt > 0 and s_rexmt > 0  # really lossy, both ways
    health = lines(summary_of(capture), capture, "tcp_health")
    assert health.loc["retransmitted", "count"] == c_rexmt + s_rexmt
    assert health.loc["segments", "count"] == c_segs + s_segs
    assert health.loc["retransmitted", "value"] == (c_rexmt + s_rexmt) / (c_segs + s_segs)
    assert health.loc["retransmitted", "percent"] == round(
        100 * (c_rexmt + s_rexmt) / (c_segs + s_segs), 1)
    df = frame(capture)
    pooled = ((sum(ints(df, "retrans_packets_c2s")) + sum(ints(df, "retrans_packets_s2c")))
              / (sum(ints(df, "seq_packets_c2s")) + sum(ints(df, "seq_packets_s2c"))))
    assert health.loc["retransmitted", "value"] == pooled
    if not tcptrace.available():
        pytest.skip("tcptrace is not installed (make test installs it)")
    rexmt, sent = tcptrace_counts(capture)
    assert health.loc["retransmitted", "value"] == rexmt / sent


def test_lossy_captures_worst_retransmissions() -> None:
    captures = (LOSSY_BULK, LOSSY_ZERO_WINDOW, LOSSY_IPV6)
    s = summary_of(*captures)
    for capture in captures:
        c2s, s2c, c_segs, s_segs = kernel_counts(capture)
        ss = sockets(capture)
        rec = frame(capture).iloc[0]
        worst = lines(s, capture, "worst_retransmissions")
        assert list(worst.index) == [
            f"{rec['uid']} {ss['client']['local']} -> {ss['client']['peer']} "
            f"(c2s {c2s}, s2c {s2c})"]
        assert worst["count"].tolist() == [c2s + s2c]
        assert worst["value"].tolist() == [(c2s + s2c) / (c_segs + s_segs)]
        health = lines(s, capture, "tcp_health")
        assert health.loc["with_retransmissions", "count"] == 1
        assert health.loc["with_zero_window", "count"] == (capture == LOSSY_ZERO_WINDOW)
        dup = sum(ints(frame(capture), "dup_acks_c2s") + ints(frame(capture), "dup_acks_s2c"))
        assert health.loc["with_dup_acks", "count"] == (dup > 0)


def test_a_retransmission_gate_fails_on_lossy_traffic_and_passes_on_clean() -> None:
    uid = frame(LOSSY_BULK)["uid"].iloc[0]
    c2s, s2c, c_segs, s_segs = kernel_counts(LOSSY_BULK)
    rate = R._show((c2s + s2c) / (c_segs + s_segs))
    ss = sockets(LOSSY_BULK)
    rule = "max(retrans_rate) < 0.01"
    assert (c2s + s2c) / (c_segs + s_segs) >= 0.01
    result = check(str(LOSSY_BULK), str(CLIENT_CLOSE), "--rule", rule)
    assert result.exit_code == 1, result.output  # README: 1 when an error rule fails
    out = [line.strip() for line in result.stdout.splitlines()]
    assert f"FAIL {LOSSY_BULK}: {rule} (measured: {rate})" in out
    assert (f"{uid} {ss['client']['local']} -> {ss['client']['peer']} "
            f"retrans_rate={rate}") in out
    assert f"PASS {CLIENT_CLOSE}: {rule} (measured: 0)" in out
    assert out[-1] == "1 passed, 1 failed, 0 warnings (1 rule on 2 captures)"
    zero = "count(zero_window_advertisements_s2c > 0) == 0"
    result = check(str(LOSSY_ZERO_WINDOW), str(CLIENT_CLOSE), "--rule", zero)
    assert result.exit_code == 1
    assert f"FAIL {LOSSY_ZERO_WINDOW}: {zero} (measured: 1)" in result.stdout
    assert f"PASS {CLIENT_CLOSE}: {zero} (measured: 0)" in result.stdout


def test_report_lists_the_lossy_connections_in_problems(tmp_path: Path) -> None:
    bulk, zero = frame(LOSSY_BULK).iloc[0], frame(LOSSY_ZERO_WINDOW).iloc[0]
    c2s, s2c, c_segs, s_segs = kernel_counts(LOSSY_BULK)
    rate = (c2s + s2c) / (c_segs + s_segs)
    zero_adv = int(zero["zero_window_advertisements_s2c"])
    if not tcptrace.available():
        pytest.skip("tcptrace is not installed (make test installs it)")
    tcptrace_zero = tcptrace.run(LOSSY_ZERO_WINDOW)
    assert tcptrace_zero is not None
    assert zero_adv == int(tcptrace_zero[0].value("zero_win_adv", "b2a")) > 0
    md, html = write_report(tmp_path, LOSSY_BULK, LOSSY_ZERO_WINDOW, CLIENT_CLOSE)
    problems = problems_section(md)
    listed = re.search(r"^- \*\*(\d+) connections retransmitting more than 1% of their "
                       r"segments\*\*: (.*)$", problems, re.MULTILINE)
    assert listed is not None
    assert listed.group(2).startswith(f"`{bulk['uid']}`")  # the worst first
    zero_listed = f"`{zero['uid']}`" in listed.group(2)
    assert zero_listed == (zero["retrans_rate"] > RETRANS_THRESHOLD)
    assert int(listed.group(1)) == 1 + zero_listed
    assert ("- **1 connections whose receiver window went to zero (zero-window "
            f"advertisements)**: `{zero['uid']}`\n") in problems
    # one description of each problem, the same in report.md's table and report.html
    ss = sockets(LOSSY_BULK)
    retransmitted = (f"{rate * 100:.3g}% of the segments retransmitted: {c2s + s2c} of "
                     f"{c_segs + s_segs} ({c2s} client → server, {s2c} server → client), "
                     "above 1%")
    zero_window = (f"receiver window went to zero: the server advertised a zero window "
                   f"{zero_adv} times")
    table = problems.replace("\\_", "_")  # md_escape's escapes
    assert (f"| retransmissions | {LOSSY_BULK} | `{bulk['uid']}` | "
            f"{ss['client']['local']} → {ss['client']['peer']} | {retransmitted} |") in table
    zero_ss = sockets(LOSSY_ZERO_WINDOW)
    assert (f"| zero window | {LOSSY_ZERO_WINDOW} | `{zero['uid']}` | "
            f"{zero_ss['client']['local']} → {zero_ss['client']['peer']} | {zero_window} |"
            ) in table
    assert zero_window in html and retransmitted in html
    assert f"`{CLIENT_CLOSE}`" not in problems and str(CLIENT_CLOSE) not in table
    # above the bulk transfer's rate nothing retransmits too much; the zero window stays
    md, html = write_report(tmp_path, LOSSY_BULK, LOSSY_ZERO_WINDOW,
                            args=("--retrans-threshold", f"{rate + 0.001:.4f}"))
    problems = problems_section(md)
    assert "retransmitting" not in problems and "retransmitted" not in problems
    assert "| zero window | " in problems and zero_window in problems
    assert "of the segments retransmitted" not in html


def test_retransmission_chart_bars_are_the_worst_connections_numbered_as_the_table() -> None:
    paths = [LOSSY_BULK, LOSSY_ZERO_WINDOW, LOSSY_IPV6, MIXED, RETRANSMISSION]
    a = analyzer.analyze(paths)
    conns = a.connections.reset_index(drop=True)
    tcp = conns[conns["proto"].astype("string") == "tcp"]
    counts = {p: kernel_counts(p) for p in paths[:3]}
    # connections 1-3 are the lossy captures', 4-7 mixed.pcap's, 8 retransmission.pcap's
    expected = sorted([(n + 1, c[0], c[1]) for n, c in enumerate(counts.values())]
                      + [(8, 0, 1)], key=lambda b: -(b[1] + b[2]))
    bars = retrans_bars(tcp)
    assert [b[:3] for b in bars] == expected
    assert [b[3] for b in bars] == [conns["retrans_rate"][n - 1] for n, *_ in bars]
    assert conns["uid"][7] == frame(RETRANSMISSION)["uid"].iloc[0]
    html = render_html(conns, http_frame(a.records), websocket_frame(a.records), a.summary(),
                       [(c.path, c.status) for c in a.captures])
    ids = re.findall(r'<svg class="chart" id="([^"]+)"', html)
    assert ids.count("chart-retrans") == 1 and ids.count("chart-data_rtt") == 1
    health = re.search(r'<table class="sortable compact" id="health-table">.*?</table>', html,
                       re.DOTALL)
    assert health is not None
    c2s, s2c, c_segs, s_segs = counts[LOSSY_BULK]
    table = health.group(0).replace("<wbr>", "")
    assert (f'>lossy_bulk.pcapng</td><td class="num">{c_segs + s_segs}</td>'
            f'<td class="num">{c2s + s2c}</td>'
            f'<td class="num">{(c2s + s2c) / (c_segs + s_segs) * 100:.3g}%</td>'
            ) in table


# ------------------------------------------------------------------------------- report


def write_report(tmp_path: Path, *paths: Path, args: tuple[str, ...] = ()) -> tuple[str, str]:
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", *map(str, paths), "--out", str(out),
                                 "--no-step-summary", "-q", *args])
    assert result.exit_code == 0, result.output
    return (out / "report.md").read_text(), (out / "report.html").read_text()


def problems_section(md: str) -> str:
    return md.split("## Problems", 1)[1].split("\n## ", 1)[0]


def test_report_lists_retransmitting_connections_above_the_threshold(tmp_path: Path) -> None:
    df = frame(RETRANSMISSION)
    uid = df["uid"].iloc[0]
    where = f"{df['client_ip'].iloc[0]}:{df['client_port'].iloc[0]} → " \
            f"{df['server_ip'].iloc[0]}:{df['server_port'].iloc[0]}"
    md, html = write_report(tmp_path, RETRANSMISSION, CLIENT_CLOSE)
    assert RETRANS_THRESHOLD == 0.01
    detail = ("12.5% of the segments retransmitted: 1 of 8 (0 client → server, 1 server → "
              "client), above 1%")
    problems = problems_section(md)
    assert (f"- **1 connections retransmitting more than 1% of their segments**: "
            f"`{uid}`\n") in problems
    assert f"| retransmissions | {RETRANSMISSION} | `{uid}` | {where} | {detail} |" in problems
    assert "## TCP health" in md
    health = md.split("## TCP health", 1)[1].split("\n## ", 1)[0]
    dup = int(df["dup_acks_c2s"].iloc[0] + df["dup_acks_s2c"].iloc[0] > 0)
    assert f"| {RETRANSMISSION} | 1 | 8 | 1 | 12.5% | 1 | {dup} | 0 |" in health
    assert ("retransmissions</span></td><td class=\"cap\" title=\"" + str(RETRANSMISSION)
            in html)
    assert (f'<td class="mono">{uid}</td><td class="mono nowrap">{where}</td>'
            f'<td class="wrap">{detail}</td>') in html
    # above the rate, nothing is listed
    md, html = write_report(tmp_path, RETRANSMISSION, args=("--retrans-threshold", "0.2"))
    assert "retransmitting" not in problems_section(md)
    assert "of the segments retransmitted" not in html


def test_report_threshold_is_checked_as_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(CLIENT_CLOSE), "--out", str(tmp_path / "r"),
                                 "--retrans-threshold", "2", "-q"])
    assert result.exit_code == 2
    assert not (tmp_path / "r").exists()


def test_report_html_has_the_two_health_charts(tmp_path: Path) -> None:
    _, html = write_report(tmp_path, RETRANSMISSION, CLIENT_CLOSE)
    ids = re.findall(r'<svg class="chart" id="([^"]+)"', html)
    assert "chart-data_rtt" in ids and "chart-retrans" in ids
    uid = frame(RETRANSMISSION)["uid"].iloc[0]
    for chart in ("data_rtt", "retrans"):
        svg = re.search(f'<svg class="chart" id="chart-{chart}".*?</svg>', html, re.DOTALL)
        assert svg is not None
        # drawn from numbers and fixed labels: no uid, address or file name in the SVG
        for text in (uid, "10.0.0.1", "127.0.0.1", "retransmission.pcap"):
            assert text not in svg.group(0)
    # the bar's connection, #1 in the connections table, is retransmission.pcap's
    row = re.search(r'<tr id="c1">.*?</tr>', html, re.DOTALL)
    assert row is not None and uid in row.group(0) and "12.5% rtx" in row.group(0)
    element_ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(element_ids) == len(set(element_ids))
    _, clean = write_report(tmp_path, CLIENT_CLOSE)
    ids = re.findall(r'<svg class="chart" id="([^"]+)"', clean)
    assert "chart-data_rtt" in ids and "chart-retrans" not in ids
    assert "No retransmitted segments." in clean


def test_health_charts_are_absent_without_tcp() -> None:
    a = Analysis([analyze_capture(UDP)])
    html = render_html(a.connections, http_frame(a.records), websocket_frame(a.records),
                       a.summary(), [(str(UDP), "ok")])
    assert "chart-data_rtt" not in html and "chart-retrans" not in html
    assert "No data segment was acknowledged, so no data RTT to show." in html


# ------------------------------------------------------------------------ terminal table


def health_cells(*paths: Path) -> list[str]:
    """The terminal table's health cell of each connection, in the table's order (one
    line per row: the cells do not wrap)."""
    result = runner.invoke(app, ["connections", *map(str, paths), "-f", "table"])
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    header = next(x for x in out if "history" in x)
    assert header.split()[-1] == "health"
    at = header.index("health")  # the last column: its cells start under its header
    return [line[at:].strip() for line in out if re.match(r"\s*#\d+ ", line)]


def test_terminal_table_has_a_health_cell() -> None:
    rates = [(c[0] + c[1]) / (c[2] + c[3])
             for c in map(kernel_counts, (LOSSY_BULK, LOSSY_ZERO_WINDOW))]
    assert health_cells(RETRANSMISSION, CLIENT_CLOSE, UDP, LOSSY_BULK, LOSSY_ZERO_WINDOW) == [
        "12.5% rtx", "-", "", f"{rates[0] * 100:.1f}% rtx", f"{rates[1] * 100:.1f}% rtx 0w"]
