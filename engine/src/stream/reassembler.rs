//! One direction's reassembly: RFC 9293 §3.4 sequence space, Zeek's first-copy-wins
//! overlap policy, bounded out-of-order buffering, consumer-driven skipping.

use std::collections::{BTreeMap, VecDeque};

/// The most out-of-order payload bytes held for one direction.
///
/// When holding a new segment would exceed it, the reassembler reports
/// [`StreamAnomaly::BufferOverflow`] once for that call, then declares the hole before
/// the oldest held piece a [`StreamEvent::Gap`] and delivers the held data that follows
/// it, repeating until the held bytes fit again. Memory never grows past this (plus one
/// segment while it is being placed).
pub const MAX_BUFFERED: usize = 1 << 20;

/// The most separate out-of-order pieces (data or skipped ranges) held for one
/// direction; exceeding it is handled exactly like exceeding [`MAX_BUFFERED`]. It bounds
/// the bookkeeping that many tiny segments would otherwise cost.
pub const MAX_HELD_SEGMENTS: usize = 4096;

/// How many of the most recently delivered bytes are kept to compare retransmissions
/// of already-delivered data against. A retransmission of older (or skipped, or
/// missing) bytes is dropped without comparison. Skipped bytes are never kept.
///
/// Kept small on purpose: every delivered byte is copied into it, and it is held for every
/// direction being parsed (with a million open connections each kilobyte costs two
/// gigabytes). A retransmission nearly always resends the tail of what was sent, which is
/// what the history holds; a differing copy only matters as an anomaly.
pub const MAX_HISTORY: usize = 256;

/// How far ahead of the next expected byte a segment (or a gap or FIN) may start: 2^30,
/// the largest window RFC 7323 window scaling allows. Anything further is reported as
/// [`StreamAnomaly::OutOfWindow`] and ignored, so one bogus sequence number cannot turn
/// into a gigabyte-long gap.
pub const MAX_WINDOW: u64 = 1 << 30;

/// Something wrong with the segments; reported, never fatal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamAnomaly {
    /// A retransmitted or overlapping copy differs from the first copy seen (the first
    /// copy wins and is what was or will be delivered).
    RetransmissionInconsistency,
    /// The out-of-order limits ([`MAX_BUFFERED`], [`MAX_HELD_SEGMENTS`]) were hit; the
    /// oldest hole became a gap.
    BufferOverflow,
    /// A segment, gap or FIN further than [`MAX_WINDOW`] ahead; ignored.
    OutOfWindow,
    /// Payload beyond the FIN's sequence number; the excess was dropped.
    DataAfterFin,
}

impl StreamAnomaly {
    /// The anomaly's name as the analysis reports it.
    pub fn name(self) -> &'static str {
        match self {
            StreamAnomaly::RetransmissionInconsistency => "retransmission_inconsistency",
            StreamAnomaly::BufferOverflow => "reassembly_buffer_overflow",
            StreamAnomaly::OutOfWindow => "segment_out_of_window",
            StreamAnomaly::DataAfterFin => "data_after_fin",
        }
    }
}

/// What the reassembler hands the consumer, in stream order.
///
/// `Data` borrows either the caller's segment or a held buffer for the duration of the
/// callback only (zero copies for in-order traffic); a consumer that needs the bytes
/// later copies them itself.
#[derive(Debug, PartialEq, Eq)]
pub enum StreamEvent<'a> {
    /// Contiguous bytes starting at stream offset `offset`.
    Data { offset: u64, data: &'a [u8] },
    /// `len` bytes from `offset` arrived but were discarded because the consumer asked
    /// for them to be skipped ([`Reassembler::skip`]).
    Skipped { offset: u64, len: u64 },
    /// `len` bytes from `offset` were never seen (the receiver acknowledged them, or the
    /// buffer limit forced the hole closed). Reported whether or not they were in a
    /// skipped range.
    Gap { offset: u64, len: u64 },
    /// An anomaly noticed at stream offset `offset` (clamped to 0 for data from before
    /// the stream's start).
    Anomaly { offset: u64, kind: StreamAnomaly },
    /// Every byte up to the FIN has been delivered, skipped or declared a gap; `offset`
    /// is the stream length. Reported once.
    Fin { offset: u64 },
}

