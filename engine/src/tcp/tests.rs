//! The tracker driven by hand-built packets (no capture, no tshark), named after the RFC 9293
//! sections and the Zeek behaviours they check.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::decode::flags::{ACK, FIN, RST, SYN};
use crate::decode::{Packet, Transport};
use crate::flow::NS;
use crate::pipeline::{Tracker, TrackerOptions};
use crate::record::ConnectionRecord;

const C: &str = "10.0.0.1";
const S: &str = "10.0.0.2";

/// A small script of segments between C:40000 and S:8080, one millisecond apart unless
/// `at` moves the clock.
struct Script {
    tracker: Tracker,
    frame: u64,
    ts: i64,
    cport: u16,
    sport: u16,
    records: Vec<ConnectionRecord>,
}

impl Script {
    fn new() -> Self {
        Script::with(TrackerOptions::default())
    }

    fn with(opts: TrackerOptions) -> Self {
        Script {
            tracker: Tracker::new(opts),
            frame: 0,
            ts: 1_700_000_000 * NS,
            cport: 40000,
            sport: 8080,
            records: Vec::new(),
        }
    }

    fn at(&mut self, seconds: f64) -> &mut Self {
        self.ts = 1_700_000_000 * NS + (seconds * NS as f64) as i64;
        self
    }

    #[allow(clippy::too_many_arguments)]
    fn seg(&mut self, from_client: bool, flags: u8, seq: u32, ack: u32, len: u32) -> &mut Self {
        self.seg_full(from_client, flags, seq, ack, len, 65535, false)
    }

    #[allow(clippy::too_many_arguments)]
    fn seg_full(
        &mut self,
        from_client: bool,
        flags: u8,
        seq: u32,
        ack: u32,
        len: u32,
        window: u16,
        bad: bool,
    ) -> &mut Self {
        self.frame += 1;
        self.ts += NS / 1000;
        let (c, s): (IpAddr, IpAddr) = (C.parse().unwrap(), S.parse().unwrap());
        let (src, sport, dst, dport) = if from_client {
            (c, self.cport, s, self.sport)
        } else {
            (s, self.sport, c, self.cport)
        };
        let p = Packet {
            frame: self.frame,
            ts_ns: self.ts,
            proto: Transport::Tcp,
            ip_version: 4,
            src,
            sport,
            dst,
            dport,
            ip_len: 40 + len,
            flags,
            seq,
            ack,
            payload_len: len,
            window,
            options: Default::default(),
            payload_captured: true,
            checksum_bad: bad,
            icmp_one_way: false,
            foreign: false,
            tunnels: Vec::new(),
            payload: Cow::Borrowed(&[]),
        };
        self.tracker.feed(&p);
        self.records.extend(self.tracker.take_records());
        self
    }

    fn done(&mut self) -> Vec<ConnectionRecord> {
        self.tracker.finish();
        self.records.extend(self.tracker.take_records());
        self.records.sort_by_key(|r| r.first_frame);
        std::mem::take(&mut self.records)
    }

    /// A complete handshake: ISNs 1000 (client) and 5000 (server).
    fn handshake(&mut self) -> &mut Self {
        self.seg(true, SYN, 1000, 0, 0)
            .seg(false, SYN | ACK, 5000, 1001, 0)
            .seg(true, ACK, 1001, 5001, 0)
    }
}

fn one(mut s: Script) -> ConnectionRecord {
    let mut recs = s.done();
    assert_eq!(recs.len(), 1, "{recs:?}");
    recs.remove(0)
}

#[test]
fn rfc9293_3_6_figure12_client_closes_first_and_waits() {
    let mut s = Script::new();
    s.handshake()
        .seg(true, ACK, 1001, 5001, 10)
        .seg(false, ACK, 5001, 1011, 20)
        .seg(true, FIN | ACK, 1011, 5021, 0)
        .seg(false, ACK, 5021, 1012, 0)
        .seg(false, FIN | ACK, 5021, 1012, 0)
        .seg(true, ACK, 1012, 5022, 0);
    let r = one(s);
    assert_eq!(r.handshake, Some("complete"));
    assert_eq!(r.handshake_valid, Some(true));
    assert_eq!(r.handshake_rtt_ns, Some(2 * NS / 1000));
    assert_eq!(
        (r.end, r.closer, r.time_wait),
        (Some("fin"), Some("client"), Some("client"))
    );
    assert_eq!(
        (r.client_state, r.server_state),
        (Some("TIME_WAIT"), Some("CLOSED"))
    );
    assert_eq!((r.conn_state, r.history.as_str()), ("SF", "ShADdFaf"));
    assert_eq!(
        (r.orig_bytes, r.resp_bytes, r.bytes_c2s, r.bytes_s2c),
        (Some(10), Some(20), 10, 20)
    );
}

