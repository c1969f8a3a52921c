//! One direction of WebSocket frames through `app::ws::WsParser`.
//!
//! Input layout:
//! * byte 0: the sender, value % 3 among Client, Server, Unknown; bit 2: model the
//!   reassembler's skipping (after every call, the next `skippable()` bytes arrive as
//!   `skip` instead of `feed`); bit 3: the stream starts at offset 2^40 + 3 instead of
//!   0; bit 4: no `fin` at the end.
//! * byte 1: the number of operations (value % 32; 0 = feed everything at once), then
//!   two bytes per operation, `a` and `b`, by kind `a & 3`:
//!   - 0: feed `b` × [1, 8, 64, 512][(a >> 2) & 3] bytes in one call (`b` = 0: all);
//!   - 1: feed `b` bytes (0: all) in calls of `(a >> 2) + 1` bytes each;
//!   - 2: a gap of `b` bytes of the input (never shown to the parser) plus an extra
//!     length [0, 1, 2^16, 2^30, 2^53, 2^63, u64::MAX, the parser's `skippable()`]
//!     `[(a >> 2) & 7]`;
//!   - 3: skip `b` bytes of the input (0: as many as `skippable()` says), whether or not
//!     the parser said they were skippable.
//!
//!   The operations repeat until the bytes are used up (at most a bounded number of
//!   rounds); what is left is fed, then the stream ends.
//! * the rest: the stream.
//!
//! Checked with `assert!` (a failure is a bug): event offsets never decrease, never
//! precede the stream's start and never pass the bytes delivered; `offset()` is exactly
//! the bytes fed + skipped + gapped; nothing is reported once the parser is done; only
//! close frames carry a code or reason, and only with 2 or more payload bytes. And the
//! events do not depend on how the bytes were cut into calls: a shadow parser gets the
//! same bytes in as few `feed`s as possible (everything between two gaps, skips the
//! parser did not ask for, or the `fin`; the reassembler-model skips are fed to it as
//! data) and must report the same events.

use pcap_analyzer_engine::app::ws::{Sender, WsEvent, WsParser, OP_CLOSE};

const FEED_MULT: [usize; 4] = [1, 8, 64, 512];
const GAP_EXTRA: [u64; 6] = [0, 1, 1 << 16, 1 << 30, 1 << 53, 1 << 63];

#[derive(Clone, Copy)]
enum Delivery<'a> {
    Data(&'a [u8]),
    Skip(u64),
    Gap(u64),
    Fin,
}

struct Run<'a> {
    data: &'a [u8],
    start: u64,
    pos: u64,
    skip_until: u64,
    reassembler_skips: bool,
    ws: WsParser,
    last: u64,
    evs: Vec<WsEvent>,
    shadow: WsParser,
    shadow_evs: Vec<WsEvent>,
    /// Bytes given to `ws` (as data or as a skip it asked for) not yet to `shadow`.
    shadow_pending: Vec<u8>,
}

impl<'a> Run<'a> {
    fn flush_shadow(&mut self) {
        if !self.shadow_pending.is_empty() {
            let evs = &mut self.shadow_evs;
            self.shadow.feed(&self.shadow_pending, &mut |e| evs.push(e));
            self.shadow_pending.clear();
        }
    }

    /// One call; `as_data`: the bytes of a skip the parser asked for, which the shadow
    /// is fed instead.
    fn deliver(&mut self, del: Delivery<'a>, as_data: Option<&'a [u8]>) {
        match (del, as_data) {
            (Delivery::Data(b), _) | (_, Some(b)) => self.shadow_pending.extend_from_slice(b),
            _ => {
                self.flush_shadow();
                let evs = &mut self.shadow_evs;
                match del {
                    Delivery::Data(b) => self.shadow.feed(b, &mut |e| evs.push(e)),
                    Delivery::Skip(n) => self.shadow.skip(n, &mut |e| evs.push(e)),
                    Delivery::Gap(n) => self.shadow.gap(n, &mut |e| evs.push(e)),
                    Delivery::Fin => self.shadow.fin(&mut |e| evs.push(e)),
                }
            }
        }
        let len = match del {
            Delivery::Data(b) => b.len() as u64,
            Delivery::Skip(n) | Delivery::Gap(n) => n,
            Delivery::Fin => 0,
        };
        self.pos = self.pos.saturating_add(len);
        let was_done = self.ws.is_done();
        let mut evs = Vec::new();
        match del {
            Delivery::Data(b) => self.ws.feed(b, &mut |e| evs.push(e)),
            Delivery::Skip(n) => self.ws.skip(n, &mut |e| evs.push(e)),
            Delivery::Gap(n) => self.ws.gap(n, &mut |e| evs.push(e)),
            Delivery::Fin => self.ws.fin(&mut |e| evs.push(e)),
        }
        if was_done {
            assert!(evs.is_empty(), "events after the parser stopped: {evs:?}");
        }
        if self.pos < u64::MAX {
            assert_eq!(self.ws.offset(), self.pos, "offset() != bytes delivered");
        } else {
            assert!(
                self.ws.offset() <= self.pos,
                "offset() past bytes delivered"
            );
        }
        for ev in &evs {
            let off = match ev {
                WsEvent::Frame { offset, .. } | WsEvent::Anomaly { offset, .. } => *offset,
            };
            assert!(
                off >= self.start && off >= self.last,
                "offset went back: {ev:?}"
            );
            assert!(off <= self.pos, "event past the bytes delivered: {ev:?}");
            self.last = off;
            if let WsEvent::Frame { frame, .. } = ev {
                assert!(frame.rsv < 8 && frame.opcode < 16);
                if frame.close_code.is_some() || frame.close_reason.is_some() {
                    assert_eq!(frame.opcode, OP_CLOSE);
                    assert!(frame.close_code.is_some() && frame.payload_len >= 2);
                }
            }
        }
        self.evs.extend(evs);
        if self.reassembler_skips {
            let until = self.pos.saturating_add(self.ws.skippable());
            self.skip_until = self.skip_until.max(until);
        }
    }

