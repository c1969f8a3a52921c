//! One TCP connection: Zeek's endpoint view and the RFC 9293 view, side by side.
//!
//! A [`TcpConnection`] keeps two [`Side`]s. Each carries Zeek's endpoint
//! ([`ZeekEndpoint`]: states, sequence bookkeeping, history counters) and the side's RFC
//! 9293 state, plus the handshake and close facts the record reports.
//!
//! Roles: the originator ("client") is the sender of the first SYN. A connection whose SYN
//! was not captured gets its roles the way Zeek decides them (the side sending from a
//! likely server port is the responder; a connection that starts with a SYN-ACK is flipped
//! when the next ACK or data shows up), and is marked `client_inferred`.
//!
//! Zeek's timers run in network time (packet timestamps): they decide when a connection is
//! over, so that a later packet on the same 4-tuple starts a new one exactly where Zeek
//! starts one (see `zeek.rs`).

use std::net::IpAddr;
use std::sync::Arc;

use crate::decode::flags::{ACK, FIN, RST, SYN};
use crate::decode::Packet;
use crate::flow::history::{HistoryLog, LIKELY_SERVER_PORTS_TCP};
use crate::flow::{make_uid, Endpoint, Timeouts, TimerKind};
use crate::tcp::endpoint::{seq_delta, ZeekEndpoint};
use crate::tcp::health::{Health, Marks, SegmentFacts};
use crate::tcp::state::{step, Event, TcpState};

/// One endpoint of a TCP connection.
#[derive(Clone, Debug)]
pub struct Side {
    pub addr: IpAddr,
    pub port: u16,
    pub z: ZeekEndpoint,
    pub rfc: TcpState,
    pub packets: u64,
    /// Payload bytes sent, each counted once.
    pub data: SentBytes,
    /// The sequence number just past this side's FIN.
    pub fin_next: Option<u32>,
    pub fin_frame: Option<u64>,
    pub syn_isn: Option<u32>,
    pub syn_ns: i64,
    pub syn_count: u64,
    pub synack_seq: Option<u32>,
    pub synack_ack: u32,
    pub synack_ns: i64,
    pub synack_frame: u64,
    /// The handshake's final ACK: (ack, ts_ns, frame).
    pub final_ack: Option<(u32, i64, u64)>,
    pub rst_before_synack: bool,
}

impl Side {
    fn new(addr: IpAddr, port: u16, is_orig: bool) -> Self {
        Side {
            addr,
            port,
            z: ZeekEndpoint::new(is_orig),
            rfc: TcpState::Closed,
            packets: 0,
            data: SentBytes::default(),
            fin_next: None,
            fin_frame: None,
            syn_isn: None,
            syn_ns: 0,
            syn_count: 0,
            synack_seq: None,
            synack_ack: 0,
            synack_ns: 0,
            synack_frame: 0,
            final_ack: None,
            rst_before_synack: false,
        }
    }

    pub fn endpoint(&self) -> Endpoint {
        (self.addr, self.port)
    }
}

/// The payload bytes one side sent, each counted once despite retransmissions: sequence
/// space relative to the first payload's start (made at the first payload).
#[derive(Clone, Debug, Default)]
pub struct SentBytes(Option<Box<(u32, IntervalSet)>>);

impl SentBytes {
    /// `len` bytes from sequence number `start`.
    pub fn add(&mut self, start: u32, len: u32) {
        let (base, set) = &mut **self
            .0
            .get_or_insert_with(|| Box::new((start, IntervalSet::default())));
        let rel = seq_delta(start, *base);
        set.add(rel, rel + i64::from(len));
    }

    /// Bytes counted.
    pub fn total(&self) -> i64 {
        self.0.as_ref().map_or(0, |b| b.1.total())
    }
}

/// Merged, sorted `[start, end)` intervals, to count payload bytes once despite
/// retransmissions.
#[derive(Clone, Debug, Default)]
pub struct IntervalSet {
    spans: Vec<(i64, i64)>,
}

