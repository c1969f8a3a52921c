"""The self-contained HTML report: real tshark on real captures, the numbers it must show,
hostile packet strings that must stay text, and a headless Chromium that renders it."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analyzer.api import Analysis, analyze_capture
from analyzer.report.app import http_frame, websocket_frame
from analyzer.report.html import render_html

pytestmark = pytest.mark.tshark
ROOT = Path(__file__).resolve().parents[1]
CAPTURES = ROOT / "captures"

MIXED = CAPTURES / "real/mixed.pcap"
WS_OK = CAPTURES / "ws_synthetic/ws_ok.pcap"
WS_WRONG_ACCEPT = CAPTURES / "ws_synthetic/ws_wrong_accept.pcap"
CLOSE_WAIT = CAPTURES / "synthetic/close_wait_leak.pcap"
SYN_RETRANSMIT = CAPTURES / "synthetic/syn_retransmit.pcap"
REFUSED = CAPTURES / "real/refused.pcapng"
RST_ABORT = CAPTURES / "real/rst_abort.pcapng"
NOT_A_CAPTURE = CAPTURES / "synthetic/bad/not_a_capture.pcap"
TRUNCATED = CAPTURES / "synthetic/bad/truncated.pcap"
UDP = CAPTURES / "synthetic/udp.pcap"

SUMMARY_KEYS = ("capture", "tcp", "udp", "complete", "refused", "unanswered", "incomplete",
                "not_seen", "fin", "rst", "half_closed", "open", "closer_client",
                "closer_server", "closer_both", "tw_client", "tw_server", "tw_both", "tw_none",
                "rtt_p50", "rtt_p95")
CHARTS = ("chart-ends", "chart-time_wait", "chart-rtt", "chart-timeline", "chart-data_rtt")
#: Only when some connection retransmitted (syn_retransmit.pcap, retransmission.pcap).
RETRANS_CHART = "chart-retrans"


# ------------------------------------------------------------------------------- helpers


def frames(paths: list[Path]) -> tuple[Analysis, dict[str, Any]]:
    """Analyze the captures with the real tshark and build render_html's arguments."""
    results = [analyze_capture(p) for p in paths]
    analysis = Analysis(results)
    records = analysis.records
    return analysis, {
        "connections": analysis.connections,
        "http": http_frame(records),
        "websockets": websocket_frame(records),
        "summary": analysis.summary(),
        "captures": [(r.path, r.status) for r in results],
    }


def report(paths: list[Path], **kwargs: Any) -> str:
    return render_html(**frames(paths)[1], **kwargs)


class Page(HTMLParser):
    """Every start tag with its attributes, and each table's header and body rows as text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.heads: dict[str, list[list[str]]] = {}
        self.bodies: dict[str, list[list[str]]] = {}
        self.text: list[str] = []
        self._table: str | None = None
        self._in_head = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self._table = dict(attrs).get("id") or f"table{len(self.bodies)}"
            self.heads[self._table], self.bodies[self._table] = [], []
        elif tag == "thead":
            self._in_head = True
        elif tag == "tbody":
            self._in_head = False
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            (self.heads if self._in_head else self.bodies)[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def rows(self, table: str) -> list[dict[str, str]]:
        """Body rows keyed by the header's last row (the column names)."""
        head = self.heads[table][-1]
        return [dict(zip(head, row, strict=True)) for row in self.bodies[table]]

    def summary(self) -> dict[str, dict[str, str]]:
        return {row[0]: dict(zip(SUMMARY_KEYS, row, strict=True))
                for row in self.bodies["summary-table"]}

    def attr(self, tag: str, name: str) -> list[str | None]:
        return [attrs.get(name) for t, attrs in self.tags if t == tag]


def assert_offline(html: str) -> None:
    """Nothing in the page can fetch anything: no external script, style, image or font."""
    assert re.findall(r"<script\b[^>]*>", html) == ["<script>"]
    for tag in ("<link", "<iframe", "<img", "<object", "<embed", "<base", "http-equiv=\"refresh"):
        assert tag not in html.lower()
    assert "@import" not in html
    remote = r"""\b(?:src|href|action|srcset|poster|data)\s*=\s*["']?\s*(?:[a-z]+:)?//"""
    assert not re.search(remote, html, re.IGNORECASE)
    assert set(re.findall(r"url\((.)", html)) <= {"#"}
    assert "default-src 'none'" in html  # the CSP forbids every fetch


