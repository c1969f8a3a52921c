//! What a connection-less flow (UDP, ICMP) counts: packets, bytes and times each way, with
//! Zeek's view (packets that passed the checksum check) beside the capture's.

use crate::decode::Packet;
use crate::flow::history::{HistoryLog, Scaled};
use crate::flow::Endpoint;

/// Counts of one flow; index 0 is the first packet's sender, 1 its receiver.
#[derive(Clone, Debug)]
pub struct Counters {
    /// The first packet's source: side 0.
    pub first_src: Endpoint,
    pub first_ns: i64,
    pub last_ns: i64,
    /// The last packet Zeek counted (dropped packets aside).
    pub zeek_last_ns: i64,
    pub first_frame: u64,
    pub last_frame: u64,
    /// Packets and payload bytes as captured.
    pub pkts: [u64; 2],
    pub bytes: [u64; 2],
    /// What Zeek counts.
    pub z_pkts: [u64; 2],
    pub z_ip_bytes: [u64; 2],
    chk: [Scaled; 2],
    check_checksums: bool,
}

impl Counters {
    pub fn new(p: &Packet<'_>, check_checksums: bool) -> Self {
        Counters {
            first_src: (p.src, p.sport),
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
            check_checksums,
        }
    }

    /// Count one packet; returns its side and whether Zeek keeps it (a bad checksum,
    /// when checked, is noted as `C` for the side and dropped). `is_orig` tells whether a
    /// side is Zeek's originator.
    pub fn count(
        &mut self,
        p: &Packet<'_>,
        history: &mut HistoryLog,
        is_orig: impl Fn(usize) -> bool,
    ) -> (usize, bool) {
        let i = usize::from((p.src, p.sport) != self.first_src);
        self.last_ns = p.ts_ns;
        self.last_frame = p.frame;
        self.pkts[i] += 1;
        if p.checksum_bad && self.check_checksums {
            if self.chk[i].hit() {
                history.add(b'C', is_orig(i));
            }
            return (i, false);
        }
        self.bytes[i] += u64::from(p.payload_len);
        self.zeek_last_ns = p.ts_ns;
        self.z_pkts[i] += 1;
        self.z_ip_bytes[i] += u64::from(p.ip_len);
        (i, true)
    }

    /// Zeek's idle timeout.
    pub fn idle(&self, now_ns: i64, inactivity: i64) -> bool {
        now_ns >= self.zeek_last_ns + inactivity
    }
}
