//! Demultiplexing packets into connections: flow keys, uids, Zeek's timer constants and the
//! connection table, plus the two connection-less "flows" (UDP and ICMP).
//!
//! The table is generic over the connection type ([`Flow`]), so that this module knows
//! nothing of TCP: `tcp` implements [`Flow`] for its connections.

pub mod counters;
pub mod history;
pub mod icmp;
pub mod udp;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

use blake2::digest::{Update, VariableOutput};
use blake2::Blake2bVar;

use crate::decode::{Packet, Transport};

/// Nanoseconds in a second.
pub const NS: i64 = 1_000_000_000;

/// Zeek's timer constants (`init-bare.zeek`), in nanoseconds.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// `tcp_SYN_timeout`: first check of a new connection.
    pub tcp_syn: i64,
    /// `tcp_attempt_delay`: an unanswered SYN is given up after this.
    pub tcp_attempt_delay: i64,
    /// `tcp_close_delay`: a closed connection is removed after this.
    pub tcp_close_delay: i64,
    /// `tcp_reset_delay`: a RST after a FIN removes the connection after this.
    pub tcp_reset_delay: i64,
    /// `tcp_session_timer`: how often a half-closed connection is re-checked.
    pub tcp_session_timer: i64,
    /// `tcp_connection_linger`: idle time after a close before it is removed.
    pub tcp_connection_linger: i64,
    /// `tcp_inactivity_timeout`: idle timeout of an established TCP connection.
    pub tcp_inactivity: i64,
    /// `udp_inactivity_timeout`: idle timeout of UDP, and of TCP before the handshake.
    pub udp_inactivity: i64,
    /// `icmp_inactivity_timeout`.
    pub icmp_inactivity: i64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            tcp_syn: 5 * NS,
            tcp_attempt_delay: 5 * NS,
            tcp_close_delay: 5 * NS,
            tcp_reset_delay: 5 * NS,
            tcp_session_timer: 6 * NS,
            tcp_connection_linger: 5 * NS,
            tcp_inactivity: 300 * NS,
            udp_inactivity: 60 * NS,
            icmp_inactivity: 60 * NS,
        }
    }
}

/// A pending Zeek timer. The order of the kinds breaks ties between timers due at the
/// same time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimerKind {
    /// `AttemptTimer`: give up an unanswered SYN.
    Attempt,
    /// `DeleteTimer`: remove a closed connection.
    Delete,
    /// `ExpireTimer`: check whether the connection is over.
    Expire,
    /// `ResetTimer`: remove a connection reset after a close.
    Reset,
}

/// The address/port pair of one endpoint.
pub type Endpoint = (IpAddr, u16);

/// A connection's identity: the protocol and both endpoints, smaller endpoint first, so
/// that both directions map to one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub proto: Transport,
    pub a: Endpoint,
    pub b: Endpoint,
}

impl FlowKey {
    pub fn new(proto: Transport, x: Endpoint, y: Endpoint) -> Self {
        if y < x {
            FlowKey { proto, a: y, b: x }
        } else {
            FlowKey { proto, a: x, b: y }
        }
    }

    pub fn of(p: &Packet<'_>) -> Self {
        FlowKey::new(p.proto, (p.src, p.sport), (p.dst, p.dport))
    }
}

const B62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A stable Zeek-style uid: "C" + 17 base62 digits of a BLAKE2b-104 hash of the 5-tuple and
/// the start time (the first packet's source first).
pub fn make_uid(proto: &str, ts_ns: i64, a: IpAddr, pa: u16, b: IpAddr, pb: u16) -> String {
    let text = format!("{proto}|{ts_ns}|{a}|{pa}|{b}|{pb}");
    let mut digest = [0u8; 13];
    let mut h = Blake2bVar::new(13).expect("13 is a valid BLAKE2b output size");
    h.update(text.as_bytes());
    h.finalize_variable(&mut digest)
        .expect("buffer has the output size");
    let mut n = digest
        .iter()
        .fold(0u128, |acc, &x| (acc << 8) | u128::from(x));
    let mut out = String::with_capacity(18);
    out.push('C');
    for _ in 0..17 {
        out.push(B62[(n % 62) as usize] as char);
        n /= 62;
    }
    out
}

