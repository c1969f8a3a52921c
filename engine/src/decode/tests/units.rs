//! One behaviour per test, named after the RFC section or the Zeek behaviour.

use super::builders::*;
use crate::capture::Frame;
use crate::decode::ip::{icmp4_counterpart, icmp6_counterpart};
use crate::decode::{
    flags, DecodeError, DecodeOptions, Decoder, Packet, Transport, TunnelKind, MAX_TUNNEL_DEPTH,
};

const ETH: u32 = 1;

fn one<'a>(v: &'a [Packet<'a>]) -> &'a Packet<'a> {
    assert_eq!(v.len(), 1, "{v:?}");
    &v[0]
}

#[test]
fn rfc894_ethernet_padding_never_counts_as_payload() {
    let mut f = eth(0x0800, &ipv4(6, &tcp4(40000, 80, flags::SYN, &[])));
    f.extend_from_slice(&[0; 6]); // padded to the 60-byte minimum
    let v = decode(ETH, &f, true);
    let p = one(&v);
    assert_eq!(
        (p.proto, p.sport, p.dport, p.payload_len, p.ip_len),
        (Transport::Tcp, 40000, 80, 0, 40)
    );
    assert!(p.payload.is_empty() && p.payload_captured && !p.checksum_bad);
    let mut f = eth(0x0800, &ipv4(17, &udp4(5000, 53, b"abc")));
    f.extend_from_slice(&[0; 20]);
    let v = decode(ETH, &f, true);
    assert_eq!(
        (one(&v).payload_len, &one(&v).payload[..]),
        (3, &b"abc"[..])
    );
}

#[test]
fn ieee8021q_vlan_and_8021ad_qinq_stacks() {
    let ip = ipv4(6, &tcp4(1, 2, flags::ACK, b"x"));
    for outer in [0x8100u16, 0x88a8, 0x9100] {
        // outer tag (VID 5) -> 802.1Q tag (VID 20) -> IPv4
        let mut tag = vec![0x00, 0x05, 0x81, 0x00, 0x00, 0x14, 0x08, 0x00];
        tag.extend_from_slice(&ip);
        let f = eth(outer, &tag);
        let v = decode(ETH, &f, true);
        assert_eq!(one(&v).payload_len, 1, "{outer:#x}");
    }
}

#[test]
fn rfc3032_mpls_label_stack_then_ip_by_version_nibble() {
    // two labels, the second with the bottom-of-stack bit
    let mut m = vec![0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40];
    m.extend_from_slice(&ipv6(17, &udp_full(ip6(A6), ip6(B6), 1, 2, b"hi")));
    let v = decode(ETH, &eth(0x8847, &m), true);
    assert_eq!((one(&v).ip_version, one(&v).payload_len), (6, 2));
    // a pseudowire control word (nibble 0) is not IP: nothing
    let mut m = vec![0x00, 0x01, 0x01, 0x40, 0, 0, 0, 0];
    m.extend_from_slice(&eth(0x0800, &ipv4(17, &udp4(1, 2, b""))));
    assert!(decode(ETH, &eth(0x8847, &m), true).is_empty());
}

#[test]
fn rfc2516_pppoe_session_carrying_ipv4_and_ipv6() {
    let ip4p = ipv4(17, &udp4(1, 2, b"four"));
    let mut s = vec![0x11, 0x00, 0x00, 0x01];
    s.extend_from_slice(&((ip4p.len() + 2) as u16).to_be_bytes());
    s.extend_from_slice(&[0x00, 0x21]);
    s.extend_from_slice(&ip4p);
    assert_eq!(one(&decode(ETH, &eth(0x8864, &s), true)).payload_len, 4);
    let ip6p = ipv6(17, &udp_full(ip6(A6), ip6(B6), 1, 2, b"six!!!"));
    let mut s = vec![0x11, 0x00, 0x00, 0x01, 0, 0, 0x00, 0x57];
    s.extend_from_slice(&ip6p);
    assert_eq!(one(&decode(ETH, &eth(0x8864, &s), true)).payload_len, 6);
    // LCP (0xc021) is not IP
    let s = [0x11, 0x00, 0x00, 0x01, 0, 4, 0xc0, 0x21, 1, 2];
    assert!(decode(ETH, &eth(0x8864, &s), true).is_empty());
}

