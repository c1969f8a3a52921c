#!/usr/bin/env python3
"""Record real kernel TCP/UDP traffic on loopback into small capture files.

Every scenario starts its own Python server and client (threads in this
process) on 127.0.0.1 or ::1 only, captures the exchange with ``dumpcap -i lo``
and writes, next to the capture, ``NAME.expected.json``: the facts the script
*knows* about what it did (addresses from getsockname()/getpeername(), byte
counts from what the applications actually sent).  The expectation files are
never derived from the captures.

After recording, every capture is cross-checked with tshark (handshake, who
sent the first FIN / RST, payload bytes per direction, final ACK); a mismatch
makes the script exit non-zero.  The check only reports, it never rewrites the
expectations.

Ordering guarantees (so each run has the same lifecycle): whenever one side
must close second, it closes only after it has read EOF (the peer's FIN), or,
for the RST scenarios, after recv() failed with ECONNRESET.

Usage (needs root or capture capabilities for dumpcap):

    python captures/record_real.py [--out captures/real] [--only NAME ...] [--no-verify]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DUMPCAP = "/usr/bin/dumpcap"
TSHARK = "/usr/bin/tshark"
V4 = "127.0.0.1"
V6 = "::1"
IO_TIMEOUT = 10.0
READY_GRACE = 0.3  # extra wait after dumpcap reports "Capturing on"
SETTLE = 0.4  # wait after the last traffic before stopping dumpcap
USER_AGENT = "pcap-analyzer-recorder/1"

Record = dict[str, Any]


# --------------------------------------------------------------------------- capture


class Capture:
    """``with Capture(...)``: dumpcap runs (and is capturing) inside the block."""

    def __init__(self, path: Path, bpf: str, classic: bool = False) -> None:
        self.path = path
        self.bpf = bpf
        self.classic = classic
        self.proc: subprocess.Popen[bytes] | None = None
        self._ready = threading.Event()
        self._stderr: list[str] = []
        self._reader: threading.Thread | None = None

    def _read_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            self._stderr.append(line)
            if line.startswith("Capturing on"):
                self._ready.set()
        self._ready.set()  # EOF: unblock the waiter, it checks poll()

    def __enter__(self) -> Capture:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            self.path.unlink()
        cmd = [DUMPCAP, "-i", "lo", "-q", "-w", str(self.path), "-f", self.bpf]
        if self.classic:
            cmd.append("-P")
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        if not self._ready.wait(15) or self.proc.poll() is not None:
            self._kill()
            raise RuntimeError(f"dumpcap did not start: {' | '.join(self._stderr)}")
        time.sleep(READY_GRACE)
        return self

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        time.sleep(SETTLE)  # let the last ACKs hit the wire and the capture buffer
        self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            rc = self.proc.wait(5)
        if self._reader is not None:
            self._reader.join(5)
        if exc[0] is None and (rc != 0 or not self.path.exists()):
            raise RuntimeError(f"dumpcap failed rc={rc}: {' | '.join(self._stderr)}")
        if self.path.exists():
            self.path.chmod(0o644)


# --------------------------------------------------------------------------- helpers


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise RuntimeError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def recv_until_eof(sock: socket.socket) -> bytes:
    buf = b""
    while chunk := sock.recv(65536):
        buf += chunk
    return buf


def recv_line(sock: socket.socket) -> bytes:
    """Read up to and including b'\\n' one byte at a time (never over-reads)."""
    buf = b""
    while not buf.endswith(b"\n"):
        b = sock.recv(1)
        if not b:
            raise RuntimeError("EOF inside a line")
        buf += b
    return buf


def endpoints(sock: socket.socket) -> tuple[str, int, str, int]:
    local, peer = sock.getsockname(), sock.getpeername()
    return local[0], local[1], peer[0], peer[1]


def check_port_free(family: socket.AddressFamily, host: str, port: int) -> None:
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as e:
            raise RuntimeError(f"port {host}:{port} is in use; refusing to record") from e


class Stats:
    def __init__(self) -> None:
        self.sent = 0
        self.received = 0
        self.requests = 0
        self.reset_seen = False
        self.peer: tuple[str, int] | None = None
        self.lock = threading.Lock()

    def send(self, sock: socket.socket, data: bytes) -> None:
        sock.sendall(data)
        with self.lock:
            self.sent += len(data)

    def recv(self, sock: socket.socket, n: int = 65536) -> bytes:
        data = sock.recv(n)
        with self.lock:
            self.received += len(data)
        return data


Handler = Callable[[socket.socket, Stats], None]


class OneShotServer:
    """Listen now; accept exactly one TCP connection in a thread and run handler on it."""

    def __init__(
        self, family: socket.AddressFamily, host: str, port: int, handler: Handler
    ) -> None:
        self.handler = handler
        self.stats = Stats()
        self.error: BaseException | None = None
        self.lsock = socket.socket(family, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host, port))
        self.lsock.listen(1)
        self.lsock.settimeout(IO_TIMEOUT)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            conn, peer = self.lsock.accept()
            self.lsock.close()
            self.stats.peer = (peer[0], peer[1])
            conn.settimeout(IO_TIMEOUT)
            with conn:
                self.handler(conn, self.stats)
        except BaseException as e:
            self.error = e
        finally:
            self.lsock.close()

    def join(self) -> Stats:
        self.thread.join(IO_TIMEOUT + 5)
        if self.thread.is_alive():
            raise RuntimeError("server thread hung")
        if self.error is not None:
            raise RuntimeError(f"server failed: {self.error!r}") from self.error
        return self.stats


def tcp_record(
    *,
    ip_version: int,
    cip: str,
    cport: int,
    sip: str,
    sport: int,
    handshake: str = "complete",
    handshake_valid: bool | None = True,
    end: str,
    closer: str | None,
    rst_by: str | None,
    client_state: str,
    server_state: str,
    time_wait: str | None,
    c2s: int,
    s2c: int,
    http_requests: int,
    client_inferred: bool = False,
) -> Record:
    return {
        "proto": "tcp",
        "ip_version": ip_version,
        "client_ip": cip,
        "client_port": cport,
        "server_ip": sip,
        "server_port": sport,
        "client_inferred": client_inferred,
        "handshake": handshake,
        "handshake_valid": handshake_valid,
        "end": end,
        "closer": closer,
        "rst_by": rst_by,
        "client_state": client_state,
        "server_state": server_state,
        "time_wait": time_wait,
        "bytes_c2s": c2s,
        "bytes_s2c": s2c,
        "http_requests": http_requests,
    }


def graceful(closer: str) -> dict[str, Any]:
    """Both FINs, closer's FIN first: active closer TIME_WAIT, passive closer CLOSED."""
    other = "server" if closer == "client" else "client"
    states = {f"{closer}_state": "TIME_WAIT", f"{other}_state": "CLOSED"}
    return {
        "end": "fin",
        "closer": closer,
        "rst_by": None,
        "time_wait": closer,
        "client_state": states["client_state"],
        "server_state": states["server_state"],
    }


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise RuntimeError(f"scenario self-check failed: {what}")


