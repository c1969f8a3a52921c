"""RFC 9293 §3.3.2 state transitions, one table row at a time."""

from __future__ import annotations

import pytest

from analyzer.core.tcp_state import TRANSITIONS, Event, TcpState, step

S, E = TcpState, Event


@pytest.mark.parametrize(
    ("state", "event", "expected"),
    [
        (S.CLOSED, E.SEND_SYN, S.SYN_SENT),
        (S.CLOSED, E.SEND_SYN_ACK, S.SYN_RECEIVED),
        (S.SYN_SENT, E.RECV_SYN_ACK, S.ESTABLISHED),
        (S.SYN_SENT, E.RECV_SYN, S.SYN_RECEIVED),
        (S.SYN_RECEIVED, E.RECV_ACK_OF_SYN, S.ESTABLISHED),
        (S.ESTABLISHED, E.SEND_FIN, S.FIN_WAIT_1),
        (S.ESTABLISHED, E.RECV_FIN, S.CLOSE_WAIT),
        (S.FIN_WAIT_1, E.RECV_ACK_OF_FIN, S.FIN_WAIT_2),
        (S.FIN_WAIT_1, E.RECV_FIN, S.CLOSING),
        (S.FIN_WAIT_2, E.RECV_FIN, S.TIME_WAIT),
        (S.CLOSING, E.RECV_ACK_OF_FIN, S.TIME_WAIT),
        (S.CLOSE_WAIT, E.SEND_FIN, S.LAST_ACK),
        (S.CLOSE_WAIT, E.SEND_FIN_CROSSED, S.CLOSING),
        (S.LAST_ACK, E.RECV_ACK_OF_FIN, S.CLOSED),
    ],
)
def test_rfc9293_figure5_transitions(state: TcpState, event: Event, expected: TcpState) -> None:
    assert step(state, event) is expected


@pytest.mark.parametrize("state", list(TcpState))
@pytest.mark.parametrize("event", [E.SEND_RST, E.RECV_RST])
def test_rst_closes_from_any_state(state: TcpState, event: Event) -> None:
    assert step(state, event) is S.CLOSED


def test_unlisted_pairs_leave_the_state_alone() -> None:
    assert (S.TIME_WAIT, E.RECV_FIN) not in TRANSITIONS
    assert step(S.TIME_WAIT, E.RECV_FIN) is S.TIME_WAIT
    assert step(S.ESTABLISHED, E.RECV_ACK_OF_FIN) is S.ESTABLISHED
