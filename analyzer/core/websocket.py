"""WebSocket sessions (RFC 6455): the opening handshake, the frames, the close handshake.

A session starts with each request that carries ``Upgrade: websocket``. The checks below
follow the RFC's sections:

* §4.1 and §4.2.1: the client sends ``Upgrade: websocket``, ``Connection: Upgrade`` and
  ``Sec-WebSocket-Version: 13``.
* §4.2.2: the server's 101 carries ``Sec-WebSocket-Accept`` =
  base64(SHA-1(key + GUID)), together with the ``Upgrade`` and ``Connection`` tokens.
* §4.1: a subprotocol or extension in the 101 must be one the client offered.
* §5.1: frames from the client are masked and frames from the server are not.
* §5.5: a control frame carries at most 125 bytes and is never fragmented.
* §7.4: status codes 1005, 1006 and 1015 are never sent on the wire; valid codes are
  1000-1003, 1007-1014 and 3000-4999.
* §5.5.1: after sending a Close frame, an endpoint sends no more data frames.

Each problem is recorded with the frame number that shows it.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from analyzer.core.http import tokens
from analyzer.core.packets import HttpMessage, WsFrame

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
NS = 1_000_000_000
OPCODES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}


def expected_accept(key: str) -> str:
    """RFC 6455 §4.2.2: base64(SHA-1(key + GUID))."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def split_list(value: str | None) -> list[str]:
    """A comma-separated header value as a list of trimmed items ([] when absent)."""
    if not value:
        return []
    return [item.strip() for item in value.split(",") if item.strip()]


def close_code_problem(code: int) -> str | None:
    if code in (1005, 1006, 1015):
        return "reserved_close_code"
    if code < 1000 or code == 1004 or 1016 <= code <= 2999 or code >= 5000:
        return "invalid_close_code"
    return None


def _zero_frames() -> dict[str, int]:
    return {name: 0 for name in ("text", "binary", "continuation", "ping", "pong", "close")}


def _zero_messages() -> dict[str, int]:
    return {"text": 0, "binary": 0}


@dataclass(frozen=True, slots=True)
class WebSocketSession:
    """One upgrade attempt and what flowed after it (README, "WebSocket record")."""

    request_ts: float
    request_target: str | None
    host: str | None
    origin: str | None
    user_agent: str | None
    sec_websocket_key: str | None
    sec_websocket_version: str | None
    offered_subprotocols: tuple[str, ...]
    offered_extensions: tuple[str, ...]
    status: int | None
    response_ts: float | None
    sec_websocket_accept: str | None
    accept_valid: bool | None
    subprotocol: str | None
    extensions: tuple[str, ...]
    established: bool
    frames_c2s: dict[str, int]
    frames_s2c: dict[str, int]
    messages_c2s: dict[str, int]
    messages_s2c: dict[str, int]
    payload_bytes_c2s: int
    payload_bytes_s2c: int
    close_code: int | None
    close_reason: str | None
    close_by: str | None
    reply_close_code: int | None
    problems: tuple[tuple[str, int], ...]
    request_frame: int
    response_frame: int | None


@dataclass(slots=True)
class _Side:
    frames: dict[str, int] = field(default_factory=_zero_frames)
    messages: dict[str, int] = field(default_factory=_zero_messages)
    payload: int = 0
    closed: bool = False


