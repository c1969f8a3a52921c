//! Reassembly tests, named after the RFC 9293 sections whose behaviour they exercise.

use super::*;

/// An owned copy of a [`StreamEvent`], for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Data(u64, Vec<u8>),
    Skipped(u64, u64),
    Gap(u64, u64),
    Anomaly(&'static str),
    Fin(u64),
}

fn own(ev: StreamEvent<'_>) -> Ev {
    match ev {
        StreamEvent::Data { offset, data } => Ev::Data(offset, data.to_vec()),
        StreamEvent::Skipped { offset, len } => Ev::Skipped(offset, len),
        StreamEvent::Gap { offset, len } => Ev::Gap(offset, len),
        StreamEvent::Anomaly { kind, .. } => Ev::Anomaly(kind.name()),
        StreamEvent::Fin { offset } => Ev::Fin(offset),
    }
}

fn seg(r: &mut Reassembler, seq: u32, data: &[u8]) -> Vec<Ev> {
    let mut evs = Vec::new();
    r.segment(seq, data, &mut |e| evs.push(own(e)));
    evs
}

fn gap(r: &mut Reassembler, seq: u32) -> Vec<Ev> {
    let mut evs = Vec::new();
    r.gap(seq, &mut |e| evs.push(own(e)));
    evs
}

fn fin(r: &mut Reassembler, seq: u32) -> Vec<Ev> {
    let mut evs = Vec::new();
    r.fin(seq, &mut |e| evs.push(own(e)));
    evs
}

/// Concatenates the data events (the consumer's view of the stream).
fn bytes(evs: &[Ev]) -> Vec<u8> {
    let mut v = Vec::new();
    for e in evs {
        if let Ev::Data(_, d) = e {
            v.extend_from_slice(d);
        }
    }
    v
}

fn anomalies(evs: &[Ev]) -> Vec<&'static str> {
    evs.iter()
        .filter_map(|e| match e {
            Ev::Anomaly(n) => Some(*n),
            _ => None,
        })
        .collect()
}

#[test]
fn rfc9293_3_4_in_order_segments_are_delivered_immediately() {
    let mut r = Reassembler::new(1000);
    assert_eq!(
        seg(&mut r, 1000, b"hello "),
        vec![Ev::Data(0, b"hello ".to_vec())]
    );
    assert_eq!(
        seg(&mut r, 1006, b"world"),
        vec![Ev::Data(6, b"world".to_vec())]
    );
    assert_eq!(r.delivered(), 11);
    assert_eq!(r.next_seq(), 1011);
    assert_eq!(r.buffered(), 0);
    // Empty segments (pure ACKs) change nothing.
    assert!(seg(&mut r, 1011, b"").is_empty());
}

#[test]
fn rfc9293_3_4_out_of_order_segments_are_held_until_the_hole_fills() {
    let mut r = Reassembler::new(0);
    assert!(seg(&mut r, 10, b"KLMNO").is_empty());
    assert!(seg(&mut r, 5, b"FGHIJ").is_empty());
    assert_eq!(r.buffered(), 10);
    assert_eq!(r.held_pieces(), 2);
    let evs = seg(&mut r, 0, b"ABCDE");
    assert_eq!(
        evs,
        vec![
            Ev::Data(0, b"ABCDE".to_vec()),
            Ev::Data(5, b"FGHIJ".to_vec()),
            Ev::Data(10, b"KLMNO".to_vec()),
        ]
    );
    assert_eq!(r.buffered(), 0);
    assert_eq!(r.delivered(), 15);
}

#[test]
fn rfc9293_3_10_7_4_identical_retransmission_is_silent() {
    let mut r = Reassembler::new(0);
    seg(&mut r, 0, b"abcdef");
    assert!(seg(&mut r, 0, b"abcdef").is_empty());
    // Partly old, partly new: only the new part is delivered.
    assert_eq!(seg(&mut r, 3, b"defgh"), vec![Ev::Data(6, b"gh".to_vec())]);
}

