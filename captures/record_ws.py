#!/usr/bin/env python3
"""Record real WebSocket and HTTP traffic on loopback into small capture files.

Every scenario runs its own servers and clients in this process, on 127.0.0.1
or ::1 only, on non-standard ports (18765-18799, so no tshark port table
applies), captures the exchange with ``dumpcap -i lo`` and writes
``NAME.expected.json`` next to the capture: the facts the script *knows*
about what it did.  They come from the client/server code (the messages it
sends, the handshake Request/Response objects of the ``websockets`` library,
the requests the Python HTTP servers parsed and the responses they wrote) and
from socket addresses; the expectations are never derived from the captures.

Control frames that ``websockets`` sends by itself (pongs, the echoed Close
frame) are part of the expected frame counts.  The script additionally tallies
the frames ``websockets`` logs as sent ("> TEXT ...", debug logging) and fails
if that tally disagrees with the expectation.

Record keys follow the HTTP / WebSocket record contract of the ``http`` and
``websockets`` commands.  Keys that cannot be known without reading the
capture are left out: uid, request_ts, response_ts, the ``frame`` of a
problem (problems are listed by name only), and payload byte counts under
permessage-deflate (compressed sizes are not predictable).

After recording, every capture is cross-checked with tshark, run WITHOUT any
``-d`` decode-as option (HTTP must be found by tshark's HTTP-over-TCP
heuristic, WebSocket by tshark following the 101 upgrade).  A mismatch makes
the script exit non-zero; the check only reports, it never rewrites the
expectations.

Usage (needs root or capture capabilities for dumpcap):

    python captures/record_ws.py [--out captures/ws] [--only NAME ...] [--no-verify]
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.server
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record_real import (
    IO_TIMEOUT,
    TSHARK,
    V4,
    V6,
    Capture,
    check_port_free,
    expect,
    recorder_arguments,
    recv_until_eof,
)
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

Record = dict[str, Any]
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OPCODES = ("text", "binary", "continuation", "ping", "pong", "close")
# websockets' Frame.__str__ opcode names -> contract opcode names
LOG_OPCODES = {
    "TEXT": "text",
    "BINARY": "binary",
    "CONT": "continuation",
    "PING": "ping",
    "PONG": "pong",
    "CLOSE": "close",
}
# tshark websocket.opcode values -> contract opcode names
WIRE_OPCODES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}
WRONG_ACCEPT = base64.b64encode(bytes(20)).decode()  # "AAAAAAAAAAAAAAAAAAAAAAAAAAA="
USER_AGENT = "pcap-analyzer-recorder/1"
GAP = 0.15  # pause between connections in a multi-connection capture


# --------------------------------------------------------------------------- frame log tally


class FrameTally(logging.Handler):
    """Counts the frames websockets logs as sent ("> OPCODE ... [N bytes]") per side."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.mu = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.mu:
            self.frames = {side: dict.fromkeys(OPCODES, 0) for side in ("client", "server")}
            self.bytes = {"client": 0, "server": 0}

    def emit(self, record: logging.LogRecord) -> None:
        side = "client" if record.name.endswith(".client") else "server"
        msg = record.getMessage()
        m = re.match(r"> (TEXT|BINARY|CONT|PING|PONG|CLOSE) ", msg)
        if not m:
            return
        # metadata is the trailing "[text|binary, N byte(s), continued]"
        n = re.search(r"\[(?:(?:text|binary), )?(\d+) bytes?(?:, continued)?\]$", msg)
        if n is None:
            raise RuntimeError(f"cannot parse frame log line {msg!r}")
        with self.mu:
            self.frames[side][LOG_OPCODES[m.group(1)]] += 1
            self.bytes[side] += int(n.group(1))


TALLY = FrameTally()
for _name in ("websockets.client", "websockets.server"):
    _lg = logging.getLogger(_name)
    _lg.setLevel(logging.DEBUG)
    _lg.propagate = False
    _lg.addHandler(TALLY)


# --------------------------------------------------------------------------- record helpers


def counts(**kw: int) -> dict[str, int]:
    bad = set(kw) - set(OPCODES)
    assert not bad, bad
    return {op: kw.get(op, 0) for op in OPCODES}


def messages(text: int = 0, binary: int = 0) -> dict[str, int]:
    return {"text": text, "binary": binary}


def close_payload_len(code: int | None, reason: str = "") -> int:
    return 0 if code is None else 2 + len(reason.encode())


@dataclass
class Handshake:
    """The opening handshake as the code sent / received it (header pairs in order)."""

    target: str
    req_headers: list[tuple[str, str]]
    status: int | None = None
    resp_headers: list[tuple[str, str]] = field(default_factory=list)
    resp_body_len: int | None = None

    @classmethod
    def from_ws(cls, req: Request, resp: Response | None) -> Handshake:
        return cls(
            target=req.path,
            req_headers=list(req.headers.raw_items()),
            status=resp.status_code if resp is not None else None,
            resp_headers=list(resp.headers.raw_items()) if resp is not None else [],
            resp_body_len=len(resp.body) if resp is not None else None,
        )

    def _all(self, headers: list[tuple[str, str]], name: str) -> list[str]:
        return [v for k, v in headers if k.lower() == name.lower()]

    def req(self, name: str) -> str | None:
        vals = self._all(self.req_headers, name)
        expect(len(vals) <= 1, f"single {name} request header")
        return vals[0] if vals else None

    def resp(self, name: str) -> str | None:
        vals = self._all(self.resp_headers, name)
        expect(len(vals) <= 1, f"single {name} response header")
        return vals[0] if vals else None

    @staticmethod
    def split_list(values: list[str]) -> list[str]:
        out: list[str] = []
        for v in values:
            expect('"' not in v, "no quoted strings in list headers (plain comma split)")
            out += [p.strip() for p in v.split(",") if p.strip()]
        return out

    @staticmethod
    def tokens(value: str | None) -> set[str]:
        return {t.strip().lower() for t in (value or "").split(",")}

    def ws_fields(self) -> Record:
        key = self.req("Sec-WebSocket-Key")
        accept = self.resp("Sec-WebSocket-Accept") if self.status == 101 else None
        accept_valid = None
        if self.status == 101:
            assert key is not None
            good = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
            accept_valid = accept == good
        established = bool(
            self.status == 101
            and accept_valid
            and "websocket" in self.tokens(self.req("Upgrade"))
            and "upgrade" in self.tokens(self.req("Connection"))
            and "websocket" in self.tokens(self.resp("Upgrade"))
            and "upgrade" in self.tokens(self.resp("Connection"))
            and self.req("Sec-WebSocket-Version") == "13"
        )
        return {
            "request_target": self.target,
            "host": self.req("Host"),
            "origin": self.req("Origin"),
            "sec_websocket_key": key,
            "sec_websocket_version": self.req("Sec-WebSocket-Version"),
            "offered_subprotocols": self.split_list(
                self._all(self.req_headers, "Sec-WebSocket-Protocol")
            ),
            "offered_extensions": self.split_list(
                self._all(self.req_headers, "Sec-WebSocket-Extensions")
            ),
            "status": self.status,
            "sec_websocket_accept": self.resp("Sec-WebSocket-Accept")
            if self.status is not None
            else None,
            "accept_valid": accept_valid,
            "subprotocol": self.resp("Sec-WebSocket-Protocol") if self.status == 101 else None,
            "extensions": self.split_list(self._all(self.resp_headers, "Sec-WebSocket-Extensions"))
            if self.status == 101
            else [],
            "established": established,
        }

    def http_fields(self) -> Record:
        """The upgrade request as an HTTP transaction (always GET, HTTP/1.1, no body)."""
        closing = "close" in self.tokens(self.resp("Connection")) or "close" in self.tokens(
            self.req("Connection")
        )
        return {
            "trans_depth": 1,
            "method": "GET",
            "target": self.target,
            "host": self.req("Host"),
            "request_version": "1.1",
            "status": self.status,
            "response_version": "1.1" if self.status is not None else None,
            "request_body_len": 0,
            # a 1xx response has no body by definition (RFC 9112 6.3)
            "response_body_len": 0 if self.status == 101 else self.resp_body_len,
            "chunked": False,
            "keep_alive": False if self.status == 101 else not closing,
        }


