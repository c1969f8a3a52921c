"""The one re-read service: the packets of the connections a report or ``explain`` draws.

``report/`` never reads captures and never imports ``api`` or the loader; whoever builds a
report (the CLI) hands it a ``PacketSource`` from here. A connection is read back as the
run's engine reads it: natively (with the engine's HTTP/WebSocket parsers' heads and
frames), or through tshark when the options need it or the engine cannot decode the
capture. Several connections of one capture are read together from a copy of just their
frames (no second pass over a large capture).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from analyzer.api import resolve_engine
from analyzer.core.packets import PacketRecord
from analyzer.core.records import ConnectionRecord
from analyzer.errors import AnalyzerError
from analyzer.loader import LoadOptions, load
from analyzer.loader.extract import extract_frames
from analyzer.loader.native import NeedsTshark
from analyzer.loader.native import connection_packets as native_packets

#: What the report is handed: the records it will draw -> each one's packets (by uid).
#: A connection it cannot read back is missing from the answer; an ``AnalyzerError``
#: means none could be read.
PacketSource = Callable[[Sequence[ConnectionRecord]], dict[str, list[PacketRecord]]]


def _ends(record: ConnectionRecord) -> set[tuple[str, int]]:
    return {(record.client_ip, record.client_port), (record.server_ip, record.server_port)}


def _belongs(p: PacketRecord, record: ConnectionRecord) -> bool:
    return (p.proto == "tcp" and record.first_frame <= p.frame <= record.last_frame
            and {(p.src, p.sport), (p.dst, p.dport)} == _ends(record))


def connection_packets(record: ConnectionRecord, options: LoadOptions) -> list[PacketRecord]:
    """The connection's TCP packets, as the run's engine reads them: natively (with the
    engine's HTTP/WebSocket parsers' heads and frames), or through tshark when the options
    need it or the engine cannot decode the capture."""
    client = (record.client_ip, record.client_port)
    server = (record.server_ip, record.server_port)
    if resolve_engine(options) == "native":
        try:
            return native_packets(record.capture, record.first_frame, record.last_frame,
                                  client, server, options.check_checksums)
        except NeedsTshark:
            pass
    return [p for p in load(record.capture, replace(options, display_filter=None))
            if _belongs(p, record)]


def connections_packets(records: Sequence[ConnectionRecord], options: LoadOptions
                        ) -> dict[str, list[PacketRecord]]:
    """Each record's packets (uid -> packets). With the native engine each connection is
    read straight from its capture; otherwise (or when the engine cannot) the connections
    of one capture are read together from a copy of just their frames."""
    if resolve_engine(options) == "native":
        try:
            return {rec.uid: connection_packets(rec, options) for rec in records}
        except AnalyzerError:
            pass
    out: dict[str, list[PacketRecord]] = {rec.uid: [] for rec in records}
    by_capture: dict[str, list[ConnectionRecord]] = {}
    for rec in records:
        by_capture.setdefault(rec.capture, []).append(rec)
    for capture, recs in by_capture.items():
        spans = [(r.first_frame, r.last_frame) for r in recs]
        for p in _packets_between(capture, options, spans):
            for rec in recs:
                if _belongs(p, rec):
                    out[rec.uid].append(p)
    return out


def packet_source(options: LoadOptions) -> PacketSource:
    """The ``PacketSource`` a report folder is handed: ``connections_packets`` with the
    run's options (``report.folder.write_report(..., packets=packet_source(options))``)."""
    return lambda records: connections_packets(records, options)


def _packets_between(capture: str, options: LoadOptions, spans: list[tuple[int, int]]
                     ) -> Iterator[PacketRecord]:
    """The packets of the given frame ranges: read from a copy of just those frames (no
    second pass over a large capture), or from the capture when no copy can be made."""
    frames = sorted({f for first, last in spans for f in range(first, last + 1)})
    options = replace(options, display_filter=None, session_reset=0)
    with tempfile.TemporaryDirectory(prefix="pcap-analyzer-") as tmp:
        extract = Path(tmp) / "extract.cap"
        if extract_frames(capture, frames, extract):
            yield from load(str(extract), replace(options, frame_map=tuple(frames)))
            return
    yield from load(capture, options)
