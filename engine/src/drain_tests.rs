//! The end of a capture, finished lazily: the connections still open leave the table in
//! start order and become records a batch at a time, merged with the records already
//! waiting; and a connection of one segment, kept as that segment's header. Both must
//! give exactly the records (content and order) of finishing everything at once with
//! full connections. Hand-built packets and captures, no capture file, no tshark.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::capture::CaptureReader;
use crate::decode::flags::{ACK, FIN, PSH, RST, SYN};
use crate::decode::{Packet, Transport};
use crate::flow::NS;
use crate::pipeline::{CaptureRun, Tracker, TrackerOptions};
use crate::record::ConnectionRecord;

// ---------------------------------------------------------------- a capture, by hand

fn csum(parts: &[&[u8]]) -> u16 {
    let mut sum = 0u32;
    for part in parts {
        for pair in part.chunks(2) {
            let hi = u32::from(pair[0]) << 8;
            let lo = pair.get(1).map_or(0, |&b| u32::from(b));
            sum += hi | lo;
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, body: &[u8]) -> Vec<u8> {
    let len = (20 + body.len()) as u16;
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&len.to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0x40, 0, 64, proto, 0, 0]);
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let c = csum(&[&ip]);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    ip.extend_from_slice(body);
    ip
}

/// A TCP segment in IPv4, checksums right.
#[allow(clippy::too_many_arguments)]
fn tcp(
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    flags: u8,
    seq: u32,
    ack: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    let len = (t.len() as u16).to_be_bytes();
    let c = csum(&[&src, &dst, &[0, 6], &len, &t]);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    ipv4(src, dst, 6, &t)
}

fn udp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = (8 + payload.len()) as u16;
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&len.to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    let c = csum(&[&src, &dst, &[0, 17], &len.to_be_bytes(), &u]);
    u[6..8].copy_from_slice(&c.to_be_bytes());
    ipv4(src, dst, 17, &u)
}

/// `inner` (an IPv4 packet) carried in IP-in-IP between `a` and `b`.
fn ipip(a: [u8; 4], b: [u8; 4], inner: &[u8]) -> Vec<u8> {
    ipv4(a, b, 4, inner)
}

/// `inner` (an IPv4 packet) carried in VXLAN (UDP 4789) between `a` and `b`.
fn vxlan(a: [u8; 4], b: [u8; 4], inner: &[u8]) -> Vec<u8> {
    let mut v = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
    v.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0x08, 0]);
    v.extend_from_slice(inner);
    udp(a, 50000, b, 4789, &v)
}

