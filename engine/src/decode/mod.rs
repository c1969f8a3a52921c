//! Decoding frames into packets: link layers, VLAN/QinQ/MPLS/PPPoE, IPv4/IPv6 and extension
//! headers, fragment reassembly, tunnels, TCP/UDP/ICMP and checksums, as Zeek decodes them
//! (`src/packet_analysis/protocol/*` and `src/Frag.cc` are the reference).
//!
//! Sans-IO: `Decoder::decode` takes one `capture::Frame` and appends 0..n `Packet`s. Lengths
//! come from the headers (IPv4 total length, IPv6 payload length), clamped to what was
//! captured, so Ethernet padding never counts as payload. Every length is checked; nothing
//! here panics on any input.

#![forbid(unsafe_code)]

mod checksum;
mod frag;
mod ip;
pub mod packet;
pub mod shard;
pub mod tcp_options;
mod tunnel;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt;

pub use frag::{FRAG_TIMEOUT_NS, MAX_FRAG_DATAGRAM_LEN, MAX_FRAG_IN_FLIGHT};
pub use ip::{icmp4_counterpart, icmp6_counterpart};
pub use packet::*;

use crate::capture::Frame;

/// Zeek's `Tunnel::max_depth` (4): a packet already inside this many tunnels is not
/// decapsulated further.
pub const MAX_TUNNEL_DEPTH: usize = 4;
/// 802.1Q/802.1ad tags we walk through before giving up on a frame.
pub const MAX_VLAN_TAGS: usize = 8;
/// MPLS labels we walk through before giving up on a frame.
pub const MAX_MPLS_LABELS: usize = 16;

/// Link types (LINKTYPE_*) the engine decodes.
pub mod linktype {
    pub const NULL: u32 = 0;
    pub const ETHERNET: u32 = 1;
    /// DLT_RAW as some systems number it in pcap files.
    pub const RAW_12: u32 = 12;
    /// DLT_RAW on OpenBSD.
    pub const RAW_14: u32 = 14;
    pub const RAW: u32 = 101;
    pub const LOOP: u32 = 108;
    pub const LINUX_SLL: u32 = 113;
    pub const IPV4: u32 = 228;
    pub const IPV6: u32 = 229;
    pub const LINUX_SLL2: u32 = 276;
}