@dataclass
class Result:
    websockets: list[Record] = field(default_factory=list)
    http: list[Record] = field(default_factory=list)
    connections: list[Record] = field(default_factory=list)

    def extend(self, other: Result) -> None:
        self.websockets += other.websockets
        self.http += other.http
        self.connections += other.connections


def addr_fields(cip: str, cport: int, sip: str, sport: int) -> Record:
    return {"client_ip": cip, "client_port": cport, "server_ip": sip, "server_port": sport}


def ws_result(
    *,
    ends: tuple[str, int, str, int],
    hs: Handshake,
    frames_c2s: dict[str, int],
    frames_s2c: dict[str, int],
    messages_c2s: dict[str, int],
    messages_s2c: dict[str, int],
    payload_c2s: int | None,
    payload_s2c: int | None,
    close_code: int | None,
    close_reason: str | None,
    close_by: str | None,
    reply_close_code: int | None,
    problems: list[Record],
) -> Result:
    addrs = addr_fields(*ends)
    ws: Record = {**addrs, **hs.ws_fields()}
    ws.update(
        frames_c2s=frames_c2s,
        frames_s2c=frames_s2c,
        messages_c2s=messages_c2s,
        messages_s2c=messages_s2c,
    )
    if payload_c2s is not None:
        ws["payload_bytes_c2s"] = payload_c2s
    if payload_s2c is not None:
        ws["payload_bytes_s2c"] = payload_s2c
    ws.update(
        close_code=close_code,
        close_reason=close_reason,
        close_by=close_by,
        reply_close_code=reply_close_code,
        problems=problems,
    )
    return Result(
        websockets=[ws],
        http=[{**addrs, **hs.http_fields()}],
        connections=[
            {
                **addrs,
                "http_requests": 1,
                "http_responses": 1 if hs.status is not None else 0,
                "websocket": True,
            }
        ],
    )


def check_tally(frames_c2s: dict[str, int], frames_s2c: dict[str, int]) -> tuple[int, int]:
    """The frames websockets logged as sent must match the expectation; returns logged bytes."""
    with TALLY.mu:
        expect(
            TALLY.frames["client"] == frames_c2s,
            f"client sent {TALLY.frames['client']}, expected {frames_c2s}",
        )
        expect(
            TALLY.frames["server"] == frames_s2c,
            f"server sent {TALLY.frames['server']}, expected {frames_s2c}",
        )
        return TALLY.bytes["client"], TALLY.bytes["server"]


def ends_of(client_ws: Any, server_conn: ServerConnection | None) -> tuple[str, int, str, int]:
    local, peer = client_ws.local_address, client_ws.remote_address
    if server_conn is not None:
        expect(
            tuple(server_conn.remote_address[:2]) == tuple(local[:2]),
            f"server saw peer {server_conn.remote_address}, client is {local}",
        )
    return local[0], local[1], peer[0], peer[1]


class ServerSide:
    """Keeps what the websockets server handler saw / did."""

    def __init__(self) -> None:
        self.conn: ServerConnection | None = None
        self.received: list[str | bytes] = []
        self.error: BaseException | None = None
        self.done = asyncio.Event()

    def check(self) -> ServerConnection:
        if self.error is not None:
            raise RuntimeError(f"server handler failed: {self.error!r}") from self.error
        expect(self.conn is not None, "server handler ran")
        assert self.conn is not None
        return self.conn


def ws_kwargs(compression: bool) -> dict[str, Any]:
    kw: dict[str, Any] = {"ping_interval": None}
    if not compression:
        kw["compression"] = None
    return kw


# --------------------------------------------------------------------------- WebSocket scenarios

TB_TEXTS = ["hello over websocket", "second text message \u00e9\u00e8"]
TB_BINARY = bytes(range(0, 40))
TB_PING = b"hb-1"