def check_peer(stats: Stats, cip: str, cport: int) -> None:
    expect(stats.peer == (cip, cport), f"server saw peer {stats.peer}, client is {cip}:{cport}")


# --------------------------------------------------------------------------- server handlers


def read_request(sock: socket.socket, buf: bytes, stats: Stats) -> tuple[bytes | None, bytes]:
    """Read one body-less HTTP request; (None, b'') on clean EOF between requests."""
    while b"\r\n\r\n" not in buf:
        chunk = stats.recv(sock)
        if not chunk:
            if buf:
                raise RuntimeError("EOF inside an HTTP request")
            return None, b""
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head, rest


def make_http_handler(close_after: int | None = None) -> Handler:
    """HTTP server: HTTP/1.0 request -> respond and close (server FIN first).

    HTTP/1.1: keep-alive; after `close_after` requests respond with
    `Connection: close` and close first, otherwise close when the client's FIN
    (EOF) has been read (server is the passive closer).
    """

    def handler(sock: socket.socket, stats: Stats) -> None:
        buf = b""
        while True:
            head, buf = read_request(sock, buf, stats)
            if head is None:
                break  # client closed first
            stats.requests += 1
            method, path, version = head.split(b"\r\n", 1)[0].split(b" ")
            expect(method == b"GET", "only GET expected")
            last = version == b"HTTP/1.0" or (
                close_after is not None and stats.requests >= close_after
            )
            body = b"response %d for %s\n" % (stats.requests, path)
            resp = (
                version
                + b" 200 OK\r\nServer: recorder\r\nContent-Type: text/plain\r\n"
                + b"Content-Length: %d\r\n" % len(body)
                + (b"Connection: close\r\n" if last else b"")
                + b"\r\n"
                + body
            )
            stats.send(sock, resp)
            if last:
                expect(buf == b"", "unread request bytes before server close")
                break
        sock.close()

    return handler


def echo_handler(sock: socket.socket, stats: Stats) -> None:
    """Echo until EOF (client's FIN), then close: server is the passive closer."""
    while data := stats.recv(sock):
        stats.send(sock, data)
    sock.close()


# --------------------------------------------------------------------------- client side


class CountingHTTPConnection(http.client.HTTPConnection):
    """http.client connection that counts every byte it hands to the socket."""

    bytes_sent = 0

    def send(self, data: Any) -> None:
        expect(isinstance(data, bytes | bytearray), "only bytes are sent")
        self.bytes_sent += len(data)
        super().send(data)


