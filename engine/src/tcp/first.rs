//! A TCP connection that has sent one segment, kept as that segment's header facts until
//! a second one comes (or its record is made): a scan, or a SYN flood, leaves millions of
//! connections that never get further, and one header costs a fraction of a
//! [`TcpConnection`].
//!
//! Nothing is lost: a connection is a function of its segments, so
//! [`FirstSegment::to_connection`] rebuilds the very connection the segment made (the
//! same constructor, the same `feed`). What the table asks of an open connection between
//! two segments is whether Zeek's timers removed it (`expired`): that is worked out once,
//! when the segment is kept ([`FirstSegment::keep`]), as the time its timers remove it.
//! The timers a check fired change nothing in the record, but they may differ once more
//! segments come, so the newest time asked about is kept and replayed on rebuilding.

use std::net::IpAddr;
use std::sync::Arc;

use crate::decode::tcp_options::TcpOptions;
use crate::decode::{Packet, Transport};
use crate::flow::{make_uid, Flow, Timeouts};
use crate::tcp::TcpConnection;

/// Timer steps worked out ahead at most (Zeek's defaults need two: the SYN and attempt
/// timers, or an expire timer every `tcp_session_timer` until the inactivity timeout); a
/// connection whose timers need more stays a [`TcpConnection`].
const MAX_TIMER_STEPS: usize = 64;

/// One TCP segment's header, as the connection it started needs it.
#[derive(Clone, Debug)]
pub struct FirstSegment {
    t: Arc<Timeouts>,
    frame: u64,
    ts_ns: i64,
    /// The newest time the table asked whether the connection was over (`i64::MIN`: not
    /// asked yet).
    checked_to: i64,
    /// From this time on, Zeek's timers have removed the connection (if nothing else
    /// comes).
    over_at: i64,
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    ip_len: u32,
    seq: u32,
    ack: u32,
    payload_len: u32,
    window: u16,
    flags: u8,
    ip_version: u8,
    payload_captured: bool,
    checksum_bad: bool,
    check_checksums: bool,
    options: TcpOptions,
    /// The tunnel the segment came in, as `tunnel_parents` starts with it (None: none; a
    /// pointer, so that the header fits mimalloc's 160-byte class).
    #[allow(clippy::box_collection)]
    tunnel_parents: Option<Box<Vec<String>>>,
}

impl FirstSegment {
    /// Keep `c`, a connection just made by packet `p` (its only segment), as `p`'s header
    /// (`c`'s timers are run ahead to learn when they remove it). None when `c` cannot be
    /// rebuilt from the header alone (frames kept, anomalies noted), or its timers would
    /// take too many steps to work out; `c` is then the connection the segment made.
    pub fn keep(p: &Packet<'_>, c: &mut TcpConnection) -> Option<Self> {
        if p.proto != Transport::Tcp
            || c.frames.is_some()
            || c.extra.as_ref().is_some_and(|x| !x.anomalies.is_empty())
        {
            return None;
        }
        let tunnel_parents = c
            .extra
            .as_ref()
            .filter(|x| !x.tunnel_parents.is_empty())
            .map(|x| Box::new(x.tunnel_parents.clone()));
        let mut f = FirstSegment {
            t: Arc::clone(&c.t),
            frame: p.frame,
            ts_ns: p.ts_ns,
            checked_to: i64::MIN,
            over_at: i64::MAX,
            src: p.src,
            dst: p.dst,
            sport: p.sport,
            dport: p.dport,
            ip_len: p.ip_len,
            seq: p.seq,
            ack: p.ack,
            payload_len: p.payload_len,
            window: p.window,
            flags: p.flags,
            ip_version: p.ip_version,
            payload_captured: p.payload_captured,
            checksum_bad: p.checksum_bad,
            check_checksums: c.check_checksums,
            options: p.options,
            tunnel_parents,
        };
        match removal_time(c) {
            Some(t) => {
                f.over_at = t;
                Some(f)
            }
            None => {
                *c = f.to_connection();
                None
            }
        }
    }

    /// When the connection started, and in which frame.
    pub fn first(&self) -> (i64, u64) {
        (self.ts_ns, self.frame)
    }

    /// The uid the rebuilt connection has.
    pub fn uid(&self) -> String {
        make_uid(
            "tcp", self.ts_ns, self.src, self.sport, self.dst, self.dport,
        )
    }

    /// The segment again, as the decoder gave it (the payload's bytes are not needed: a
    /// connection whose application layer started is never kept as its first segment).
    fn packet(&self) -> Packet<'static> {
        Packet {
            frame: self.frame,
            ts_ns: self.ts_ns,
            proto: Transport::Tcp,
            ip_version: self.ip_version,
            src: self.src,
            sport: self.sport,
            dst: self.dst,
            dport: self.dport,
            ip_len: self.ip_len,
            flags: self.flags,
            seq: self.seq,
            ack: self.ack,
            payload_len: self.payload_len,
            window: self.window,
            options: self.options,
            payload_captured: self.payload_captured,
            checksum_bad: self.checksum_bad,
            icmp_one_way: false,
            foreign: false,
            tunnels: Vec::new(),
            payload: std::borrow::Cow::Borrowed(&[]),
        }
    }

    /// The connection as it is now: made by the segment, with the timers the table's
    /// checks fired.
    pub fn to_connection(&self) -> TcpConnection {
        let p = self.packet();
        let mut c = TcpConnection::new(&p, &self.t, self.check_checksums, false);
        if let Some(parents) = &self.tunnel_parents {
            c.extra().tunnel_parents = parents.to_vec();
        }
        c.feed(&p);
        if self.checked_to != i64::MIN {
            c.expired(self.checked_to);
        }
        c
    }
}

impl Flow for FirstSegment {
    fn expired(&mut self, now_ns: i64) -> bool {
        if now_ns >= self.over_at {
            return true;
        }
        self.checked_to = self.checked_to.max(now_ns);
        false
    }

    /// Asked of the rebuilt connection (the table rebuilds it before looking at a packet
    /// of its own); answered the same way here.
    fn is_reuse(&self, p: &Packet<'_>) -> bool {
        self.to_connection().is_reuse(p)
    }
}

/// The earliest time from which `c`'s timers have removed it, if no packet comes: the
/// inactivity timeout, or the first timer that removes it (every timer before it fired
/// in turn, as checks at any later times would fire them).
fn removal_time(c: &mut TcpConnection) -> Option<i64> {
    let idle_at = c.zeek_last_ns + c.inactivity;
    for _ in 0..MAX_TIMER_STEPS {
        let next = match c.timers.iter().map(|&(fire, _)| fire).min() {
            Some(t) if t < idle_at => t,
            _ => return Some(idle_at),
        };
        if c.expired(next) {
            return Some(next);
        }
    }
    None
}
