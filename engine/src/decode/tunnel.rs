//! Tunnels as Zeek decodes them (`src/packet_analysis/protocol/{gre,vxlan,geneve,gtpv1,
//! teredo,ayiya}`): GRE (RFC 2784/2890, PPTP's enhanced GRE, ERSPAN I-III), and in UDP:
//! VXLAN (RFC 7348, 4789), Geneve (RFC 8926, 6081), GTP-U (2152, 2123), Teredo (RFC 4380,
//! 3544 or detected), AYIYA (5072 or detected), GRE-in-UDP (RFC 8086, 4754).
//!
//! Zeek dispatches a UDP payload on the connection's responder port; this stateless decoder
//! tries the destination port, then the source port, then Zeek's protocol detection (Teredo,
//! AYIYA). An inner packet is handed on with what was captured as its length, as Zeek does,
//! and a tunnel already `MAX_TUNNEL_DEPTH` deep is not opened.

use super::ip::{L3, PROTO_IPIP, PROTO_IPV6};
use super::{DecodeError, Decoder, Meta, Packet, Tunnel, TunnelKind, MAX_TUNNEL_DEPTH};

pub const VXLAN_PORT: u16 = 4789;
pub const GENEVE_PORT: u16 = 6081;
pub const GTPU_PORT: u16 = 2152;
pub const GTPC_PORT: u16 = 2123;
pub const TEREDO_PORT: u16 = 3544;
pub const AYIYA_PORT: u16 = 5072;
pub const GRE_UDP_PORT: u16 = 4754;

fn is_tunnel_port(p: u16) -> bool {
    matches!(
        p,
        VXLAN_PORT | GENEVE_PORT | GTPU_PORT | GTPC_PORT | TEREDO_PORT | AYIYA_PORT | GRE_UDP_PORT
    )
}

fn be16(d: &[u8], off: usize) -> u16 {
    match d.get(off..off + 2) {
        Some(s) => u16::from_be_bytes([s[0], s[1]]),
        None => 0,
    }
}

/// Zeek's `IP::ParsePacket` check: the inner IP packet of the expected version fills the
/// payload exactly.
fn exact_ip(d: &[u8], version: u8) -> bool {
    match (version, d.first().map(|b| b >> 4)) {
        (4, Some(4)) => d.len() >= 20 && be16(d, 2) as usize == d.len(),
        (6, Some(6)) => d.len() >= 40 && be16(d, 4) as usize + 40 == d.len(),
        _ => false,
    }
}

/// Zeek's Teredo `DetectProtocol` (the old DPD signature), for UDP on other ports.
pub(crate) fn teredo_detect(d: &[u8]) -> bool {
    let len = d.len();
    if len < 40 || (len > 8 && (d[0] >> 4) != 6 && (d[0] != 0 || (d[1] != 0 && d[1] != 1))) {
        return false;
    }
    // ^[\x60-\x6f].{7}\x20\x01\x00\x00.{28} | ^[\x60-\x6f].{23}\x20\x01\x00\x00.{12}
    let prefix = [0x20, 0x01, 0x00, 0x00];
    if (0x60..=0x6f).contains(&d[0])
        && (d.get(8..12) == Some(&prefix[..]) || d.get(24..28) == Some(&prefix[..]))
    {
        return true;
    }
    let mut d = d;
    let mut val = d[1] as u16;
    if val == 1 {
        let (id_len, au_len) = (d[2] as usize, d[3] as usize);
        let skip = 13 + id_len + au_len;
        if d.len() < skip {
            return false;
        }
        d = &d[skip..];
        if d.len() < 40 {
            return false;
        }
        val = be16(d, 0);
    }
    if val == 0 {
        if d.len() < 8 {
            return false;
        }
        d = &d[8..];
        if d.len() < 40 {
            return false;
        }
        return d[0] >> 4 == 6;
    }
    false
}

/// Zeek's Teredo header parse: optional authentication, then optional origin indication,
/// then an IPv6 header. Returns the inner IPv6 packet.
pub(crate) fn teredo_inner(mut d: &[u8]) -> Option<&[u8]> {
    let (mut origin, mut auth) = (false, false);
    loop {
        if d.len() < 2 {
            return None;
        }
        let tag = be16(d, 0);
        if tag == 0 {
            if origin || d.len() < 8 {
                return None;
            }
            origin = true;
            d = &d[8..];
        } else if tag == 1 {
            if origin || auth || d.len() < 4 {
                return None;
            }
            let tot = 4 + d[2] as usize + d[3] as usize + 8 + 1;
            if d.len() < tot {
                return None;
            }
            auth = true;
            d = &d[tot..];
        } else if tag >> 12 == 6 {
            if d.len() < 40 {
                return None;
            }
            let total = be16(d, 4) as usize + 40;
            return match d.len().cmp(&total) {
                std::cmp::Ordering::Equal => Some(d),
                // A bubble (no next header, no payload) may carry trailing bytes.
                std::cmp::Ordering::Greater if d[6] == 59 && total == 40 => Some(&d[..40]),
                _ => None,
            };
        } else {
            return None;
        }
    }
}