def do_http10(port: int) -> Record:
    """GET / HTTP/1.0; the server responds and closes first, client closes after EOF."""
    srv = OneShotServer(socket.AF_INET, V4, port, make_http_handler())
    c = socket.create_connection((V4, port), timeout=IO_TIMEOUT)
    cip, cport, sip, sport = endpoints(c)
    req = (f"GET / HTTP/1.0\r\nHost: {V4}:{port}\r\nUser-Agent: {USER_AGENT}\r\n\r\n").encode()
    c.sendall(req)
    resp = recv_until_eof(c)  # EOF == server FIN received: the server closed first
    c.close()
    st = srv.join()
    check_peer(st, cip, cport)
    expect(st.received == len(req) and st.sent == len(resp) and st.requests == 1, "http10 bytes")
    expect(resp.startswith(b"HTTP/1.0 200 OK"), "http10 status")
    return tcp_record(
        ip_version=4,
        cip=cip,
        cport=cport,
        sip=sip,
        sport=sport,
        **graceful("server"),
        c2s=len(req),
        s2c=st.sent,
        http_requests=1,
    )


def do_keepalive(
    family: socket.AddressFamily, host: str, port: int, n: int, server_closes: bool
) -> Record:
    """n requests on one http.client connection.

    server_closes=False: client closes first (conn.close()), server closes on EOF.
    server_closes=True: the n-th response carries `Connection: close` and the server
    closes first; a dup()ed fd keeps the client socket open until the server's FIN
    has been read, so the client's FIN always comes second.
    """
    srv = OneShotServer(family, host, port, make_http_handler(n if server_closes else None))
    conn = CountingHTTPConnection(host, port, timeout=IO_TIMEOUT)
    conn.connect()
    assert conn.sock is not None
    cip, cport, sip, sport = endpoints(conn.sock)
    guard = conn.sock.dup() if server_closes else None
    for i in range(1, n + 1):
        conn.request("GET", f"/item/{i}", headers={"User-Agent": USER_AGENT})
        r = conn.getresponse()
        body = r.read()
        expect(r.status == 200 and body == b"response %d for /item/%d\n" % (i, i), "keepalive")
        expect(r.will_close == (server_closes and i == n), "keep-alive semantics")
    if guard is not None:
        expect(recv_until_eof(guard) == b"", "no bytes after the last response")
        conn.close()
        guard.close()  # client FIN, after the server's FIN
    else:
        conn.close()  # client FIN first; server reads EOF and closes
    st = srv.join()
    check_peer(st, cip, cport)
    expect(st.received == conn.bytes_sent and st.requests == n, "keepalive bytes/requests")
    return tcp_record(
        ip_version=6 if family == socket.AF_INET6 else 4,
        cip=cip,
        cport=cport,
        sip=sip,
        sport=sport,
        **graceful("server" if server_closes else "client"),
        c2s=conn.bytes_sent,
        s2c=st.sent,
        http_requests=n,
    )


ECHO_MESSAGES = [b"hello 1\n", b"hello number two\n", b"and a third line\n"]


def do_client_close(port: int) -> Record:
    srv = OneShotServer(socket.AF_INET, V4, port, echo_handler)
    c = socket.create_connection((V4, port), timeout=IO_TIMEOUT)
    cip, cport, sip, sport = endpoints(c)
    sent = 0
    for msg in ECHO_MESSAGES:
        c.sendall(msg)
        sent += len(msg)
        expect(recv_exact(c, len(msg)) == msg, "echo")
    c.close()  # client FIN first; the server only closes after reading EOF
    st = srv.join()
    check_peer(st, cip, cport)
    expect(st.received == sent and st.sent == sent, "echo bytes")
    return tcp_record(
        ip_version=4,
        cip=cip,
        cport=cport,
        sip=sip,
        sport=sport,
        **graceful("client"),
        c2s=sent,
        s2c=st.sent,
        http_requests=0,
    )


BANNER = b"220 recorder banner service ready\r\n"
HELO = b"HELO recorder\r\n"
BYE = b"221 bye\r\n"


def banner_handler(sock: socket.socket, stats: Stats) -> None:
    stats.send(sock, BANNER)
    while stats.received < len(HELO):
        if not stats.recv(sock, len(HELO) - stats.received):
            raise RuntimeError("client closed early")
    stats.send(sock, BYE)
    sock.close()  # server FIN first


def do_server_close(port: int) -> Record:
    srv = OneShotServer(socket.AF_INET, V4, port, banner_handler)
    c = socket.create_connection((V4, port), timeout=IO_TIMEOUT)
    cip, cport, sip, sport = endpoints(c)
    expect(recv_line(c) == BANNER, "banner")
    c.sendall(HELO)
    expect(recv_until_eof(c) == BYE, "bye then EOF")  # EOF == server FIN received
    c.close()
    st = srv.join()
    check_peer(st, cip, cport)
    expect(st.received == len(HELO) and st.sent == len(BANNER) + len(BYE), "banner bytes")
    return tcp_record(
        ip_version=4,
        cip=cip,
        cport=cport,
        sip=sip,
        sport=sport,
        **graceful("server"),
        c2s=len(HELO),
        s2c=st.sent,
        http_requests=0,
    )


