//! An ICMP "connection" as Zeek keys it: the sender of the first message is the originator;
//! the port columns hold the ICMP type (originator side) and the counterpart type of a
//! request/reply pair or the code of a one-way message (responder side), so that an echo
//! request and its reply are one connection.

use crate::decode::Packet;
use crate::flow::counters::Counters;
use crate::flow::history::HistoryLog;
use crate::flow::{make_uid, Endpoint, Flow, Timeouts};

pub struct IcmpFlow {
    pub uid: String,
    pub ip_version: u8,
    pub orig: Endpoint,
    pub resp: Endpoint,
    pub history: HistoryLog,
    /// Messages and payload bytes (after the 8-byte ICMP header), orig then resp.
    pub counts: Counters,
    inactivity: i64,
    removed: bool,
    pub tunnel_parents: Vec<String>,
}

impl IcmpFlow {
    pub fn new(p: &Packet<'_>, t: &Timeouts, check_checksums: bool) -> Self {
        IcmpFlow {
            uid: make_uid("icmp", p.ts_ns, p.src, p.sport, p.dst, p.dport),
            ip_version: p.ip_version,
            orig: (p.src, p.sport),
            resp: (p.dst, p.dport),
            history: HistoryLog::default(),
            counts: Counters::new(p, check_checksums),
            inactivity: t.icmp_inactivity,
            removed: false,
            tunnel_parents: Vec::new(),
        }
    }

    /// Feed one message; returns true when it came from the originator.
    pub fn feed(&mut self, p: &Packet<'_>) -> bool {
        let (side, _) = self.counts.count(p, &mut self.history, |i| i == 0);
        side == 0
    }
}

impl Flow for IcmpFlow {
    fn expired(&mut self, now_ns: i64) -> bool {
        self.removed |= self.counts.idle(now_ns, self.inactivity);
        self.removed
    }

    fn is_reuse(&self, _p: &Packet<'_>) -> bool {
        false
    }
}