#[test]
fn rfc9293_3_6_figure13_simultaneous_close_leaves_both_in_time_wait() {
    let mut s = Script::new();
    s.handshake()
        .seg(true, FIN | ACK, 1001, 5001, 0)
        .seg(false, FIN | ACK, 5001, 1001, 0)
        .seg(true, ACK, 1002, 5002, 0)
        .seg(false, ACK, 5002, 1002, 0);
    let r = one(s);
    assert_eq!((r.closer, r.time_wait), (Some("both"), Some("both")));
    assert_eq!(
        (r.client_state, r.server_state),
        (Some("TIME_WAIT"), Some("TIME_WAIT"))
    );
}

#[test]
fn rfc9293_3_6_half_close_leaves_the_server_in_close_wait() {
    let mut s = Script::new();
    s.handshake()
        .seg(true, FIN | ACK, 1001, 5001, 0)
        .seg(false, ACK, 5001, 1002, 0);
    let r = one(s);
    assert_eq!(r.end, Some("half_closed"));
    assert_eq!(
        (r.client_state, r.server_state),
        (Some("FIN_WAIT_2"), Some("CLOSE_WAIT"))
    );
    assert_eq!(r.conn_state, "S2");
}

#[test]
fn rfc9293_3_5_refused_connection_is_rej() {
    let mut s = Script::new();
    s.seg(true, SYN, 1000, 0, 0)
        .seg(false, RST | ACK, 0, 1001, 0);
    let r = one(s);
    assert_eq!(
        (r.handshake, r.closer, r.rst_by),
        (Some("refused"), None, Some("server"))
    );
    assert_eq!((r.conn_state, r.history.as_str()), ("REJ", "Sr"));
}

#[test]
fn rfc9293_3_10_7_rst_after_the_handshake_is_rsto() {
    let mut s = Script::new();
    s.handshake().seg(true, RST, 1001, 0, 0);
    let r = one(s);
    assert_eq!(
        (r.end, r.closer, r.conn_state),
        (Some("rst"), Some("client"), "RSTO")
    );
    assert_eq!(
        (r.client_state, r.server_state),
        (Some("CLOSED"), Some("CLOSED"))
    );
}

#[test]
fn zeek_attempt_timer_gives_up_an_unanswered_syn_and_a_retransmitted_syn_counts() {
    let mut s = Script::new();
    s.seg(true, SYN, 1000, 0, 0).seg(true, SYN, 1000, 0, 0);
    let r = one(s);
    assert_eq!(
        (r.handshake, r.syn_retransmissions),
        (Some("unanswered"), 1)
    );
    assert_eq!((r.conn_state, r.history.as_str()), ("S0", "S"));
}

#[test]
fn zeek_is_reuse_a_new_syn_after_a_close_starts_a_new_connection() {
    let mut s = Script::new();
    s.handshake()
        .seg(true, FIN | ACK, 1001, 5001, 0)
        .seg(false, FIN | ACK, 5001, 1002, 0)
        .seg(true, ACK, 1002, 5002, 0)
        .seg(true, SYN, 90000, 0, 0)
        .seg(false, SYN | ACK, 70000, 90001, 0)
        .seg(true, ACK, 90001, 70001, 0);
    let recs = s.done();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0].conn_state, "SF");
    assert_eq!(
        (recs[1].first_frame, recs[1].handshake),
        (7, Some("complete"))
    );
    assert_ne!(recs[0].uid, recs[1].uid);
}

#[test]
fn zeek_tcp_inactivity_splits_a_connection_idle_for_five_minutes() {
    let mut s = Script::new();
    s.handshake().seg(true, ACK, 1001, 5001, 5);
    s.at(301.0).seg(true, ACK, 1006, 5001, 5);
    let recs = s.done();
    assert_eq!(recs.len(), 2);
    assert_eq!((recs[0].conn_state, recs[1].history.as_str()), ("S1", "D"));
    assert_eq!(recs[1].handshake, Some("not_seen"));
}

#[test]
fn zeek_syn_timeout_splits_before_the_handshake_after_a_minute_of_silence() {
    let mut s = Script::new();
    s.seg(true, SYN, 1000, 0, 0);
    s.at(61.0).seg(true, SYN, 1000, 0, 0);
    assert_eq!(s.done().len(), 2);
}

