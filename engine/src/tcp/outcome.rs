//! How a TCP connection went, as the record reports it: pure functions of what the
//! connection saw (handshake, end, closer, TIME_WAIT).

use crate::tcp::connection::Side;
use crate::tcp::state::TcpState;

/// The handshake as the capture shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handshake {
    /// SYN, SYN-ACK and the final ACK.
    Complete,
    /// The server answered the SYN with a RST.
    Refused,
    /// Nobody answered the SYN.
    Unanswered,
    /// SYN and SYN-ACK, but no final ACK.
    Incomplete,
    /// The client's SYN is not in the capture.
    NotSeen,
}

impl Handshake {
    pub fn as_str(self) -> &'static str {
        match self {
            Handshake::Complete => "complete",
            Handshake::Refused => "refused",
            Handshake::Unanswered => "unanswered",
            Handshake::Incomplete => "incomplete",
            Handshake::NotSeen => "not_seen",
        }
    }
}

pub fn handshake(client: &Side, server: &Side) -> Handshake {
    if client.syn_isn.is_none() {
        Handshake::NotSeen
    } else if server.synack_seq.is_some() {
        if client.final_ack.is_some() {
            Handshake::Complete
        } else {
            Handshake::Incomplete
        }
    } else if server.rst_before_synack {
        Handshake::Refused
    } else {
        Handshake::Unanswered
    }
}

/// Whether the handshake was valid (the SYN-ACK acknowledges ISN_c+1 and the final ACK
/// ISN_s+1), and its round trip in ns (first SYN to final ACK); None where not known.
pub fn handshake_validity(
    h: Handshake,
    client: &Side,
    server: &Side,
) -> (Option<bool>, Option<i64>) {
    let Some(isn) = client.syn_isn else {
        return (None, None);
    };
    if !matches!(h, Handshake::Complete | Handshake::Incomplete) {
        return (None, None);
    }
    let synack_ok = server.synack_ack == isn.wrapping_add(1);
    match (h, client.final_ack, server.synack_seq) {
        (Handshake::Complete, Some((ack, ts, _)), Some(synack_seq)) => (
            Some(synack_ok && ack == synack_seq.wrapping_add(1)),
            Some(ts - client.syn_ns),
        ),
        _ => (if synack_ok { None } else { Some(false) }, None),
    }
}

/// Which role a side plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Client,
    Server,
    Both,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Server => "server",
            Role::Both => "both",
        }
    }
}

/// How the connection ended: `rst`, `fin` (both sides), `half_closed` or `open`.
pub fn end(any_rst: bool, fin_sides: usize) -> &'static str {
    if any_rst {
        "rst"
    } else if fin_sides >= 2 {
        "fin"
    } else if fin_sides == 1 {
        "half_closed"
    } else {
        "open"
    }
}

/// Whose FIN came first (`Both` for a simultaneous close), else who reset the connection
/// (a refused handshake has no closer).
pub fn closer(
    first_fin: Option<Role>,
    simultaneous: bool,
    first_rst: Option<Role>,
    h: Handshake,
) -> Option<Role> {
    match first_fin {
        Some(_) if simultaneous => Some(Role::Both),
        Some(role) => Some(role),
        None if h != Handshake::Refused => first_rst,
        None => None,
    }
}

/// Who is left in TIME_WAIT.
pub fn time_wait(client: TcpState, server: TcpState) -> Option<Role> {
    match (client == TcpState::TimeWait, server == TcpState::TimeWait) {
        (true, true) => Some(Role::Both),
        (true, false) => Some(Role::Client),
        (false, true) => Some(Role::Server),
        (false, false) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc9293_3_6_the_active_closer_waits() {
        assert_eq!(
            time_wait(TcpState::TimeWait, TcpState::Closed),
            Some(Role::Client)
        );
        assert_eq!(
            time_wait(TcpState::TimeWait, TcpState::TimeWait),
            Some(Role::Both)
        );
        assert_eq!(time_wait(TcpState::CloseWait, TcpState::FinWait2), None);
    }

    #[test]
    fn a_refused_connection_has_no_closer() {
        assert_eq!(
            closer(None, false, Some(Role::Server), Handshake::Refused),
            None
        );
        assert_eq!(
            closer(None, false, Some(Role::Server), Handshake::Complete),
            Some(Role::Server)
        );
        assert_eq!(
            closer(Some(Role::Client), true, None, Handshake::Complete),
            Some(Role::Both)
        );
    }

    #[test]
    fn end_prefers_rst_over_fins() {
        assert_eq!(end(true, 2), "rst");
        assert_eq!(end(false, 2), "fin");
        assert_eq!(end(false, 1), "half_closed");
        assert_eq!(end(false, 0), "open");
    }
}
