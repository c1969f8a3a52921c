//! Hand-built segments through [`Health`]: each figure against what tcptrace would count.

use super::health::{Health, Marks, SegmentFacts};
use crate::decode::flags::{ACK, FIN, SYN};
use crate::decode::tcp_options::TcpOptions;

const C: usize = 0; // the client (sent the first packet)
const S: usize = 1;
const US: i64 = 1_000;

/// A connection after a handshake with window scale 7, SACK and timestamps on both sides:
/// client ISN 1000, server ISN 5000, 100 µs between packets unless told otherwise.
struct Conn {
    h: Health,
    ts: i64,
}

fn syn_options() -> TcpOptions {
    TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamps: true,
        ..TcpOptions::default()
    }
}

impl Conn {
    fn new() -> Self {
        let mut c = Conn {
            h: Health::default(),
            ts: 1_000_000 * US,
        };
        c.send_opts(C, SYN, 1000, 0, 0, 65535, syn_options());
        c.send_opts(S, SYN | ACK, 5000, 1001, 0, 65535, syn_options());
        c.send(C, ACK, 1001, 5001, 0, 512);
        c
    }

    #[allow(clippy::too_many_arguments)]
    fn send_opts(
        &mut self,
        side: usize,
        flags: u8,
        seq: u32,
        ack: u32,
        len: u32,
        window: u16,
        options: TcpOptions,
    ) -> Marks {
        self.ts += 100 * US;
        self.h.segment(
            side,
            &SegmentFacts {
                ts_ns: self.ts,
                flags,
                seq,
                ack,
                payload_len: len,
                window,
                options,
            },
        )
    }

    fn send(&mut self, side: usize, flags: u8, seq: u32, ack: u32, len: u32, window: u16) -> Marks {
        self.send_opts(side, flags, seq, ack, len, window, TcpOptions::default())
    }

    fn data(&mut self, seq: u32, len: u32) -> Marks {
        self.send(C, ACK, seq, 5001, len, 512)
    }

    fn ack(&mut self, ack: u32) -> Marks {
        self.send(S, ACK, 5001, ack, 0, 512)
    }
}

#[test]
fn the_handshake_gives_one_rtt_sample_each_way_and_the_syn_options() {
    let c = Conn::new();
    let (cl, sv) = (c.h.dir(0), c.h.dir(1));
    // SYN -> SYN-ACK (client's ISN acknowledged) and SYN-ACK -> ACK.
    assert_eq!((cl.rtt.samples, sv.rtt.samples), (1, 1));
    assert_eq!((cl.rtt.min_ns, sv.rtt.min_ns), (100 * US, 100 * US));
    assert_eq!(cl.syn_options.and_then(|o| o.mss), Some(1460));
    assert_eq!(cl.retrans_packets + sv.retrans_packets, 0);
}

#[test]
fn a_resent_segment_is_a_retransmission_and_gives_no_rtt_sample_karn() {
    let mut c = Conn::new();
    assert_eq!(c.data(1001, 100), Marks::default());
    let m = c.data(1001, 100);
    assert!(m.has(Marks::RETRANSMISSION) && !m.has(Marks::OUT_OF_ORDER));
    c.ack(1101);
    let cl = c.h.dir(C);
    assert_eq!((cl.retrans_packets, cl.retrans_bytes), (1, 100));
    // Karn's rule: the ACK of a retransmitted range is ambiguous; only the SYN's sample.
    assert_eq!(cl.rtt.samples, 1);
    // A partial resend counts only the bytes sent before.
    c.data(1101, 100);
    c.data(1151, 100);
    assert_eq!(c.h.dir(C).retrans_bytes, 100 + 50);
    assert_eq!(c.h.dir(C).unique_bytes, 250);
}

#[test]
fn an_rtt_sample_is_the_time_from_the_segment_to_the_ack_that_ends_at_it() {
    let mut c = Conn::new();
    c.data(1001, 100);
    c.data(1101, 100);
    c.ack(1201); // acknowledges the second exactly (the first cumulatively): one sample
    let cl = c.h.dir(C);
    assert_eq!(cl.rtt.samples, 2);
    assert_eq!(cl.rtt.max_ns, 100 * US);
    let (mean, stdev) = cl.rtt.mean_stdev();
    assert_eq!(mean, Some(100_000.0));
    assert_eq!(stdev, Some(0.0));
}

#[test]
fn a_segment_below_the_highest_sent_never_seen_before_is_out_of_order() {
    let mut c = Conn::new();
    c.data(1001, 100);
    c.data(1201, 100);
    let m = c.data(1101, 100);
    assert!(m.has(Marks::OUT_OF_ORDER) && !m.has(Marks::RETRANSMISSION));
    let cl = c.h.dir(C);
    assert_eq!((cl.out_of_order_packets, cl.retrans_packets), (1, 0));
}

#[test]
fn three_duplicate_acks_make_a_triple_dupack() {
    let mut c = Conn::new();
    c.data(1001, 100);
    c.data(1101, 100);
    c.data(1201, 100);
    assert_eq!(c.ack(1101), Marks::default());
    assert_eq!(c.ack(1101), Marks::DUP_ACK);
    assert_eq!(c.ack(1101), Marks::DUP_ACK);
    let third = c.ack(1101);
    assert!(third.has(Marks::DUP_ACK) && third.has(Marks::TRIPLE_DUP_ACK));
    let cl = c.h.dir(C);
    assert_eq!((cl.dup_acks, cl.triple_dup_acks), (3, 1));
    // An ACK with another window is not a duplicate (BSD's rule).
    c.send(S, ACK, 5001, 1101, 0, 600);
    assert_eq!(c.h.dir(C).dup_acks, 3);
}