ABORT_REQ = b"DATA some payload before the abort\n"
ABORT_REPLY = b"OK got it\n"


def abort_handler(sock: socket.socket, stats: Stats) -> None:
    while stats.received < len(ABORT_REQ):
        if not stats.recv(sock, len(ABORT_REQ) - stats.received):
            raise RuntimeError("client closed early")
    stats.send(sock, ABORT_REPLY)
    try:
        data = stats.recv(sock)
        expect(data == b"", "no data after the reply")
    except ConnectionResetError:
        stats.reset_seen = True
    sock.close()  # connection already dead after the RST: nothing goes on the wire


def do_rst_abort(port: int) -> Record:
    srv = OneShotServer(socket.AF_INET, V4, port, abort_handler)
    c = socket.create_connection((V4, port), timeout=IO_TIMEOUT)
    cip, cport, sip, sport = endpoints(c)
    c.sendall(ABORT_REQ)
    expect(recv_exact(c, len(ABORT_REPLY)) == ABORT_REPLY, "abort reply")
    time.sleep(0.05)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()  # SO_LINGER (1, 0): close sends RST instead of FIN
    st = srv.join()
    check_peer(st, cip, cport)
    expect(st.reset_seen, "server saw ECONNRESET")
    expect(st.received == len(ABORT_REQ) and st.sent == len(ABORT_REPLY), "abort bytes")
    return tcp_record(
        ip_version=4,
        cip=cip,
        cport=cport,
        sip=sip,
        sport=sport,
        end="rst",
        closer="client",
        rst_by="client",
        client_state="CLOSED",
        server_state="CLOSED",
        time_wait=None,
        c2s=len(ABORT_REQ),
        s2c=len(ABORT_REPLY),
        http_requests=0,
    )


def do_refused(port: int) -> Record:
    check_port_free(socket.AF_INET, V4, port)
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.bind((V4, 0))  # explicit bind: the port survives the failed connect for getsockname()
    cip, cport = c.getsockname()[:2]
    c.settimeout(IO_TIMEOUT)
    try:
        c.connect((V4, port))
    except ConnectionRefusedError:
        pass
    else:
        raise RuntimeError(f"connect to {V4}:{port} was not refused")
    finally:
        c.close()
    return tcp_record(
        ip_version=4,
        cip=cip,
        cport=cport,
        sip=V4,
        sport=port,
        handshake="refused",
        handshake_valid=None,
        end="rst",
        closer=None,
        rst_by="server",
        client_state="CLOSED",
        server_state="CLOSED",
        time_wait=None,
        c2s=0,
        s2c=0,
        http_requests=0,
    )


HALF_REQ = b"SEND me some data please\n"
HALF_CHUNKS = [b"chunk 1 after your FIN\n", b"chunk 2 after your FIN\n", b"chunk 3, the last one\n"]


def half_close_handler(sock: socket.socket, stats: Stats) -> None:
    while stats.recv(sock):  # read the request and then EOF: the client's FIN is in
        pass
    expect(stats.received == len(HALF_REQ), "half-close request")
    for chunk in HALF_CHUNKS:  # keep sending into the half-closed connection
        stats.send(sock, chunk)
        time.sleep(0.1)
    sock.close()


def do_half_close(port: int) -> Record:
    srv = OneShotServer(socket.AF_INET, V4, port, half_close_handler)
    c = socket.create_connection((V4, port), timeout=IO_TIMEOUT)
    cip, cport, sip, sport = endpoints(c)
    c.sendall(HALF_REQ)
    c.shutdown(socket.SHUT_WR)  # client FIN first, but keep reading
    got = recv_until_eof(c)
    expect(got == b"".join(HALF_CHUNKS), "half-close data")
    c.close()
    st = srv.join()
    check_peer(st, cip, cport)
    return tcp_record(
        ip_version=4,
        cip=cip,
        cport=cport,
        sip=sip,
        sport=sport,
        **graceful("client"),
        c2s=len(HALF_REQ),
        s2c=st.sent,
        http_requests=0,
    )


def do_midstream(port: int, cap: Capture) -> Record:
    """Connect + exchange data, THEN start the capture, exchange more, client closes."""
    srv = OneShotServer(socket.AF_INET, V4, port, echo_handler)
    c = socket.create_connection((V4, port), timeout=IO_TIMEOUT)
    cip, cport, sip, sport = endpoints(c)
    pre_sent = 0
    for msg in (b"before capture 1\n", b"before capture 2\n"):
        c.sendall(msg)
        pre_sent += len(msg)
        expect(recv_exact(c, len(msg)) == msg, "pre echo")
    time.sleep(0.5)  # let any delayed ACK of the pre-capture data go out before capturing
    with cap:
        with srv.stats.lock:
            srv_sent_before, srv_recv_before = srv.stats.sent, srv.stats.received
        expect(srv_sent_before == pre_sent and srv_recv_before == pre_sent, "pre counts")
        post_sent = 0
        for msg in (b"captured line 1\n", b"captured line two\n", b"captured line three!\n"):
            c.sendall(msg)
            post_sent += len(msg)
            expect(recv_exact(c, len(msg)) == msg, "post echo")
        c.close()  # client FIN first
        st = srv.join()
    check_peer(st, cip, cport)
    expect(st.received - srv_recv_before == post_sent, "post c2s")
    return tcp_record(
        ip_version=4,
        cip=cip,
        cport=cport,
        sip=sip,
        sport=sport,
        handshake="not_seen",
        handshake_valid=None,
        client_inferred=True,
        **graceful("client"),
        c2s=post_sent,
        s2c=st.sent - srv_sent_before,
        http_requests=0,
    )


