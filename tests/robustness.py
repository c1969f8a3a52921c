"""Shared helpers of the robustness suite (tests/test_robustness.py, the fast part) and the
long fuzz run (fuzz/run.py): the layout of a pcap or pcapng file (where its records and
blocks start and end, where a cut is clean), a deterministic seeded mutator with named
mutation kinds, hand-built captures with hostile HTTP and WebSocket content, and runners
that execute the CLI (in a subprocess with a timeout, or in process with typer's
CliRunner) and judge the outcome against the error contract:

- exit codes 0 ok, 1 a check failed, 2 usage, 3 input/environment/output, 4 truncated
  under --strict, nothing else;
- every non-empty stderr line starts with ``error: ``, ``warning: ``, ``note: `` or is the
  batch tally (``N captures: N ok, N with warnings, N failed``);
- an error is one line naming the file;
- never ``Traceback``, ``panicked`` or ``Aborted!``; never a hang.

Nothing here imports the analyzer at module level, so that fuzz/run.py can use the
mutator and the subprocess runner without it.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import random
import re
import signal
import struct
import subprocess
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CAPTURES = ROOT / "captures"
CLI = [sys.executable, "-m", "analyzer"]

#: The exit codes the README documents.
DOCUMENTED_EXITS = frozenset({0, 1, 2, 3, 4})
TALLY = re.compile(r"^\d+ captures?: \d+ ok, \d+ with warnings, \d+ failed$")
PREFIXES = ("error: ", "warning: ", "note: ")
#: What on stderr (or in an error line) means a crash reached the user. A panic in the
#: engine run in process is caught by the bindings (EnginePanic) and reported as an
#: "internal error in the native engine": still a panic reaching the user.
CRASH_MARKERS = {"traceback": ("Traceback",), "panic": ("panicked", "internal error in the"
                 " native engine", "RUST_BACKTRACE"), "aborted": ("Aborted!",)}

# ---------------------------------------------------------------------------------------
# Capture layouts
# ---------------------------------------------------------------------------------------

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">",  # microseconds
    b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">",  # nanoseconds
}
SHB = 0x0A0D0D0A
IDB, OPB, SPB, EPB = 1, 2, 3, 6
PACKET_BLOCKS = (OPB, SPB, EPB)

#: Where the network layer starts in a frame, by link type (Ethernet has its VLAN tags
#: skipped separately).
IP_OFFSET = {0: 4, 1: 14, 12: 0, 101: 0, 108: 4, 113: 16, 228: 0, 229: 0, 276: 20}


@dataclass(slots=True)
class Record:
    """One record of a pcap file or one block of a pcapng file."""

    offset: int  # where the record header / block starts
    end: int  # one past its last byte
    kind: int  # pcapng block type; EPB for a pcap record
    data_offset: int = 0  # where the packet bytes start (packet records only)
    caplen: int = 0
    linktype: int = 1
    length_fields: tuple[int, ...] = ()  # offsets of the u32 length fields

    @property
    def is_packet(self) -> bool:
        return self.kind in PACKET_BLOCKS


@dataclass(slots=True)
class Layout:
    """Where the records of a capture lie: ``header_end`` is the end of the file header
    (pcap: the 24-byte header; pcapng: the blocks before the first packet block), and
    ``records`` every record or block after the header (pcapng: every block). ``complete``
    is False when the file does not end on a record boundary."""

    format: str  # "pcap" or "pcapng"
    endian: str
    header_end: int
    records: list[Record]
    complete: bool
    snaplen_field: int | None = None  # offset of the pcap header's snaplen
    idb_snaplen_fields: list[int] = field(default_factory=list)

    @property
    def packets(self) -> list[Record]:
        return [r for r in self.records if r.is_packet]

    @property
    def first_boundary(self) -> int:
        """The first offset at which a cut leaves a clean (empty) capture: the end of the
        pcap header, or of the pcapng section header block."""
        if self.format == "pcapng":
            return self.records[0].end
        return self.header_end

    def boundaries(self) -> list[int]:
        """Every offset at which a cut leaves a clean capture: the end of the file header
        (pcapng: of the section header block), then every record or block end."""
        first = self.first_boundary
        return sorted({first, *(r.end for r in self.records if r.end > first)})

    def clean_cut(self, offset: int) -> int | None:
        """The last clean boundary at or before ``offset`` (None inside the file header:
        the pcap header or the pcapng section header block)."""
        best = None
        for b in self.boundaries():
            if b <= offset:
                best = b
        return best

    def packets_before(self, offset: int) -> int:
        """How many packet records end at or before ``offset``."""
        return sum(1 for r in self.packets if r.end <= offset)


def parse_layout(data: bytes) -> Layout | None:
    """The layout of a pcap or pcapng file (None for anything else). Reads as far as the
    structure holds together; ``complete`` says whether it reached the end cleanly."""
    if len(data) >= 24 and data[:4] in PCAP_MAGICS:
        return _pcap_layout(data)
    if len(data) >= 12 and struct.unpack_from("<I", data)[0] == SHB:
        return _pcapng_layout(data)
    return None


def _pcap_layout(data: bytes) -> Layout:
    e = PCAP_MAGICS[data[:4]]
    (linktype,) = struct.unpack_from(e + "I", data, 20)
    linktype &= 0x0FFFFFFF
    records = []
    pos = 24
    while pos + 16 <= len(data):
        (caplen,) = struct.unpack_from(e + "I", data, pos + 8)
        end = pos + 16 + caplen
        if end > len(data):
            break
        records.append(Record(pos, end, EPB, pos + 16, caplen, linktype,
                              (pos + 8, pos + 12)))
        pos = end
    return Layout("pcap", e, 24, records, pos == len(data), snaplen_field=16)


def _pcapng_layout(data: bytes) -> Layout | None:
    records: list[Record] = []
    linktypes: list[int] = []
    idb_snaplens: list[int] = []
    e = "<"
    pos = 0
    header_end = None
    while pos + 12 <= len(data):
        (btype,) = struct.unpack_from("<I", data, pos)
        if btype == SHB:
            magic = data[pos + 8:pos + 12]
            e = "<" if magic == b"\x4d\x3c\x2b\x1a" else ">"
            linktypes = []
        (total,) = struct.unpack_from(e + "I", data, pos + 4)
        if btype != SHB:
            (btype,) = struct.unpack_from(e + "I", data, pos)
        if total < 12 or total % 4 or pos + total > len(data):
            break
        end = pos + total
        rec = Record(pos, end, btype, length_fields=(pos + 4, end - 4))
        if btype == IDB and total >= 20:
            (lt,) = struct.unpack_from(e + "H", data, pos + 8)
            linktypes.append(lt)
            idb_snaplens.append(pos + 12)
        elif btype == EPB and total >= 32:
            iface, _hi, _lo, caplen = struct.unpack_from(e + "IIII", data, pos + 8)
            rec.data_offset, rec.caplen = pos + 28, caplen
            rec.linktype = linktypes[iface] if iface < len(linktypes) else -1
            rec.length_fields += (pos + 20, pos + 24)
        elif btype == SPB and total >= 16:
            (orig,) = struct.unpack_from(e + "I", data, pos + 8)
            rec.data_offset, rec.caplen = pos + 12, min(orig, total - 16)
            rec.linktype = linktypes[0] if linktypes else -1
            rec.length_fields += (pos + 8,)
        elif btype == OPB and total >= 32:
            (iface,) = struct.unpack_from(e + "H", data, pos + 8)
            (caplen,) = struct.unpack_from(e + "I", data, pos + 20)
            rec.data_offset, rec.caplen = pos + 28, caplen
            rec.linktype = linktypes[iface] if iface < len(linktypes) else -1
            rec.length_fields += (pos + 20, pos + 24)
        if header_end is None and rec.is_packet:
            header_end = pos
        records.append(rec)
        pos = end
    if not records or records[0].kind != SHB:
        return None
    if header_end is None:
        header_end = pos
    return Layout("pcapng", e, header_end, records, pos == len(data),
                  idb_snaplen_fields=idb_snaplens)


def gunzip_prefix(data: bytes) -> bytes:
    """The bytes a gzip stream cut short still gives (as much as zlib can decode)."""
    d = zlib.decompressobj(wbits=31)
    try:
        return d.decompress(data) + d.flush()
    except zlib.error:
        return b""


def ip_offset(frame: bytes, linktype: int) -> int | None:
    """Where the IPv4/IPv6 header of a frame starts (None when not found)."""
    off = IP_OFFSET.get(linktype)
    if off is None:
        return None
    if linktype == 1:
        while off + 4 <= len(frame) and frame[off - 2:off] in (b"\x81\x00", b"\x88\xa8"):
            off += 4
        if frame[off - 2:off] not in (b"\x08\x00", b"\x86\xdd"):
            return None
    if off >= len(frame) or frame[off] >> 4 not in (4, 6):
        return None
    return off


def tcp_offset(frame: bytes, linktype: int) -> tuple[int, int] | None:
    """(IP header offset, TCP header offset) for a TCP over IPv4/IPv6 frame."""
    ip = ip_offset(frame, linktype)
    if ip is None or ip + 20 > len(frame):
        return None
    if frame[ip] >> 4 == 4:
        ihl = (frame[ip] & 0x0F) * 4
        if frame[ip + 9] != 6 or ihl < 20 or ip + ihl + 20 > len(frame):
            return None
        return ip, ip + ihl
    if ip + 60 <= len(frame) and frame[ip + 6] == 6:
        return ip, ip + 40
    return None


# ---------------------------------------------------------------------------------------
# Hand-built captures: hostile HTTP and WebSocket content
# ---------------------------------------------------------------------------------------

def _csum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s: int = sum(struct.unpack(f"!{len(b) // 2}H", b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def tcp_frame(src: str, dst: str, sport: int, dport: int, flags: str, seq: int, ack: int,
              payload: bytes = b"") -> bytes:
    """An Ethernet/IPv4/TCP frame with correct checksums."""
    bits = {"F": 1, "S": 2, "R": 4, "P": 8, "A": 16}
    fl = sum(bits[c] for c in flags)
    sip = bytes(int(x) for x in src.split("."))
    dip = bytes(int(x) for x in dst.split("."))
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, fl, 65535, 0, 0) + payload
    pseudo = sip + dip + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", _csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0x4000, 64, 6, 0, sip, dip)
    ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
    return b"\x02\0\0\0\0\x02" + b"\x02\0\0\0\0\x01" + b"\x08\x00" + ip + tcp


def write_pcap(frames: Iterable[tuple[float, bytes]], snaplen: int = 262144) -> bytes:
    out = io.BytesIO()
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, 1))
    for ts, frame in frames:
        sec = int(ts)
        out.write(struct.pack("<IIII", sec, round((ts - sec) * 1e6), len(frame),
                              len(frame)))
        out.write(frame)
    return out.getvalue()


def tcp_session(client: Sequence[bytes], server: Sequence[bytes], *, cport: int = 40100,
                sport: int = 8080, mss: int = 1448, t0: float = 1_700_000_000.0) -> bytes:
    """A whole TCP connection as a pcap: the handshake, then the client's messages and the
    server's answers in turn (each cut into ``mss`` segments), then FIN each way."""
    c, s = "10.7.0.1", "10.7.0.2"
    cseq, sseq = 1000, 90000
    frames: list[tuple[float, bytes]] = []
    t = [t0]

    def put(frame: bytes) -> None:
        frames.append((t[0], frame))
        t[0] += 0.0001

    put(tcp_frame(c, s, cport, sport, "S", cseq, 0))
    put(tcp_frame(s, c, sport, cport, "SA", sseq, cseq + 1))
    cseq += 1
    sseq += 1
    put(tcp_frame(c, s, cport, sport, "A", cseq, sseq))
    for i in range(max(len(client), len(server))):
        for msg, fwd in ((client[i] if i < len(client) else b"", True),
                         (server[i] if i < len(server) else b"", False)):
            for k in range(0, len(msg), mss):
                seg = msg[k:k + mss]
                if fwd:
                    put(tcp_frame(c, s, cport, sport, "PA", cseq, sseq, seg))
                    cseq += len(seg)
                    put(tcp_frame(s, c, sport, cport, "A", sseq, cseq))
                else:
                    put(tcp_frame(s, c, sport, cport, "PA", sseq, cseq, seg))
                    sseq += len(seg)
                    put(tcp_frame(c, s, cport, sport, "A", cseq, sseq))
    put(tcp_frame(c, s, cport, sport, "FA", cseq, sseq))
    put(tcp_frame(s, c, sport, cport, "FA", sseq, cseq + 1))
    put(tcp_frame(c, s, cport, sport, "A", cseq + 1, sseq + 1))
    return write_pcap(frames)