/// Disjoint spans kept per direction before the two lowest are merged (a capture with
/// millions of holes must not grow without bound; the count then errs high).
pub const MAX_SPANS: usize = 4096;

impl IntervalSet {
    /// Add `[start, end)`; returns the newly covered size.
    pub fn add(&mut self, start: i64, end: i64) -> i64 {
        if end <= start {
            return 0;
        }
        if let Some(last) = self.spans.last_mut() {
            // Fast path: in-order data extends the last span.
            if last.0 <= start && start <= last.1 {
                if end <= last.1 {
                    return 0;
                }
                let added = end - last.1;
                last.1 = end;
                return added;
            }
            if start > last.1 {
                self.spans.push((start, end));
                self.cap();
                return end - start;
            }
        } else {
            self.spans.push((start, end));
            return end - start;
        }
        let mut new = end - start;
        let (mut lo, mut hi) = (start, end);
        let mut merged = Vec::with_capacity(self.spans.len() + 1);
        for &(s, e) in &self.spans {
            if e < lo || s > hi {
                merged.push((s, e));
                continue;
            }
            let overlap = e.min(end) - s.max(start);
            if overlap > 0 {
                new -= overlap;
            }
            lo = lo.min(s);
            hi = hi.max(e);
        }
        merged.push((lo, hi));
        merged.sort_unstable();
        self.spans = merged;
        self.cap();
        new.max(0)
    }

    fn cap(&mut self) {
        if self.spans.len() > MAX_SPANS {
            let (s0, _) = self.spans[0];
            let (_, e1) = self.spans[1];
            self.spans.splice(0..2, [(s0, e1)]);
        }
    }

    pub fn total(&self) -> i64 {
        self.spans.iter().map(|(s, e)| e - s).sum()
    }
}

/// A TCP connection, fed one packet at a time by the tracker.
#[derive(Debug)]
pub struct TcpConnection {
    /// Zeek's timer constants, shared by every connection of a tracker.
    pub t: Arc<Timeouts>,
    pub check_checksums: bool,
    /// Side 0 sent the first packet; side 1 received it.
    pub sides: [Side; 2],
    /// The index of the originator's side.
    pub orig: usize,
    pub history: HistoryLog,
    pub client_inferred: bool,
    pub ip_version: u8,
    /// The first packet's time (Zeek's `start_time`; with side 0's and side 1's endpoints,
    /// the uid's input).
    pub first_ns: i64,
    pub last_ns: i64,
    pub zeek_last_ns: i64,
    pub first_frame: u64,
    pub last_frame: u64,
    /// Every frame number of this connection, when the caller asked to keep them.
    pub frames: Option<Box<Vec<u32>>>,
    pub is_partial: bool,
    pub first_seen_orig: bool,
    pub first_seen_resp: bool,
    /// Pending Zeek timers (fire time, kind). The inactivity timer is implicit.
    pub timers: Vec<(i64, TimerKind)>,
    pub inactivity: i64,
    pub removed: bool,
    /// The sides that sent a FIN, in order.
    pub fins: FinOrder,
    pub simultaneous_close: bool,
    /// The side that sent the first RST.
    pub first_rst: Option<u8>,
    /// Anomalies and tunnel parents, which most connections never have.
    pub extra: Option<Box<Extra>>,
    /// Retransmissions, windows and round trips, per side (tcptrace's view).
    pub health: Health,
    /// What the last segment fed was, for the ladder.
    pub last_marks: Marks,
}

/// The sides (0, 1) that sent a FIN, in the order they did, each at most once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FinOrder {
    sides: [u8; 2],
    len: u8,
}

impl FinOrder {
    pub fn first(&self) -> Option<usize> {
        (self.len > 0).then(|| usize::from(self.sides[0]))
    }