UDP_MESSAGES = [b"udp ping 1", b"udp ping number 2", b"udp ping three"]


def do_udp(port: int) -> Record:
    srv_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    srv_sock.bind((V4, port))
    srv_sock.settimeout(IO_TIMEOUT)
    srv_stats = Stats()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            for _ in UDP_MESSAGES:
                data, addr = srv_sock.recvfrom(65536)
                reply = b"echo: " + data
                srv_sock.sendto(reply, addr)
                srv_stats.sent += len(reply)
                srv_stats.requests += 1
                srv_stats.peer = (addr[0], addr[1])
        except BaseException as e:
            errors.append(e)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.bind((V4, 0))
    c.settimeout(IO_TIMEOUT)
    cip, cport = c.getsockname()[:2]
    sent = 0
    for msg in UDP_MESSAGES:
        c.sendto(msg, (V4, port))
        sent += len(msg)
        reply, addr = c.recvfrom(65536)
        expect(reply == b"echo: " + msg and addr[:2] == (V4, port), "udp echo")
    c.close()
    t.join(IO_TIMEOUT)
    srv_sock.close()
    if errors:
        raise RuntimeError(f"udp server failed: {errors[0]!r}")
    check_peer(srv_stats, cip, cport)
    n = len(UDP_MESSAGES)
    return {
        "proto": "udp",
        "ip_version": 4,
        "client_ip": cip,
        "client_port": cport,
        "server_ip": V4,
        "server_port": port,
        "packets_c2s": n,
        "packets_s2c": n,
        "bytes_c2s": sent,
        "bytes_s2c": srv_stats.sent,
    }


#: Client source ports that tshark's "Decode As" table gives to other dissectors
#: (``tshark -G decodes``: tcp.port 44818 -> enip, tcp.port 1099 -> rmi).
ODD_CLIENT_PORTS = (44818, 1099)
ODD_SERVER_PORT = 18094
#: Response body sizes by target: distinct, and small enough to keep the capture small.
ODD_BODIES = {"/a": 137, "/b": 1021}


def odd_body(target: bytes) -> bytes:
    size = ODD_BODIES[target.decode()]
    return (b"%s " % target + b"x" * size)[:size - 1] + b"\n"


def odd_ports_handler(sock: socket.socket, stats: Stats) -> None:
    """HTTP/1.1 keep-alive server: 200 with a Content-Length body whose size depends on
    the target; closes after reading EOF (the client closes first)."""
    buf = b""
    while True:
        head, buf = read_request(sock, buf, stats)
        if head is None:
            break
        stats.requests += 1
        method, target, version = head.split(b"\r\n", 1)[0].split(b" ")
        expect(method == b"GET" and version == b"HTTP/1.1", "odd ports: GET HTTP/1.1")
        body = odd_body(target)
        stats.send(
            sock,
            b"HTTP/1.1 200 OK\r\nServer: recorder\r\nContent-Type: text/plain\r\n"
            + b"Content-Length: %d\r\n\r\n" % len(body)
            + body,
        )
    sock.close()