def _response(body: bytes = b"ok") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def http_long_header(n: int = 100_000) -> bytes:
    """A GET with one 100 KB header line."""
    req = b"GET /long HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * n + b"\r\n\r\n"
    return tcp_session([req, b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n"],
                       [_response(), _response()])


def http_nul_header() -> bytes:
    """NUL bytes in a header name and value, both ways."""
    req = b"GET /nul HTTP/1.1\r\nHost: a\x00b\r\nX-N\x00l: \x00\x00\r\n\r\n"
    resp = b"HTTP/1.1 200 O\x00K\r\nServer: \x00\r\nContent-Length: 2\r\n\r\nok"
    return tcp_session([req], [resp])


def http_invalid_utf8_header() -> bytes:
    """Invalid UTF-8 (lone continuation bytes, overlongs, surrogates) in the request line
    and headers."""
    req = (b"GET /\xff\xfe\xc0\xaf HTTP/1.1\r\nHost: \xed\xa0\x80\r\nUser-Agent: \x80\x81"
           b"\xc3\r\nX-\xf8\xf9: \xf4\x90\x80\x80\r\n\r\n")
    resp = b"HTTP/1.1 200 \xff\xfe\r\nX-R: \xc3\x28\r\nContent-Length: 0\r\n\r\n"
    return tcp_session([req], [resp])


def _ws_handshake() -> tuple[bytes, bytes]:
    req = (b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    resp = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade"
            b"\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
    return req, resp


def ws_length(length: int = 1 << 63, masked: bool = True) -> bytes:
    """A WebSocket upgrade, then a client frame whose 64-bit length is ``length`` (2^63:
    the top bit set, invalid; 2^64-1 too) and a few payload bytes, and a server frame
    claiming 2^63-1."""
    req, resp = _ws_handshake()
    mask = b"\x01\x02\x03\x04" if masked else b""
    frame = bytes([0x82, (0x80 if masked else 0) | 127]) + struct.pack("!Q", length) + mask
    sframe = b"\x81\x7f" + struct.pack("!Q", (1 << 63) - 1) + b"hello"
    return tcp_session([req, frame + b"payload"], [resp, sframe])


GENERATED: dict[str, Callable[[], bytes]] = {
    "http_header_100k": http_long_header,
    "http_nul_header": http_nul_header,
    "http_invalid_utf8_header": http_invalid_utf8_header,
    "ws_len_2e63": ws_length,
    "ws_len_2e64_minus_1": lambda: ws_length((1 << 64) - 1),
}


def generated_captures(folder: Path) -> list[Path]:
    """Write the hand-built captures to ``folder``; their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, make in GENERATED.items():
        p = folder / f"{name}.pcap"
        p.write_bytes(make())
        out.append(p)
    return out


# ---------------------------------------------------------------------------------------
# The mutator
# ---------------------------------------------------------------------------------------

@dataclass(slots=True)
class Mutant:
    kind: str
    data: bytes
    detail: str
    source: str = ""
    gz: bool = False

    @property
    def suffix(self) -> str:
        return ".pcap.gz" if self.gz else (".pcapng" if self.data[:4] == b"\n\r\r\n"
                                           else ".pcap")


HUGE = (0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0x10000000, 1 << 24, 262145, 65536)


class Mutator:
    """Deterministic mutations of a capture: ``Mutator(seed).mutate(data)`` picks a kind
    (or takes the one asked for) and returns a :class:`Mutant`; the same seed gives the
    same sequence of mutants for the same inputs."""

    KINDS = ("bit_flip", "insert", "delete", "record_len_zero", "record_len_huge",
             "block_len_zero", "block_len_huge", "caplen_above_snaplen", "ipv4_ihl_low",
             "tcp_doff_low", "http_nul", "http_invalid_utf8", "http_header_100k",
             "ws_len_2e63", "duplicate_range", "truncate")

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    # The byte-level kinds -------------------------------------------------------------

    def bit_flip(self, data: bytes, layout: Layout | None) -> tuple[bytes, str]:
        b = bytearray(data)
        n = self.rng.choice((1, 1, 2, 4, 8, 32))
        where = []
        for _ in range(n):
            # Half the flips land in the headers, where they do the most.
            if layout and self.rng.random() < 0.5 and layout.records:
                r = self.rng.choice(layout.records)
                top = min(r.end, r.data_offset + 60) if r.data_offset else r.end
                i = self.rng.randrange(r.offset, top)
            else:
                i = self.rng.randrange(len(b))
            b[i] ^= 1 << self.rng.randrange(8)
            where.append(i)
        return bytes(b), f"flipped bits at {where}"

    def insert(self, data: bytes, layout: Layout | None) -> tuple[bytes, str]:
        i = self.rng.randrange(len(data) + 1)
        n = self.rng.choice((1, 2, 3, 4, 7, 16, 64, 333))
        junk = self.rng.choice((bytes(self.rng.randrange(256) for _ in range(n)),
                                b"\0" * n, b"\xff" * n, data[:n]))
        return data[:i] + junk + data[i:], f"inserted {len(junk)} bytes at {i}"

    def delete(self, data: bytes, layout: Layout | None) -> tuple[bytes, str]:
        i = self.rng.randrange(len(data))
        n = self.rng.choice((1, 2, 3, 4, 8, 16, 100, 1000))
        return data[:i] + data[i + n:], f"deleted {n} bytes at {i}"

    def duplicate_range(self, data: bytes, layout: Layout | None) -> tuple[bytes, str]:
        if layout and len(layout.records) > 1:
            r = self.rng.choice(layout.records[1:] if layout.format == "pcapng"
                                else layout.records)
            return (data[:r.end] + data[r.offset:r.end] * self.rng.choice((1, 2, 50))
                    + data[r.end:]), f"repeated the record at {r.offset}"
        i = self.rng.randrange(len(data))
        return data[:i] + data[i:i + 64] + data[i:], f"repeated 64 bytes at {i}"

    def truncate(self, data: bytes, layout: Layout | None) -> tuple[bytes, str]:
        i = self.rng.randrange(len(data))
        return data[:i], f"cut at {i}"

    # The structure kinds ---------------------------------------------------------------

    def _u32(self, data: bytes, layout: Layout, off: int, value: int) -> bytes:
        b = bytearray(data)
        struct.pack_into(layout.endian + "I", b, off, value & 0xFFFFFFFF)
        return bytes(b)

    def _record_len(self, data: bytes, layout: Layout | None, zero: bool,
                    packets_only: bool) -> tuple[bytes, str] | None:
        if layout is None or not layout.records:
            return None
        pool = [r for r in layout.records if r.is_packet or not packets_only]
        if not pool:
            return None
        r = self.rng.choice(pool)
        if layout.format == "pcap" or packets_only:
            fields = r.length_fields[-2:] if layout.format == "pcapng" else r.length_fields
        else:
            fields = r.length_fields[:2]  # the block's leading and trailing total length
        off = self.rng.choice(fields)
        value = 0 if zero else self.rng.choice(HUGE)
        if not zero and self.rng.random() < 0.3:
            value = len(data) - r.offset + self.rng.choice((-3, 1, 4, 16))
        what = "length" if layout.format == "pcap" else f"block {r.kind} field"
        return self._u32(data, layout, off, value), f"{what} at {off} = {value}"

    def record_len_zero(self, data: bytes, layout: Layout | None) -> tuple[bytes, str] | None:
        return self._record_len(data, layout, True, True)

    def record_len_huge(self, data: bytes, layout: Layout | None) -> tuple[bytes, str] | None:
        return self._record_len(data, layout, False, True)

    def block_len_zero(self, data: bytes, layout: Layout | None) -> tuple[bytes, str] | None:
        if layout is None or layout.format != "pcapng":
            return self._record_len(data, layout, True, True)
        return self._record_len(data, layout, True, False)

    def block_len_huge(self, data: bytes, layout: Layout | None) -> tuple[bytes, str] | None:
        if layout is None or layout.format != "pcapng":
            return self._record_len(data, layout, False, True)
        return self._record_len(data, layout, False, False)

    def caplen_above_snaplen(self, data: bytes, layout: Layout | None
                             ) -> tuple[bytes, str] | None:
        """The header's snaplen (pcap) or an interface's (pcapng) set below the records'
        captured lengths, or one record's caplen raised above the snaplen with its bytes
        really there."""
        if layout is None or not layout.packets:
            return None
        fields = ([layout.snaplen_field] if layout.snaplen_field is not None
                  else layout.idb_snaplen_fields)
        if fields and self.rng.random() < 0.5:
            off = self.rng.choice(fields)
            value = self.rng.choice((1, 14, 20, 40, 54, 60))
            return self._u32(data, layout, off, value), f"snaplen at {off} = {value}"
        r = self.rng.choice(layout.packets)
        if layout.format != "pcap":
            return None
        extra = b"\0" * self.rng.choice((1, 100, 70000))
        b = bytearray(data[:r.end] + extra + data[r.end:])
        struct.pack_into(layout.endian + "I", b, r.offset + 8, r.caplen + len(extra))
        if fields:
            struct.pack_into(layout.endian + "I", b, fields[0], r.caplen)
        return bytes(b), f"record at {r.offset}: caplen {r.caplen + len(extra)} > snaplen"

    def _tcp_packets(self, data: bytes, layout: Layout | None) -> list[tuple[Record, int, int]]:
        if layout is None:
            return []
        out = []
        for r in layout.packets:
            frame = data[r.data_offset:r.data_offset + r.caplen]
            found = tcp_offset(frame, r.linktype)
            if found:
                out.append((r, r.data_offset + found[0], r.data_offset + found[1]))
        return out

    def ipv4_ihl_low(self, data: bytes, layout: Layout | None) -> tuple[bytes, str] | None:
        pool = [(r, ip) for r, ip, _ in self._tcp_packets(data, layout) if data[ip] >> 4 == 4]
        if not pool:
            return None
        b = bytearray(data)
        picks = self.rng.sample(pool, min(len(pool), self.rng.choice((1, 1, 3))))
        for _r, ip in picks:
            b[ip] = 0x40 | self.rng.randrange(5)
        return bytes(b), f"IHL < 5 at {[ip for _, ip in picks]}"

    def tcp_doff_low(self, data: bytes, layout: Layout | None) -> tuple[bytes, str] | None:
        pool = self._tcp_packets(data, layout)
        if not pool:
            return None
        b = bytearray(data)
        picks = self.rng.sample(pool, min(len(pool), self.rng.choice((1, 1, 3))))
        for _r, _ip, tcp in picks:
            b[tcp + 12] = (self.rng.randrange(5) << 4) | (b[tcp + 12] & 0x0F)
        return bytes(b), f"data offset < 5 at {[t for *_, t in picks]}"

    def _http_heads(self, data: bytes) -> list[tuple[int, int]]:
        """(start, end) of the header block of every HTTP head found in the bytes."""
        out = []
        for m in re.finditer(rb"(?:HTTP/1\.[01] \d{3}|[A-Z]{3,7} \S+ HTTP/1\.[01])\r\n", data):
            end = data.find(b"\r\n\r\n", m.end())
            out.append((m.start(), end if end > 0 else min(len(data), m.end() + 40)))
        return out

    def _poke_heads(self, data: bytes, values: Sequence[bytes], label: str
                    ) -> tuple[bytes, str] | None:
        heads = self._http_heads(data)
        if not heads:
            return None
        b = bytearray(data)
        where = []
        for start, end in self.rng.sample(heads, min(len(heads), self.rng.choice((1, 2, 4)))):
            for _ in range(self.rng.choice((1, 2, 5))):
                i = self.rng.randrange(start, max(start + 1, end))
                v = self.rng.choice(values)
                b[i:i + len(v)] = v
                where.append(i)
        return bytes(b[:len(data)]), f"{label} at {where}"

    def http_nul(self, data: bytes, layout: Layout | None) -> tuple[bytes, str] | None:
        return self._poke_heads(data, (b"\0", b"\0\0", b"\r\0", b"\0\n"), "NUL")

    def http_invalid_utf8(self, data: bytes, layout: Layout | None
                          ) -> tuple[bytes, str] | None:
        return self._poke_heads(data, (b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80",
                                       b"\xf8\x88\x80\x80\x80", b"\xc3"), "invalid UTF-8")

    def http_header_100k(self, data: bytes, layout: Layout | None) -> tuple[bytes, str]:
        n = self.rng.choice((65_535, 65_536, 100_000, 140_000))
        return http_long_header(n), f"generated: one {n}-byte header line"

    def ws_len_2e63(self, data: bytes, layout: Layout | None) -> tuple[bytes, str]:
        length = self.rng.choice((1 << 63, (1 << 64) - 1, (1 << 63) - 1, 1 << 62, 126, 0xFFFF))
        masked = self.rng.random() < 0.8
        return ws_length(length, masked), f"generated: a WebSocket length of {length}"

    # ---------------------------------------------------------------------------------

    def mutate(self, data: bytes, kind: str | None = None, *, source: str = "",
               gz: bool = False) -> Mutant:
        """One mutant of ``data`` (a capture's bytes; with ``gz`` the result is gzip'd,
        as a .pcap.gz). A kind that does not apply to these bytes (no TCP packet, no
        HTTP head) falls back to a bit flip."""
        if gz and data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        layout = parse_layout(data)
        kind = kind or self.rng.choice(self.KINDS)
        done = getattr(self, kind)(data, layout) if data else None
        if done is None:
            kind, done = "bit_flip", self.bit_flip(data or b"\0", layout)
        # A few mutants get a second mutation on top.
        if self.rng.random() < 0.15:
            second = self.rng.choice(("bit_flip", "insert", "delete", "record_len_huge"))
            more = getattr(self, second)(done[0], parse_layout(done[0])) if done[0] else None
            if more is not None:
                done = (more[0], f"{done[1]}; then {second}: {more[1]}")
                kind = f"{kind}+{second}"
        out, detail = done
        if gz:
            out = gzip.compress(out, mtime=0)
            if self.rng.random() < 0.3:  # and sometimes the gzip stream is hit too
                b = bytearray(out)
                i = self.rng.randrange(len(b))
                b[i] ^= 1 << self.rng.randrange(8)
                out, detail = bytes(b), f"{detail}; gzip byte {i} flipped"
        return Mutant(kind, out, detail, source, gz)


def bundled_captures(small: int | None = None) -> list[Path]:
    """Every bundled capture (captures/*/, the bad ones too), optionally those of at most
    ``small`` bytes."""
    out = []
    for p in sorted(CAPTURES.rglob("*")):
        if p.is_file() and p.name.endswith((".pcap", ".pcapng", ".pcap.gz")):
            if small is None or p.stat().st_size <= small:
                out.append(p)
    return out


# ---------------------------------------------------------------------------------------
# Truncation sweeps
# ---------------------------------------------------------------------------------------

@dataclass
class Sweep:
    """One capture to cut: its bytes as stored, the capture inside (gunzipped), and that
    capture's layout."""

    kind: str
    raw: bytes
    plain: bytes
    layout: Layout
    folder: Path
    #: The reads of the clean prefixes, by (reader, prefix length).
    prefix_reads: dict[tuple[int, int], Any] = field(default_factory=dict)

    @property
    def gz(self) -> bool:
        return self.kind == "gzip"

    @property
    def suffix(self) -> str:
        return {"pcap": ".pcap", "pcapng": ".pcapng", "gzip": ".pcap.gz"}[self.kind]

    def cut(self, offset: int) -> Path:
        p = self.folder / f"cut-{offset}{self.suffix}"
        if not p.exists():
            p.write_bytes(self.raw[:offset])
        return p

    def available(self, offset: int) -> int:
        """How many bytes of the capture a cut at ``offset`` still holds."""
        return len(gunzip_prefix(self.raw[:offset])) if self.gz else offset

    def clean_prefix(self, offset: int) -> tuple[int, Path] | None:
        """The capture cut exactly at the last record (or block) boundary at or before what
        a cut at ``offset`` holds, written out uncompressed (None: the cut is inside the
        file header, before any boundary)."""
        clean = self.layout.clean_cut(self.available(offset))
        if clean is None:
            return None
        p = self.folder / f"prefix-{clean}{'.pcap' if self.gz else self.suffix}"
        if not p.exists():
            p.write_bytes(self.plain[:clean])
        return clean, p

    def is_clean(self, offset: int) -> bool:
        """A cut that leaves a complete capture (at a boundary; a gzip'd one is complete
        only whole, trailer included)."""
        if self.gz:
            return offset == len(self.raw)
        return offset in set(self.layout.boundaries())


def load_sweep(path: Path, kind: str, tmp_path: Path) -> Sweep:
    """A capture to cut; ``kind`` is pcap, pcapng or gzip; cuts are written under
    ``tmp_path/kind``."""
    raw = path.read_bytes()
    plain = gzip.decompress(raw) if kind == "gzip" else raw
    layout = parse_layout(plain)
    assert layout is not None and layout.complete and len(layout.packets) >= 10
    folder = tmp_path / kind
    folder.mkdir(parents=True, exist_ok=True)
    return Sweep(kind, raw, plain, layout, folder)


def records_of(result: Any) -> list[dict[str, object]]:
    return [{k: v for k, v in asdict(r).items() if k != "capture"}
            for r in result.records]


def check_cut(sweep: Sweep, offset: int, read: Callable[[Path], Any]
               ) -> list[str]:
    """What is wrong with the read of the capture cut at ``offset`` (empty: nothing)."""
    path = sweep.cut(offset)
    try:
        got = read(path)
    except Exception as exc:
        return [f"exception escaped: {type(exc).__name__}: {exc}"]
    prefix = sweep.clean_prefix(offset)
    found: list[str] = []
    if got.error is not None:
        text = str(got.error)
        if not text.startswith(str(path)) or "\n" in text:
            found.append(f"error not one line naming the file: {text!r}")
        if prefix is not None:
            found.append(f"exit 3 past the file header ({text.removeprefix(str(path))!r})")
        return found
    truncation = [w for w in got.warnings if "truncated" in w or "damaged" in w]
    if prefix is None:
        if not truncation:
            found.append("exit 0 without a warning on a cut inside the file header"
                         f" ({got.packets} packets, warnings {got.warnings})")
        return found
    clean, prefix_path = prefix
    if sweep.is_clean(offset):
        if got.warnings:
            found.append(f"a warning on a complete capture: {got.warnings}")
    elif not truncation:
        found.append(f"exit 0 without a truncation warning ({got.packets} packets)")
    key = (id(read), clean)
    if key not in sweep.prefix_reads:
        sweep.prefix_reads[key] = read(prefix_path)
    whole = sweep.prefix_reads[key]
    complete = sweep.layout.packets_before(clean)
    if whole.error is not None or whole.warnings:
        found.append(f"the clean prefix ({clean} bytes) does not read cleanly: "
                     f"{whole.error or whole.warnings}")
    if got.packets != whole.packets:
        found.append(f"{got.packets} packets, the clean prefix has {whole.packets} "
                     f"({complete} complete records before the cut)")
    if records_of(got) != records_of(whole):
        found.append(f"records differ from the clean prefix's ({len(got.records)} vs "
                     f"{len(whole.records)})")
    if truncation and got.truncated_at != complete:
        found.append(f"truncated_at {got.truncated_at}, {complete} records are complete "
                     f"({truncation[0]!r})")
    return found


def sweep_report(failures: dict[int, list[str]], total: int) -> str:
    by_kind: Counter[str] = Counter()
    first: dict[str, list[int]] = {}
    for offset, problems in sorted(failures.items()):
        for problem in problems:
            key = problem.split(" (")[0].split(":")[0]
            by_kind[key] += 1
            first.setdefault(key, []).append(offset)
    lines = [f"{len(failures)} of {total} cuts break the contract:"]
    for key, n in by_kind.most_common():
        offsets = first[key]
        example = next(p for p in failures[offsets[0]] if p.startswith(key))
        lines.append(f"  {n} x {key}: offsets {offsets[:12]}{' ...' if n > 12 else ''};"
                     f" e.g. at {offsets[0]}: {example}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Running the CLI and judging the outcome
# ---------------------------------------------------------------------------------------

@dataclass(slots=True)
class Outcome:
    """What one run of the CLI did."""

    args: list[str]
    code: int | None  # None: timed out (killed)
    stdout: str
    stderr: str
    seconds: float = 0.0
    exception: str | None = None  # in process: an exception that escaped the CLI

    @property
    def lines(self) -> list[str]:
        return [x for x in self.stderr.splitlines() if x.strip()]

    @property
    def timed_out(self) -> bool:
        return self.code is None

    def has(self, what: str) -> bool:
        """traceback / panic / aborted on stderr."""
        return any(m in self.stderr for m in CRASH_MARKERS[what])

    @property
    def stray_lines(self) -> list[str]:
        """stderr lines that are none of error/warning/note/the batch tally."""
        return [x for x in self.lines if not x.startswith(PREFIXES) and not TALLY.match(x)]

    @property
    def errors(self) -> list[str]:
        return [x for x in self.lines if x.startswith("error: ")]

    @property
    def warnings(self) -> list[str]:
        return [x for x in self.lines if x.startswith("warning: ")]

    def problems(self, names: Sequence[str] = (), *, one_error: bool = True) -> list[str]:
        """Every way this outcome breaks the contract (empty: it keeps it). ``names``: the
        files one of which an error line must name."""
        found = []
        if self.timed_out:
            found.append("hang (timed out)")
        if self.exception:
            found.append(f"exception escaped: {self.exception}")
        for what in CRASH_MARKERS:
            if self.has(what):
                found.append(what)
        if self.code is not None and self.code not in DOCUMENTED_EXITS:
            found.append(f"undocumented exit {self.code}")
        if self.stray_lines:
            found.append(f"stray stderr lines {self.stray_lines[:3]!r}")
        if self.code == 3:
            if one_error and len(self.errors) != 1:
                found.append(f"exit 3 with {len(self.errors)} error lines")
            if not self.errors:
                found.append("exit 3 without an error line")
        if self.code in (2, 3) and not self.errors:
            found.append(f"exit {self.code} without an error line")
        if self.code == 0 and self.errors:
            found.append("exit 0 with an error line")
        if names:
            for e in self.errors:
                if not any(str(n) in e for n in names) and "display filter" not in e:
                    found.append(f"error line names no file: {e!r}")
        return found

    def describe(self) -> str:
        return (f"args={self.args!r} exit={self.code} ({self.seconds:.2f}s)\n"
                f"stderr={self.stderr[-2000:]!r}\nexception={self.exception!r}")


def run_subprocess(args: Sequence[str], *, timeout: float = 60.0, cwd: Path = ROOT,
                   env: dict[str, str] | None = None, prefix: Sequence[str] = (),
                   stdin: int | None = subprocess.DEVNULL) -> Outcome:
    """Run ``python -m analyzer ARGS`` (behind ``prefix``, e.g. setpriv) in a subprocess
    of its own process group, killed with the group after ``timeout`` seconds."""
    full = [*prefix, *CLI, *args]
    start = time.monotonic()
    proc = subprocess.Popen(full, cwd=cwd, stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, "CI": "true", "COLUMNS": "200",
                                 **(env or {})})
    try:
        out, err = proc.communicate(timeout=timeout)
        code: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        code = None
    if code is not None and code < 0:
        code = 128 - code  # killed by a signal: report it as a shell would (e.g. 134)
    return Outcome(list(args), code, out.decode("utf-8", "replace"),
                   err.decode("utf-8", "replace"), time.monotonic() - start)


def run_inprocess(args: Sequence[str]) -> Outcome:
    """Run the CLI in this process with typer's CliRunner (stderr kept apart); an exception
    that escapes the CLI is reported as such (it would be a traceback on the terminal)."""
    from typer.testing import CliRunner

    from analyzer.cli import app

    start = time.monotonic()
    result = CliRunner().invoke(app, list(args), env={"CI": "true", "COLUMNS": "200"})
    exc = result.exception
    escaped = None
    if exc is not None and not isinstance(exc, SystemExit):
        escaped = f"{type(exc).__name__}: {exc}"
    return Outcome(list(args), result.exit_code, result.stdout, result.stderr,
                   time.monotonic() - start, escaped)


def write_mutant(folder: Path, name: str, mutant: Mutant) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / f"{name}{mutant.suffix}"
    p.write_bytes(mutant.data)
    return p


#: Commands a mutant is run through, with their arguments after the capture.
COMMANDS: tuple[tuple[str, ...], ...] = (
    ("connections", "-f", "jsonl"),
    ("connections", "-f", "zeek"),
    ("http", "-f", "jsonl"),
    ("websockets", "-f", "jsonl"),
    ("summary", "-f", "json"),
    ("explain",),
    ("connections", "-f", "csv", "--strict"),
)


def command_line(engine: str, command: Sequence[str], capture: Path) -> list[str]:
    return ["--engine", engine, command[0], str(capture), *command[1:], "-q"]


def contract_problems(outcome: Outcome, capture: Path, command: Sequence[str]) -> list[str]:
    """The contract as it applies to one mutant run through one command."""
    found = outcome.problems([str(capture)])
    allowed = {0, 3, 4} if "--strict" in command else {0, 3}
    if command[0] == "explain":
        allowed |= {2}  # no connection to explain is a usage error
    if outcome.code is not None and outcome.code in DOCUMENTED_EXITS \
            and outcome.code not in allowed:
        found.append(f"exit {outcome.code} not expected for {command[0]}")
    return found
