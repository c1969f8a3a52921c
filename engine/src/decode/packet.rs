//! The decoded packet: what the flow layer needs to know about one TCP segment, UDP
//! datagram or ICMP message, whatever link layer, encapsulation or fragmentation carried it.

use std::borrow::Cow;
use std::net::IpAddr;

/// The transport protocol of a packet (and of the connection it belongs to).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Tcp,
    Udp,
    Icmp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Icmp => "icmp",
        }
    }
}

/// The kind of tunnel a packet arrived in (Zeek's `Tunnel::Type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TunnelKind {
    IpInIp,
    Gre,
    Vxlan,
    Geneve,
    GtpU,
    Teredo,
    Ayiya,
}

impl TunnelKind {
    /// The kind named by [`TunnelKind::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "IP" => TunnelKind::IpInIp,
            "GRE" => TunnelKind::Gre,
            "VXLAN" => TunnelKind::Vxlan,
            "GENEVE" => TunnelKind::Geneve,
            "GTPv1" => TunnelKind::GtpU,
            "TEREDO" => TunnelKind::Teredo,
            "AYIYA" => TunnelKind::Ayiya,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TunnelKind::IpInIp => "IP",
            TunnelKind::Gre => "GRE",
            TunnelKind::Vxlan => "VXLAN",
            TunnelKind::Geneve => "GENEVE",
            TunnelKind::GtpU => "GTPv1",
            TunnelKind::Teredo => "TEREDO",
            TunnelKind::Ayiya => "AYIYA",
        }
    }
}

/// One level of encapsulation around a packet, outermost first in `Packet::tunnels`.
///
/// For tunnels carried in UDP (VXLAN, Geneve, GTP-U, Teredo, AYIYA, GRE over UDP) the outer
/// UDP datagram is also emitted as a packet of its own, before the inner one; `outer_sport`
/// and `outer_dport` are its ports. For IP-level tunnels (IP-in-IP, GRE) they are 0.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tunnel {
    pub kind: TunnelKind,
    pub outer_src: IpAddr,
    pub outer_dst: IpAddr,
    pub outer_sport: u16,
    pub outer_dport: u16,
}

/// TCP flag bits as on the wire (RFC 9293 §3.1).
pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

/// One TCP segment, UDP datagram or ICMP message.
///
/// For ICMP, `sport`/`dport` already hold Zeek's conn.log "ports": `sport` is the ICMP type,
/// `dport` the counterpart type of a request/reply pair (echo 8 -> 0), or the code of a
/// one-way message; `icmp_one_way` says which.
#[derive(Clone, Debug)]
pub struct Packet<'a> {
    /// 1-based frame number in the capture (of the last fragment for a reassembled datagram).
    pub frame: u64,
    /// Capture time, integer nanoseconds since the epoch.
    pub ts_ns: i64,
    pub proto: Transport,
    pub ip_version: u8,
    pub src: IpAddr,
    pub sport: u16,
    pub dst: IpAddr,
    pub dport: u16,
    /// IP total length (IPv4 total length; IPv6 payload length + 40): Zeek's ip_bytes.
    pub ip_len: u32,
    /// TCP flags (0 for UDP and ICMP).
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    /// TCP segment payload length, UDP payload length, or ICMP payload length (after the
    /// 8-byte ICMP header), taken from the headers, not from what was captured.
    pub payload_len: u32,
    /// The raw (unscaled) TCP window field (0 for UDP/ICMP).
    pub window: u16,
    /// The TCP options the engine reads (default for UDP/ICMP).
    pub options: crate::decode::tcp_options::TcpOptions,
    /// False when the snap length cut the payload short.
    pub payload_captured: bool,
    /// The checksum was verified (only when asked for) and found wrong: the IPv4 header's,
    /// or the TCP/UDP/ICMP one.
    pub checksum_bad: bool,
    /// ICMP only: a message without a reply type (unreachable, time exceeded, ...).
    pub icmp_one_way: bool,
    /// A UDP datagram of another shard's host pair ([`crate::decode::DecodeOptions::shard`]):
    /// its flow is followed, so that a tunnel it carries names it by its uid, but it is
    /// not this shard's to report (nor to count).
    pub foreign: bool,
    /// The encapsulations this packet arrived in, outermost first (empty when none).
    pub tunnels: Vec<Tunnel>,
    /// The captured transport payload (may be shorter than `payload_len`).
    pub payload: Cow<'a, [u8]>,
}