#[test]
fn linux_cooked_v1_and_v2() {
    let ip = ipv4(6, &tcp4(1, 2, flags::SYN, &[]));
    let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&ip);
    assert_eq!(one(&decode(113, &sll, true)).flags, flags::SYN);
    let mut sll2 = vec![
        0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
    ];
    sll2.extend_from_slice(&ip);
    assert_eq!(one(&decode(276, &sll2, true)).flags, flags::SYN);
}

#[test]
fn bsd_loopback_address_families_in_either_byte_order() {
    let v4 = ipv4(6, &tcp4(1, 2, flags::SYN, &[]));
    let v6 = ipv6(
        6,
        &tcp_full(ip6(A6), ip6(B6), 1, 2, 0, 0, flags::SYN, 0, &[], &[]),
    );
    for lt in [0u32, 108] {
        for (af, ip) in [(2u32, &v4), (24, &v6), (28, &v6), (30, &v6)] {
            for hdr in [af.to_le_bytes(), af.to_be_bytes()] {
                let mut f = hdr.to_vec();
                f.extend_from_slice(ip);
                assert_eq!(decode(lt, &f, true).len(), 1, "lt {lt} af {af}");
            }
        }
        let mut f = 7u32.to_le_bytes().to_vec();
        f.extend_from_slice(&v4);
        assert!(decode(lt, &f, true).is_empty());
    }
}

#[test]
fn raw_ip_link_types() {
    let v4 = ipv4(17, &udp4(1, 2, b""));
    let v6 = ipv6(17, &udp_full(ip6(A6), ip6(B6), 1, 2, b""));
    for lt in [101u32, 12, 14, 228] {
        assert_eq!(one(&decode(lt, &v4, true)).ip_version, 4);
    }
    for lt in [101u32, 12, 14, 229] {
        assert_eq!(one(&decode(lt, &v6, true)).ip_version, 6);
    }
}

#[test]
fn unknown_link_types_are_an_error_for_the_tshark_fallback() {
    let mut d = Decoder::new(DecodeOptions::default());
    let mut out = Vec::new();
    for lt in [105u32, 127, 9, 50] {
        let f = Frame {
            number: 3,
            ts_ns: 0,
            linktype: lt,
            data: &[0; 40],
            orig_len: 40,
        };
        assert_eq!(
            d.decode(&f, &mut out),
            Err(DecodeError::UnsupportedLinkType(lt))
        );
    }
    assert_eq!(
        DecodeError::UnsupportedLinkType(105).to_string(),
        "link type 105 is not decoded by the native engine"
    );
}

#[test]
fn non_ip_frames_append_nothing() {
    assert!(decode(ETH, &eth(0x0806, &[0; 28]), true).is_empty()); // ARP
    assert!(decode(ETH, &eth(0x88cc, &[0; 30]), true).is_empty()); // LLDP
    assert!(decode(ETH, &eth(0x0026, &[0x42, 0x42, 3, 0, 0]), true).is_empty()); // 802.3 + LLC (STP)
    assert!(decode(ETH, &[0; 10], true).is_empty()); // runt
}

#[test]
fn rfc791_options_and_header_checksum() {
    let opts = [0x94, 0x04, 0, 0]; // router alert
    let ip = ipv4_full(17, A4, B4, &opts, 7, 0, &udp4(1, 2, b"opt"));
    let v = decode(101, &ip, true);
    assert_eq!(
        (one(&v).payload_len, one(&v).ip_len, one(&v).checksum_bad),
        (3, 35, false)
    );
    let mut bad = ip.clone();
    bad[8] = 1; // TTL changed, checksum not
    assert!(one(&decode(101, &bad, true)).checksum_bad);
    assert!(!one(&decode(101, &bad, false)).checksum_bad);
}

#[test]
fn rfc8200_extension_headers_are_walked_to_the_transport() {
    let t = tcp_full(ip6(A6), ip6(B6), 5, 6, 0, 0, flags::SYN, 0, &[], b"data");
    // hop-by-hop -> routing -> destination options -> TCP
    let mut ext = vec![43, 0, 1, 4, 0, 0, 0, 0];
    ext.extend_from_slice(&[60, 0, 0, 0, 0, 0, 0, 0]);
    ext.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
    ext.extend_from_slice(&t);
    let ip = ipv6(0, &ext);
    let v = decode(101, &ip, true);
    assert_eq!((one(&v).payload_len, one(&v).ip_len), (4, 40 + 24 + 24));
    // ESP and No Next Header stop the walk
    assert!(decode(101, &ipv6(50, &[0; 16]), true).is_empty());
    assert!(decode(101, &ipv6(59, &[]), true).is_empty());
    // an extension header running past the packet
    assert!(decode(101, &ipv6(0, &[6, 9, 0, 0, 0, 0, 0, 0]), true).is_empty());
}

