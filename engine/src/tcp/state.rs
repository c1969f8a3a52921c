//! RFC 9293 connection states per endpoint, driven by what a passive observer sees.
//!
//! Everything that moves an endpoint between RFC 9293 states lives here. The ordinary
//! moves are data, in [`TRANSITIONS`]; the few that are not (a RST from any state, a FIN
//! from SYN-SENT) are code in [`step`], with a comment saying why.
//!
//! The observer sees segments, not socket calls, so events are named for what the capture
//! shows an endpoint *sending* or *receiving* (RFC 9293 §3.3.2, Figure 5):
//!
//! * `SendSyn` / `SendSynAck` / `SendFin` / `SendRst`: the endpoint sent it.
//! * `SendFinCrossed`: the endpoint sent its FIN while it had not yet acknowledged the
//!   peer's FIN (the two FINs crossed in flight: a simultaneous close, §3.6 Figure 13).
//! * `RecvSyn` / `RecvSynAck` / `RecvFin` / `RecvRst`: the peer sent it.
//! * `RecvAckOfSyn`: the peer acknowledged this endpoint's SYN (the handshake's third step).
//! * `RecvAckOfFin`: the peer's acknowledgment number covers this endpoint's FIN.
//!
//! LISTEN is not observable in a capture: a server is CLOSED until it answers a SYN.

/// RFC 9293 §3.3.2 connection states (LISTEN is folded into CLOSED: not observable).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcpState {
    Closed,
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
}

impl TcpState {
    /// Every state, in RFC order.
    pub const ALL: [TcpState; 10] = [
        TcpState::Closed,
        TcpState::SynSent,
        TcpState::SynReceived,
        TcpState::Established,
        TcpState::FinWait1,
        TcpState::FinWait2,
        TcpState::CloseWait,
        TcpState::Closing,
        TcpState::LastAck,
        TcpState::TimeWait,
    ];

    /// The RFC's name, as records carry it.
    pub fn as_str(self) -> &'static str {
        match self {
            TcpState::Closed => "CLOSED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynReceived => "SYN_RECEIVED",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait1 => "FIN_WAIT_1",
            TcpState::FinWait2 => "FIN_WAIT_2",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::Closing => "CLOSING",
            TcpState::LastAck => "LAST_ACK",
            TcpState::TimeWait => "TIME_WAIT",
        }
    }
}

/// What the capture shows happening to one endpoint (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    SendSyn,
    SendSynAck,
    SendFin,
    SendFinCrossed,
    SendRst,
    RecvSyn,
    RecvSynAck,
    RecvAckOfSyn,
    RecvFin,
    RecvAckOfFin,
    RecvRst,
}

impl Event {
    /// Every event.
    pub const ALL: [Event; 11] = [
        Event::SendSyn,
        Event::SendSynAck,
        Event::SendFin,
        Event::SendFinCrossed,
        Event::SendRst,
        Event::RecvSyn,
        Event::RecvSynAck,
        Event::RecvAckOfSyn,
        Event::RecvFin,
        Event::RecvAckOfFin,
        Event::RecvRst,
    ];

    /// The event in words, as anomalies quote it.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::SendSyn => "send SYN",
            Event::SendSynAck => "send SYN-ACK",
            Event::SendFin => "send FIN",
            Event::SendFinCrossed => "send FIN before acknowledging the peer's FIN",
            Event::SendRst => "send RST",
            Event::RecvSyn => "receive SYN",
            Event::RecvSynAck => "receive SYN-ACK",
            Event::RecvAckOfSyn => "receive ACK of SYN",
            Event::RecvFin => "receive FIN",
            Event::RecvAckOfFin => "receive ACK of FIN",
            Event::RecvRst => "receive RST",
        }
    }
}

use Event as E;
use TcpState as S;

