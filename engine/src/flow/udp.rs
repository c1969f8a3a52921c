//! A UDP flow: the client is the first sender; Zeek's originator may differ
//! (`zeek_flipped`: Zeek flips a flow whose first sender uses a likely server port).

use crate::decode::Packet;
use crate::flow::counters::Counters;
use crate::flow::history::{HistoryLog, Kind, LIKELY_SERVER_PORTS_UDP};
use crate::flow::{broadcast_or_multicast, make_uid, Endpoint, Flow, Timeouts};

pub struct UdpFlow {
    pub uid: String,
    pub ip_version: u8,
    pub client: Endpoint,
    pub server: Endpoint,
    pub zeek_flipped: bool,
    pub history: HistoryLog,
    /// Client (the first sender) then server.
    pub counts: Counters,
    inactivity: i64,
    removed: bool,
    /// Zeek's DNS analyzer's `ExpireTimer`, when the responder port is a DNS port.
    dns_timer: Option<i64>,
    pub tunnel_parents: Vec<String>,
}

/// The UDP ports Zeek's DNS analyzer is attached to (`base/protocols/dns`: DNS, NetBIOS
/// name service, mDNS, LLMNR).
pub const DNS_PORTS: &[u16] = &[53, 137, 5353, 5355];
/// Zeek's `dns_session_timeout`.
pub const DNS_SESSION_TIMEOUT: i64 = 10 * crate::flow::NS;

impl UdpFlow {
    pub fn new(p: &Packet<'_>, t: &Timeouts, check_checksums: bool) -> Self {
        let zeek_flipped = LIKELY_SERVER_PORTS_UDP.contains(&p.sport)
            && !LIKELY_SERVER_PORTS_UDP.contains(&p.dport)
            && !broadcast_or_multicast(p.dst);
        let mut history = HistoryLog::default();
        if zeek_flipped {
            history.flip();
        }
        UdpFlow {
            uid: make_uid("udp", p.ts_ns, p.src, p.sport, p.dst, p.dport),
            ip_version: p.ip_version,
            client: (p.src, p.sport),
            server: (p.dst, p.dport),
            zeek_flipped,
            history,
            counts: Counters::new(p, check_checksums),
            inactivity: t.udp_inactivity,
            removed: false,
            dns_timer: {
                let resp_port = if zeek_flipped { p.sport } else { p.dport };
                DNS_PORTS
                    .contains(&resp_port)
                    .then_some(p.ts_ns + DNS_SESSION_TIMEOUT)
            },
            tunnel_parents: Vec::new(),
        }
    }

    /// Feed one datagram; returns true when it came from the client.
    pub fn feed(&mut self, p: &Packet<'_>) -> bool {
        let flipped = self.zeek_flipped;
        let (side, kept) = self
            .counts
            .count(p, &mut self.history, |i| (i == 0) != flipped);
        if kept {
            self.history.check(Kind::Data, b'D', (side == 0) != flipped);
        }
        side == 0
    }
}

impl Flow for UdpFlow {
    fn expired(&mut self, now_ns: i64) -> bool {
        self.removed |= self.counts.idle(now_ns, self.inactivity);
        // DNS_Analyzer::ExpireTimer: a DNS conversation quiet for the session timeout (less
        // a second of slack) is over; otherwise look again a timeout later.
        while let Some(t) = self.dns_timer {
            if self.removed || t > now_ns {
                break;
            }
            if t - self.counts.last_ns >= DNS_SESSION_TIMEOUT - crate::flow::NS {
                self.removed = true;
            } else {
                self.dns_timer = Some(t + DNS_SESSION_TIMEOUT);
            }
        }
        self.removed
    }

    fn is_reuse(&self, _p: &Packet<'_>) -> bool {
        false
    }
}