#[test]
fn rfc9293_tcp_fields_options_and_payload_length() {
    let opts = [2, 4, 5, 0xb4, 1, 1, 4, 2]; // MSS, NOP, NOP, SACK permitted
    let t = tcp_full(
        ip4(A4),
        ip4(B4),
        443,
        51000,
        0xdeadbeef,
        7,
        flags::SYN | flags::ACK,
        65535,
        &opts,
        b"hello",
    );
    let v = decode(101, &ipv4(6, &t), true);
    let p = one(&v);
    assert_eq!(
        (p.sport, p.dport, p.seq, p.ack, p.window),
        (443, 51000, 0xdeadbeef, 7, 65535)
    );
    assert_eq!(
        (p.flags, p.payload_len, &p.payload[..]),
        (flags::SYN | flags::ACK, 5, &b"hello"[..])
    );
}

#[test]
fn snap_length_cut_payload_is_not_captured_and_not_bad() {
    let f = eth(0x0800, &ipv4(6, &tcp4(1, 2, flags::ACK, &[7; 100])));
    let cut = &f[..14 + 20 + 20 + 10];
    let mut d = Decoder::new(DecodeOptions {
        check_checksums: true,
        ..Default::default()
    });
    let mut out = Vec::new();
    d.decode(
        &Frame {
            number: 1,
            ts_ns: 0,
            linktype: 1,
            data: cut,
            orig_len: f.len() as u32,
        },
        &mut out,
    )
    .unwrap();
    let p = one(&out);
    assert_eq!(
        (
            p.payload_len,
            p.payload.len(),
            p.payload_captured,
            p.checksum_bad
        ),
        (100, 10, false, false)
    );
    // the TCP header itself cut short: no packet
    let mut out = Vec::new();
    let cut = &f[..14 + 20 + 12];
    d.decode(
        &Frame {
            number: 1,
            ts_ns: 0,
            linktype: 1,
            data: cut,
            orig_len: f.len() as u32,
        },
        &mut out,
    )
    .unwrap();
    assert!(out.is_empty());
}

#[test]
fn rfc768_udp_zero_checksum_means_none_over_ipv4_and_length_is_clamped() {
    let mut u = udp4(1, 2, b"abcd");
    u[6] = 0;
    u[7] = 0;
    assert!(!one(&decode(101, &ipv4(17, &u), true)).checksum_bad);
    let mut u6 = udp_full(ip6(A6), ip6(B6), 1, 2, b"abcd");
    u6[6] = 0;
    u6[7] = 0;
    assert!(one(&decode(101, &ipv6(17, &u6), true)).checksum_bad);
    // a UDP length beyond the IP payload, or below 8: the IP payload length is used
    let mut u = udp4(1, 2, b"abcd");
    u[4..6].copy_from_slice(&400u16.to_be_bytes());
    assert_eq!(one(&decode(101, &ipv4(17, &u), false)).payload_len, 4);
    u[4..6].copy_from_slice(&3u16.to_be_bytes());
    assert_eq!(one(&decode(101, &ipv4(17, &u), false)).payload_len, 4);
}

#[test]
fn checksums_tcp_udp_icmp_are_verified_only_when_asked() {
    for ip in [
        ipv4(6, &tcp4(1, 2, 0, b"zz")),
        ipv4(17, &udp4(1, 2, b"zz")),
        ipv4(1, &icmp4(8, 0, b"zz")),
    ] {
        assert!(!one(&decode(101, &ip, true)).checksum_bad);
        let mut bad = ip.clone();
        let n = bad.len();
        bad[n - 1] ^= 0x55;
        assert!(one(&decode(101, &bad, true)).checksum_bad);
        assert!(!one(&decode(101, &bad, false)).checksum_bad);
    }
    let i6 = icmp6(ip6(A6), ip6(B6), 128, 0, b"ping");
    assert!(!one(&decode(101, &ipv6(58, &i6), true)).checksum_bad);
    let mut bad = i6.clone();
    bad[9] ^= 1;
    assert!(one(&decode(101, &ipv6(58, &bad), true)).checksum_bad);
}