async def ws_text_binary(port: int) -> Result:
    side = ServerSide()

    async def handler(ws: ServerConnection) -> None:
        side.conn = ws
        try:
            async for msg in ws:  # echo; ends when the client's close handshake completes
                side.received.append(msg)
                await ws.send(msg)
        except BaseException as e:
            side.error = e
        finally:
            side.done.set()

    async with serve(handler, V4, port, **ws_kwargs(False)):
        ws = await connect(f"ws://{V4}:{port}/echo", **ws_kwargs(False))
        ends = ends_of(ws, None)
        for m in TB_TEXTS:
            await ws.send(m)
            expect(await ws.recv() == m, "text echo")
        await ws.send(TB_BINARY)
        expect(await ws.recv() == TB_BINARY, "binary echo")
        pong = await ws.ping(TB_PING)
        await asyncio.wait_for(pong, IO_TIMEOUT)
        await ws.close(1000, "bye")
        await asyncio.wait_for(side.done.wait(), IO_TIMEOUT)
    conn = side.check()
    ends_of(ws, conn)
    expect(side.received == [*TB_TEXTS, TB_BINARY], "server received all messages")
    expect(ws.close_code == 1000 and ws.close_reason == "bye", "client saw 1000 bye echoed")
    data = sum(len(m.encode()) for m in TB_TEXTS) + len(TB_BINARY)
    c2s = counts(text=2, binary=1, ping=1, close=1)
    s2c = counts(text=2, binary=1, pong=1, close=1)  # pong and close reply are automatic
    pay_c2s = data + len(TB_PING) + close_payload_len(1000, "bye")
    pay_s2c = data + len(TB_PING) + close_payload_len(1000, "bye")  # close reply echoes data
    logged = check_tally(c2s, s2c)
    expect(logged == (pay_c2s, pay_s2c), f"logged payload bytes {logged} != {(pay_c2s, pay_s2c)}")
    assert ws.request is not None and ws.response is not None
    expect(conn.request is not None and conn.request.headers == ws.request.headers, "same req")
    return ws_result(
        ends=ends,
        hs=Handshake.from_ws(ws.request, ws.response),
        frames_c2s=c2s,
        frames_s2c=s2c,
        messages_c2s=messages(text=2, binary=1),
        messages_s2c=messages(text=2, binary=1),
        payload_c2s=pay_c2s,
        payload_s2c=pay_s2c,
        close_code=1000,
        close_reason="bye",
        close_by="client",
        reply_close_code=1000,
        problems=[],
    )


FRAGMENTS = ["fragment one / ", "fragment two / ", "fragment three"]
FRAG_REPLY = "got your fragmented message"


async def ws_fragmented(port: int) -> Result:
    side = ServerSide()

    async def handler(ws: ServerConnection) -> None:
        side.conn = ws
        try:
            side.received.append(await ws.recv())
            await ws.send(FRAG_REPLY)
            await ws.close(1001)  # server starts the close handshake, code only
        except BaseException as e:
            side.error = e
        finally:
            side.done.set()

    async with serve(handler, V4, port, **ws_kwargs(False)):
        ws = await connect(f"ws://{V4}:{port}/frag", **ws_kwargs(False))
        ends = ends_of(ws, None)
        # iterable of str: websockets sends text(FIN=0) + one continuation(FIN=0) per further
        # fragment, then an EMPTY continuation with FIN=1 ends the message: 4 frames
        await ws.send(iter(FRAGMENTS))
        expect(await ws.recv() == FRAG_REPLY, "reply")
        try:
            await ws.recv()
            raise RuntimeError("expected the server to close")
        except ConnectionClosed:
            pass
        await ws.wait_closed()
        await asyncio.wait_for(side.done.wait(), IO_TIMEOUT)
    conn = side.check()
    ends_of(ws, conn)
    expect(side.received == ["".join(FRAGMENTS)], "server reassembled the message")
    expect(ws.close_code == 1001 and ws.close_reason == "", "client saw 1001")
    c2s = counts(text=1, continuation=3, close=1)  # the close is the automatic reply
    s2c = counts(text=1, close=1)
    pay_c2s = sum(len(f.encode()) for f in FRAGMENTS) + close_payload_len(1001)
    pay_s2c = len(FRAG_REPLY.encode()) + close_payload_len(1001)
    logged = check_tally(c2s, s2c)
    expect(logged == (pay_c2s, pay_s2c), f"logged payload bytes {logged} != {(pay_c2s, pay_s2c)}")
    assert ws.request is not None
    return ws_result(
        ends=ends,
        hs=Handshake.from_ws(ws.request, ws.response),
        frames_c2s=c2s,
        frames_s2c=s2c,
        messages_c2s=messages(text=1),
        messages_s2c=messages(text=1),
        payload_c2s=pay_c2s,
        payload_s2c=pay_s2c,
        close_code=1001,
        close_reason="",
        close_by="server",
        reply_close_code=1001,
        problems=[],
    )


SC_TEXTS = ["server says one", "server says two"]


async def ws_server_close_4000(port: int) -> Result:
    side = ServerSide()

    async def handler(ws: ServerConnection) -> None:
        side.conn = ws
        try:
            for m in SC_TEXTS:
                await ws.send(m)
            await ws.close(4000, "custom")
        except BaseException as e:
            side.error = e
        finally:
            side.done.set()

    async with serve(handler, V4, port, **ws_kwargs(False)):
        ws = await connect(f"ws://{V4}:{port}/news", **ws_kwargs(False))
        ends = ends_of(ws, None)
        got: list[str | bytes] = []
        try:
            while True:
                got.append(await ws.recv())
        except ConnectionClosed:
            pass
        await ws.wait_closed()
        await asyncio.wait_for(side.done.wait(), IO_TIMEOUT)
    conn = side.check()
    ends_of(ws, conn)
    expect(got == SC_TEXTS, "client received both texts")
    expect(ws.close_code == 4000 and ws.close_reason == "custom", "client saw 4000 custom")
    c2s = counts(close=1)
    s2c = counts(text=2, close=1)
    pay_c2s = close_payload_len(4000, "custom")
    pay_s2c = sum(len(m.encode()) for m in SC_TEXTS) + close_payload_len(4000, "custom")
    logged = check_tally(c2s, s2c)
    expect(logged == (pay_c2s, pay_s2c), f"logged payload bytes {logged} != {(pay_c2s, pay_s2c)}")
    assert ws.request is not None
    return ws_result(
        ends=ends,
        hs=Handshake.from_ws(ws.request, ws.response),
        frames_c2s=c2s,
        frames_s2c=s2c,
        messages_c2s=messages(),
        messages_s2c=messages(text=2),
        payload_c2s=pay_c2s,
        payload_s2c=pay_s2c,
        close_code=4000,
        close_reason="custom",
        close_by="server",
        reply_close_code=4000,
        problems=[],
    )


DEFLATE_TEXTS = [
    "chat line one: the quick brown fox jumps over the lazy dog",
    "chat line two: the quick brown fox jumps over the lazy dog again",
    "chat line three: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
]


