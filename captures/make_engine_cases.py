#!/usr/bin/env python3
"""Build the native engine's edge cases with scapy: what ``--check-checksums`` drops, and a
link type the engine does not decode.

- ``ip_header_bad.pcap``: a complete HTTP-like connection (SYN, SYN-ACK, ACK, data each
  way, FIN each way) in which the client's first data segment has a bad IPv4 header
  checksum (TCP checksum correct). With checksum checking it is dropped: the history
  gains ``C`` where the ``D`` was and the server's ACK of those bytes reveals a gap.
- ``bad_ack_no_flip.pcap``: a capture that starts with the server's SYN-ACK (from port
  9999, not a likely server port), then the client's ACK with a bad TCP checksum, and
  nothing more. Zeek flips a SYN-ACK-first connection on the next ACK or data; a dropped
  ACK must not do it (history ``Hc``, the SYN-ACK's sender stays the originator).

- ``fragments.pcap``: a 3,000-byte UDP datagram in three IPv4 fragments (and a reply),
  then one in three IPv6 fragments. Zeek counts the reassembled datagram once, at the
  last fragment: 3,028 (IPv4) and 3,048 (IPv6) IP bytes, one packet each.
- ``wifi_80211.pcap``: link type 105 (IEEE 802.11) data frames carrying IPv4/TCP (a SYN
  and its SYN-ACK). The native engine does not decode 802.11, so the capture is read with
  tshark instead, with a note on stderr.
- ``absurd_lengths.pcap``: two connections with lengths no parser may trust. The first: a
  GET answered by ``Content-Length: 18446744073709551615`` (2^64-1, as in Zeek's
  ``http/261`` cl_uint64max trace) and five body bytes, then the server closes. The
  second: a WebSocket upgrade whose server sends a frame claiming a payload of 2^63 bytes
  (the most significant bit of the 64-bit length set, invalid by RFC 6455 §5.2) and the
  client one claiming 2^63-1. Both must give null lengths and anomalies, not a crash.

Usage: python captures/make_engine_cases.py --out captures/engine
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scapy.layers.dot11 import Dot11
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, fragment6
from scapy.layers.l2 import LLC, SNAP, Ether
from scapy.packet import Raw
from scapy.utils import wrpcap

C, S = "10.9.0.1", "10.9.0.2"
CP, SP = 41000, 8080
T0 = 1_700_100_000.0


def _pkt(src: str, dst: str, sport: int, dport: int, flags: str, seq: int, ack: int,
         payload: bytes = b"", t: float = 0.0, bad_ip: bool = False,
         bad_tcp: bool = False) -> Ether:
    ip = IP(src=src, dst=dst, id=1)
    tcp = TCP(sport=sport, dport=dport, flags=flags, seq=seq, ack=ack, window=65535)
    p = Ether() / ip / tcp / payload
    p = Ether(bytes(p))  # fill in the checksums
    if bad_ip:
        p[IP].chksum = (p[IP].chksum + 1) & 0xFFFF
    if bad_tcp:
        p[TCP].chksum = (p[TCP].chksum + 1) & 0xFFFF
    p.time = T0 + t
    return p


def ip_header_bad() -> list[Ether]:
    c, s = 1000, 5000
    req, resp = b"GET / HTTP/1.0\r\n\r\n", b"HTTP/1.0 200 OK\r\n\r\nhello"
    return [
        _pkt(C, S, CP, SP, "S", c, 0, t=0.000),
        _pkt(S, C, SP, CP, "SA", s, c + 1, t=0.001),
        _pkt(C, S, CP, SP, "A", c + 1, s + 1, t=0.002),
        _pkt(C, S, CP, SP, "PA", c + 1, s + 1, req, t=0.003, bad_ip=True),
        _pkt(S, C, SP, CP, "PA", s + 1, c + 1 + len(req), resp, t=0.004),
        _pkt(S, C, SP, CP, "FA", s + 1 + len(resp), c + 1 + len(req), t=0.005),
        _pkt(C, S, CP, SP, "FA", c + 1 + len(req), s + 2 + len(resp), t=0.006),
        _pkt(S, C, SP, CP, "A", s + 2 + len(resp), c + 2 + len(req), t=0.007),
    ]


def bad_ack_no_flip() -> list[Ether]:
    c, s = 2000, 7000
    return [
        _pkt(S, C, 9999, CP, "SA", s, c + 1, t=0.000),
        _pkt(C, S, CP, 9999, "A", c + 1, s + 1, t=0.001, bad_tcp=True),
    ]


def fragments() -> list[Ether]:
    mac = {"src": "02:00:00:00:00:01", "dst": "02:00:00:00:00:02"}
    v4 = IP(src="10.1.0.1", dst="10.1.0.2", id=77) / UDP(sport=5000, dport=6000) / Raw(
        b"x" * 3000)
    out = [Ether(**mac) / f for f in fragment(v4, fragsize=1200)]
    out.append(Ether(**mac) / IP(src="10.1.0.2", dst="10.1.0.1", id=78)
               / UDP(sport=6000, dport=5000) / Raw(b"ok"))
    v6 = IPv6(src="fd00::1", dst="fd00::2") / IPv6ExtHdrFragment(id=5) / UDP(
        sport=7000, dport=8000) / Raw(b"y" * 3000)
    out += [Ether(**mac) / f for f in fragment6(v6, 1280)]
    for i, p in enumerate(out):
        p.time = T0 + i * 0.001
    return out


def wifi_80211() -> list[Dot11]:
    out = []
    for i, (src, dst, sport, dport, flags, seq, ack) in enumerate((
            (C, S, CP, SP, "S", 3000, 0), (S, C, SP, CP, "SA", 9000, 3001))):
        p = (Dot11(type=2, subtype=0, addr1="02:00:00:00:00:02", addr2="02:00:00:00:00:01",
                   addr3="02:00:00:00:00:03")
             / LLC(dsap=0xAA, ssap=0xAA, ctrl=3) / SNAP(OUI=0, code=0x0800)
             / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags, seq=seq,
                                          ack=ack))
        p.time = T0 + i * 0.001
        out.append(p)
    return out


def _exchange(cport: int, client: list[bytes], server: list[bytes], t0: float,
              close: bool = True) -> list[Ether]:
    """A handshake, then client and server payloads alternating (each acknowledged by the
    next segment), then a FIN each way."""
    out = [_pkt(C, S, cport, SP, "S", 100, 0, t=t0),
           _pkt(S, C, SP, cport, "SA", 500, 101, t=t0 + 0.001),
           _pkt(C, S, cport, SP, "A", 101, 501, t=t0 + 0.002)]
    cseq, sseq, t = 101, 501, t0 + 0.003
    for i in range(max(len(client), len(server))):
        if i < len(client):
            out.append(_pkt(C, S, cport, SP, "PA", cseq, sseq, client[i], t=t))
            cseq += len(client[i])
            t += 0.001
        if i < len(server):
            out.append(_pkt(S, C, SP, cport, "PA", sseq, cseq, server[i], t=t))
            sseq += len(server[i])
            t += 0.001
    if close:
        out.append(_pkt(S, C, SP, cport, "FA", sseq, cseq, t=t))
        out.append(_pkt(C, S, cport, SP, "FA", cseq, sseq + 1, t=t + 0.001))
        out.append(_pkt(S, C, SP, cport, "A", sseq + 1, cseq + 1, t=t + 0.002))
    return out


def absurd_lengths() -> list[Ether]:
    get = b"GET /huge HTTP/1.1\r\nHost: x\r\n\r\n"
    huge = (b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\nhello")
    upgrade = (b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               b"Sec-WebSocket-Version: 13\r\n\r\n")
    switch = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
              b"Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
    # 0x82: FIN + binary; 127: a 64-bit length follows; the client's frames are masked.
    server_frame = bytes([0x82, 127]) + (1 << 63).to_bytes(8, "big") + b"abcd"
    client_frame = bytes([0x82, 0x80 | 127]) + ((1 << 63) - 1).to_bytes(8, "big") + b"\0" * 4
    return (_exchange(41100, [get], [huge], 0.0)
            + _exchange(41101, [upgrade, client_frame], [switch, server_frame], 1.0))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("captures/engine"))
    out = ap.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    wrpcap(str(out / "ip_header_bad.pcap"), ip_header_bad())
    wrpcap(str(out / "bad_ack_no_flip.pcap"), bad_ack_no_flip())
    wrpcap(str(out / "wifi_80211.pcap"), wifi_80211(), linktype=105)
    wrpcap(str(out / "fragments.pcap"), fragments())
    wrpcap(str(out / "absurd_lengths.pcap"), absurd_lengths())


if __name__ == "__main__":
    main()