#[test]
fn a_fin_or_rst_repeating_the_ack_is_no_duplicate_ack_rfc5681() {
    let mut c = Conn::new();
    c.data(1001, 100);
    c.ack(1101);
    assert_eq!(c.send(S, ACK | FIN, 5001, 1101, 0, 512), Marks::default());
    assert_eq!(
        c.send(S, ACK | crate::decode::flags::RST, 5002, 1101, 0, 512),
        Marks::default()
    );
    assert_eq!(c.h.dir(C).dup_acks, 0);
}

#[test]
fn a_first_sack_block_below_the_ack_is_a_dsack() {
    let mut c = Conn::new();
    c.data(1001, 100);
    c.data(1101, 100);
    c.data(1101, 100); // a spurious retransmission
    let mut sack = TcpOptions::default();
    sack.sack[0] = (1101, 1201);
    sack.sack_count = 1;
    let m = c.send_opts(S, ACK, 5001, 1201, 0, 512, sack);
    assert!(m.has(Marks::SACK) && m.has(Marks::DSACK));
    // A block above the ACK that no other block contains is a plain SACK.
    c.data(1301, 100);
    sack.sack[0] = (1301, 1401);
    let m = c.send_opts(S, ACK, 5001, 1201, 0, 512, sack);
    assert!(m.has(Marks::SACK) && !m.has(Marks::DSACK));
    // The first block inside the second: D-SACK (RFC 2883 §4.2).
    sack.sack[0] = (1301, 1351);
    sack.sack[1] = (1301, 1401);
    sack.sack_count = 2;
    let m = c.send_opts(S, ACK, 5001, 1201, 0, 512, sack);
    assert!(m.has(Marks::DSACK));
    let sv = c.h.dir(S);
    assert_eq!((sv.sack_packets, sv.dsack_packets), (3, 2));
}

#[test]
fn segments_sent_into_a_zero_window_are_probes_not_retransmissions() {
    let mut c = Conn::new();
    c.data(1001, 100);
    let m = c.send(S, ACK, 5001, 1101, 0, 0);
    assert_eq!(m, Marks::ZERO_WINDOW);
    assert_eq!(c.data(1101, 1), Marks::WINDOW_PROBE);
    assert_eq!(c.data(1101, 1), Marks::WINDOW_PROBE);
    c.send(S, ACK, 5001, 1101, 0, 0);
    c.send(S, ACK, 5001, 1102, 0, 512);
    assert_eq!(c.data(1102, 100), Marks::default());
    let (cl, sv) = (c.h.dir(C), c.h.dir(S));
    assert_eq!((cl.zero_window_probes, cl.retrans_packets), (2, 0));
    assert_eq!(sv.zero_window_advertisements, 2);
}

#[test]
fn windows_are_scaled_once_both_syns_asked_and_never_in_a_syn() {
    let mut c = Conn::new();
    c.send(S, ACK, 5001, 1001, 0, 100);
    c.send(S, ACK, 5001, 1001, 0, 300);
    let (cl, sv) = (c.h.dir(C), c.h.dir(S));
    // The server: SYN-ACK 65535 unscaled, then 100 << 7 and 300 << 7; tcptrace restarts
    // the statistics at the first scaled window.
    assert_eq!((sv.win_min, sv.win_max), (12800, 38400));
    assert_eq!(sv.window_avg(cl), (12800 + 38400) / 2);
    // The client's only scaled ACK: 512 << 7.
    assert_eq!((cl.win_min, cl.win_max), (65536, 65536));
}

#[test]
fn without_scaling_on_both_sides_windows_are_raw() {
    let mut h = Health::default();
    let mut ts = 0;
    let mut send = |side: usize, flags: u8, seq: u32, ack: u32, window: u16, ws: Option<u8>| {
        ts += 100 * US;
        let options = TcpOptions {
            window_scale: ws,
            ..TcpOptions::default()
        };
        h.segment(
            side,
            &SegmentFacts {
                ts_ns: ts,
                flags,
                seq,
                ack,
                payload_len: 0,
                window,
                options,
            },
        );
    };
    send(C, SYN, 1000, 0, 1000, Some(7));
    send(S, SYN | ACK, 5000, 1001, 2000, None);
    send(C, ACK, 1001, 5001, 300, None);
    send(C, ACK | FIN, 1001, 5001, 400, None);
    let cl = h.dir(C);
    assert_eq!((cl.win_min, cl.win_max), (300, 1000));
    assert_eq!(cl.window_avg(h.dir(S)), (1000 + 300 + 400) / 3);
}

#[test]
fn sequence_numbers_wrap_without_false_retransmissions() {
    let mut c = Conn {
        h: Health::default(),
        ts: 0,
    };
    let isn = u32::MAX - 150;
    c.send(C, SYN, isn, 0, 0, 65535);
    c.send(S, SYN | ACK, 5000, isn.wrapping_add(1), 0, 65535);
    c.send(C, ACK, isn.wrapping_add(1), 5001, 100, 512);
    c.send(C, ACK, isn.wrapping_add(101), 5001, 100, 512); // crosses 2^32
    c.send(C, ACK, isn.wrapping_add(201), 5001, 100, 512);
    c.send(S, ACK, 5001, isn.wrapping_add(301), 0, 512);
    let cl = c.h.dir(C);
    assert_eq!((cl.retrans_packets, cl.out_of_order_packets), (0, 0));
    assert_eq!(cl.rtt.samples, 2);
    assert_eq!(cl.unique_bytes, 300);
}
