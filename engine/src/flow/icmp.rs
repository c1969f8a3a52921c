//! An ICMP "connection" as Zeek keys it: the sender of the first message is the originator;
//! the port columns hold the ICMP type (originator side) and the counterpart type of a
//! request/reply pair or the code of a one-way message (responder side), so that an echo
//! request and its reply are one connection.

use crate::decode::Packet;
use crate::flow::history::{HistoryLog, Scaled};
use crate::flow::{make_uid, Endpoint, Flow, Timeouts};

pub struct IcmpFlow {
    pub uid: String,
    pub ip_version: u8,
    pub orig: Endpoint,
    pub resp: Endpoint,
    pub history: HistoryLog,
    pub first_ns: i64,
    pub last_ns: i64,
    pub zeek_last_ns: i64,
    pub first_frame: u64,
    pub last_frame: u64,
    /// Messages and payload bytes (after the 8-byte ICMP header), orig then resp.
    pub pkts: [u64; 2],
    pub bytes: [u64; 2],
    pub z_pkts: [u64; 2],
    pub z_ip_bytes: [u64; 2],
    chk: [Scaled; 2],
    inactivity: i64,
    removed: bool,
    check_checksums: bool,
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
            first_ns: p.ts_ns,
            last_ns: p.ts_ns,
            zeek_last_ns: p.ts_ns,
            first_frame: p.frame,
            last_frame: p.frame,
            pkts: [0; 2],
            bytes: [0; 2],
            z_pkts: [0; 2],
            z_ip_bytes: [0; 2],
            chk: [Scaled::default(), Scaled::default()],
            inactivity: t.icmp_inactivity,
            removed: false,
            check_checksums,
            tunnel_parents: Vec::new(),
        }
    }

    /// Feed one message; returns true when it came from the originator.
    pub fn feed(&mut self, p: &Packet<'_>) -> bool {
        let i = usize::from((p.src, p.sport) != self.orig);
        self.last_ns = p.ts_ns;
        self.last_frame = p.frame;
        self.pkts[i] += 1;
        if p.checksum_bad && self.check_checksums {
            if self.chk[i].hit() {
                self.history.add(b'C', i == 0);
            }
            return i == 0;
        }
        self.bytes[i] += u64::from(p.payload_len);
        self.zeek_last_ns = p.ts_ns;
        self.z_pkts[i] += 1;
        self.z_ip_bytes[i] += u64::from(p.ip_len);
        i == 0
    }
}

impl Flow for IcmpFlow {
    fn expired(&mut self, now_ns: i64) -> bool {
        if now_ns >= self.zeek_last_ns + self.inactivity {
            self.removed = true;
        }
        self.removed
    }

    fn is_reuse(&self, _p: &Packet<'_>) -> bool {
        false
    }
}