def read_response(sock: socket.socket, buf: bytes) -> tuple[int, bytes, bytes]:
    """Read one Content-Length response: (status, body, bytes read past it)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("EOF inside an HTTP response head")
        buf += chunk
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    length = next(
        int(v) for k, _, v in (x.partition(b":") for x in lines[1:])
        if k.strip().lower() == b"content-length"
    )
    if len(buf) < length:
        buf += recv_exact(sock, length - len(buf))
    return status, buf[:length], buf[length:]


def bind_or_exit(sock: socket.socket, port: int) -> None:
    try:
        sock.bind((V4, port))
    except OSError as e:
        sock.close()
        raise SystemExit(
            f"http_odd_ports: cannot bind the client source port {V4}:{port} ({e}); "
            "it is in use, or still in TIME_WAIT from an earlier run (wait a minute)"
        ) from e


def check_odd_ports_free() -> None:
    for port in (ODD_SERVER_PORT, *ODD_CLIENT_PORTS):
        try:
            check_port_free(socket.AF_INET, V4, port)
        except RuntimeError as e:
            raise SystemExit(
                f"http_odd_ports: {e} (or it is still in TIME_WAIT from an earlier "
                "run: wait a minute)"
            ) from e


def do_odd_port_client(port: int, client_port: int) -> Record:
    """One HTTP/1.1 keep-alive connection from a fixed source port: GET /a, GET /b, each
    answered 200 with a Content-Length body; the client closes first."""
    srv = OneShotServer(socket.AF_INET, V4, port, odd_ports_handler)
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    bind_or_exit(c, client_port)  # the source port is chosen before connect()
    c.settimeout(IO_TIMEOUT)
    c.connect((V4, port))
    cip, cport, sip, sport = endpoints(c)
    expect(cport == client_port, f"client port {cport} != {client_port}")
    host = f"{V4}:{port}"
    sent, buf = 0, b""
    transactions: list[dict[str, Any]] = []
    for depth, target in enumerate(ODD_BODIES, start=1):
        req = (
            f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n\r\n"
        ).encode()
        c.sendall(req)
        sent += len(req)
        status, body, buf = read_response(c, buf)
        expect(status == 200 and body == odd_body(target.encode()), f"odd ports {target}")
        transactions.append(
            {
                "trans_depth": depth,
                "method": "GET",
                "target": target,
                "host": host,
                "user_agent": USER_AGENT,
                "status": 200,
                "response_body_len": len(body),
                # HTTP/1.1 and no `Connection: close` either way (README: keep_alive)
                "keep_alive": True,
            }
        )
    expect(buf == b"", "no bytes after the last response")
    c.close()  # client FIN first; the server closes after reading EOF
    st = srv.join()
    check_peer(st, cip, cport)
    expect(st.received == sent and st.requests == len(ODD_BODIES), "odd ports requests")
    rec = tcp_record(
        ip_version=4,
        cip=cip,
        cport=cport,
        sip=sip,
        sport=sport,
        **graceful("client"),
        c2s=sent,
        s2c=st.sent,
        http_requests=len(transactions),
    )
    rec["http_responses"] = len(transactions)
    rec["transactions"] = transactions
    return rec


def run_odd_ports(cap: Capture) -> list[Record]:
    check_odd_ports_free()  # before dumpcap starts: a busy port leaves no capture behind
    out: list[Record] = []
    with cap:
        for i, client_port in enumerate(ODD_CLIENT_PORTS):
            if i:
                time.sleep(0.15)
            out.append(do_odd_port_client(ODD_SERVER_PORT, client_port))
    return out


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    ports: tuple[int, ...]
    run: Callable[[Capture], list[Record]]
    classic: bool = False
    udp: bool = False

    @property
    def filename(self) -> str:
        return f"{self.name}.{'pcap' if self.classic else 'pcapng'}"

    @property
    def bpf(self) -> str:
        proto = "udp" if self.udp else "tcp"
        return " or ".join(f"{proto} port {p}" for p in self.ports)


def captured(*steps: Callable[[], Record], gap: float = 0.0) -> Callable[[Capture], list[Record]]:
    """Run the steps in sequence while the capture is running."""

    def run(cap: Capture) -> list[Record]:
        out: list[Record] = []
        with cap:
            for i, step in enumerate(steps):
                if i and gap:
                    time.sleep(gap)
                out.append(step())
        return out

    return run


SCENARIOS: list[Scenario] = [
    Scenario(
        "http10",
        "One HTTP/1.0 GET on IPv4; the server responds and closes first, the "
        "client closes after reading EOF (server ends in TIME_WAIT).",
        (18080,),
        captured(lambda: do_http10(18080)),
    ),
    Scenario(
        "http11_keepalive",
        "One HTTP/1.1 keep-alive connection on IPv4 carrying 3 "
        "request/response pairs; the client closes first (client ends in TIME_WAIT).",
        (18081,),
        captured(lambda: do_keepalive(socket.AF_INET, V4, 18081, 3, False)),
    ),
    Scenario(
        "client_close",
        "Plain TCP echo exchange (3 lines) on IPv4; the client closes "
        "first and the server closes after reading EOF.",
        (18082,),
        captured(lambda: do_client_close(18082)),
    ),
    Scenario(
        "server_close",
        "Server sends a banner, reads one line, replies and closes first; "
        "the client closes after reading EOF.",
        (18083,),
        captured(lambda: do_server_close(18083)),
    ),
    Scenario(
        "rst_abort",
        "After the handshake and one request/reply the client aborts with "
        "RST (SO_LINGER 1,0 then close).",
        (18084,),
        captured(lambda: do_rst_abort(18084)),
    ),
    Scenario(
        "refused",
        "The client connects to a port where nothing listens: SYN answered "
        "by RST+ACK (connection refused).",
        (18085,),
        captured(lambda: do_refused(18085)),
    ),
    Scenario(
        "half_close",
        "The client sends a request and shutdown(SHUT_WR); the server keeps "
        "sending 3 chunks after the client's FIN, then closes; the client closes.",
        (18086,),
        captured(lambda: do_half_close(18086)),
    ),
    Scenario(
        "midstream",
        "Connection established and data exchanged before the capture "
        "started (no SYN captured); more echo data both ways, then the client closes "
        "first.",
        (18087,),
        lambda cap: [do_midstream(18087, cap)],
    ),
    Scenario(
        "ipv6_keepalive",
        "HTTP/1.1 keep-alive over [::1] with 2 requests; the 2nd "
        "response says Connection: close and the server closes first.",
        (18088,),
        captured(lambda: do_keepalive(socket.AF_INET6, V6, 18088, 2, True)),
    ),
    Scenario(
        "udp_exchange",
        "UDP on IPv4: the client sends 3 datagrams, the echo server "
        "answers each one (6 datagrams).",
        (18089,),
        captured(lambda: do_udp(18089)),
        udp=True,
    ),
    Scenario(
        "mixed",
        "Classic pcap with 4 IPv4 TCP connections in sequence: HTTP/1.1 "
        "keep-alive with 2 requests closed by the client, an HTTP/1.0 request closed by "
        "the server, a refused connection and an RST abort by the client.",
        (18090, 18091, 18092, 18093),
        captured(
            lambda: do_keepalive(socket.AF_INET, V4, 18090, 2, False),
            lambda: do_http10(18091),
            lambda: do_refused(18092),
            lambda: do_rst_abort(18093),
            gap=0.15,
        ),
        classic=True,
    ),
    Scenario(
        "http_odd_ports",
        "Two HTTP/1.1 keep-alive connections on IPv4 to port 18094 whose clients bind "
        "their source port first: 44818 (tshark's port for EtherNet/IP, enip) and 1099 "
        "(Java RMI, rmi). Each sends GET /a and GET /b (Host, User-Agent), answered 200 "
        f"with Content-Length bodies of {ODD_BODIES['/a']} and {ODD_BODIES['/b']} bytes; "
        "the client closes first.",
        (ODD_SERVER_PORT,),
        run_odd_ports,
    ),
]


# --------------------------------------------------------------------------- tshark check

SYN, FIN, RST, ACK = 0x02, 0x01, 0x04, 0x10
FIELDS = [
    "frame.number",
    "ip.src",
    "ipv6.src",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags",
    "tcp.len",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.analysis.retransmission",
    "udp.srcport",
    "udp.dstport",
    "udp.length",
]


def tshark_rows(path: Path) -> list[dict[str, str]]:
    cmd = [
        TSHARK,
        "-r",
        str(path),
        "-n",
        "-T",
        "fields",
        "-E",
        "separator=\t",
        "-E",
        "occurrence=f",
    ]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [dict(zip(FIELDS, line.split("\t"), strict=True)) for line in out.splitlines()]


def observe_tcp(rows: list[dict[str, str]], rec: Record) -> dict[str, Any]:
    """Facts about one TCP connection as seen in the capture (for cross-checking only)."""
    c = (rec["client_ip"], str(rec["client_port"]))
    s = (rec["server_ip"], str(rec["server_port"]))
    pkts: list[tuple[str, int, int, int, int]] = []  # side, flags, len, seq, ack
    for r in rows:
        src = (r["ip.src"] or r["ipv6.src"], r["tcp.srcport"])
        dst_port = r["tcp.dstport"]
        if src == c and dst_port == s[1]:
            side = "client"
        elif src == s and dst_port == c[1]:
            side = "server"
        else:
            continue
        if r["tcp.analysis.retransmission"]:
            continue
        pkts.append(
            (
                side,
                int(r["tcp.flags"], 16),
                int(r["tcp.len"] or 0),
                int(r["tcp.seq_raw"]),
                int(r["tcp.ack_raw"] or 0),
            )
        )
    syn = next((p for p in pkts if p[0] == "client" and p[1] & SYN and not p[1] & ACK), None)
    synack = next((p for p in pkts if p[0] == "server" and p[1] & SYN and p[1] & ACK), None)
    handshake, valid = "not_seen", None
    if syn:
        i = pkts.index(syn)
        nxt = pkts[i + 1] if i + 1 < len(pkts) else None
        if synack:
            j = pkts.index(synack)
            third = pkts[j + 1] if j + 1 < len(pkts) else None
            if third and third[0] == "client" and third[1] & ACK and not third[1] & SYN:
                handshake = "complete"
                valid = synack[4] == syn[3] + 1 and third[4] == synack[3] + 1
            else:
                handshake = "incomplete"
        elif nxt and nxt[0] == "server" and nxt[1] & RST:
            handshake = "refused"
        else:
            handshake = "unanswered"
    fins = [p[0] for p in pkts if p[1] & FIN]
    rsts = [p[0] for p in pkts if p[1] & RST]
    end = "rst" if rsts else "fin" if len(set(fins)) == 2 else "half_closed" if fins else "open"
    closer = fins[0] if fins else (rsts[0] if rsts and handshake != "refused" else None)
    last = pkts[-1] if pkts else None
    return {
        "packets": len(pkts),
        "handshake": handshake,
        "handshake_valid": valid,
        "end": end,
        "closer": closer,
        "rst_by": rsts[0] if rsts else None,
        "bytes_c2s": sum(p[2] for p in pkts if p[0] == "client"),
        "bytes_s2c": sum(p[2] for p in pkts if p[0] == "server"),
        "last": (last[0], "pure-ACK" if last[1] == ACK else hex(last[1])) if last else None,
    }


def observe_udp(rows: list[dict[str, str]], rec: Record) -> dict[str, Any]:
    c, s = (rec["client_ip"], rec["client_port"]), (rec["server_ip"], rec["server_port"])
    out = {"packets_c2s": 0, "packets_s2c": 0, "bytes_c2s": 0, "bytes_s2c": 0}
    for r in rows:
        if not r["udp.srcport"]:
            continue
        src = (r["ip.src"] or r["ipv6.src"], int(r["udp.srcport"]))
        dst_port = int(r["udp.dstport"])
        key = (
            "c2s"
            if src == c and dst_port == s[1]
            else "s2c"
            if src == s and dst_port == c[1]
            else None
        )
        if key:
            out[f"packets_{key}"] += 1
            out[f"bytes_{key}"] += int(r["udp.length"]) - 8
    return out


def verify(path: Path, records: list[Record]) -> list[str]:
    """Compare tshark's view of the capture with the expectations; return problems.

    Only TCP/UDP facts are compared, never HTTP: tshark gives http_odd_ports' client
    ports to other dissectors (enip, rmi), so its HTTP view there is not a reference.
    """
    rows = tshark_rows(path)
    problems: list[str] = []
    streams = {(r["ip.src"] or r["ipv6.src"], r["tcp.srcport"] or r["udp.srcport"]) for r in rows}
    want_endpoints = {(r["client_ip"], str(r["client_port"])) for r in records} | {
        (r["server_ip"], str(r["server_port"])) for r in records
    }
    if streams - want_endpoints:
        problems.append(f"unexpected endpoints in capture: {sorted(streams - want_endpoints)}")
    for rec in records:
        tag = f"{rec['client_port']}->{rec['server_port']}"
        if rec["proto"] == "udp":
            obs = observe_udp(rows, rec)
            for k, v in obs.items():
                if rec[k] != v:
                    problems.append(f"{tag}: {k} expected {rec[k]} capture {v}")
            print(f"    udp {tag}: {obs}")
            continue
        obs = observe_tcp(rows, rec)
        print(f"    tcp {tag}: {obs}")
        for k in (
            "handshake",
            "handshake_valid",
            "end",
            "closer",
            "rst_by",
            "bytes_c2s",
            "bytes_s2c",
        ):
            if rec[k] != obs[k]:
                problems.append(f"{tag}: {k} expected {rec[k]!r} capture {obs[k]!r}")
        if rec["time_wait"] in ("client", "server") and obs["last"] != (
            rec["time_wait"],
            "pure-ACK",
        ):
            problems.append(
                f"{tag}: last packet {obs['last']} is not the final ACK from {rec['time_wait']}"
            )
    return problems


# --------------------------------------------------------------------------- main


def record(sc: Scenario, out: Path, do_verify: bool) -> list[str]:
    path = out / sc.filename
    cap = Capture(path, sc.bpf, classic=sc.classic)
    records = sc.run(cap)
    doc = {"capture": sc.filename, "description": sc.description, "connections": records}
    (out / f"{sc.name}.expected.json").write_text(json.dumps(doc, indent=2) + "\n")
    size = path.stat().st_size
    print(f"[{sc.name}] wrote {path} ({size} bytes), {len(records)} connection(s)")
    problems = verify(path, records) if do_verify else []
    for p in problems:
        print(f"    MISMATCH: {p}")
    return [f"{sc.name}: {p}" for p in problems]


def recorder_arguments(doc: str | None, names: list[str], out: Path,
                       verify_help: str) -> argparse.ArgumentParser:
    """The command line every capture recorder takes: ``--out DIR``, ``--only NAME``
    (repeatable) and ``--no-verify``."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0] if doc else None)
    ap.add_argument("--out", type=Path, default=out,
                    help=f"output directory (default: captures/{out.name} next to this script)")
    ap.add_argument("--only", action="append", choices=names, metavar="NAME",
                    help=f"record only this scenario (repeatable): {', '.join(names)}")
    ap.add_argument("--no-verify", action="store_true", help=verify_help)
    return ap


def main(argv: list[str] | None = None) -> int:
    names = [s.name for s in SCENARIOS]
    ap = recorder_arguments(__doc__, names, Path(__file__).resolve().parent / "real",
                            "skip the tshark cross-check")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("note: not root; dumpcap needs capture privileges on lo", file=sys.stderr)
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
