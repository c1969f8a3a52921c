"""Packets in, connection records out, through the engine's tracker.

The lifecycle, the RFC 9293 view, Zeek's logic and the HTTP/WebSocket analysis live once,
in the Rust engine (``analyzer._engine``). This module feeds it the packets a
tshark/pyshark loader made, each with the HTTP messages and WebSocket frames tshark's
dissectors found in it, and turns the engine's records into Python ones.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from analyzer import _engine
from analyzer.core.app import sessions_from_engine, transactions_from_engine
from analyzer.core.packets import PacketRecord
from analyzer.core.records import HEALTH_FIELDS, ConnectionRecord

NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """How the tracker runs.

    Attributes:
        check_checksums: drop packets whose checksum is bad, as Zeek does without ``-C``
            (they add ``C`` to the history and nothing else). Off by default because
            captures taken on the sending host (loopback, checksum offload) carry checksums
            the NIC would have filled in later.
    """

    check_checksums: bool = False


def to_record(capture: str, d: Mapping[str, Any]) -> ConnectionRecord:
    """An engine record (a dict, times in ns) -> the Python record."""
    first, last = d["first_ts_ns"], d["last_ts_ns"]
    rtt, dz = d["handshake_rtt_ns"], d["duration_zeek_ns"]
    return ConnectionRecord(
        capture=capture, uid=d["uid"], proto=d["proto"], ip_version=d["ip_version"],
        client_ip=d["client_ip"], client_port=d["client_port"], server_ip=d["server_ip"],
        server_port=d["server_port"], client_inferred=d["client_inferred"],
        first_ts=first / NS, last_ts=last / NS, first_ts_ns=first, last_ts_ns=last,
        duration_s=(last - first) / NS, handshake=d["handshake"],
        handshake_valid=d["handshake_valid"],
        handshake_rtt_s=None if rtt is None else rtt / NS,
        syn_retransmissions=d["syn_retransmissions"], end=d["end"], closer=d["closer"],
        rst_by=d["rst_by"], client_state=d["client_state"], server_state=d["server_state"],
        time_wait=d["time_wait"], packets_c2s=d["packets_c2s"], packets_s2c=d["packets_s2c"],
        bytes_c2s=d["bytes_c2s"], bytes_s2c=d["bytes_s2c"], conn_state=d["conn_state"],
        history=d["history"], duration_zeek=None if dz is None else dz / NS,
        orig_bytes=d["orig_bytes"], resp_bytes=d["resp_bytes"],
        missed_bytes=d["missed_bytes"], orig_pkts=d["orig_pkts"],
        orig_ip_bytes=d["orig_ip_bytes"], resp_pkts=d["resp_pkts"],
        resp_ip_bytes=d["resp_ip_bytes"],
        http_requests=d["http_requests"], http_responses=d["http_responses"],
        websocket=d["websocket"],
        first_frame=d["first_frame"], last_frame=d["last_frame"],
        zeek_flipped=d["zeek_flipped"], anomalies=tuple(d["anomalies"]),
        tunnel_parents=tuple(d["tunnel_parents"]),
        transactions=transactions_from_engine(d["transactions"]),
        websockets=sessions_from_engine(d["websockets"]),
        conn_id=d["id"],
        **{name: d[name] for name in HEALTH_FIELDS},
    )


class Tracker:
    """Feed packets in capture order; get connection records as connections finish."""

    def __init__(self, capture: str, config: TrackerConfig | None = None,
                 keep_frames_if: Callable[[ConnectionRecord], bool] | None = None,
                 select_frames: Sequence[int] | None = None) -> None:
        """``keep_frames_if``: for each finished TCP connection whose record it accepts, the
        frame numbers of its packets are kept in ``kept_frames[uid]`` (so that a caller can
        re-read just those packets); every other connection's frames are dropped with it.
        ``select_frames``: only the connections with a packet in one of these frames give a
        record (a display filter's matches; the engine drops the others)."""
        self.capture = capture
        self.config = config or TrackerConfig()
        self._engine = _engine.Tracker(self.config.check_checksums, keep_frames_if is not None,
                                       select_frames=select_frames)
        self.keep_frames_if = keep_frames_if
        self.kept_frames: dict[str, array[int]] = {}

    def feed(self, p: PacketRecord) -> list[ConnectionRecord]:
        self._engine.feed(p)
        return self._collect()

    def _collect(self) -> list[ConnectionRecord]:
        out = []
        for d in self._engine.take_records():
            rec = to_record(self.capture, d)
            frames = d["frames"]
            if (frames is not None and self.keep_frames_if is not None
                    and self.keep_frames_if(rec)):
                self.kept_frames[rec.uid] = array("I", frames)
            out.append(rec)
        return out

    def finish(self) -> list[ConnectionRecord]:
        """End of capture: every connection still open is reported with its state now."""
        self._engine.finish()
        return self._collect()

    @property
    def open_connections(self) -> int:
        return self._engine.open_connections


def track(capture: str, packets: Iterable[PacketRecord], config: TrackerConfig | None = None
          ) -> Iterator[ConnectionRecord]:
    """All connection records of a packet stream, in the order connections finish."""
    tracker = Tracker(capture, config)
    for p in packets:
        yield from tracker.feed(p)
    yield from tracker.finish()
