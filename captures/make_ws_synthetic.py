#!/usr/bin/env python3
"""Build WebSocket (RFC 6455) edge-case captures offline with scapy, plus expectations.

Usage:
    python captures/make_ws_synthetic.py [--out captures/ws_synthetic]

One small classic pcap (Ethernet, little-endian, microsecond timestamps) per
named RFC 6455 problem of the WebSocket record contract, each with
``NAME.expected.json`` holding the WebSocket record(s) the analyzer should
report.  Nothing is ever sent on the network: packets are only built and
written to files.

Every capture is one TCP connection 10.0.0.1:<4100x> -> 10.0.0.2:8765 (a port
no tshark dissector claims, so the HTTP handshake is found by tshark's HTTP
heuristic and WebSocket by the HTTP 101 hand-off, without any ``-d``):
TCP handshake, HTTP/1.1 upgrade request, 101 response, hand-encoded WebSocket
frames (client frames masked unless the scenario says otherwise), a Close
handshake and a TCP FIN exchange (the server closes TCP first, RFC 6455 7.1.1).

Output is deterministic: fixed ISNs, masking keys derived from the scenario
name, fixed IP ids, timestamps 1700000100.000000 + whole microseconds.
Running the script twice yields byte-identical files.

The conventions (ladder-style seq/ack tracking, default inter-packet delays,
MAC addresses, IP id bases) follow captures/make_synthetic.py; the helpers are
copied rather than imported so that changes there cannot alter these bytes.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import itertools
import json
import struct
from decimal import Decimal
from pathlib import Path
from typing import Any

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw
from scapy.utils import EDecimal, PcapWriter

BASE_TIME = Decimal("1700000100.000000")
US = Decimal("0.000001")

CLIENT4, SERVER4 = "10.0.0.1", "10.0.0.2"
CLIENT_MAC, SERVER_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
SERVER_PORT = 8765  # non-standard: HTTP is found heuristically
FIRST_CLIENT_PORT = 41001
LINKTYPE_ETHERNET = 1

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# Fixed, valid key: base64 of the 16 bytes 0x00..0x0f.
WS_KEY = base64.b64encode(bytes(range(16))).decode("ascii")
assert len(base64.b64decode(WS_KEY)) == 16
# RFC 6455 section 1.3 example accept: well-formed, but for a different key.
WRONG_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA
OPNAMES = {
    OP_CONT: "continuation",
    OP_TEXT: "text",
    OP_BINARY: "binary",
    OP_CLOSE: "close",
    OP_PING: "ping",
    OP_PONG: "pong",
}


def ws_accept(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode("ascii")).digest()).decode()


assert ws_accept("dGhlIHNhbXBsZSBub25jZQ==") == WRONG_ACCEPT  # RFC 6455 1.3
assert ws_accept(WS_KEY) != WRONG_ACCEPT


# --------------------------------------------------------------------------
# WebSocket frame encoding (by hand, RFC 6455 section 5.2)
# --------------------------------------------------------------------------


def ws_frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    mask_key: bytes | None = None,
) -> bytes:
    """FIN/RSV/opcode byte, MASK bit + 7-bit / 16-bit / 64-bit length, key, payload."""
    b0 = (0x80 if fin else 0) | ((rsv & 0x7) << 4) | (opcode & 0xF)
    mbit = 0x80 if mask_key is not None else 0
    n = len(payload)
    if n <= 125:
        hdr = bytes([b0, mbit | n])
    elif n <= 0xFFFF:
        hdr = bytes([b0, mbit | 126]) + struct.pack("!H", n)
    else:
        hdr = bytes([b0, mbit | 127]) + struct.pack("!Q", n)
    if mask_key is None:
        return hdr + payload
    assert len(mask_key) == 4
    masked = bytes(b ^ mask_key[i % 4] for i, b in enumerate(payload))
    return hdr + mask_key + masked


def close_payload(code: int | None, reason: str = "") -> bytes:
    if code is None:
        return b""
    return struct.pack("!H", code) + reason.encode("utf-8")


# --------------------------------------------------------------------------
# Capture / conversation helpers (approach of captures/make_synthetic.py)
# --------------------------------------------------------------------------


class Capture:
    """Timestamped Ethernet frames with per-host IP id counters."""

    def __init__(self) -> None:
        self.frames: list[Packet] = []
        self.now_us = 0  # microseconds after BASE_TIME
        # Distinct per-host IP id sequences (never overlap in these small files).
        self._ipid = {CLIENT4: 0x3A41, SERVER4: 0x91C7}

    def next_ipid(self, src: str) -> int:
        v = self._ipid[src]
        self._ipid[src] = v + 1
        return v

    def add(self, l3: Packet, from_client: bool, dt_us: int) -> int:
        """Append a frame; return its 1-based frame number."""
        self.now_us += dt_us
        src, dst = (CLIENT_MAC, SERVER_MAC) if from_client else (SERVER_MAC, CLIENT_MAC)
        frame = Ether(src=src, dst=dst, type=0x0800) / l3
        frame.time = EDecimal(BASE_TIME + self.now_us * US)
        self.frames.append(frame)
        return len(self.frames)

    def time_of(self, frame_no: int) -> float:
        return float(self.frames[frame_no - 1].time)


class Conv:
    """Ladder-style TCP conversation: seq defaults to the sender's next sequence
    number, ack (when the A flag is set) to everything the peer has sent."""

    def __init__(self, cap: Capture, cport: int, isn_c: int, isn_s: int) -> None:
        self.cap = cap
        self.cport, self.sport = cport, SERVER_PORT
        self.nxt = {"c": isn_c, "s": isn_s}

    def send(self, side: str, flags: str, payload: bytes = b"", dt: int | None = None) -> int:
        peer = "s" if side == "c" else "c"
        from_client = side == "c"
        if dt is None:
            dt = 150 if from_client else 350
        seq = self.nxt[side]
        ack = self.nxt[peer] if "A" in flags else 0
        win = 64240 if flags == "S" else (65160 if flags == "SA" else 502)
        opts: list[Any] = []
        if "S" in flags:
            opts = [("MSS", 1460), ("SAckOK", b""), ("WScale", 7)]
        src, dst = (CLIENT4, SERVER4) if from_client else (SERVER4, CLIENT4)
        sp, dp = (self.cport, self.sport) if from_client else (self.sport, self.cport)
        tcp = TCP(sport=sp, dport=dp, seq=seq, ack=ack, flags=flags, window=win, options=opts)
        if payload:
            tcp = tcp / Raw(load=payload)
        l3 = IP(src=src, dst=dst, ttl=64, flags="DF", id=self.cap.next_ipid(src)) / tcp
        self.nxt[side] = (seq + len(payload) + ("S" in flags) + ("F" in flags)) & 0xFFFFFFFF
        return self.cap.add(l3, from_client, dt)

    def c(self, flags: str, payload: bytes = b"", dt: int | None = None) -> int:
        return self.send("c", flags, payload, dt)

    def s(self, flags: str, payload: bytes = b"", dt: int | None = None) -> int:
        return self.send("s", flags, payload, dt)


# --------------------------------------------------------------------------
# WebSocket session: emits segments and keeps the expected record in step
# --------------------------------------------------------------------------


def _zero_frames() -> dict[str, int]:
    return {k: 0 for k in ("text", "binary", "continuation", "ping", "pong", "close")}


class WsSession:
    def __init__(self, name: str, cport: int) -> None:
        self.name = name
        h = hashlib.sha256(name.encode()).digest()
        isn_c, isn_s = struct.unpack("!II", h[:8])
        self.cap = Capture()
        self.cv = Conv(self.cap, cport, isn_c, isn_s)
        self._mask_ctr = 0
        self.rec: dict[str, Any] = {
            "capture": f"{name}.pcap",
            "client_ip": CLIENT4,
            "client_port": cport,
            "server_ip": SERVER4,
            "server_port": SERVER_PORT,
            "request_ts": None,
            "request_target": None,
            "host": None,
            "origin": None,
            "sec_websocket_key": None,
            "sec_websocket_version": None,
            "offered_subprotocols": [],
            "offered_extensions": [],
            "status": None,
            "sec_websocket_accept": None,
            "accept_valid": None,
            "subprotocol": None,
            "extensions": [],
            "established": False,
            "frames_c2s": _zero_frames(),
            "frames_s2c": _zero_frames(),
            "messages_c2s": {"text": 0, "binary": 0},
            "messages_s2c": {"text": 0, "binary": 0},
            "payload_bytes_c2s": 0,
            "payload_bytes_s2c": 0,
            "close_code": None,
            "close_reason": None,
            "close_by": None,
            "reply_close_code": None,
            "problems": [],
        }
        self._closed_by: set[str] = set()
        self._request_ok = False
        self._sent = {"c": 0, "s": 0}  # WebSocket bytes sent per side
        # Encoded frames not yet fully sent: (end offset in the side's stream or None, info)
        self._pending: list[tuple[int | None, tuple[str, int, bool, bool, int, int | None]]] = []
        # For self-checking against tshark: (frame_no, side, opcode, fin, masked, plen, code)
        self.ws_log: list[tuple[int, str, int, bool, bool, int, int | None]] = []

    # -- TCP ------------------------------------------------------------------
    def tcp_open(self) -> None:
        self.cv.c("S", dt=1000)
        self.cv.s("SA")
        self.cv.c("A")

    def tcp_close(self) -> None:
        """Server closes the TCP connection first (RFC 6455 7.1.1)."""
        self.cv.s("FA", dt=500)
        self.cv.c("FA")
        self.cv.s("A")

    def problem(self, name: str, frame: int) -> None:
        self.rec["problems"].append({"problem": name, "frame": frame})

    # -- HTTP handshake ---------------------------------------------------------
    def request(
        self,
        *,
        target: str = "/ws",
        origin: str | None = "http://10.0.0.2:8765",
        version: str | None = "13",
        connection: str = "Upgrade",
        upgrade: str = "websocket",
        protocols: str | None = None,
        extensions: str | None = None,
        extra_headers: list[str] | None = None,
    ) -> int:
        host = f"{SERVER4}:{SERVER_PORT}"
        lines = [
            f"GET {target} HTTP/1.1",
            f"Host: {host}",
            "User-Agent: ws-synthetic/1.0",
            f"Upgrade: {upgrade}",
            f"Connection: {connection}",
            f"Sec-WebSocket-Key: {WS_KEY}",
        ]
        if origin is not None:
            lines.append(f"Origin: {origin}")
        if version is not None:
            lines.append(f"Sec-WebSocket-Version: {version}")
        if protocols is not None:
            lines.append(f"Sec-WebSocket-Protocol: {protocols}")
        if extensions is not None:
            lines.append(f"Sec-WebSocket-Extensions: {extensions}")
        lines += extra_headers or []
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
        fno = self.cv.c("PA", data, dt=40)
        r = self.rec
        r["request_ts"] = self.cap.time_of(fno)
        r["request_target"] = target
        r["host"] = host
        r["origin"] = origin
        r["sec_websocket_key"] = WS_KEY
        r["sec_websocket_version"] = version
        r["offered_subprotocols"] = [p.strip() for p in protocols.split(",")] if protocols else []
        # (no quoted commas in these offers, so a plain split is the top-level split)
        r["offered_extensions"] = [e.strip() for e in extensions.split(",")] if extensions else []
        # Handshake tokens/version ok (RFC 6455 4.1); a 101 can only establish then.
        self._request_ok = (
            version == "13"
            and "upgrade" in [tok.strip().lower() for tok in connection.split(",")]
            and upgrade.lower() == "websocket"
        )
        return fno

    def response_101(
        self,
        *,
        accept: str | None = "correct",
        protocol: str | None = None,
        extensions: str | None = None,
    ) -> int:
        if accept == "correct":
            accept = ws_accept(WS_KEY)
        lines = [
            "HTTP/1.1 101 Switching Protocols",
            "Upgrade: websocket",
            "Connection: Upgrade",
        ]
        if accept is not None:
            lines.append(f"Sec-WebSocket-Accept: {accept}")
        if protocol is not None:
            lines.append(f"Sec-WebSocket-Protocol: {protocol}")
        if extensions is not None:
            lines.append(f"Sec-WebSocket-Extensions: {extensions}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
        fno = self.cv.s("PA", data, dt=900)
        r = self.rec
        r["status"] = 101
        r["sec_websocket_accept"] = accept
        r["accept_valid"] = accept == ws_accept(WS_KEY)
        r["subprotocol"] = protocol
        r["extensions"] = [e.strip() for e in extensions.split(",")] if extensions else []
        r["established"] = bool(r["accept_valid"] and self._request_ok)
        return fno

    # -- WebSocket frames -------------------------------------------------------
    def _next_mask(self) -> bytes:
        self._mask_ctr += 1
        return hashlib.sha256(f"{self.name}/mask/{self._mask_ctr}".encode()).digest()[:4]

    def frame(
        self,
        side: str,
        opcode: int,
        payload: bytes,
        *,
        fin: bool = True,
        masked: bool | None = None,
    ) -> bytes:
        """Encode one frame (client frames masked by default) and account for it.

        The frame is logged (with its frame number) by ``seg`` once its last byte is sent.
        """
        if masked is None:
            masked = side == "c"
        key = self._next_mask() if masked else None
        raw = ws_frame(opcode, payload, fin=fin, mask_key=key)
        d = "c2s" if side == "c" else "s2c"
        r = self.rec
        r[f"frames_{d}"][OPNAMES[opcode]] += 1
        r[f"payload_bytes_{d}"] += len(payload)
        if opcode in (OP_TEXT, OP_BINARY):
            r[f"messages_{d}"][OPNAMES[opcode]] += 1  # counted at the first frame
        code = None
        if opcode == OP_CLOSE:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            who = "client" if side == "c" else "server"
            if r["close_by"] is None:
                r["close_by"] = who
                r["close_code"] = code
                r["close_reason"] = payload[2:].decode("utf-8") if code is not None else None
            elif r["close_by"] != who and who not in self._closed_by:
                r["reply_close_code"] = code
            self._closed_by.add(who)
        self._pending.append((None, (side, opcode, fin, masked, len(payload), code)))
        return raw

    def seg(self, side: str, data: bytes, dt: int | None = None) -> int:
        """Send one TCP data segment; queued frames whose last byte is now sent
        are logged with this segment's frame number."""
        fno = self.cv.send(side, "PA", data, dt)
        self._sent[side] += len(data)
        still = []
        for end, item in self._pending:
            if item[0] == side and end is not None and end <= self._sent[side]:
                self.ws_log.append((fno, *item))
            else:
                still.append((end, item))
        self._pending = still
        return fno

    def send_frames(self, side: str, *frames: bytes, split: list[int] | None = None) -> list[int]:
        """Put the given encoded frames (queued by ``frame`` in this order) into one
        segment, or split their bytes at the given offsets into consecutive segments."""
        off = self._sent[side]
        it = iter(frames)
        for i, (end, item) in enumerate(self._pending):
            if item[0] == side and end is None:
                off += len(next(it))
                self._pending[i] = (off, item)
        assert next(it, None) is None, "frames not queued by frame()"
        data = b"".join(frames)
        cuts = [0] + (split or []) + [len(data)]
        return [self.seg(side, data[a:b]) for a, b in itertools.pairwise(cuts)]

    def ack(self, side: str) -> int:
        return self.cv.send(side, "A")


