//! IPv4 (RFC 791), IPv6 (RFC 8200) with extension headers, and the transports on top:
//! TCP (RFC 9293), UDP (RFC 768), ICMP (RFC 792) and ICMPv6 (RFC 4443).

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::checksum;
use super::tcp_options;
use super::{
    owned, DecodeError, Decoder, Meta, Packet, Transport, Tunnel, TunnelKind, MAX_TUNNEL_DEPTH,
};

pub(crate) const PROTO_ICMP: u8 = 1;
pub(crate) const PROTO_IPIP: u8 = 4;
pub(crate) const PROTO_TCP: u8 = 6;
pub(crate) const PROTO_UDP: u8 = 17;
pub(crate) const PROTO_IPV6: u8 = 41;
pub(crate) const PROTO_GRE: u8 = 47;
pub(crate) const PROTO_ICMPV6: u8 = 58;

/// What the transport layer needs from the IP layer.
#[derive(Clone, Copy)]
pub(crate) struct L3 {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub version: u8,
    /// Zeek's ip_bytes for this packet.
    pub ip_len: u32,
    /// The IPv4 header checksum was checked and is wrong.
    pub hdr_bad: bool,
    /// The address pair is another shard's (see [`super::DecodeOptions::shard`]).
    pub foreign: bool,
}

/// Whether a packet of another shard's host pair is still looked at: UDP (it may carry a
/// tunnel whose inner connections are this shard's) and IP-level tunnels (their inner
/// packets are sharded by their own pair). Everything else is dropped at its IP header.
fn kept_when_foreign(proto: u8) -> bool {
    matches!(proto, PROTO_UDP | PROTO_IPIP | PROTO_IPV6 | PROTO_GRE)
}

fn foreign(m: Meta, src: IpAddr, dst: IpAddr) -> bool {
    m.shard.is_some_and(|s| !s.owns(src, dst))
}

fn be16(d: &[u8], off: usize) -> u16 {
    match d.get(off..off + 2) {
        Some(s) => u16::from_be_bytes([s[0], s[1]]),
        None => 0,
    }
}