async def ws_subprotocol_deflate(port: int) -> Result:
    side = ServerSide()

    async def handler(ws: ServerConnection) -> None:
        side.conn = ws
        try:
            async for msg in ws:
                side.received.append(msg)
                expect(isinstance(msg, str), "text only")
                await ws.send(f"ack: {msg!s}")
        except BaseException as e:
            side.error = e
        finally:
            side.done.set()

    # default compression on both sides -> permessage-deflate is negotiated
    async with serve(handler, V4, port, subprotocols=[Subprotocol("chat.v1")], **ws_kwargs(True)):
        ws = await connect(
            f"ws://{V4}:{port}/chat",
            subprotocols=[Subprotocol("chat.v2"), Subprotocol("chat.v1")],
            **ws_kwargs(True),
        )
        ends = ends_of(ws, None)
        expect(ws.subprotocol == "chat.v1", f"negotiated subprotocol {ws.subprotocol}")
        for m in DEFLATE_TEXTS:
            await ws.send(m)
            expect(await ws.recv() == f"ack: {m}", "ack")
        await ws.close()  # 1000, no reason
        await asyncio.wait_for(side.done.wait(), IO_TIMEOUT)
    conn = side.check()
    ends_of(ws, conn)
    expect(side.received == DEFLATE_TEXTS, "server received all")
    assert ws.request is not None and ws.response is not None
    hs = Handshake.from_ws(ws.request, ws.response)
    expect(
        any(e.startswith("permessage-deflate") for e in hs.ws_fields()["extensions"]),
        "permessage-deflate negotiated",
    )
    c2s = counts(text=3, close=1)
    s2c = counts(text=3, close=1)
    check_tally(c2s, s2c)  # logged sizes are uncompressed: not the wire sizes
    return ws_result(
        ends=ends,
        hs=hs,
        frames_c2s=c2s,
        frames_s2c=s2c,
        messages_c2s=messages(text=3),
        messages_s2c=messages(text=3),
        payload_c2s=None,
        payload_s2c=None,
        close_code=1000,
        close_reason="",
        close_by="client",
        reply_close_code=1000,
        problems=[],
    )


REJECT_TEXT = "426 Upgrade Required: this endpoint wants a different protocol version\n"


async def ws_rejected_426(port: int) -> Result:
    seen: dict[str, Any] = {}

    def process_request(conn: ServerConnection, request: Request) -> Response:
        seen["conn"] = conn
        seen["request"] = request
        resp = conn.respond(426, REJECT_TEXT)
        resp.headers["Upgrade"] = "websocket"
        resp.headers["Sec-WebSocket-Version"] = "13"
        return resp

    async def handler(ws: ServerConnection) -> None:  # never reached
        raise RuntimeError("handler must not run")

    async with serve(handler, V4, port, process_request=process_request, **ws_kwargs(False)):
        sock = socket.create_connection((V4, port), timeout=IO_TIMEOUT)
        cip, cport = sock.getsockname()[:2]
        sip, sport = sock.getpeername()[:2]
        sock.setblocking(False)
        try:
            await connect(f"ws://{V4}:{port}/v2", sock=sock, **ws_kwargs(False))
            raise RuntimeError("the upgrade was not rejected")
        except InvalidStatus as e:
            client_resp = e.response
        await asyncio.sleep(0.1)  # let the server finish closing before leaving `serve`
    conn: ServerConnection = seen["conn"]
    expect(tuple(conn.remote_address[:2]) == (cip, cport), "server saw the client")
    expect(client_resp.status_code == 426, "client saw 426")
    expect(conn.response is not None and conn.response.status_code == 426, "server sent 426")
    assert conn.response is not None
    expect(client_resp.body == conn.response.body == REJECT_TEXT.encode(), "same body")
    expect(
        list(client_resp.headers.raw_items()) == list(conn.response.headers.raw_items()),
        "client received the headers the server sent",
    )
    check_tally(counts(), counts())
    return ws_result(
        ends=(cip, cport, sip, sport),
        hs=Handshake.from_ws(seen["request"], conn.response),
        frames_c2s=counts(),
        frames_s2c=counts(),
        messages_c2s=messages(),
        messages_s2c=messages(),
        payload_c2s=0,
        payload_s2c=0,
        close_code=None,
        close_reason=None,
        close_by=None,
        reply_close_code=None,
        problems=[],
    )


V6_TEXT_C = "hello from [::1] client"
V6_TEXT_S = "hello back from [::1] server"


async def ws_ipv6(port: int) -> Result:
    side = ServerSide()

    async def handler(ws: ServerConnection) -> None:
        side.conn = ws
        try:
            side.received.append(await ws.recv())
            await ws.send(V6_TEXT_S)
            await ws.wait_closed()
        except BaseException as e:
            side.error = e
        finally:
            side.done.set()

    async with serve(handler, V6, port, **ws_kwargs(False)):
        ws = await connect(f"ws://[{V6}]:{port}/six", **ws_kwargs(False))
        ends = ends_of(ws, None)
        await ws.send(V6_TEXT_C)
        expect(await ws.recv() == V6_TEXT_S, "reply")
        await ws.close(1000)
        await asyncio.wait_for(side.done.wait(), IO_TIMEOUT)
    conn = side.check()
    ends_of(ws, conn)
    expect(ends[0] == V6 and ends[2] == V6, "IPv6 endpoints")
    expect(side.received == [V6_TEXT_C], "server received")
    c2s = counts(text=1, close=1)
    s2c = counts(text=1, close=1)
    pay_c2s = len(V6_TEXT_C.encode()) + close_payload_len(1000)
    pay_s2c = len(V6_TEXT_S.encode()) + close_payload_len(1000)
    logged = check_tally(c2s, s2c)
    expect(logged == (pay_c2s, pay_s2c), f"logged payload bytes {logged} != {(pay_c2s, pay_s2c)}")
    assert ws.request is not None
    return ws_result(
        ends=ends,
        hs=Handshake.from_ws(ws.request, ws.response),
        frames_c2s=c2s,
        frames_s2c=s2c,
        messages_c2s=messages(text=1),
        messages_s2c=messages(text=1),
        payload_c2s=pay_c2s,
        payload_s2c=pay_s2c,
        close_code=1000,
        close_reason="",
        close_by="client",
        reply_close_code=1000,
        problems=[],
    )


