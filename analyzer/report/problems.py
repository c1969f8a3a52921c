"""The problem triage: what counts as a problem connection, of which kind, in which order
(most serious first) and how one is described in a line. report.md, report.html, the
report folder's choice of diagrams and ``diff`` all ask this module, so they agree.

The kinds, most serious first (:class:`Kind`, in definition order):

1. ``refused``: the SYN was answered by a RST;
2. ``unanswered``: SYNs only;
3. ``incomplete``: SYN and SYN-ACK, no final ACK;
4. ``invalid_handshake``: the SYN-ACK or the final ACK acknowledged the wrong number;
5. ``reset``: ended by a RST (a refused handshake is not counted again);
6. ``close_wait``: an endpoint left in CLOSE_WAIT (the peer's FIN acknowledged, no FIN of
   its own);
7. ``websocket``: an upgrade that failed, or RFC 6455 violations on an established one;
8. ``retransmissions``: ``retrans_rate`` above the threshold (``RETRANS_THRESHOLD``,
   ``report --retrans-threshold``);
9. ``zero_window``: a receiver advertised a zero window;
10. ``anomaly``: RFC anomalies (each with its frame) on a connection whose handshake was
    valid (an invalid handshake's anomalies are its description).

A connection can show several kinds; it is one :class:`Problem` per kind. Within a kind the
worst come first: the highest retransmission rate, the most zero-window advertisements;
otherwise the input order (capture, then start).

The triage reads :class:`Conn`, the few fields it needs, built from a record
(:meth:`Conn.from_record`) or from a row of the connections frame and the rows of the
WebSocket frame (:meth:`Conn.from_row`, for report.html).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analyzer.core.records import ConnectionRecord
from analyzer.report.endpoints import endpoint
from analyzer.report.summary import RETRANS_THRESHOLD

__all__ = ["RETRANS_THRESHOLD", "Conn", "Kind", "Problem", "Session", "by_kind", "percent",
           "pick_connections", "triage", "triage_records"]


class Kind(str, enum.Enum):
    """A kind of problem; the definition order is the triage's order, most serious
    first."""

    REFUSED = "refused"
    UNANSWERED = "unanswered"
    INCOMPLETE = "incomplete"
    INVALID_HANDSHAKE = "invalid_handshake"
    RESET = "reset"
    CLOSE_WAIT = "close_wait"
    WEBSOCKET = "websocket"
    RETRANSMISSIONS = "retransmissions"
    ZERO_WINDOW = "zero_window"
    ANOMALY = "anomaly"

    @property
    def rank(self) -> int:
        """0 for the most serious kind."""
        return _ORDER[self]

    @property
    def label(self) -> str:
        """A short name, for a table's kind column ("handshake refused")."""
        return _LABELS[self]

    def title(self, retrans_threshold: float = RETRANS_THRESHOLD) -> str:
        """What the connections of this kind are, after their count ("3 connections ended
        by RST")."""
        if self is Kind.RETRANSMISSIONS:
            return (f"connections retransmitting more than {percent(retrans_threshold)} of "
                    "their segments")
        return _TITLES[self]


_ORDER = {kind: i for i, kind in enumerate(Kind)}
_LABELS = {
    Kind.REFUSED: "handshake refused",
    Kind.UNANSWERED: "handshake unanswered",
    Kind.INCOMPLETE: "handshake incomplete",
    Kind.INVALID_HANDSHAKE: "invalid handshake",
    Kind.RESET: "reset",
    Kind.CLOSE_WAIT: "CLOSE_WAIT left open",
    Kind.WEBSOCKET: "WebSocket problem",
    Kind.RETRANSMISSIONS: "retransmissions",
    Kind.ZERO_WINDOW: "zero window",
    Kind.ANOMALY: "RFC anomaly",
}
_TITLES = {
    Kind.REFUSED: "handshakes refused (the SYN answered by a RST)",
    Kind.UNANSWERED: "handshakes unanswered (SYNs only)",
    Kind.INCOMPLETE: "handshakes incomplete (SYN and SYN-ACK, no final ACK)",
    Kind.INVALID_HANDSHAKE: "invalid handshakes (wrong SYN-ACK or ACK numbers)",
    Kind.RESET: "connections ended by RST",
    Kind.CLOSE_WAIT: "CLOSE_WAIT left open (the peer's FIN acknowledged, no FIN of its own)",
    Kind.WEBSOCKET: "invalid WebSocket handshakes or RFC 6455 violations",
    Kind.ZERO_WINDOW: ("connections whose receiver window went to zero (zero-window "
                       "advertisements)"),
    Kind.ANOMALY: "connections with RFC anomalies",
}
#: The handshake outcomes that are a failure, each its own kind.
FAILED_HANDSHAKES = {"refused": Kind.REFUSED, "unanswered": Kind.UNANSWERED,
                     "incomplete": Kind.INCOMPLETE}