# --------------------------------------------------------------------------
# Scenario building blocks
# --------------------------------------------------------------------------


def one(s: WsSession, side: str, opcode: int, payload: bytes, **kw: Any) -> int:
    """One frame in its own segment; returns the segment's frame number."""
    return s.send_frames(side, s.frame(side, opcode, payload, **kw))[0]


def close_handshake(
    s: WsSession,
    *,
    first: str = "c",
    code: int | None = 1000,
    reason: str = "",
    reply_code: int | None = 1000,
    reply_reason: str = "",
) -> tuple[int, int]:
    """First Close, the peer's Close reply (which also ACKs it), an ACK, then
    the TCP FIN exchange."""
    other = "s" if first == "c" else "c"
    f1 = one(s, first, OP_CLOSE, close_payload(code, reason))
    f2 = one(s, other, OP_CLOSE, close_payload(reply_code, reply_reason))
    s.ack(first)
    s.tcp_close()
    return f1, f2


def opening(
    s: WsSession, req: dict[str, Any] | None = None, resp: dict[str, Any] | None = None
) -> tuple[int, int]:
    s.tcp_open()
    fr = s.request(**(req or {}))
    f101 = s.response_101(**(resp or {}))
    s.ack("c")
    return fr, f101


def hello_world(s: WsSession) -> None:
    one(s, "c", OP_TEXT, b"hello")
    one(s, "s", OP_TEXT, b"world")


