"""HTTP transactions and WebSocket sessions, as the engine's analysis reports them.

The analysis itself (RFC 9112 message pairing, keep-alive, RFC 6455's opening and closing
handshakes and frame checks) lives once, in the Rust engine (``engine/src/app/``), fed by
the engine's own parsers or by tshark's dissection. This module holds the record types and
turns the engine's dicts (times in integer nanoseconds) into them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from analyzer.core.vocab import Opcode

NS = 1_000_000_000

#: WebSocket opcodes by number (RFC 6455 §5.2), as the frame counts name them.
OPCODES = {int(o): o.label for o in sorted(Opcode)}


@dataclass(frozen=True, slots=True)
class HttpTransaction:
    """One request/response pair (README, "HTTP transaction record")."""

    trans_depth: int
    request_ts: float | None
    method: str | None
    target: str | None
    host: str | None
    request_version: str | None
    user_agent: str | None
    request_body_len: int | None
    status: int | None
    reason: str | None
    response_version: str | None
    response_ts: float | None
    response_body_len: int | None
    chunked: bool
    keep_alive: bool | None
    request_frame: int | None
    response_frame: int | None
    referrer: str | None = None
    origin: str | None = None
    info_code: int | None = None
    info_msg: str | None = None


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


def _secs(ns: int | None) -> float | None:
    return None if ns is None else ns / NS


def transaction_from_engine(d: Mapping[str, Any]) -> HttpTransaction:
    return HttpTransaction(
        trans_depth=d["trans_depth"], request_ts=_secs(d["request_ts_ns"]),
        method=d["method"], target=d["target"], host=d["host"],
        request_version=d["request_version"], user_agent=d["user_agent"],
        request_body_len=d["request_body_len"], status=d["status"], reason=d["reason"],
        response_version=d["response_version"], response_ts=_secs(d["response_ts_ns"]),
        response_body_len=d["response_body_len"], chunked=d["chunked"],
        keep_alive=d["keep_alive"], request_frame=d["request_frame"],
        response_frame=d["response_frame"], referrer=d["referrer"], origin=d["origin"],
        info_code=d["info_code"], info_msg=d["info_msg"])


def session_from_engine(d: Mapping[str, Any]) -> WebSocketSession:
    return WebSocketSession(
        request_ts=d["request_ts_ns"] / NS, request_target=d["request_target"],
        host=d["host"], origin=d["origin"], user_agent=d["user_agent"],
        sec_websocket_key=d["sec_websocket_key"],
        sec_websocket_version=d["sec_websocket_version"],
        offered_subprotocols=tuple(d["offered_subprotocols"]),
        offered_extensions=tuple(d["offered_extensions"]), status=d["status"],
        response_ts=_secs(d["response_ts_ns"]), sec_websocket_accept=d["sec_websocket_accept"],
        accept_valid=d["accept_valid"], subprotocol=d["subprotocol"],
        extensions=tuple(d["extensions"]), established=d["established"],
        frames_c2s=dict(d["frames_c2s"]), frames_s2c=dict(d["frames_s2c"]),
        messages_c2s=dict(d["messages_c2s"]), messages_s2c=dict(d["messages_s2c"]),
        payload_bytes_c2s=d["payload_bytes_c2s"], payload_bytes_s2c=d["payload_bytes_s2c"],
        close_code=d["close_code"], close_reason=d["close_reason"], close_by=d["close_by"],
        reply_close_code=d["reply_close_code"],
        problems=tuple((name, frame) for name, frame in d["problems"]),
        request_frame=d["request_frame"], response_frame=d["response_frame"])


def transactions_from_engine(items: list[Mapping[str, Any]] | None
                             ) -> tuple[HttpTransaction, ...]:
    return tuple(transaction_from_engine(d) for d in items) if items else ()


def sessions_from_engine(items: list[Mapping[str, Any]] | None
                         ) -> tuple[WebSocketSession, ...]:
    return tuple(session_from_engine(d) for d in items) if items else ()