/// A raw-IPv4 (link type 228) pcap of `(microseconds from the start, packet)`.
fn pcap(frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&228u32.to_le_bytes());
    for (us, ip) in frames {
        let secs = 1_700_000_000 + (us / 1_000_000) as u32;
        out.extend_from_slice(&secs.to_le_bytes());
        out.extend_from_slice(&((us % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        out.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        out.extend_from_slice(ip);
    }
    out
}

const C1: [u8; 4] = [10, 0, 0, 1];
const C2: [u8; 4] = [10, 0, 0, 2];
const C3: [u8; 4] = [10, 0, 0, 3];
const SV: [u8; 4] = [10, 0, 0, 9];
const T1: [u8; 4] = [192, 168, 0, 1];
const T2: [u8; 4] = [192, 168, 0, 2];
const MS: u64 = 1000;
const SEC: u64 = 1_000_000;

/// Connections of every kind, some over before the end (their records wait for an
/// earlier one still open), most open at the end, their starts interleaved.
fn mixed_capture() -> Vec<u8> {
    let get = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
    let mut f: Vec<(u64, Vec<u8>)> = vec![
        // 1: established with an HTTP exchange, open at the end.
        (0, tcp(C1, 40001, SV, 80, SYN, 100, 0, &[])),
        (MS, tcp(SV, 80, C1, 40001, SYN | ACK, 900, 101, &[])),
        (2 * MS, tcp(C1, 40001, SV, 80, ACK, 101, 901, &[])),
        // 2: a lone SYN, open at the end.
        (3 * MS, tcp(C2, 40002, SV, 22, SYN, 200, 0, &[])),
        // 3: refused: over before the end, waits for 1 and 2.
        (4 * MS, tcp(C3, 40003, SV, 9, SYN, 300, 0, &[])),
        (5 * MS, tcp(SV, 9, C3, 40003, RST | ACK, 0, 301, &[])),
        (6 * MS, tcp(C1, 40001, SV, 80, PSH | ACK, 101, 901, get)),
        (7 * MS, tcp(SV, 80, C1, 40001, PSH | ACK, 901, 129, ok)),
        // 4: a lone SYN in IP-in-IP (a tunnel parent).
        (
            8 * MS,
            ipip(T1, T2, &tcp(C2, 40004, SV, 80, SYN, 400, 0, &[])),
        ),
        // 5: a UDP flow, open at the end.
        (9 * MS, udp(C3, 5000, SV, 5001, b"ping")),
        // 6: a connection in VXLAN (the outer UDP flow, 7, is its parent), established.
        (
            10 * MS,
            vxlan(T1, T2, &tcp(C1, 40006, SV, 443, SYN, 600, 0, &[])),
        ),
        (
            11 * MS,
            vxlan(T2, T1, &tcp(SV, 443, C1, 40006, SYN | ACK, 60, 601, &[])),
        ),
        // 8: closed both ways: over before the end.
        (12 * MS, tcp(C2, 40008, SV, 80, SYN, 800, 0, &[])),
        (13 * MS, tcp(SV, 80, C2, 40008, SYN | ACK, 80, 801, &[])),
        (14 * MS, tcp(C2, 40008, SV, 80, ACK, 801, 81, &[])),
        (15 * MS, tcp(C2, 40008, SV, 80, FIN | ACK, 801, 81, &[])),
        (16 * MS, tcp(SV, 80, C2, 40008, FIN | ACK, 81, 802, &[])),
        (17 * MS, tcp(C2, 40008, SV, 80, ACK, 802, 82, &[])),
        // 9: mid-stream data, no handshake (roles guessed), open.
        (
            18 * MS,
            tcp(SV, 80, C3, 40009, PSH | ACK, 5000, 7000, b"xyz"),
        ),
        // 10: a lone RST and 11: a lone FIN.
        (19 * MS, tcp(C3, 40010, SV, 80, RST, 1, 0, &[])),
        (20 * MS, tcp(C3, 40011, SV, 80, FIN | ACK, 1, 1, &[])),
        // 12: a SYN answered 2 s later (kept as its SYN meanwhile).
        (21 * MS, tcp(C1, 40012, SV, 80, SYN, 1200, 0, &[])),
    ];
    // Many lone SYNs, so that the end has more than one batch to give.
    for i in 0..40u16 {
        let t = 22 * MS + u64::from(i) * MS;
        f.push((t, tcp(C2, 41000 + i, SV, 80, SYN, u32::from(i), 0, &[])));
    }
    f.push((2 * SEC, tcp(SV, 80, C1, 40012, SYN | ACK, 5, 1201, &[])));
    // 2: its SYN again after Zeek gave it up (a new connection on the same 4-tuple).
    f.push((8 * SEC, tcp(C2, 40002, SV, 22, SYN, 200, 0, &[])));
    // 3: reused by a new SYN; the refused one is over long before.
    f.push((8 * SEC + MS, tcp(C3, 40003, SV, 9, SYN, 333, 0, &[])));
    pcap(&f)
}

/// Every record of a capture, as the batches `step(batch, max_frames)` handed them out,
/// with what was pending after each.
fn batches(
    data: &[u8],
    opts: &TrackerOptions,
    eager: bool,
    batch: usize,
    max_frames: u64,
    release_every: u64,
) -> Vec<(Vec<ConnectionRecord>, usize)> {
    let reader = CaptureReader::from_reader(Box::new(std::io::Cursor::new(data.to_vec())))
        .expect("a capture");
    let mut run = CaptureRun::new(reader, opts.clone()).with_release_every(release_every);
    if eager {
        run = run.with_eager_finish();
    }
    let mut out = Vec::new();
    while !run.is_finished() {
        let b = run.step(batch, max_frames).expect("readable");
        out.push((b, run.pending()));
    }
    out
}

/// The records of a tracker fed every packet of `data` with full connections, finished
/// all at once at the end (the tracker's own `finish`), in start order.
fn reference(data: &[u8], opts: &TrackerOptions) -> Vec<ConnectionRecord> {
    let mut reader = CaptureReader::from_reader(Box::new(std::io::Cursor::new(data.to_vec())))
        .expect("a capture");
    let mut decoder = crate::decode::Decoder::new(crate::decode::DecodeOptions {
        check_checksums: opts.check_checksums,
        ..Default::default()
    });
    let mut t = Tracker::new(opts.clone());
    let mut recs = Vec::new();
    while let Some(frame) = reader.next_frame().expect("readable") {
        let mut packets = Vec::new();
        decoder.decode(&frame, &mut packets).expect("decodable");
        for p in &packets {
            t.feed(p);
        }
        recs.extend(t.take_records());
    }
    t.finish();
    recs.extend(t.take_records());
    recs.sort_by_key(|r| (r.first_ts_ns, r.first_frame, r.id));
    recs
}

fn options() -> Vec<TrackerOptions> {
    let base = TrackerOptions {
        parse_app: true,
        ..TrackerOptions::default()
    };
    vec![
        base.clone(),
        TrackerOptions {
            sweep_every: 1,
            ..base.clone()
        },
        TrackerOptions {
            check_checksums: true,
            no_app_details: true,
            ..base.clone()
        },
        TrackerOptions {
            select_frames: Some(vec![1, 4, 9, 25, 70].into()),
            ..base
        },
    ]
}

#[test]
fn the_end_of_a_capture_gives_the_records_of_an_eager_end_batch_by_batch() {
    let data = mixed_capture();
    for opts in options() {
        for (batch, max_frames, release_every) in [(1, 1, 1), (3, 5, 2), (7, 1000, 65536)] {
            let lazy = batches(&data, &opts, false, batch, max_frames, release_every);
            let eager = batches(&data, &opts, true, batch, max_frames, release_every);
            assert_eq!(lazy.len(), eager.len(), "{opts:?} batch {batch}");
            for (i, (l, e)) in lazy.iter().zip(&eager).enumerate() {
                assert_eq!(l, e, "{opts:?} batch {batch}: step {i} differs");
            }
            // No step hands out more than asked for (at least one, at the end).
            assert!(lazy.iter().all(|(b, _)| b.len() <= batch.max(1)));
        }
    }
}

#[test]
fn the_lazy_end_gives_the_records_of_full_connections_in_start_order() {
    let data = mixed_capture();
    for opts in options() {
        let want = reference(&data, &opts);
        let got: Vec<ConnectionRecord> = batches(&data, &opts, false, 4, 3, 1)
            .into_iter()
            .flat_map(|(b, _)| b)
            .collect();
        assert_eq!(got.len(), want.len(), "{opts:?}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "{opts:?}");
        }
        if opts.select_frames.is_none() {
            // What the capture holds: the tunnels named, the HTTP exchange seen, the
            // lone SYNs S0 and the refused one REJ.
            let by_port = |port: u16| {
                got.iter()
                    .find(|r| r.client.1 == port && r.proto == Transport::Tcp)
                    .unwrap_or_else(|| panic!("no connection from port {port}"))
            };
            assert_eq!(by_port(40001).http_requests, 1);
            assert_eq!(by_port(40001).conn_state, "S1");
            assert_eq!(by_port(40002).conn_state, "S0");
            assert_eq!(by_port(40003).conn_state, "REJ");
            assert_eq!(by_port(40004).tunnel_parents.len(), 1);
            // Each direction's VXLAN packets are an outer UDP flow of their own.
            let mut outer: Vec<String> = got
                .iter()
                .filter(|r| r.server.1 == 4789)
                .map(|r| r.uid.clone())
                .collect();
            outer.sort();
            assert_eq!(outer.len(), 2);
            assert_eq!(by_port(40006).tunnel_parents, outer);
            assert_eq!(by_port(40008).conn_state, "SF");
            assert_eq!(by_port(40012).history, "Sh");
            assert_eq!(got.iter().filter(|r| r.client.1 == 40002).count(), 2);
        }
    }
}

#[test]
fn records_waiting_and_connections_still_open_leave_in_start_order() {
    // 1 (open to the end) starts first, 3 and 8 are over early and wait: the end gives 1,
    // then 3 from the heap, then the open ones and 8 by their starts.
    let data = mixed_capture();
    let opts = TrackerOptions {
        parse_app: true,
        ..TrackerOptions::default()
    };
    let steps = batches(&data, &opts, false, 1, 1000, 1);
    let keys: Vec<(i64, u64, u64)> = steps
        .iter()
        .flat_map(|(b, _)| b.iter().map(|r| (r.first_ts_ns, r.first_frame, r.id)))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    // The pending count at the end includes the connections not yet finished, and falls
    // by one a step.
    let tail: Vec<usize> = steps.iter().rev().take(5).map(|(_, p)| *p).collect();
    assert_eq!(tail, vec![0, 1, 2, 3, 4]);
}

// ---------------------------------------------------------------- one segment, kept

fn packet(
    ts_ms: i64,
    frame: u64,
    from: (&str, u16),
    to: (&str, u16),
    flags: u8,
) -> Packet<'static> {
    let (src, dst): (IpAddr, IpAddr) = (from.0.parse().unwrap(), to.0.parse().unwrap());
    Packet {
        frame,
        ts_ns: 1_700_000_000 * NS + ts_ms * 1_000_000,
        proto: Transport::Tcp,
        ip_version: 4,
        src,
        sport: from.1,
        dst,
        dport: to.1,
        ip_len: 40,
        flags,
        seq: 1000,
        ack: if flags & ACK != 0 { 1001 } else { 0 },
        payload_len: 0,
        window: 512,
        options: Default::default(),
        payload_captured: true,
        checksum_bad: false,
        icmp_one_way: false,
        foreign: false,
        tunnels: Vec::new(),
        payload: Cow::Borrowed(&[]),
    }
}

/// The records of `packets` through a tracker, with or without keeping one-segment
/// connections compactly, in start order.
fn track(packets: &[Packet<'static>], compact: bool, sweep_every: u64) -> Vec<ConnectionRecord> {
    let mut t = Tracker::new(TrackerOptions {
        compact_first_segments: compact,
        sweep_every,
        ..TrackerOptions::default()
    });
    let mut recs = Vec::new();
    for p in packets {
        t.feed(p);
        recs.extend(t.take_records());
    }
    t.finish_in_order();
    while let Some(r) = t.take_closing() {
        recs.push(r);
    }
    recs.sort_by_key(|r| (r.first_ts_ns, r.first_frame, r.id));
    recs
}

#[test]
fn a_connection_kept_as_its_first_segment_gives_the_record_of_the_full_one() {
    let (c, s) = (("10.0.0.1", 40000), ("10.0.0.2", 80));
    let mut odd = packet(0, 1, c, s, SYN);
    odd.checksum_bad = true;
    let scripts: Vec<Vec<Packet<'static>>> = vec![
        // A lone SYN; a lone SYN-ACK; a lone RST; a lone FIN; a lone ACK.
        vec![packet(0, 1, c, s, SYN)],
        vec![packet(0, 1, s, c, SYN | ACK)],
        vec![packet(0, 1, c, s, RST)],
        vec![packet(0, 1, c, s, FIN | ACK)],
        vec![packet(0, 1, c, s, ACK)],
        // Answered at once, answered after 4.9 s (the timers checked meanwhile).
        vec![packet(0, 1, c, s, SYN), packet(1, 2, s, c, SYN | ACK)],
        vec![packet(0, 1, c, s, SYN), packet(4900, 2, s, c, SYN | ACK)],
        // Answered after Zeek gave the SYN up (5 s): two connections.
        vec![packet(0, 1, c, s, SYN), packet(5100, 2, s, c, SYN | ACK)],
        // The SYN again after 70 s, another flow's packets between (sweeps).
        vec![
            packet(0, 1, c, s, SYN),
            packet(3000, 2, ("10.0.0.3", 1), s, SYN),
            packet(70_000, 3, c, s, SYN),
        ],
        // A RST, then the same flow's SYN 1 s later (the reset timer).
        vec![packet(0, 1, c, s, RST), packet(1000, 2, c, s, SYN)],
        // A mid-stream ACK, then 400 s of nothing, then another.
        vec![packet(0, 1, c, s, ACK), packet(400_000, 2, c, s, ACK)],
        // A bad checksum is still a packet (not checked here).
        vec![odd],
    ];
    for (i, script) in scripts.iter().enumerate() {
        for sweep_every in [0, 1] {
            let full = track(script, false, sweep_every);
            let kept = track(script, true, sweep_every);
            assert_eq!(kept, full, "script {i}, sweep every {sweep_every}");
        }
    }
}

#[test]
fn a_lone_syn_is_kept_as_its_header_and_unpacked_by_the_next_segment() {
    use crate::pipeline::Conn;
    let (c, s) = (("10.0.0.1", 40000), ("10.0.0.2", 80));
    let mut t = Tracker::new(TrackerOptions {
        compact_first_segments: true,
        ..TrackerOptions::default()
    });
    let id = t.feed(&packet(0, 1, c, s, SYN)).id;
    assert!(matches!(t.connection(id), Some(Conn::TcpFirst(_))));
    t.feed(&packet(1, 2, s, c, SYN | ACK));
    assert!(matches!(t.connection(id), Some(Conn::Tcp(_))));
    // Without the option (the step-by-step views), a connection is always whole.
    let mut t = Tracker::new(TrackerOptions::default());
    let id = t.feed(&packet(0, 1, c, s, SYN)).id;
    assert!(matches!(t.connection(id), Some(Conn::Tcp(_))));
}

#[test]
fn the_timers_a_kept_segment_was_checked_against_are_replayed() {
    use crate::flow::{Flow, Timeouts};
    use crate::tcp::first::FirstSegment;
    use crate::tcp::TcpConnection;
    use std::sync::Arc;
    let t = Arc::new(Timeouts::default());
    // A mid-stream ACK: its expire timer re-arms every 6 s until the 300 s timeout.
    let p = packet(0, 1, ("10.0.0.1", 40000), ("10.0.0.2", 80), ACK);
    let make = || {
        let mut c = TcpConnection::new(&p, &t, false, false);
        c.feed(&p);
        c
    };
    let mut kept = FirstSegment::keep(&p, &mut make()).expect("kept");
    let mut full = make();
    for secs in [3, 20, 7, 41] {
        let now = p.ts_ns + secs * NS;
        assert_eq!(kept.expired(now), full.expired(now), "at {secs} s");
    }
    assert_eq!(kept.to_connection().timers, full.timers);
    assert!(!kept.expired(p.ts_ns + 299 * NS));
    assert!(kept.expired(p.ts_ns + 300 * NS));
    assert!(full.expired(p.ts_ns + 300 * NS));
}

#[test]
fn an_open_connection_stays_within_its_allocation_sizes() {
    // What an open connection costs (issue 12): a pointer in the table's slot, the entry,
    // and a connection of one segment kept as its header (mimalloc rounds each up to its
    // size class: 80, 160, 768 bytes).
    use crate::pipeline::{Conn, Entry};
    use crate::tcp::first::FirstSegment;
    use crate::tcp::TcpConnection;
    use std::mem::size_of;
    assert_eq!(size_of::<Conn>(), 16);
    assert!(size_of::<Entry>() <= 80, "{}", size_of::<Entry>());
    assert!(
        size_of::<FirstSegment>() <= 160,
        "{}",
        size_of::<FirstSegment>()
    );
    assert!(
        size_of::<TcpConnection>() <= 768,
        "{}",
        size_of::<TcpConnection>()
    );
}

// ---------------------------------------------------------------- shards of a capture

/// An IPv4 packet split into two fragments (the first 8 bytes of its payload, the rest),
/// with identification `id`.
fn fragments(packet: &[u8], id: u16) -> (Vec<u8>, Vec<u8>) {
    let (hdr, body) = packet.split_at(20);
    let frag = |part: &[u8], offset: u16, more: bool| {
        let mut ip = hdr.to_vec();
        ip[2..4].copy_from_slice(&((20 + part.len()) as u16).to_be_bytes());
        ip[4..6].copy_from_slice(&id.to_be_bytes());
        let ff = (offset / 8) | if more { 0x2000 } else { 0 };
        ip[6..8].copy_from_slice(&ff.to_be_bytes());
        ip[10..12].copy_from_slice(&[0, 0]);
        let c = csum(&[&ip]);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        ip.extend_from_slice(part);
        ip
    };
    (frag(&body[..8], 0, true), frag(&body[8..], 8, false))
}

/// The mixed capture with a fragmented request added (its connection made, then its data
/// segment in two fragments).
fn sharded_capture() -> Vec<u8> {
    let mut frames = Vec::new();
    let data = mixed_capture();
    // Re-read the mixed capture's frames, then append a fragmented connection.
    let mut reader =
        CaptureReader::from_reader(Box::new(std::io::Cursor::new(data))).expect("a capture");
    while let Some(f) = reader.next_frame().expect("readable") {
        let us = (f.ts_ns / 1000 - 1_700_000_000 * 1_000_000) as u64;
        frames.push((us, f.data.to_vec()));
    }
    let t = 9 * SEC;
    let (a, b) = ([172, 16, 0, 1], [172, 16, 0, 2]);
    frames.push((t, tcp(a, 33000, b, 80, SYN, 10, 0, &[])));
    frames.push((t + MS, tcp(b, 80, a, 33000, SYN | ACK, 20, 11, &[])));
    frames.push((t + 2 * MS, tcp(a, 33000, b, 80, ACK, 11, 21, &[])));
    let (f1, f2) = fragments(
        &tcp(
            a,
            33000,
            b,
            80,
            PSH | ACK,
            11,
            21,
            b"GET / HTTP/1.0\r\n\r\n",
        ),
        7,
    );
    frames.push((t + 3 * MS, f1));
    frames.push((t + 4 * MS, f2));
    pcap(&frames)
}

/// Every record of `data` through a `CaptureRun` with these options (ids cleared: they
/// number the connections a run tracks).
fn run_records(data: &[u8], opts: &TrackerOptions) -> (Vec<ConnectionRecord>, u64) {
    let reader = CaptureReader::from_reader(Box::new(std::io::Cursor::new(data.to_vec())))
        .expect("a capture");
    let mut run = CaptureRun::new(reader, opts.clone());
    let mut out = Vec::new();
    while !run.is_finished() {
        out.extend(run.step(7, 5).expect("readable"));
    }
    for r in &mut out {
        r.id = 0;
    }
    (out, run.packets)
}

#[test]
fn the_shards_of_a_capture_give_each_record_of_the_whole_once() {
    use crate::decode::shard::Shard;
    let data = sharded_capture();
    let base = TrackerOptions {
        parse_app: true,
        ..TrackerOptions::default()
    };
    let (whole, packets) = run_records(&data, &base);
    assert!(
        whole
            .iter()
            .any(|r| r.http_requests == 1 && r.server.1 == 80 && r.client.1 == 33000),
        "the fragmented request is parsed"
    );
    let mut split_tunnel = false;
    for count in 1..=5u32 {
        let mut union = Vec::new();
        let mut counted = 0;
        for index in 0..count {
            let opts = TrackerOptions {
                shard: Shard::new(index, count),
                ..base.clone()
            };
            let (recs, n) = run_records(&data, &opts);
            assert!(
                count == 1 || recs.len() < whole.len(),
                "a shard keeps only its pairs"
            );
            counted += n;
            union.extend(recs);
        }
        union.sort_by(|a, b| {
            (a.first_ts_ns, a.first_frame, a.tunnel_parents.len(), &a.uid).cmp(&(
                b.first_ts_ns,
                b.first_frame,
                b.tunnel_parents.len(),
                &b.uid,
            ))
        });
        let mut expected = whole.clone();
        expected.sort_by(|a, b| {
            (a.first_ts_ns, a.first_frame, a.tunnel_parents.len(), &a.uid).cmp(&(
                b.first_ts_ns,
                b.first_frame,
                b.tunnel_parents.len(),
                &b.uid,
            ))
        });
        assert_eq!(union, expected, "{count} shards");
        assert_eq!(counted, packets, "{count} shards count every packet once");
        let (outer, inner) = (IpAddr::from(T1), IpAddr::from(C1));
        split_tunnel |= crate::decode::shard::shard_of(outer, IpAddr::from(T2), count)
            != crate::decode::shard::shard_of(inner, IpAddr::from(SV), count);
    }
    assert!(
        split_tunnel,
        "some count puts the VXLAN flow and its inner connection apart"
    );
}