def parse_head(head: bytes) -> tuple[str, list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    hdrs = []
    for line in lines[1:]:
        k, v = line.split(":", 1)
        hdrs.append((k.strip(), v.strip()))
    return lines[0], hdrs


async def ws_wrong_accept(port: int) -> Result:
    """Raw-socket server answering 101 with a wrong Sec-WebSocket-Accept."""
    check_port_free(socket.AF_INET, V4, port)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((V4, port))
    lsock.listen(1)
    lsock.settimeout(IO_TIMEOUT)
    seen: dict[str, Any] = {}
    response = (
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {WRONG_ACCEPT}\r\n"
        "\r\n"
    ).encode()

    def server() -> None:
        try:
            conn, peer = lsock.accept()
            with conn:
                conn.settimeout(IO_TIMEOUT)
                buf = b""
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(4096)
                    if not chunk:
                        raise RuntimeError("EOF in request")
                    buf += chunk
                head, rest = buf.split(b"\r\n\r\n", 1)
                expect(rest == b"", "nothing after the request head")
                seen["peer"] = peer[:2]
                seen["head"] = parse_head(head)
                conn.sendall(response)
                seen["after"] = recv_until_eof(conn)  # the client gives up and closes first
        except BaseException as e:
            seen["error"] = e
        finally:
            lsock.close()

    t = threading.Thread(target=server, daemon=True)
    t.start()
    sock = socket.create_connection((V4, port), timeout=IO_TIMEOUT)
    cip, cport = sock.getsockname()[:2]
    sip, sport = sock.getpeername()[:2]
    sock.setblocking(False)
    try:
        await connect(f"ws://{V4}:{port}/bad-accept", sock=sock, **ws_kwargs(False))
        raise RuntimeError("the client accepted a wrong Sec-WebSocket-Accept")
    except InvalidHandshake as e:
        expect("Sec-WebSocket-Accept" in str(e), f"client rejected the accept: {e}")
    await asyncio.to_thread(t.join, IO_TIMEOUT + 5)
    expect(not t.is_alive(), "raw server finished")
    if "error" in seen:
        raise RuntimeError(f"raw server failed: {seen['error']!r}") from seen["error"]
    expect(seen["peer"] == (cip, cport), "server saw the client")
    expect(seen["after"] == b"", "client sent nothing after the failed handshake")
    check_tally(counts(), counts())
    request_line, req_headers = seen["head"]
    method, target, version = request_line.split(" ")
    expect(method == "GET" and version == "HTTP/1.1", "upgrade request line")
    _, resp_headers = parse_head(response.split(b"\r\n\r\n")[0])
    hs = Handshake(target, req_headers, 101, resp_headers, 0)
    expect(hs.ws_fields()["accept_valid"] is False, "accept is wrong")
    return ws_result(
        ends=(cip, cport, sip, sport),
        hs=hs,
        frames_c2s=counts(),
        frames_s2c=counts(),
        messages_c2s=messages(),
        messages_s2c=messages(),
        payload_c2s=0,
        payload_s2c=0,
        close_code=None,
        close_reason=None,
        close_by=None,
        reply_close_code=None,
        # the frame number of the 101 is only known from the capture: name only
        problems=[{"problem": "wrong_accept"}],
    )


# --------------------------------------------------------------------------- HTTP scenario


class RecordingHandler(http.server.BaseHTTPRequestHandler):
    """Logs every transaction (peer, request, response facts) into server.log."""

    server_version = "recorder"
    sys_version = ""
    CHUNKS: ClassVar[list[bytes]] = [b"a" * 16, b"b" * 32, b"c" * 7]

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr
        pass

    def do_GET(self) -> None:
        req_version = self.request_version.removeprefix("HTTP/")
        resp_version = self.protocol_version.removeprefix("HTTP/")
        chunked = self.path == "/chunked"
        body = f"response for {self.path}\n".encode()
        head = [
            f"{self.protocol_version} 200 OK",
            f"Server: {self.server_version}",
            "Content-Type: text/plain",
        ]
        if chunked:
            head.append("Transfer-Encoding: chunked")
            body_len = sum(len(c) for c in self.CHUNKS)
        elif resp_version == "1.0":
            body_len = None  # close-delimited: no Content-Length
        else:
            head.append(f"Content-Length: {len(body)}")
            body_len = len(body)
        raw_head = ("\r\n".join(head) + "\r\n\r\n").encode()
        if chunked:
            self.wfile.write(raw_head)
            for c in self.CHUNKS:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
            self.wfile.write(b"0\r\n\r\n")
            sent_body = b"".join(self.CHUNKS)
        else:
            self.wfile.write(raw_head + body)
            sent_body = body
        req_conn = {t.strip().lower() for t in (self.headers.get("Connection") or "").split(",")}
        keep_alive = resp_version == "1.1" and "close" not in req_conn
        # http.server itself decides to keep the connection open exactly then
        expect(keep_alive == (not self.close_connection), "server keep-alive decision")
        self.server.log.append(  # type: ignore[attr-defined]
            {
                "peer": self.client_address[:2],
                "local": self.connection.getsockname()[:2],
                "method": self.command,
                "target": self.path,
                "host": self.headers.get("Host"),
                "request_version": req_version,
                "request_body_len": int(self.headers.get("Content-Length") or 0),
                "status": 200,
                "response_version": resp_version,
                "response_body_len": body_len,
                "chunked": chunked,
                "keep_alive": keep_alive,
                "body": sent_body,
                "transfer_encoding_req": self.headers.get("Transfer-Encoding"),
            }
        )


class LoggingHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr: tuple[str, int], protocol_version: str) -> None:
        handler = type(
            f"Handler{protocol_version.replace('/', '').replace('.', '')}",
            (RecordingHandler,),
            {"protocol_version": protocol_version},
        )
        self.log: list[Record] = []
        super().__init__(addr, handler)


def curl(*urls: str, http10: bool = False) -> bytes:
    cmd = ["curl", "-q", "-sS", "--noproxy", "*", "--max-time", str(int(IO_TIMEOUT))]
    if http10:
        cmd.append("--http1.0")
    cmd += list(urls)
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    return subprocess.run(cmd, check=True, capture_output=True, env=env).stdout


