"""RFC 9293 connection states per endpoint, driven by what a passive observer sees.

Rule 1 (after h11's ``_state.py``): everything that moves an endpoint between RFC 9293
states lives in this module. The ordinary moves are data, in :data:`TRANSITIONS`; the
few that are not (a RST from any state, the first state of a connection whose SYN was
not captured) are code below, with a comment saying why.

The observer sees segments, not socket calls, so events are named for what the capture
shows an endpoint *sending* or *receiving* (RFC 9293 §3.3.2, Figure 5):

* ``SEND_SYN`` / ``SEND_SYN_ACK`` / ``SEND_FIN`` / ``SEND_RST``: the endpoint sent it.
* ``SEND_FIN_CROSSED``: the endpoint sent its FIN while it had not yet acknowledged the
  peer's FIN (the two FINs crossed in flight: a simultaneous close, §3.6 Figure 13).
* ``RECV_SYN`` / ``RECV_SYN_ACK`` / ``RECV_FIN`` / ``RECV_RST``: the peer sent it.
* ``RECV_ACK_OF_SYN``: the peer acknowledged this endpoint's SYN (the handshake's third step).
* ``RECV_ACK_OF_FIN``: the peer's acknowledgment number covers this endpoint's FIN.

LISTEN is not observable in a capture: a server is CLOSED until it answers a SYN.
"""

from __future__ import annotations

import enum


class TcpState(enum.Enum):
    """RFC 9293 §3.3.2 connection states (LISTEN is folded into CLOSED: not observable)."""

    CLOSED = "CLOSED"
    SYN_SENT = "SYN_SENT"
    SYN_RECEIVED = "SYN_RECEIVED"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN_WAIT_1"
    FIN_WAIT_2 = "FIN_WAIT_2"
    CLOSE_WAIT = "CLOSE_WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST_ACK"
    TIME_WAIT = "TIME_WAIT"


class Event(enum.Enum):
    """What the capture shows happening to one endpoint (see the module docstring)."""

    SEND_SYN = "send SYN"
    SEND_SYN_ACK = "send SYN-ACK"
    SEND_FIN = "send FIN"
    SEND_FIN_CROSSED = "send FIN before acknowledging the peer's FIN"
    SEND_RST = "send RST"
    RECV_SYN = "receive SYN"
    RECV_SYN_ACK = "receive SYN-ACK"
    RECV_ACK_OF_SYN = "receive ACK of SYN"
    RECV_FIN = "receive FIN"
    RECV_ACK_OF_FIN = "receive ACK of FIN"
    RECV_RST = "receive RST"


S = TcpState
E = Event

#: (state, event) -> next state. Pairs that are absent leave the state unchanged; the
#: connection notes an anomaly for the ones listed in :data:`UNEXPECTED`.
TRANSITIONS: dict[tuple[TcpState, Event], TcpState] = {
    # Opening (RFC 9293 §3.5, Figures 6 and 7).
    (S.CLOSED, E.SEND_SYN): S.SYN_SENT,  # active open
    (S.CLOSED, E.SEND_SYN_ACK): S.SYN_RECEIVED,  # passive open: LISTEN -> SYN-RECEIVED
    (S.SYN_SENT, E.RECV_SYN_ACK): S.ESTABLISHED,
    (S.SYN_SENT, E.RECV_SYN): S.SYN_RECEIVED,  # simultaneous open (Figure 7)
    (S.SYN_SENT, E.SEND_SYN_ACK): S.SYN_RECEIVED,  # simultaneous open, our SYN-ACK
    (S.SYN_RECEIVED, E.RECV_ACK_OF_SYN): S.ESTABLISHED,
    (S.SYN_RECEIVED, E.RECV_SYN_ACK): S.ESTABLISHED,  # simultaneous open completes
    # A close before the handshake completed (§3.10.4: CLOSE in SYN-RECEIVED sends FIN).
    (S.SYN_RECEIVED, E.SEND_FIN): S.FIN_WAIT_1,
    (S.SYN_RECEIVED, E.RECV_FIN): S.CLOSE_WAIT,
    # Closing (§3.6, Figures 12 and 13).
    (S.ESTABLISHED, E.SEND_FIN): S.FIN_WAIT_1,  # active close
    (S.ESTABLISHED, E.RECV_FIN): S.CLOSE_WAIT,  # passive close
    (S.FIN_WAIT_1, E.RECV_ACK_OF_FIN): S.FIN_WAIT_2,
    (S.FIN_WAIT_1, E.RECV_FIN): S.CLOSING,  # simultaneous close
    (S.FIN_WAIT_2, E.RECV_FIN): S.TIME_WAIT,
    (S.CLOSING, E.RECV_ACK_OF_FIN): S.TIME_WAIT,
    (S.CLOSE_WAIT, E.SEND_FIN): S.LAST_ACK,
    # The observer saw the peer's FIN first, but this endpoint's FIN does not acknowledge
    # it: both FINs were in flight at once, so this side was in FIN-WAIT-1 and then got
    # the peer's FIN: CLOSING (Figure 13).
    (S.CLOSE_WAIT, E.SEND_FIN_CROSSED): S.CLOSING,
    (S.LAST_ACK, E.RECV_ACK_OF_FIN): S.CLOSED,
}

#: Events that should not happen in a state (a passive observer records them, never fails).
UNEXPECTED: frozenset[tuple[TcpState, Event]] = frozenset(
    {
        (S.ESTABLISHED, E.RECV_SYN),
        (S.ESTABLISHED, E.SEND_SYN),
        (S.LAST_ACK, E.SEND_SYN),
        (S.TIME_WAIT, E.SEND_SYN),
        (S.CLOSED, E.SEND_FIN),
    }
)


def step(state: TcpState, event: Event) -> TcpState:
    """The state after ``event``; a RST moves any state to CLOSED (§3.10.7.x "If the RST
    bit is set ... enter the CLOSED state"), which is code rather than eleven table rows."""
    if event in (E.SEND_RST, E.RECV_RST):
        return S.CLOSED
    if event is E.SEND_FIN and state is S.SYN_SENT:
        # We never saw the SYN-ACK this side must have received; it is closing an
        # established connection as far as its own stack knows.
        return S.FIN_WAIT_1
    return TRANSITIONS.get((state, event), state)
