"""One percentile everywhere: linear interpolation (numpy's and pandas' default), as the
README promises. p95 of [1, 2, 3, 4] is 3.85 (nearest rank would say 4) in ``summary``,
report.md, report.html and ``diff``; the data RTT percentiles weigh each direction's mean
by its samples without repeating it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analyzer.api import Analysis, CaptureResult, analyze_capture
from analyzer.core.records import ConnectionRecord
from analyzer.report import diff
from analyzer.report.app import http_frame, websocket_frame
from analyzer.report.frame import to_frame
from analyzer.report.html import render_html
from analyzer.report.markdown import render_markdown
from analyzer.report.stats import percentile
from analyzer.report.summary import summarize, tcp_health

ROOT = Path(__file__).resolve().parents[1]
HTTP10 = ROOT / "captures" / "real" / "http10.pcapng"  # one complete TCP connection


# --------------------------------------------------------------------------- the helper


def test_p95_of_one_to_four_is_3_85() -> None:
    values = [4, 1, 3, 2]  # order does not matter
    assert percentile(values, 0.95) == pytest.approx(3.85, abs=1e-12)
    assert percentile(values, 0.95) == float(np.percentile(values, 95))
    assert percentile(values, 0.95) == float(pd.Series(values).quantile(0.95))
    assert percentile(values, 0.5) == 2.5  # nearest rank: 3
    assert percentile(values, 0.9) == pytest.approx(3.7, abs=1e-12)
    assert percentile(values, 0.99) == pytest.approx(3.97, abs=1e-12)
    assert (percentile(values, 0.0), percentile(values, 1.0)) == (1.0, 4.0)


def test_nulls_are_skipped_and_nothing_gives_none() -> None:
    assert percentile([], 0.5) is None
    assert percentile([None, float("nan")], 0.5) is None
    assert percentile([None, 1.0, float("nan"), 3.0], 0.5) == 2.0
    assert percentile(pd.Series([1.0, None, 3.0], dtype="Float64"), 0.5) == 2.0
    assert percentile([7], 0.95) == 7.0
    with pytest.raises(ValueError):
        percentile([1, 2], 95)  # a quantile, not a percent


def test_weights_count_each_value_as_often_as_the_repeated_array() -> None:
    # [1, 1, 1, 2]: rank 0.95 * 3 = 2.85, between the third (1) and the fourth (2)
    assert percentile([2.0, 1.0], 0.95, [1, 3]) == pytest.approx(1.85, abs=1e-12)
    assert percentile([2.0, 1.0], 0.5, [1, 3]) == 1.0
    assert percentile([1.0, 5.0, 9.0], 0.5, [0, 2, 1]) == 5.0  # a zero weight drops its value
    assert percentile([1.0, 2.0], 0.5, [0, 0]) is None
    with pytest.raises(ValueError):
        percentile([1.0, 2.0], 0.5, [1])
    with pytest.raises(ValueError):
        percentile([1.0, 2.0], 0.5, [1, -1])
    rng = np.random.default_rng(11)
    for trial in range(300):
        n = int(rng.integers(1, 15))
        values = rng.exponential(0.003, n) if trial % 2 else rng.integers(0, 4, n) * 1.0
        weights = rng.integers(0, 7, n)
        weights[0] += 1
        for q in (0.0, 0.5, 0.9, 0.95, 0.99, 1.0, float(rng.random())):
            # to the last bit, as numpy on the repeated values
            assert percentile(values, q, weights) == float(
                np.quantile(np.repeat(values, weights), q)), (values, weights, q)


# ------------------------------------------------------------- through the reports


def four_connections(rtts_s: list[float], base: int = 0) -> list[ConnectionRecord]:
    """http10.pcapng's connection four times, one per handshake RTT, in that order."""
    (rec,) = analyze_capture(HTTP10).records
    return [dataclasses.replace(rec, uid=f"C{base + i:017d}", handshake_rtt_s=rtt,
                                first_ts_ns=rec.first_ts_ns + i, first_frame=rec.first_frame + i)
            for i, rtt in enumerate(rtts_s)]


