"""``-Y FILTER`` selects connections, not packets (issue 11): every connection with a packet
in a frame the filter matches is kept, built from all of its packets, so its record is the
one it has without the filter; tshark only finds the matching frames.

The expected connections are worked out here without the engine's selection: the frames
each filter matches, and which connection each frame's packets went to (a plain tracker fed
with the tshark loader's packets). For the three filters of every capture the frames are
read off one field export (``Export``: one tshark run instead of three), which gives the
frames of tshark's own ``-Y ... -T fields -e frame.number``
(``test_the_frames_are_the_ones_tshark_shows``); the tshark engine asks tshark for them
itself, as a run does, on every capture.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from engines import app_differs, comparable
from typer.testing import CliRunner

from analyzer import _engine
from analyzer.api import analyze_capture, resolve_engine, select
from analyzer.cli import app
from analyzer.core.records import ConnectionRecord
from analyzer.loader import LoadOptions
from analyzer.loader.tshark import AGG, FIELDS, parse_frame

pytestmark = pytest.mark.tshark
ROOT = Path(__file__).resolve().parents[1]
CAPTURES = [p for group in ("real", "synthetic", "ws", "ws_synthetic", "engine")
            for p in sorted((ROOT / "captures" / group).glob("*.pcap*"))
            if p.name != "wifi_80211.pcap"]
RST = "tcp.flags.reset == 1"
TUNNELS = ROOT.parent / "shared" / "oracle" / "zeek-tunnels"
runner = CliRunner()


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def tshark_frames(path: Path, expression: str) -> frozenset[int]:
    """The frames tshark itself shows for the filter."""
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-Y", expression, "-T", "fields",
                          "-e", "frame.number"], capture_output=True, text=True, check=False)
    return frozenset(int(x) for x in out.stdout.split())


def _values(column: str) -> list[str]:
    """Every occurrence of a field (tshark joins them with AGG; a port field's two values,
    source and destination, with a comma)."""
    return [v for part in column.split(AGG) for v in part.split(",") if v]


#: The fields the three test filters look at, exported after the tshark loader's.
FILTER_FIELDS = ("http", "tcp.flags.reset", "tcp.port", "udp.port")


@dataclasses.dataclass
class Export:
    """One tshark export of every frame, with tshark's default dissection (as
    ``tshark_frames``): which connection each frame's packets went to (the tshark loader's
    packets and a plain tracker, no selection), and the values of the fields the three
    test filters look at, so that one tshark run answers all three (``==`` on a field with
    several occurrences, a tunnel's or an ICMP error's, holds when one of them is equal;
    ``http`` is the HTTP protocol item, not ``http`` in ``frame.protocols``, which also
    lists it for WebSocket frames)."""

    owners: dict[str, frozenset[int]]
    rst: frozenset[int]
    http: frozenset[int]
    tcp_ports: dict[int, frozenset[int]]
    udp_ports: dict[int, frozenset[int]]

    def frames(self, expression: str) -> frozenset[int]:
        if expression == RST:
            return self.rst
        if expression == "http":
            return self.http
        kind, _, port = expression.partition(".port == ")
        return (self.tcp_ports if kind == "tcp" else self.udp_ports).get(int(port), frozenset())


@cache
def export(path: Path) -> Export:
    args = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "separator=/t",
            "-E", "occurrence=a", "-E", f"aggregator={AGG}"]
    for name in (*FIELDS, *FILTER_FIELDS):
        args += ["-e", name]
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    tracker = _engine.Tracker()
    by_id: dict[int, set[int]] = {}
    rst: set[int] = set()
    http: set[int] = set()
    tcp_ports: dict[int, set[int]] = {}
    udp_ports: dict[int, set[int]] = {}
    for line in proc.stdout.splitlines():
        c = line.split("\t")
        frame = int(c[0])
        has_http, resets, tcp, udp = (_values(v) for v in c[len(FIELDS):])
        if has_http:
            http.add(frame)
        if any(v in ("1", "True") for v in resets):
            rst.add(frame)
        for ports, values in ((tcp_ports, tcp), (udp_ports, udp)):
            for port in {int(v) for v in values}:
                ports.setdefault(port, set()).add(frame)
        for p in parse_frame(c[:len(FIELDS)]):
            cid, _ = tracker.feed(p)
            by_id.setdefault(cid, set()).add(p.frame)
    tracker.finish()
    return Export(
        owners={d["uid"]: frozenset(by_id.get(d["id"], ())) for d in tracker.take_records()},
        rst=frozenset(rst), http=frozenset(http),
        tcp_ports={k: frozenset(v) for k, v in tcp_ports.items()},
        udp_ports={k: frozenset(v) for k, v in udp_ports.items()})


def expected(path: Path, frames: frozenset[int]) -> set[str]:
    """The connections with a packet in one of the frames."""
    return {uid for uid, fs in export(path).owners.items() if fs & frames}


def filters(records: list[ConnectionRecord]) -> list[str]:
    """A RST filter, ``http`` and a port the capture has."""
    tcp = [r.server_port for r in records if r.proto == "tcp"]
    udp = [r.server_port for r in records if r.proto == "udp"]
    port = f"tcp.port == {tcp[0]}" if tcp else f"udp.port == {udp[0]}" if udp else "tcp.port == 80"
    return [RST, "http", port]


def read(path: Path, engine: str, frames: frozenset[int] | None = None,
         expression: str | None = None) -> list[ConnectionRecord]:
    """A read; with ``frames``, those the filter matched (``select`` is then not run)."""
    options = LoadOptions(engine=engine, display_filter=expression,
                          select_frames=None if frames is None else sorted(frames))
    result = analyze_capture(path, options)
    assert result.error is None, result.error
    assert result.engine == engine
    return result.records


@dataclasses.dataclass
class Case:
    """One capture: its records without a filter, and for each filter the frames it
    matches, the connections expected and what the native engine kept (given those frames);
    and for one of the filters (each capture another), the records of the tshark engine,
    which asks tshark for the frames itself."""

    path: Path
    plain: dict[str, dict[str, Any]]
    runs: list[tuple[str, frozenset[int], set[str], dict[str, ConnectionRecord]]]
    checked: tuple[str, dict[str, ConnectionRecord], dict[str, ConnectionRecord]]


def _case(index: int, path: Path) -> Case:
    plain_records = read(path, "native")
    plain = {r.uid: dataclasses.asdict(r) for r in plain_records}
    runs = []
    for expression in filters(plain_records):
        frames = export(path).frames(expression)
        kept = {r.uid: r for r in read(path, "native", frames, expression)}
        runs.append((expression, frames, expected(path, frames), kept))
    expression, _, _, native = runs[index % len(runs)]
    # The tshark engine asks tshark for the frames itself (``select``), as a run does.
    tshark = {r.uid: r for r in read(path, "tshark", expression=expression)}
    return Case(path, plain, runs, (expression, native, tshark))


@pytest.fixture(scope="module")
def cases() -> dict[Path, Case]:
    """Every capture read with every filter, several at a time (tshark's start-up is most
    of the cost)."""
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2) * 2) as pool:
        done = list(pool.map(_case, range(len(CAPTURES)), CAPTURES))
    return {c.path: c for c in done}


@pytest.mark.parametrize("path", CAPTURES, ids=_id)
def test_kept_connections_are_those_with_a_matching_frame_and_whole(
        cases: dict[Path, Case], path: Path) -> None:
    case = cases[path]
    assert case.plain, "every bundled capture has connections"
    for expression, frames, want, kept in case.runs:
        assert set(kept) == want, (expression, sorted(frames))
        for uid, record in kept.items():
            # The full record, field for field (lifecycle, verdict, counts, HTTP, health).
            assert dataclasses.asdict(record) == case.plain[uid], (expression, uid)
        assert list(kept) == [uid for uid in case.plain if uid in kept]  # in start order


@pytest.mark.parametrize("path", CAPTURES, ids=_id)
def test_both_engines_keep_the_same_records(
        cases: dict[Path, Case], path: Path) -> None:
    expression, native, tshark = cases[path].checked
    assert list(tshark) == list(native), expression
    for uid, record in tshark.items():
        app = not app_differs(path.name, uid)
        assert comparable(record, app=app) == comparable(native[uid], app=app), (expression, uid)


def test_the_filters_cover_what_they_should(cases: dict[Path, Case]) -> None:
    """The three filters keep something somewhere, and not always everything."""
    for n, label in enumerate(("RST", "http", "port")):
        kept = [len(c.runs[n][3]) for c in cases.values()]
        assert sum(kept) > 5, label
        assert any(k < len(c.plain) for k, c in zip(kept, cases.values(), strict=True)), label
    # The RST filter keeps rst_abort's one connection, handshake and all.
    (record,) = cases[ROOT / "captures/real/rst_abort.pcapng"].runs[0][3].values()
    assert (record.handshake, record.closer, record.rst_by) == ("complete", "client", "client")


@pytest.mark.parametrize("path", [ROOT / "captures/engine/absurd_lengths.pcap",
                                  ROOT / "captures/engine/fragments.pcap",
                                  ROOT / "captures/real/mixed.pcap",
                                  ROOT / "captures/ws/ws_ipv6.pcapng"], ids=_id)
def test_the_frames_are_the_ones_tshark_shows(path: Path) -> None:
    """The frames a run asks tshark for (``select``, with the read's dissection options)
    and those read off the test's export are the frames ``tshark -Y`` shows (absurd_lengths
    has WebSocket frames, which do not match ``http``)."""
    for expression in filters(read(path, "native")):
        shown = tshark_frames(path, expression)
        assert export(path).frames(expression) == shown, expression
        options = select(path, LoadOptions(display_filter=expression))
        assert options.select_frames is not None
        assert list(options.select_frames) == sorted(shown), expression


def test_a_display_filter_alone_reads_with_the_native_engine() -> None:
    assert resolve_engine(LoadOptions(display_filter="tcp")) == "native"
    assert resolve_engine(LoadOptions(display_filter="tcp", decode_as=("x",))) == "tshark"
    result = analyze_capture(ROOT / "captures/real/mixed.pcap", LoadOptions(display_filter=RST))
    assert result.engine == "native" and result.notes == []
    assert [r.conn_state for r in result.records] == ["REJ", "RSTO"]


def test_fragments_count_in_the_frame_of_their_last_fragment() -> None:
    """tshark shows a datagram reassembled from IP fragments in the frame of its last
    fragment (``udp`` matches 3 and 7, and the reply 4; not 1, 2, 5, 6), which is where both engines
    put its packet: a filter on the reassembled datagram keeps its flow; one that only
    matches the earlier fragments keeps nothing, in both engines alike."""
    path = ROOT / "captures/engine/fragments.pcap"
    assert tshark_frames(path, "udp") == {3, 4, 7}
    assert tshark_frames(path, "ip.flags.mf == 1") == {1, 2}
    plain = read(path, "native")
    assert [r.first_frame for r in plain] == [3, 7]
    for engine in ("native", "tshark"):
        kept = analyze_capture(path, LoadOptions(engine=engine, display_filter="udp.length > 1000"))
        assert [r.uid for r in kept.records] == [r.uid for r in plain]
        assert [dataclasses.asdict(r) for r in kept.records] == (
            [dataclasses.asdict(r) for r in plain] if engine == "native" else
            [dataclasses.asdict(r) for r in read(path, "tshark")])
        only_fragments = analyze_capture(
            path, LoadOptions(engine=engine, display_filter="ip.flags.mf == 1"))
        assert only_fragments.records == []
        assert only_fragments.notes == [
            f"{path}: the display filter 'ip.flags.mf == 1' matches 2 packets, none of them "
            "in a TCP, UDP or ICMP connection"]


@pytest.mark.skipif(not (TUNNELS / "vxlan.pcap").exists(), reason="Zeek's tunnel traces")
@pytest.mark.parametrize("engine", ["native", "tshark"])
def test_a_tunnels_outer_flow_is_kept_only_for_its_own_packets(engine: str) -> None:
    """VXLAN: the pings go in one outer UDP flow and the replies in another; a filter on the
    replies keeps the inner ICMP flow and the replies' outer flow, not the requests'."""
    path = TUNNELS / "vxlan.pcap"
    plain = {r.uid: r for r in read(path, engine)}
    kept = read(path, engine, expression="icmp.type == 0")
    assert sorted((r.proto, r.server_port, r.first_frame) for r in kept) == [
        ("icmp", 0, 3), ("udp", 4789, 4)]
    for r in kept:
        assert r == plain[r.uid]
    (inner,) = [r for r in kept if r.proto == "icmp"]
    assert len(inner.tunnel_parents) == 2  # both parents named, one of them not kept
    assert {r.uid for r in kept} == expected(path, tshark_frames(path, "icmp.type == 0"))


def cli(*args: str, engine: str = "auto") -> Any:
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return runner.invoke(app, ["--engine", engine, *args])
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("engine", ["auto", "native", "tshark"])
def test_a_filter_that_matches_nothing_says_so(engine: str) -> None:
    capture = "captures/real/http10.pcapng"
    note = f"note: {capture}: no packet matches the display filter 'tcp.port == 1'"
    commands = [["connections", capture, "-f", "jsonl"]]  # streamed as the engine reads
    if engine == "auto":
        commands += [["connections", capture, "-f", "json"], ["summary", capture, "-f", "json"],
                     ["check", capture, "--rule", "count() == 0"]]
    for args in commands:
        result = cli(*args, "-Y", "tcp.port == 1", engine=engine)
        assert result.exit_code == 0, (args, result.output)
        assert result.stderr.splitlines() == [note], args
    assert cli("connections", capture, "-f", "jsonl", "-Y", "tcp.port == 1",
               engine=engine).stdout == ""
    # A filter that matches: no note.
    result = cli("connections", capture, "-f", "jsonl", "-Y", "http", engine=engine)
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.count("\n") == 1


@pytest.mark.parametrize("engine", ["auto", "native", "tshark"])
def test_a_bad_filter_is_still_a_usage_error(engine: str) -> None:
    result = cli("connections", "captures/real/http10.pcapng", "-Y", "tcp.port ===",
                 engine=engine)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line == "error: bad display filter 'tcp.port ===': Unexpected end of filter expression."


@pytest.mark.parametrize("engine", ["auto", "tshark"])
def test_explain_with_a_rst_filter_draws_the_whole_connection(engine: str) -> None:
    capture = "captures/real/rst_abort.pcapng"
    by_filter = cli("explain", capture, "-Y", RST, engine=engine)
    assert by_filter.exit_code == 0, by_filter.output
    (record,) = read(ROOT / capture, "native")
    by_uid = cli("explain", capture, "--conn", record.uid, engine=engine)
    assert by_uid.exit_code == 0, by_uid.output
    assert by_filter.stdout == by_uid.stdout
    text: str = by_filter.stdout
    frames = [line.split()[0] for line in text.splitlines() if line[:6].strip().isdigit()]
    assert frames == [str(n) for n in range(1, 9)]  # SYN, SYN-ACK, ACK ... the RST
    assert "client 127.0.0.1:34034  ->  server 127.0.0.1:18084" in text
    assert "Handshake complete" in text
    assert "The client (127.0.0.1:34034) aborted the connection with a RST" in text


def test_records_stream_the_same_with_a_filter() -> None:
    """The streamed writer (jsonl, batches as the engine reads) and the buffered one (json)
    give the same kept records."""
    import json

    capture = "captures/real/mixed.pcap"
    lines = cli("connections", capture, "-f", "jsonl", "-Y", RST).stdout.splitlines()
    whole = json.loads(cli("connections", capture, "-f", "json", "-Y", RST).stdout)
    assert [json.loads(x) for x in lines] == whole
    assert [r["conn_state"] for r in whole] == ["REJ", "RSTO"]


def test_the_reports_ladder_of_a_kept_connection_is_whole(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = cli("report", "captures/real/rst_abort.pcapng", "--out", str(out), "-Y", RST)
    assert result.exit_code == 0, result.output
    markdown = (out / "report.md").read_text()
    assert "no.1 +0.000ms SYN seq=0" in markdown and "no.8 +50.525ms RST,ACK" in markdown