fn be32(d: &[u8], off: usize) -> u32 {
    match d.get(off..off + 4) {
        Some(s) => u32::from_be_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

/// Zeek's `ICMP4_counterpart`: (counterpart type or code, one-way).
pub fn icmp4_counterpart(icmp_type: u8, code: u8) -> (u8, bool) {
    match icmp_type {
        8 => (0, false),
        0 => (8, false),
        13 => (14, false),
        14 => (13, false),
        15 => (16, false),
        16 => (15, false),
        10 => (9, false),
        9 => (10, false),
        17 => (18, false),
        18 => (17, false),
        _ => (code, true),
    }
}

/// Zeek's `ICMP6_counterpart`: (counterpart type or code, one-way).
pub fn icmp6_counterpart(icmp_type: u8, code: u8) -> (u8, bool) {
    match icmp_type {
        128 => (129, false),
        129 => (128, false),
        133 => (134, false),
        134 => (133, false),
        135 => (136, false),
        136 => (135, false),
        130 => (131, false),
        131 => (130, false),
        139 => (140, false),
        140 => (139, false),
        144 => (145, false),
        145 => (144, false),
        _ => (code, true),
    }
}

/// Where an IPv6 extension-header walk stopped.
enum Walk {
    /// An upper-layer protocol at this offset.
    Upper(u8, usize),
    /// A Fragment header at this offset (its next header, offset in bytes, MF, id).
    Fragment {
        at: usize,
        next: u8,
        offset: usize,
        more: bool,
        id: u32,
    },
    /// ESP, No Next Header, Mobility, or a header cut short: nothing to decode.
    Stop,
}

/// Walk IPv6 extension headers from `nh` at `off` in `d` (RFC 8200 §4).
fn walk_ext(d: &[u8], mut nh: u8, mut off: usize) -> Walk {
    // Bounded: each header is at least 8 bytes and `d` is at most 64 KiB + 40.
    loop {
        match nh {
            0 | 43 | 60 => {
                let Some(h) = d.get(off..off + 2) else {
                    return Walk::Stop;
                };
                let len = (h[1] as usize + 1) * 8;
                if d.len() < off + len {
                    return Walk::Stop;
                }
                nh = h[0];
                off += len;
            }
            51 => {
                let Some(h) = d.get(off..off + 2) else {
                    return Walk::Stop;
                };
                let len = (h[1] as usize + 2) * 4;
                if d.len() < off + len {
                    return Walk::Stop;
                }
                nh = h[0];
                off += len;
            }
            44 => {
                let Some(h) = d.get(off..off + 8) else {
                    return Walk::Stop;
                };
                let fo = u16::from_be_bytes([h[2], h[3]]);
                return Walk::Fragment {
                    at: off,
                    next: h[0],
                    offset: (fo >> 3) as usize * 8,
                    more: fo & 1 != 0,
                    id: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                };
            }
            // ESP (encrypted), No Next Header, Mobility: Zeek stops the chain there.
            50 | 59 | 135 => return Walk::Stop,
            p => return Walk::Upper(p, off),
        }
    }
}

impl Decoder {
    pub(crate) fn ipv4<'x>(
        &mut self,
        m: Meta,
        d: &'x [u8],
        wire: usize,
        tun: &[Tunnel],
        out: &mut Vec<Packet<'x>>,
    ) -> Result<(), DecodeError> {
        let Some(h) = d.get(..20) else { return Ok(()) };
        let ihl = (h[0] & 0x0f) as usize * 4;
        if ihl < 20 || d.len() < ihl {
            return Ok(());
        }
        let mut total = be16(h, 2) as usize;
        if total == 0 {
            // TCP segmentation offload zeroes the total length. Zeek then uses the captured
            // length when it ignores checksums, and drops the packet when it checks them.
            if m.check {
                return Ok(());
            }
            total = d.len();
        }
        if total < ihl || total > wire {
            return Ok(());
        }
        let cap = &d[..total.min(d.len())];
        let hdr_bad = m.check && !checksum::verifies(&d[..ihl]);
        let src = IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15]));
        let dst = IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19]));
        let proto = h[9];
        let ff = be16(h, 6);
        let (more, offset) = (ff & 0x2000 != 0, (ff & 0x1fff) as usize * 8);
        let l3 = L3 {
            src,
            dst,
            version: 4,
            ip_len: total as u32,
            hdr_bad,
            foreign: foreign(m, src, dst),
        };
        if l3.foreign && !kept_when_foreign(proto) {
            return Ok(());
        }
        if more || offset != 0 {
            if cap.len() < total {
                // Not fully captured: only the first fragment is of use (Zeek does the same).
                if offset != 0 {
                    return Ok(());
                }
            } else {
                if hdr_bad {
                    return Ok(());
                }
                let key = (src, dst, be16(h, 4) as u32);
                let Some(dg) = self
                    .frags
                    .add(key, m.ts_ns, ihl, proto, offset, more, &cap[ihl..])
                else {
                    return Ok(());
                };
                let l3 = L3 {
                    ip_len: (dg.hdr_len + dg.payload.len()) as u32,
                    ..l3
                };
                return self.reassembled(m, l3, dg.next_proto, &dg.payload, tun, out);
            }
        }
        self.transport(m, l3, proto, &cap[ihl..], total - ihl, tun, out)
    }

    pub(crate) fn ipv6<'x>(
        &mut self,
        m: Meta,
        d: &'x [u8],
        wire: usize,
        tun: &[Tunnel],
        out: &mut Vec<Packet<'x>>,
    ) -> Result<(), DecodeError> {
        let Some(h) = d.get(..40) else { return Ok(()) };
        let plen = be16(h, 4) as usize;
        // A zero payload length (jumbogram, segmentation offload): use what was captured.
        let total = if plen == 0 { d.len() } else { plen + 40 };
        if total > wire {
            return Ok(());
        }
        let cap = &d[..total.min(d.len())];
        let mut s = [0u8; 16];
        s.copy_from_slice(&h[8..24]);
        let mut t = [0u8; 16];
        t.copy_from_slice(&h[24..40]);
        let (src, dst) = (IpAddr::V6(Ipv6Addr::from(s)), IpAddr::V6(Ipv6Addr::from(t)));
        let l3 = L3 {
            src,
            dst,
            version: 6,
            ip_len: total as u32,
            hdr_bad: false,
            foreign: foreign(m, src, dst),
        };
        match walk_ext(cap, h[6], 40) {
            Walk::Stop => Ok(()),
            Walk::Upper(p, off) => self.transport(m, l3, p, &cap[off..], total - off, tun, out),
            Walk::Fragment {
                at,
                next,
                offset,
                more,
                id,
            } => {
                let body = at + 8;
                if !more && offset == 0 {
                    // An atomic fragment (RFC 6946): not really fragmented.
                    return match walk_ext(cap, next, body) {
                        Walk::Upper(p, off) => {
                            self.transport(m, l3, p, &cap[off..], total - off, tun, out)
                        }
                        _ => Ok(()),
                    };
                }
                if cap.len() < total {
                    if offset != 0 {
                        return Ok(());
                    }
                    return match walk_ext(cap, next, body) {
                        Walk::Upper(p, off) => {
                            self.transport(m, l3, p, &cap[off..], total - off, tun, out)
                        }
                        _ => Ok(()),
                    };
                }
                if l3.foreign && matches!(next, PROTO_TCP | PROTO_ICMPV6) {
                    return Ok(());
                }
                let Some(payload) = cap.get(body..) else {
                    return Ok(());
                };
                let Some(dg) =
                    self.frags
                        .add((src, dst, id), m.ts_ns, at, next, offset, more, payload)
                else {
                    return Ok(());
                };
                let l3 = L3 {
                    ip_len: (dg.hdr_len + dg.payload.len()) as u32,
                    ..l3
                };
                self.reassembled(m, l3, dg.next_proto, &dg.payload, tun, out)
            }
        }
    }

    /// Decode the payload of a reassembled datagram (owned, so its packets own their
    /// payloads).
    fn reassembled<'x>(
        &mut self,
        m: Meta,
        l3: L3,
        next: u8,
        payload: &[u8],
        tun: &[Tunnel],
        out: &mut Vec<Packet<'x>>,
    ) -> Result<(), DecodeError> {
        let mut tmp = Vec::new();
        let (proto, off) = if l3.version == 6 {
            match walk_ext(payload, next, 0) {
                Walk::Upper(p, off) => (p, off),
                _ => return Ok(()),
            }
        } else {
            (next, 0)
        };
        let body = payload.get(off..).unwrap_or(&[]);
        let r = self.transport(m, l3, proto, body, body.len(), tun, &mut tmp);
        out.extend(tmp.into_iter().map(owned));
        r
    }

    /// The transport layer: `l4` is what was captured of the IP payload, `l4_len` the IP
    /// payload length from the headers.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn transport<'x>(
        &mut self,
        m: Meta,
        l3: L3,
        proto: u8,
        l4: &'x [u8],
        l4_len: usize,
        tun: &[Tunnel],
        out: &mut Vec<Packet<'x>>,
    ) -> Result<(), DecodeError> {
        if l3.foreign && !kept_when_foreign(proto) {
            return Ok(());
        }
        let complete = l4.len() >= l4_len;
        let whole = l4.get(..l4_len).unwrap_or(l4);
        let base = |proto: Transport, sport: u16, dport: u16| Packet {
            frame: m.frame,
            ts_ns: m.ts_ns,
            proto,
            ip_version: l3.version,
            src: l3.src,
            sport,
            dst: l3.dst,
            dport,
            ip_len: l3.ip_len,
            flags: 0,
            seq: 0,
            ack: 0,
            payload_len: 0,
            window: 0,
            options: Default::default(),
            payload_captured: true,
            checksum_bad: l3.hdr_bad,
            icmp_one_way: false,
            foreign: l3.foreign,
            tunnels: tun.to_vec(),
            payload: Cow::Borrowed(&[][..]),
        };
        match proto {
            PROTO_TCP => {
                let Some(h) = l4.get(..20) else { return Ok(()) };
                let doff = (h[12] >> 4) as usize * 4;
                if doff < 20 || doff > l4.len() || doff > l4_len {
                    return Ok(());
                }
                let mut p = base(Transport::Tcp, be16(h, 0), be16(h, 2));
                p.seq = be32(h, 4);
                p.ack = be32(h, 8);
                p.flags = h[13];
                p.window = be16(h, 14);
                p.options = tcp_options::parse(l4.get(20..doff).unwrap_or(&[]));
                p.payload_len = (l4_len - doff) as u32;
                p.payload = Cow::Borrowed(whole.get(doff..).unwrap_or(&[]));
                p.payload_captured = complete;
                if m.check && complete && !p.checksum_bad {
                    p.checksum_bad =
                        !checksum::verifies_with_pseudo(l3.src, l3.dst, PROTO_TCP, whole);
                }
                out.push(p);
                Ok(())
            }
            PROTO_UDP => {
                let Some(h) = l4.get(..8) else { return Ok(()) };
                if l4_len < 8 {
                    return Ok(());
                }
                let (sport, dport) = (be16(h, 0), be16(h, 2));
                let ulen = be16(h, 4) as usize;
                // The UDP length, unless it is impossible (< 8, or beyond the IP payload):
                // then the IP payload length.
                let plen = if (8..=l4_len).contains(&ulen) {
                    ulen - 8
                } else {
                    l4_len - 8
                };
                let mut p = base(Transport::Udp, sport, dport);
                p.payload_len = plen as u32;
                p.payload = Cow::Borrowed(l4.get(8..(8 + plen).min(l4.len())).unwrap_or(&[]));
                p.payload_captured = l4.len() >= 8 + plen;
                if m.check && complete && !p.checksum_bad {
                    let sum = be16(h, 6);
                    let verify = if l3.version == 4 {
                        sum != 0
                    } else {
                        // Mandatory over IPv6, except VXLAN's zero checksum (as Zeek).
                        !(sum == 0
                            && dport == 4789
                            && l4_len > 8 + 8 + 14
                            && whole.get(8).is_some_and(|b| b & 0x08 != 0))
                    };
                    if verify {
                        p.checksum_bad =
                            !checksum::verifies_with_pseudo(l3.src, l3.dst, PROTO_UDP, whole);
                    }
                }
                let bad = p.checksum_bad;
                out.push(p);
                if bad {
                    return Ok(());
                }
                // The datagram as Zeek forwards it to tunnel analyzers: the IP payload
                // after the UDP header, as far as it was captured.
                let inner = whole.get(8..).unwrap_or(&[]);
                self.udp_tunnel(m, l3, sport, dport, inner, tun, out)
            }
            PROTO_ICMP | PROTO_ICMPV6 => {
                let Some(h) = l4.get(..8) else { return Ok(()) };
                if l4_len < 8 {
                    return Ok(());
                }
                let (counter, one_way) = if proto == PROTO_ICMP {
                    icmp4_counterpart(h[0], h[1])
                } else {
                    icmp6_counterpart(h[0], h[1])
                };
                let mut p = base(Transport::Icmp, h[0] as u16, counter as u16);
                p.icmp_one_way = one_way;
                p.payload_len = (l4_len - 8) as u32;
                p.payload = Cow::Borrowed(whole.get(8..).unwrap_or(&[]));
                p.payload_captured = complete;
                if m.check && complete && !p.checksum_bad {
                    p.checksum_bad = if proto == PROTO_ICMP {
                        !checksum::verifies(whole)
                    } else {
                        !checksum::verifies_with_pseudo(l3.src, l3.dst, PROTO_ICMPV6, whole)
                    };
                }
                out.push(p);
                Ok(())
            }
            PROTO_IPIP | PROTO_IPV6 => {
                if tun.len() >= MAX_TUNNEL_DEPTH || l3.hdr_bad {
                    return Ok(());
                }
                let mut t = tun.to_vec();
                t.push(Tunnel {
                    kind: TunnelKind::IpInIp,
                    outer_src: l3.src,
                    outer_dst: l3.dst,
                    outer_sport: 0,
                    outer_dport: 0,
                });
                // Zeek hands the inner packet on with what was captured as its wire length.
                self.ip(m, whole, whole.len(), &t, out)
            }
            PROTO_GRE => {
                if l3.hdr_bad {
                    return Ok(());
                }
                let t = Tunnel {
                    kind: TunnelKind::Gre,
                    outer_src: l3.src,
                    outer_dst: l3.dst,
                    outer_sport: 0,
                    outer_dport: 0,
                };
                self.gre(m, t, whole, tun, out)
            }
            _ => Ok(()),
        }
    }
}