def pipelined_client(port: int, paths: list[str]) -> tuple[tuple[str, int], list[bytes]]:
    """Three GETs written with ONE send(); read the responses (Content-Length framed)."""
    sock = socket.create_connection((V4, port), timeout=IO_TIMEOUT)
    local = sock.getsockname()[:2]
    reqs = b"".join(
        (f"GET {p} HTTP/1.1\r\nHost: {V4}:{port}\r\nUser-Agent: {USER_AGENT}\r\n\r\n").encode()
        for p in paths
    )
    sent = sock.send(reqs)
    expect(sent == len(reqs), "all pipelined requests went out in one send()")
    buf = b""
    bodies: list[bytes] = []
    while len(bodies) < len(paths):
        while b"\r\n\r\n" not in buf:
            chunk = sock.recv(65536)
            expect(bool(chunk), "EOF before all pipelined responses")
            buf += chunk
        head, buf = buf.split(b"\r\n\r\n", 1)
        m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
        expect(m is not None and head.startswith(b"HTTP/1.1 200 "), "pipelined response head")
        assert m is not None
        n = int(m.group(1))
        while len(buf) < n:
            chunk = sock.recv(65536)
            expect(bool(chunk), "EOF inside a pipelined body")
            buf += chunk
        bodies.append(buf[:n])
        buf = buf[n:]
    expect(buf == b"", "no extra bytes")
    sock.close()  # client closes; the server closes after reading EOF
    return local, bodies


def http_mixed(port10: int, port11: int) -> Result:
    s10 = LoggingHTTPServer((V4, port10), "HTTP/1.0")
    s11 = LoggingHTTPServer((V4, port11), "HTTP/1.1")
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (s10, s11)]
    for t in threads:
        t.start()
    try:
        # (a) HTTP/1.0, close-delimited response, server closes
        out_a = curl(f"http://{V4}:{port10}/ten", http10=True)
        time.sleep(GAP)
        # (b) one keep-alive connection carrying 3 requests (curl reuses it)
        ka = [f"/keepalive/{i}" for i in (1, 2, 3)]
        out_b = curl(*(f"http://{V4}:{port11}{p}" for p in ka))
        time.sleep(GAP)
        # (c) chunked response
        out_c = curl(f"http://{V4}:{port11}/chunked")
        time.sleep(GAP)
        # (d) 3 pipelined requests in one send()
        pl = [f"/pipelined/{i}" for i in (1, 2, 3)]
        local_d, bodies_d = pipelined_client(port11, pl)
        time.sleep(0.3)  # let the server thread see EOF and close
    finally:
        for s in (s10, s11):
            s.shutdown()
            s.server_close()
    log = s10.log + s11.log
    expect(len(log) == 1 + 3 + 1 + 3, f"server saw {len(log)} requests")
    expect(out_a == log[0]["body"], "curl (a) body")
    expect(out_b == b"".join(r["body"] for r in log[1:4]), "curl (b) bodies")
    expect(out_c == log[4]["body"] == b"".join(RecordingHandler.CHUNKS), "curl (c) body")
    expect(bodies_d == [r["body"] for r in log[5:8]], "pipelined bodies")
    expect([r["target"] for r in log] == ["/ten", *ka, "/chunked", *pl], "request order")
    groups = [log[0:1], log[1:4], log[4:5], log[5:8]]
    for g in groups:
        expect(len({r["peer"] for r in g}) == 1, f"one connection for {[r['target'] for r in g]}")
    peers = [g[0]["peer"] for g in groups]
    expect(len(set(peers)) == 4, "four distinct connections")
    expect(peers[3] == tuple(local_d), "pipelined client address")
    expect(log[0]["request_version"] == "1.0" and log[0]["response_version"] == "1.0", "1.0")
    res = Result()
    for g in groups:
        cip, cport = g[0]["peer"]
        sip, sport = g[0]["local"]
        addrs = addr_fields(cip, cport, sip, sport)
        for depth, r in enumerate(g, 1):
            expect(r["transfer_encoding_req"] is None, "no request body")
            res.http.append(
                {
                    **addrs,
                    "trans_depth": depth,
                    **{
                        k: r[k]
                        for k in (
                            "method",
                            "target",
                            "host",
                            "request_version",
                            "status",
                            "response_version",
                            "request_body_len",
                            "response_body_len",
                            "chunked",
                            "keep_alive",
                        )
                    },
                }
            )
        res.connections.append(
            {**addrs, "http_requests": len(g), "http_responses": len(g), "websocket": False}
        )
    return res


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    ports: tuple[int, ...]
    run: Callable[[], Result]

    @property
    def filename(self) -> str:
        return f"{self.name}.pcapng"

    @property
    def bpf(self) -> str:
        return " or ".join(f"tcp port {p}" for p in self.ports)


def ws(coro_fn: Callable[[int], Coroutine[Any, Any, Result]], port: int) -> Callable[[], Result]:
    def run() -> Result:
        TALLY.reset()
        return asyncio.run(coro_fn(port))

    return run