#[test]
fn rfc9293_3_10_7_4_inconsistent_retransmission_first_copy_wins() {
    let mut r = Reassembler::new(0);
    seg(&mut r, 0, b"abcdef");
    let evs = seg(&mut r, 2, b"XYefgh");
    assert_eq!(
        evs,
        vec![
            Ev::Anomaly("retransmission_inconsistency"),
            Ev::Data(6, b"gh".to_vec())
        ]
    );
}

#[test]
fn rfc9293_3_10_7_4_overlap_with_held_data_first_copy_wins() {
    let mut r = Reassembler::new(0);
    seg(&mut r, 4, b"EFGH");
    // An overlapping later copy that differs in the held range.
    let evs = seg(&mut r, 6, b"xxIJ");
    assert_eq!(anomalies(&evs), vec!["retransmission_inconsistency"]);
    // The in-order segment covering the held range with different bytes: held wins.
    let evs = seg(&mut r, 0, b"ABCDzzzz");
    assert_eq!(bytes(&evs), b"ABCDEFGHIJ");
    assert_eq!(anomalies(&evs), vec!["retransmission_inconsistency"]);
    assert_eq!(r.delivered(), 10);
}

#[test]
fn rfc9293_3_10_7_4_consistent_overlaps_are_silent() {
    let mut r = Reassembler::new(0);
    seg(&mut r, 4, b"EFGH");
    seg(&mut r, 2, b"CDEFGHIJ");
    let evs = seg(&mut r, 0, b"ABCDEF");
    assert_eq!(bytes(&evs), b"ABCDEFGHIJ");
    assert!(anomalies(&evs).is_empty());
}

#[test]
fn rfc9293_3_4_sequence_numbers_wrap_at_2_pow_32() {
    let first = u32::MAX - 3; // offsets 0..4 are the last four sequence numbers
    let mut r = Reassembler::new(first);
    // Out of order across the wrap: "efgh" starts at sequence number 0.
    assert!(seg(&mut r, 0, b"efgh").is_empty());
    let evs = seg(&mut r, first, b"abcd");
    assert_eq!(bytes(&evs), b"abcdefgh");
    assert_eq!(r.next_seq(), 4);
    assert_eq!(r.delivered(), 8);
    // A retransmission from before the wrap is recognised as old data.
    assert!(seg(&mut r, first.wrapping_add(2), b"cdef").is_empty());
    // A segment spanning the wrap.
    let mut r = Reassembler::new(u32::MAX - 1);
    assert_eq!(bytes(&seg(&mut r, u32::MAX - 1, b"wxyz")), b"wxyz");
    assert_eq!(r.next_seq(), 2);
}

#[test]
fn rfc9293_3_4_offsets_keep_counting_past_4_gib() {
    // Stream offsets are 64-bit: skip 5 GiB of body and keep going.
    let mut r = Reassembler::new(7);
    let five_gib: u64 = 5 << 30;
    r.skip(five_gib);
    let mut seq = 7u32;
    let mut evs = Vec::new();
    // Feed the skipped range in 1 GiB acknowledgements (as gaps) for speed.
    for _ in 0..5 {
        seq = seq.wrapping_add(1 << 30);
        r.gap(seq, &mut |e| evs.push(own(e)));
    }
    assert_eq!(r.delivered(), five_gib);
    let evs = seg(&mut r, seq, b"tail");
    assert_eq!(evs, vec![Ev::Data(five_gib, b"tail".to_vec())]);
}

