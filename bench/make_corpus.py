#!/usr/bin/env python3
"""Record a realistic benchmark capture: real kernel traffic on loopback.

Servers (two processes sharing every port with SO_REUSEPORT) listen on 127.0.0.1
and ::1:

- HTTP/1.1 keep-alive on :8080 (idle time-out, Content-Length and chunked bodies of
  JSON / HTML / XML / text / PNG, statuses 200/204/304/404/500, streamed bodies, server
  RSTs with SO_LINGER 0);
- HTTP/1.0 on :80 (the server closes; bodies with or without Content-Length);
- WebSocket on :8088 (the ``websockets`` package, permessage-deflate when offered):
  echo, server-initiated closes with various codes, server aborts;
- TCP line-echo on :7 (half-close aware, resets on request) and UDP echo on :7;
- nothing on :9, so those connects are refused.

Client processes run many concurrent asyncio sessions from 127.0.0.2-41 (and ::1 for
10% of sessions): keep-alive with 1-20 requests (a few pipelined), Connection: close,
idle time-outs, HTTP/1.0 with and without client half-close, client aborts by RST
(SO_LINGER 0) mid-body, server RSTs, refused connects, line-echo with half-close,
WebSocket sessions with text/binary messages and pings closing with 1000/1001/4000/
4001/4404, and UDP request/response. ``dumpcap -i lo -P`` records only those ports
on loopback addresses. The parent counts packets in the growing file and asks the
clients to wind down (finish the session in hand, start no new one) near the target.

Sizes: small ~10k packets, medium ~200k, large ~1M. ``--method replicate`` builds
large from five copies of medium shifted in time with ``editcap -t`` and merged with
``mergecap`` (the copies reuse the same 4-tuples at different times); the default
records every packet for real.

Writes ``DIR/SIZE.pcap`` and ``DIR/SIZE.stats.json`` (capinfos -M, tshark conv/io
statistics, what the generator did). An existing capture is kept unless ``--force``.

Usage (root, or dumpcap capabilities, and free ports 7, 80, 8080, 8088):

    python bench/make_corpus.py --size medium [--out bench-data] [--seed N] [--force]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import logging
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench-data"

SIZES: dict[str, dict[str, int]] = {
    # target packets, default seed, client processes x concurrent sessions each
    "small": {"packets": 10_000, "seed": 1, "procs": 2, "sessions": 10},
    "medium": {"packets": 200_000, "seed": 2, "procs": 2, "sessions": 48},
    "large": {"packets": 1_000_000, "seed": 3, "procs": 2, "sessions": 48},
}
SERVER_PROCS = 2
V4_SERVER = "127.0.0.1"
V6_SERVER = "::1"
V4_CLIENTS = [f"127.0.0.{i}" for i in range(2, 42)]
V6_SHARE = 0.10
PORT_HTTP11 = 8080
PORT_HTTP10 = 80
PORT_WS = 8088
PORT_ECHO = 7  # TCP line-echo and UDP echo
PORT_CLOSED = 9  # nothing listens: refused
IDLE_TIMEOUT = 1.0  # keep-alive idle time-out of the HTTP/1.1 server, seconds
SESSION_TIMEOUT = 30.0
BPF = (
    "(host 127.0.0.1 or host ::1) and "
    f"(tcp port {PORT_HTTP11} or tcp port {PORT_HTTP10} or tcp port {PORT_WS} "
    f"or tcp port {PORT_ECHO} or tcp port {PORT_CLOSED} or udp port {PORT_ECHO})"
)
LEAN = [
    "--disable-protocol", "json", "--disable-protocol", "xml",
    "--disable-protocol", "data-text-lines", "--disable-protocol", "png",
    "--disable-protocol", "media", "-o", "http.decompress_body:FALSE",
    "-o", "http.dechunk_body:FALSE", "-o", "websocket.decompress:FALSE",
]

log = logging.getLogger("make_corpus")


# --------------------------------------------------------------------------- bodies


class Bodies:
    """Valid JSON / HTML / XML / text / PNG bodies of about a requested size."""

    CONTENT_TYPES: ClassVar[dict[str, str]] = {
        "json": "application/json",
        "html": "text/html; charset=utf-8",
        "xml": "application/xml",
        "text": "text/plain; charset=utf-8",
        "png": "image/png",
    }
    WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
             "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa")

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self._pieces: dict[str, list[bytes]] = {}
        self._prefix: dict[str, list[int]] = {}
        self._wrap: dict[str, tuple[bytes, bytes, bytes]] = {
            "json": (b'{"items":[', b",", b"]}"),
            "html": (b"<!DOCTYPE html><html><head><title>items</title></head><body>"
                     b"<table>", b"", b"</table></body></html>"),
            "xml": (b'<?xml version="1.0" encoding="UTF-8"?><items>', b"", b"</items>"),
            "text": (b"", b"", b""),
        }
        for kind in self._wrap:
            pieces = [self._piece(kind, i, rng) for i in range(2400)]
            self._pieces[kind] = pieces
            sums = [0]
            for p in pieces:
                sums.append(sums[-1] + len(p) + len(self._wrap[kind][1]))
            self._prefix[kind] = sums
        self._pngs = sorted(
            (self._png(size, rng) for size in (150, 400, 900, 2000, 4500, 9000, 18000,
                                               35000, 70000, 120000, 200000)),
            key=len,
        )

    def _piece(self, kind: str, i: int, rng: random.Random) -> bytes:
        w = self.WORDS
        name = " ".join(rng.choice(w) for _ in range(rng.randint(1, 4)))
        if kind == "json":
            obj = {"id": i, "name": name, "score": round(rng.random() * 100, 3),
                   "active": rng.random() < 0.5, "tags": rng.sample(w, rng.randint(0, 4)),
                   "owner": {"uid": rng.randint(1, 9999), "group": rng.choice(w)}}
            return json.dumps(obj, separators=(",", ":")).encode()
        if kind == "html":
            return (f'<tr class="row"><td>{i}</td><td>{name}</td>'
                    f"<td>{rng.randint(0, 10**6)}</td></tr>\n").encode()
        if kind == "xml":
            return (f'<item id="{i}"><name>{name}</name><value>{rng.random():.6f}</value>'
                    f"</item>\n").encode()
        return f"line {i}: {name} {rng.randint(0, 10**9)}\n".encode()

    @staticmethod
    def _png(size: int, rng: random.Random) -> bytes:
        width = 64
        height = max(1, size // (width * 3 + 1))
        raw = b"".join(b"\x00" + rng.randbytes(width * 3) for _ in range(height))

        def chunk(tag: bytes, data: bytes) -> bytes:
            crc = zlib.crc32(tag + data) & 0xFFFFFFFF
            return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

        ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
        return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))

    def body(self, kind: str, size: int, rng: random.Random) -> bytes:
        if kind == "png":
            i = min(bisect.bisect_left([len(p) for p in self._pngs], size), len(self._pngs) - 1)
            return self._pngs[i]
        head, sep, tail = self._wrap[kind]
        sums = self._prefix[kind]
        pieces = self._pieces[kind]
        want = max(1, size - len(head) - len(tail))
        start = rng.randrange(0, len(pieces) // 4)
        end = bisect.bisect_left(sums, sums[start] + want, lo=start + 1)
        end = min(max(end, start + 1), len(pieces))
        return head + sep.join(pieces[start:end]) + tail


def body_size(rng: random.Random) -> int:
    """Lognormal around ~1.5 KB, 3% large (48-200 KB)."""
    if rng.random() < 0.03:
        return rng.randint(48_000, 200_000)
    return int(min(40_000, max(20, rng.lognormvariate(7.3, 1.2))))


# --------------------------------------------------------------------------- helpers


def rst_abort(transport: asyncio.BaseTransport) -> None:
    """Close with SO_LINGER 0: the kernel sends RST instead of FIN."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(writer.wait_closed(), 5)


