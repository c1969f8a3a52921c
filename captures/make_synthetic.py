#!/usr/bin/env python3
"""Build edge-case packet captures (offline, with scapy) plus expectation files.

Usage:
    python captures/make_synthetic.py [--out captures/synthetic]

Every capture NAME gets ``NAME.expected.json`` next to it describing the
connections the analyzer should report (see the record contract in the
project docs).  Nothing is ever sent on the network: packets are only built
and written to files.

Output is deterministic: fixed ISNs, fixed IP ids, fixed timestamps
(base 1700000000.000000 + whole microseconds), gzip mtime=0.  Running the
script twice yields byte-identical files.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import struct
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from scapy.all import (
    DNS,
    DNSQR,
    DNSRR,
    IP,
    TCP,
    UDP,
    CookedLinux,
    CookedLinuxV2,
    Dot1AD,
    Dot1Q,
    Ether,
    IPv6,
    Loopback,
    Packet,
    PcapNgWriter,
    PcapWriter,
    Raw,
)
from scapy.contrib.mpls import MPLS

BASE_TIME = Decimal("1700000000.000000")
US = Decimal("0.000001")

CLIENT4, SERVER4 = "10.0.0.1", "10.0.0.2"
CLIENT6, SERVER6 = "2001:db8::1", "2001:db8::2"
CLIENT_MAC, SERVER_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
SERVER_PORT = 8080

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276

# Application payloads used by the "plain graceful connection" ladder.
REQUEST = b"GET / HTTP/1.0\r\n\r\n"  # 18 bytes
_BODY_LEN = 137 - len(b"HTTP/1.0 200 OK\r\nContent-Length: 00\r\n\r\n")
RESPONSE = (
    b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % _BODY_LEN
    + (b"synthetic-body-0123456789" * 4)[:_BODY_LEN]
)
assert len(REQUEST) == 18 and len(RESPONSE) == 137, (len(REQUEST), len(RESPONSE))
RESP_1, RESP_2 = RESPONSE[:100], RESPONSE[100:]


# --------------------------------------------------------------------------
# Capture / conversation helpers
# --------------------------------------------------------------------------


def eth_link(pkt: Packet, from_client: bool) -> Packet:
    src, dst = (CLIENT_MAC, SERVER_MAC) if from_client else (SERVER_MAC, CLIENT_MAC)
    etype = 0x86DD if isinstance(pkt, IPv6) else 0x0800
    return Ether(src=src, dst=dst, type=etype) / pkt


def vlan_link(pkt: Packet, from_client: bool) -> Packet:
    src, dst = (CLIENT_MAC, SERVER_MAC) if from_client else (SERVER_MAC, CLIENT_MAC)
    return Ether(src=src, dst=dst, type=0x8100) / Dot1Q(vlan=100, type=0x0800) / pkt


def qinq_link(pkt: Packet, from_client: bool) -> Packet:
    src, dst = (CLIENT_MAC, SERVER_MAC) if from_client else (SERVER_MAC, CLIENT_MAC)
    return (
        Ether(src=src, dst=dst, type=0x88A8)
        / Dot1AD(vlan=200, type=0x8100)
        / Dot1Q(vlan=100, type=0x0800)
        / pkt
    )


def mpls_link(pkt: Packet, from_client: bool) -> Packet:
    src, dst = (CLIENT_MAC, SERVER_MAC) if from_client else (SERVER_MAC, CLIENT_MAC)
    return Ether(src=src, dst=dst, type=0x8847) / MPLS(label=16, cos=0, s=1, ttl=64) / pkt


def _mac_bytes(mac: str) -> bytes:
    return bytes(int(x, 16) for x in mac.split(":"))


def sll_link(pkt: Packet, from_client: bool) -> Packet:
    # Captured on the client host: its own packets are OUTGOING (4),
    # the server's are addressed to us (HOST, 0).
    mac = CLIENT_MAC if from_client else SERVER_MAC
    return (
        CookedLinux(
            pkttype=4 if from_client else 0,
            lladdrtype=1,
            lladdrlen=6,
            src=_mac_bytes(mac) + b"\x00\x00",
            proto=0x0800,
        )
        / pkt
    )


def sll2_link(pkt: Packet, from_client: bool) -> Packet:
    mac = CLIENT_MAC if from_client else SERVER_MAC
    return (
        CookedLinuxV2(
            proto=0x0800,
            reserved=0,
            ifindex=2,
            lladdrtype=1,
            pkttype=4 if from_client else 0,
            lladdrlen=6,
            src=_mac_bytes(mac) + b"\x00\x00",
        )
        / pkt
    )


def null_link(pkt: Packet, from_client: bool) -> Packet:
    return Loopback(type=2) / pkt  # AF_INET, host byte order


class Capture:
    """A list of timestamped frames with per-host IP id counters."""

    def __init__(
        self,
        link: Callable[[Packet, bool], Packet] = eth_link,
        linktype: int = LINKTYPE_ETHERNET,
    ) -> None:
        self.link = link
        self.linktype = linktype
        self.frames: list[Packet] = []
        self.now_us = 0  # microseconds after BASE_TIME
        # Distinct, random-looking IP id sequences per host (never overlap).
        self._ipid = {"10.0.0.1": 0x3A41, "10.0.0.2": 0x91C7, "10.0.0.3": 0x5E02}

    def next_ipid(self, src: str) -> int:
        v = self._ipid[src]
        self._ipid[src] = v + 1
        return v

    def advance(self, dt_us: int) -> None:
        self.now_us += dt_us

    def add(self, l3: Packet, from_client: bool, dt_us: int) -> Packet:
        self.now_us += dt_us
        frame = self.link(l3, from_client)
        frame.time = BASE_TIME + self.now_us * US
        self.frames.append(frame)
        return frame


class Conv:
    """Tracks seq/ack for one TCP connection so scenarios read like a ladder.

    ``conv.c("S")`` – client sends SYN; ``conv.s("SA")`` – server answers;
    ``conv.c("PA", payload=b"...")`` etc.  seq defaults to the sender's next
    sequence number, ack (when the A flag is set) to everything the peer has
    sent so far.  Both can be overridden (retransmissions, bogus acks,
    simultaneous close).
    """

    def __init__(
        self,
        cap: Capture,
        cport: int,
        isn_c: int,
        isn_s: int,
        *,
        sport: int = SERVER_PORT,
        ipv6: bool = False,
        client: str | None = None,
        server: str | None = None,
    ) -> None:
        self.cap = cap
        self.ipv6 = ipv6
        self.client = client or (CLIENT6 if ipv6 else CLIENT4)
        self.server = server or (SERVER6 if ipv6 else SERVER4)
        self.cport, self.sport = cport, sport
        self.isn_c, self.isn_s = isn_c, isn_s
        self.nxt = {"c": isn_c, "s": isn_s}  # next seq each side will send

    @property
    def cnxt(self) -> int:
        return self.nxt["c"]

    @property
    def snxt(self) -> int:
        return self.nxt["s"]

    def _send(
        self,
        side: str,
        flags: str,
        payload: bytes,
        seq: int | None,
        ack: int | None,
        dt: int,
        win: int | None,
    ) -> Packet:
        peer = "s" if side == "c" else "c"
        from_client = side == "c"
        if seq is None:
            seq = self.nxt[side]
        if ack is None:
            ack = self.nxt[peer] if "A" in flags else 0
        if win is None:
            win = 64240 if flags == "S" else (65160 if flags == "SA" else 502)
        opts: list[Any] = []
        if "S" in flags:
            opts = [("MSS", 1460 if not self.ipv6 else 1440), ("SAckOK", b""), ("WScale", 7)]
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        sp, dp = (self.cport, self.sport) if from_client else (self.sport, self.cport)
        tcp = TCP(
            sport=sp,
            dport=dp,
            seq=seq & 0xFFFFFFFF,
            ack=ack & 0xFFFFFFFF,
            flags=flags,
            window=win,
            options=opts,
        )
        if payload:
            tcp = tcp / Raw(load=payload)
        if self.ipv6:
            l3 = IPv6(src=src, dst=dst, hlim=64) / tcp
        else:
            l3 = IP(src=src, dst=dst, ttl=64, flags="DF", id=self.cap.next_ipid(src)) / tcp
        end = seq + len(payload) + ("S" in flags) + ("F" in flags)
        # Retransmissions (seq below nxt) never move nxt backwards.
        if (end - self.nxt[side]) % 2**32 < 2**31:
            self.nxt[side] = end & 0xFFFFFFFF
        return self.cap.add(l3, from_client, dt)

    def c(
        self,
        flags: str,
        payload: bytes = b"",
        *,
        seq: int | None = None,
        ack: int | None = None,
        dt: int = 150,
        win: int | None = None,
    ) -> Packet:
        return self._send("c", flags, payload, seq, ack, dt, win)

    def s(
        self,
        flags: str,
        payload: bytes = b"",
        *,
        seq: int | None = None,
        ack: int | None = None,
        dt: int = 350,
        win: int | None = None,
    ) -> Packet:
        return self._send("s", flags, payload, seq, ack, dt, win)


# Reusable ladder fragments ---------------------------------------------------


def handshake(cv: Conv) -> None:
    cv.c("S", dt=1000)
    cv.s("SA")
    cv.c("A")


def exchange(cv: Conv) -> None:
    """Request (18 B) from client, response (137 B) in two server segments."""
    cv.c("PA", REQUEST, dt=40)
    cv.s("A")
    cv.s("PA", RESP_1, dt=900)
    cv.s("PA", RESP_2, dt=20)
    cv.c("A")


def close_by_client(cv: Conv) -> None:
    cv.c("FA", dt=500)
    cv.s("FA")
    cv.c("A")


def close_by_server(cv: Conv) -> None:
    cv.s("FA", dt=500)
    cv.c("FA")
    cv.s("A")


def graceful(cap: Capture, cport: int, isn_c: int, isn_s: int, ipv6: bool = False) -> Conv:
    cv = Conv(cap, cport, isn_c, isn_s, ipv6=ipv6)
    handshake(cv)
    exchange(cv)
    close_by_client(cv)
    return cv


# --------------------------------------------------------------------------
# Expectation records
# --------------------------------------------------------------------------


def tcp_rec(
    cport: int,
    *,
    ip_version: int = 4,
    client_inferred: bool = False,
    handshake: str = "complete",
    handshake_valid: bool | None = True,
    syn_retransmissions: int = 0,
    end: str = "fin",
    closer: str | None = "client",
    rst_by: str | None = None,
    client_state: str = "TIME_WAIT",
    server_state: str = "CLOSED",
    time_wait: str | None = "client",
    packets_c2s: int = 6,
    packets_s2c: int = 5,
    bytes_c2s: int = 18,
    bytes_s2c: int = 137,
    zeek_conn_state: str | None = "SF",
) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "proto": "tcp",
        "ip_version": ip_version,
        "client_ip": CLIENT4 if ip_version == 4 else CLIENT6,
        "client_port": cport,
        "server_ip": SERVER4 if ip_version == 4 else SERVER6,
        "server_port": SERVER_PORT,
        "client_inferred": client_inferred,
        "handshake": handshake,
        "handshake_valid": handshake_valid,
        "syn_retransmissions": syn_retransmissions,
        "end": end,
        "closer": closer,
        "rst_by": rst_by,
        "client_state": client_state,
        "server_state": server_state,
        "time_wait": time_wait,
        "packets_c2s": packets_c2s,
        "packets_s2c": packets_s2c,
        "bytes_c2s": bytes_c2s,
        "bytes_s2c": bytes_s2c,
    }
    if zeek_conn_state is not None:
        rec["zeek"] = {"conn_state": zeek_conn_state}
    return rec


class Scenario:
    def __init__(
        self,
        name: str,
        description: str,
        cap: Capture,
        connections: list[dict[str, Any]],
        fmt: str = "pcap",
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.description = description
        self.cap = cap
        self.connections = connections
        self.fmt = fmt  # pcap | pcapng | pcap.gz
        self.extra = extra or {}

    @property
    def filename(self) -> str:
        return f"{self.name}.{self.fmt}"


# --------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------


def pcap_bytes(cap: Capture) -> bytes:
    buf = io.BytesIO()
    w = PcapWriter(buf, linktype=cap.linktype, endianness="<", sync=True)
    for f in cap.frames:
        w.write(f)
    w.flush()
    data = buf.getvalue()
    assert struct.unpack_from("<I", data, 20)[0] == cap.linktype
    return data


class _ExactPcapNgWriter(PcapNgWriter):  # type: ignore[misc]
    """PcapNgWriter converts packet.time to float; keep the exact Decimal."""

    def _get_time(self, packet: Packet, sec: Any, usec: Any) -> tuple[Any, int]:
        if sec is None:
            sec = Decimal(packet.time)
        return sec, 0


def write_pcapng(cap: Capture, path: Path) -> None:
    w = _ExactPcapNgWriter(str(path))
    w.linktype = cap.linktype
    for f in cap.frames:
        w.write(f)
    w.close()


def write_gzip(data: bytes, path: Path) -> None:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    path.write_bytes(buf.getvalue())


def write_json(obj: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------


def build_scenarios() -> list[Scenario]:
    out: list[Scenario] = []

    # 1. simultaneous close -------------------------------------------------
    cap = Capture()
    cv = Conv(cap, 40001, 0x6B8B4567, 0x327B23C6)
    handshake(cv)
    exchange(cv)
    c_fin_seq = cv.cnxt
    cv.c("FA", dt=500)  # client FIN
    cv.s("FA", ack=c_fin_seq, dt=30)  # server FIN, sent before seeing client's FIN
    cv.c("A", dt=120)  # client acks server FIN
    cv.s("A", dt=90)  # server acks client FIN
    out.append(
        Scenario(
            "simultaneous_close",
            "Both sides send FIN before either FIN is acknowledged; "
            "both go FIN_WAIT_1 -> CLOSING -> TIME_WAIT.",
            cap,
            [
                tcp_rec(
                    40001,
                    closer="both",
                    client_state="TIME_WAIT",
                    server_state="TIME_WAIT",
                    time_wait="both",
                    packets_c2s=6,
                    packets_s2c=6,
                )
            ],
        )
    )

    # 2. bad SYN-ACK ack ----------------------------------------------------
    cap = Capture()
    cv = Conv(cap, 40002, 0x643C9869, 0x66334873)
    cv.c("S", dt=1000)
    cv.s("SA", ack=cv.isn_c + 5)  # should be isn_c + 1
    cv.c("A")  # acks isn_s + 1 (correct)
    exchange(cv)
    close_by_client(cv)
    out.append(
        Scenario(
            "bad_synack_ack",
            "SYN-ACK acknowledges ISN_c+5 instead of ISN_c+1; otherwise a normal "
            "request/response with graceful close by the client.",
            cap,
            [tcp_rec(40002, handshake_valid=False)],
        )
    )

    # 3. bad final ACK ------------------------------------------------------
    cap = Capture()
    cv = Conv(cap, 40003, 0x74B0DC51, 0x19495CFF)
    cv.c("S", dt=1000)
    cv.s("SA")
    cv.c("A", ack=cv.isn_s + 7)  # should be isn_s + 1
    exchange(cv)
    close_by_client(cv)
    out.append(
        Scenario(
            "bad_final_ack",
            "Handshake whose final ACK acknowledges ISN_s+7 instead of ISN_s+1; "
            "rest of the connection is normal, closed by the client.",
            cap,
            [tcp_rec(40003, handshake_valid=False)],
        )
    )

    # 4. SYN retransmitted twice --------------------------------------------
    cap = Capture()
    cv = Conv(cap, 40004, 0x2AE8944A, 0x625558EC)
    cv.c("S", dt=1000)
    cv.c("S", seq=cv.isn_c, dt=1_000_000)  # +1 s
    cv.c("S", seq=cv.isn_c, dt=2_000_000)  # +2 s
    cv.s("SA")
    cv.c("A")
    exchange(cv)
    close_by_server(cv)
    out.append(
        Scenario(
            "syn_retransmit",
            "Client SYN sent three times (1 s then 2 s apart, same ISN) before the "
            "SYN-ACK; request/response; graceful close initiated by the server.",
            cap,
            [
                tcp_rec(
                    40004,
                    syn_retransmissions=2,
                    closer="server",
                    client_state="CLOSED",
                    server_state="TIME_WAIT",
                    time_wait="server",
                    packets_c2s=7,
                    packets_s2c=6,
                )
            ],
        )
    )

    # 5. port reuse ---------------------------------------------------------
    cap = Capture()
    cv = Conv(cap, 40005, 0x238E1F29, 0x46E87CCD)
    handshake(cv)
    exchange(cv)
    close_by_client(cv)
    cap.advance(2_000_000 - 1000)  # new SYN 2 s after the last packet (handshake adds 1 ms)
    cv2 = Conv(cap, 40005, 0x3D1B58BA, 0x507ED7AB)  # new, larger ISN (RFC 6191)
    handshake(cv2)
    exchange(cv2)
    close_by_server(cv2)
    out.append(
        Scenario(
            "port_reuse",
            "Two complete connections on the same 4-tuple, 2 s apart: the first "
            "closed by the client, the second (new ISNs) closed by the server.",
            cap,
            [
                tcp_rec(40005),
                tcp_rec(
                    40005,
                    closer="server",
                    client_state="CLOSED",
                    server_state="TIME_WAIT",
                    time_wait="server",
                    packets_c2s=5,
                    packets_s2c=6,
                ),
            ],
        )
    )

    # 6. FIN carried on the last data segment -------------------------------
    cap = Capture()
    cv = Conv(cap, 40006, 0x2EB141F2, 0x41B71EFB)
    handshake(cv)
    cv.c("PA", REQUEST, dt=40)
    cv.s("A")
    cv.s("PA", RESP_1, dt=900)
    cv.s("FPA", RESP_2, dt=20)  # last data + FIN
    cv.c("A")
    cv.c("FA", dt=300)
    cv.s("A")
    out.append(
        Scenario(
            "fin_with_data",
            "Server's last data segment carries FIN (FPA with payload); the client "
            "acknowledges and then sends its own FIN.",
            cap,
            [
                tcp_rec(
                    40006,
                    closer="server",
                    client_state="CLOSED",
                    server_state="TIME_WAIT",
                    time_wait="server",
                    packets_c2s=5,
                    packets_s2c=5,
                )
            ],
        )
    )

    # 7. bare RST from server -----------------------------------------------
    cap = Capture()
    cv = Conv(cap, 40007, 0x79E2A9E3, 0x7545E146)
    handshake(cv)
    exchange(cv)
    cv.s("R", dt=2000)  # flags R only, ack field 0
    out.append(
        Scenario(
            "rst_no_ack",
            "Established connection with a request/response, then the server sends "
            "a bare RST (no ACK flag).",
            cap,
            [
                tcp_rec(
                    40007,
                    end="rst",
                    closer="server",
                    rst_by="server",
                    client_state="CLOSED",
                    server_state="CLOSED",
                    time_wait=None,
                    packets_c2s=4,
                    packets_s2c=5,
                    zeek_conn_state="RSTR",
                )
            ],
        )
    )

    # 8. RST+ACK from client ------------------------------------------------
    cap = Capture()
    cv = Conv(cap, 40008, 0x515F007C, 0x5BD062C2)
    handshake(cv)
    exchange(cv)
    cv.c("RA", dt=2000)
    out.append(
        Scenario(
            "rst_ack",
            "Established connection with a request/response, then the client aborts with RST+ACK.",
            cap,
            [
                tcp_rec(
                    40008,
                    end="rst",
                    closer="client",
                    rst_by="client",
                    client_state="CLOSED",
                    server_state="CLOSED",
                    time_wait=None,
                    packets_c2s=5,
                    packets_s2c=4,
                    zeek_conn_state="RSTO",
                )
            ],
        )
    )

    # 9-17. plain graceful connection over various encapsulations -------------
    def plain(
        name: str,
        desc: str,
        cport: int,
        isn_c: int,
        isn_s: int,
        link: Callable[[Packet, bool], Packet] = eth_link,
        linktype: int = LINKTYPE_ETHERNET,
        ipv6: bool = False,
        fmt: str = "pcap",
    ) -> None:
        cap = Capture(link, linktype)
        graceful(cap, cport, isn_c, isn_s, ipv6=ipv6)
        out.append(
            Scenario(
                name,
                desc,
                cap,
                [tcp_rec(cport, ip_version=6 if ipv6 else 4)],
                fmt=fmt,
                extra={"linktype": linktype},
            )
        )

    plain(
        "ipv6",
        "Plain graceful connection over IPv6 (Ethernet), closed by the client.",
        40009,
        0x12200854,
        0x4DB127F8,
        ipv6=True,
    )
    plain(
        "vlan",
        "Plain graceful connection inside an 802.1Q VLAN tag (VID 100).",
        40010,
        0x0216231B,
        0x1F16E9E8,
        link=vlan_link,
    )
    plain(
        "qinq",
        "Plain graceful connection inside 802.1ad (0x88a8, VID 200) + 802.1Q (VID 100) tags.",
        40011,
        0x1190CDE7,
        0x66EF438D,
        link=qinq_link,
    )
    plain(
        "mpls",
        "Plain graceful connection under one MPLS label (16, bottom of stack).",
        40012,
        0x140E0F76,
        0x3352255A,
        link=mpls_link,
    )
    plain(
        "sll",
        "Plain graceful connection with Linux cooked v1 framing (linktype 113).",
        40013,
        0x109CF92E,
        0x0DED7263,
        link=sll_link,
        linktype=LINKTYPE_LINUX_SLL,
    )
    plain(
        "sll2",
        "Plain graceful connection with Linux cooked v2 framing (linktype 276).",
        40014,
        0x7FDCC233,
        0x1BEFD79F,
        link=sll2_link,
        linktype=LINKTYPE_LINUX_SLL2,
    )
    plain(
        "loopback_null",
        "Plain graceful connection with BSD loopback/NULL framing "
        "(linktype 0, AF_INET in host byte order).",
        40015,
        0x41A7C4C9,
        0x6B68079A,
        link=null_link,
        linktype=LINKTYPE_NULL,
    )
    plain(
        "pcapng",
        "Plain graceful connection written as pcapng.",
        40016,
        0x4E6AFB66,
        0x25E45D32,
        fmt="pcapng",
    )
    plain(
        "gzip",
        "Plain graceful connection, classic pcap compressed with gzip.",
        40017,
        0x519B500D,
        0x431BD7B7,
        fmt="pcap.gz",
    )

    # 18. half close --------------------------------------------------------
    cap = Capture()
    cv = Conv(cap, 40018, 0x3F2DBA31, 0x7C83E458)
    handshake(cv)
    cv.c("PA", REQUEST, dt=40)
    cv.c("FA", dt=20)  # client done sending
    cv.s("A")  # acks request + FIN
    chunks = [RESPONSE[:60], RESPONSE[60:110], RESPONSE[110:]]
    for i, chunk in enumerate(chunks):
        cv.s("PA", chunk, dt=900 if i == 0 else 200)
        cv.c("A")
    cv.s("FA", dt=300)
    cv.c("A")
    out.append(
        Scenario(
            "half_close",
            "Client sends FIN right after its request; server keeps sending three data "
            "segments (each ACKed) before its own FIN.",
            cap,
            [tcp_rec(40018, packets_c2s=8, packets_s2c=6)],
        )
    )

    # 19. SYN only ----------------------------------------------------------
    cap = Capture()
    cv = Conv(cap, 40019, 0x257130A3, 0x62BBD95A)
    cv.c("S", dt=1000)
    cv.c("S", seq=cv.isn_c, dt=1_000_000)
    out.append(
        Scenario(
            "syn_only",
            "Client SYN sent twice with no answer at all.",
            cap,
            [
                tcp_rec(
                    40019,
                    handshake="unanswered",
                    handshake_valid=None,
                    syn_retransmissions=1,
                    end="open",
                    closer=None,
                    client_state="SYN_SENT",
                    server_state="CLOSED",
                    time_wait=None,
                    packets_c2s=2,
                    packets_s2c=0,
                    bytes_c2s=0,
                    bytes_s2c=0,
                    zeek_conn_state="S0",
                )
            ],
        )
    )

    # 20. refused -----------------------------------------------------------
    cap = Capture()
    cv = Conv(cap, 40020, 0x436C6125, 0x628C895D)
    cv.c("S", dt=1000)
    cv.s("RA", seq=0, ack=cv.isn_c + 1)
    out.append(
        Scenario(
            "refused",
            "Client SYN answered by RST+ACK (connection refused).",
            cap,
            [
                tcp_rec(
                    40020,
                    handshake="refused",
                    handshake_valid=None,
                    end="rst",
                    closer=None,
                    rst_by="server",
                    client_state="CLOSED",
                    server_state="CLOSED",
                    time_wait=None,
                    packets_c2s=1,
                    packets_s2c=1,
                    bytes_c2s=0,
                    bytes_s2c=0,
                    zeek_conn_state="REJ",
                )
            ],
        )
    )

    # 21. SYN-ACK never acknowledged ----------------------------------------
    cap = Capture()
    cv = Conv(cap, 40021, 0x333AB105, 0x721DA317)
    cv.c("S", dt=1000)
    cv.s("SA")
    out.append(
        Scenario(
            "synack_no_ack",
            "SYN and SYN-ACK, then nothing: the handshake is never completed.",
            cap,
            [
                tcp_rec(
                    40021,
                    handshake="incomplete",
                    handshake_valid=None,
                    end="open",
                    closer=None,
                    client_state="ESTABLISHED",
                    server_state="SYN_RECEIVED",
                    time_wait=None,
                    packets_c2s=1,
                    packets_s2c=1,
                    bytes_c2s=0,
                    bytes_s2c=0,
                    # Zeek marks both endpoints ESTABLISHED on the SYN-ACK -> S1.
                    zeek_conn_state="S1",
                )
            ],
        )
    )

    # 22. midstream ---------------------------------------------------------
    cap = Capture()
    cv = Conv(cap, 50000, 0x2443A858, 0x2D1D5AE9)
    cv.c("PA", REQUEST, dt=1000)
    cv.s("PA", RESPONSE)
    cv.c("A")
    cv.s("FA", dt=500)
    cv.c("FA")
    cv.s("A")
    out.append(
        Scenario(
            "midstream",
            "Capture starts mid-connection (no SYN): client data, server reply, then "
            "the server closes first, client FIN, final ACK.",
            cap,
            [
                tcp_rec(
                    50000,
                    client_inferred=True,
                    handshake="not_seen",
                    handshake_valid=None,
                    closer="server",
                    client_state="CLOSED",
                    server_state="TIME_WAIT",
                    time_wait="server",
                    packets_c2s=3,
                    packets_s2c=3,
                    zeek_conn_state=None,  # partial connection: not obvious from docs
                )
            ],
        )
    )

    # 23. CLOSE_WAIT leak ---------------------------------------------------
    cap = Capture()
    cv = Conv(cap, 40023, 0x3855585C, 0x70A64E2A)
    handshake(cv)
    exchange(cv)
    cv.c("FA", dt=500)
    cv.s("A")  # acks the FIN, but the server never sends its own FIN
    out.append(
        Scenario(
            "close_wait_leak",
            "Client FIN is acknowledged but the server never sends its FIN: client "
            "stays in FIN_WAIT_2, server in CLOSE_WAIT.",
            cap,
            [
                tcp_rec(
                    40023,
                    end="half_closed",
                    closer="client",
                    client_state="FIN_WAIT_2",
                    server_state="CLOSE_WAIT",
                    time_wait=None,
                    packets_c2s=5,
                    packets_s2c=5,
                    zeek_conn_state="S2",
                )
            ],
        )
    )

    # 24. retransmission ----------------------------------------------------
    cap = Capture()
    cv = Conv(cap, 40024, 0x6CEB7ADE, 0x1A7E9C20)
    handshake(cv)
    cv.c("PA", REQUEST, dt=40)
    cv.s("A")
    seg_seq = cv.snxt
    cv.s("PA", RESP_1, dt=900)
    cv.s("PA", RESP_1, seq=seg_seq, dt=204_000)  # RTO retransmission, same seq+payload
    cv.s("PA", RESP_2, dt=20)
    cv.c("A")
    close_by_client(cv)
    out.append(
        Scenario(
            "retransmission",
            "Server data segment retransmitted once (same seq, same 100-byte payload); "
            "the payload counts once.",
            cap,
            [tcp_rec(40024, packets_c2s=6, packets_s2c=6)],
        )
    )

    # 25. UDP ---------------------------------------------------------------
    cap = Capture()

    def udp(src: str, sport: int, dst: str, dport: int, payload: bytes, dt: int) -> None:
        l3 = (
            IP(src=src, dst=dst, ttl=64, id=cap.next_ipid(src))
            / UDP(sport=sport, dport=dport)
            / Raw(load=payload)
        )
        cap.add(l3, src == CLIENT4, dt)

    q1 = bytes(DNS(id=0x1D2F, rd=1, qd=DNSQR(qname="example.com", qtype="A")))
    r1 = bytes(
        DNS(
            id=0x1D2F,
            qr=1,
            rd=1,
            ra=1,
            qd=DNSQR(qname="example.com", qtype="A"),
            an=DNSRR(rrname="example.com", type="A", ttl=300, rdata="93.184.216.34"),
        )
    )
    q2 = bytes(DNS(id=0x1D30, rd=1, qd=DNSQR(qname="example.org", qtype="A")))
    r2 = bytes(
        DNS(
            id=0x1D30,
            qr=1,
            rd=1,
            ra=1,
            qd=DNSQR(qname="example.org", qtype="A"),
            an=DNSRR(rrname="example.org", type="A", ttl=300, rdata="93.184.215.14"),
        )
    )
    log1 = b"<14>Nov 14 22:13:20 host app: synthetic syslog line 1"
    log2 = b"<14>Nov 14 22:13:21 host app: synthetic syslog line 2"
    udp(CLIENT4, 5353, SERVER4, 53, q1, 1000)
    udp(SERVER4, 53, CLIENT4, 5353, r1, 800)
    udp("10.0.0.3", 9999, SERVER4, 514, log1, 500)
    udp(CLIENT4, 5353, SERVER4, 53, q2, 500)
    udp(SERVER4, 53, CLIENT4, 5353, r2, 800)
    udp("10.0.0.3", 9999, SERVER4, 514, log2, 1_000_000)
    out.append(
        Scenario(
            "udp",
            "UDP: two DNS queries 10.0.0.1:5353 -> 10.0.0.2:53 with replies, plus a "
            "one-way syslog flow 10.0.0.3:9999 -> 10.0.0.2:514.",
            cap,
            [
                {
                    "proto": "udp",
                    "ip_version": 4,
                    "client_ip": CLIENT4,
                    "client_port": 5353,
                    "server_ip": SERVER4,
                    "server_port": 53,
                    "packets_c2s": 2,
                    "packets_s2c": 2,
                    "bytes_c2s": len(q1) + len(q2),
                    "bytes_s2c": len(r1) + len(r2),
                    "zeek": {"conn_state": "SF"},
                },
                {
                    "proto": "udp",
                    "ip_version": 4,
                    "client_ip": "10.0.0.3",
                    "client_port": 9999,
                    "server_ip": SERVER4,
                    "server_port": 514,
                    "packets_c2s": 2,
                    "packets_s2c": 0,
                    "bytes_c2s": len(log1) + len(log2),
                    "bytes_s2c": 0,
                    "zeek": {"conn_state": "S0"},
                },
            ],
        )
    )
    return out


# --------------------------------------------------------------------------
# Self-checks on the generated frames (payload byte counts vs expectations)
# --------------------------------------------------------------------------


def _self_check(sc: Scenario) -> None:
    """Recount packets per direction from the frames; assert against the records."""
    for rec in sc.connections:
        pk = {"c2s": 0, "s2c": 0}
        for f in sc.cap.frames:
            l4 = f.getlayer(TCP) if rec["proto"] == "tcp" else f.getlayer(UDP)
            if l4 is None:
                continue
            ip = f.getlayer(IP) or f.getlayer(IPv6)
            if (ip.src, l4.sport, ip.dst, l4.dport) == (
                rec["client_ip"],
                rec["client_port"],
                rec["server_ip"],
                rec["server_port"],
            ):
                pk["c2s"] += 1
            elif (ip.dst, l4.dport, ip.src, l4.sport) == (
                rec["client_ip"],
                rec["client_port"],
                rec["server_ip"],
                rec["server_port"],
            ):
                pk["s2c"] += 1
        n_same_tuple = sum(
            1
            for r in sc.connections
            if (r["client_port"], r["server_port"], r["proto"])
            == (rec["client_port"], rec["server_port"], rec["proto"])
        )
        if n_same_tuple == 1:
            assert pk["c2s"] == rec["packets_c2s"], (sc.name, pk, rec)
            assert pk["s2c"] == rec["packets_s2c"], (sc.name, pk, rec)


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def write_scenario(sc: Scenario, outdir: Path) -> list[Path]:
    _self_check(sc)
    path = outdir / sc.filename
    if sc.fmt == "pcap":
        path.write_bytes(pcap_bytes(sc.cap))
    elif sc.fmt == "pcapng":
        write_pcapng(sc.cap, path)
    elif sc.fmt == "pcap.gz":
        write_gzip(pcap_bytes(sc.cap), path)
    else:
        raise ValueError(sc.fmt)
    exp: dict[str, Any] = {
        "capture": sc.filename,
        "description": sc.description,
        "format": sc.fmt,
        "linktype": sc.cap.linktype,
        "packets": len(sc.cap.frames),
        **sc.extra,
        "connections": sc.connections,
    }
    jpath = outdir / f"{sc.name}.expected.json"
    write_json(exp, jpath)
    return [path, jpath]


def write_bad(outdir: Path) -> list[Path]:
    bad = outdir / "bad"
    bad.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    p = bad / "empty.pcap"
    p.write_bytes(b"")
    written.append(p)
    j = bad / "empty.expected.json"
    write_json(
        {
            "capture": "empty.pcap",
            "description": "Zero-byte file (no pcap header at all).",
            # tshark 4.0.17 treats a 0-byte file as an empty capture: exit 0, no output.
            "tshark_exit_code": 0,
            "tshark_error": None,
            "connections": [],
        },
        j,
    )
    written.append(j)

    p = bad / "not_a_capture.pcap"
    p.write_bytes(
        b"This is not a packet capture.\n"
        b"It is a plain text file with a .pcap extension, used to test error handling.\n"
    )
    written.append(p)
    j = bad / "not_a_capture.expected.json"
    write_json(
        {
            "capture": "not_a_capture.pcap",
            "description": "Plain text with a .pcap extension (not a capture format).",
            "tshark_exit_code": 2,
            "tshark_error": "isn't a capture file in a format TShark understands",
            "connections": [],
        },
        j,
    )
    written.append(j)

    # truncated: a graceful 10-packet connection cut in the middle of record 8
    cap = Capture()
    graceful(cap, 40026, 0x5A0F2C91, 0x0B3E7D64)
    data = pcap_bytes(cap)
    off = 24
    for _ in range(7):
        incl_len = struct.unpack_from("<I", data, off + 8)[0]
        off += 16 + incl_len
    rec8_len = struct.unpack_from("<I", data, off + 8)[0]
    cut = off + 16 + rec8_len // 2  # header of record 8 intact, half its data
    p = bad / "truncated.pcap"
    p.write_bytes(data[:cut])
    written.append(p)
    j = bad / "truncated.expected.json"
    write_json(
        {
            "capture": "truncated.pcap",
            "description": f"Classic pcap of a graceful connection ({len(cap.frames)} packets, "
            "client port 40026) cut in the middle of the 8th packet record's data.",
            # tshark prints the 7 complete packets, then fails with exit code 2.
            "tshark_exit_code": 2,
            "tshark_error": "appears to have been cut short in the middle of a packet",
            "complete_packets": 7,
            "total_packets_before_truncation": len(cap.frames),
            "cut_at_byte": cut,
            "connections": [],
        },
        j,
    )
    written.append(j)
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "synthetic",
        help="output directory (default: captures/synthetic next to this script)",
    )
    args = ap.parse_args(argv)
    outdir: Path = args.out
    outdir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for sc in build_scenarios():
        written += write_scenario(sc, outdir)
    written += write_bad(outdir)
    for p in written:
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
