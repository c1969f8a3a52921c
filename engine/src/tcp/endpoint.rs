//! Zeek's view of one TCP endpoint (`TCP_Endpoint`) and its content-gap bookkeeping
//! (`TCP_Reassembler`); the history letters are in `flow::history`.

use crate::flow::history::Scaled;

/// 2^32: the size of TCP's sequence space.
pub const SEQ_MOD: i64 = 1 << 32;
/// Zeek's `TOO_LARGE_SEQ_DELTA`: a jump larger than this is not believed.
pub const TOO_LARGE_SEQ_DELTA: i64 = 1_048_576;

/// Signed difference a - b in 32-bit sequence space (Zeek's `seq_delta`).
pub fn seq_delta(a: u32, b: u32) -> i64 {
    i64::from(a.wrapping_sub(b) as i32)
}

/// Zeek's per-endpoint TCP states (`TCP_Endpoint.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ZeekState {
    /// Nothing seen from this side.
    Inactive,
    /// SYN seen, no ACK.
    SynSent,
    /// SYN-ACK seen, no initial SYN.
    SynAckSent,
    /// Data seen, but no SYN.
    Partial,
    Established,
    /// FIN seen.
    Closed,
    /// RST seen.
    Reset,
}

impl ZeekState {
    pub fn in_handshake(self) -> bool {
        matches!(
            self,
            ZeekState::Inactive | ZeekState::SynSent | ZeekState::SynAckSent
        )
    }
}

/// Which payload bytes of one direction were captured, to find content gaps.
///
/// `expected` is the next relative sequence number not yet delivered in order; blocks
/// above a hole wait in `blocks`. An acknowledgment above `expected` reveals bytes the
/// receiver got but the capture did not: a content gap (Zeek's `Undelivered`).
#[derive(Clone, Debug)]
pub struct Reassembly {
    expected: i64,
    /// Made at the first hole (most directions never have one): a pointer costs an open
    /// connection 8 bytes where an empty `Vec` costs 24.
    #[allow(clippy::box_collection)]
    blocks: Option<Box<Vec<(i64, i64)>>>,
}

impl Default for Reassembly {
    fn default() -> Self {
        Reassembly {
            expected: 1,
            blocks: None,
        }
    }
}

/// Blocks waiting above a hole, per direction, before the oldest is forgotten (a capture
/// with millions of out-of-order segments must not grow without bound).
pub const MAX_PENDING_BLOCKS: usize = 4096;

impl Reassembly {
    pub fn data(&mut self, start: i64, end: i64) {
        if end <= self.expected {
            return;
        }
        if start <= self.expected {
            self.expected = end;
            self.absorb();
        } else {
            let blocks = self.blocks.get_or_insert_with(Box::default);
            let at = blocks.partition_point(|b| *b < (start, end));
            blocks.insert(at, (start, end));
            if blocks.len() > MAX_PENDING_BLOCKS {
                blocks.remove(blocks.len() - 1);
            }
        }
    }

    fn absorb(&mut self) {
        let Some(blocks) = self.blocks.as_mut() else {
            return;
        };
        let mut n = 0;
        while n < blocks.len() && blocks[n].0 <= self.expected {
            self.expected = self.expected.max(blocks[n].1);
            n += 1;
        }
        blocks.drain(..n);
        if blocks.is_empty() {
            self.blocks = None;
        }
    }

    /// Everything below `up_to` was received; return the bytes the capture missed.
    pub fn ack(&mut self, up_to: i64) -> i64 {
        if up_to <= self.expected {
            return 0;
        }
        let mut covered = 0;
        let mut kept = Vec::new();
        for &(start, end) in self.blocks.as_deref().map_or(&[][..], |b| &b[..]) {
            if start >= up_to {
                kept.push((start, end));
                continue;
            }
            covered += end.min(up_to) - start.max(self.expected);
            if end > up_to {
                kept.push((up_to, end));
            }
        }
        let missing = up_to - self.expected - covered;
        self.expected = up_to;
        self.blocks = (!kept.is_empty()).then(|| Box::new(kept));
        self.absorb();
        missing.max(0)
    }
}

/// One side of a TCP connection the way Zeek's `TCP_Endpoint` tracks it.
#[derive(Clone, Debug)]
pub struct ZeekEndpoint {
    pub is_orig: bool,
    pub state: ZeekState,
    pub prev_state: ZeekState,
    pub start_seq: u32,
    pub last_seq: u32,
    pub ack_seq: u32,
    pub fin_cnt: u32,
    pub fin_seq: i64,
    pub rst_cnt: u32,
    pub did_close: bool,
    pub hist_last_syn: i64,
    pub hist_last_fin: i64,
    pub hist_last_rst: i64,
    pub chk: Scaled,
    pub rxmt: Scaled,
    pub win0: Scaled,
    pub gap: Scaled,
    pub reasm: Reassembly,
    pub missed: i64,
    pub pkts: u64,
    pub ip_bytes: u64,
}

impl ZeekEndpoint {
    pub fn new(is_orig: bool) -> Self {
        ZeekEndpoint {
            is_orig,
            state: ZeekState::Inactive,
            prev_state: ZeekState::Inactive,
            start_seq: 0,
            last_seq: 0,
            ack_seq: 0,
            fin_cnt: 0,
            fin_seq: 0,
            rst_cnt: 0,
            did_close: false,
            hist_last_syn: 0,
            hist_last_fin: 0,
            hist_last_rst: 0,
            chk: Scaled::default(),
            rxmt: Scaled::default(),
            win0: Scaled::default(),
            gap: Scaled::default(),
            reasm: Reassembly::default(),
            missed: 0,
            pkts: 0,
            ip_bytes: 0,
        }
    }