/// A held out-of-order piece: real bytes, or a range that arrived inside the skipped
/// region (only its length is kept).
#[derive(Debug)]
enum Piece {
    Data(Vec<u8>),
    Skip(u64),
}

impl Piece {
    fn len(&self) -> u64 {
        match self {
            Piece::Data(v) => len64(v.len()),
            Piece::Skip(n) => *n,
        }
    }
}

fn len64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Reassembly of one direction of a TCP connection.
///
/// * [`segment`](Self::segment): a segment's payload; in-order bytes are delivered at
///   once (plus whatever held data they make contiguous), out-of-order bytes are held.
/// * [`gap`](Self::gap): the peer acknowledged up to a sequence number, so bytes before
///   it that never arrived are lost: reported as a gap, held data beyond delivered.
/// * [`skip`](Self::skip): the consumer does not need the next `n` bytes; they are
///   discarded as they arrive, never buffered, across segments and gaps.
/// * [`fin`](Self::fin): the FIN's sequence number; the stream ends there.
///
/// Overlaps follow Zeek: the first copy of a byte wins; a later copy that differs is
/// reported as [`StreamAnomaly::RetransmissionInconsistency`] (compared against held
/// data and the last [`MAX_HISTORY`] delivered bytes).
#[derive(Debug)]
pub struct Reassembler {
    /// The sequence number of stream offset 0.
    base: u32,
    /// The stream offset of the next byte to deliver.
    delivered: u64,
    /// Bytes before this offset are skipped (never below `delivered` in effect).
    skip_until: u64,
    /// Non-overlapping held pieces keyed by stream offset; all keys > `delivered`.
    held: BTreeMap<u64, Piece>,
    /// Sum of the lengths of held `Piece::Data`.
    held_bytes: usize,
    /// The last delivered bytes, ending exactly at `delivered`.
    history: VecDeque<u8>,
    /// The FIN's stream offset (first FIN wins).
    fin: Option<u64>,
    fin_reported: bool,
    /// Total bytes declared gaps.
    missing: u64,
}

impl Reassembler {
    /// A reassembler whose first byte has sequence number `first_seq` (ISN + 1 after a
    /// SYN, or the first seen segment's sequence number mid-stream).
    pub fn new(first_seq: u32) -> Self {
        Reassembler {
            base: first_seq,
            delivered: 0,
            skip_until: 0,
            held: BTreeMap::new(),
            held_bytes: 0,
            history: VecDeque::new(),
            fin: None,
            fin_reported: false,
            missing: 0,
        }
    }