#[test]
fn zeek_icmp4_counterpart_table() {
    for (a, b) in [(8, 0), (13, 14), (15, 16), (17, 18), (10, 9)] {
        assert_eq!(icmp4_counterpart(a, 0), (b, false));
        assert_eq!(icmp4_counterpart(b, 0), (a, false));
    }
    assert_eq!(icmp4_counterpart(3, 3), (3, true)); // unreachable: the code
    assert_eq!(icmp4_counterpart(11, 1), (1, true));
}

#[test]
fn zeek_icmp6_counterpart_table() {
    for (a, b) in [
        (128, 129),
        (133, 134),
        (135, 136),
        (130, 131),
        (139, 140),
        (144, 145),
    ] {
        assert_eq!(icmp6_counterpart(a, 0), (b, false));
        assert_eq!(icmp6_counterpart(b, 0), (a, false));
    }
    assert_eq!(icmp6_counterpart(1, 4), (4, true));
    assert_eq!(icmp6_counterpart(143, 0), (0, true)); // MLDv2 report: no counterpart in Zeek
}

#[test]
fn icmp_ports_are_type_and_counterpart_and_payload_is_after_8_bytes() {
    let v = decode(101, &ipv4(1, &icmp4(8, 0, &[0; 56])), true);
    let p = one(&v);
    assert_eq!(
        (
            p.proto,
            p.sport,
            p.dport,
            p.icmp_one_way,
            p.payload_len,
            p.ip_len
        ),
        (Transport::Icmp, 8, 0, false, 56, 84)
    );
    let v = decode(101, &ipv4(1, &icmp4(3, 1, &[0; 28])), true);
    assert_eq!(
        (one(&v).sport, one(&v).dport, one(&v).icmp_one_way),
        (3, 1, true)
    );
}

fn frag_frame(number: u64, ts: i64, data: &[u8]) -> Frame<'_> {
    Frame {
        number,
        ts_ns: ts,
        linktype: 101,
        data,
        orig_len: data.len() as u32,
    }
}

#[test]
fn zeek_frag_ipv4_reassembly_out_of_order() {
    let payload: Vec<u8> = (0..100u8).collect();
    let t = tcp4(1234, 80, flags::ACK | flags::PSH, &payload); // 120 bytes
    let parts = [(0usize, 48usize), (48, 96), (96, 120)];
    let frags: Vec<Vec<u8>> = parts
        .iter()
        .map(|&(a, b)| {
            let more = if b < t.len() { 0x2000 } else { 0 };
            ipv4_full(6, A4, B4, &[], 42, more | (a / 8) as u16, &t[a..b])
        })
        .collect();
    let mut d = Decoder::new(DecodeOptions {
        check_checksums: true,
        ..Default::default()
    });
    let mut all = Vec::new();
    for (n, i) in [(1u64, 2usize), (2, 0), (3, 1)] {
        let mut out = Vec::new();
        d.decode(&frag_frame(n, n as i64 * 10, &frags[i]), &mut out)
            .unwrap();
        all.extend(out.into_iter().map(crate::decode::owned));
    }
    // The last fragment at offset 0 yields nothing on its own; the completing one yields all.
    let p = one(&all);
    assert_eq!(
        (p.frame, p.ts_ns, p.sport, p.dport, p.payload_len),
        (3, 30, 1234, 80, 100)
    );
    assert_eq!(p.ip_len, 20 + 120); // Zeek: frag_size + proto_hdr_len
    assert_eq!(&p.payload[..], &payload[..]);
    assert!(!p.checksum_bad);
    assert_eq!(d.fragments_in_flight(), 0);
}

#[test]
fn zeek_frag_non_first_fragments_never_produce_a_packet() {
    let t = udp4(1, 2, &[9; 64]);
    let f = ipv4_full(17, A4, B4, &[], 9, 0x2000 | 3, &t[24..48]);
    assert!(decode(101, &f, false).is_empty());
    let f = ipv4_full(17, A4, B4, &[], 9, 3, &t[24..]);
    assert!(decode(101, &f, false).is_empty());
}

