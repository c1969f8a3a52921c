//! The Internet checksum (RFC 1071) and the TCP/UDP/ICMPv6 pseudo-headers (RFC 9293 §3.1,
//! RFC 768, RFC 8200 §8.1).

use std::net::IpAddr;

/// The ones'-complement sum of `data` (odd length padded with a zero byte), added to `acc`.
pub(crate) fn sum(data: &[u8], mut acc: u64) -> u64 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u16::from_be_bytes([c[0], c[1]]) as u64;
    }
    if let [last] = chunks.remainder() {
        acc += (*last as u64) << 8;
    }
    acc
}

pub(crate) fn fold(mut acc: u64) -> u16 {
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// A header or message whose checksum field is included verifies when the folded sum is
/// all ones.
pub(crate) fn verifies(data: &[u8]) -> bool {
    fold(sum(data, 0)) == 0xffff
}

/// Sum of the pseudo-header for an upper-layer `proto` message of `len` bytes.
pub(crate) fn pseudo(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> u64 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            sum(&s.octets(), 0) + sum(&d.octets(), 0) + proto as u64 + (len as u64 & 0xffff)
        }
        _ => {
            let o = |a: IpAddr| match a {
                IpAddr::V4(v) => v.to_ipv6_mapped().octets(),
                IpAddr::V6(v) => v.octets(),
            };
            sum(&o(src), 0)
                + sum(&o(dst), 0)
                + (len as u64 >> 16)
                + (len as u64 & 0xffff)
                + proto as u64
        }
    }
}

/// Whether a TCP/UDP/ICMPv6 message (checksum field included) verifies.
pub(crate) fn verifies_with_pseudo(src: IpAddr, dst: IpAddr, proto: u8, msg: &[u8]) -> bool {
    fold(sum(msg, pseudo(src, dst, proto, msg.len()))) == 0xffff
}