class Scenario:
    def __init__(self, s: WsSession, description: str) -> None:
        self.name = s.name
        self.session = s
        self.description = description

    @property
    def filename(self) -> str:
        return f"{self.name}.pcap"


# --------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------


def build_scenarios() -> list[Scenario]:
    out: list[Scenario] = []
    port = iter(range(FIRST_CLIENT_PORT, FIRST_CLIENT_PORT + 100))

    # 1. all correct ------------------------------------------------------------
    s = WsSession("ws_ok", next(port))
    opening(s)
    hello_world(s)
    one(s, "c", OP_PING, b"ping-1")
    one(s, "s", OP_PONG, b"ping-1")
    close_handshake(s, code=1000, reason="bye", reply_code=1000)
    out.append(
        Scenario(
            s,
            "Correct RFC 6455 session: upgrade + 101 with the right Sec-WebSocket-Accept, "
            "masked client text 'hello', unmasked server text 'world', client ping / server "
            "pong, client Close 1000 'bye', server Close 1000, then TCP FIN exchange.",
        )
    )

    # 2. wrong accept -------------------------------------------------------------
    s = WsSession("ws_wrong_accept", next(port))
    _, f101 = opening(s, resp={"accept": WRONG_ACCEPT})
    s.problem("wrong_accept", f101)
    hello_world(s)
    close_handshake(s)
    out.append(
        Scenario(
            s,
            "101 carries a well-formed but wrong Sec-WebSocket-Accept (the RFC 6455 1.3 "
            "example value, computed for another key). Frames are exchanged anyway.",
        )
    )

    # 3. missing accept -----------------------------------------------------------
    s = WsSession("ws_missing_accept", next(port))
    _, f101 = opening(s, resp={"accept": None})
    s.problem("missing_accept", f101)
    hello_world(s)
    close_handshake(s)
    out.append(
        Scenario(
            s,
            "101 without a Sec-WebSocket-Accept header (accept_valid false). Frames are "
            "exchanged anyway.",
        )
    )

    # 4. bad version --------------------------------------------------------------
    s = WsSession("ws_bad_version", next(port))
    freq, _ = opening(s, req={"version": "8", "origin": None})
    s.problem("bad_version", freq)
    hello_world(s)
    close_handshake(s)
    out.append(
        Scenario(
            s,
            "Upgrade request with Sec-WebSocket-Version: 8 (and no Origin); a lenient "
            "server still answers 101 with the correct accept. Not established.",
        )
    )

    # 5. bad Connection header ----------------------------------------------------
    s = WsSession("ws_bad_upgrade_tokens", next(port))
    freq, _ = opening(s, req={"connection": "keep-alive"})
    s.problem("bad_connection_header", freq)
    hello_world(s)
    close_handshake(s)
    out.append(
        Scenario(
            s,
            "Upgrade request with 'Connection: keep-alive' (no 'upgrade' token); the 101 "
            "itself is correct. Not established.",
        )
    )

    # 6. unoffered subprotocol ----------------------------------------------------
    s = WsSession("ws_unoffered_subprotocol", next(port))
    _, f101 = opening(s, req={"protocols": "chat.v1"}, resp={"protocol": "chat.v9"})
    s.problem("unoffered_subprotocol", f101)
    s.rec["established"] = False  # RFC 6455 §4.1: the client MUST fail the connection
    hello_world(s)
    close_handshake(s)
    out.append(
        Scenario(
            s,
            "Client offers Sec-WebSocket-Protocol 'chat.v1'; the 101 selects 'chat.v9'. "
            "RFC 6455 §4.1: the client MUST fail the connection, so it is not established.",
        )
    )

    # 7. unoffered extension ------------------------------------------------------
    s = WsSession("ws_unoffered_extension", next(port))
    _, f101 = opening(s, resp={"extensions": "permessage-deflate"})
    s.problem("unoffered_extension", f101)
    s.rec["established"] = False  # RFC 6455 §4.1: the client MUST fail the connection
    hello_world(s)  # RSV1 clear: these frames are not compressed
    close_handshake(s)
    out.append(
        Scenario(
            s,
            "Client offers no extension; the 101 returns 'Sec-WebSocket-Extensions: "
            "permessage-deflate'. Frames have RSV1=0 (uncompressed). RFC 6455 §4.1: the client "
            "MUST fail the connection, so it is not established.",
        )
    )

    # 8. unmasked client frame ----------------------------------------------------
    s = WsSession("ws_unmasked_client", next(port))
    opening(s)
    f = one(s, "c", OP_TEXT, b"hello", masked=False)
    s.problem("unmasked_client_frame", f)
    one(s, "s", OP_TEXT, b"world")
    close_handshake(s)
    out.append(
        Scenario(
            s,
            "Correct handshake; the client's text frame 'hello' is sent without a mask "
            "(MASK bit 0). The other client frames are masked.",
        )
    )

    # 9. masked server frame ------------------------------------------------------
    s = WsSession("ws_masked_server", next(port))
    opening(s)
    one(s, "c", OP_TEXT, b"hello")
    f = one(s, "s", OP_TEXT, b"world", masked=True)
    s.problem("masked_server_frame", f)
    close_handshake(s)
    out.append(
        Scenario(
            s,
            "Correct handshake; the server's text frame 'world' is masked (MASK bit 1, "
            "with a masking key).",
        )
    )

    # 10. control frame too long ---------------------------------------------------
    s = WsSession("ws_control_too_long", next(port))
    opening(s)
    hello_world(s)
    f = one(s, "c", OP_PING, bytes((0x41 + i % 26) for i in range(126)))
    s.problem("control_frame_too_long", f)
    close_handshake(s, first="s", code=1002, reason="control frame too long", reply_code=1002)
    out.append(
        Scenario(
            s,
            "Client ping with a 126-byte payload (16-bit extended length); the server "
            "fails the connection with Close 1002 'control frame too long', the client "
            "echoes Close 1002.",
        )
    )

    # 11. fragmented control frame -------------------------------------------------
    s = WsSession("ws_fragmented_control", next(port))
    opening(s)
    hello_world(s)
    f = one(s, "c", OP_PING, b"ping-1", fin=False)
    s.problem("fragmented_control_frame", f)
    close_handshake(s, first="s", code=1002, reason="", reply_code=1002)
    out.append(
        Scenario(
            s,
            "Client ping with FIN=0 (a fragmented control frame); the server fails the "
            "connection with Close 1002 (no reason), the client echoes Close 1002.",
        )
    )

    # 12. reserved close code -----------------------------------------------------
    s = WsSession("ws_reserved_close_code", next(port))
    opening(s)
    hello_world(s)
    f, _ = close_handshake(s, code=1005, reply_code=1002)
    s.problem("reserved_close_code", f)
    out.append(
        Scenario(
            s,
            "Client Close carries code 1005 on the wire (reserved: MUST NOT be sent); "
            "the server replies Close 1002.",
        )
    )

    # 13. invalid close code ------------------------------------------------------
    s = WsSession("ws_invalid_close_code", next(port))
    opening(s)
    hello_world(s)
    f, _ = close_handshake(s, code=2999, reason="bogus", reply_code=1002)
    s.problem("invalid_close_code", f)
    out.append(
        Scenario(
            s,
            "Client Close with code 2999 (in the unassigned 1016-2999 range) and reason "
            "'bogus'; the server replies Close 1002.",
        )
    )

    # 14. data after close --------------------------------------------------------
    s = WsSession("ws_data_after_close", next(port))
    opening(s)
    hello_world(s)
    one(s, "c", OP_CLOSE, close_payload(1000))
    f = one(s, "c", OP_TEXT, b"late")
    s.problem("data_after_close", f)
    one(s, "s", OP_CLOSE, close_payload(1000))
    s.ack("c")
    s.tcp_close()
    out.append(
        Scenario(
            s,
            "Client sends Close 1000, then (in the next segment) a text frame 'late'; the "
            "server then replies Close 1000. The late frame is counted in frames/messages.",
        )
    )

    # 15. several frames per segment / one frame over two segments ---------------------
    s = WsSession("ws_multi_frames_per_segment", next(port))
    opening(
        s,
        req={
            "target": "/stream?id=7",
            "protocols": "chat.v1, chat.v2",
            "extensions": "permessage-deflate; client_max_window_bits, x-webkit-deflate-frame",
        },
        resp={"protocol": "chat.v2"},
    )
    one(s, "c", OP_TEXT, b"subscribe")
    s.send_frames(
        "s",
        s.frame("s", OP_TEXT, b"update-1"),
        s.frame("s", OP_TEXT, b"update-2"),
        s.frame("s", OP_BINARY, bytes(range(16))),
    )
    big = s.frame("c", OP_BINARY, bytes((i * 7) & 0xFF for i in range(300)))
    assert len(big) == 2 + 2 + 4 + 300
    s.send_frames("c", big, split=[150])
    s.ack("s")
    close_handshake(s)
    out.append(
        Scenario(
            s,
            "Correct session (subprotocol chat.v2 chosen from 'chat.v1, chat.v2'; extension "
            "offers declined). One server segment carries three complete frames (text, text, "
            "binary); one 300-byte masked client binary frame (16-bit length, 308 bytes on "
            "the wire) is split across two consecutive client segments (150 + 158 bytes).",
        )
    )

    # 16. fragmented data message -------------------------------------------------
    s = WsSession("ws_fragmented_message", next(port))
    opening(s)
    one(s, "c", OP_TEXT, b"Hel", fin=False)
    s.ack("s")
    one(s, "c", OP_CONT, b"lo, ", fin=False)
    s.ack("s")
    one(s, "c", OP_CONT, b"world", fin=True)
    one(s, "s", OP_TEXT, b"got it")
    close_handshake(s)
    out.append(
        Scenario(
            s,
            "Client text message 'Hello, world' in three frames (text FIN=0, continuation "
            "FIN=0, continuation FIN=1), one per segment; server answers with one text frame.",
        )
    )
    return out


# --------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------


def pcap_bytes(cap: Capture) -> bytes:
    buf = io.BytesIO()
    w = PcapWriter(buf, linktype=LINKTYPE_ETHERNET, endianness="<", sync=True)
    for f in cap.frames:
        w.write(f)
    w.flush()
    return buf.getvalue()


def write_json(obj: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")


def write_scenario(sc: Scenario, outdir: Path) -> list[Path]:
    s = sc.session
    assert not s._pending, (sc.name, s._pending)
    path = outdir / sc.filename
    path.write_bytes(pcap_bytes(s.cap))
    jpath = outdir / f"{sc.name}.expected.json"
    write_json(
        {"capture": sc.filename, "description": sc.description, "websockets": [s.rec]},
        jpath,
    )
    return [path, jpath]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "ws_synthetic",
        help="output directory (default: captures/ws_synthetic next to this script)",
    )
    args = ap.parse_args(argv)
    outdir: Path = args.out
    outdir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for sc in build_scenarios():
        written += write_scenario(sc, outdir)
    for p in written:
        print(p)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