impl Decoder {
    /// GRE (Zeek's `GREAnalyzer`). `t` is the tunnel record to push.
    pub(crate) fn gre<'x>(
        &mut self,
        m: Meta,
        t: Tunnel,
        d: &'x [u8],
        tun: &[Tunnel],
        out: &mut Vec<Packet<'x>>,
    ) -> Result<(), DecodeError> {
        if d.len() < 4 || tun.len() >= MAX_TUNNEL_DEPTH {
            return Ok(());
        }
        let flags = be16(d, 0);
        let proto = be16(d, 2);
        let version = flags & 0x0007;
        let mut gre_len = 4;
        for bit in [0x8000, 0x2000, 0x1000, 0x0080] {
            if flags & bit != 0 {
                gre_len += 4;
            }
        }
        if version > 1 || flags & 0x4000 != 0 || flags & 0x0078 != 0 {
            // Unknown version, the deprecated routing field, reserved flags: Zeek gives up.
            return Ok(());
        }
        let mut t2 = tun.to_vec();
        t2.push(t);
        if version == 1 {
            // Enhanced GRE (PPTP): PPP (address, control, protocol) carrying IP.
            if proto != 0x880b || d.len() < gre_len + 4 {
                return Ok(());
            }
            let inner = &d[gre_len + 4..];
            let v = match be16(d, gre_len + 2) {
                0x0021 => 4,
                0x0057 => 6,
                _ => return Ok(()),
            };
            if !exact_ip(inner, v) {
                return Ok(());
            }
            return self.ip(m, inner, inner.len(), &t2, out);
        }
        let (skip, ether) = match proto {
            0x6558 => {
                if d.len() <= gre_len + 14 {
                    return Ok(());
                }
                (0, true)
            }
            0x88be => {
                // ERSPAN type I, or type II with the sequence bit (8-byte header).
                if d.len() <= gre_len + 14 {
                    return Ok(());
                }
                let e = if flags & 0x1000 != 0 { 8 } else { 0 };
                if d.len() < gre_len + 14 + e {
                    return Ok(());
                }
                (e, true)
            }
            0x22eb => {
                // ERSPAN type III: 12-byte header, plus 8 with the optional subheader.
                if d.len() <= gre_len + 14 + 12 {
                    return Ok(());
                }
                let mut e = 12;
                if d.get(gre_len + 11).is_some_and(|b| b & 0x01 != 0) {
                    if d.len() <= gre_len + 12 + 8 + 14 {
                        return Ok(());
                    }
                    e += 8;
                }
                (e, true)
            }
            p if ((p & 0x8200) == 0x8200 && (p & 0x0f) == 0)
                || ((p & 0x8300) == 0x8300 && (p & 0x0f) == 0 && p <= 0x8370)
                || p == 0x9000 =>
            {
                // Aruba's 802.11 in GRE: Zeek hands it to its 802.11 analyzer.
                return Err(DecodeError::UnsupportedEncapsulation {
                    frame: m.frame,
                    what: format!("802.11 in GRE (protocol {p:#06x})"),
                });
            }
            _ => (0, false),
        };
        let Some(inner) = d.get(gre_len + skip..) else {
            return Ok(());
        };
        if ether {
            self.ethernet(m, inner, inner.len(), &t2, out)
        } else {
            // Anything else goes to Zeek's IP tunnel analyzer as raw IP.
            self.ip(m, inner, inner.len(), &t2, out)
        }
    }

    /// A UDP payload that may carry a tunnel. The outer datagram is already in `out`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn udp_tunnel<'x>(
        &mut self,
        m: Meta,
        l3: L3,
        sport: u16,
        dport: u16,
        d: &'x [u8],
        tun: &[Tunnel],
        out: &mut Vec<Packet<'x>>,
    ) -> Result<(), DecodeError> {
        let port = if is_tunnel_port(dport) {
            dport
        } else if is_tunnel_port(sport) {
            sport
        } else if teredo_detect(d) {
            TEREDO_PORT
        } else if d.len() >= 3 && d[1] == 0x52 && d[2] == 0x11 {
            AYIYA_PORT
        } else {
            return Ok(());
        };
        if tun.len() >= MAX_TUNNEL_DEPTH {
            return Ok(());
        }
        let mk = |kind| Tunnel {
            kind,
            outer_src: l3.src,
            outer_dst: l3.dst,
            outer_sport: sport,
            outer_dport: dport,
        };
        let push = |kind| {
            let mut t = tun.to_vec();
            t.push(mk(kind));
            t
        };
        match port {
            VXLAN_PORT => {
                if d.len() < 8 || d[0] & 0x08 == 0 || d.len() == 8 {
                    return Ok(());
                }
                let inner = &d[8..];
                self.ethernet(m, inner, inner.len(), &push(TunnelKind::Vxlan), out)
            }
            GENEVE_PORT => {
                if d.len() < 8 || d[0] >> 6 != 0 {
                    return Ok(());
                }
                let hdr = 8 + (d[0] & 0x3f) as usize * 4;
                let Some(inner) = d.get(hdr..).filter(|i| !i.is_empty()) else {
                    return Ok(());
                };
                let t = push(TunnelKind::Geneve);
                match be16(d, 2) {
                    0x6558 => self.ethernet(m, inner, inner.len(), &t, out),
                    0x0800 | 0x86dd => self.ip(m, inner, inner.len(), &t, out),
                    _ => Ok(()),
                }
            }
            GTPU_PORT | GTPC_PORT => {
                let Some(inner) = gtp_inner(d) else {
                    return Ok(());
                };
                if tun.last().is_some_and(|t| t.kind == TunnelKind::GtpU) {
                    // GTP is never tunnelled in GTP (Zeek: "GTP-in-GTP" violation).
                    return Ok(());
                }
                self.ip(m, inner, inner.len(), &push(TunnelKind::GtpU), out)
            }
            TEREDO_PORT => {
                let Some(inner) = teredo_inner(d) else {
                    return Ok(());
                };
                self.ipv6(m, inner, inner.len(), &push(TunnelKind::Teredo), out)
            }
            AYIYA_PORT => {
                if d.len() < 8 {
                    return Ok(());
                }
                let hdr = 8 + (1usize << (d[0] >> 4)) + (d[1] >> 4) as usize * 4;
                // Only the "forward" operation carries a packet.
                if d.len() <= hdr || d[2] & 0x0f != 1 {
                    return Ok(());
                }
                let inner = &d[hdr..];
                let t = push(TunnelKind::Ayiya);
                match (d[3], inner[0] >> 4) {
                    (PROTO_IPIP, 4) => self.ipv4(m, inner, inner.len(), &t, out),
                    (PROTO_IPV6, 6) => self.ipv6(m, inner, inner.len(), &t, out),
                    _ => Ok(()),
                }
            }
            GRE_UDP_PORT => self.gre(m, mk(TunnelKind::Gre), d, tun, out),
            _ => Ok(()),
        }
    }
}