/// Whether the link type is one `decode` handles (others are `UnsupportedLinkType`).
pub fn linktype_supported(lt: u32) -> bool {
    use linktype::*;
    matches!(
        lt,
        NULL | ETHERNET | RAW_12 | RAW_14 | RAW | LOOP | LINUX_SLL | IPV4 | IPV6 | LINUX_SLL2
    )
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Verify the IPv4 header, TCP, UDP and ICMP checksums (a bad one sets `checksum_bad`).
    pub check_checksums: bool,
    /// Track only this shard's host pairs: the packets of other pairs are dropped right
    /// after their IP header, except UDP (which may carry a tunnel whose inner
    /// connections are in this shard and name the outer flow: it is decoded and marked
    /// [`Packet::foreign`]) and IP-level tunnels (whose inner packets are looked at in turn).
    pub shard: Option<shard::Shard>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    UnsupportedLinkType(u32),
    UnsupportedEncapsulation { frame: u64, what: String },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::UnsupportedLinkType(lt) => {
                write!(f, "link type {lt} is not decoded by the native engine")
            }
            DecodeError::UnsupportedEncapsulation { frame, what } => {
                write!(
                    f,
                    "frame {frame}: {what} is not decoded by the native engine"
                )
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// What every layer needs to know about the frame being decoded.
#[derive(Clone, Copy)]
pub(crate) struct Meta {
    pub frame: u64,
    pub ts_ns: i64,
    pub check: bool,
    pub shard: Option<shard::Shard>,
}

/// Decodes frames; holds the fragment reassembly state.
pub struct Decoder {
    opts: DecodeOptions,
    frags: frag::Fragments,
}

impl Decoder {
    pub fn new(opts: DecodeOptions) -> Self {
        Decoder {
            opts,
            frags: frag::Fragments::default(),
        }
    }

    /// Datagrams waiting for more fragments.
    pub fn fragments_in_flight(&self) -> usize {
        self.frags.len()
    }

    /// Decode one frame, appending 0..n packets to `out`: for a tunnel carried in UDP, first
    /// the outer UDP datagram (as a normal UDP packet), then the inner packet(s) with
    /// `tunnels` filled (outermost first). Frames that are not IP (ARP, LLDP, STP...) append
    /// nothing. A link type the engine does not decode at all is Err(UnsupportedLinkType).
    pub fn decode<'a>(
        &mut self,
        frame: &Frame<'a>,
        out: &mut Vec<Packet<'a>>,
    ) -> Result<(), DecodeError> {
        let m = Meta {
            frame: frame.number,
            ts_ns: frame.ts_ns,
            check: self.opts.check_checksums,
            shard: self.opts.shard,
        };
        // Bytes on the wire from here on (never less than what was captured).
        let wire = (frame.orig_len as usize).max(frame.data.len());
        self.link(m, frame.linktype, frame.data, wire, &[], out)
    }

    fn link<'x>(
        &mut self,
        m: Meta,
        lt: u32,
        d: &'x [u8],
        wire: usize,
        tun: &[Tunnel],
        out: &mut Vec<Packet<'x>>,
    ) -> Result<(), DecodeError> {
        use linktype::*;
        match lt {
            ETHERNET => self.ethernet(m, d, wire, tun, out),
            NULL | LOOP => {
                let Some(h) = d.get(..4) else { return Ok(()) };
                let le = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
                let be = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
                // AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD),
                // 30 (macOS). The value is in host order (NULL) or network order (LOOP).
                let af = if matches!(le, 2 | 24 | 28 | 30) {
                    le
                } else {
                    be
                };
                match af {
                    2 | 24 | 28 | 30 => self.ip(m, &d[4..], wire.saturating_sub(4), tun, out),
                    _ => Ok(()),
                }
            }
            RAW | RAW_12 | RAW_14 | IPV4 | IPV6 => self.ip(m, d, wire, tun, out),
            LINUX_SLL => {
                let Some(h) = d.get(..16) else { return Ok(()) };
                let proto = u16::from_be_bytes([h[14], h[15]]);
                self.ethertype(m, proto, &d[16..], wire.saturating_sub(16), tun, out)
            }
            LINUX_SLL2 => {
                let Some(h) = d.get(..20) else { return Ok(()) };
                let proto = u16::from_be_bytes([h[0], h[1]]);
                self.ethertype(m, proto, &d[20..], wire.saturating_sub(20), tun, out)
            }
            other => Err(DecodeError::UnsupportedLinkType(other)),
        }
    }

    pub(crate) fn ethernet<'x>(
        &mut self,
        m: Meta,
        d: &'x [u8],
        wire: usize,
        tun: &[Tunnel],
        out: &mut Vec<Packet<'x>>,
    ) -> Result<(), DecodeError> {
        let Some(h) = d.get(..14) else { return Ok(()) };
        let et = u16::from_be_bytes([h[12], h[13]]);
        if et < 0x0600 {
            // An 802.3 length field: LLC (STP, CDP, ...), never IP here.
            return Ok(());
        }
        self.ethertype(m, et, &d[14..], wire.saturating_sub(14), tun, out)
    }

    /// Dispatch on an EtherType through VLAN tags, MPLS labels and PPPoE to IP.
    pub(crate) fn ethertype<'x>(
        &mut self,
        m: Meta,
        mut et: u16,
        mut d: &'x [u8],
        mut wire: usize,
        tun: &[Tunnel],
        out: &mut Vec<Packet<'x>>,
    ) -> Result<(), DecodeError> {
        let mut tags = 0;
        loop {
            match et {
                0x0800 | 0x86dd => return self.ip(m, d, wire, tun, out),
                // 802.1Q, 802.1ad (QinQ), and the pre-standard QinQ tags.
                0x8100 | 0x88a8 | 0x9100 | 0x9200 => {
                    tags += 1;
                    let Some(h) = d.get(..4) else { return Ok(()) };
                    if tags > MAX_VLAN_TAGS {
                        return Ok(());
                    }
                    et = u16::from_be_bytes([h[2], h[3]]);
                    d = &d[4..];
                    wire = wire.saturating_sub(4);
                }
                0x8847 | 0x8848 => {
                    // MPLS: labels until the bottom-of-stack bit, then IP by its version nibble.
                    let mut n = 0;
                    loop {
                        let Some(l) = d.get(..4) else { return Ok(()) };
                        n += 1;
                        if n > MAX_MPLS_LABELS {
                            return Ok(());
                        }
                        let bottom = l[2] & 0x01 != 0;
                        d = &d[4..];
                        wire = wire.saturating_sub(4);
                        if bottom {
                            break;
                        }
                    }
                    return match d.first().map(|b| b >> 4) {
                        Some(4) | Some(6) => self.ip(m, d, wire, tun, out),
                        _ => Ok(()),
                    };
                }
                0x8864 => {
                    // PPPoE session: 6-byte header, then the PPP protocol.
                    let Some(h) = d.get(..8) else { return Ok(()) };
                    let proto = u16::from_be_bytes([h[6], h[7]]);
                    let (d2, w2) = (&d[8..], wire.saturating_sub(8));
                    return match proto {
                        0x0021 | 0x0057 => self.ip(m, d2, w2, tun, out),
                        _ => Ok(()),
                    };
                }
                // ARP, LLDP, 802.1X, PPPoE discovery, ...: not IP, nothing to do.
                _ => return Ok(()),
            }
        }
    }

    /// IP by its version nibble.
    pub(crate) fn ip<'x>(
        &mut self,
        m: Meta,
        d: &'x [u8],
        wire: usize,
        tun: &[Tunnel],
        out: &mut Vec<Packet<'x>>,
    ) -> Result<(), DecodeError> {
        match d.first().map(|b| b >> 4) {
            Some(4) => self.ipv4(m, d, wire, tun, out),
            Some(6) => self.ipv6(m, d, wire, tun, out),
            _ => Ok(()),
        }
    }
}

/// A packet that owns its payload (for packets decoded out of a reassembled datagram).
pub(crate) fn owned<'b>(p: Packet<'_>) -> Packet<'b> {
    Packet {
        frame: p.frame,
        ts_ns: p.ts_ns,
        proto: p.proto,
        ip_version: p.ip_version,
        src: p.src,
        sport: p.sport,
        dst: p.dst,
        dport: p.dport,
        ip_len: p.ip_len,
        flags: p.flags,
        seq: p.seq,
        ack: p.ack,
        payload_len: p.payload_len,
        window: p.window,
        options: p.options,
        payload_captured: p.payload_captured,
        checksum_bad: p.checksum_bad,
        icmp_one_way: p.icmp_one_way,
        foreign: p.foreign,
        tunnels: p.tunnels,
        payload: Cow::Owned(p.payload.into_owned()),
    }
}
