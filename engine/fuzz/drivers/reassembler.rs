//! One direction's reassembly (`stream::Reassembler`) under arbitrary segments, gaps,
//! skips and FINs.
//!
//! Input layout:
//! * bytes 0-3 (little endian): the sequence number of stream offset 0 (the ISN + 1);
//! * then operations, 4 bytes each, `k a b c`, by kind `k % 6`:
//!   - 0: a segment of `a + 1` bytes (taken from the input's tail, repeated as needed) at
//!     `next_seq() + (b, c as i16)`, a small step before or after the next expected byte;
//!   - 1: the same at an absolute sequence number from the next 4 bytes;
//!   - 2: a big segment (`(a + 1) * 1024` bytes) at `next_seq() + b * 4096` (out of order:
//!     hits the buffer limits);
//!   - 3: `gap(next_seq() + (a, b, c) as a 24-bit step)`;
//!   - 4: `skip(n)`, n among 0, 1, 7, 1500, 2^20, 2^32, u64::MAX (by `a % 7`);
//!   - 5: `fin(next_seq() + (b, c as i16))`;
//! * every operation's bytes come from the front; when they run out, the stream ends (a
//!   final `gap` up to the FIN or the last byte seen, as a tracker's teardown would).
//!
//! Checked with `assert!`: `Data`, `Skipped` and `Gap` events are contiguous (each starts
//! where the previous one ended) and `delivered()` is where they have got to; `Fin` comes
//! once, at that offset; `buffered()` and `held_pieces()` stay within `MAX_BUFFERED` and
//! `MAX_HELD_SEGMENTS` between calls; `missing_bytes()` is the sum of the gaps;
//! `is_finished()` once the `Fin` event came.

use pcap_analyzer_engine::stream::{Reassembler, StreamEvent, MAX_BUFFERED, MAX_HELD_SEGMENTS};

const SKIPS: [u64; 7] = [0, 1, 7, 1500, 1 << 20, 1 << 32, u64::MAX];

struct Check {
    next: u64,
    gaps: u64,
    fin: Option<u64>,
    data_events: u64,
}

impl Check {
    fn event(&mut self, e: &StreamEvent<'_>) {
        match *e {
            StreamEvent::Data { offset, data } => {
                assert_eq!(offset, self.next, "data not contiguous");
                assert!(self.fin.is_none(), "data after the Fin event");
                self.next += data.len() as u64;
                self.data_events += 1;
            }
            StreamEvent::Skipped { offset, len } => {
                assert_eq!(offset, self.next, "skipped range not contiguous");
                self.next = self.next.saturating_add(len);
            }
            StreamEvent::Gap { offset, len } => {
                assert_eq!(offset, self.next, "gap not contiguous");
                self.next = self.next.saturating_add(len);
                self.gaps = self.gaps.saturating_add(len);
            }
            StreamEvent::Anomaly { offset, .. } => {
                assert!(
                    offset <= self.next.saturating_add(1 << 31),
                    "anomaly far ahead"
                );
            }
            StreamEvent::Fin { offset } => {
                assert!(self.fin.is_none(), "Fin reported twice");
                assert_eq!(offset, self.next, "Fin before everything was delivered");
                self.fin = Some(offset);
            }
        }
    }
}

fn step(seq: u32, hi: u8, lo: u8) -> u32 {
    seq.wrapping_add(i16::from_le_bytes([lo, hi]) as i32 as u32)
}

/// Run one input (see the module docs).
pub fn run(data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let isn = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    let ops = &data[4..];
    // Every segment's bytes: a prefix of one buffer, the input's second half repeated.
    let tail = &ops[ops.len() / 2..];
    let tail: &[u8] = if tail.is_empty() { b"A" } else { tail };
    let bytes: Vec<u8> = tail.iter().copied().cycle().take(256 * 1024).collect();
    let payload = |n: usize| &bytes[..n.min(bytes.len())];
    let mut r = Reassembler::new(isn);
    let mut c = Check {
        next: 0,
        gaps: 0,
        fin: None,
        data_events: 0,
    };
    let mut i = 0;
    let mut rounds = 0;
    while i + 4 <= ops.len() && rounds < 4096 {
        rounds += 1;
        let (k, a, b, cc) = (ops[i], ops[i + 1], ops[i + 2], ops[i + 3]);
        i += 4;
        let mut out = |e: StreamEvent<'_>| c.event(&e);
        match k % 6 {
            0 => r.segment(
                step(r.next_seq(), b, cc),
                payload(usize::from(a) + 1),
                &mut out,
            ),
            1 => {
                if i + 4 > ops.len() {
                    break;
                }
                let seq = u32::from_le_bytes([ops[i], ops[i + 1], ops[i + 2], ops[i + 3]]);
                i += 4;
                r.segment(seq, payload(usize::from(a) + 1), &mut out);
            }
            2 => {
                let at = r.next_seq().wrapping_add(u32::from(b) * 4096);
                r.segment(at, payload((usize::from(a) + 1) * 1024), &mut out);
            }
            3 => {
                let d = u32::from_le_bytes([a, b, cc, 0]);
                r.gap(r.next_seq().wrapping_add(d), &mut out);
            }
            4 => r.skip(SKIPS[usize::from(a) % SKIPS.len()]),
            _ => r.fin(step(r.next_seq(), b, cc), &mut out),
        }
        assert!(r.buffered() <= MAX_BUFFERED, "held {} bytes", r.buffered());
        assert!(
            r.held_pieces() <= MAX_HELD_SEGMENTS,
            "held {} pieces",
            r.held_pieces()
        );
        assert_eq!(
            r.delivered(),
            c.next,
            "delivered() is not where the events got to"
        );
        assert_eq!(
            r.missing_bytes(),
            c.gaps,
            "missing_bytes() is not the sum of the gaps"
        );
        assert_eq!(r.is_finished(), c.fin.is_some());
    }
    // Teardown: everything up to the FIN (or as far as anything was seen) is acknowledged.
    let end = match r.fin_offset() {
        Some(f) => f.saturating_sub(r.delivered()),
        None => r.buffered() as u64,
    };
    let upto = r
        .next_seq()
        .wrapping_add(u32::try_from(end.min(1 << 30)).unwrap_or(0));
    r.gap(upto, &mut |e: StreamEvent<'_>| c.event(&e));
    assert_eq!(r.delivered(), c.next);
    std::hint::black_box(c.data_events);
}