def percent(rate: float) -> str:
    """A rate as a short percentage: 0.01 -> "1%", 0.0213 -> "2.13%"."""
    return f"{rate * 100:.3g}%"


# ---------------------------------------------------------------------------- the input


@dataclass(frozen=True, slots=True)
class Session:
    """What the triage reads of one WebSocket upgrade attempt."""

    established: bool
    status: int | None
    target: str | None
    problems: tuple[tuple[str, int | None], ...]


@dataclass(frozen=True, slots=True)
class Conn:
    """What the triage reads of one connection. ``index`` is its position in the input
    (0 for the first), for a report's ``#N``."""

    index: int
    capture: str
    uid: str
    proto: str
    client_ip: str
    client_port: int | None
    server_ip: str
    server_port: int | None
    handshake: str | None = None
    handshake_valid: bool | None = None
    syn_retransmissions: int = 0
    end: str | None = None
    rst_by: str | None = None
    client_state: str | None = None
    server_state: str | None = None
    anomalies: tuple[str, ...] = ()
    retrans_rate: float | None = None
    seq_packets_c2s: int = 0
    seq_packets_s2c: int = 0
    retrans_packets_c2s: int = 0
    retrans_packets_s2c: int = 0
    zero_window_advertisements_c2s: int = 0
    zero_window_advertisements_s2c: int = 0
    zero_window_probes_c2s: int = 0
    zero_window_probes_s2c: int = 0
    websockets: tuple[Session, ...] = ()

    @property
    def client(self) -> str:
        return endpoint(self.client_ip, self.client_port)

    @property
    def server(self) -> str:
        return endpoint(self.server_ip, self.server_port)

    @property
    def where(self) -> str:
        """``CLIENT → SERVER``."""
        return f"{self.client} → {self.server}"

    @classmethod
    def from_record(cls, index: int, r: ConnectionRecord) -> Conn:
        return cls(
            index=index, capture=r.capture, uid=r.uid, proto=str(r.proto),
            client_ip=r.client_ip, client_port=r.client_port, server_ip=r.server_ip,
            server_port=r.server_port, handshake=_str(r.handshake),
            handshake_valid=r.handshake_valid, syn_retransmissions=r.syn_retransmissions,
            end=_str(r.end), rst_by=_str(r.rst_by), client_state=_str(r.client_state),
            server_state=_str(r.server_state), anomalies=tuple(r.anomalies),
            retrans_rate=r.retrans_rate,
            seq_packets_c2s=r.seq_packets_c2s or 0, seq_packets_s2c=r.seq_packets_s2c or 0,
            retrans_packets_c2s=r.retrans_packets_c2s or 0,
            retrans_packets_s2c=r.retrans_packets_s2c or 0,
            zero_window_advertisements_c2s=r.zero_window_advertisements_c2s or 0,
            zero_window_advertisements_s2c=r.zero_window_advertisements_s2c or 0,
            zero_window_probes_c2s=r.zero_window_probes_c2s or 0,
            zero_window_probes_s2c=r.zero_window_probes_s2c or 0,
            websockets=tuple(Session(ws.established, ws.status, ws.request_target,
                                     tuple((str(n), f) for n, f in ws.problems))
                             for ws in r.websockets))

    @classmethod
    def from_row(cls, index: int, row: Mapping[Any, Any],
                 sessions: Iterable[Mapping[Any, Any]] = ()) -> Conn:
        """From a row of the connections frame (``report.frame.to_frame``) and the rows of
        the WebSocket frame (``report.app.websocket_frame``) that belong to it; nulls
        (None, NA, NaN) are read as absent."""
        def count(name: str) -> int:
            return _int(row.get(name)) or 0

        valid = row.get("handshake_valid")
        return cls(
            index=index, capture=_str(row.get("capture")) or "", uid=_str(row.get("uid")) or "",
            proto=_str(row.get("proto")) or "", client_ip=_str(row.get("client_ip")) or "",
            client_port=_int(row.get("client_port")), server_ip=_str(row.get("server_ip")) or "",
            server_port=_int(row.get("server_port")), handshake=_str(row.get("handshake")),
            handshake_valid=None if is_null(valid) else bool(valid),
            syn_retransmissions=count("syn_retransmissions"), end=_str(row.get("end")),
            rst_by=_str(row.get("rst_by")), client_state=_str(row.get("client_state")),
            server_state=_str(row.get("server_state")),
            anomalies=tuple(str(a) for a in _items(row.get("anomalies"))),
            retrans_rate=_float(row.get("retrans_rate")),
            seq_packets_c2s=count("seq_packets_c2s"), seq_packets_s2c=count("seq_packets_s2c"),
            retrans_packets_c2s=count("retrans_packets_c2s"),
            retrans_packets_s2c=count("retrans_packets_s2c"),
            zero_window_advertisements_c2s=count("zero_window_advertisements_c2s"),
            zero_window_advertisements_s2c=count("zero_window_advertisements_s2c"),
            zero_window_probes_c2s=count("zero_window_probes_c2s"),
            zero_window_probes_s2c=count("zero_window_probes_s2c"),
            websockets=tuple(_session(s) for s in sessions))