    /// The stream offset of the next byte to be delivered (= bytes delivered, skipped
    /// and declared gaps so far).
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// The sequence number of the next byte expected.
    pub fn next_seq(&self) -> u32 {
        // Truncation is the point: sequence numbers are the offset modulo 2^32.
        let b = self.delivered.to_le_bytes();
        self.base
            .wrapping_add(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Out-of-order payload bytes held now (≤ [`MAX_BUFFERED`] between calls).
    pub fn buffered(&self) -> usize {
        self.held_bytes
    }

    /// Out-of-order pieces held now (≤ [`MAX_HELD_SEGMENTS`] between calls).
    pub fn held_pieces(&self) -> usize {
        self.held.len()
    }

    /// Total bytes reported as gaps.
    pub fn missing_bytes(&self) -> u64 {
        self.missing
    }

    /// The FIN's stream offset, once known.
    pub fn fin_offset(&self) -> Option<u64> {
        self.fin
    }

    /// True once the FIN has been reached (the `Fin` event was reported).
    pub fn is_finished(&self) -> bool {
        self.fin_reported
    }

    /// The stream offset of `seq`, relative to the next expected byte: within ±2^31 of
    /// it (RFC 9293 §3.4 comparisons are modulo 2^32). Negative means before the stream.
    fn offset_of(&self, seq: u32) -> i128 {
        let rel = seq.wrapping_sub(self.next_seq()) as i32;
        i128::from(self.delivered).saturating_add(i128::from(rel))
    }

    /// Offers one segment's payload starting at sequence number `seq`.
    pub fn segment<'a>(&mut self, seq: u32, data: &'a [u8], out: &mut impl FnMut(StreamEvent<'_>)) {
        if data.is_empty() {
            return;
        }
        let mut start = self.offset_of(seq);
        let mut data: &'a [u8] = data;
        let end = start.saturating_add(i128::try_from(data.len()).unwrap_or(i128::MAX));
        let delivered = i128::from(self.delivered);

        if start > delivered.saturating_add(i128::from(MAX_WINDOW)) {
            out(StreamEvent::Anomaly {
                offset: self.delivered,
                kind: StreamAnomaly::OutOfWindow,
            });
            return;
        }
        if let Some(fin) = self.fin {
            let fin = i128::from(fin);
            if end > fin {
                out(StreamEvent::Anomaly {
                    offset: clamp_offset(start.max(fin)),
                    kind: StreamAnomaly::DataAfterFin,
                });
                if start >= fin {
                    return;
                }
                let keep = usize::try_from(fin.saturating_sub(start)).unwrap_or(0);
                data = data.get(..keep).unwrap_or(&[]);
            }
        }
        // Bytes before `delivered`: a retransmission; compare what history still holds.
        if start < delivered {
            let behind = usize::try_from(delivered.saturating_sub(start)).unwrap_or(usize::MAX);
            let old = data.get(..behind).unwrap_or(data);
            if !self.matches_history(start, old) {
                out(StreamEvent::Anomaly {
                    offset: clamp_offset(start),
                    kind: StreamAnomaly::RetransmissionInconsistency,
                });
            }
            data = data.get(behind..).unwrap_or(&[]);
            start = delivered;
        }
        if data.is_empty() {
            return;
        }
        let Ok(start) = u64::try_from(start) else {
            return;
        };
        if start == self.delivered {
            self.sweep(data, out);
        } else {
            self.hold(start, data, out);
            self.enforce_limits(out);
        }
        self.check_fin(out);
    }

    /// The receiver acknowledged everything before `upto_seq`: bytes before it that
    /// never arrived are reported as [`StreamEvent::Gap`]s, and held data beyond each
    /// hole is delivered (including held data past `upto_seq` that becomes contiguous).
    pub fn gap(&mut self, upto_seq: u32, out: &mut impl FnMut(StreamEvent<'_>)) {
        let target = self.offset_of(upto_seq);
        if target > i128::from(self.delivered).saturating_add(i128::from(MAX_WINDOW)) {
            out(StreamEvent::Anomaly {
                offset: self.delivered,
                kind: StreamAnomaly::OutOfWindow,
            });
            return;
        }
        let Ok(mut target) = u64::try_from(target) else {
            return;
        };
        if let Some(fin) = self.fin {
            target = target.min(fin);
        }
        self.close_holes_until(target, out);
        self.check_fin(out);
    }

    /// The consumer does not need the next `n` bytes after everything delivered so far:
    /// they are discarded as they arrive (reported as [`StreamEvent::Skipped`], or as
    /// [`StreamEvent::Gap`] where missing) and never buffered; held data inside the range
    /// is released. The skipped range only ever extends: a smaller `n` than an earlier
    /// request still pending changes nothing. `u64::MAX` skips to the end of the stream.
    pub fn skip(&mut self, n: u64) {
        let until = self.delivered.saturating_add(n);
        if until <= self.skip_until {
            return;
        }
        self.skip_until = until;
        // Turn held data inside the skipped range into bare ranges.
        let keys: Vec<u64> = self.held.range(..until).map(|(k, _)| *k).collect();
        for k in keys {
            let Some(piece) = self.held.remove(&k) else {
                continue;
            };
            match piece {
                Piece::Skip(n) => {
                    self.held.insert(k, Piece::Skip(n));
                }
                Piece::Data(v) => {
                    self.held_bytes = self.held_bytes.saturating_sub(v.len());
                    let inside = usize::try_from(until.saturating_sub(k)).unwrap_or(usize::MAX);
                    if inside >= v.len() {
                        self.held.insert(k, Piece::Skip(len64(v.len())));
                    } else {
                        let rest = v.get(inside..).unwrap_or(&[]).to_vec();
                        self.held.insert(k, Piece::Skip(len64(inside)));
                        self.held_bytes = self.held_bytes.saturating_add(rest.len());
                        self.held.insert(until, Piece::Data(rest));
                    }
                }
            }
        }
    }

    /// The FIN's sequence number (the sequence number right after the last data byte).
    /// The first FIN wins; held data beyond it is dropped as [`StreamAnomaly::DataAfterFin`].
    /// Once everything before it is delivered, [`StreamEvent::Fin`] is reported.
    pub fn fin(&mut self, seq: u32, out: &mut impl FnMut(StreamEvent<'_>)) {
        if self.fin.is_some() {
            return;
        }
        let off = self.offset_of(seq);
        if off > i128::from(self.delivered).saturating_add(i128::from(MAX_WINDOW)) {
            out(StreamEvent::Anomaly {
                offset: self.delivered,
                kind: StreamAnomaly::OutOfWindow,
            });
            return;
        }
        // A FIN before bytes already delivered: the stream ends where it has got to.
        let off = u64::try_from(off).unwrap_or(0).max(self.delivered);
        self.fin = Some(off);
        self.skip_until = self.skip_until.min(off.max(self.delivered));
        let beyond = self.held.split_off(&off);
        let mut dropped = !beyond.is_empty();
        for piece in beyond.values() {
            if let Piece::Data(v) = piece {
                self.held_bytes = self.held_bytes.saturating_sub(v.len());
            }
        }
        // A piece straddling the FIN is cut at it.
        if let Some((&k, piece)) = self.held.iter_mut().next_back() {
            let keep = off.saturating_sub(k);
            if piece.len() > keep {
                dropped = true;
                match piece {
                    Piece::Data(v) => {
                        let keep = usize::try_from(keep).unwrap_or(usize::MAX);
                        self.held_bytes =
                            self.held_bytes.saturating_sub(v.len().saturating_sub(keep));
                        v.truncate(keep);
                    }
                    Piece::Skip(n) => *n = keep,
                }
            }
        }
        if dropped {
            out(StreamEvent::Anomaly {
                offset: off,
                kind: StreamAnomaly::DataAfterFin,
            });
        }
        self.check_fin(out);
    }

    /// Whether `old`, at stream offset `start` (< delivered), equals what was delivered
    /// there, as far as the history still holds it.
    fn matches_history(&self, start: i128, old: &[u8]) -> bool {
        let hist_start = i128::from(self.delivered)
            .saturating_sub(i128::try_from(self.history.len()).unwrap_or(0));
        for (i, b) in old.iter().enumerate() {
            let pos = start.saturating_add(i128::try_from(i).unwrap_or(i128::MAX));
            if pos < hist_start {
                continue;
            }
            let Ok(idx) = usize::try_from(pos.saturating_sub(hist_start)) else {
                continue;
            };
            match self.history.get(idx) {
                Some(h) if h != b => return false,
                Some(_) => {}
                None => break,
            }
        }
        true
    }

    /// Delivers `data`, which starts exactly at `delivered`, letting held pieces (first
    /// copies) win where they overlap it, then drains whatever became contiguous.
    fn sweep(&mut self, data: &[u8], out: &mut impl FnMut(StreamEvent<'_>)) {
        let mut p = 0usize;
        let mut inconsistent = false;
        while p < data.len() {
            let next_key = self.held.keys().next().copied();
            match next_key {
                Some(k) if k <= self.delivered => {
                    let Some(piece) = self.held.remove(&k) else {
                        break;
                    };
                    let plen = usize::try_from(piece.len()).unwrap_or(usize::MAX);
                    if let Piece::Data(v) = &piece {
                        self.held_bytes = self.held_bytes.saturating_sub(v.len());
                        let end = p.saturating_add(plen).min(data.len());
                        let new = data.get(p..end).unwrap_or(&[]);
                        if v.get(..new.len()) != Some(new) {
                            inconsistent = true;
                        }
                    }
                    let at = self.delivered;
                    self.emit_piece(piece, out);
                    if inconsistent {
                        out(StreamEvent::Anomaly {
                            offset: at,
                            kind: StreamAnomaly::RetransmissionInconsistency,
                        });
                        inconsistent = false;
                    }
                    p = p.saturating_add(plen);
                }
                Some(k) => {
                    let room =
                        usize::try_from(k.saturating_sub(self.delivered)).unwrap_or(usize::MAX);
                    let end = p.saturating_add(room).min(data.len());
                    self.emit_slice(data.get(p..end).unwrap_or(&[]), out);
                    p = end;
                }
                None => {
                    self.emit_slice(data.get(p..).unwrap_or(&[]), out);
                    p = data.len();
                }
            }
        }
        self.drain(out);
    }

    /// Holds `data` at `start` (> delivered) where no earlier copy is held; reports a
    /// differing overlap with held data.
    fn hold(&mut self, start: u64, data: &[u8], out: &mut impl FnMut(StreamEvent<'_>)) {
        let end = start.saturating_add(len64(data.len()));
        let mut covered: Vec<(u64, u64)> = Vec::new();
        let mut inconsistent = false;
        for (&k, piece) in self.held.range(..end).rev() {
            let pend = k.saturating_add(piece.len());
            if pend <= start {
                break;
            }
            covered.push((k, pend));
            if let Piece::Data(v) = piece {
                let a = k.max(start);
                let b = pend.min(end);
                let n = b.saturating_sub(a);
                let old = slice_at(v, a.saturating_sub(k), n);
                let new = slice_at(data, a.saturating_sub(start), n);
                if old != new {
                    inconsistent = true;
                }
            }
        }
        covered.reverse();
        if inconsistent {
            out(StreamEvent::Anomaly {
                offset: start,
                kind: StreamAnomaly::RetransmissionInconsistency,
            });
        }
        let mut cursor = start;
        for (k, pend) in covered {
            if k > cursor {
                self.insert_fragment(
                    cursor,
                    slice_at(data, cursor.saturating_sub(start), k.saturating_sub(cursor)),
                );
            }
            cursor = cursor.max(pend);
        }
        if cursor < end {
            self.insert_fragment(
                cursor,
                slice_at(
                    data,
                    cursor.saturating_sub(start),
                    end.saturating_sub(cursor),
                ),
            );
        }
    }

    /// Inserts a fragment known not to overlap anything held, splitting it at the end
    /// of the skipped range.
    fn insert_fragment(&mut self, at: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let end = at.saturating_add(len64(data.len()));
        let mut rest_at = at;
        let mut rest = data;
        if at < self.skip_until {
            let n = self.skip_until.min(end).saturating_sub(at);
            self.held.insert(at, Piece::Skip(n));
            rest_at = at.saturating_add(n);
            rest = data
                .get(usize::try_from(n).unwrap_or(usize::MAX)..)
                .unwrap_or(&[]);
        }
        if !rest.is_empty() {
            self.held_bytes = self.held_bytes.saturating_add(rest.len());
            self.held.insert(rest_at, Piece::Data(rest.to_vec()));
        }
    }

    /// While over a limit, the hole before the oldest held piece becomes a gap.
    fn enforce_limits(&mut self, out: &mut impl FnMut(StreamEvent<'_>)) {
        let mut reported = false;
        while self.held_bytes > MAX_BUFFERED || self.held.len() > MAX_HELD_SEGMENTS {
            let Some(&k) = self.held.keys().next() else {
                break;
            };
            if !reported {
                out(StreamEvent::Anomaly {
                    offset: self.delivered,
                    kind: StreamAnomaly::BufferOverflow,
                });
                reported = true;
            }
            if k > self.delivered {
                self.emit_gap(k.saturating_sub(self.delivered), out);
            }
            self.drain(out);
        }
    }

    /// Closes every hole before `target` as a gap, delivering held data between them.
    fn close_holes_until(&mut self, target: u64, out: &mut impl FnMut(StreamEvent<'_>)) {
        self.drain(out);
        while self.delivered < target {
            let hole_end = match self.held.keys().next() {
                Some(&k) => k.min(target),
                None => target,
            };
            if hole_end > self.delivered {
                self.emit_gap(hole_end.saturating_sub(self.delivered), out);
            }
            self.drain(out);
        }
    }

    /// Delivers held pieces while the first one starts at `delivered`.
    fn drain(&mut self, out: &mut impl FnMut(StreamEvent<'_>)) {
        while let Some(entry) = self.held.first_entry() {
            if *entry.key() > self.delivered {
                break;
            }
            let piece = entry.remove();
            if let Piece::Data(v) = &piece {
                self.held_bytes = self.held_bytes.saturating_sub(v.len());
            }
            self.emit_piece(piece, out);
        }
    }

    fn emit_piece(&mut self, piece: Piece, out: &mut impl FnMut(StreamEvent<'_>)) {
        match piece {
            Piece::Data(v) => self.emit_slice(&v, out),
            Piece::Skip(n) => self.emit_skipped(n, out),
        }
    }

    /// Delivers bytes at `delivered`: the part inside the skipped range as `Skipped`,
    /// the rest as `Data` (remembered in the history).
    fn emit_slice(&mut self, data: &[u8], out: &mut impl FnMut(StreamEvent<'_>)) {
        let mut data = data;
        if self.delivered < self.skip_until && !data.is_empty() {
            let n = (self.skip_until.saturating_sub(self.delivered)).min(len64(data.len()));
            self.emit_skipped(n, out);
            data = data
                .get(usize::try_from(n).unwrap_or(usize::MAX)..)
                .unwrap_or(&[]);
        }
        if data.is_empty() {
            return;
        }
        out(StreamEvent::Data {
            offset: self.delivered,
            data,
        });
        self.delivered = self.delivered.saturating_add(len64(data.len()));
        // Make room first, so that the buffer never grows past MAX_HISTORY (it is
        // allocated once, at that size).
        let keep = data
            .get(data.len().saturating_sub(MAX_HISTORY)..)
            .unwrap_or(&[]);
        let excess = self
            .history
            .len()
            .saturating_add(keep.len())
            .saturating_sub(MAX_HISTORY);
        self.history.drain(..excess.min(self.history.len()));
        if self.history.capacity() == 0 {
            self.history.reserve_exact(MAX_HISTORY);
        }
        self.history.extend(keep);
    }

    fn emit_skipped(&mut self, n: u64, out: &mut impl FnMut(StreamEvent<'_>)) {
        if n == 0 {
            return;
        }
        out(StreamEvent::Skipped {
            offset: self.delivered,
            len: n,
        });
        self.delivered = self.delivered.saturating_add(n);
        self.history.clear();
    }

    fn emit_gap(&mut self, n: u64, out: &mut impl FnMut(StreamEvent<'_>)) {
        if n == 0 {
            return;
        }
        out(StreamEvent::Gap {
            offset: self.delivered,
            len: n,
        });
        self.delivered = self.delivered.saturating_add(n);
        self.missing = self.missing.saturating_add(n);
        self.history.clear();
    }

    fn check_fin(&mut self, out: &mut impl FnMut(StreamEvent<'_>)) {
        if !self.fin_reported && self.fin == Some(self.delivered) {
            self.fin_reported = true;
            out(StreamEvent::Fin {
                offset: self.delivered,
            });
        }
    }
}

/// `data[from..from + len]`, or as much of it as exists.
fn slice_at(data: &[u8], from: u64, len: u64) -> &[u8] {
    let from = usize::try_from(from).unwrap_or(usize::MAX);
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    let end = from.saturating_add(len).min(data.len());
    data.get(from..end).unwrap_or(&[])
}

fn clamp_offset(off: i128) -> u64 {
    u64::try_from(off.max(0)).unwrap_or(u64::MAX)
}
