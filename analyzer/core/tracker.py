"""Demultiplex packets into connections by 4-tuple and hand back finished records.

Memory follows the number of open connections: a connection leaves the table when Zeek's
timers say it is over (see ``connection``), either when its 4-tuple is seen again or in a
periodic sweep, and its record is returned at once.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from analyzer.core.connection import TcpConnection, Timeouts, UdpFlow
from analyzer.core.packets import SYN, PacketRecord
from analyzer.core.records import ConnectionRecord

Key = tuple[str, str, int, str, int]


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """How the tracker runs.

    Attributes:
        check_checksums: drop packets whose checksum tshark found bad, as Zeek does without
            ``-C`` (they add ``C`` to the history and nothing else). Off by default because
            captures taken on the sending host (loopback, checksum offload) carry checksums
            the NIC would have filled in later.
        timeouts: Zeek's timer constants.
        sweep_every: check every open connection's timers after this many packets.
    """

    check_checksums: bool = False
    timeouts: Timeouts = field(default_factory=Timeouts)
    sweep_every: int = 50_000


def _key(p: PacketRecord) -> Key:
    a, b = (p.src, p.sport), (p.dst, p.dport)
    if b < a:
        a, b = b, a
    return (p.proto, a[0], a[1], b[0], b[1])


class Tracker:
    """Feed packets in capture order; get connection records as connections finish."""

    def __init__(self, capture: str, config: TrackerConfig | None = None,
                 keep_frames_if: Callable[[ConnectionRecord], bool] | None = None) -> None:
        """``keep_frames_if``: for each finished TCP connection whose record it accepts, the
        frame numbers of its packets are kept in ``kept_frames[uid]`` (so that a caller can
        re-read just those packets); every other connection's frames are dropped with it."""
        self.capture = capture
        self.config = config or TrackerConfig()
        self.table: dict[Key, TcpConnection | UdpFlow] = {}
        self.keep_frames_if = keep_frames_if
        self.kept_frames: dict[str, array[int]] = {}
        self._since_sweep = 0
        self.now_ns = 0

    def feed(self, p: PacketRecord) -> list[ConnectionRecord]:
        done: list[ConnectionRecord] = []
        if p.ts_ns > self.now_ns:
            self.now_ns = p.ts_ns
        key = _key(p)
        conn = self.table.get(key)
        if conn is not None and (conn.expired(p.ts_ns) or (p.flags & SYN and conn.is_reuse(p))):
            done.append(self._record(conn))
            conn = None
        if conn is None:
            cfg = self.config
            conn = (
                TcpConnection(p, cfg.timeouts, cfg.check_checksums)
                if p.proto == "tcp"
                else UdpFlow(p, cfg.timeouts, cfg.check_checksums)
            )
            self.table[key] = conn
        conn.feed(p)
        self._since_sweep += 1
        if self._since_sweep >= self.config.sweep_every:
            done.extend(self.sweep())
        return done

    def sweep(self) -> list[ConnectionRecord]:
        """Finish every connection whose timers have run out by the newest packet's time."""
        self._since_sweep = 0
        gone = [k for k, c in self.table.items() if c.expired(self.now_ns)]
        return [self._record(self.table.pop(k)) for k in gone]

    def finish(self) -> list[ConnectionRecord]:
        """End of capture: every connection still open is reported with its state now."""
        out = [self._record(c) for c in self.table.values()]
        self.table.clear()
        return out

    def _record(self, conn: TcpConnection | UdpFlow) -> ConnectionRecord:
        rec = conn.record(self.capture)
        if (isinstance(conn, TcpConnection) and self.keep_frames_if is not None
                and self.keep_frames_if(rec)):
            self.kept_frames[rec.uid] = conn.frames
        return rec

    @property
    def open_connections(self) -> int:
        return len(self.table)


def track(capture: str, packets: Iterable[PacketRecord], config: TrackerConfig | None = None
          ) -> Iterator[ConnectionRecord]:
    """All connection records of a packet stream, in the order connections finish."""
    tracker = Tracker(capture, config)
    for p in packets:
        yield from tracker.feed(p)
    yield from tracker.finish()