async def read_head(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]]:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return lines[0], headers


async def read_body(reader: asyncio.StreamReader, headers: dict[str, str],
                    until_eof: bool) -> int:
    """Read a message body the way HTTP/1.1 frames it; returns its size."""
    if headers.get("transfer-encoding", "").lower() == "chunked":
        total = 0
        while True:
            line = await reader.readuntil(b"\r\n")
            n = int(line.split(b";")[0].strip(), 16)
            if n == 0:
                await reader.readuntil(b"\r\n")
                return total
            await reader.readexactly(n + 2)
            total += n
    if "content-length" in headers:
        n = int(headers["content-length"])
        await reader.readexactly(n)
        return n
    if until_eof:
        return len(await reader.read())
    return 0


# --------------------------------------------------------------------------- servers


REASONS = {200: "OK", 204: "No Content", 304: "Not Modified", 404: "Not Found",
           500: "Internal Server Error"}


class Servers:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.bodies = Bodies(seed)

    async def _respond(self, writer: asyncio.StreamWriter, version: str, path: str,
                       close: bool) -> bool:
        """Write one response; False when the connection was reset on purpose."""
        url = urlsplit(path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        parts = url.path.strip("/").split("/")
        kind = parts[0] if parts and parts[0] in Bodies.CONTENT_TYPES else "json"
        size = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 512
        status = int(q.get("status", "200"))
        mode = q.get("mode", "normal")
        chunked = q.get("te") == "chunked" and version == "HTTP/1.1"
        body = b"" if status in (204, 304) else self.bodies.body(kind, size, self.rng)
        if mode == "rst0":
            rst_abort(writer.transport)
            return False
        head = [f"{version} {status} {REASONS.get(status, 'OK')}", "Server: bench-corpus/1",
                f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime())}"]
        if status not in (204, 304):
            head.append(f"Content-Type: {Bodies.CONTENT_TYPES[kind]}")
        if chunked or mode == "stream":
            head.append("Transfer-Encoding: chunked")
        elif not (version == "HTTP/1.0" and q.get("nolen")):
            head.append(f"Content-Length: {len(body)}")
        if close and version == "HTTP/1.1":
            head.append("Connection: close")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        if mode == "rst":
            writer.write(body[: len(body) // 2])
            await writer.drain()
            rst_abort(writer.transport)
            return False
        if mode == "stream":  # a long body in small pieces: the client aborts midway
            for _ in range(200):
                writer.write(b"4000\r\n" + self.rng.randbytes(0x4000) + b"\r\n")
                await writer.drain()
                await asyncio.sleep(0.003)
            writer.write(b"0\r\n\r\n")
        elif chunked:
            n = self.rng.randint(1, 8)
            step = max(1, len(body) // n)
            for i in range(0, len(body), step):
                piece = body[i:i + step]
                writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                await writer.drain()
                if self.rng.random() < 0.3:
                    await asyncio.sleep(0.001)
            writer.write(b"0\r\n\r\n")
        else:
            writer.write(body)
        await writer.drain()
        return True

    async def http11(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line, headers = await asyncio.wait_for(read_head(reader), IDLE_TIMEOUT)
                except TimeoutError:
                    break  # idle: the server closes first
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    break  # the client closed
                _, path, version = [*line.split(" "), "", "", ""][:3]
                await read_body(reader, headers, until_eof=False)
                close = headers.get("connection", "").lower() == "close" or version != "HTTP/1.1"
                if not await self._respond(writer, version, path, close):
                    return
                if close:
                    break
        except (ConnectionError, OSError):
            writer.transport.abort()
            return
        await close_writer(writer)

    async def http10(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line, headers = await read_head(reader)
            _, path, _ = [*line.split(" "), "", "", ""][:3]
            await read_body(reader, headers, until_eof=False)
            if not await self._respond(writer, "HTTP/1.0", path, True):
                return
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, OSError):
            writer.transport.abort()
            return
        await close_writer(writer)

    async def echo(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break  # the client half-closed or closed: echo done, close our side
                if line.strip() == b"RST":
                    rst_abort(writer.transport)
                    return
                await asyncio.sleep(0.002)
                writer.write(line)
                await writer.drain()
        except (ConnectionError, OSError):
            writer.transport.abort()
            return
        await close_writer(writer)

    async def ws(self, conn: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for msg in conn:
                if isinstance(msg, str) and msg.startswith("close:"):
                    await conn.close(int(msg[6:]), "server says goodbye")
                    return
                if msg == "abort":
                    rst_abort(conn.transport)
                    return
                await conn.send(msg)
        except ConnectionClosed:
            pass


class UdpEcho(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.transport.sendto(data, addr)  # type: ignore[attr-defined]


async def server_main(seed: int) -> None:
    from websockets.asyncio.server import serve

    logging.getLogger("websockets").setLevel(logging.CRITICAL)
    srv = Servers(seed)
    hosts = [V4_SERVER, V6_SERVER]
    loop = asyncio.get_running_loop()
    servers = [
        await asyncio.start_server(srv.http11, hosts, PORT_HTTP11, reuse_port=True, backlog=512),
        await asyncio.start_server(srv.http10, hosts, PORT_HTTP10, reuse_port=True, backlog=512),
        await asyncio.start_server(srv.echo, hosts, PORT_ECHO, reuse_port=True, backlog=512),
    ]
    ws_server = await serve(srv.ws, hosts, PORT_WS, reuse_port=True, backlog=512,
                            ping_interval=None, max_size=None, close_timeout=2)
    for host in hosts:
        await loop.create_datagram_endpoint(UdpEcho, local_addr=(host, PORT_ECHO),
                                            reuse_port=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    print("READY", flush=True)
    await stop.wait()
    ws_server.close()
    for s in servers:
        s.close()


# --------------------------------------------------------------------------- clients


@dataclass
class Client:
    rng: random.Random
    bodies: Bodies
    stop: asyncio.Event
    counts: Counter[str] = field(default_factory=Counter)

    def v6(self) -> bool:
        return self.rng.random() < V6_SHARE

    async def open(self, port: int, v6: bool) -> tuple[asyncio.StreamReader,
                                                         asyncio.StreamWriter]:
        if v6:
            return await asyncio.open_connection(V6_SERVER, port)
        return await asyncio.open_connection(V4_SERVER, port,
                                             local_addr=(self.rng.choice(V4_CLIENTS), 0))

    def request(self, version: str, v6: bool, port: int, close: bool = False,
                mode: str = "normal") -> bytes:
        rng = self.rng
        kind = rng.choices(list(Bodies.CONTENT_TYPES), [50, 20, 12, 8, 10])[0]
        status = rng.choices([200, 204, 304, 404, 500], [88, 3, 3, 4, 2])[0]
        q = [f"status={status}"]
        if rng.random() < 0.35:
            q.append("te=chunked")
        if mode != "normal":
            q.append(f"mode={mode}")
        if version == "HTTP/1.0" and rng.random() < 0.4:
            q.append("nolen=1")
        method = rng.choices(["GET", "POST", "PUT", "DELETE"], [80, 14, 4, 2])[0]
        host = f"[{V6_SERVER}]" if v6 else V4_SERVER
        lines = [f"{method} /{kind}/{body_size(rng)}?{'&'.join(q)} {version}",
                 f"Host: {host}:{port}", "User-Agent: bench-corpus-client/1",
                 "Accept: */*", "Accept-Encoding: identity"]
        payload = b""
        if method in ("POST", "PUT"):
            payload = self.bodies.body("json", int(rng.lognormvariate(6, 1)), rng)
            lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        if close and version == "HTTP/1.1":
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload

    async def read_response(self, reader: asyncio.StreamReader, version: str) -> int:
        line, headers = await read_head(reader)
        status = int(line.split(" ")[1])
        if status in (204, 304):
            return status
        await read_body(reader, headers, until_eof=version == "HTTP/1.0")
        return status

    # ---- scenarios

    async def keepalive(self) -> None:
        rng = self.rng
        v6 = self.v6()
        reader, writer = await self.open(PORT_HTTP11, v6)
        n = rng.randint(1, 20)
        ending = rng.choices(["client", "conn_close", "idle"], [72, 14, 14])[0]
        pipelined = rng.random() < 0.05
        i = 0
        while i < n:
            last = i == n - 1 or self.stop.is_set()
            if pipelined and not last and i + 1 < n:
                for _ in range(2):
                    writer.write(self.request("HTTP/1.1", v6, PORT_HTTP11))
                await writer.drain()
                for _ in range(2):
                    await self.read_response(reader, "HTTP/1.1")
                i += 2
                continue
            writer.write(self.request("HTTP/1.1", v6, PORT_HTTP11,
                                      close=last and ending == "conn_close"))
            await writer.drain()
            await self.read_response(reader, "HTTP/1.1")
            i += 1
            if last:
                break
            if rng.random() < 0.3:
                await asyncio.sleep(rng.uniform(0, 0.03))
        if ending == "idle" and not self.stop.is_set():
            await reader.read()  # the server times out and closes first
        elif ending == "conn_close":
            await reader.read()
        await close_writer(writer)

    async def http11_close(self) -> None:
        v6 = self.v6()
        reader, writer = await self.open(PORT_HTTP11, v6)
        writer.write(self.request("HTTP/1.1", v6, PORT_HTTP11, close=True))
        await writer.drain()
        await self.read_response(reader, "HTTP/1.1")
        await reader.read()
        await close_writer(writer)

    async def http10(self) -> None:
        v6 = self.v6()
        reader, writer = await self.open(PORT_HTTP10, v6)
        writer.write(self.request("HTTP/1.0", v6, PORT_HTTP10))
        await writer.drain()
        if self.rng.random() < 0.4:
            writer.write_eof()  # client half-close after the request
        await self.read_response(reader, "HTTP/1.0")
        await reader.read()
        await close_writer(writer)

    async def client_rst(self) -> None:
        """The client aborts (RST, SO_LINGER 0) in the middle of a long body."""
        v6 = self.v6()
        reader, writer = await self.open(PORT_HTTP11, v6)
        writer.write(self.request("HTTP/1.1", v6, PORT_HTTP11, mode="stream"))
        await writer.drain()
        await read_head(reader)
        want = self.rng.randint(2_000, 300_000)
        got = 0
        while got < want:
            chunk = await reader.read(65536)
            if not chunk:
                break
            got += len(chunk)
        rst_abort(writer.transport)

    async def server_rst(self) -> None:
        v6 = self.v6()
        reader, writer = await self.open(PORT_HTTP11, v6)
        mode = self.rng.choice(["rst", "rst0"])
        writer.write(self.request("HTTP/1.1", v6, PORT_HTTP11, mode=mode))
        await writer.drain()
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError,
                                 asyncio.LimitOverrunError):
            while await reader.read(65536):
                pass
        writer.transport.abort()

    async def refused(self) -> None:
        for _ in range(self.rng.choice([1, 1, 1, 2, 3])):  # some clients retry
            try:
                _, writer = await self.open(PORT_CLOSED, self.v6())
            except ConnectionRefusedError:
                await asyncio.sleep(self.rng.uniform(0.001, 0.02))
                continue
            await close_writer(writer)

    async def echo(self) -> None:
        rng = self.rng
        reader, writer = await self.open(PORT_ECHO, self.v6())
        variant = rng.choices(["halfclose", "close", "server_rst", "client_rst"],
                              [50, 25, 13, 12])[0]
        lines = [f"echo {i} {rng.randbytes(rng.randint(4, 300)).hex()}\n".encode()
                 for i in range(rng.randint(1, 12))]
        if variant == "halfclose":
            writer.write(b"".join(lines))  # all at once, then FIN: echoes flow after it
            await writer.drain()
            writer.write_eof()
            await reader.read()
        else:
            for line in lines:
                writer.write(line)
                await writer.drain()
                await reader.readline()
            if variant == "server_rst":
                writer.write(b"RST\n")
                await writer.drain()
                with contextlib.suppress(ConnectionError):
                    await reader.read()
                writer.transport.abort()
                return
            if variant == "client_rst":
                rst_abort(writer.transport)
                return
        await close_writer(writer)

    async def websocket(self) -> None:
        from websockets.asyncio.client import connect

        rng = self.rng
        v6 = self.v6()
        uri = f"ws://[{V6_SERVER}]:{PORT_WS}/chat" if v6 else f"ws://{V4_SERVER}:{PORT_WS}/chat"
        extra: dict[str, Any] = {} if v6 else {"local_addr": (rng.choice(V4_CLIENTS), 0)}
        ws = await connect(uri, compression="deflate" if rng.random() < 0.5 else None,
                           proxy=None, ping_interval=None, close_timeout=2, max_size=None,
                           open_timeout=10, **extra)
        try:
            for i in range(rng.randint(2, 30)):
                if self.stop.is_set():
                    break
                if rng.random() < 0.08:
                    await (await ws.ping(rng.randbytes(rng.randint(0, 16))))
                if rng.random() < 0.6:
                    msg: str | bytes = json.dumps(
                        {"seq": i, "text": " ".join(rng.choices(Bodies.WORDS,
                                                                k=rng.randint(1, 60)))})
                else:
                    msg = rng.randbytes(int(min(60_000, rng.lognormvariate(5.5, 1.3))))
                await ws.send(msg)
                await ws.recv()
                if rng.random() < 0.3:
                    await asyncio.sleep(rng.uniform(0, 0.03))
            ending = rng.choices(["client", "server", "server_abort", "client_abort"],
                                 [70, 18, 6, 6])[0]
            if self.stop.is_set():
                ending = "going_away"
            if ending == "client":
                await ws.close(rng.choice([1000, 1000, 1001, 4000, 4001, 4404]), "done")
            elif ending == "going_away":
                await ws.close(1001, "going away")
            elif ending == "server":
                await ws.send(f"close:{rng.choice([1000, 1001, 4000, 4001, 4404])}")
                await ws.wait_closed()
            elif ending == "server_abort":
                await ws.send("abort")
                await ws.wait_closed()
            else:
                rst_abort(ws.transport)
        finally:
            ws.transport.abort()

    async def udp(self) -> None:
        rng = self.rng
        loop = asyncio.get_running_loop()
        v6 = self.v6()
        sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            if v6:
                sock.connect((V6_SERVER, PORT_ECHO))
            else:
                sock.bind((rng.choice(V4_CLIENTS), 0))
                sock.connect((V4_SERVER, PORT_ECHO))
            for _ in range(rng.randint(1, 10)):
                await loop.sock_sendall(sock, rng.randbytes(rng.randint(16, 1200)))
                await asyncio.wait_for(loop.sock_recv(sock, 65535), 2)
                if rng.random() < 0.5:
                    await asyncio.sleep(rng.uniform(0, 0.02))
        finally:
            sock.close()

    SCENARIOS: ClassVar[tuple[tuple[str, int], ...]] = (
        ("keepalive", 34), ("http11_close", 8), ("http10", 12), ("client_rst", 3),
        ("server_rst", 3), ("refused", 3), ("echo", 6), ("websocket", 20), ("udp", 11),
    )

    async def worker(self) -> None:
        names = [n for n, _ in self.SCENARIOS]
        weights = [w for _, w in self.SCENARIOS]
        while not self.stop.is_set():
            name = self.rng.choices(names, weights)[0]
            run: Callable[[], Awaitable[None]] = getattr(self, name)
            try:
                await asyncio.wait_for(run(), SESSION_TIMEOUT)
                self.counts[name] += 1
            except Exception as exc:  # a session that failed is counted, not fatal
                self.counts[f"{name}:error:{type(exc).__name__}"] += 1
            if self.rng.random() < 0.5:
                await asyncio.sleep(self.rng.uniform(0, 0.01))


async def client_main(seed: int, sessions: int) -> None:
    logging.getLogger("websockets").setLevel(logging.CRITICAL)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    client = Client(random.Random(seed), Bodies(seed), stop)
    tasks = [asyncio.create_task(client.worker()) for _ in range(sessions)]
    print("READY", flush=True)
    await stop.wait()
    _, pending = await asyncio.wait(tasks, timeout=SESSION_TIMEOUT + 5)
    for t in pending:
        t.cancel()
    print(json.dumps(dict(client.counts)), flush=True)


# --------------------------------------------------------------------------- recording


class PcapCounter:
    """Counts the records of a pcap file that is still being written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.packets = 0
        self._pos = 24
        self._fh: Any = None
        self._endian = "<"

    def poll(self) -> int:
        if self._fh is None:
            if not self.path.exists() or self.path.stat().st_size < 24:
                return 0
            self._fh = self.path.open("rb")
            magic = self._fh.read(4)
            self._endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        size = os.fstat(self._fh.fileno()).st_size
        while self._pos + 16 <= size:
            self._fh.seek(self._pos + 8)
            (incl,) = struct.unpack(self._endian + "I", self._fh.read(4))
            if self._pos + 16 + incl > size:
                break
            self._pos += 16 + incl
            self.packets += 1
        return self.packets

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


def _spawn(role: str, seed: int, sessions: int = 0) -> subprocess.Popen[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--role", role, "--seed", str(seed),
           "--sessions", str(sessions)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "READY":
        proc.kill()
        raise RuntimeError(f"{role} process did not start (got {line!r})")
    return proc


def _stop(proc: subprocess.Popen[str], timeout: float) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out or ""


def record(path: Path, target: int, seed: int, procs: int, sessions: int) -> dict[str, Any]:
    """Record about ``target`` packets of real loopback traffic into ``path``."""
    tmp = path.with_name(path.name + ".part")
    tmp.unlink(missing_ok=True)
    servers = [_spawn("server", seed * 100 + i) for i in range(SERVER_PROCS)]
    dump: subprocess.Popen[bytes] | None = None
    clients: list[subprocess.Popen[str]] = []
    stderr: list[str] = []
    counts: Counter[str] = Counter()
    try:
        dump = subprocess.Popen(
            ["dumpcap", "-i", "lo", "-q", "-P", "-B", "256", "-w", str(tmp), "-f", BPF],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        ready = threading.Event()

        def read_err() -> None:
            assert dump is not None and dump.stderr is not None
            for line in dump.stderr:
                stderr.append(line.rstrip())
                if line.startswith("Capturing on"):
                    ready.set()
            ready.set()

        reader = threading.Thread(target=read_err, daemon=True)
        reader.start()
        if not ready.wait(20) or dump.poll() is not None:
            raise RuntimeError(f"dumpcap did not start: {' | '.join(stderr)}")
        time.sleep(0.5)
        counter = PcapCounter(tmp)
        t0 = time.monotonic()
        clients = [_spawn("client", seed * 1000 + i, sessions) for i in range(procs)]
        # Sessions in flight when the clients are told to stop still finish: stop early.
        margin = procs * sessions * (12 if target < 50_000 else 40)
        threshold = max(target // 3, target - margin)
        deadline = t0 + 60 + target / 2_000
        last_report = t0
        while counter.poll() < threshold and time.monotonic() < deadline:
            if any(c.poll() is not None for c in clients):
                raise RuntimeError("a client process died")
            time.sleep(0.2)
            if time.monotonic() - last_report > 10:
                last_report = time.monotonic()
                log.info("  %d packets after %.0f s", counter.packets, last_report - t0)
        for c in clients:
            c.send_signal(signal.SIGTERM)
        for c in clients:
            out = _stop(c, SESSION_TIMEOUT + 20)
            lines = [ln for ln in out.splitlines() if ln.startswith("{")]
            if lines:
                counts.update(json.loads(lines[-1]))
        clients = []
        time.sleep(1.0)  # the last ACKs and the servers' FINs
        elapsed = time.monotonic() - t0
        dump.send_signal(signal.SIGINT)
        dump.wait(30)
        reader.join(5)
        counter.close()
        if dump.returncode != 0:
            raise RuntimeError(f"dumpcap failed: {' | '.join(stderr)}")
    finally:
        for c in clients:
            _stop(c, 5)
        for s in servers:
            _stop(s, 10)
        if dump is not None and dump.poll() is None:
            dump.kill()
    drops = [ln for ln in stderr if "dropped" in ln]
    m = re.search(r"(\d+)/(\d+) \(pcap:(\d+)/dumpcap:(\d+)", " ".join(drops))
    dropped = int(m.group(2)) if m else None
    if dropped:
        log.warning("dumpcap dropped %d packets", dropped)
    tmp.replace(path)
    path.chmod(0o644)
    return {"method": "record", "seconds": round(elapsed, 1), "seed": seed,
            "client_processes": procs, "sessions_per_process": sessions,
            "server_processes": SERVER_PROCS, "dumpcap": drops, "dropped": dropped,
            "sessions": dict(sorted(counts.items()))}


def replicate(path: Path, source: Path, copies: int) -> dict[str, Any]:
    """``copies`` copies of ``source``, each shifted past the previous one, merged."""
    info = capinfos(source)
    duration = float(info.get("Capture duration", "0").split()[0])
    step = int(duration) + 2
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        parts = []
        for i in range(copies):
            part = Path(tmp) / f"part{i}.pcap"
            subprocess.run(["editcap", "-F", "pcap", "-t", str(i * step), str(source), str(part)],
                           check=True)
            parts.append(str(part))
        out = path.with_name(path.name + ".part")
        subprocess.run(["mergecap", "-F", "pcap", "-w", str(out), *parts], check=True)
        out.replace(path)
    path.chmod(0o644)
    return {"method": "replicate", "source": source.name, "copies": copies,
            "shift_seconds": step}


# --------------------------------------------------------------------------- statistics


def capinfos(path: Path) -> dict[str, str]:
    out = subprocess.run(["capinfos", "-M", str(path)], capture_output=True, text=True,
                         check=True).stdout
    info = {}
    for line in out.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            info[k.strip()] = v.strip()
    return info


IO_FILTERS = {
    "syn": "tcp.flags.syn==1&&tcp.flags.ack==0",
    "syn_ack": "tcp.flags.syn==1&&tcp.flags.ack==1",
    "fin": "tcp.flags.fin==1",
    "rst": "tcp.flags.reset==1",
    "http_requests": "http.request",
    "http_responses": "http.response",
    "http_101": "http.response.code==101",
    "websocket_packets": "websocket",
    "ipv6_packets": "ipv6",
    "udp_packets": "udp",
}


def tshark_stats(path: Path) -> dict[str, int]:
    """Conversations and flag tallies in one lean tshark pass."""
    io = "io,stat,0," + ",".join(f"COUNT(frame)frame&&({f})" for f in IO_FILTERS.values())
    cmd = ["tshark", "-n", "-r", str(path), "-q", *LEAN, "-z", "conv,tcp", "-z", "conv,udp",
           "-z", io]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    stats: dict[str, int] = {}
    section = None
    conv: Counter[str] = Counter()
    for line in out.splitlines():
        if "Conversations" in line:
            section = line.split()[0].lower()
        elif "IO Statistics" in line:
            section = None
        elif section and "<->" in line:
            conv[section] += 1
    stats["tcp_conversations"] = conv["tcp"]
    stats["udp_conversations"] = conv["udp"]
    rows = [ln for ln in out.splitlines() if re.match(r"\|\s*0\.0+\s*<>", ln)]
    if rows:
        cells = [c.strip() for c in rows[-1].strip("|").split("|")][1:]
        for key, value in zip(IO_FILTERS, cells, strict=False):
            stats[key] = int(value)
    return stats


def write_stats(path: Path, size: str, generator: dict[str, Any]) -> dict[str, Any]:
    info = capinfos(path)

    def num(key: str) -> float:
        value = info.get(key, "0").split()[0].replace(",", "")
        try:
            return float(value)
        except ValueError:
            return 0.0

    stats: dict[str, Any] = {
        "size": size,
        "file": path.name,
        "packets": int(num("Number of packets")),
        "file_bytes": int(num("File size")),
        "data_bytes": int(num("Data size")),
        "duration_s": num("Capture duration"),
        "mean_packet_bytes": num("Average packet size"),
        "packets_per_s": num("Average packet rate"),
        "file_type": info.get("File type"),
        "encapsulation": info.get("File encapsulation"),
        "capinfos": info,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "generator": generator,
    }
    stats.update(tshark_stats(path))
    out = path.with_name(f"{size}.stats.json")
    out.write_text(json.dumps(stats, indent=2) + "\n")
    return stats


# --------------------------------------------------------------------------- main


def make(size: str, out: Path, seed: int | None, force: bool, method: str) -> Path:
    spec = SIZES[size]
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{size}.pcap"
    stats_path = out / f"{size}.stats.json"
    if path.exists() and not force:
        log.info("%s exists, kept (--force regenerates)", path)
        if not stats_path.exists():
            write_stats(path, size, {"method": "unknown (stats rebuilt from the file)"})
        return path
    for tool in ("dumpcap", "tshark", "capinfos", "editcap", "mergecap"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found (apt-get install tshark)")
    t0 = time.monotonic()
    if method == "replicate":
        source = make("medium", out, None, False, "record")
        copies = max(1, round(spec["packets"] / SIZES["medium"]["packets"]))
        log.info("building %s from %d time-shifted copies of %s", path, copies, source)
        generator = replicate(path, source, copies)
    else:
        log.info("recording %s: about %d packets of loopback traffic", path, spec["packets"])
        generator = record(path, spec["packets"], spec["seed"] if seed is None else seed,
                           spec["procs"], spec["sessions"])
    stats = write_stats(path, size, generator)
    log.info("%s: %d packets, %.1f MB, %.1f s of traffic, %d TCP conversations "
             "(%.0f s to make)", path.name, stats["packets"], stats["file_bytes"] / 1e6,
             stats["duration_s"], stats["tcp_conversations"], time.monotonic() - t0)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=list(SIZES), default="medium")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--force", action="store_true", help="regenerate an existing capture")
    ap.add_argument("--method", choices=["record", "replicate"], default="record",
                    help="record every packet (default) or, for large, merge time-shifted "
                         "copies of medium")
    ap.add_argument("--role", choices=["server", "client"], help=argparse.SUPPRESS)
    ap.add_argument("--sessions", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.role == "server":
        asyncio.run(server_main(args.seed))
        return
    if args.role == "client":
        asyncio.run(client_main(args.seed, args.sessions))
        return
    make(args.size, args.out, args.seed, args.force, args.method)


if __name__ == "__main__":
    main()