#[test]
fn rfc9293_3_10_7_4_acknowledged_but_uncaptured_bytes_are_a_gap() {
    let mut r = Reassembler::new(100);
    seg(&mut r, 100, b"abc");
    // Bytes 3..6 were never captured; 6..9 and 12..14 are held.
    seg(&mut r, 106, b"ghi");
    seg(&mut r, 112, b"mn");
    // The receiver acknowledged up to 108: the hole 3..6 is a gap, held data follows.
    let evs = gap(&mut r, 108);
    assert_eq!(evs, vec![Ev::Gap(3, 3), Ev::Data(6, b"ghi".to_vec())]);
    assert_eq!(r.missing_bytes(), 3);
    // Ack beyond everything: the second hole, then the held data after it.
    let evs = gap(&mut r, 114);
    assert_eq!(evs, vec![Ev::Gap(9, 3), Ev::Data(12, b"mn".to_vec())]);
    // Acks for what was delivered already change nothing.
    assert!(gap(&mut r, 110).is_empty());
    // Ack beyond all held data: a trailing gap.
    assert_eq!(gap(&mut r, 120), vec![Ev::Gap(14, 6)]);
    assert_eq!(r.delivered(), 20);
}

#[test]
fn consumer_skip_discards_bytes_across_segments_without_buffering() {
    let mut r = Reassembler::new(0);
    seg(&mut r, 0, b"HEAD");
    r.skip(10);
    // The body arrives out of order: nothing is buffered for it.
    assert!(seg(&mut r, 8, b"bbbbbb").is_empty());
    assert_eq!(r.buffered(), 0, "skipped bytes are never buffered");
    let evs = seg(&mut r, 4, b"bbbb");
    assert_eq!(evs, vec![Ev::Skipped(4, 4), Ev::Skipped(8, 6)]);
    assert_eq!(r.delivered(), 14);
    // After the skipped range, data flows again.
    assert_eq!(
        seg(&mut r, 14, b"NEXT"),
        vec![Ev::Data(14, b"NEXT".to_vec())]
    );
}

#[test]
fn consumer_skip_splits_a_segment_and_spans_a_gap() {
    let mut r = Reassembler::new(0);
    r.skip(6);
    // One segment: 2 skipped bytes, then a hole (2..4) in the skipped range.
    let evs = seg(&mut r, 0, b"bb");
    assert_eq!(evs, vec![Ev::Skipped(0, 2)]);
    // Bytes 4..10: 4..6 are skipped body, 6..10 the next message, held.
    assert!(seg(&mut r, 4, b"bbNEXT").is_empty());
    assert_eq!(r.buffered(), 4);
    let evs = gap(&mut r, 4);
    assert_eq!(
        evs,
        vec![
            Ev::Gap(2, 2),
            Ev::Skipped(4, 2),
            Ev::Data(6, b"NEXT".to_vec())
        ]
    );
}

#[test]
fn consumer_skip_releases_held_data_and_only_extends() {
    let mut r = Reassembler::new(0);
    seg(&mut r, 4, b"0123456789");
    assert_eq!(r.buffered(), 10);
    r.skip(8);
    assert_eq!(
        r.buffered(),
        6,
        "held bytes inside the skipped range are released"
    );
    r.skip(2); // smaller than what is pending: no effect
    let evs = seg(&mut r, 0, b"abcd");
    assert_eq!(
        evs,
        vec![
            Ev::Skipped(0, 4),
            Ev::Skipped(4, 4),
            Ev::Data(8, b"456789".to_vec())
        ]
    );
    // Skip to the end of the stream.
    r.skip(u64::MAX);
    assert_eq!(seg(&mut r, 14, b"zz"), vec![Ev::Skipped(14, 2)]);
}

#[test]
fn rfc9293_3_8_6_buffer_limit_turns_the_oldest_hole_into_a_gap() {
    let mut r = Reassembler::new(0);
    let chunk = vec![7u8; 64 * 1024];
    let mut seq = 1u32; // byte 0 never arrives
    let mut evs = Vec::new();
    let mut total = 0usize;
    while total <= MAX_BUFFERED {
        r.segment(seq, &chunk, &mut |e| evs.push(own(e)));
        seq = seq.wrapping_add(chunk.len() as u32);
        total += chunk.len();
        assert!(r.buffered() <= MAX_BUFFERED);
    }
    assert_eq!(anomalies(&evs), vec!["reassembly_buffer_overflow"]);
    assert!(evs.contains(&Ev::Gap(0, 1)));
    assert_eq!(bytes(&evs).len(), total);
    assert_eq!(r.buffered(), 0);
}

