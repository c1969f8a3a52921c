//! Zeek's TCP analysis, step for step: `TCPSessionAdapter::Process` and the functions it
//! calls, named after Zeek's own (`TCPSessionAdapter.cc`, `TCP_Endpoint.cc`,
//! `TCP_Reassembler.cc`), plus Zeek's connection timers and `IsReuse`.
//!
//! Each function works on one [`TcpConnection`] and the index of the side that sent the
//! segment (`e`; the other side is `1 - e`).

use crate::decode::flags::{ACK, FIN, RST, SYN};
use crate::decode::Packet;
use crate::flow::history::Kind;
use crate::flow::{Flow, TimerKind};
use crate::tcp::connection::TcpConnection;
use crate::tcp::endpoint::{seq_delta, ZeekState as Z, TOO_LARGE_SEQ_DELTA};

/// The flags of one segment, unpacked once.
#[derive(Clone, Copy)]
struct Seg {
    syn: bool,
    fin: bool,
    rst: bool,
    ack: bool,
}

impl Seg {
    fn of(fl: u8) -> Self {
        Seg {
            syn: fl & SYN != 0,
            fin: fl & FIN != 0,
            rst: fl & RST != 0,
            ack: fl & ACK != 0,
        }
    }
}

impl TcpConnection {
    /// `TCPSessionAdapter::Process`.
    pub(crate) fn process(&mut self, e: usize, p: &Packet<'_>) {
        let s = Seg::of(p.flags);
        let peer = 1 - e;
        let length = i64::from(p.payload_len);
        let is_orig = self.sides[e].z.is_orig;
        self.set_partial_status(is_orig, s);
        let seg_len = length + i64::from(s.syn) + i64::from(s.fin) - if s.rst { length } else { 0 };
        let base = p.seq;
        let one_past = base.wrapping_add(seg_len as u32);
        self.init_endpoint(e, s, base, one_past);
        let rel_seq = seq_delta(base, self.sides[e].z.start_seq);
        let underflow = rel_seq < 0;
        self.update_history(e, p.flags, rel_seq, length);
        self.update_window(e, p.window, s);
        if !(self.sides[0].z.did_close && self.sides[1].z.did_close) {
            self.zeek_last_ns = p.ts_ns;
        }
        {
            let z = &mut self.sides[e].z;
            if s.fin {
                z.fin_cnt += 1;
                z.fin_seq = rel_seq + seg_len;
            }
            if s.rst {
                z.rst_cnt += 1;
            }
        }
        let rel_ack = if s.ack {
            self.update_ack_seq(peer, p.ack, s)
        } else {
            0
        };
        self.update_last_seq(e, s, one_past, length);
        let do_close =
            if p.flags & (SYN | FIN | RST) != 0 || self.sides[e].z.state != Z::Established {
                self.update_state_machine(e, p, s, is_orig)
            } else {
                false // UpdateStateMachine changes nothing here
            };
        if s.ack {
            self.ack_received(peer, rel_ack, p.flags);
        }
        if length > 0 && p.payload_captured && !s.rst && !underflow {
            let start = if s.syn { rel_seq + 1 } else { rel_seq };
            self.sides[e].z.reasm.data(start, start + length);
        }
        if is_orig {
            self.first_seen_orig = true;
        } else {
            self.first_seen_resp = true;
        }
        if do_close {
            self.connection_closed(e);
        }
        let z = &mut self.sides[e].z;
        z.pkts += 1;
        z.ip_bytes += u64::from(p.ip_len);
    }

    /// `TCPSessionAdapter::SetPartialStatus`.
    fn set_partial_status(&mut self, is_orig: bool, s: Seg) {
        if is_orig {
            if !self.first_seen_orig {
                self.is_partial = !s.syn || s.ack;
            }
        } else if !self.first_seen_resp && !self.is_partial {
            self.is_partial = !s.syn;
        }
    }

    /// `init_endpoint`: the first sequence numbers of a side, or new ones after a new SYN.
    fn init_endpoint(&mut self, e: usize, s: Seg, base: u32, one_past: u32) {
        let z = &mut self.sides[e].z;
        match z.state {
            Z::Inactive => {
                if s.syn {
                    z.init_seqs(base, one_past);
                } else {
                    z.init_seqs(base.wrapping_sub(1), base);
                }
            }
            Z::SynSent | Z::SynAckSent if s.syn && base != z.start_seq => {
                z.init_seqs(base, one_past);
            }
            Z::Established | Z::Partial if s.syn => z.init_seqs(base, one_past),
            Z::Reset if s.syn && z.prev_state == Z::Inactive => z.init_seqs(base, one_past),
            _ => {}
        }
    }

