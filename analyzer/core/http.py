"""HTTP/1.x transactions on one connection (RFC 9112), from the messages tshark completed.

Requests are queued and paired with responses in order, which is what pipelining means
(RFC 9112 §9.3.2). Interim 1xx responses other than 101 do not complete a transaction; the
last one seen is kept as its ``info_code``/``info_msg``, as Zeek's http.log keeps it. A
101 (Switching Protocols) completes the last one (and is its info code too, as in Zeek),
and after it the bytes on the connection are no longer HTTP.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

from analyzer.core.packets import HttpMessage

NS = 1_000_000_000


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
    #: The request's Referer and Origin headers (Zeek's ``referrer`` and ``origin``).
    referrer: str | None = None
    origin: str | None = None
    #: The last interim 1xx response (100-199, 101 included) seen for this transaction:
    #: Zeek's ``info_code`` and ``info_msg``.
    info_code: int | None = None
    info_msg: str | None = None


def tokens(value: str | None) -> set[str]:
    """Comma-separated header tokens, lower-cased (Connection, Upgrade)."""
    if not value:
        return set()
    return {t.strip().lower() for t in value.split(",") if t.strip()}


def body_length(msg: HttpMessage, *, no_body: bool = False) -> int | None:
    """Body length of a message: chunk sizes, Content-Length, 0, or None (close-delimited)."""
    if no_body:
        return 0
    if "chunked" in tokens(msg.header("transfer-encoding")):
        return sum(msg.chunk_sizes) if msg.chunk_sizes else None
    length = msg.header("content-length")
    if length is not None and length.strip().isdigit():
        return int(length)
    if msg.is_request:
        return 0  # a request without either has no body (RFC 9112 §6.3)
    return None


def keep_alive(request: HttpMessage | None, response: HttpMessage) -> bool:
    """Does this response leave the connection open for another request?"""
    if response.status == 101:
        return False
    conn = tokens(response.header("connection"))
    if request is not None:
        conn |= tokens(request.header("connection"))
    if "close" in conn:
        return False
    http10 = response.version == "1.0" or (request is not None and request.version == "1.0")
    if http10:
        return "keep-alive" in tokens(response.header("connection"))
    # An HTTP/1.1 response whose body ends at the close cannot be followed by another.
    return body_length(response) is not None or response.status in (204, 304)


class HttpTracker:
    """The HTTP side of one connection."""

    def __init__(self) -> None:
        self.pending: deque[tuple[HttpTransaction, HttpMessage]] = deque()
        self.done: list[HttpTransaction] = []
        self.depth = 0
        self.requests = 0
        self.responses = 0
        #: An interim 1xx that came before any request it could answer (the request is
        #: not in the capture): it goes to the transaction the next response opens.
        self.orphan_info: tuple[int, str | None] | None = None

    def request(self, msg: HttpMessage, ts_ns: int, frame: int) -> HttpTransaction:
        self.depth += 1
        self.requests += 1
        self.orphan_info = None
        tx = HttpTransaction(
            trans_depth=self.depth,
            request_ts=ts_ns / NS,
            method=msg.method,
            target=msg.target,
            host=msg.header("host"),
            request_version=msg.version,
            user_agent=msg.header("user-agent"),
            referrer=msg.header("referer"),
            origin=msg.header("origin"),
            request_body_len=body_length(msg),
            status=None,
            reason=None,
            response_version=None,
            response_ts=None,
            response_body_len=None,
            chunked=False,
            keep_alive=None,
            request_frame=frame,
            response_frame=None,
        )
        self.pending.append((tx, msg))
        return tx

    def response(self, msg: HttpMessage, ts_ns: int, frame: int) -> HttpTransaction | None:
        """Pair a response with the oldest open request; None for an interim 1xx (kept as
        that request's ``info_code``/``info_msg``)."""
        status = msg.status
        interim = status is not None and 100 <= status < 200
        if interim and status != 101:
            assert status is not None
            if self.pending:
                waiting, request = self.pending[0]
                self.pending[0] = (replace(waiting, info_code=status, info_msg=msg.reason),
                                   request)
            else:
                self.orphan_info = (status, msg.reason)
            return None
        self.responses += 1
        if self.pending:
            tx, req = self.pending.popleft()
        else:  # a response without a request in the capture
            self.depth += 1
            req = None
            tx = HttpTransaction(self.depth, None, None, None, None, None, None, None, None,
                                 None, None, None, None, False, None, None, None)
            if self.orphan_info is not None:
                tx = replace(tx, info_code=self.orphan_info[0], info_msg=self.orphan_info[1])
                self.orphan_info = None
        if interim:  # a 101 is Zeek's info code as well as the status
            tx = replace(tx, info_code=status, info_msg=msg.reason)
        no_body = (status is not None and (status in (204, 304) or 100 <= status < 200)) or (
            req is not None and req.method == "HEAD")
        tx = replace(
            tx,
            status=status,
            reason=msg.reason,
            response_version=msg.version,
            response_ts=ts_ns / NS,
            response_body_len=body_length(msg, no_body=no_body),
            chunked="chunked" in tokens(msg.header("transfer-encoding")),
            keep_alive=keep_alive(req, msg),
            response_frame=frame,
        )
        self.done.append(tx)
        return tx

    def transactions(self) -> list[HttpTransaction]:
        """Completed transactions and the requests still waiting for a response."""
        open_ = [tx for tx, _ in self.pending]
        return sorted(self.done + open_, key=lambda t: t.trans_depth)