class WebSocketTracker:
    """The WebSocket side of one upgrade attempt on a connection."""

    def __init__(self, req: HttpMessage, ts_ns: int, frame: int) -> None:
        self.req = req
        self.request_ts = ts_ns / NS
        self.request_frame = frame
        self.resp: HttpMessage | None = None
        self.response_ts: float | None = None
        self.response_frame: int | None = None
        self.problems: list[tuple[str, int]] = []
        self.client = _Side()
        self.server = _Side()
        self.close: tuple[str, int | None, str | None] | None = None  # (by, code, reason)
        self.reply_close_code: int | None = None
        self.handshake_ok = True
        version = req.header("sec-websocket-version")
        if version is None or version.strip() != "13":
            self._problem("bad_version", frame, handshake=True)
        if "upgrade" not in tokens(req.header("connection")):
            self._problem("bad_connection_header", frame, handshake=True)

    def _problem(self, name: str, frame: int, handshake: bool = False) -> None:
        self.problems.append((name, frame))
        if handshake:
            self.handshake_ok = False

    @property
    def switched(self) -> bool:
        return self.resp is not None and self.resp.status == 101

    def response(self, msg: HttpMessage, ts_ns: int, frame: int) -> None:
        self.resp, self.response_ts, self.response_frame = msg, ts_ns / NS, frame
        if msg.status != 101:
            return
        accept = msg.header("sec-websocket-accept")
        key = self.req.header("sec-websocket-key")
        if accept is None:
            self._problem("missing_accept", frame, handshake=True)
        elif key is None or accept.strip() != expected_accept(key.strip()):
            self._problem("wrong_accept", frame, handshake=True)
        if "websocket" not in tokens(msg.header("upgrade")):
            self._problem("bad_upgrade_header", frame, handshake=True)
        if "upgrade" not in tokens(msg.header("connection")):
            self._problem("bad_connection_header", frame, handshake=True)
        chosen = msg.header("sec-websocket-protocol")
        offered = split_list(self.req.header("sec-websocket-protocol"))
        if chosen is not None and chosen.strip() not in offered:
            self._problem("unoffered_subprotocol", frame, handshake=True)
        offered_ext = {e.split(";")[0].strip().lower() for e in self._offered_extensions()}
        for ext in self._extensions():
            if ext.split(";")[0].strip().lower() not in offered_ext:
                self._problem("unoffered_extension", frame, handshake=True)
                break

    def _offered_extensions(self) -> list[str]:
        return [x for v in self.req.header_all("sec-websocket-extensions") for x in split_list(v)]

    def _extensions(self) -> list[str]:
        if self.resp is None:
            return []
        return [x for v in self.resp.header_all("sec-websocket-extensions")
                for x in split_list(v)]

    def frame(self, f: WsFrame, from_client: bool, frame: int) -> None:
        side = self.client if from_client else self.server
        name = OPCODES.get(f.opcode)
        if name is not None:
            side.frames[name] += 1
        side.payload += f.payload_len
        if from_client and not f.masked:
            self._problem("unmasked_client_frame", frame)
        if not from_client and f.masked:
            self._problem("masked_server_frame", frame)
        if f.opcode >= 8:
            if f.payload_len > 125:
                self._problem("control_frame_too_long", frame)
            if not f.fin:
                self._problem("fragmented_control_frame", frame)
        elif side.closed:
            self._problem("data_after_close", frame)
        if f.opcode in (1, 2):
            side.messages["text" if f.opcode == 1 else "binary"] += 1
        if f.opcode == 8:
            if f.close_code is not None:
                problem = close_code_problem(f.close_code)
                if problem:
                    self._problem(problem, frame)
            by = "client" if from_client else "server"
            if self.close is None:
                self.close = (by, f.close_code, f.close_reason)
            elif self.close[0] != by and not side.closed:
                self.reply_close_code = f.close_code
            side.closed = True

    def session(self) -> WebSocketSession:
        req, resp = self.req, self.resp
        status = resp.status if resp is not None else None
        accept = resp.header("sec-websocket-accept") if resp is not None else None
        key = req.header("sec-websocket-key")
        accept_valid: bool | None = None
        if status == 101:
            accept_valid = (accept is not None and key is not None
                            and accept.strip() == expected_accept(key.strip()))
        subprotocol = resp.header("sec-websocket-protocol") if status == 101 and resp else None
        return WebSocketSession(
            request_ts=self.request_ts,
            request_target=req.target,
            host=req.header("host"),
            origin=req.header("origin"),
            user_agent=req.header("user-agent"),
            sec_websocket_key=key,
            sec_websocket_version=req.header("sec-websocket-version"),
            offered_subprotocols=tuple(split_list(req.header("sec-websocket-protocol"))),
            offered_extensions=tuple(self._offered_extensions()),
            status=status,
            response_ts=self.response_ts,
            sec_websocket_accept=accept,
            accept_valid=accept_valid,
            subprotocol=subprotocol.strip() if subprotocol else None,
            extensions=tuple(self._extensions()) if status == 101 else (),
            established=status == 101 and bool(accept_valid) and self.handshake_ok,
            frames_c2s=dict(self.client.frames),
            frames_s2c=dict(self.server.frames),
            messages_c2s=dict(self.client.messages),
            messages_s2c=dict(self.server.messages),
            payload_bytes_c2s=self.client.payload,
            payload_bytes_s2c=self.server.payload,
            close_code=self.close[1] if self.close else None,
            close_reason=self.close[2] if self.close else None,
            close_by=self.close[0] if self.close else None,
            reply_close_code=self.reply_close_code,
            problems=tuple(self.problems),
            request_frame=self.request_frame,
            response_frame=self.response_frame,
        )