    /// `TCPSessionAdapter::UpdateHistory` (with `CheckHistory`'s once-per-direction rule).
    fn update_history(&mut self, e: usize, fl: u8, rel_seq: i64, length: i64) {
        let s = Seg::of(fl);
        let z = &mut self.sides[e].z;
        let h = &mut self.history;
        let is_orig = z.is_orig;
        let bits = u8::from(s.syn) + u8::from(s.fin) + u8::from(s.rst);
        if bits > 1 {
            if s.fin && s.rst {
                h.check(Kind::FinRst, b'I', is_orig);
            } else {
                h.check(Kind::SynMulti, b'Q', is_orig);
            }
        } else if bits == 1 {
            if s.syn {
                let code = if s.ack { b'H' } else { b'S' };
                if h.check(Kind::Syn, code, is_orig) && rel_seq != z.hist_last_syn {
                    h.add(code, is_orig);
                }
                z.hist_last_syn = rel_seq;
            }
            if s.fin {
                if h.check(Kind::Fin, b'F', is_orig) && rel_seq + length != z.hist_last_fin {
                    h.add(b'F', is_orig);
                }
                z.hist_last_fin = rel_seq + length;
            }
            if s.rst {
                if h.check(Kind::Rst, b'R', is_orig) && rel_seq != z.hist_last_rst {
                    h.add(b'R', is_orig);
                }
                z.hist_last_rst = rel_seq;
            }
        } else if length > 0 {
            h.check(Kind::Data, b'D', is_orig);
        } else if s.ack {
            h.check(Kind::Ack, b'A', is_orig);
        }
    }

    /// `update_window`: a zero window that matters gives `W` (scaled).
    fn update_window(&mut self, e: usize, window: u16, s: Seg) {
        let peer_closed = self.sides[1 - e].z.state == Z::Closed;
        let z = &mut self.sides[e].z;
        if window == 0 && !s.rst && !peer_closed && z.state != Z::Reset && z.win0.hit() {
            let is_orig = z.is_orig;
            self.history.add(b'W', is_orig);
        }
    }

    /// The ACK half of `init_endpoint`/`update_ack_seq`: returns the relative ack.
    fn update_ack_seq(&mut self, peer: usize, ack: u32, s: Seg) -> i64 {
        let pz = &mut self.sides[peer].z;
        if pz.state == Z::Inactive {
            pz.init_seqs(ack.wrapping_sub(1), ack.wrapping_sub(1));
            return 1;
        }
        let rel_ack = seq_delta(ack, pz.start_seq);
        if rel_ack < 0 {
            return 0;
        }
        if !s.rst {
            let delta_ack = seq_delta(ack, pz.ack_seq);
            if delta_ack > 0 && !(ack == 0 && delta_ack > TOO_LARGE_SEQ_DELTA) {
                pz.ack_seq = ack;
            }
        }
        rel_ack
    }

    /// `update_last_seq`, and `T` for payload that resends old sequence space.
    fn update_last_seq(&mut self, e: usize, s: Seg, one_past: u32, length: i64) {
        let z = &mut self.sides[e].z;
        let delta_last = seq_delta(one_past, z.last_seq);
        if (s.syn || s.rst) && delta_last.abs() > TOO_LARGE_SEQ_DELTA {
            // an implausible jump: not believed
        } else if s.fin && z.last_seq == z.start_seq.wrapping_add(1) {
            z.last_seq = one_past;
        } else if z.state == Z::Reset {
            // nothing moves after a reset
        } else if delta_last > 0 {
            z.last_seq = one_past;
        } else if length > 0 && z.rxmt.hit() {
            let is_orig = z.is_orig;
            self.history.add(b'T', is_orig);
        }
    }