#[test]
fn zeek_midstream_capture_is_partial_with_roles_from_likely_server_ports() {
    let mut s = Script::new();
    s.sport = 80;
    s.seg(false, ACK, 5000, 1000, 100)
        .seg(true, ACK, 1000, 5100, 0);
    let r = one(s);
    assert_eq!(
        (r.client.1, r.server.1, r.client_inferred),
        (40000, 80, true)
    );
    assert_eq!((r.handshake, r.history.as_str()), (Some("not_seen"), "^dA"));
    assert_eq!(
        (r.client_state, r.server_state),
        (Some("ESTABLISHED"), Some("ESTABLISHED"))
    );
}

#[test]
fn zeek_pr2191_a_syn_ack_first_connection_flips_on_the_next_ack() {
    let mut s = Script::new();
    s.sport = 9999;
    s.seg(false, SYN | ACK, 5000, 1001, 0)
        .seg(true, ACK, 1001, 5001, 0);
    let r = one(s);
    assert_eq!(
        (r.client.1, r.history.as_str(), r.conn_state),
        (40000, "^hA", "S1")
    );
}

#[test]
fn zeek_bad_checksum_is_dropped_and_flips_nothing() {
    let opts = TrackerOptions {
        check_checksums: true,
        ..TrackerOptions::default()
    };
    let mut s = Script::with(opts);
    s.sport = 9999;
    s.seg(false, SYN | ACK, 5000, 1001, 0)
        .seg_full(true, ACK, 1001, 5001, 0, 65535, true);
    let r = one(s);
    assert_eq!(
        (r.server.1, r.history.as_str(), r.orig_pkts),
        (40000, "Hc", 1)
    );
}

#[test]
fn zeek_history_t_for_retransmitted_payload_and_w_for_a_zero_window() {
    let mut s = Script::new();
    s.handshake()
        .seg(true, ACK, 1001, 5001, 10)
        .seg(true, ACK, 1001, 5001, 10)
        .seg_full(false, ACK, 5001, 1011, 0, 0, false);
    let r = one(s);
    assert_eq!(r.history, "ShADTaw"); // the responder's zero window: lower case
    assert_eq!(r.bytes_c2s, 10); // the retransmission counts once
}

#[test]
fn zeek_content_gap_g_and_missed_bytes_when_an_ack_covers_uncaptured_data() {
    let mut s = Script::new();
    s.handshake()
        .seg(true, ACK, 1001, 5001, 10)
        .seg(true, ACK, 1111, 5001, 10)
        .seg(false, ACK, 5001, 1121, 0);
    let r = one(s);
    assert_eq!((r.missed_bytes, r.history.as_str()), (100, "ShADaG"));
}

#[test]
fn rfc9293_3_10_7_syn_in_established_is_an_anomaly() {
    let mut s = Script::new();
    s.handshake().seg(false, SYN | ACK, 5000, 1001, 0);
    let r = one(s);
    assert_eq!(
        r.anomalies.len(),
        0,
        "a repeated SYN-ACK is a retransmission, not a new SYN"
    );
    let mut s = Script::new();
    s.handshake().seg(true, SYN, 1000, 0, 0);
    let r = one(s);
    assert_eq!(
        r.anomalies,
        vec![
            "frame 4: send SYN in ESTABLISHED".to_owned(),
            "frame 4: receive SYN in ESTABLISHED".to_owned()
        ]
    );
}

#[test]
fn handshake_ack_that_acknowledges_the_wrong_isn_is_invalid() {
    let mut s = Script::new();
    s.seg(true, SYN, 1000, 0, 0)
        .seg(false, SYN | ACK, 5000, 1001, 0)
        .seg(true, ACK, 1001, 5007, 0);
    let r = one(s);
    assert_eq!(r.handshake_valid, Some(false));
    assert_eq!(
        r.anomalies,
        vec!["frame 3: handshake ACK acknowledges 5007, expected ISN+1 = 5001".to_owned()]
    );
}