#[test]
fn zeek_frag_ipv6_reassembly_counts_unfragmentable_part() {
    let payload = [5u8; 60];
    let u = udp_full(ip6(A6), ip6(B6), 7, 8, &payload); // 68 bytes
    let frag_hdr = |off: usize, more: bool| {
        let fo = ((off / 8) as u16) << 3 | more as u16;
        let mut h = vec![17, 0];
        h.extend_from_slice(&fo.to_be_bytes());
        h.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        h
    };
    let mut p1 = frag_hdr(0, true);
    p1.extend_from_slice(&u[..32]);
    let mut p2 = frag_hdr(32, false);
    p2.extend_from_slice(&u[32..]);
    let (f1, f2) = (ipv6(44, &p1), ipv6(44, &p2));
    let mut d = Decoder::new(DecodeOptions {
        check_checksums: true,
        ..Default::default()
    });
    let mut got = Vec::new();
    for (n, f) in [(1u64, &f2), (2, &f1)] {
        let mut out = Vec::new();
        d.decode(&frag_frame(n, 0, f), &mut out).unwrap();
        got.extend(out.into_iter().map(crate::decode::owned));
    }
    let p = one(&got);
    assert_eq!(
        (p.frame, p.sport, p.dport, p.payload_len, p.ip_len),
        (2, 7, 8, 60, 40 + 68)
    );
    assert!(!p.checksum_bad);
}

#[test]
fn zeek_frag_limits_timeout_and_oversize() {
    let mut d = Decoder::new(DecodeOptions::default());
    let t = udp4(1, 2, &[1; 40]);
    let first = ipv4_full(17, A4, B4, &[], 5, 0x2000, &t[..16]);
    let rest = ipv4_full(17, A4, B4, &[], 5, 2, &t[16..]);
    let mut out = Vec::new();
    d.decode(&frag_frame(1, 0, &first), &mut out).unwrap();
    assert_eq!(d.fragments_in_flight(), 1);
    // the rest arrives after frag_timeout: the first is gone, nothing completes
    d.decode(
        &frag_frame(2, crate::decode::FRAG_TIMEOUT_NS + 2_000_000_000, &rest),
        &mut out,
    )
    .unwrap();
    assert!(out.is_empty());
    // a fragment reaching past 64 KiB is dropped
    let far = ipv4_full(17, A4, B4, &[], 6, 0x2000 | 8190, &[0; 64]);
    d.decode(&frag_frame(3, 0, &far), &mut out).unwrap();
    assert!(out.is_empty());
    // never more than MAX_FRAG_IN_FLIGHT datagrams
    for id in 0..(crate::decode::MAX_FRAG_IN_FLIGHT as u16 + 10) {
        let f = ipv4_full(17, A4, B4, &[], id, 0x2000, &[0; 8]);
        let mut out = Vec::new();
        d.decode(&frag_frame(4, id as i64, &f), &mut out).unwrap();
        assert!(out.is_empty());
    }
    assert!(d.fragments_in_flight() <= crate::decode::MAX_FRAG_IN_FLIGHT);
}

fn vxlan(inner_eth: &[u8]) -> Vec<u8> {
    let mut v = vec![0x08, 0, 0, 0, 0, 0, 0x2a, 0];
    v.extend_from_slice(inner_eth);
    v
}

#[test]
fn rfc7348_vxlan_outer_datagram_then_inner_packet() {
    let inner = eth(
        0x0800,
        &ipv4_full(
            1,
            [30, 0, 0, 1],
            [30, 0, 0, 2],
            &[],
            1,
            0,
            &icmp4(8, 0, &[0; 56]),
        ),
    );
    let outer = ipv4_full(
        17,
        [1, 1, 1, 1],
        [2, 2, 2, 2],
        &[],
        1,
        0,
        &udp_full(
            ip4([1, 1, 1, 1]),
            ip4([2, 2, 2, 2]),
            50000,
            4789,
            &vxlan(&inner),
        ),
    );
    let v = decode(101, &outer, true);
    assert_eq!(v.len(), 2);
    assert_eq!(
        (v[0].proto, v[0].dport, v[0].tunnels.len()),
        (Transport::Udp, 4789, 0)
    );
    assert_eq!(
        (v[1].proto, v[1].sport, v[1].dport, v[1].ip_len),
        (Transport::Icmp, 8, 0, 84)
    );
    let t = &v[1].tunnels;
    assert_eq!(
        (t.len(), t[0].kind, t[0].outer_sport, t[0].outer_dport),
        (1, TunnelKind::Vxlan, 50000, 4789)
    );
    assert_eq!(t[0].outer_src, ip4([1, 1, 1, 1]));
    // the I flag clear: not VXLAN, only the outer datagram
    let mut bad = vxlan(&inner);
    bad[0] = 0;
    let outer = ipv4(17, &udp4(50000, 4789, &bad));
    assert_eq!(decode(101, &outer, true).len(), 1);
}

