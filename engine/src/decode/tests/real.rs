//! Real captures: every file under captures/ and the Zeek oracle decodes without error, and
//! specific counts and fields match what tshark 4.0 shows for them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::capture::CaptureReader;
use crate::decode::{DecodeOptions, Decoder, Transport, TunnelKind};

/// One decoded packet, flattened: (frame, proto, src, sport, dst, dport, payload_len, ip_len,
/// tunnel kinds).
pub(crate) type Row = (
    u64,
    Transport,
    String,
    u16,
    String,
    u16,
    u32,
    u32,
    Vec<TunnelKind>,
);

pub(crate) fn decode_file(path: &Path, check: bool) -> Result<(u64, Vec<Row>), String> {
    let mut r = CaptureReader::open(path).map_err(|e| e.to_string())?;
    let mut d = Decoder::new(DecodeOptions {
        check_checksums: check,
        ..Default::default()
    });
    let mut rows = Vec::new();
    let mut frames = 0;
    while let Some(f) = r.next_frame().map_err(|e| e.to_string())? {
        frames += 1;
        let mut out = Vec::new();
        d.decode(&f, &mut out).map_err(|e| e.to_string())?;
        for p in &out {
            if check && p.checksum_bad {
                continue;
            }
            rows.push((
                p.frame,
                p.proto,
                p.src.to_string(),
                p.sport,
                p.dst.to_string(),
                p.dport,
                p.payload_len,
                p.ip_len,
                p.tunnels.iter().map(|t| t.kind).collect(),
            ));
        }
    }
    Ok((frames, rows))
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.to_string_lossy().contains(".pcap") {
            out.push(p);
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn oracle(name: &str) -> Option<PathBuf> {
    let p = root().join("../shared/oracle").join(name);
    p.exists().then_some(p)
}

/// `PCAP_DUMP=file cargo test dump -- --nocapture` prints one line per packet.
#[test]
fn dump() {
    let Ok(f) = std::env::var("PCAP_DUMP") else {
        return;
    };
    let (_, rows) = decode_file(Path::new(&f), false).unwrap();
    for r in rows {
        println!(
            "{}\t{:?}\t{}\t{}\t{}\t{}\t{}\t{}\t{:?}",
            r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8
        );
    }
}

#[test]
fn every_capture_reads_and_decodes() {
    let mut all = Vec::new();
    files(&root().join("captures"), &mut all);
    files(&root().join("../shared/oracle"), &mut all);
    let mut decoded = 0;
    for f in &all {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        match decode_file(f, false) {
            Ok((frames, _)) => {
                assert!(frames > 0, "{name}");
                decoded += 1;
            }
            Err(e) => {
                let expected_bad = matches!(
                    name.as_str(),
                    "empty.pcap" | "not_a_capture.pcap" | "wifi_80211.pcap"
                );
                assert!(expected_bad, "{name}: {e}");
            }
        }
    }
    assert!(all.is_empty() || decoded >= 10);
}

fn count(rows: &[Row], proto: Transport) -> usize {
    rows.iter().filter(|r| r.1 == proto).count()
}

type FlowKey = (Transport, String, u16, String, u16);

/// Per direction: (packets, payload bytes, ip bytes) of the inner or outer flows.
fn per_direction(rows: &[Row]) -> BTreeMap<FlowKey, (u32, u32, u32)> {
    let mut m = BTreeMap::new();
    for r in rows {
        let e = m
            .entry((r.1, r.2.clone(), r.3, r.4.clone(), r.5))
            .or_insert((0, 0, 0));
        e.0 += 1;
        e.1 += r.6;
        e.2 += r.7;
    }
    m
}

fn key(p: Transport, s: &str, sp: u16, d: &str, dp: u16) -> FlowKey {
    (p, s.to_string(), sp, d.to_string(), dp)
}

#[test]
fn vxlan_inner_icmp_matches_zeek_conn_log() {
    let Some(f) = oracle("zeek-tunnels/vxlan.pcap") else {
        return;
    };
    let (frames, rows) = decode_file(&f, true).unwrap();
    assert_eq!(frames, 10);
    let icmp: Vec<_> = rows.iter().filter(|r| r.1 == Transport::Icmp).collect();
    assert_eq!(icmp.len(), 8);
    assert!(icmp.iter().all(|r| r.8 == vec![TunnelKind::Vxlan]));
    let m = per_direction(&rows);
    // conn.log: 10.0.0.1 8 -> 10.0.0.2 0 icmp, orig 224 bytes/4 pkts/336 ip bytes, resp the same.
    assert_eq!(
        m[&key(Transport::Icmp, "10.0.0.1", 8, "10.0.0.2", 0)],
        (4, 224, 336)
    );
    assert_eq!(
        m[&key(Transport::Icmp, "10.0.0.2", 0, "10.0.0.1", 8)],
        (4, 224, 336)
    );
    // The outer flows: 192.168.56.12:38071 -> .11:4789, 4 pkts, 424 bytes, 536 ip bytes.
    assert_eq!(
        m[&key(
            Transport::Udp,
            "192.168.56.12",
            38071,
            "192.168.56.11",
            4789
        )],
        (4, 424, 536)
    );
    assert_eq!(
        m[&key(
            Transport::Udp,
            "192.168.56.11",
            39924,
            "192.168.56.12",
            4789
        )],
        (1, 50, 78)
    );
}

#[test]
fn geneve_matches_zeek_conn_log() {
    let Some(f) = oracle("zeek-tunnels/geneve.pcap") else {
        return;
    };
    let (_, rows) = decode_file(&f, true).unwrap();
    let m = per_direction(&rows);
    assert_eq!(
        m[&key(Transport::Udp, "20.0.0.2", 0, "20.0.0.1", 6081)],
        (3, 318, 402)
    );
    assert_eq!(
        m[&key(Transport::Udp, "20.0.0.1", 50901, "20.0.0.2", 6081)],
        (3, 342, 426)
    );
    assert_eq!(
        m[&key(Transport::Icmp, "30.0.0.1", 8, "30.0.0.2", 0)],
        (3, 168, 252)
    );
    assert_eq!(
        m[&key(Transport::Icmp, "30.0.0.2", 0, "30.0.0.1", 8)],
        (3, 168, 252)
    );
}

#[test]
fn gre_sample_matches_zeek_conn_log() {
    let Some(f) = oracle("zeek-tunnels/gre-sample.pcap") else {
        return;
    };
    let (_, rows) = decode_file(&f, true).unwrap();
    assert!(rows.iter().all(|r| r.8 == vec![TunnelKind::Gre]));
    let m = per_direction(&rows);
    assert_eq!(
        m[&key(Transport::Tcp, "66.59.111.190", 40264, "172.28.2.3", 22)],
        (12, 952, 1584)
    );
    assert_eq!(
        m[&key(Transport::Tcp, "172.28.2.3", 22, "66.59.111.190", 40264)],
        (10, 1671, 2199)
    );
    assert_eq!(
        m[&key(Transport::Udp, "66.59.111.190", 37675, "172.28.2.3", 53)],
        (2, 66, 122)
    );
    assert_eq!(
        m[&key(Transport::Icmp, "66.59.111.190", 8, "172.28.2.3", 0)],
        (4, 224, 336)
    );
    // Port unreachable (type 3, code 3): a one-way ICMP "connection" of its own.
    assert_eq!(
        m[&key(Transport::Icmp, "172.28.2.3", 3, "66.59.111.190", 3)],
        (2, 122, 178)
    );
}

#[test]
fn gtp_inner_ipv6_matches_zeek_conn_log() {
    let Some(f) = oracle("zeek-tunnels/gtp-inner-ipv6.pcap") else {
        return;
    };
    let (_, rows) = decode_file(&f, true).unwrap();
    let m = per_direction(&rows);
    assert_eq!(
        m[&key(Transport::Udp, "118.92.124.41", 2152, "118.92.124.72", 2152)],
        (2, 152, 208)
    );
    assert_eq!(
        m[&key(
            Transport::Udp,
            "fe80::224c:4fff:fe43:414c",
            1234,
            "ff02::1:3",
            5355
        )],
        (1, 32, 80)
    );
    assert_eq!(
        m[&key(
            Transport::Icmp,
            "fe80::224c:4fff:fe43:414c",
            133,
            "ff02::2",
            134
        )],
        (1, 8, 56)
    );
}

#[test]
fn teredo_matches_zeek_conn_log() {
    let Some(f) = oracle("zeek-tunnels/teredo.pcap") else {
        return;
    };
    let (_, rows) = decode_file(&f, true).unwrap();
    let m = per_direction(&rows);
    let (c, s) = (
        "2001:0:4137:9e50:8000:f12a:b9c8:2815",
        "2001:4860:0:2001::68",
    );
    assert_eq!(m[&key(Transport::Tcp, c, 1286, s, 80)], (10, 1675, 2279));
    assert_eq!(m[&key(Transport::Tcp, s, 80, c, 1286)], (12, 10467, 11191));
    assert_eq!(m[&key(Transport::Icmp, c, 128, s, 129)], (1, 4, 52));
    // The relay flow on port 32900 is found by Zeek's Teredo detection, not by port.
    assert_eq!(
        m[&key(Transport::Udp, "192.168.2.16", 3797, "83.170.1.38", 32900)],
        (12, 2359, 2695)
    );
    assert_eq!(
        m[&key(Transport::Udp, "192.168.2.16", 3797, "65.55.158.80", 3544)],
        (2, 129, 185)
    );
    assert_eq!(
        m[&key(Transport::Udp, "192.168.2.16", 1920, "192.168.2.1", 53)].0,
        2 + 3
    );
    let inner: Vec<_> = rows
        .iter()
        .filter(|r| r.8 == vec![TunnelKind::Teredo])
        .collect();
    assert_eq!(inner.len(), 10 + 12 + 2 + 2);
}

#[test]
fn plain_captures_match_tshark() {
    let Some(f) = oracle("zeek/wikipedia.pcap") else {
        return;
    };
    let (frames, rows) = decode_file(&f, false).unwrap();
    assert_eq!(frames, 136);
    // tshark -Y tcp | wc -l; tshark -Y udp | wc -l
    let (tcp, udp) = (count(&rows, Transport::Tcp), count(&rows, Transport::Udp));
    assert_eq!(tcp + udp + count(&rows, Transport::Icmp), rows.len());
    assert_eq!((tcp, udp), (78, 48));

    let Some(f) = oracle("zeek/vlan-mpls.pcap") else {
        return;
    };
    let (frames, rows) = decode_file(&f, false).unwrap();
    assert_eq!(frames, 47);
    assert_eq!(count(&rows, Transport::Tcp), 47);

    let Some(f) = oracle("zeek/q-in-q.pcap") else {
        return;
    };
    let (_, rows) = decode_file(&f, false).unwrap();
    assert_eq!(count(&rows, Transport::Udp), 4);
}

#[test]
fn synthetic_link_types_match_tshark() {
    let dir = root().join("captures/synthetic");
    if !dir.exists() {
        return;
    }
    // tshark -r FILE -Y tcp | wc -l: every frame is a TCP segment.
    for (name, packets) in [
        ("sll.pcap", 11u64),
        ("sll2.pcap", 11),
        ("loopback_null.pcap", 11),
        ("mpls.pcap", 11),
        ("qinq.pcap", 11),
        ("vlan.pcap", 11),
        ("ipv6.pcap", 11),
        ("gzip.pcap.gz", 11),
        ("pcapng.pcapng", 11),
    ] {
        let (frames, rows) = decode_file(&dir.join(name), true).unwrap();
        assert_eq!(frames, packets, "{name}");
        assert_eq!(count(&rows, Transport::Tcp), packets as usize, "{name}");
    }
    // truncated.pcap: 7 complete frames, then cut in the 8th (tshark: "cut short").
    let mut r = CaptureReader::open(&dir.join("bad/truncated.pcap")).unwrap();
    let mut n = 0;
    while r.next_frame().unwrap().is_some() {
        n += 1;
    }
    assert_eq!((n, r.truncated_after()), (7, Some(7)));
}