    pub fn contains(&self, side: usize) -> bool {
        self.sides[..usize::from(self.len)]
            .iter()
            .any(|&s| usize::from(s) == side)
    }

    fn push(&mut self, side: usize) {
        if usize::from(self.len) < self.sides.len() && !self.contains(side) {
            self.sides[usize::from(self.len)] = u8::from(side == 1);
            self.len += 1;
        }
    }
}

/// What few connections have, kept apart so that the others do not pay for it.
#[derive(Clone, Debug, Default)]
pub struct Extra {
    pub anomalies: Vec<String>,
    pub tunnel_parents: Vec<String>,
}

/// The header facts the health view reads.
pub fn health_facts(p: &Packet<'_>) -> SegmentFacts {
    SegmentFacts {
        ts_ns: p.ts_ns,
        flags: p.flags,
        seq: p.seq,
        ack: p.ack,
        payload_len: p.payload_len,
        window: p.window,
        options: p.options,
    }
}

/// Zeek `TCPAnalyzer::WantConnection`: guess the responder of a partial connection.
pub fn flip_at_creation(flags: u8, sport: u16, dport: u16) -> bool {
    if flags & SYN != 0 && flags & ACK == 0 {
        return false;
    }
    if LIKELY_SERVER_PORTS_TCP.contains(&sport) {
        if LIKELY_SERVER_PORTS_TCP.contains(&dport) {
            return flags & SYN == 0 && sport < dport;
        }
        return true;
    }
    false
}

impl TcpConnection {
    pub fn new(
        p: &Packet<'_>,
        t: &Arc<Timeouts>,
        check_checksums: bool,
        keep_frames: bool,
    ) -> Self {
        let flip = flip_at_creation(p.flags, p.sport, p.dport);
        let mut src = Side::new(p.src, p.sport, true);
        let mut dst = Side::new(p.dst, p.dport, false);
        if flip {
            src.z.is_orig = false;
            dst.z.is_orig = true;
        }
        let mut history = HistoryLog::default();
        if flip {
            history.flip();
        }
        let syn = p.flags & SYN != 0;
        let ack = p.flags & ACK != 0;
        // Initial RFC states: a capture that starts with a SYN sees both sides CLOSED; one
        // that starts with a SYN-ACK implies the client is in SYN_SENT; one that starts
        // mid-stream finds both sides ESTABLISHED.
        if syn && ack {
            dst.rfc = TcpState::SynSent;
        } else if !syn {
            src.rfc = TcpState::Established;
            dst.rfc = TcpState::Established;
        }
        TcpConnection {
            t: Arc::clone(t),
            check_checksums,
            sides: [src, dst],
            orig: usize::from(flip),
            history,
            client_inferred: !syn || ack,
            ip_version: p.ip_version,
            first_ns: p.ts_ns,
            last_ns: p.ts_ns,
            zeek_last_ns: p.ts_ns,
            first_frame: p.frame,
            last_frame: p.frame,
            frames: keep_frames.then(Box::default),
            is_partial: false,
            first_seen_orig: false,
            first_seen_resp: false,
            timers: {
                // Room for the attempt timer a SYN adds (a vec! of one would grow to four).
                let mut timers = Vec::with_capacity(2);
                timers.push((p.ts_ns + t.tcp_syn, TimerKind::Expire));
                timers
            },
            inactivity: t.udp_inactivity,
            removed: false,
            fins: FinOrder::default(),
            simultaneous_close: false,
            first_rst: None,
            extra: None,
            health: Health::default(),
            last_marks: Marks::default(),
        }
    }

    /// The connection's uid, from its first packet's time and endpoints (made when asked
    /// for, not kept: an open connection holds no string for it).
    pub fn uid(&self) -> String {
        let [a, b] = &self.sides;
        make_uid("tcp", self.first_ns, a.addr, a.port, b.addr, b.port)
    }

    /// The anomalies and tunnel parents, made on first use.
    pub fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    pub fn resp(&self) -> usize {
        1 - self.orig
    }