#[test]
fn rfc8926_geneve_with_options() {
    let inner = ipv4_full(
        17,
        [30, 0, 0, 1],
        [30, 0, 0, 2],
        &[],
        1,
        0,
        &udp_full(ip4([30, 0, 0, 1]), ip4([30, 0, 0, 2]), 9, 10, b"g"),
    );
    let mut g = vec![0x01, 0, 0x08, 0x00, 0, 0, 1, 0, 0x01, 0x02, 0x03, 0x00];
    g.extend_from_slice(&inner);
    let v = decode(101, &ipv4(17, &udp4(1, 6081, &g)), true);
    assert_eq!(v.len(), 2);
    assert_eq!((v[1].sport, v[1].tunnels[0].kind), (9, TunnelKind::Geneve));
}

#[test]
fn rfc2784_gre_ipv4_and_transparent_ethernet_bridging() {
    let inner = ipv4_full(
        6,
        [9, 9, 9, 9],
        [8, 8, 8, 8],
        &[],
        1,
        0,
        &tcp_full(
            ip4([9, 9, 9, 9]),
            ip4([8, 8, 8, 8]),
            1,
            22,
            0,
            0,
            flags::SYN,
            0,
            &[],
            &[],
        ),
    );
    let mut g = vec![0x00, 0x00, 0x08, 0x00];
    g.extend_from_slice(&inner);
    let v = decode(101, &ipv4(47, &g), true);
    let p = one(&v);
    assert_eq!(
        (p.dport, p.tunnels[0].kind, p.tunnels[0].outer_sport),
        (22, TunnelKind::Gre, 0)
    );
    // with key and sequence number, carrying Ethernet
    let mut g = vec![0x30, 0x00, 0x65, 0x58, 0, 0, 0, 1, 0, 0, 0, 2];
    g.extend_from_slice(&eth(0x0800, &inner));
    assert_eq!(one(&decode(101, &ipv4(47, &g), true)).dport, 22);
    // GRE in UDP (RFC 8086): the outer datagram, then the inner packet
    let mut g = vec![0x00, 0x00, 0x08, 0x00];
    g.extend_from_slice(&inner);
    let v = decode(101, &ipv4(17, &udp4(3000, 4754, &g)), true);
    assert_eq!(
        (v.len(), v[1].tunnels[0].kind, v[1].tunnels[0].outer_dport),
        (2, TunnelKind::Gre, 4754)
    );
}

#[test]
fn rfc2637_pptp_enhanced_gre_with_ppp() {
    let inner = ipv4_full(
        17,
        [9, 9, 9, 9],
        [8, 8, 8, 8],
        &[],
        1,
        0,
        &udp_full(ip4([9, 9, 9, 9]), ip4([8, 8, 8, 8]), 1, 2, b"p"),
    );
    let mut g = vec![
        0x30, 0x01, 0x88, 0x0b, 0, 20, 0, 1, 0, 0, 0, 1, 0xff, 0x03, 0x00, 0x21,
    ];
    g.extend_from_slice(&inner);
    let v = decode(101, &ipv4(47, &g), true);
    assert_eq!(
        (one(&v).payload_len, one(&v).tunnels[0].kind),
        (1, TunnelKind::Gre)
    );
}