def is_null(value: object) -> bool:
    """None, pandas' NA or a float NaN (a frame's null); a list is a value."""
    if value is None:
        return True
    if isinstance(value, (list, tuple, dict, set, np.ndarray)):
        return False
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False


def _str(value: object) -> str | None:
    if is_null(value):
        return None
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


def _int(value: object) -> int | None:
    return None if is_null(value) else int(value)  # type: ignore[call-overload]


def _float(value: object) -> float | None:
    return None if is_null(value) else float(value)  # type: ignore[arg-type]


def _items(value: object) -> list[Any]:
    if is_null(value) or not isinstance(value, (list, tuple, np.ndarray)):
        return []
    return list(value)


def _session(row: Mapping[Any, Any]) -> Session:
    problems: list[tuple[str, int | None]] = []
    for p in _items(row.get("problems")):
        if isinstance(p, Mapping):
            problems.append((_str(p.get("problem")) or "", _int(p.get("frame"))))
        elif isinstance(p, (list, tuple)) and len(p) == 2:
            problems.append((_str(p[0]) or "", _int(p[1])))
        else:
            problems.append((str(p), None))
    established = row.get("established")
    return Session(established=not is_null(established) and bool(established),
                   status=_int(row.get("status")), target=_str(row.get("request_target")),
                   problems=tuple(problems))


# ---------------------------------------------------------------------------- the triage


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: its kind, the connection and a one-line description."""

    kind: Kind
    conn: Conn
    detail: str


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def _websocket(sessions: Sequence[Session]) -> str | None:
    """The WebSocket problems of a connection's upgrades, or None without any."""
    parts = []
    for ws in sessions:
        listed = "; ".join(name if frame is None else f"{name} (frame {frame})"
                           for name, frame in ws.problems)
        if not ws.established:
            text = ("handshake failed, " + (f"status {ws.status}" if ws.status is not None
                                            else "no response")
                    + (f": {listed}" if listed else ""))
        elif listed:
            text = f"RFC 6455 violations: {listed}"
        else:
            continue
        parts.append(f"{ws.target}: {text}" if len(sessions) > 1 and ws.target else text)
    return "; ".join(parts) or None


def _retransmissions(c: Conn, threshold: float) -> str:
    n = c.retrans_packets_c2s + c.retrans_packets_s2c
    of = c.seq_packets_c2s + c.seq_packets_s2c
    return (f"{percent(c.retrans_rate or 0.0)} of the segments retransmitted: {n} of {of} "
            f"({c.retrans_packets_c2s} client → server, {c.retrans_packets_s2c} server → "
            f"client), above {percent(threshold)}")


def _zero_window(c: Conn) -> str:
    sides = (("client", c.zero_window_advertisements_c2s, c.zero_window_probes_c2s),
             ("server", c.zero_window_advertisements_s2c, c.zero_window_probes_s2c))
    detail = "receiver window went to zero: " + "; ".join(
        f"the {side} advertised a zero window {_times(k)}" for side, k, _ in sides if k)
    probes = [f"the {side} sent {_plural(k, 'window probe')}" for side, _, k in sides if k]
    return "; ".join([detail, *probes])