# ------------------------------------------------------------------- content and numbers


@pytest.fixture(scope="module")
def mixed_html() -> str:
    return report([MIXED, WS_OK, CLOSE_WAIT, WS_WRONG_ACCEPT, NOT_A_CAPTURE, TRUNCATED],
                  title="pcap-analyzer report (TShark 4.0.17)", generated="2025-06-01 12:00 UTC")


def test_summary_numbers(mixed_html: str) -> None:
    page = Page(mixed_html)
    s = page.summary()
    mixed = s["mixed.pcap"]
    assert (mixed["tcp"], mixed["complete"], mixed["refused"], mixed["unanswered"]) == (
        "4", "3", "1", "0")
    assert (mixed["fin"], mixed["rst"], mixed["half_closed"], mixed["open"]) == (
        "2", "2", "0", "0")
    assert (mixed["closer_client"], mixed["closer_server"]) == ("2", "1")
    assert (mixed["tw_client"], mixed["tw_server"], mixed["tw_none"]) == ("1", "1", "2")
    assert (mixed["rtt_p50"], mixed["rtt_p95"]) == ("0.025", "0.035")
    leak = s["close_wait_leak.pcap"]
    assert (leak["half_closed"], leak["closer_client"], leak["tw_none"]) == ("1", "1", "1")
    assert s["ws_ok.pcap"]["rtt_p50"] == "0.500"
    assert "not_a_capture.pcap" not in s  # unreadable: only in the status table
    assert "truncated.pcap" in s  # read up to the cut
    assert "<h1>pcap-analyzer report (TShark 4.0.17)</h1>" in mixed_html
    assert "generated 2025-06-01 12:00 UTC" in mixed_html


def test_capture_status_table_lists_every_input(mixed_html: str) -> None:
    rows = Page(mixed_html).rows("captures-table")
    by_path = {r["capture"]: r for r in rows}
    assert list(by_path) == [str(p) for p in (MIXED, WS_OK, CLOSE_WAIT, WS_WRONG_ACCEPT,
                                              NOT_A_CAPTURE, TRUNCATED)]
    assert by_path[str(MIXED)]["status"] == "ok"
    assert by_path[str(MIXED)]["connections"] == "4"
    bad = by_path[str(NOT_A_CAPTURE)]["status"]
    assert bad.startswith("error") and "not a capture file" in bad
    assert "truncated after frame 7" in by_path[str(TRUNCATED)]["status"]


def test_connections_table(mixed_html: str) -> None:
    rows = [r for r in Page(mixed_html).rows("connections-table") if r["capture"] == "mixed.pcap"]
    assert [r["handshake"] for r in rows] == ["complete", "complete", "refused", "complete"]
    assert [r["end"] for r in rows] == ["fin", "fin", "rst", "rst"]
    assert [r["closer"] for r in rows] == ["client", "server", "", "client"]
    assert [r["TIME_WAIT"] for r in rows] == ["client", "server", "", ""]
    assert [r["conn_state"] for r in rows] == ["SF", "SF", "REJ", "RSTO"]
    assert [r["history"] for r in rows] == ["ShADadFf", "ShADadfF", "Sr", "ShADadR"]
    assert rows[0]["client"] == "127.0.0.1:44966" and rows[0]["server"] == "127.0.0.1:18090"
    assert rows[0]["client state"] == "TIME_WAIT" and rows[0]["server state"] == "CLOSED"
    assert rows[0]["rtt ms"] == "0.025" and rows[2]["rtt ms"] == ""
    assert re.fullmatch(r"C[0-9A-Za-z]{17}", rows[0]["uid"])
    assert [r["#"] for r in rows] == ["1", "2", "3", "4"]


def test_http_and_websocket_tables(mixed_html: str) -> None:
    page = Page(mixed_html)
    http = page.rows("http-table")
    assert [(r["method"], r["target"], r["host"], r["status"])
            for r in http if r["capture"] == "mixed.pcap"] == [
        ("GET", "/item/1", "127.0.0.1:18090", "200"),
        ("GET", "/item/2", "127.0.0.1:18090", "200"),
        ("GET", "/", "127.0.0.1:18091", "200"),
    ]
    ws = {r["capture"]: r for r in page.rows("websockets-table")}
    ok = ws["ws_ok.pcap"]
    assert (ok["target"], ok["host"], ok["status"], ok["established"]) == (
        "/ws", "10.0.0.2:8765", "101", "yes")
    assert (ok["close code"], ok["reply code"], ok["close by"], ok["close reason"]) == (
        "1000", "1000", "client", "bye")
    bad = ws["ws_wrong_accept.pcap"]
    assert bad["established"] == "no" and bad["problems"] == "wrong_accept (frame 5)"