#[test]
fn rfc2003_ip_in_ip_and_rfc4213_6in4() {
    let inner = ipv4_full(
        17,
        [9, 9, 9, 9],
        [8, 8, 8, 8],
        &[],
        1,
        0,
        &udp_full(ip4([9, 9, 9, 9]), ip4([8, 8, 8, 8]), 1, 2, b"x"),
    );
    let v = decode(101, &ipv4(4, &inner), true);
    assert_eq!(
        (
            one(&v).src,
            one(&v).tunnels[0].kind,
            one(&v).tunnels[0].outer_src
        ),
        (ip4([9, 9, 9, 9]), TunnelKind::IpInIp, ip4(A4))
    );
    let inner6 = ipv6(17, &udp_full(ip6(A6), ip6(B6), 1, 2, b"six"));
    let v = decode(101, &ipv4(41, &inner6), true);
    assert_eq!((one(&v).ip_version, one(&v).payload_len), (6, 3));
}

#[test]
fn zeek_tunnel_max_depth_is_four() {
    let mut p = ipv4_full(
        17,
        [9, 9, 9, 9],
        [8, 8, 8, 8],
        &[],
        1,
        0,
        &udp_full(ip4([9, 9, 9, 9]), ip4([8, 8, 8, 8]), 1, 2, b"x"),
    );
    for _ in 0..MAX_TUNNEL_DEPTH {
        p = ipv4(4, &p);
    }
    assert_eq!(one(&decode(101, &p, true)).tunnels.len(), MAX_TUNNEL_DEPTH);
    let deeper = ipv4(4, &p);
    assert!(decode(101, &deeper, true).is_empty());
}

#[test]
fn nested_tunnels_vxlan_inside_gre() {
    let inner = eth(
        0x0800,
        &ipv4_full(
            1,
            [30, 0, 0, 1],
            [30, 0, 0, 2],
            &[],
            1,
            0,
            &icmp4(0, 0, b"pong"),
        ),
    );
    let mid = ipv4_full(
        17,
        [5, 5, 5, 5],
        [6, 6, 6, 6],
        &[],
        1,
        0,
        &udp_full(
            ip4([5, 5, 5, 5]),
            ip4([6, 6, 6, 6]),
            7000,
            4789,
            &vxlan(&inner),
        ),
    );
    let mut g = vec![0x00, 0x00, 0x08, 0x00];
    g.extend_from_slice(&mid);
    let v = decode(101, &ipv4(47, &g), true);
    assert_eq!(v.len(), 2);
    assert_eq!(
        v[0].tunnels.iter().map(|t| t.kind).collect::<Vec<_>>(),
        vec![TunnelKind::Gre]
    );
    assert_eq!(
        v[1].tunnels.iter().map(|t| t.kind).collect::<Vec<_>>(),
        vec![TunnelKind::Gre, TunnelKind::Vxlan]
    );
    assert_eq!((v[1].sport, v[1].dport), (0, 8));
}

fn teredo_inner_packet() -> Vec<u8> {
    let s = [
        0x20, 0x01, 0, 0, 0x41, 0x37, 0x9e, 0x50, 0x80, 0, 0xf1, 0x2a, 0xb9, 0xc8, 0x28, 0x15,
    ];
    ipv6_full(58, s, B6, &icmp6(ip6(s), ip6(B6), 128, 0, b"ping"))
}

#[test]
fn rfc4380_teredo_with_origin_indication() {
    let mut t = vec![0, 0, 0xf1, 0x2a, 0xb9, 0xc8, 0x28, 0x15];
    t.extend_from_slice(&teredo_inner_packet());
    let v = decode(101, &ipv4(17, &udp4(3544, 40000, &t)), true);
    assert_eq!(v.len(), 2);
    assert_eq!(
        (v[1].sport, v[1].dport, v[1].tunnels[0].kind),
        (128, 129, TunnelKind::Teredo)
    );
    // detected on another port by Zeek's signature (2001:0000::/32 source)
    let v = decode(
        101,
        &ipv4(17, &udp4(32900, 40000, &teredo_inner_packet())),
        true,
    );
    assert_eq!(v.len(), 2);
}

#[test]
fn zeek_teredo_checks_keep_ordinary_udp_on_3544_whole() {
    // A DNS-like payload on port 3544 is not Teredo
    let dns = [
        0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'w', b'w', 0, 0, 1, 0, 1,
    ];
    assert_eq!(decode(101, &ipv4(17, &udp4(3544, 53, &dns)), true).len(), 1);
    // an IPv6 header whose payload length disagrees with the datagram
    let mut p = teredo_inner_packet();
    p.extend_from_slice(&[0; 4]);
    assert_eq!(decode(101, &ipv4(17, &udp4(5000, 3544, &p)), true).len(), 1);
    // a bubble with trailing bytes is accepted (and has no transport)
    let mut b = ipv6(59, &[]);
    b.extend_from_slice(&[0; 8]);
    assert_eq!(decode(101, &ipv4(17, &udp4(5000, 3544, &b)), true).len(), 1);
}