/// What the table needs of a connection.
pub trait Flow {
    /// Run Zeek's timers up to `now_ns`; true once Zeek would have removed the connection.
    fn expired(&mut self, now_ns: i64) -> bool;
    /// Zeek `IsReuse`: does this packet start a new connection on the same key?
    fn is_reuse(&self, p: &Packet<'_>) -> bool;
    /// A packet of this connection is about to be looked at (a connection kept compactly
    /// unpacks itself here).
    fn prepare(&mut self) {}
}

impl<T: Flow + ?Sized> Flow for Box<T> {
    fn expired(&mut self, now_ns: i64) -> bool {
        (**self).expired(now_ns)
    }
    fn is_reuse(&self, p: &Packet<'_>) -> bool {
        (**self).is_reuse(p)
    }
    fn prepare(&mut self) {
        (**self).prepare();
    }
}

/// FxHash-style hasher: flow keys are not attacker-chosen hash-flooding targets worth a
/// SipHash per packet (the table is bounded by [`MAX_OPEN_CONNECTIONS`] anyway).
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(buf));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }
    fn write_u16(&mut self, v: u16) {
        self.write_u64(u64::from(v));
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// Packets between two sweeps of the whole table for expired connections.
pub const SWEEP_EVERY: u64 = 50_000;

/// The connection table: connections by key, with the network time of the newest packet.
pub struct FlowTable<C> {
    pub table: FastMap<FlowKey, C>,
    pub now_ns: i64,
    since_sweep: u64,
    /// Packets between two sweeps ([`SWEEP_EVERY`] unless set).
    pub sweep_every: u64,
}

impl<C: Flow> Default for FlowTable<C> {
    fn default() -> Self {
        FlowTable {
            table: FastMap::default(),
            now_ns: 0,
            since_sweep: 0,
            sweep_every: SWEEP_EVERY,
        }
    }
}

impl<C: Flow> FlowTable<C> {
    /// Look up the packet's connection: a connection that is over, or that the packet
    /// reuses, is pushed to `done` and removed first. Returns the key.
    pub fn lookup(&mut self, p: &Packet<'_>, done: &mut Vec<C>) -> FlowKey {
        if p.ts_ns > self.now_ns {
            self.now_ns = p.ts_ns;
        }
        let key = FlowKey::of(p);
        let over = match self.table.get_mut(&key) {
            Some(c) => {
                c.prepare();
                c.expired(p.ts_ns) || c.is_reuse(p)
            }
            None => false,
        };
        if over {
            if let Some(c) = self.table.remove(&key) {
                done.push(c);
            }
        }
        key
    }

    /// Count a packet; every [`SWEEP_EVERY`] packets, finish the connections whose timers
    /// ran out by the newest packet's time.
    pub fn tick(&mut self, done: &mut Vec<C>) {
        self.since_sweep += 1;
        if self.since_sweep >= self.sweep_every {
            self.sweep(done);
        }
    }

    pub fn sweep(&mut self, done: &mut Vec<C>) {
        self.since_sweep = 0;
        let now = self.now_ns;
        let gone: Vec<FlowKey> = self
            .table
            .iter_mut()
            .filter_map(|(k, c)| c.expired(now).then_some(*k))
            .collect();
        for k in gone {
            if let Some(c) = self.table.remove(&k) {
                done.push(c);
            }
        }
    }

    /// End of capture: every connection still open.
    pub fn drain(&mut self, done: &mut Vec<C>) {
        done.extend(self.table.drain().map(|(_, c)| c));
    }
}

/// Zeek does not make a broadcast or multicast address the originator (zeek#3235).
pub fn broadcast_or_multicast(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => a.is_multicast() || a.is_broadcast(),
        IpAddr::V6(a) => a.is_multicast(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_is_stable_and_zeek_shaped() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let u = make_uid("tcp", 1_700_000_000_001_000_000, a, 40010, b, 8080);
        assert_eq!(u.len(), 18);
        assert!(u.starts_with('C'));
        assert_eq!(u, "CCMijAjnHY5L6Ok3EN"); // the same as the Python loader era golden records
        assert_ne!(
            u,
            make_uid("tcp", 1_700_000_000_001_000_001, a, 40010, b, 8080)
        );
    }

    #[test]
    fn flow_key_is_the_same_both_ways() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            FlowKey::new(Transport::Tcp, (a, 1), (b, 2)),
            FlowKey::new(Transport::Tcp, (b, 2), (a, 1))
        );
    }
}
