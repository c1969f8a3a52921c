"""The packet record: what the core needs to know about one TCP segment or UDP datagram.

Built by the loader (``analyzer.loader``) from tshark's dissection; nothing else in the
core knows where it came from.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple


class Flags(enum.IntFlag):
    """TCP header flags (RFC 9293 §3.1), bit values as on the wire."""

    FIN = 0x01
    SYN = 0x02
    RST = 0x04
    PSH = 0x08
    ACK = 0x10
    URG = 0x20
    ECE = 0x40
    CWR = 0x80


#: Plain ints for the hot path: ``flags & SYN`` on an IntFlag member goes through
#: ``enum.__and__`` and costs ten times as much as on an int.
FIN, SYN, RST, ACK = int(Flags.FIN), int(Flags.SYN), int(Flags.RST), int(Flags.ACK)


@dataclass(frozen=True, slots=True)
class HttpMessage:
    """One HTTP/1.x request or response head that tshark completed in this packet.

    ``headers`` keeps every header line as (lower-cased name, value), in order.
    ``chunk_sizes`` are the sizes of a chunked body's chunks (the last one is 0).
    """

    is_request: bool
    method: str | None = None
    target: str | None = None
    version: str | None = None
    status: int | None = None
    reason: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    chunk_sizes: tuple[int, ...] = ()

    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive name), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


@dataclass(frozen=True, slots=True)
class WsFrame:
    """One WebSocket frame header (RFC 6455 §5.2) that tshark completed in this packet."""

    fin: bool
    rsv: int
    opcode: int
    masked: bool
    payload_len: int
    close_code: int | None = None
    close_reason: str | None = None


class PacketRecord(NamedTuple):
    """One TCP segment or UDP datagram, as the core sees it.

    Immutable like the other records, but a named tuple rather than a frozen dataclass:
    one is built per packet, and a frozen dataclass's ``__init__`` (a guarded
    ``object.__setattr__`` per field) costs about four times as much.

    Attributes:
        frame: tshark's frame number (1-based); quoted in anomalies and errors.
        ts_ns: capture time, integer nanoseconds since the epoch (no float rounding).
        proto: ``"tcp"``, ``"udp"`` or ``"icmp"``.
        ip_version: 4 or 6.
        src, sport, dst, dport: the addresses (as tshark prints them) and ports.
        ip_len: IP total length (IPv4 total length; IPv6 payload length + 40): Zeek's ip_bytes.
        flags: TCP flags as an int (0 for UDP).
        seq, ack: raw 32-bit sequence and acknowledgment numbers (0 for UDP).
        payload_len: TCP segment payload length, or UDP payload length.
        window: the raw (unscaled) TCP window field (0 for UDP).
        payload_captured: False when the snap length cut the payload short.
        checksum_bad: True when tshark validated the checksum and it was wrong.
        http: HTTP messages tshark completed in this packet (several when pipelined).
        ws: WebSocket frames tshark completed in this packet, in order.
        tunnels: the encapsulations it came in, outermost first, each as (kind, outer
            source, outer destination, outer source port, outer destination port); the
            ports are 0 for IP-level tunnels. For ``icmp`` packets, ``sport`` is the ICMP
            type and ``dport`` the code (the engine turns them into Zeek's ports).
        options: the TCP header's raw option bytes (the engine reads MSS, window scale,
            SACK and timestamps from them, as it does from the packets it decodes).
    """

    frame: int
    ts_ns: int
    proto: str
    ip_version: int
    src: str
    sport: int
    dst: str
    dport: int
    ip_len: int
    flags: int
    seq: int
    ack: int
    payload_len: int
    window: int = 65535
    payload_captured: bool = True
    checksum_bad: bool = False
    http: tuple[HttpMessage, ...] = ()
    ws: tuple[WsFrame, ...] = ()
    tunnels: tuple[tuple[str, str, str, int, int], ...] = ()
    options: bytes = b""


def option_bytes(text: str) -> bytes:
    """tshark's ``tcp.options`` (hex, with or without ``:`` separators) -> bytes; empty
    when it is not hex."""
    try:
        return bytes.fromhex(text.replace(":", ""))
    except ValueError:
        return b""