def test_problems_come_first(mixed_html: str) -> None:
    page = Page(mixed_html)
    ids = [a.get("id") for t, a in page.tags if t == "section"]
    assert ids[0] == "problems"
    problems = [(r["kind"], r["capture"], r["detail"]) for r in page.rows("problems-table")]
    assert problems[0][0] == "capture error" and "not a capture file" in problems[0][2]
    assert ("handshake refused", "mixed.pcap", "the SYN was answered by a RST") in problems
    assert ("reset", "mixed.pcap", "RST sent by the client") in problems
    assert ("CLOSE_WAIT left open", "close_wait_leak.pcap",
            "the server received the peer's FIN and never sent its own") in problems
    assert ("WebSocket problem", "ws_wrong_accept.pcap",
            "handshake failed, status 101: wrong_accept (frame 5)") in problems
    assert any(k == "capture warning" and c == "truncated.pcap" for k, c, _ in problems)
    assert not any(c == "ws_ok.pcap" for _, c, _ in problems)
    # every connection's row says where it comes from: capture, #N, uid, endpoints
    conns = {r["#"]: r for r in page.rows("connections-table")}
    refused = next(r for r in page.rows("problems-table") if r["kind"] == "handshake refused")
    conn = conns[refused["conn"].lstrip("#")]
    assert (refused["uid"], refused["client → server"]) == (
        conn["uid"], f"{conn['client']} → {conn['server']}")
    assert refused["client → server"] == "127.0.0.1:56863 → 127.0.0.1:18092"
    assert [r["kind"] for r in page.rows("problems-table")] == [
        "capture error", "capture warning", "handshake refused", "reset",
        "CLOSE_WAIT left open", "WebSocket problem"]


def test_charts_are_inline_svg(mixed_html: str) -> None:
    page = Page(mixed_html)
    assert sorted(i for i in page.attr("svg", "id") if i) == sorted(CHARTS)
    assert "<?xml" not in mixed_html and "<!DOCTYPE svg" not in mixed_html
    ids = [i for _, a in page.tags if (i := a.get("id"))]
    assert len(ids) == len(set(ids)), "element ids must be unique across the charts"


def test_page_is_offline_and_deterministic(mixed_html: str) -> None:
    assert_offline(mixed_html)
    assert "http://" not in mixed_html and "https://" not in mixed_html
    again = report([MIXED, WS_OK, CLOSE_WAIT, WS_WRONG_ACCEPT, NOT_A_CAPTURE, TRUNCATED],
                   title="pcap-analyzer report (TShark 4.0.17)",
                   generated="2025-06-01 12:00 UTC")
    assert again == mixed_html


def test_sorting_script_is_inline(mixed_html: str) -> None:
    page = Page(mixed_html)
    sortable = [a.get("id") for t, a in page.tags
                if t == "table" and "sortable" in (a.get("class") or "")]
    assert {"captures-table", "problems-table", "summary-table", "connections-table",
            "http-table", "websockets-table"} <= set(sortable)
    assert 'querySelectorAll("table.sortable")' in mixed_html
    assert "Intl.Collator" in mixed_html and "numeric: true" in mixed_html


def test_checks_table_and_failed_checks_in_problems() -> None:
    checks: list[dict[str, object]] = [
        {"capture": str(MIXED), "rule": "max_rst_ratio <= 0.1", "passed": False,
         "measured": 0.5, "severity": "error"},
        {"capture": str(MIXED), "rule": "handshake_rtt_p95_ms <= 50", "passed": True,
         "measured": 0.035, "severity": "warning"},
    ]
    page = Page(report([MIXED], checks=checks))
    rows = page.rows("checks-table")
    assert [(r["rule"], r["result"], r["measured"]) for r in rows] == [
        ("max_rst_ratio <= 0.1", "fail", "0.5"), ("handshake_rtt_p95_ms <= 50", "pass", "0.035")]
    problems = page.rows("problems-table")
    assert problems[0]["kind"] == "check failed"
    assert problems[0]["detail"] == "max_rst_ratio <= 0.1: measured 0.5 (error)"