#[test]
fn udp_flow_flips_to_zeek_roles_from_a_likely_server_port_and_dns_expires_after_ten_seconds() {
    let mut t = Tracker::new(TrackerOptions::default());
    let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.53".parse().unwrap());
    let mut recs = Vec::new();
    for (i, (secs, from_a)) in [(0.0, true), (0.1, false), (15.0, true), (15.1, false)]
        .iter()
        .enumerate()
    {
        let (src, sport, dst, dport) = if *from_a {
            (a, 33000, b, 53)
        } else {
            (b, 53, a, 33000)
        };
        let p = Packet {
            frame: i as u64 + 1,
            ts_ns: (*secs * NS as f64) as i64,
            proto: Transport::Udp,
            ip_version: 4,
            src,
            sport,
            dst,
            dport,
            ip_len: 60,
            flags: 0,
            seq: 0,
            ack: 0,
            payload_len: 32,
            window: 0,
            options: Default::default(),
            payload_captured: true,
            checksum_bad: false,
            icmp_one_way: false,
            foreign: false,
            tunnels: Vec::new(),
            payload: Cow::Borrowed(&[]),
        };
        t.feed(&p);
        recs.extend(t.take_records());
    }
    t.finish();
    recs.extend(t.take_records());
    assert_eq!(recs.len(), 2, "Zeek's DNS analyzer ends the first exchange");
    assert!(recs
        .iter()
        .all(|r| r.conn_state == "SF" && r.history == "Dd" && r.orig_pkts == 1));
}

/// A raw-IPv4 (link type 228) pcap of TCP segments, built by hand: (ts_us, src last octet,
/// sport, dst last octet, dport, flags).
fn raw_pcap(packets: &[(u32, u8, u16, u8, u16, u8)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&228u32.to_le_bytes());
    for &(us, a, sp, b, dp, fl) in packets {
        let mut ip = vec![
            0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, a, 10, 0, 0, b,
        ];
        ip.extend_from_slice(&sp.to_be_bytes());
        ip.extend_from_slice(&dp.to_be_bytes());
        ip.extend_from_slice(&1000u32.to_be_bytes());
        ip.extend_from_slice(&0u32.to_be_bytes());
        ip.extend_from_slice(&[0x50, fl, 0xff, 0xff, 0, 0, 0, 0]);
        out.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        out.extend_from_slice(&us.to_le_bytes());
        out.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        out.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        out.extend_from_slice(&ip);
    }
    out
}

fn run_in_steps(data: Vec<u8>) -> Vec<(Vec<u64>, usize)> {
    use crate::capture::CaptureReader;
    use crate::pipeline::CaptureRun;
    let reader = CaptureReader::from_reader(Box::new(std::io::Cursor::new(data))).unwrap();
    let opts = TrackerOptions {
        sweep_every: 1,
        ..TrackerOptions::default()
    };
    let mut run = CaptureRun::new(reader, opts).with_release_every(1);
    let mut steps = Vec::new();
    while !run.is_finished() {
        let b: Vec<u64> = run
            .step(1, 1)
            .unwrap()
            .iter()
            .map(|r| r.first_frame)
            .collect();
        steps.push((b, run.pending()));
    }
    steps
}

const SEC: u32 = 1_000_000;

#[test]
fn records_of_finished_connections_go_out_while_the_capture_is_read() {
    // B (frames 1-2) is refused; Zeek removes it 5 s later, which the sweep at C's SYN
    // (frame 3, 10 s on) finds: B's record leaves then, before the capture ends.
    let steps = run_in_steps(raw_pcap(&[
        (0, 3, 2000, 2, 80, SYN),
        (10, 2, 80, 3, 2000, RST | ACK),
        (10 * SEC, 4, 3000, 2, 80, SYN),
    ]));
    assert_eq!(steps[2].0, vec![1], "{steps:?}");
    assert_eq!(steps.last().unwrap().0, vec![3]);
}

#[test]
fn records_wait_for_an_earlier_connection_still_open() {
    // A (frames 1-3) is established and stays open; B (4-5) is refused and over by frame
    // 6, but A started first: B waits, and the end lets A, B and C out in start order.
    let steps = run_in_steps(raw_pcap(&[
        (0, 1, 1000, 2, 80, SYN),
        (10, 2, 80, 1, 1000, SYN | ACK),
        (20, 1, 1000, 2, 80, ACK),
        (30, 3, 2000, 2, 80, SYN),
        (40, 2, 80, 3, 2000, RST | ACK),
        (10 * SEC, 4, 3000, 2, 80, SYN),
    ]));
    let released: Vec<u64> = steps.iter().flat_map(|(b, _)| b.clone()).collect();
    assert_eq!(released, vec![1, 4, 6]);
    // Nothing leaves while A is open (the six frames); then one record per step.
    assert!(steps[..6].iter().all(|(b, _)| b.is_empty()), "{steps:?}");
    assert_eq!(
        steps[5].1, 1,
        "B waits after the sweep at frame 6: {steps:?}"
    );
}
