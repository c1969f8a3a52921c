#!/usr/bin/env python3
"""Write a pcap of many TCP connections that are all open when the capture ends.

Two kinds, for measuring what an open connection costs (issue 12: memory follows the
open connections):

- ``syn``: one SYN per connection, never answered (a SYN flood; every record is ``S0``);
- ``open``: a complete handshake per connection (SYN, SYN-ACK, ACK), never closed (every
  record is ``S1``).

Connection ``i`` runs from 10.(i>>16).(i>>8 & 255).(i & 255), port 1024 + i % 60000,
to 10.255.0.1:80, its SYN with ISN ``i * 7``; the server answers with ISN ``i * 11 +
5``. Packets are ``--gap-us`` microseconds apart (default 1), so that 10^6 SYNs span
one second: less than Zeek's 5 s attempt timer, so none is given up before the end.
Ethernet, IPv4 and TCP headers only (no options, no payload), checksums correct.

Usage: python bench/floods.py --kind syn|open --count N [--gap-us US] OUT.pcap
"""

from __future__ import annotations

import argparse
import struct
import sys

SERVER = bytes([10, 255, 0, 1])
SERVER_PORT = 80
T0 = 1_700_000_000
SYN, ACK = 0x02, 0x10


def _fold(s: int) -> int:
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def _words(b: bytes) -> int:
    return sum(struct.unpack(f"!{len(b) // 2}H", b))


def client(i: int) -> tuple[bytes, int]:
    """Connection ``i``'s client address and port."""
    return bytes([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]), 1024 + i % 60000


def frame(src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int, flags: int,
          ip_id: int) -> bytes:
    """One Ethernet/IPv4/TCP frame with no payload."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", _fold(_words(pseudo + tcp))) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, ip_id & 0xFFFF, 0, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", _fold(_words(ip))) + ip[12:]
    return b"\x00\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02" + b"\x08\x00" + ip + tcp


def packets(kind: str, i: int):
    """Connection ``i``'s frames."""
    src, sport = client(i)
    isn_c, isn_s = (i * 7) & 0xFFFFFFFF, (i * 11 + 5) & 0xFFFFFFFF
    yield frame(src, SERVER, sport, SERVER_PORT, isn_c, 0, SYN, i)
    if kind == "open":
        yield frame(SERVER, src, SERVER_PORT, sport, isn_s, (isn_c + 1) & 0xFFFFFFFF,
                    SYN | ACK, i)
        yield frame(src, SERVER, sport, SERVER_PORT, (isn_c + 1) & 0xFFFFFFFF,
                    (isn_s + 1) & 0xFFFFFFFF, ACK, i + 1)


def write(path: str, kind: str, count: int, gap_us: int = 1) -> int:
    """Write the capture; returns the number of frames."""
    if kind not in ("syn", "open"):
        raise ValueError(f"unknown kind {kind!r}")
    n = 0
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        buf = []
        for i in range(count):
            for f in packets(kind, i):
                us = n * gap_us
                buf.append(struct.pack("<IIII", T0 + us // 1_000_000, us % 1_000_000,
                                       len(f), len(f)))
                buf.append(f)
                n += 1
            if len(buf) >= 65536:
                out.write(b"".join(buf))
                buf.clear()
        out.write(b"".join(buf))
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kind", choices=("syn", "open"), required=True)
    ap.add_argument("--count", type=int, required=True, help="connections")
    ap.add_argument("--gap-us", type=int, default=1, help="microseconds between packets")
    ap.add_argument("out", help="the pcap to write")
    a = ap.parse_args(argv)
    n = write(a.out, a.kind, a.count, a.gap_us)
    print(f"{a.out}: {a.count} connections ({a.kind}), {n} frames", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