    /// `TCPSessionAdapter::SetState` through the connection: leaving the handshake
    /// switches to the established inactivity timeout.
    fn set_state(&mut self, side: usize, new: Z) {
        let (z, peer) = (self.sides[side].z.state, self.sides[1 - side].z.state);
        if new != z && !new.in_handshake() && z.in_handshake() && peer.in_handshake() {
            self.inactivity = self.t.tcp_inactivity;
        }
        self.sides[side].z.set_state(new);
    }

    /// `TCPSessionAdapter::UpdateStateMachine`: one function per endpoint state; returns
    /// whether the side closed (`do_close`).
    fn update_state_machine(&mut self, e: usize, p: &Packet<'_>, s: Seg, is_orig: bool) -> bool {
        match self.sides[e].z.state {
            Z::Inactive => self.update_inactive_state(e, p, s, is_orig),
            Z::SynSent | Z::SynAckSent => self.update_syn_sent_state(e, s),
            Z::Established | Z::Partial => self.update_established_state(e, s),
            Z::Closed => self.update_closed_state(e, p, s),
            Z::Reset => false,
        }
    }

    /// `UpdateInactiveState`.
    fn update_inactive_state(&mut self, e: usize, p: &Packet<'_>, s: Seg, is_orig: bool) -> bool {
        let peer = 1 - e;
        let mut do_close = false;
        if s.syn {
            if is_orig {
                self.set_state(e, if s.ack { Z::SynAckSent } else { Z::SynSent });
                self.timers
                    .push((p.ts_ns + self.t.tcp_attempt_delay, TimerKind::Attempt));
            } else {
                if !s.ack
                    && self.sides[peer].z.state == Z::SynAckSent
                    && p.seq == self.sides[e].z.start_seq
                {
                    // A SYN/SYN-ACK reversal: flip and establish.
                    self.flip();
                    self.set_state(peer, Z::Established);
                }
                if self.sides[peer].z.state == Z::SynSent {
                    self.set_state(peer, Z::Established);
                }
                self.set_state(e, Z::Established);
            }
        }
        if s.fin {
            self.set_state(e, Z::Closed);
            do_close = true;
        }
        if s.rst {
            self.set_state(e, Z::Reset);
            do_close = true;
        }
        if self.sides[e].z.state == Z::Inactive {
            let orig_state = self.sides[self.orig].z.state;
            if !self.sides[e].z.is_orig && p.payload_len == 0 && orig_state == Z::SynSent {
                // an ACK of the SYN before the SYN-ACK: not a partial connection
            } else if s.ack && self.sides[peer].z.state == Z::Established {
                self.set_state(e, Z::Established);
                self.is_partial = false;
            } else {
                self.set_state(e, Z::Partial);
            }
        }
        do_close
    }

    /// `UpdateSYN_SentState`.
    fn update_syn_sent_state(&mut self, e: usize, s: Seg) -> bool {
        let mut do_close = false;
        if s.fin {
            self.set_state(e, Z::Closed);
            do_close = true;
        }
        if s.rst {
            self.set_state(e, Z::Reset);
            do_close = true;
        }
        do_close
    }

    /// `UpdateEstablishedState` (also for PARTIAL).
    fn update_established_state(&mut self, e: usize, s: Seg) -> bool {
        let peer = 1 - e;
        let mut do_close = false;
        if s.syn
            && self.sides[e].z.state == Z::Partial
            && self.sides[peer].z.state == Z::Inactive
            && !s.ack
        {
            self.set_state(e, Z::SynSent);
        }
        if s.fin && !s.rst {
            self.set_state(e, Z::Closed);
            let pz = &mut self.sides[peer].z;
            if pz.state == Z::Reset && pz.prev_state == Z::Closed {
                pz.set_state(Z::Closed);
            }
            do_close = true;
        }
        if s.rst {
            self.set_state(e, Z::Reset);
            do_close = true;
        }
        do_close
    }

    /// `UpdateClosedState`.
    fn update_closed_state(&mut self, e: usize, p: &Packet<'_>, s: Seg) -> bool {
        let mut do_close = false;
        if s.rst && self.sides[1 - e].z.state != Z::Closed {
            self.set_state(e, Z::Reset);
            if !self.sides[e].z.did_close {
                do_close = true;
            }
            self.timers
                .push((p.ts_ns + self.t.tcp_reset_delay, TimerKind::Reset));
        }
        do_close
    }