#[test]
fn rfc9293_3_8_6_held_piece_limit_turns_the_oldest_hole_into_a_gap() {
    let mut r = Reassembler::new(0);
    let mut evs = Vec::new();
    // One-byte segments at every other offset: many pieces, few bytes.
    for i in 0..=MAX_HELD_SEGMENTS as u32 {
        r.segment(1 + 2 * i, b"x", &mut |e| evs.push(own(e)));
        assert!(r.held_pieces() <= MAX_HELD_SEGMENTS);
    }
    assert_eq!(anomalies(&evs), vec!["reassembly_buffer_overflow"]);
    assert_eq!(
        evs.first(),
        Some(&Ev::Anomaly("reassembly_buffer_overflow"))
    );
    assert_eq!(evs.get(1), Some(&Ev::Gap(0, 1)));
}

#[test]
fn rfc9293_3_10_7_4_segment_far_beyond_the_window_is_ignored() {
    let mut r = Reassembler::new(0);
    let evs = seg(&mut r, (MAX_WINDOW as u32) + 10, b"bogus");
    assert_eq!(anomalies(&evs), vec!["segment_out_of_window"]);
    assert_eq!(r.buffered(), 0);
    assert_eq!(
        anomalies(&gap(&mut r, (MAX_WINDOW as u32) + 10)),
        vec!["segment_out_of_window"]
    );
    assert_eq!(r.delivered(), 0);
}

#[test]
fn rfc9293_3_10_7_4_data_before_the_stream_start_is_old() {
    let mut r = Reassembler::new(1000);
    // Starts 2 bytes before the first byte: only the in-stream part is delivered.
    assert_eq!(seg(&mut r, 998, b"xxab"), vec![Ev::Data(0, b"ab".to_vec())]);
}

#[test]
fn rfc9293_3_6_fin_ends_the_stream_once_everything_before_it_arrived() {
    let mut r = Reassembler::new(0);
    seg(&mut r, 0, b"ab");
    // FIN at offset 5, with 2..5 still missing.
    assert!(fin(&mut r, 5).is_empty());
    assert_eq!(r.fin_offset(), Some(5));
    let evs = seg(&mut r, 2, b"cde");
    assert_eq!(evs, vec![Ev::Data(2, b"cde".to_vec()), Ev::Fin(5)]);
    assert!(r.is_finished());
    // Anything after the FIN is an anomaly and dropped.
    assert_eq!(anomalies(&seg(&mut r, 5, b"late")), vec!["data_after_fin"]);
    assert_eq!(r.delivered(), 5);
}

#[test]
fn rfc9293_3_6_fin_trims_held_data_and_a_gap_reaches_it() {
    let mut r = Reassembler::new(0);
    seg(&mut r, 3, b"defgh");
    let evs = fin(&mut r, 6);
    assert_eq!(anomalies(&evs), vec!["data_after_fin"]);
    assert_eq!(r.buffered(), 3);
    // A segment straddling the FIN is cut at it.
    let evs = seg(&mut r, 0, b"abcdefgh");
    assert_eq!(bytes(&evs), b"abcdef");
    assert_eq!(anomalies(&evs), vec!["data_after_fin"]);
    assert_eq!(evs.last(), Some(&Ev::Fin(6)));

    // A FIN after a hole: the caller closes the hole with gap(fin_seq).
    let mut r = Reassembler::new(0);
    seg(&mut r, 0, b"ab");
    fin(&mut r, 4);
    assert_eq!(gap(&mut r, 9), vec![Ev::Gap(2, 2), Ev::Fin(4)]);
    // Only the first FIN counts.
    assert!(fin(&mut r, 9).is_empty());
    assert_eq!(r.fin_offset(), Some(4));
}

