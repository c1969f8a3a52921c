"""The one problem triage (``report.problems``): its kinds and their order, each kind's
one-line description on real captures, the same problems whether read from records
(report.md, the diagrams, ``diff``) or from the frames (report.html), every row naming its
capture, uid and endpoints, and report.html grouping many problems by kind."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from test_html import Page, assert_offline

from analyzer.api import Analysis, CaptureResult, analyze_capture
from analyzer.core.records import ConnectionRecord
from analyzer.report import diff
from analyzer.report import html as html_mod
from analyzer.report.app import http_frame, websocket_frame
from analyzer.report.html import render_html
from analyzer.report.markdown import MAX_LISTED, render_markdown
from analyzer.report.problems import (
    Conn,
    Kind,
    Session,
    pick_connections,
    triage,
    triage_records,
)

ROOT = Path(__file__).resolve().parents[1]
CAPTURES = ROOT / "captures"
SYN = CAPTURES / "synthetic"
REAL = CAPTURES / "real"
WS = CAPTURES / "ws_synthetic"

#: One capture per kind, the kind and description it must get, and its endpoints.
EXPECTED = [
    (SYN / "refused.pcap", Kind.REFUSED, "the SYN was answered by a RST",
     "10.0.0.1:40020 → 10.0.0.2:8080"),
    (SYN / "syn_only.pcap", Kind.UNANSWERED, "no answer to the SYN (1 retransmission)",
     "10.0.0.1:40019 → 10.0.0.2:8080"),
    (SYN / "synack_no_ack.pcap", Kind.INCOMPLETE, "SYN and SYN-ACK, but no final ACK",
     "10.0.0.1:40021 → 10.0.0.2:8080"),
    (SYN / "bad_synack_ack.pcap", Kind.INVALID_HANDSHAKE,
     "frame 2: SYN-ACK acknowledges 1681692782, expected ISN+1 = 1681692778",
     "10.0.0.1:40002 → 10.0.0.2:8080"),
    (SYN / "rst_no_ack.pcap", Kind.RESET, "RST sent by the server",
     "10.0.0.1:40007 → 10.0.0.2:8080"),
    (SYN / "close_wait_leak.pcap", Kind.CLOSE_WAIT,
     "the server received the peer's FIN and never sent its own",
     "10.0.0.1:40023 → 10.0.0.2:8080"),
    (WS / "ws_wrong_accept.pcap", Kind.WEBSOCKET,
     "handshake failed, status 101: wrong_accept (frame 5)", "10.0.0.1:41002 → 10.0.0.2:8765"),
    (WS / "ws_control_too_long.pcap", Kind.WEBSOCKET,
     "RFC 6455 violations: control_frame_too_long (frame 9)",
     "10.0.0.1:41010 → 10.0.0.2:8765"),
    (SYN / "retransmission.pcap", Kind.RETRANSMISSIONS,
     "12.5% of the segments retransmitted: 1 of 8 (0 client → server, 1 server → client), "
     "above 1%", "10.0.0.1:40024 → 10.0.0.2:8080"),
    (REAL / "lossy_ipv6.pcapng", Kind.RETRANSMISSIONS,
     "6.41% of the segments retransmitted: 10 of 156 (6 client → server, 4 server → "
     "client), above 1%", "[::1]:58474 → [::1]:18112"),
    (REAL / "lossy_zero_window.pcapng", Kind.ZERO_WINDOW,
     "receiver window went to zero: the server advertised a zero window 2 times",
     "127.0.0.1:60156 → 127.0.0.1:18111"),
]
ABSURD = CAPTURES / "engine" / "absurd_lengths.pcap"


def results(*paths: Path) -> list[CaptureResult]:
    return [analyze_capture(p) for p in paths]


def records(*paths: Path) -> list[ConnectionRecord]:
    return [r for c in results(*paths) for r in c.records]


# ------------------------------------------------------------------------- the triage


def test_the_kinds_and_their_order() -> None:
    assert [k.value for k in Kind] == [
        "refused", "unanswered", "incomplete", "invalid_handshake", "reset", "close_wait",
        "websocket", "retransmissions", "zero_window", "anomaly"]
    assert [k.rank for k in Kind] == list(range(10))
    assert [k.label for k in Kind] == [
        "handshake refused", "handshake unanswered", "handshake incomplete",
        "invalid handshake", "reset", "CLOSE_WAIT left open", "WebSocket problem",
        "retransmissions", "zero window", "RFC anomaly"]
    assert Kind.RETRANSMISSIONS.title() == (
        "connections retransmitting more than 1% of their segments")
    assert Kind.RETRANSMISSIONS.title(0.025) == (
        "connections retransmitting more than 2.5% of their segments")


def conn(index: int, **fields: Any) -> Conn:
    base: dict[str, Any] = {"capture": "x.pcap", "uid": f"C{index:017d}", "proto": "tcp",
                            "client_ip": "10.0.0.1", "client_port": 40000 + index,
                            "server_ip": "10.0.0.2", "server_port": 80,
                            "handshake": "complete", "handshake_valid": True, "end": "fin"}
    return Conn(index=index, **{**base, **fields})


def test_triage_orders_kinds_then_the_worst_then_the_input() -> None:
    conns = [
        conn(0, zero_window_advertisements_c2s=1),
        conn(1, retrans_rate=0.02, retrans_packets_c2s=2, seq_packets_c2s=100),
        conn(2, zero_window_advertisements_s2c=5, zero_window_probes_c2s=3),
        conn(3, retrans_rate=0.5, retrans_packets_s2c=1, seq_packets_c2s=1,
             seq_packets_s2c=1),
        conn(4, end="rst", rst_by="server", anomalies=("frame 9: odd",)),
        conn(5, handshake="refused", end="rst", rst_by="server"),
        conn(6, handshake="unanswered", end="open", syn_retransmissions=2),
        conn(7, websockets=(Session(False, None, "/a", ()),
                            Session(True, 101, "/b", (("unmasked_client_frame", 7),)))),
        conn(8, client_state="CLOSE_WAIT", server_state="CLOSE_WAIT"),
        conn(9, handshake_valid=False, anomalies=("frame 3: bad ACK",)),
        conn(10, proto="udp", handshake=None, end=None, retrans_rate=0.9,
             anomalies=("frame 4: odd UDP",)),
    ]
    got = [(p.kind, p.conn.index, p.detail) for p in triage(conns)]
    assert got == [
        (Kind.REFUSED, 5, "the SYN was answered by a RST"),
        (Kind.UNANSWERED, 6, "no answer to the SYN (2 retransmissions)"),
        (Kind.INVALID_HANDSHAKE, 9, "frame 3: bad ACK"),
        (Kind.RESET, 4, "RST sent by the server"),  # not the refused one again
        (Kind.CLOSE_WAIT, 8,
         "the client and the server received the peer's FIN and never sent their own"),
        (Kind.WEBSOCKET, 7, "/a: handshake failed, no response; "
                            "/b: RFC 6455 violations: unmasked_client_frame (frame 7)"),
        (Kind.RETRANSMISSIONS, 3, "50% of the segments retransmitted: 1 of 2 "
                                  "(0 client → server, 1 server → client), above 1%"),
        (Kind.RETRANSMISSIONS, 1, "2% of the segments retransmitted: 2 of 100 "
                                  "(2 client → server, 0 server → client), above 1%"),
        (Kind.ZERO_WINDOW, 2, "receiver window went to zero: the server advertised a zero "
                              "window 5 times; the client sent 3 window probes"),
        (Kind.ZERO_WINDOW, 0, "receiver window went to zero: the client advertised a zero "
                              "window once"),
        # the invalid handshake's anomalies are its description, not a second problem;
        # a UDP flow has anomalies but no TCP kind
        (Kind.ANOMALY, 4, "frame 9: odd"),
        (Kind.ANOMALY, 10, "frame 4: odd UDP"),
    ]


def test_the_retransmission_threshold_is_strictly_above() -> None:
    at = conn(0, retrans_rate=0.01, retrans_packets_c2s=1, seq_packets_c2s=100)
    above = conn(1, retrans_rate=0.0101, retrans_packets_c2s=1, seq_packets_c2s=99)
    assert [p.conn.index for p in triage([at, above])] == [1]
    assert triage([at, above], retrans_threshold=0.02) == []
    # the worst first: 1.01% before 1%
    assert [p.conn.index for p in triage([at, above], retrans_threshold=0.005)] == [1, 0]
    (p,) = triage([above], retrans_threshold=0.005)
    assert p.detail.endswith("above 0.5%")


@pytest.mark.parametrize(("path", "kind", "detail", "where"), EXPECTED,
                         ids=[f"{p.name}-{k.value}" for p, k, _, _ in EXPECTED])
def test_each_kind_on_a_real_capture(path: Path, kind: Kind, detail: str, where: str) -> None:
    (rec,) = records(path)
    found = triage_records([rec])
    p = found[0]
    assert (p.kind, p.detail, p.conn.where) == (kind, detail, where)
    assert (p.conn.capture, p.conn.uid) == (str(path), rec.uid)
    if path.name == "syn_only.pcap":  # the retransmitted SYN is a retransmission too
        assert [(q.kind, q.detail) for q in found[1:]] == [(
            Kind.RETRANSMISSIONS, "50% of the segments retransmitted: 1 of 2 (1 client → "
            "server, 0 server → client), above 1%")]
    else:
        assert len(found) == 1


def test_records_and_frames_give_the_same_problems() -> None:
    """report.md (records) and report.html (the frames) ask one triage."""
    paths = [p for p, *_ in EXPECTED] + [ABSURD, REAL / "mixed.pcap"]
    recs = records(*paths)
    from_records = triage_records(recs)
    conns = Analysis(results(*paths)).connections.reset_index(drop=True)
    ws = websocket_frame(recs)
    sessions: dict[tuple[str, str], list[dict[Any, Any]]] = {}
    for row in ws.to_dict("records"):
        sessions.setdefault((str(row["capture"]), str(row["uid"])), []).append(row)
    from_frames = triage(Conn.from_row(i, row, sessions.get(
        (str(row["capture"]), str(row["uid"])), ()))
        for i, row in enumerate(conns.to_dict("records")))
    assert from_frames == from_records
    kinds = [p.kind for p in from_records]
    assert kinds == sorted(kinds, key=lambda k: k.rank)
    assert set(kinds) == set(Kind)  # every kind is on some bundled capture
    absurd = [(p.kind, p.conn.uid, p.detail) for p in from_records
              if p.conn.capture == str(ABSURD)]
    assert absurd == [
        (Kind.WEBSOCKET, "CDXkH85X7xz0OCb1Dq", "RFC 6455 violations: invalid_length (frame 15)"),
        (Kind.ANOMALY, "CWJhm7K0aZ9Zum3hD2", "frame 6: http_content_length_too_large"),
        (Kind.ANOMALY, "CDXkH85X7xz0OCb1Dq",
         "frame 15: ws_invalid_length; frame 17: ws_truncated_frame"),
    ]


# ----------------------------------------------------------------------- the reports


def md_rows(md: str) -> list[list[str]]:
    """The Problems table's rows (kind, capture, uid, client → server, problem), with
    md_escape's backslashes taken out."""
    section = md.split("## Problems", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")][1:]
    return [[re.sub(r"\\(.)", r"\1", c.strip()) for c in row.strip("|").split(" | ")]
            for row in rows]


def html_rows(html: str, table: str = "problems-table") -> list[dict[str, str]]:
    return Page(html).rows(table)


def render_both(res: list[CaptureResult]) -> tuple[str, str]:
    a = Analysis(res)
    md = render_markdown(res, {})
    html = render_html(a.connections, http_frame(a.records), websocket_frame(a.records),
                       a.summary(), [(c.path, c.status) for c in res])
    return md, html


def test_report_md_and_html_list_the_same_problems_with_where_they_come_from() -> None:
    paths = [p for p, *_ in EXPECTED]
    md, html = render_both(results(*paths))
    md_table = md_rows(md)
    syn_only = records(SYN / "syn_only.pcap")[0]
    extra = (SYN / "syn_only.pcap", Kind.RETRANSMISSIONS,
             "50% of the segments retransmitted: 1 of 2 (1 client → server, 0 server → "
             "client), above 1%", "10.0.0.1:40019 → 10.0.0.2:8080")
    # within a kind the worst first: syn_only's 50%, retransmission.pcap's 12.5%, then
    # lossy_ipv6's 6.41%; otherwise in the input order
    ordered = sorted([*EXPECTED, extra], key=lambda e: (
        e[1].rank, -float(e[2].split("%")[0]) if e[1] is Kind.RETRANSMISSIONS else 0))
    expected = [[k.label, str(p), f"`{rec.uid}`", where, detail]
                for p, k, detail, where in ordered for rec in records(p)]
    assert expected[8][2] == f"`{syn_only.uid}`"
    assert md_table == expected
    rows = html_rows(html)
    assert [[r["kind"], r["capture"], f"`{r['uid']}`", r["client → server"], r["detail"]]
            for r in rows] == [[k, Path(c).name, u, w, d] for k, c, u, w, d in expected]
    numbers = {r["uid"]: r["#"] for r in Page(html).rows("connections-table")}
    assert [r["conn"] for r in rows] == [f"#{numbers[r['uid']]}" for r in rows]
    lines = [line for line in md.split("## Problems", 1)[1].splitlines()
             if line.startswith("- **")]
    refused = records(SYN / "refused.pcap")[0].uid
    assert lines[:2] == [
        f"- **1 handshakes refused (the SYN answered by a RST)**: `{refused}`",
        f"- **1 handshakes unanswered (SYNs only)**: `{syn_only.uid}`",
    ]
    ws = [line for line in lines if "WebSocket" in line]
    assert ws == [f"- **2 invalid WebSocket handshakes or RFC 6455 violations**: "
                  f"`{records(WS / 'ws_wrong_accept.pcap')[0].uid}`, "
                  f"`{records(WS / 'ws_control_too_long.pcap')[0].uid}`"]
    assert "\\[::1\\]:58474 → \\[::1\\]:18112" in md  # IPv6 in brackets, escaped


def test_report_md_names_the_first_of_each_kind() -> None:
    (rec,) = records(SYN / "refused.pcap")
    many = [dataclasses.replace(rec, uid=f"C{i:017d}") for i in range(MAX_LISTED + 5)]
    md = render_markdown([CaptureResult(path=rec.capture, records=many, packets=2)], {})
    line = next(x for x in md.splitlines() if x.startswith("- **"))
    assert line == ("- **15 handshakes refused (the SYN answered by a RST)**: "
                    + ", ".join(f"`C{i:017d}`" for i in range(MAX_LISTED)) + " and 5 more")
    assert [r[2] for r in md_rows(md)] == [f"`C{i:017d}`" for i in range(MAX_LISTED)]
    assert (f"The first {MAX_LISTED} of each kind; report.html lists more, and "
            "connections.parquet has every connection.") in md


def test_no_problems_says_so() -> None:
    md, html = render_both(results(REAL / "client_close.pcapng"))
    assert "No problems found: every handshake completed" in md
    assert md_rows(md) == []
    assert "problems-table" not in html and 'class="problems-none"' in html


# ---------------------------------------------------------- many problems in the HTML


def many_refused(n: int, capture: str | None = None) -> str:
    """report.html of refused.pcap's connection n times and rst_abort's reset once."""
    res = results(SYN / "refused.pcap", REAL / "rst_abort.pcapng")
    (refused,), (reset,) = (c.records for c in res)
    recs = [dataclasses.replace(refused, uid=f"C{i:017d}", capture=capture or refused.capture)
            for i in range(n)] + [reset]
    a = Analysis([CaptureResult(path=str(SYN / "refused.pcap"), records=recs, packets=2)])
    return render_html(a.connections, http_frame(recs), websocket_frame(recs), a.summary(),
                       [(str(SYN / "refused.pcap"), "ok")])


def test_many_problems_of_one_kind_are_grouped_with_the_rest_folded() -> None:
    html = many_refused(45)
    page = Page(html)
    assert "problems-table" not in page.heads  # no flat table
    first = page.rows("problems-refused-table")
    folded = page.rows("problems-refused-more")
    assert [r["uid"] for r in first] == [f"C{i:017d}" for i in range(html_mod.GROUP_ROWS)]
    assert [r["uid"] for r in folded] == [f"C{i:017d}" for i in range(20, 45)]
    assert {r["kind"] for r in first + folded} == {"handshake refused"}
    assert [r["conn"] for r in folded[:2]] == ["#21", "#22"]
    assert [r["kind"] for r in page.rows("problems-reset-table")] == ["reset"]
    # the folded rows are inside the <details>, after its <summary>
    details = re.search(r'<details id="problems-refused-details"><summary>(.*?)</summary>'
                        r'(.*?)</details>', html, re.DOTALL)
    assert details is not None
    assert details.group(1) == "The other 25 (handshake refused)"
    assert 'id="problems-refused-more"' in details.group(2)
    assert html.count("<details") == 1  # the reset group has nothing to fold
    heads = re.findall(r'<div class="problem-group" id="problems-([\w-]+)">\s*<h3>(.*?)</h3>',
                       html)
    assert [(k, re.sub(r"<[^>]+>", "", h)) for k, h in heads] == [
        ("refused", "handshake refused 45 handshakes refused (the SYN answered by a RST)"),
        ("reset", "reset 1 connections ended by RST")]
    kinds = re.search(r'<ul class="kinds">(.*?)</ul>', html, re.DOTALL)
    assert kinds is not None
    assert re.findall(r"<li><b>(\d+)</b>([^<]+)</li>", kinds.group(1)) == [
        ("45", "handshake refused"), ("1", "reset")]
    assert 'id="total-problems">46<' in html
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))


