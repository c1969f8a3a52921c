"""A response whose body never completed: only its connection is read again.

tshark reports a response once its body is complete. When the client resets the connection
mid-body, the response is never reported in that mode, so the analyzer copies that
connection's frames into a small capture and reads it again with responses reported at the
end of their head. The capture here (built with scapy) interleaves two keep-alive
connections to the same server: one whose chunked response completes, one whose
Content-Length response is cut off by the client's RST.
"""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Packet
from scapy.utils import PcapNgWriter, wrpcap

from analyzer.api import _analyze_once, analyze_capture
from analyzer.core.records import ConnectionRecord
from analyzer.loader import LoadOptions
from analyzer.loader.extract import extract_frames

pytestmark = pytest.mark.tshark

CLIENT, SERVER = "10.1.0.1", "10.1.0.2"
CHUNKED_BODY = b"5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n"
CUT_BODY = b"x" * 1000


class Conn:
    """seq/ack bookkeeping for one scripted connection."""

    def __init__(self, sport: int, isn_c: int, isn_s: int) -> None:
        self.sport, self.c, self.s = sport, isn_c, isn_s

    def pkt(self, from_client: bool, flags: str, data: bytes = b"") -> Packet:
        if from_client:
            ip, tcp = IP(src=CLIENT, dst=SERVER), TCP(sport=self.sport, dport=8080,
                                                      seq=self.c, ack=self.s, flags=flags)
        else:
            ip, tcp = IP(src=SERVER, dst=CLIENT), TCP(sport=8080, dport=self.sport,
                                                      seq=self.s, ack=self.c, flags=flags)
        grow = len(data) + (1 if "S" in flags or "F" in flags else 0)
        if from_client:
            self.c += grow
        else:
            self.s += grow
        return Ether() / ip / tcp / data  # type: ignore[no-any-return]


def scripted() -> list[Packet]:
    a, b = Conn(40001, 1000, 5000), Conn(40002, 2000, 9000)
    seq: list[Packet] = []
    # both handshakes; the SYN-ACK's ack is what the SYN consumed
    a_syn = a.pkt(True, "S")
    b_syn = b.pkt(True, "S")
    a_synack, b_synack = a.pkt(False, "SA"), b.pkt(False, "SA")
    seq += [a_syn, b_syn, a_synack, b_synack, a.pkt(True, "A"), b.pkt(True, "A")]
    seq.append(a.pkt(True, "PA", b"GET /chunked HTTP/1.1\r\nHost: h\r\n\r\n"))
    seq.append(b.pkt(True, "PA", b"GET /big HTTP/1.1\r\nHost: h\r\n\r\n"))
    seq.append(a.pkt(False, "PA", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
    seq.append(b.pkt(False, "PA", b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"))
    seq.append(a.pkt(False, "PA", CHUNKED_BODY))
    seq.append(b.pkt(False, "PA", CUT_BODY))
    seq.append(a.pkt(True, "A"))
    seq.append(b.pkt(True, "RA"))  # the client gives up mid-body
    seq.append(a.pkt(True, "FA"))
    seq.append(a.pkt(False, "FA"))
    seq.append(a.pkt(True, "A"))
    for i, p in enumerate(seq):
        p.time = 1_800_000_000 + i / 1000
    return seq


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("reread")
    pkts = scripted()
    pcap = d / "cut.pcap"
    wrpcap(str(pcap), pkts)
    ng = d / "cut.pcapng"
    with PcapNgWriter(str(ng)) as w:
        for p in pkts:
            w.write(p)
    gz = d / "cut.pcap.gz"
    gz.write_bytes(gzip.compress(pcap.read_bytes()))
    return {"pcap": pcap, "pcapng": ng, "gz": gz}


def by_port(records: list[ConnectionRecord]) -> dict[int, ConnectionRecord]:
    return {r.client_port: r for r in records}


@pytest.mark.parametrize("kind", ["pcap", "pcapng", "gz"])
def test_cut_response_is_reported_and_the_chunked_one_keeps_its_body(
        captures: dict[str, Path], kind: str) -> None:
    result = analyze_capture(captures[kind])
    assert result.error is None and result.status == "ok"
    conns = by_port(result.records)
    cut = conns[40002].transactions
    assert [(t.method, t.target, t.status, t.response_frame) for t in cut] == [
        ("GET", "/big", 200, 10)]  # frame 10 carries the head, as in the original capture
    assert conns[40002].end == "rst" and conns[40002].rst_by == "client"
    assert (conns[40002].first_frame, conns[40002].last_frame) == (2, 14)
    assert conns[40002].capture == str(captures[kind])
    whole = conns[40001].transactions
    # Read with body reassembly: the response is reported where the body completes
    # (frame 11) and the chunked body's size (5 + 7) is known.
    assert [(t.status, t.chunked, t.response_body_len, t.response_frame) for t in whole] == [
        (200, True, 12, 11)]


def test_targeted_reread_equals_a_whole_heads_only_read(captures: dict[str, Path]) -> None:
    path = captures["pcap"]
    targeted = by_port(analyze_capture(path).records)
    heads_only = by_port(_analyze_once(path, LoadOptions(http_body_reassembly=False),
                                       None)[0].records)
    bodies = by_port(_analyze_once(path, LoadOptions(), None)[0].records)
    assert targeted[40002] == heads_only[40002]
    assert targeted[40001] == bodies[40001]
    # Without the second look, the cut response is missing.
    assert [t.status for t in bodies[40002].transactions] == [None]


def test_pyshark_loader_rereads_the_same_way(captures: dict[str, Path]) -> None:
    fast = analyze_capture(captures["pcapng"]).records
    ref = analyze_capture(captures["pcapng"], LoadOptions(loader="pyshark")).records
    assert fast == ref


def frames_of(path: Path) -> list[tuple[str, str]]:
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-T", "fields", "-e",
                          "frame.time_epoch", "-e", "frame.len"],
                         capture_output=True, text=True, check=True).stdout
    return [tuple(line.split("\t")) for line in out.splitlines()]  # type: ignore[misc]


@pytest.mark.parametrize("kind", ["pcap", "pcapng", "gz"])
def test_extract_copies_exactly_the_chosen_frames(captures: dict[str, Path], kind: str,
                                                  tmp_path: Path) -> None:
    src = captures[kind]
    out = tmp_path / "x"
    assert extract_frames(src, [7, 2, 14, 4], out)
    original = frames_of(src)
    assert frames_of(out) == [original[i - 1] for i in (2, 4, 7, 14)]


def test_extract_declines_what_it_cannot_read(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a capture\n")
    assert not extract_frames(text, [1], tmp_path / "x")


@pytest.mark.parametrize("chunk", [17, 100, 4096])
def test_extract_across_read_boundaries(captures: dict[str, Path], tmp_path: Path,
                                        chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Records that straddle the reader's chunks are copied whole."""
    from analyzer.loader import extract

    monkeypatch.setattr(extract, "_CHUNK", chunk)
    src = captures["pcap"]
    every = tmp_path / "every"
    assert extract_frames(src, range(1, len(frames_of(src)) + 1), every)
    assert every.read_bytes() == src.read_bytes()
    some = tmp_path / "some"
    assert extract_frames(src, [3, 9, 14], some)
    original = frames_of(src)
    assert frames_of(some) == [original[i - 1] for i in (3, 9, 14)]