#[test]
fn rfc9293_3_6_fin_of_an_empty_stream() {
    let mut r = Reassembler::new(42);
    assert_eq!(fin(&mut r, 42), vec![Ev::Fin(0)]);
}

/// A tiny deterministic PRNG (xorshift64*) so the shuffle test needs no crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[test]
fn rfc9293_3_4_any_arrival_order_with_duplicates_reconstructs_the_stream() {
    let stream: Vec<u8> = (0..5000u32).map(|i| (i * 31 % 251) as u8).collect();
    for round in 0..50u64 {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (round + 1));
        let isn = rng.next() as u32;
        // Random overlapping segments covering the whole stream, shuffled, with repeats.
        let mut segs: Vec<(usize, usize)> = Vec::new();
        let mut at = 0usize;
        while at < stream.len() {
            let len = 1 + rng.below(300) as usize;
            let start = at.saturating_sub(rng.below(40) as usize);
            let end = (at + len).min(stream.len());
            segs.push((start, end));
            at = end;
        }
        for _ in 0..segs.len() / 3 {
            let i = rng.below(segs.len() as u64) as usize;
            segs.push(segs[i]);
        }
        for i in (1..segs.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            segs.swap(i, j);
        }
        let mut r = Reassembler::new(isn);
        let mut evs = Vec::new();
        let mut expect_offset = 0u64;
        for (s, e) in segs {
            r.segment(isn.wrapping_add(s as u32), &stream[s..e], &mut |ev| {
                let ev = own(ev);
                match &ev {
                    Ev::Data(o, d) => {
                        assert_eq!(*o, expect_offset);
                        expect_offset += d.len() as u64;
                    }
                    other => panic!("unexpected {other:?}"),
                }
                evs.push(ev);
            });
        }
        assert_eq!(bytes(&evs), stream, "round {round}");
        assert_eq!(r.buffered(), 0);
    }
}

#[test]
fn random_operations_never_panic_and_events_tile_the_stream() {
    for round in 0..200u64 {
        let mut rng = Rng(0xdead_beef_cafe_f00d ^ (round * 7919 + 1));
        let isn = rng.next() as u32;
        let mut r = Reassembler::new(isn);
        let mut expect = 0u64;
        let mut check = |ev: StreamEvent<'_>| match ev {
            StreamEvent::Data { offset, data } => {
                assert_eq!(offset, expect);
                expect += data.len() as u64;
            }
            StreamEvent::Skipped { offset, len } | StreamEvent::Gap { offset, len } => {
                assert_eq!(offset, expect);
                assert!(len > 0);
                expect += len;
            }
            StreamEvent::Anomaly { .. } => {}
            StreamEvent::Fin { offset } => assert_eq!(offset, expect),
        };
        let payload = vec![0x55u8; 3000];
        for _ in 0..300 {
            // Sequence numbers near the expected one, with an occasional wild one.
            let near = r
                .next_seq()
                .wrapping_add(rng.below(6000) as u32)
                .wrapping_sub(1000);
            let seq = if rng.below(20) == 0 {
                rng.next() as u32
            } else {
                near
            };
            match rng.below(10) {
                0 => r.gap(seq, &mut check),
                1 => r.skip(rng.below(4000)),
                2 if rng.below(10) == 0 => r.fin(seq, &mut check),
                _ => {
                    let len = rng.below(payload.len() as u64) as usize;
                    r.segment(seq, &payload[..len], &mut check);
                }
            }
            assert!(r.buffered() <= MAX_BUFFERED);
            assert!(r.held_pieces() <= MAX_HELD_SEGMENTS);
        }
        assert_eq!(r.delivered(), expect);
    }
}