/// The inner IP packet of a GTPv1-U G-PDU (Zeek's binpac `GTPv1_Header` and
/// `process_g_pdu`): version 1, protocol type GTP, message type 255, the optional
/// sequence/N-PDU/next-type word when any of E/S/PN is set, extension headers while E is set
/// (each `length * 4` bytes, the last byte the next type, until a next type of 0), then an
/// IPv4 or IPv6 packet filling the rest exactly.
pub(crate) fn gtp_inner(d: &[u8]) -> Option<&[u8]> {
    let flags = *d.first()?;
    if d.len() < 8 || flags >> 5 != 1 || flags & 0x10 == 0 || d[1] != 255 {
        return None;
    }
    let mut hdr = 8;
    if flags & 0x07 != 0 {
        hdr = 12;
        if d.len() < hdr {
            return None;
        }
    }
    if flags & 0x04 != 0 {
        loop {
            let len = *d.get(hdr)? as usize * 4;
            if len < 2 || d.len() < hdr + len {
                return None;
            }
            let next = d[hdr + len - 1];
            hdr += len;
            if next == 0 {
                break;
            }
        }
    }
    let inner = d.get(hdr..)?;
    let v = inner.first()? >> 4;
    if inner.len() < 20 || (v != 4 && v != 6) {
        return None;
    }
    exact_ip(inner, v).then_some(inner)
}