def test_no_data_notes_instead_of_charts() -> None:
    only_bad = report([NOT_A_CAPTURE])
    assert "<svg" not in only_bad
    assert "No TCP connections." in only_bad
    assert "No completed handshakes, so no RTT to show." in only_bad
    assert "No connections." in only_bad and "No HTTP transactions." in only_bad
    assert "No capture could be read." in only_bad
    assert_offline(only_bad)
    udp = Page(report([UDP]))
    assert [i for i in udp.attr("svg", "id") if i] == ["chart-timeline"]
    assert [r["proto"] for r in udp.rows("connections-table")] == ["udp", "udp"]


def test_rtt_histogram_switches_to_log_scale_for_wide_ranges() -> None:
    _, kw = frames([MIXED, SYN_RETRANSMIT])
    html = render_html(**kw)
    rtt = kw["connections"]["handshake_rtt_s"].dropna() * 1000
    assert rtt.max() / rtt.min() > 1000
    assert Page(html).summary()["syn_retransmit.pcap"]["rtt_p50"].startswith("3000.")
    assert 'id="chart-rtt"' in html


# ------------------------------------------------------------------------ hostile strings

EVIL_SCRIPT = "<script>alert(1)</script>"
EVIL_ATTR = '"><img src=x onerror=alert(1)>'
EVIL_SVG = "'><svg onload=alert(1)>"
EVIL_CELL = "</td></tr></table><script>alert(2)</script>"


def hostile_page() -> tuple[str, dict[str, Any]]:
    """ws_ok.pcap and mixed.pcap with every packet-derived (and path) string replaced."""
    _, kw = frames([WS_OK, MIXED])
    evil_path = f"captures/{EVIL_SCRIPT}{EVIL_ATTR}.pcap"
    conns: pd.DataFrame = kw["connections"].copy()
    http: pd.DataFrame = kw["http"].copy()
    ws: pd.DataFrame = kw["websockets"].copy()
    summary: pd.DataFrame = kw["summary"].copy()
    for df in (conns, http, ws, summary):
        df["capture"] = df["capture"].astype(object).where(
            df["capture"] != str(WS_OK), evil_path)
    conns["history"] = conns["history"].astype(object)
    conns.loc[0, "history"] = EVIL_SCRIPT
    conns["anomalies"] = [[f"frame 3: {EVIL_ATTR}"]] * len(conns)
    conns["end"] = conns["end"].astype(object)
    conns.loc[1, "end"] = EVIL_ATTR  # a hand-built frame with a bad category
    for col, value in (("method", EVIL_SVG), ("target", EVIL_SCRIPT), ("host", EVIL_ATTR),
                       ("reason", EVIL_CELL)):
        http[col] = value
    for col, value in (("request_target", EVIL_SCRIPT), ("host", EVIL_ATTR),
                       ("subprotocol", EVIL_SVG), ("close_reason", EVIL_CELL)):
        ws[col] = [value] * len(ws)
    ws["problems"] = [[{"problem": EVIL_SCRIPT, "frame": 3}]] * len(ws)
    ws["established"] = False
    captures = [(evil_path, f"warning: {EVIL_ATTR}"), (str(MIXED), "ok")]
    checks: list[dict[str, object]] = [
        {"capture": evil_path, "rule": EVIL_SCRIPT, "passed": False, "measured": EVIL_ATTR,
         "severity": EVIL_SVG}]
    html = render_html(conns, http, ws, summary, captures, title=f"report {EVIL_SCRIPT}",
                       generated=EVIL_ATTR, checks=checks)
    return html, {"path": evil_path}