    pub fn orig_side(&self) -> &Side {
        &self.sides[self.orig]
    }

    pub fn resp_side(&self) -> &Side {
        &self.sides[1 - self.orig]
    }

    /// Feed one segment; returns true when it came from the originator (as the roles stand
    /// once the segment is processed).
    pub fn feed(&mut self, p: &Packet<'_>) -> bool {
        let o = &self.sides[self.orig];
        let from_orig = p.src == o.addr && p.sport == o.port;
        let e = if from_orig { self.orig } else { 1 - self.orig };
        self.last_ns = p.ts_ns;
        self.last_frame = p.frame;
        if let Some(frames) = self.frames.as_mut() {
            frames.push(u32::try_from(p.frame).unwrap_or(u32::MAX));
        }
        self.sides[e].packets += 1;
        if p.checksum_bad && self.check_checksums {
            // Zeek drops the packet after noting it: it changes nothing else, not even
            // the roles.
            if self.sides[e].z.chk.hit() {
                let is_orig = self.sides[e].z.is_orig;
                self.history.add(b'C', is_orig);
            }
            return e == self.orig;
        }
        let fl = p.flags;
        if self.sides[self.orig].z.state == crate::tcp::endpoint::ZeekState::SynAckSent
            && self.sides[1 - self.orig].z.state == crate::tcp::endpoint::ZeekState::Inactive
            && fl & (SYN | FIN | RST) == 0
            && (fl & ACK != 0 || p.payload_len > 0)
        {
            // Zeek PR #2191: a connection that began with a SYN-ACK is flipped once an ACK
            // or data follows; the SYN-ACK's sender is the responder.
            self.flip();
            let r = 1 - self.orig;
            self.sides[r]
                .z
                .set_state(crate::tcp::endpoint::ZeekState::Established);
            self.client_inferred = true;
        }
        self.last_marks = self.health.segment(e, &health_facts(p));
        self.process(e, p);
        self.rfc_view(e, p);
        self.facts(e, p);
        e == self.orig
    }

    pub(crate) fn flip(&mut self) {
        self.orig = 1 - self.orig;
        let o = self.orig;
        self.sides[o].z.is_orig = true;
        self.sides[1 - o].z.is_orig = false;
        std::mem::swap(&mut self.first_seen_orig, &mut self.first_seen_resp);
        self.history.flip();
        self.is_partial = false;
    }

    // ------------------------------------------------------------------ RFC view
    fn rfc_view(&mut self, e: usize, p: &Packet<'_>) {
        let peer = 1 - e;
        let fl = p.flags;
        let (syn, fin, rst, ack) = (fl & SYN != 0, fl & FIN != 0, fl & RST != 0, fl & ACK != 0);
        let peer_fin = self.sides[peer].fin_next;
        if fl & (SYN | FIN | RST) == 0
            && (!ack || (self.sides[peer].rfc != TcpState::SynReceived && peer_fin.is_none()))
        {
            return; // a data or ACK segment that moves neither side (the common case)
        }
        let acks_peer_fin = ack && peer_fin.is_some_and(|f| seq_delta(p.ack, f) >= 0);
        let mut sent: Vec<Event> = Vec::with_capacity(3);
        if syn {
            sent.push(if ack {
                Event::SendSynAck
            } else {
                Event::SendSyn
            });
        }
        if fin {
            let crossed =
                self.sides[e].rfc == TcpState::CloseWait && peer_fin.is_some() && !acks_peer_fin;
            sent.push(if crossed {
                Event::SendFinCrossed
            } else {
                Event::SendFin
            });
        }
        if rst {
            sent.push(Event::SendRst);
        }
        let mut got: Vec<Event> = Vec::with_capacity(4);
        if syn {
            got.push(if ack {
                Event::RecvSynAck
            } else {
                Event::RecvSyn
            });
        } else if ack && !rst {
            got.push(Event::RecvAckOfSyn);
        }
        if acks_peer_fin {
            got.push(Event::RecvAckOfFin);
        }
        if fin {
            got.push(Event::RecvFin);
        }
        if rst {
            got.push(Event::RecvRst);
        }
        for ev in sent {
            self.rfc_step(e, ev, p.frame);
        }
        for ev in got {
            if ev == Event::RecvAckOfSyn && self.sides[peer].rfc != TcpState::SynReceived {
                continue;
            }
            self.rfc_step(peer, ev, p.frame);
        }
    }