SCENARIOS: list[Scenario] = [
    Scenario(
        "ws_text_binary",
        "websockets client/server on 127.0.0.1, no compression: the client sends 2 text "
        "messages and 1 binary message, the server echoes each; the client pings once "
        "(payload 'hb-1', automatic pong) and closes with 1000 'bye' (the server's Close "
        "reply echoes 1000 'bye').",
        (18765,),
        ws(ws_text_binary, 18765),
    ),
    Scenario(
        "ws_fragmented",
        "websockets on 127.0.0.1, no compression: the client sends one text message given "
        "as 3 str fragments; websockets puts it in 4 frames (text FIN=0, continuation "
        "FIN=0, continuation FIN=0, then an empty continuation FIN=1), the server replies "
        "with one text message and closes with 1001 (no reason); the client echoes 1001.",
        (18766,),
        ws(ws_fragmented, 18766),
    ),
    Scenario(
        "ws_server_close_4000",
        "websockets on 127.0.0.1, no compression: the server sends 2 text messages and "
        "closes with 4000 'custom'; the client's Close reply echoes 4000 'custom'.",
        (18767,),
        ws(ws_server_close_4000, 18767),
    ),
    Scenario(
        "ws_subprotocol_deflate",
        "websockets on 127.0.0.1 with default compression (permessage-deflate negotiated); "
        "the client offers subprotocols chat.v2, chat.v1 and the server (supporting only "
        "chat.v1) picks chat.v1; 3 text messages each way (compressed, RSV1); the client "
        "closes with 1000 (no reason). Payload byte counts omitted (compressed sizes).",
        (18768,),
        ws(ws_subprotocol_deflate, 18768),
    ),
    Scenario(
        "ws_rejected_426",
        "websockets client on 127.0.0.1 against a websockets server whose process_request "
        "hook rejects the upgrade with 426 Upgrade Required (Content-Length body, "
        "Connection: close); no WebSocket frames.",
        (18769,),
        ws(ws_rejected_426, 18769),
    ),
    Scenario(
        "ws_ipv6",
        "websockets over [::1], no compression: 1 text message each way, the client closes "
        "with 1000 (no reason).",
        (18770,),
        ws(ws_ipv6, 18770),
    ),
    Scenario(
        "ws_wrong_accept",
        "websockets client (no compression) against a raw-socket server on 127.0.0.1 that "
        f"answers the upgrade with 101 and the wrong Sec-WebSocket-Accept {WRONG_ACCEPT} "
        "(base64 of 20 zero bytes); the client fails the handshake and closes the TCP "
        "connection without sending any frame; the server closes after EOF. The "
        "wrong_accept problem's frame number is not stated (only known from the capture).",
        (18771,),
        ws(ws_wrong_accept, 18771),
    ),
    Scenario(
        "http_mixed",
        "4 HTTP connections on 127.0.0.1 to Python http.server instances: (a) curl "
        "--http1.0 GET /ten to an HTTP/1.0 server (port 18772) that answers HTTP/1.0 200 "
        "with a close-delimited body (no Content-Length, 19 body bytes) and closes; "
        "(b) curl, one HTTP/1.1 keep-alive connection with 3 GETs (Content-Length); "
        "(c) curl GET /chunked answered with Transfer-Encoding: chunked, chunks of 16, "
        "32 and 7 bytes (55); (d) a raw socket client writing 3 pipelined GETs in one "
        "send(), answered in order (Content-Length); (b)-(d) use the HTTP/1.1 server on "
        "port 18773; the clients close (b)-(d).",
        (18772, 18773),
        lambda: http_mixed(18772, 18773),
    ),
]


# --------------------------------------------------------------------------- tshark check

TS_FIELDS = [
    "frame.number",
    "ip.src",
    "ipv6.src",
    "tcp.srcport",
    "tcp.dstport",
    "websocket.opcode",
    "websocket.fin",
    "websocket.mask",
    "websocket.payload_length",
    "websocket.payload_length_ext_16",
    "websocket.payload_length_ext_64",
    "websocket.payload.close.status_code",
    "http.request.method",
    "http.request.uri",
    "http.request.version",
    "http.response.code",
    "http.response.version",
    "http.host",
    "http.transfer_encoding",
    "http.sec_websocket_key",
    "http.sec_websocket_accept",
    "http.sec_websocket_protocol",
    "http.sec_websocket_extensions",
]


def tshark_rows(path: Path) -> list[dict[str, list[str]]]:
    """tshark fields for HTTP/WebSocket packets; no -d: heuristics / upgrade only."""
    cmd = [TSHARK, "-r", str(path), "-n", "-Y", "http or websocket", "-T", "fields"]
    cmd += ["-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=\x1f"]
    for f in TS_FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        vals = line.split("\t")
        rows.append(
            {f: (v.split("\x1f") if v else []) for f, v in zip(TS_FIELDS, vals, strict=True)}
        )
    return rows


def observe(rows: list[dict[str, list[str]]], conn: Record) -> Record:
    """What tshark shows for one TCP connection (HTTP messages, WebSocket frames)."""
    cport, sport = str(conn["client_port"]), str(conn["server_port"])
    fr = {"c2s": dict.fromkeys(OPCODES, 0), "s2c": dict.fromkeys(OPCODES, 0)}
    pay = {"c2s": 0, "s2c": 0}
    closes: list[tuple[str, str | None]] = []  # (direction, code) in order
    bad_mask: list[str] = []
    reqs: list[Record] = []
    resps: list[Record] = []
    hdr: Record = {}
    data_seq: list[str] = []
    for r in rows:
        src = (r["ip.src"] or r["ipv6.src"] or [""])[0]
        sp, dp = r["tcp.srcport"][0], r["tcp.dstport"][0]
        if (sp, dp) == (cport, sport) and src == conn["client_ip"]:
            d = "c2s"
        elif (sp, dp) == (sport, cport) and src == conn["server_ip"]:
            d = "s2c"
        else:
            continue
        fno = r["frame.number"][0]
        ops = [int(o) for o in r["websocket.opcode"]]
        expect(not r["websocket.payload_length_ext_64"], "no 64-bit lengths")
        ext16 = iter(r["websocket.payload_length_ext_16"])
        codes = iter(r["websocket.payload.close.status_code"])
        for i, op in enumerate(ops):
            name = WIRE_OPCODES.get(op, f"op{op}")
            fr[d][name] = fr[d].get(name, 0) + 1
            ln = int(r["websocket.payload_length"][i])
            pay[d] += int(next(ext16)) if ln == 126 else ln
            masked = r["websocket.mask"][i] in ("1", "True")
            if masked != (d == "c2s"):
                bad_mask.append(f"frame {fno} {d} mask={r['websocket.mask'][i]}")
            if name == "close":
                closes.append((d, next(codes, None)))
            if name in ("text", "binary", "continuation"):
                fin = r["websocket.fin"][i] in ("1", "True")
                data_seq.append(f"{d}:{name}{'' if fin else '(FIN=0)'}/{ln}")
        for i, m in enumerate(r["http.request.method"]):
            reqs.append(
                {
                    "frame": fno,
                    "method": m,
                    "target": r["http.request.uri"][i],
                    "version": r["http.request.version"][i].removeprefix("HTTP/"),
                    "host": r["http.host"][i] if i < len(r["http.host"]) else None,
                }
            )
        for i, code in enumerate(r["http.response.code"]):
            resps.append(
                {
                    "frame": fno,
                    "status": int(code),
                    "version": r["http.response.version"][i].removeprefix("HTTP/"),
                    "chunked": "chunked" in "".join(r["http.transfer_encoding"]).lower(),
                }
            )
        for f in TS_FIELDS[-4:]:
            if r[f]:
                hdr[f"{d}:{f}"] = "\x1f".join(r[f])
    return {
        "frames": fr,
        "payload": pay,
        "closes": closes,
        "bad_mask": bad_mask,
        "requests": reqs,
        "responses": resps,
        "headers": hdr,
        "data_seq": data_seq,
    }