def test_hostile_strings_are_escaped() -> None:
    html, _ = hostile_page()
    low = html.lower()
    assert "<script>alert" not in low and "<img" not in low and "<svg onload" not in low
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&#39;&gt;&lt;svg onload=alert(1)&gt;" in html
    assert "&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;script&gt;alert(2)" in html
    page = Page(html)
    assert not [t for t, _ in page.tags if t in ("img", "iframe", "object", "embed")]
    handlers = [(t, k) for t, a in page.tags for k in a if k.lower().startswith("on")]
    assert handlers == []
    assert [a for t, a in page.tags if t == "script"] == [{}]
    assert sorted(i for i in page.attr("svg", "id") if i) == sorted(CHARTS)
    for svg in re.findall(r"<svg\b.*?</svg>", html, re.DOTALL):
        assert "alert" not in svg  # charts carry numbers and fixed labels only
    # the hostile strings are still shown, as text, where they belong
    ws = page.rows("websockets-table")[0]
    assert (ws["target"], ws["host"], ws["subprotocol"], ws["close reason"]) == (
        EVIL_SCRIPT, EVIL_ATTR, EVIL_SVG, EVIL_CELL)
    assert ws["problems"] == f"{EVIL_SCRIPT} (frame 3)"
    http = page.rows("http-table")[0]
    assert (http["method"], http["target"], http["host"], http["reason"]) == (
        EVIL_SVG, EVIL_SCRIPT, EVIL_ATTR, EVIL_CELL)
    conn = page.rows("connections-table")
    assert conn[0]["history"] == EVIL_SCRIPT and conn[1]["end"] == EVIL_ATTR
    classes = " ".join(c or "" for c in page.attr("span", "class"))
    assert "onerror" not in classes and "img" not in classes
    assert_offline(html)


# ----------------------------------------------------------------------- headless Chromium


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; CI is set, so this is a failure "
                        "(make test installs it: apt-get install chromium)")
        pytest.skip("chromium is not installed (with CI set this is a failure)")
    return path


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}",
           *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_chromium_renders_the_report(tmp_path: Path) -> None:
    chromium()
    # ten connections, so that sorting "#" numerically differs from sorting it as text
    html = report([MIXED, WS_OK, CLOSE_WAIT, WS_WRONG_ACCEPT, REFUSED, RST_ABORT,
                   SYN_RETRANSMIT], title="pcap-analyzer report", generated="test")
    target = tmp_path / "report.html"
    target.write_text(html, encoding="utf-8")
    shot = tmp_path / "report.png"
    done = run_chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000",
                        target.as_uri())
    assert shot.exists(), done.stderr
    assert shot.stat().st_size > 10_000
    assert png_size(shot) == (1280, 2000)

    dom = run_chromium(tmp_path, "--dump-dom", target.as_uri() + "#sort=connections-table.0.desc")
    assert dom.returncode == 0, dom.stderr
    page = Page(dom.stdout)
    html_attrs = next(a for t, a in page.tags if t == "html")
    assert html_attrs.get("data-sortable") == "ready", "the inline script did not run"
    # SYN_RETRANSMIT's client sent its SYN twice: a retransmission, so the chart is there.
    assert sorted(i for i in page.attr("svg", "id") if i) == sorted((*CHARTS, RETRANS_CHART))
    mixed = page.summary()["mixed.pcap"]
    assert (mixed["tcp"], mixed["complete"], mixed["refused"]) == ("4", "3", "1")
    numbers = [r["#"] for r in page.rows("connections-table")]
    assert numbers == [str(n) for n in range(10, 0, -1)]  # numeric, not "9" > "10"
    sorted_th = [a for t, a in page.tags if t == "th" and a.get("aria-sort")]
    assert [a["aria-sort"] for a in sorted_th] == ["descending"]
    assert all(a.get("tabindex") == "0" for t, a in page.tags
               if t == "th" and "group" not in (a.get("class") or ""))

    dom = run_chromium(tmp_path, "--dump-dom", target.as_uri() + "#sort=connections-table.6.asc")
    rtts = [r["rtt ms"] for r in Page(dom.stdout).rows("connections-table")]
    filled = [r for r in rtts if r]
    assert filled == sorted(filled, key=float)
    assert rtts[len(filled):] == [""] * (len(rtts) - len(filled))  # empty cells last
    assert filled[-1].startswith("3000.")


def test_chromium_keeps_hostile_strings_as_text(tmp_path: Path) -> None:
    chromium()
    html, info = hostile_page()
    target = tmp_path / "hostile.html"
    target.write_text(html, encoding="utf-8")
    dom = run_chromium(tmp_path, "--dump-dom", target.as_uri())
    assert dom.returncode == 0, dom.stderr
    page = Page(dom.stdout)
    assert not [t for t, _ in page.tags if t in ("img", "iframe")]
    assert [t for t, _ in page.tags].count("script") == 1
    assert [t for t, _ in page.tags].count("svg") == len(CHARTS)
    assert next(a for t, a in page.tags if t == "html").get("data-sortable") == "ready"
    ws = page.rows("websockets-table")[0]
    assert ws["target"] == EVIL_SCRIPT and ws["host"] == EVIL_ATTR
    assert info["path"] in [r["capture"] for r in page.rows("captures-table")]