ONE_TO_FOUR_MS = [0.001, 0.002, 0.003, 0.004]


def test_summary_handshake_rtt_percentiles_interpolate() -> None:
    records = four_connections(ONE_TO_FOUR_MS)
    s = summarize(to_frame(records), records)
    rtt = s[s["section"] == "handshake_rtt_ms"].set_index("item")["value"].to_dict()
    assert rtt == {"p50": 2.5, "p90": 3.7, "p95": 3.85, "p99": 3.97, "max": 4.0}


def test_report_md_rtt_percentiles_interpolate() -> None:
    records = four_connections(ONE_TO_FOUR_MS)
    md = render_markdown([CaptureResult(path=str(HTTP10), records=records, packets=40)], {})
    summary = md.split("## Summary", 1)[1].split("\n## ", 1)[0]
    header, _, row = [line for line in summary.splitlines() if line.startswith("|")][:3]
    cells = dict(zip([c.strip() for c in header.strip("|").split("|")],
                     [c.strip() for c in row.strip("|").split("|")], strict=True))
    assert (cells["RTT p50 ms"], cells["RTT p95 ms"]) == ("2.500", "3.850")


def test_report_html_rtt_percentiles_interpolate() -> None:
    records = four_connections(ONE_TO_FOUR_MS)
    a = Analysis([CaptureResult(path=str(HTTP10), records=records, packets=40)])
    html = render_html(a.connections, http_frame(records), websocket_frame(records),
                       a.summary(), [(str(HTTP10), "ok")])
    table = re.search(r'<table class="sortable compact" id="summary-table">.*?</table>', html,
                      re.DOTALL)
    assert table is not None
    assert table.group(0).endswith(
        '<td class="num sep">2.500</td><td class="num">3.850</td></tr>\n</tbody>\n</table>')
    assert "p95 3.850 ms" in html  # the handshake-RTT chart's p95 line


def test_diff_rtt_percentiles_interpolate() -> None:
    before = four_connections(ONE_TO_FOUR_MS)
    m = diff.metrics(before)
    assert (m["rtt_p50_ms"], m["rtt_p95_ms"]) == (2.5, 3.85)
    after = four_connections([0.001, 0.002, 0.003, 0.005], base=10)
    d = diff.diff(before, after)
    rtt = {c["metric"]: (c["before"], c["after"]) for c in d.changes}
    # p95 of [1, 2, 3, 5] is 3 + 0.85 * 2; p50 stays at 2.5
    assert rtt == {"rtt_p95_ms": (3.85, 4.7)}
    assert diff.diff(before, four_connections(ONE_TO_FOUR_MS, base=20)).changes == []


def test_data_rtt_percentiles_weigh_each_direction_by_its_samples() -> None:
    (rec,) = analyze_capture(HTTP10).records
    one = dataclasses.replace(rec, uid="C" + "1" * 17, rtt_samples_c2s=3, rtt_avg_s_c2s=0.001,
                              rtt_max_s_c2s=0.0012, rtt_samples_s2c=0, rtt_avg_s_s2c=None,
                              rtt_max_s_s2c=None)
    two = dataclasses.replace(rec, uid="C" + "2" * 17, rtt_samples_c2s=1, rtt_avg_s_c2s=0.002,
                              rtt_max_s_c2s=0.002, rtt_samples_s2c=0, rtt_avg_s_s2c=None,
                              rtt_max_s_s2c=None)
    h = tcp_health(to_frame([one, two]))
    # the samples [1, 1, 1, 2] ms: p90 at rank 2.7, p95 at 2.85, p99 at 2.97
    assert h.rtt_samples == 4
    assert h.rtt_ms == {"p50": 1.0, "p90": 1.7, "p95": 1.85, "p99": 1.97, "max": 2.0}