#[test]
fn ayiya_forward_carrying_ipv6() {
    // identity length 2^1, signature 5 * 4 = 20 bytes (SHA-1), opcode 1 (forward), next header 41
    let mut a = vec![0x10, 0x52, 0x11, 41, 0, 0, 0, 0, 0xaa, 0xbb];
    a.extend_from_slice(&[0x5a; 20]);
    a.extend_from_slice(&ipv6(17, &udp_full(ip6(A6), ip6(B6), 11, 12, b"ay")));
    let v = decode(101, &ipv4(17, &udp4(40000, 5072, &a)), true);
    assert_eq!(v.len(), 2);
    assert_eq!((v[1].sport, v[1].tunnels[0].kind), (11, TunnelKind::Ayiya));
    // opcode other than forward: only the outer datagram
    a[2] = 0x12;
    assert_eq!(
        decode(101, &ipv4(17, &udp4(40000, 5072, &a)), true).len(),
        1
    );
}

#[test]
fn gtpv1_u_g_pdu_with_sequence_and_extension_header() {
    let inner = ipv4_full(
        6,
        [9, 9, 9, 9],
        [8, 8, 8, 8],
        &[],
        1,
        0,
        &tcp_full(
            ip4([9, 9, 9, 9]),
            ip4([8, 8, 8, 8]),
            1,
            80,
            0,
            0,
            flags::SYN,
            0,
            &[],
            &[],
        ),
    );
    let mut g = vec![
        0x36, 0xff, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0x85, 1, 0xaa, 0xbb, 0x00,
    ];
    g.extend_from_slice(&inner);
    let v = decode(101, &ipv4(17, &udp4(2152, 2152, &g)), true);
    assert_eq!(v.len(), 2);
    assert_eq!((v[1].dport, v[1].tunnels[0].kind), (80, TunnelKind::GtpU));
    // a message type other than G-PDU (echo request): only the outer datagram
    let echo = [0x32, 0x01, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0];
    assert_eq!(
        decode(101, &ipv4(17, &udp4(2152, 2152, &echo)), true).len(),
        1
    );
}

#[test]
fn garbage_never_panics() {
    let samples: Vec<Vec<u8>> = vec![
        eth(0x0800, &ipv4(6, &tcp4(1, 2, flags::SYN, b"abc"))),
        eth(
            0x86dd,
            &ipv6(
                17,
                &udp_full(
                    ip6(A6),
                    ip6(B6),
                    1,
                    4789,
                    &vxlan(&eth(0x0800, &ipv4(1, &icmp4(8, 0, b"x")))),
                ),
            ),
        ),
        eth(
            0x0800,
            &ipv4(
                47,
                &[
                    0x30, 0x01, 0x88, 0x0b, 0, 20, 0, 1, 0, 0, 0, 1, 0xff, 0x03, 0x00, 0x21, 0x45,
                ],
            ),
        ),
        eth(
            0x0800,
            &ipv4(
                17,
                &udp4(
                    1,
                    2152,
                    &[
                        0x36, 0xff, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0x85, 1, 0xaa, 0xbb, 0x00,
                    ],
                ),
            ),
        ),
        eth(0x0800, &ipv4_full(17, A4, B4, &[], 3, 0x2000, &[1; 16])),
    ];
    let mut d = Decoder::new(DecodeOptions {
        check_checksums: true,
        ..Default::default()
    });
    for s in &samples {
        for i in 0..s.len() {
            for val in [0u8, 0xff, 0x0f, 0x40, 0x60] {
                let mut v = s.clone();
                v[i] = val;
                for cut in [v.len(), i] {
                    let mut out = Vec::new();
                    let f = Frame {
                        number: 1,
                        ts_ns: 0,
                        linktype: 1,
                        data: &v[..cut],
                        orig_len: v.len() as u32,
                    };
                    let _ = d.decode(&f, &mut out);
                }
            }
        }
    }
}