    /// Input bytes as the reassembler would pass them on: the part in the skipped range
    /// as one `Skip`, the rest as one `Data`.
    fn deliver_bytes(&mut self, bytes: &'a [u8]) {
        let mut bytes = bytes;
        if self.pos < self.skip_until {
            let k = usize::try_from(self.skip_until - self.pos)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            if k > 0 {
                let (skipped, rest) = bytes.split_at(k);
                self.deliver(Delivery::Skip(k as u64), Some(skipped));
                bytes = rest;
            }
        }
        if !bytes.is_empty() {
            self.deliver(Delivery::Data(bytes), None);
        }
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }

    fn op(&mut self, a: u8, b: u8) {
        let all = |n: usize| if n == 0 { usize::MAX } else { n };
        match a & 3 {
            0 => {
                let bytes = self.take(all(usize::from(b) * FEED_MULT[usize::from((a >> 2) & 3)]));
                self.deliver_bytes(bytes);
            }
            1 => {
                let bytes = self.take(all(usize::from(b)));
                for piece in bytes.chunks(usize::from(a >> 2) + 1) {
                    self.deliver_bytes(piece);
                }
            }
            2 => {
                let n = self.take(usize::from(b)).len() as u64;
                let extra = match usize::from((a >> 2) & 7) {
                    i @ 0..=5 => GAP_EXTRA[i],
                    6 => u64::MAX,
                    _ => self.ws.skippable(),
                };
                self.deliver(Delivery::Gap(n.saturating_add(extra)), None);
            }
            _ => {
                let n = if b == 0 {
                    usize::try_from(self.ws.skippable()).unwrap_or(usize::MAX)
                } else {
                    usize::from(b)
                };
                let n = self.take(n).len() as u64;
                if n > 0 {
                    self.deliver(Delivery::Skip(n), None);
                }
            }
        }
    }
}

/// Runs one input (the layout above); panics on a broken invariant.
pub fn run(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let sender = [Sender::Client, Sender::Server, Sender::Unknown][usize::from(data[0] % 3)];
    let start = if data[0] & 8 != 0 { (1 << 40) + 3 } else { 0 };
    let nops = usize::from(data[1] % 32);
    let Some(ops) = data.get(2..2 + 2 * nops) else {
        return;
    };
    let mut run = Run {
        data: &data[2 + 2 * nops..],
        start,
        pos: start,
        skip_until: start,
        reassembler_skips: data[0] & 4 != 0,
        ws: WsParser::new(sender, start),
        last: start,
        evs: Vec::new(),
        shadow: WsParser::new(sender, start),
        shadow_evs: Vec::new(),
        shadow_pending: Vec::new(),
    };
    // A bound keeps a round of operations that uses no input from repeating forever.
    let mut rounds = 0;
    while nops > 0 && rounds < 64 && !run.data.is_empty() {
        for o in ops.chunks_exact(2) {
            run.op(o[0], o[1]);
        }
        rounds += 1;
    }
    let rest = run.take(usize::MAX);
    run.deliver_bytes(rest);
    if data[0] & 16 == 0 {
        run.deliver(Delivery::Fin, None);
    }
    run.flush_shadow();
    if run.evs != run.shadow_evs {
        let i = run
            .evs
            .iter()
            .zip(&run.shadow_evs)
            .take_while(|(a, b)| a == b)
            .count();
        panic!(
            "the events depend on how the bytes were split into calls; from event {i} on, \
             in pieces: {:?}\nfed at once: {:?}",
            run.evs.get(i..),
            run.shadow_evs.get(i..)
        );
    }
}