def verify(path: Path, res: Result) -> list[str]:
    rows = tshark_rows(path)
    problems: list[str] = []

    def cmp(tag: str, what: str, want: Any, got: Any) -> None:
        if want != got:
            problems.append(f"{tag}: {what} expected {want!r} tshark {got!r}")

    ports = {str(c["client_port"]) for c in res.connections}
    ports |= {str(c["server_port"]) for c in res.connections}
    for r in rows:
        if r["tcp.srcport"][0] not in ports or r["tcp.dstport"][0] not in ports:
            problems.append(f"frame {r['frame.number'][0]}: unexpected connection")
    ws_by = {(w["client_port"], w["server_port"]): w for w in res.websockets}
    for conn in res.connections:
        key = (conn["client_port"], conn["server_port"])
        tag = f"{conn['client_port']}->{conn['server_port']}"
        obs = observe(rows, conn)
        cmp(tag, "http_requests", conn["http_requests"], len(obs["requests"]))
        cmp(tag, "http_responses", conn["http_responses"], len(obs["responses"]))
        txs = [h for h in res.http if (h["client_port"], h["server_port"]) == key]
        for i, h in enumerate(txs):
            rq = obs["requests"][i] if i < len(obs["requests"]) else {}
            rs = obs["responses"][i] if i < len(obs["responses"]) else {}
            t = f"{tag} #{h['trans_depth']}"
            cmp(t, "method", h["method"], rq.get("method"))
            cmp(t, "target", h["target"], rq.get("target"))
            cmp(t, "request_version", h["request_version"], rq.get("version"))
            cmp(t, "host", h["host"], rq.get("host"))
            cmp(t, "status", h["status"], rs.get("status"))
            cmp(t, "response_version", h["response_version"], rs.get("version"))
            cmp(t, "chunked", h["chunked"], rs.get("chunked", False))
        summary = (
            f"{tag}: HTTP req {[(q['frame'], q['method'], q['target']) for q in obs['requests']]}"
            f" resp {[(s['frame'], s['status']) for s in obs['responses']]}"
        )
        w = ws_by.get(key)
        if w is None:
            cmp(
                tag,
                "websocket frames",
                0,
                sum(obs["frames"]["c2s"].values()) + sum(obs["frames"]["s2c"].values()),
            )
            print(f"    {summary}")
            continue
        cmp(tag, "frames_c2s", w["frames_c2s"], obs["frames"]["c2s"])
        cmp(tag, "frames_s2c", w["frames_s2c"], obs["frames"]["s2c"])
        if "payload_bytes_c2s" in w:
            cmp(tag, "payload_bytes_c2s", w["payload_bytes_c2s"], obs["payload"]["c2s"])
            cmp(tag, "payload_bytes_s2c", w["payload_bytes_s2c"], obs["payload"]["s2c"])
        closes = obs["closes"]
        first = closes[0] if closes else (None, None)
        reply = next((c for c in closes if c[0] != first[0]), (None, None))
        by = {"c2s": "client", "s2c": "server"}.get(first[0] or "")
        cmp(tag, "close_by", w["close_by"], by)
        cmp(tag, "close_code", w["close_code"], int(first[1]) if first[1] else None)
        cmp(tag, "reply_close_code", w["reply_close_code"], int(reply[1]) if reply[1] else None)
        if obs["bad_mask"]:
            problems.append(f"{tag}: masking {obs['bad_mask']}")
        h = obs["headers"]
        cmp(tag, "sec_websocket_key", w["sec_websocket_key"], h.get("c2s:http.sec_websocket_key"))
        cmp(
            tag,
            "sec_websocket_accept",
            w["sec_websocket_accept"],
            h.get("s2c:http.sec_websocket_accept"),
        )
        cmp(tag, "subprotocol", w["subprotocol"], h.get("s2c:http.sec_websocket_protocol"))
        cmp(
            tag,
            "extensions",
            ", ".join(w["extensions"]) or None,
            h.get("s2c:http.sec_websocket_extensions"),
        )
        cmp(
            tag,
            "offered_extensions",
            ", ".join(w["offered_extensions"]) or None,
            h.get("c2s:http.sec_websocket_extensions"),
        )
        nz = {d: {k: v for k, v in obs["frames"][d].items() if v} for d in ("c2s", "s2c")}
        print(
            f"    {summary}; WS c2s {nz['c2s']} s2c {nz['s2c']} bytes {obs['payload']}"
            f" closes {closes}"
        )
        if any("FIN=0" in x for x in obs["data_seq"]):
            print(f"    data frames: {obs['data_seq']}")
    return problems


# --------------------------------------------------------------------------- main


def record(sc: Scenario, out: Path, do_verify: bool) -> list[str]:
    path = out / sc.filename
    with Capture(path, sc.bpf):
        res = sc.run()
    for rec in (*res.websockets, *res.http):
        rec_items = list(rec.items())
        rec.clear()
        rec.update({"capture": sc.filename, **dict(rec_items)})
    doc = {
        "capture": sc.filename,
        "description": sc.description,
        "websockets": res.websockets,
        "http": res.http,
        "connections": res.connections,
    }
    (out / f"{sc.name}.expected.json").write_text(
        json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    )
    print(f"[{sc.name}] wrote {path} ({path.stat().st_size} bytes)")
    problems = verify(path, res) if do_verify else []
    for p in problems:
        print(f"    MISMATCH: {p}")
    return [f"{sc.name}: {p}" for p in problems]


def main(argv: list[str] | None = None) -> int:
    names = [s.name for s in SCENARIOS]
    ap = recorder_arguments(__doc__, names, Path(__file__).resolve().parent / "ws",
                            "skip the tshark cross-check")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("note: not root; dumpcap needs capture privileges on lo", file=sys.stderr)
    if shutil.which("curl") is None:
        print("curl is required for http_mixed", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for sc in SCENARIOS:
        if args.only and sc.name not in args.only:
            continue
        problems += record(sc, args.out, not args.no_verify)
    if problems:
        print(f"{len(problems)} problem(s):", *problems, sep="\n  ", file=sys.stderr)
        return 1
    print("all scenarios recorded" + ("" if args.no_verify else " and verified with tshark"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
