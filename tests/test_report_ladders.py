"""report.html's ladders: the connections the report draws (``pick_connections``), each an
inline SVG drawn from numbers and fixed names only, each problem row linking to its ladder,
packets handed in by the re-read service (``analyzer.reread``)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from analyzer.api import analyze_capture
from analyzer.core.packets import PacketRecord
from analyzer.core.records import ConnectionRecord
from analyzer.loader import LoadOptions
from analyzer.report.explain import Fold, Step, fold, ladder
from analyzer.report.folder import LADDERS, write_report
from analyzer.report.html import MAX_LADDER_ROWS, ladder_svg
from analyzer.report.problems import pick_connections
from analyzer.reread import connection_packets, connections_packets, packet_source
from tests.test_html import Page, assert_offline

pytestmark = pytest.mark.tshark
ROOT = Path(__file__).resolve().parents[1]
CAPTURES = ROOT / "captures"
MIXED = CAPTURES / "real/mixed.pcap"
LOSSY = CAPTURES / "real/lossy_bulk.pcapng"
HOSTILE = CAPTURES / "hostile/hostile.pcap"
EVIL_NAME = "<svg onload=alert(7)>x.pcap"
OPTIONS = LoadOptions()


def svgs(html: str, cls: str = "ladder") -> dict[str, str]:
    return {m.group(1): m.group(0) for m in re.finditer(
        rf'<svg class="{cls}" id="([^"]+)".*?</svg>', html, re.DOTALL)}


def arrows(svg: str) -> int:
    return len(re.findall(r'<g class="arrow (?:c2s|s2c)"', svg))


def build(tmp_path: Path, *paths: Path) -> tuple[str, list[ConnectionRecord],
                                                 dict[str, list[PacketRecord]]]:
    results = [analyze_capture(p) for p in paths]
    records = [r for c in results for r in c.records]
    seen: dict[str, list[PacketRecord]] = {}

    def source(chosen: Sequence[ConnectionRecord]) -> dict[str, list[PacketRecord]]:
        found = connections_packets(chosen, OPTIONS)
        seen.update(found)
        return found

    out = tmp_path / "out"
    write_report(results, out, packets=source, step_summary=False)
    return (out / "report.html").read_text(encoding="utf-8"), records, seen


def test_each_drawn_connection_has_a_ladder_with_one_arrow_per_step(tmp_path: Path) -> None:
    html, records, seen = build(tmp_path, MIXED, LOSSY)
    chosen = pick_connections(records, LADDERS)
    assert chosen and set(seen) == {r.uid for r in chosen}
    ladders = svgs(html)
    numbers = {(r.capture, r.uid): i + 1 for i, r in enumerate(records)}
    assert sorted(ladders) == sorted(f"ladder-{numbers[(r.capture, r.uid)]}" for r in chosen)
    for rec in chosen:
        steps = ladder(rec, seen[rec.uid])
        shown = fold(steps)[:MAX_LADDER_ROWS]
        svg = ladders[f"ladder-{numbers[(rec.capture, rec.uid)]}"]
        assert arrows(svg) == sum(isinstance(i, Step) for i in shown) > 0
        assert svg.count('class="fold"') == sum(isinstance(i, Fold) for i in shown)
        frames = [int(f) for f in re.findall(r'data-frame="(\d+)"', svg)]
        assert frames == [i.frame for i in shown if isinstance(i, Step)]
    # lossy_bulk's bulk transfer is long enough to fold
    assert any('class="fold"' in s for s in ladders.values())
    # the section, the nav link, and each problem row of a drawn connection links to it
    page = Page(html)
    assert "ladders" in [a.get("id") for t, a in page.tags if t == "section"]
    links = {a.get("href") for t, a in page.tags if t == "a"}
    assert "#ladders" in links
    rows = page.rows("problems-table")
    linked = [r for r in rows if r["ladder"]]
    assert linked and all(r["ladder"] == "ladder" for r in linked)
    drawn = {f"#{numbers[(r.capture, r.uid)]}" for r in chosen}
    assert {r["conn"] for r in linked} <= drawn
    assert {f"#{i}" for i in ladders} <= links  # every ladder is linked to
    for r in rows:
        if r["conn"] in drawn:
            assert r["ladder"] == "ladder"
    assert_offline(html)
    handlers = [(t, k) for t, a in page.tags for k in a if k.lower().startswith("on")]
    assert handlers == []
    assert [a for t, a in page.tags if t == "script"] == [{}]
    ids = [i for _, a in page.tags if (i := a.get("id"))]
    assert len(ids) == len(set(ids))


def test_no_packet_string_inside_any_svg(tmp_path: Path) -> None:
    evil = tmp_path / EVIL_NAME
    shutil.copy(HOSTILE, evil)
    html, records, seen = build(tmp_path, evil, CAPTURES / "real/http10.pcapng")
    assert svgs(html), "the hostile capture's connections are drawn"
    targets = [m.target for ps in seen.values() for p in ps for m in p.http if m.is_request]
    assert targets, "the drawn connections carry HTTP requests"
    page = Page(html)
    for svg in re.findall(r"<svg\b.*?</svg>", html, re.DOTALL):
        assert "alert" not in svg and "script" not in svg.lower()
        assert "HTTP" not in svg and "GET" not in svg and "x.pcap" not in svg
        for target in targets:
            assert len(target) < 2 or target not in svg  # ("/" closes every tag)
        for rec in records:  # no address or port either: numbers of the ladder only
            assert rec.client_ip not in svg
    # the capture name is still shown, escaped, outside the SVG
    assert "&lt;svg onload=alert(7)&gt;x.pcap" in html
    assert "<svg onload" not in html
    assert [t for t, _ in page.tags].count("script") == 1
    handlers = [(t, k) for t, a in page.tags for k in a if k.lower().startswith("on")]
    assert handlers == []
    assert_offline(html)


def test_ladder_svg_from_steps() -> None:
    steps = [Step(1, 0.0, True, "ignored <script>", 0, "SYN_SENT", "LISTEN", False, 0x02, 0),
             Step(2, 0.1, False, "x", 0, "SYN_SENT", "SYN_RECEIVED", False, 0x12, 0, 1),
             *(Step(3 + i, 1.0 + i, i % 2 == 0, "HTTP GET /evil", 100, "ESTABLISHED",
                    "ESTABLISHED", True, 0x10, 1 + i, 1, ("retransmission", "bogus"))
               for i in range(10)),
             Step(13, 20.0, True, "x", 0, "FIN_WAIT_1", "<b>", False, 0x11, 50, 1)]
    items = fold(steps)
    svg = str(ladder_svg(4, items))
    assert svg.startswith('<svg class="ladder" id="ladder-4" ')
    assert arrows(svg) == sum(isinstance(i, Step) for i in items) == 5
    assert svg.count('class="fold"') == 1 and "8 data segments (frames 4–11)" in svg
    assert ">SYN seq=0</text>" in svg and ">SYN,ACK seq=0 ack=1</text>" in svg
    assert "FIN,ACK seq=50 ack=1" in svg
    assert "FIN_WAIT_1 / ?" in svg  # a state outside RFC 9293's names is not drawn
    assert "ignored" not in svg and "HTTP" not in svg and "<b>" not in svg
    assert 'class="arrow c2s"' in svg and 'class="arrow s2c"' in svg


def test_the_service_reads_what_explain_reads() -> None:
    (result,) = [analyze_capture(MIXED)]
    chosen = pick_connections(result.records, LADDERS)
    batch = packet_source(OPTIONS)(chosen)
    for rec in chosen:
        one = connection_packets(rec, OPTIONS)
        assert [p.frame for p in batch[rec.uid]] == [p.frame for p in one]
        assert ladder(rec, batch[rec.uid]) == ladder(rec, one)


def test_write_report_without_a_source_draws_no_ladder(tmp_path: Path) -> None:
    write_report([analyze_capture(MIXED)], tmp_path, step_summary=False)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert svgs(html) == {} and 'id="ladders"' not in html
    assert "```mermaid" not in (tmp_path / "report.md").read_text(encoding="utf-8")