/// (state, event) → next state. Pairs that are absent leave the state unchanged; the
/// connection notes an anomaly for the ones listed in [`UNEXPECTED`].
pub const TRANSITIONS: &[(TcpState, Event, TcpState)] = &[
    // Opening (RFC 9293 §3.5, Figures 6 and 7).
    (S::Closed, E::SendSyn, S::SynSent),        // active open
    (S::Closed, E::SendSynAck, S::SynReceived), // passive open: LISTEN -> SYN-RECEIVED
    (S::SynSent, E::RecvSynAck, S::Established),
    (S::SynSent, E::RecvSyn, S::SynReceived), // simultaneous open (Figure 7)
    (S::SynSent, E::SendSynAck, S::SynReceived), // simultaneous open, our SYN-ACK
    (S::SynReceived, E::RecvAckOfSyn, S::Established),
    (S::SynReceived, E::RecvSynAck, S::Established), // simultaneous open completes
    // A close before the handshake completed (§3.10.4: CLOSE in SYN-RECEIVED sends FIN).
    (S::SynReceived, E::SendFin, S::FinWait1),
    (S::SynReceived, E::RecvFin, S::CloseWait),
    // Closing (§3.6, Figures 12 and 13).
    (S::Established, E::SendFin, S::FinWait1), // active close
    (S::Established, E::RecvFin, S::CloseWait), // passive close
    (S::FinWait1, E::RecvAckOfFin, S::FinWait2),
    (S::FinWait1, E::RecvFin, S::Closing), // simultaneous close
    (S::FinWait2, E::RecvFin, S::TimeWait),
    (S::Closing, E::RecvAckOfFin, S::TimeWait),
    (S::CloseWait, E::SendFin, S::LastAck),
    // The observer saw the peer's FIN first, but this endpoint's FIN does not acknowledge
    // it: both FINs were in flight at once, so this side was in FIN-WAIT-1 and then got the
    // peer's FIN: CLOSING (Figure 13).
    (S::CloseWait, E::SendFinCrossed, S::Closing),
    (S::LastAck, E::RecvAckOfFin, S::Closed),
];

/// Events that should not happen in a state (a passive observer records them, never fails).
pub const UNEXPECTED: &[(TcpState, Event)] = &[
    (S::Established, E::RecvSyn),
    (S::Established, E::SendSyn),
    (S::LastAck, E::SendSyn),
    (S::TimeWait, E::SendSyn),
    (S::Closed, E::SendFin),
];

/// The state after `event`.
pub fn step(state: TcpState, event: Event) -> TcpState {
    // A RST moves any state to CLOSED (§3.10.7.x "If the RST bit is set ... enter the
    // CLOSED state"): code rather than eleven table rows.
    if matches!(event, E::SendRst | E::RecvRst) {
        return S::Closed;
    }
    // A FIN from SYN-SENT: we never saw the SYN-ACK this side must have received; it is
    // closing an established connection as far as its own stack knows.
    if event == E::SendFin && state == S::SynSent {
        return S::FinWait1;
    }
    TRANSITIONS
        .iter()
        .find(|(s, e, _)| *s == state && *e == event)
        .map_or(state, |(_, _, next)| *next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9293_3_5_three_way_handshake() {
        let client = step(step(S::Closed, E::SendSyn), E::RecvSynAck);
        let server = step(step(S::Closed, E::SendSynAck), E::RecvAckOfSyn);
        assert_eq!((client, server), (S::Established, S::Established));
    }

    #[test]
    fn rfc9293_3_5_figure7_simultaneous_open() {
        let a = step(step(S::SynSent, E::RecvSyn), E::RecvSynAck);
        assert_eq!(a, S::Established);
        assert_eq!(step(S::SynSent, E::SendSynAck), S::SynReceived);
    }

    #[test]
    fn rfc9293_3_6_figure12_normal_close() {
        let mut active = S::Established;
        for e in [E::SendFin, E::RecvAckOfFin, E::RecvFin] {
            active = step(active, e);
        }
        let mut passive = S::Established;
        for e in [E::RecvFin, E::SendFin, E::RecvAckOfFin] {
            passive = step(passive, e);
        }
        assert_eq!((active, passive), (S::TimeWait, S::Closed));
    }

    #[test]
    fn rfc9293_3_6_figure13_simultaneous_close() {
        let a = step(
            step(step(S::Established, E::SendFin), E::RecvFin),
            E::RecvAckOfFin,
        );
        assert_eq!(a, S::TimeWait);
        let b = step(step(S::Established, E::RecvFin), E::SendFinCrossed);
        assert_eq!(step(b, E::RecvAckOfFin), S::TimeWait);
    }

    #[test]
    fn rfc9293_3_10_7_rst_closes_every_state() {
        for s in TcpState::ALL {
            assert_eq!(step(s, E::SendRst), S::Closed);
            assert_eq!(step(s, E::RecvRst), S::Closed);
        }
    }

    #[test]
    fn unlisted_pairs_leave_the_state_alone() {
        assert_eq!(step(S::Established, E::RecvSyn), S::Established);
        assert_eq!(step(S::TimeWait, E::SendSyn), S::TimeWait);
        assert_eq!(step(S::FinWait2, E::RecvAckOfFin), S::FinWait2);
    }

    #[test]
    fn table_has_one_row_per_pair_and_unexpected_pairs_are_not_in_it() {
        for (i, (s, e, _)) in TRANSITIONS.iter().enumerate() {
            assert!(TRANSITIONS[i + 1..]
                .iter()
                .all(|(s2, e2, _)| (s2, e2) != (s, e)));
            assert!(!UNEXPECTED.contains(&(*s, *e)));
        }
    }
}