    /// `TCP_Reassembler::AckReceived`: an ACK above what was captured is a content gap.
    fn ack_received(&mut self, sender: usize, rel_ack: i64, acking_flags: u8) {
        let is_partial = self.is_partial;
        let z = &mut self.sides[sender].z;
        let mut up_to = rel_ack;
        if z.fin_cnt > 0 && up_to >= z.fin_seq {
            up_to = z.fin_seq - 1; // not the FIN's own sequence octet
        }
        if up_to <= 2 && is_partial {
            return;
        }
        let missing = z.reasm.ack(up_to);
        if missing > 0 {
            z.missed += missing;
            // Gaps revealed by a FIN or RST at the very end are not reliable; Zeek does not
            // flag them in the history.
            if acking_flags & (FIN | RST) == 0 && z.gap.hit() {
                let is_orig = z.is_orig;
                self.history.add(b'G', is_orig);
            }
        }
    }

    /// `TCPSessionAdapter::ConnectionClosed`: schedule the removal.
    fn connection_closed(&mut self, e: usize) {
        let (z, pz) = (&self.sides[e].z, &self.sides[1 - e].z);
        if z.did_close {
            return;
        }
        let delete = z.state == Z::Reset || pz.did_close || pz.state == Z::Inactive;
        let expire = z.prev_state != Z::Inactive;
        self.sides[e].z.did_close = true;
        if delete {
            self.timers = vec![(
                self.zeek_last_ns + self.t.tcp_close_delay,
                TimerKind::Delete,
            )];
        } else if expire {
            self.timers.push((
                self.zeek_last_ns + self.t.tcp_session_timer,
                TimerKind::Expire,
            ));
        }
    }

    /// One of Zeek's timers fired at `t`; true when it removes the connection.
    fn fire_timer(&mut self, t: i64, kind: TimerKind) -> bool {
        let (o, r) = (&self.sides[self.orig].z, &self.sides[1 - self.orig].z);
        match kind {
            // AttemptTimer
            TimerKind::Attempt => {
                matches!(o.state, Z::SynSent | Z::SynAckSent) && r.state == Z::Inactive
            }
            TimerKind::Delete | TimerKind::Reset => true,
            // ExpireTimer
            TimerKind::Expire => {
                if self.zeek_last_ns + self.t.tcp_connection_linger < t {
                    if (o.did_close || r.did_close)
                        && ((o.did_close && r.did_close)
                            || o.state == Z::Reset
                            || r.state == Z::Reset
                            || o.state == Z::Inactive
                            || r.state == Z::Inactive)
                    {
                        return true;
                    }
                    if r.state == Z::Inactive && o.state == Z::Inactive {
                        return true;
                    }
                }
                self.timers
                    .push((t + self.t.tcp_session_timer, TimerKind::Expire));
                false
            }
        }
    }
}

impl Flow for TcpConnection {
    fn expired(&mut self, now_ns: i64) -> bool {
        if self.removed {
            return true;
        }
        if now_ns >= self.zeek_last_ns + self.inactivity {
            self.removed = true;
            return true;
        }
        // Most packets find no timer due: look before sorting.
        if self.timers.iter().all(|&(fire, _)| fire > now_ns) {
            return false;
        }
        while !self.timers.is_empty() {
            self.timers.sort_unstable();
            let (fire, kind) = self.timers[0];
            if fire > now_ns {
                break;
            }
            self.timers.remove(0);
            if self.fire_timer(fire, kind) {
                self.removed = true;
                return true;
            }
        }
        false
    }

    /// Zeek `IsReuse`: a new SYN on this 4-tuple starts a new connection.
    fn is_reuse(&self, p: &Packet<'_>) -> bool {
        if p.flags & SYN == 0 {
            return false;
        }
        let (o, r) = (&self.sides[self.orig].z, &self.sides[1 - self.orig].z);
        let mut conn_orig = o;
        if p.flags & ACK != 0 {
            if o.state != Z::Inactive {
                return false;
            }
            conn_orig = r;
        }
        if !(o.did_close || r.did_close) {
            if p.seq == conn_orig.start_seq {
                return false;
            }
            if p.flags & ACK == 0
                && conn_orig.state == Z::SynAckSent
                && r.state == Z::Inactive
                && p.seq == r.start_seq
            {
                return false;
            }
        }
        true
    }
}