    fn rfc_step(&mut self, side: usize, ev: Event, frame: u64) {
        let old = self.sides[side].rfc;
        let new = step(old, ev);
        if new == old
            && matches!(ev, Event::SendSyn | Event::RecvSyn)
            && matches!(old, TcpState::Established | TcpState::TimeWait)
        {
            self.extra().anomalies.push(format!(
                "frame {frame}: {} in {}",
                ev.as_str(),
                old.as_str()
            ));
        }
        self.sides[side].rfc = new;
    }

    // ------------------------------------------------------------------ record facts
    fn facts(&mut self, e: usize, p: &Packet<'_>) {
        let peer = 1 - e;
        let fl = p.flags;
        let length = p.payload_len;
        let (syn, fin, rst, ack) = (fl & SYN != 0, fl & FIN != 0, fl & RST != 0, fl & ACK != 0);
        if syn && !ack {
            let s = &mut self.sides[e];
            match s.syn_isn {
                None => {
                    s.syn_isn = Some(p.seq);
                    s.syn_ns = p.ts_ns;
                }
                Some(isn) if isn == p.seq => s.syn_count += 1,
                Some(_) => {}
            }
        }
        if syn && ack && self.sides[e].synack_seq.is_none() {
            let s = &mut self.sides[e];
            s.synack_seq = Some(p.seq);
            s.synack_ack = p.ack;
            s.synack_ns = p.ts_ns;
            s.synack_frame = p.frame;
            if let Some(isn) = self.sides[peer].syn_isn {
                let expected = isn.wrapping_add(1);
                if p.ack != expected {
                    self.extra().anomalies.push(format!(
                        "frame {}: SYN-ACK acknowledges {}, expected ISN+1 = {}",
                        p.frame, p.ack, expected
                    ));
                }
            }
        }
        if ack && !syn && !rst && self.sides[e].final_ack.is_none() {
            if let Some(synack_seq) = self.sides[peer].synack_seq {
                self.sides[e].final_ack = Some((p.ack, p.ts_ns, p.frame));
                let expected = synack_seq.wrapping_add(1);
                if p.ack != expected {
                    self.extra().anomalies.push(format!(
                        "frame {}: handshake ACK acknowledges {}, expected ISN+1 = {}",
                        p.frame, p.ack, expected
                    ));
                }
            }
        }
        if rst {
            if self.sides[e].synack_seq.is_none() && self.sides[peer].syn_isn.is_some() {
                self.sides[e].rst_before_synack = true;
            }
            if self.first_rst.is_none() {
                self.first_rst = Some(u8::from(e == 1));
            }
        }
        if length > 0 && !rst {
            let s = &mut self.sides[e];
            let start = p.seq.wrapping_add(u32::from(syn));
            s.data.add(start, length);
        }
        if fin && self.sides[e].fin_next.is_none() {
            let next = p
                .seq
                .wrapping_add(length)
                .wrapping_add(u32::from(syn))
                .wrapping_add(1);
            self.sides[e].fin_next = Some(next);
            self.sides[e].fin_frame = Some(p.frame);
            if let Some(first) = self.fins.first() {
                if first != e {
                    let first_next = self.sides[first].fin_next.unwrap_or(0);
                    self.simultaneous_close = !(ack && seq_delta(p.ack, first_next) >= 0);
                }
            }
            self.fins.push(e);
        }
    }
}