def test_twenty_of_a_kind_stay_one_table() -> None:
    page = Page(many_refused(html_mod.GROUP_ROWS))
    assert [r["kind"] for r in page.rows("problems-table")] == (
        ["handshake refused"] * html_mod.GROUP_ROWS + ["reset"])
    assert "problems-refused-table" not in page.heads
    assert not [t for t, _ in page.tags if t == "details"]


def test_beyond_the_cap_a_note_says_how_many_are_left_out(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(html_mod, "MAX_PROBLEMS", 30)
    html = many_refused(45)
    page = Page(html)
    assert len(page.rows("problems-refused-table")) == 20
    assert len(page.rows("problems-refused-more")) == 10
    assert ("15 more handshake refused not shown: the report folder's connections.parquet "
            "has every connection.") in html


EVIL = '"><img src=x onerror=alert(1)><script>alert(1)<\\script>'  # no "/": a file name


def test_grouped_problems_keep_hostile_strings_as_text() -> None:
    html = many_refused(30, capture=f"captures/{EVIL}.pcap")
    page = Page(html)
    assert "<script>alert" not in html and "<img" not in html.lower()
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(1)" in html
    assert not [(t, k) for t, a in page.tags for k in a if k.lower().startswith("on")]
    assert [a for t, a in page.tags if t == "script"] == [{}]
    assert {r["capture"] for r in page.rows("problems-refused-more")} == {f"{EVIL}.pcap"}
    assert_offline(html)


# ---------------------------------------------------- the diagrams and diff ask it too


def test_pick_connections_draws_the_worst_of_each_kind_first() -> None:
    recs = records(REAL / "client_close.pcapng", REAL / "lossy_zero_window.pcapng",
                   SYN / "retransmission.pcap", SYN / "syn_retransmit.pcap",
                   REAL / "mixed.pcap")
    zero = next(r.uid for r in recs if r.capture.endswith("lossy_zero_window.pcapng"))
    refused = next(r.uid for r in recs if r.handshake == "refused")
    reset = next(r.uid for r in recs if r.end == "rst" and r.handshake != "refused")
    worst = next(r.uid for r in recs if r.capture.endswith("syn_retransmit.pcap"))  # 22.2%
    assert [r.uid for r in pick_connections(recs, limit=3)] == [refused, reset, worst]
    # then the zero window, then the first complete connection (client_close.pcapng's)
    assert [r.uid for r in pick_connections(recs, limit=5)] == [
        refused, reset, worst, zero, recs[0].uid]
    # above 30% nothing retransmits too much: the zero window comes third
    assert [r.uid for r in pick_connections(recs, limit=3, retrans_threshold=0.3)] == [
        refused, reset, zero]


def test_diff_counts_the_triage_failed_handshakes() -> None:
    recs = records(SYN / "refused.pcap", SYN / "syn_only.pcap", SYN / "synack_no_ack.pcap",
                   SYN / "rst_no_ack.pcap", SYN / "bad_synack_ack.pcap")
    assert diff.metrics(recs)["handshake_failures"] == 3
    ok = records(SYN / "rst_no_ack.pcap")
    changes = diff.diff(ok, recs[:1]).changes
    assert {"endpoint": "10.0.0.2:8080/tcp", "metric": "handshake_failures", "before": 0,
            "after": 1} in changes


def test_frames_with_nulls_read_as_absent() -> None:
    row = {"capture": "x.pcap", "uid": "C1", "proto": "tcp", "client_ip": "::1",
           "client_port": 5, "server_ip": "::2", "server_port": pd.NA, "handshake": None,
           "handshake_valid": pd.NA, "retrans_rate": float("nan"),
           "zero_window_advertisements_c2s": pd.NA, "anomalies": []}
    c = Conn.from_row(0, row)
    assert (c.where, c.handshake_valid, c.retrans_rate, c.anomalies) == (
        "[::1]:5 → [::2]", None, None, ())
    assert triage([c]) == []
