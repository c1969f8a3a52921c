//! Hand-made packets for the decoder tests.

use std::net::IpAddr;

use crate::capture::Frame;
use crate::decode::checksum;
use crate::decode::{DecodeOptions, Decoder, Packet};

pub const A4: [u8; 4] = [10, 0, 0, 1];
pub const B4: [u8; 4] = [10, 0, 0, 2];
pub const A6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub const B6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

pub fn ip4(a: [u8; 4]) -> IpAddr {
    IpAddr::from(a)
}

pub fn ip6(a: [u8; 16]) -> IpAddr {
    IpAddr::from(a)
}

pub fn eth(et: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    v.extend_from_slice(&et.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// IPv4 with a correct header checksum. `frag` is the flags/fragment-offset field.
pub fn ipv4_full(
    proto: u8,
    src: [u8; 4],
    dst: [u8; 4],
    options: &[u8],
    id: u16,
    frag: u16,
    payload: &[u8],
) -> Vec<u8> {
    let ihl = 20 + options.len();
    assert!(ihl.is_multiple_of(4));
    let total = (ihl + payload.len()) as u16;
    let mut v = vec![0x40 | (ihl / 4) as u8, 0];
    v.extend_from_slice(&total.to_be_bytes());
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&frag.to_be_bytes());
    v.extend_from_slice(&[64, proto, 0, 0]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(options);
    let c = !checksum::fold(checksum::sum(&v, 0));
    v[10..12].copy_from_slice(&c.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

pub fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
    ipv4_full(proto, A4, B4, &[], 1, 0x4000, payload)
}

pub fn ipv6_full(nh: u8, src: [u8; 16], dst: [u8; 16], payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x60, 0, 0, 0];
    v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    v.extend_from_slice(&[nh, 64]);
    v.extend_from_slice(&src);
    v.extend_from_slice(&dst);
    v.extend_from_slice(payload);
    v
}

pub fn ipv6(nh: u8, payload: &[u8]) -> Vec<u8> {
    ipv6_full(nh, A6, B6, payload)
}

fn fill_checksum(v: &mut [u8], at: usize, src: IpAddr, dst: IpAddr, proto: u8) {
    let c = !checksum::fold(checksum::sum(v, checksum::pseudo(src, dst, proto, v.len())));
    v[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

#[allow(clippy::too_many_arguments)]
pub fn tcp_full(
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    win: u16,
    opts: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    assert!(opts.len().is_multiple_of(4));
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ack.to_be_bytes());
    v.push((((20 + opts.len()) / 4) as u8) << 4);
    v.push(flags);
    v.extend_from_slice(&win.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(opts);
    v.extend_from_slice(payload);
    fill_checksum(&mut v, 16, src, dst, 6);
    v
}

pub fn tcp4(sport: u16, dport: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    tcp_full(
        ip4(A4),
        ip4(B4),
        sport,
        dport,
        1000,
        2000,
        flags,
        512,
        &[],
        payload,
    )
}

pub fn udp_full(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(payload);
    fill_checksum(&mut v, 6, src, dst, 17);
    if v[6..8] == [0, 0] {
        v[6..8].copy_from_slice(&[0xff, 0xff]);
    }
    v
}

pub fn udp4(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    udp_full(ip4(A4), ip4(B4), sport, dport, payload)
}

pub fn icmp4(t: u8, code: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![t, code, 0, 0, 0, 1, 0, 1];
    v.extend_from_slice(payload);
    let c = !checksum::fold(checksum::sum(&v, 0));
    v[2..4].copy_from_slice(&c.to_be_bytes());
    v
}

pub fn icmp6(src: IpAddr, dst: IpAddr, t: u8, code: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![t, code, 0, 0, 0, 1, 0, 1];
    v.extend_from_slice(payload);
    fill_checksum(&mut v, 2, src, dst, 58);
    v
}

pub fn frame(linktype: u32, data: &[u8]) -> Frame<'_> {
    Frame {
        number: 1,
        ts_ns: 1_000,
        linktype,
        data,
        orig_len: data.len() as u32,
    }
}

/// Decode one frame with a fresh decoder (packets copied out, for brevity in tests).
pub fn decode(linktype: u32, data: &[u8], check: bool) -> Vec<Packet<'static>> {
    let mut d = Decoder::new(DecodeOptions {
        check_checksums: check,
        ..Default::default()
    });
    let mut out = Vec::new();
    d.decode(&frame(linktype, data), &mut out).expect("decodes");
    out.into_iter().map(crate::decode::owned).collect()
}