def _problems_of(c: Conn, threshold: float) -> Iterable[Problem]:
    """The problems of one connection, in the kinds' order."""
    tcp = c.proto == "tcp"
    if tcp and c.handshake in FAILED_HANDSHAKES:
        kind = FAILED_HANDSHAKES[c.handshake]
        if kind is Kind.REFUSED:
            detail = "the SYN was answered by a RST"
        elif kind is Kind.UNANSWERED:
            detail = (f"no answer to the SYN "
                      f"({_plural(c.syn_retransmissions, 'retransmission')})")
        else:
            detail = "SYN and SYN-ACK, but no final ACK"
        yield Problem(kind, c, detail)
    anomalies = "; ".join(c.anomalies)
    if tcp and c.handshake_valid is False:
        yield Problem(Kind.INVALID_HANDSHAKE, c, anomalies or "wrong acknowledgement")
    if tcp and c.end == "rst" and c.handshake != "refused":
        yield Problem(Kind.RESET, c, f"RST sent by the {c.rst_by or 'unknown side'}")
    waiting = [side for side, state in (("client", c.client_state),
                                        ("server", c.server_state)) if state == "CLOSE_WAIT"]
    if tcp and waiting:
        yield Problem(Kind.CLOSE_WAIT, c, f"the {' and the '.join(waiting)} received the "
                      f"peer's FIN and never sent {'its' if len(waiting) == 1 else 'their'} "
                      "own")
    if (ws := _websocket(c.websockets)) is not None:
        yield Problem(Kind.WEBSOCKET, c, ws)
    if tcp and c.retrans_rate is not None and c.retrans_rate > threshold:
        yield Problem(Kind.RETRANSMISSIONS, c, _retransmissions(c, threshold))
    if tcp and c.zero_window_advertisements_c2s + c.zero_window_advertisements_s2c > 0:
        yield Problem(Kind.ZERO_WINDOW, c, _zero_window(c))
    if anomalies and c.handshake_valid is not False:
        yield Problem(Kind.ANOMALY, c, anomalies)


def _severity(p: Problem) -> float:
    """Within a kind, the worst first (a smaller key)."""
    if p.kind is Kind.RETRANSMISSIONS:
        return -(p.conn.retrans_rate or 0.0)
    if p.kind is Kind.ZERO_WINDOW:
        return -float(p.conn.zero_window_advertisements_c2s
                      + p.conn.zero_window_advertisements_s2c)
    return 0.0


def triage(conns: Iterable[Conn], retrans_threshold: float = RETRANS_THRESHOLD
           ) -> list[Problem]:
    """Every problem of ``conns``, most serious kind first, the worst first within a kind,
    then in input order. A connection whose ``retrans_rate`` is above ``retrans_threshold``
    retransmits too much."""
    found = [p for c in conns for p in _problems_of(c, retrans_threshold)]
    found.sort(key=lambda p: (p.kind.rank, _severity(p), p.conn.index))
    return found


def triage_records(records: Sequence[ConnectionRecord],
                   retrans_threshold: float = RETRANS_THRESHOLD) -> list[Problem]:
    """:func:`triage` of records (``Problem.conn.index`` is the position in ``records``)."""
    return triage((Conn.from_record(i, r) for i, r in enumerate(records)), retrans_threshold)


def by_kind(problems: Iterable[Problem]) -> dict[Kind, list[Problem]]:
    """The problems grouped by kind, in the triage's order (kinds without a problem are
    absent)."""
    out: dict[Kind, list[Problem]] = {}
    for p in sorted(problems, key=lambda p: p.kind.rank):
        out.setdefault(p.kind, []).append(p)
    return out


def pick_connections(records: Sequence[ConnectionRecord], limit: int = 3,
                     retrans_threshold: float = RETRANS_THRESHOLD) -> list[ConnectionRecord]:
    """The TCP connections worth a ladder diagram: the worst of each kind of problem, most
    serious kind first, then complete ones in input order; at most ``limit``."""
    chosen: list[int] = []
    for kind_problems in by_kind(triage_records(records, retrans_threshold)).values():
        first = next((p.conn.index for p in kind_problems if p.conn.proto == "tcp"), None)
        if first is not None and first not in chosen:
            chosen.append(first)
    for i, r in enumerate(records):
        if len(chosen) >= limit:
            break
        if r.proto == "tcp" and i not in chosen and r.handshake == "complete":
            chosen.append(i)
    return [records[i] for i in chosen[:limit]]