    /// `TCP_Endpoint::SetState`.
    pub fn set_state(&mut self, new: ZeekState) {
        if new != self.state {
            self.prev_state = self.state;
            self.state = new;
        }
    }

    /// `TCP_Endpoint::InitStartSeq` / `InitLastSeq` / `InitAckSeq` together.
    pub fn init_seqs(&mut self, start: u32, last: u32) {
        self.start_seq = start;
        self.ack_seq = start;
        self.last_seq = last;
    }

    /// `TCP_Endpoint::Size`: bytes of sequence space used, SYN and FIN excluded.
    pub fn size(&self, peer: &ZeekEndpoint) -> u64 {
        if self.prev_state == ZeekState::SynSent
            && self.state == ZeekState::Reset
            && peer.state == ZeekState::Inactive
            && seq_delta(self.ack_seq, self.start_seq) > 1
        {
            return 0;
        }
        let last = seq_delta(self.last_seq, self.start_seq);
        let acked = seq_delta(self.ack_seq, self.start_seq);
        let mut size = last.max(acked);
        if size <= 0 {
            return 0;
        }
        size -= 1;
        if self.fin_cnt > 0 && size != 0 {
            size -= 1;
        }
        size as u64
    }
}

/// `conn_state` from the two endpoint states, as `base/protocols/conn/main.zeek`.
pub fn tcp_conn_state(orig: &ZeekEndpoint, resp: &ZeekEndpoint, history: &str) -> &'static str {
    use ZeekState as Z;
    let (os, rs) = (orig.state, resp.state);
    let o_inactive = matches!(os, Z::Inactive | Z::Partial);
    let r_inactive = matches!(rs, Z::Inactive | Z::Partial);
    if rs == Z::Reset {
        if matches!(os, Z::SynSent | Z::SynAckSent)
            || (os == Z::Reset && orig.size(resp) == 0 && resp.size(orig) == 0)
        {
            return "REJ";
        }
        return if o_inactive { "RSTRH" } else { "RSTR" };
    }
    if os == Z::Reset {
        if r_inactive {
            return if rstos0_history(history) {
                "RSTOS0"
            } else {
                "OTH"
            };
        }
        return "RSTO";
    }
    if rs == Z::Closed && os == Z::Closed {
        return "SF";
    }
    if os == Z::Closed {
        return if r_inactive { "SH" } else { "S2" };
    }
    if rs == Z::Closed {
        return if o_inactive { "SHR" } else { "S3" };
    }
    if os == Z::SynSent && rs == Z::Inactive {
        return "S0";
    }
    if os == Z::Established && rs == Z::Established {
        return "S1";
    }
    "OTH"
}

/// Zeek's `/^?S[^HAFGIQ]*R.*/ == history` (a whole-string match).
fn rstos0_history(history: &str) -> bool {
    let rest = history.strip_prefix('^').unwrap_or(history);
    let Some(rest) = rest.strip_prefix('S') else {
        return false;
    };
    for ch in rest.chars() {
        if ch == 'R' {
            return true;
        }
        if "HAFGIQ".contains(ch) {
            return false;
        }
    }
    false
}

/// `conn_state` of a UDP flow from whether each side sent anything.
pub fn udp_conn_state(orig_sent: bool, resp_sent: bool) -> &'static str {
    match (orig_sent, resp_sent) {
        (true, true) => "SF",
        (true, false) => "S0",
        (false, true) => "SHR",
        (false, false) => "OTH",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_delta_wraps_around_2_pow_32() {
        assert_eq!(seq_delta(5, u32::MAX - 4), 10);
        assert_eq!(seq_delta(u32::MAX - 4, 5), -10);
    }

    #[test]
    fn zeek_undelivered_counts_acked_bytes_never_captured() {
        let mut r = Reassembly::default();
        r.data(1, 101);
        r.data(201, 301);
        assert_eq!(r.ack(301), 100);
        assert_eq!(r.ack(301), 0);
    }

    #[test]
    fn zeek_endpoint_size_excludes_syn_and_fin() {
        let mut z = ZeekEndpoint::new(true);
        let peer = ZeekEndpoint::new(false);
        z.init_seqs(1000, 1001);
        z.last_seq = 1000 + 1 + 50 + 1;
        z.fin_cnt = 1;
        assert_eq!(z.size(&peer), 50);
    }

    #[test]
    fn conn_state_families() {
        let mut o = ZeekEndpoint::new(true);
        let mut r = ZeekEndpoint::new(false);
        o.state = ZeekState::SynSent;
        assert_eq!(tcp_conn_state(&o, &r, "S"), "S0");
        r.state = ZeekState::Reset;
        assert_eq!(tcp_conn_state(&o, &r, "Sr"), "REJ");
        o.state = ZeekState::Closed;
        r.state = ZeekState::Closed;
        assert_eq!(tcp_conn_state(&o, &r, "ShADadFf"), "SF");
        o.state = ZeekState::Reset;
        r.state = ZeekState::Inactive;
        assert_eq!(tcp_conn_state(&o, &r, "SR"), "RSTOS0");
        assert_eq!(tcp_conn_state(&o, &r, "R"), "OTH");
        assert_eq!(udp_conn_state(true, false), "S0");
    }
}
