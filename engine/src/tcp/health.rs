//! TCP health per direction: retransmissions, reordering, duplicate ACKs, SACK and D-SACK,
//! zero windows and probes, advertised windows, round trips and idle time, measured at the
//! capture point as tcptrace's long output (`tcptrace -l -r`) measures them.
//!
//! Sans-IO: [`Health::segment`] takes one segment's header facts ([`SegmentFacts`]) and
//! its direction, updates both directions and returns what the segment was ([`Marks`],
//! for the `explain` ladder); [`Health::summary`] gives the record's figures.
//!
//! The steps keep tcptrace's names and order (its `dotrace`, `rexmit`/`addseg`, `ack_in`,
//! `rtt_ackin` and `collapse_quad`), because the figures are only comparable when they are
//! computed the same way:
//!
//! * every segment that occupies sequence space (data, SYN, FIN; SYN and FIN one number
//!   each) goes into a per-direction list of sent ranges ([`addseg`]); a segment that
//!   resends any of it is a **retransmission** (its resent bytes counted), one that starts
//!   below a range it does not cover is **out of order**;
//! * an ACK walks the peer's list ([`ack_in`]): the range it acknowledges exactly gives an
//!   **RTT sample** unless that range was retransmitted (Karn's rule, `rtt_ackin`) or an
//!   earlier range was sent after it; an ACK of an already acknowledged range is a
//!   **duplicate** when it is BSD's: no data, the same ACK and window as this side's
//!   previous one, data outstanding, and (RFC 5681 §2, where tcptrace differs) neither SYN,
//!   FIN nor RST; the fourth ACK of one range is a **triple duplicate**;
//! * a segment sent while the peer's last advertised window was zero is a **window probe**
//!   (and not looked at for retransmission);
//! * the first SACK block of an ACK is a **D-SACK** (RFC 2883) when it lies below the ACK,
//!   inside the second block, or overlapping it.
//!
//! Sequence numbers are unwrapped to 64 bits per direction, so the 4 GiB wrap needs none of
//! tcptrace's quadrants; the list keeps at most [`MAX_SEGMENTS`] ranges (acknowledged
//! neighbours merge, as in tcptrace; beyond that the two oldest merge).

use std::collections::VecDeque;

use crate::decode::flags::{ACK, FIN, RST, SYN};
use crate::decode::tcp_options::TcpOptions;

/// Ranges kept per direction before the two oldest are merged (a one-way capture, where no
/// ACK ever collapses them, must not grow without bound; a retransmission of data that old
/// is then still a retransmission, but its RTT bookkeeping is approximate).
pub const MAX_SEGMENTS: usize = 2048;

/// What the health view needs of one TCP segment.
#[derive(Clone, Copy, Debug)]
pub struct SegmentFacts {
    pub ts_ns: i64,
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub payload_len: u32,
    pub window: u16,
    pub options: TcpOptions,
}

/// What one segment was, for the ladder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Marks(pub u8);

impl Marks {
    pub const RETRANSMISSION: Marks = Marks(1);
    pub const OUT_OF_ORDER: Marks = Marks(2);
    pub const DUP_ACK: Marks = Marks(4);
    pub const TRIPLE_DUP_ACK: Marks = Marks(8);
    pub const ZERO_WINDOW: Marks = Marks(16);
    pub const WINDOW_PROBE: Marks = Marks(32);
    pub const SACK: Marks = Marks(64);
    pub const DSACK: Marks = Marks(128);
    /// Every mark with its name, in ladder order.
    pub const NAMES: [(Marks, &'static str); 8] = [
        (Marks::RETRANSMISSION, "retransmission"),
        (Marks::OUT_OF_ORDER, "out_of_order"),
        (Marks::DUP_ACK, "dup_ack"),
        (Marks::TRIPLE_DUP_ACK, "triple_dup_ack"),
        (Marks::ZERO_WINDOW, "zero_window"),
        (Marks::WINDOW_PROBE, "window_probe"),
        (Marks::SACK, "sack"),
        (Marks::DSACK, "dsack"),
    ];

    pub fn has(self, m: Marks) -> bool {
        self.0 & m.0 != 0
    }

    fn set(&mut self, m: Marks) {
        self.0 |= m.0;
    }

    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Marks::NAMES
            .into_iter()
            .filter(move |(m, _)| self.has(*m))
            .map(|(_, n)| n)
    }
}

/// One sent range of sequence space, `first..=last` (unwrapped).
#[derive(Clone, Copy, Debug)]
struct Range {
    first: i64,
    last: i64,
    time_ns: i64,
    retrans: u32,
    acked: u32,
}

/// Unwraps one direction's 32-bit sequence numbers onto a 64-bit line.
#[derive(Clone, Copy, Debug, Default)]
struct Unwrap {
    /// The highest sequence number seen (raw, unwrapped).
    high: Option<(u32, i64)>,
}

impl Unwrap {
    fn peek(&self, seq: u32) -> Option<i64> {
        self.high
            .map(|(raw, rel)| rel + i64::from(seq.wrapping_sub(raw) as i32))
    }

    fn take(&mut self, seq: u32) -> i64 {
        let rel = self.peek(seq).unwrap_or(1 << 32);
        if self.high.is_none_or(|(_, r)| rel > r) {
            self.high = Some((seq, rel));
        }
        rel
    }
}

/// What a SYN offered (the record's `mss`, `window_scale`, `sack_permitted`,
/// `timestamps`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SynOptions {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    pub timestamps: bool,
}

impl SynOptions {
    fn of(o: &TcpOptions) -> Self {
        SynOptions {
            mss: o.mss,
            window_scale: o.window_scale,
            sack_permitted: o.sack_permitted,
            timestamps: o.timestamps,
        }
    }
}

/// One direction's state and counts (tcptrace's `tcb`).
#[derive(Clone, Debug, Default)]
pub struct Direction {
    pub packets: u64,
    syn_count: u32,
    fin_count: u32,
    pub retrans_packets: u32,
    pub retrans_bytes: u64,
    pub out_of_order_packets: u32,
    pub seq_packets: u64,
    pub unique_bytes: u64,
    pub dup_acks: u32,
    pub triple_dup_acks: u32,
    pub sack_packets: u32,
    pub dsack_packets: u32,
    pub zero_window_advertisements: u32,
    pub zero_window_probes: u32,
    /// The options of this side's SYN (None until one is seen).
    pub syn_options: Option<SynOptions>,
    /// RFC 7323 window scaling requested (any segment, as tcptrace) and its shift.
    ws_requested: bool,
    window_scale: u8,
    // Advertised windows.
    win_last: u64,
    pub win_max: u64,
    pub win_min: u64,
    win_tot: u64,
    win_scaled_pkts: u64,
    stats_scaled: bool,
    pub window_samples: u64,
    // Idle time.
    /// The time of this direction's last segment (valid once `packets` > 0).
    last_ns: i64,
    pub idle_max_ns: i64,
    /// Has any in-order segment left data outstanding (tcptrace's `owin_tot > 0`, the
    /// duplicate-ACK test's "data outstanding")?
    owin_any: bool,
    /// Round trips of this direction's data.
    pub rtt: Rtt,
    seq: Unwrap,
    ranges: VecDeque<Range>,
}

/// A direction that sent nothing (what an absent one reads as).
static SILENT: Direction = Direction::new();

impl Direction {
    const fn new() -> Self {
        Direction {
            packets: 0,
            syn_count: 0,
            fin_count: 0,
            retrans_packets: 0,
            retrans_bytes: 0,
            out_of_order_packets: 0,
            seq_packets: 0,
            unique_bytes: 0,
            dup_acks: 0,
            triple_dup_acks: 0,
            sack_packets: 0,
            dsack_packets: 0,
            zero_window_advertisements: 0,
            zero_window_probes: 0,
            syn_options: None,
            ws_requested: false,
            window_scale: 0,
            win_last: 0,
            win_max: 0,
            win_min: 0,
            win_tot: 0,
            win_scaled_pkts: 0,
            stats_scaled: false,
            window_samples: 0,
            last_ns: 0,
            idle_max_ns: 0,
            owin_any: false,
            rtt: Rtt {
                samples: 0,
                min_ns: 0,
                max_ns: 0,
                sum: 0.0,
                sum2: 0.0,
            },
            seq: Unwrap { high: None },
            ranges: VecDeque::new(),
        }
    }

    /// tcptrace's average advertised window: over the packets since scaling began when
    /// both directions scale, else over every packet.
    pub fn window_avg(&self, peer: &Direction) -> u64 {
        if self.stats_scaled && peer.stats_scaled {
            self.win_tot.checked_div(self.win_scaled_pkts).unwrap_or(0)
        } else {
            self.win_tot.checked_div(self.packets).unwrap_or(0)
        }
    }

    /// `addseg`: put `first..=last` into the sent ranges; the number of its bytes that
    /// were sent before, and whether it arrived out of order.
    fn addseg(&mut self, mut first: i64, last: i64, now: i64) -> (i64, bool) {
        let mut out_of_order = false;
        let mut rexlen = 0i64;
        let mut split = false;
        let mut i = match self.ranges.back() {
            Some(tail) if first > tail.last => self.ranges.len(), // the common case
            _ => 0,
        };
        while i < self.ranges.len() {
            let r = self.ranges[i];
            if first > r.last {
                i += 1;
                continue;
            }
            if first < r.first {
                // Starts before this range: out of order unless it also covers its end.
                if last < r.last {
                    out_of_order = true;
                }
                if last < r.first {
                    self.insert(i, first, last, now);
                    return (rexlen, out_of_order);
                }
                self.insert(i, first, r.first - 1, now);
                i += 1;
                first = r.first;
            }
            // Starts within this range: resent.
            let r = &mut self.ranges[i];
            r.retrans += 1;
            if !split {
                r.time_ns = now; // tcptrace's rtt_retrans
            }
            if last <= r.last {
                rexlen += last - first + 1;
                return (rexlen, out_of_order);
            }
            split = true;
            rexlen += r.last - first + 1;
            first = r.last + 1;
            i += 1;
        }
        self.insert(self.ranges.len(), first, last, now);
        (rexlen, out_of_order)
    }

    fn insert(&mut self, at: usize, first: i64, last: i64, now: i64) {
        let r = Range {
            first,
            last,
            time_ns: now,
            retrans: 0,
            acked: 0,
        };
        if self.ranges.capacity() == 0 {
            // A connection that sends one SYN (a scan, a flood) keeps one range, not four.
            self.ranges.reserve_exact(1);
        }
        if at == self.ranges.len() {
            self.ranges.push_back(r); // the common case, without insert's shuffling
        } else {
            self.ranges.insert(at, r);
        }
        if self.ranges.len() > MAX_SEGMENTS {
            if let (Some(a), Some(b)) = (self.ranges.pop_front(), self.ranges.front_mut()) {
                b.first = a.first;
                b.time_ns = b.time_ns.max(a.time_ns);
            }
        }
    }

    /// `collapse_quad`: merge acknowledged neighbours from the front.
    fn collapse(&mut self) {
        let mut i = 0;
        while i + 1 < self.ranges.len() {
            let (a, b) = (self.ranges[i], self.ranges[i + 1]);
            if a.acked == 0 {
                break;
            }
            if b.acked > 0 && a.last + 1 == b.first {
                let m = &mut self.ranges[i + 1];
                m.first = a.first;
                m.time_ns = m.time_ns.max(a.time_ns);
                if i == 0 {
                    self.ranges.pop_front(); // the common case
                } else {
                    self.ranges.remove(i);
                }
            } else {
                i += 1;
            }
        }
    }
}

/// Round-trip samples of one direction's data.
#[derive(Clone, Debug, Default)]
pub struct Rtt {
    pub samples: u64,
    pub min_ns: i64,
    pub max_ns: i64,
    sum: f64,
    sum2: f64,
}

impl Rtt {
    fn sample(&mut self, ns: i64) {
        if self.samples == 0 || ns < self.min_ns {
            self.min_ns = ns;
        }
        self.max_ns = self.max_ns.max(ns);
        let x = ns as f64;
        self.sum += x;
        self.sum2 += x * x;
        self.samples += 1;
    }

    /// Mean, and sample standard deviation (None below two samples), in ns.
    pub fn mean_stdev(&self) -> (Option<f64>, Option<f64>) {
        let n = self.samples as f64;
        if self.samples == 0 {
            return (None, None);
        }
        let mean = self.sum / n;
        if self.samples < 2 {
            return (Some(mean), None);
        }
        let var = ((self.sum2 - self.sum * self.sum / n) / (n - 1.0)).max(0.0);
        (Some(mean), Some(var.sqrt()))
    }
}

/// The previous ACK and window of the side that sends an ACK (tcptrace's `ptwin->ack`,
/// `ptwin->win_last`), for the duplicate-ACK test.
struct AckerBefore {
    ack: u32,
    win_last: u64,
    /// The ACK comes on a SYN, FIN or RST.
    syn_fin_rst: bool,
}

/// `ack_in`: an ACK `ack` (raw) with `len` bytes of data and window `eff_win` arrives for
/// `data`'s ranges. Returns the marks it earns.
fn ack_in(
    data: &mut Direction,
    ack: u32,
    len: u32,
    eff_win: u64,
    acker: &AckerBefore,
    now: i64,
) -> Marks {
    let mut marks = Marks::default();
    let Some(ack_rel) = data.seq.peek(ack) else {
        return marks;
    };
    let outstanding = data.owin_any;
    let mut changed = false;
    let mut last_xmit = i64::MIN;
    let Direction {
        ranges,
        rtt,
        dup_acks,
        triple_dup_acks,
        ..
    } = data;
    for r in ranges.iter_mut() {
        if ack_rel <= r.first {
            break;
        }
        last_xmit = last_xmit.max(r.time_ns);
        if r.acked > 0 {
            if ack_rel == r.last + 1
                && ack == acker.ack
                && len == 0
                && eff_win == acker.win_last
                && outstanding
            {
                if acker.syn_fin_rst {
                    // RFC 5681 §2: a segment with SYN or FIN is no duplicate ACK (nor is a
                    // RST); tcptrace counts them. It leaves the count where it was.
                    continue;
                }
                *dup_acks = dup_acks.saturating_add(1);
                marks.set(Marks::DUP_ACK);
                r.acked += 1;
                if r.acked == 4 {
                    *triple_dup_acks = triple_dup_acks.saturating_add(1);
                    marks.set(Marks::TRIPLE_DUP_ACK);
                }
            } else {
                r.acked = 1; // not a pure duplicate
            }
            continue;
        }
        r.acked += 1;
        changed = true;
        // `rtt_ackin`: a sample when this ACK ends exactly at the range, nothing earlier
        // was sent after it, and it was never retransmitted (Karn).
        if ack_rel == r.last + 1 && last_xmit <= r.time_ns && r.retrans == 0 {
            rtt.sample(now - r.time_ns);
        }
    }
    if changed {
        data.collapse();
    }
    marks
}

/// Both directions of one connection; direction 0 is the side that sent the first packet.
/// A direction's state is allocated when it sends its first segment (a connection whose
/// peer never answers keeps one).
#[derive(Clone, Debug, Default)]
pub struct Health {
    dirs: [Option<Box<Direction>>; 2],
    /// The last ACK each side sent (raw; tcptrace's `tcb.ack`), seeded with the peer's
    /// SYN sequence: the one thing a segment writes into the other direction.
    acks: [u32; 2],
}

impl Health {
    /// Direction `i` (0: the first packet's sender), as a silent one until it sends.
    pub fn dir(&self, i: usize) -> &Direction {
        self.dirs[i].as_deref().unwrap_or(&SILENT)
    }

    /// One segment from side `e` (0 or 1). tcptrace's `dotrace`, step by step.
    pub fn segment(&mut self, e: usize, s: &SegmentFacts) -> Marks {
        let [a, b] = &mut self.dirs;
        let (this, other) = if e == 0 { (a, b) } else { (b, a) };
        let this: &mut Direction = this.get_or_insert_with(Default::default);
        // What this segment reads of the other direction (which it does not change).
        let (other_ws, other_win_last, other_packets) = other
            .as_deref()
            .map_or((false, 0, 0), |d| (d.ws_requested, d.win_last, d.packets));
        let [ack_a, ack_b] = &mut self.acks;
        let (this_ack, other_ack) = if e == 0 {
            (ack_a, ack_b)
        } else {
            (ack_b, ack_a)
        };
        let fl = s.flags;
        let (syn, fin, rst, ack) = (fl & SYN != 0, fl & FIN != 0, fl & RST != 0, fl & ACK != 0);
        let mut marks = Marks::default();
        if syn {
            this.syn_count = this.syn_count.saturating_add(1);
        }
        if fin {
            this.fin_count = this.fin_count.saturating_add(1);
        }
        // The effective window: scaled once both sides asked for scaling (never in a SYN).
        let eff_win = if ack || syn {
            let w = u64::from(s.window);
            if this.ws_requested && other_ws && !syn {
                w << this.window_scale
            } else {
                w
            }
        } else {
            0
        };
        if this.packets > 0 {
            this.idle_max_ns = this.idle_max_ns.max(s.ts_ns - this.last_ns);
        }
        this.last_ns = s.ts_ns;
        let len = s.payload_len;
        let start = this.seq.take(s.seq);
        if syn {
            *other_ack = s.seq; // tcptrace seeds the peer's "last ACK" with the ISN
            this.syn_options = Some(SynOptions::of(&s.options));
        }
        let o = &s.options;
        if let Some(ws) = o.window_scale {
            this.window_scale = ws;
            this.ws_requested = true;
        }
        let both_scale = this.ws_requested && other_ws;
        if !syn && !both_scale {
            this.window_scale = 0;
            if let Some(other) = other.as_deref_mut() {
                other.window_scale = 0;
            }
        }
        this.packets += 1;
        if this.stats_scaled {
            this.win_scaled_pkts += 1;
        }
        // Retransmissions, reordering and window probes.
        let mut retrans_bytes = 0i64;
        let mut out_of_order = false;
        if syn || fin || len > 0 {
            this.seq_packets += 1;
            let mut rlen = i64::from(len) + i64::from(syn) + i64::from(fin);
            let mut retrans_cnt = 0i64;
            let probe = other_win_last == 0 && other_packets > 0 && !syn;
            if probe {
                this.zero_window_probes = this.zero_window_probes.saturating_add(1);
                marks.set(Marks::WINDOW_PROBE);
            } else {
                (retrans_bytes, out_of_order) = this.addseg(start, start + rlen - 1, s.ts_ns);
                retrans_cnt = retrans_bytes;
            }
            if out_of_order {
                this.out_of_order_packets = this.out_of_order_packets.saturating_add(1);
                marks.set(Marks::OUT_OF_ORDER);
            }
            if syn {
                rlen -= 1;
                if this.syn_count > 1 {
                    retrans_cnt -= 1;
                }
            }
            if fin {
                rlen -= 1;
                if this.fin_count > 1 {
                    retrans_cnt -= 1;
                }
            }
            if !probe && retrans_cnt < rlen {
                this.unique_bytes += (rlen - retrans_cnt) as u64;
            }
        }
        // An ACK for a direction that sent nothing acknowledges nothing of it.
        if let (true, Some(other)) = (ack, other.as_deref_mut()) {
            let before = AckerBefore {
                ack: *this_ack,
                win_last: this.win_last,
                syn_fin_rst: syn || fin || rst,
            };
            marks.set(ack_in(other, s.ack, len, eff_win, &before, s.ts_ns));
        }
        let retrans = retrans_bytes > 0;
        if retrans {
            this.retrans_packets = this.retrans_packets.saturating_add(1);
            this.retrans_bytes += retrans_bytes as u64;
            marks.set(Marks::RETRANSMISSION);
        }
        if rst {
            return marks;
        }
        // Advertised windows (the SYN's included).
        this.win_last = eff_win;
        if ack || syn {
            this.window_samples += 1;
            this.win_max = this.win_max.max(eff_win);
            if eff_win > 0 && this.ws_requested && other_ws && !syn && !this.stats_scaled {
                this.stats_scaled = true;
                this.win_min = eff_win;
                this.win_max = eff_win;
                this.win_tot = 0;
                this.win_scaled_pkts = 1;
            } else if eff_win > 0 && (this.win_min == 0 || eff_win < this.win_min) {
                this.win_min = eff_win;
            }
            this.win_tot += eff_win;
        }
        if ack {
            if eff_win == 0 {
                this.zero_window_advertisements = this.zero_window_advertisements.saturating_add(1);
                marks.set(Marks::ZERO_WINDOW);
            }
            let blocks = o.sack_blocks();
            if let Some(&(l0, r0)) = blocks.first() {
                this.sack_packets = this.sack_packets.saturating_add(1);
                marks.set(Marks::SACK);
                if is_dsack(s.ack, blocks, l0, r0) {
                    this.dsack_packets = this.dsack_packets.saturating_add(1);
                    marks.set(Marks::DSACK);
                }
            }
            *this_ack = s.ack;
        }
        // The outstanding window (tcptrace's owin), only for in-order new segments.
        if !syn && !out_of_order && !retrans {
            let end_raw = u64::from(s.seq) + u64::from(len);
            let owin = if *other_ack == 0 {
                u64::from(len)
            } else {
                end_raw.wrapping_sub(u64::from(other_ack.wrapping_sub(1)))
            };
            this.owin_any |= owin != 0;
        }
        marks
    }
}

/// RFC 2883 §4, as tcptrace tests it: the first block lies at or below the cumulative ACK,
/// or inside the second block, or overlaps it.
fn is_dsack(ack: u32, blocks: &[(u32, u32)], l0: u32, r0: u32) -> bool {
    if r0 <= ack {
        return true;
    }
    let Some(&(l1, r1)) = blocks.get(1) else {
        return false;
    };
    (r0 <= r1 && l0 >= l1) || (l0 <= l1 && r0 > l1) || (r0 >= r1 && l0 < r1)
}

/// A per-direction figure's value, as the record's columns carry it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Figure {
    Int(Option<i64>),
    Float(Option<f64>),
    Bool(Option<bool>),
}

/// The kind of a per-direction figure (for the column builders).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FigureKind {
    Int,
    Float,
    Bool,
}

/// The per-direction figures, in record order (each becomes `<name>_c2s`, `<name>_s2c`).
pub const DIRECTION_FIGURES: [(&str, FigureKind); 24] = [
    ("seq_packets", FigureKind::Int),
    ("retrans_packets", FigureKind::Int),
    ("retrans_bytes", FigureKind::Int),
    ("out_of_order_packets", FigureKind::Int),
    ("dup_acks", FigureKind::Int),
    ("triple_dup_acks", FigureKind::Int),
    ("sack_packets", FigureKind::Int),
    ("dsack_packets", FigureKind::Int),
    ("zero_window_advertisements", FigureKind::Int),
    ("zero_window_probes", FigureKind::Int),
    ("mss", FigureKind::Int),
    ("window_scale", FigureKind::Int),
    ("sack_permitted", FigureKind::Bool),
    ("timestamps", FigureKind::Bool),
    ("window_min", FigureKind::Int),
    ("window_max", FigureKind::Int),
    ("window_avg", FigureKind::Int),
    ("rtt_samples", FigureKind::Int),
    ("rtt_min_s", FigureKind::Float),
    ("rtt_avg_s", FigureKind::Float),
    ("rtt_max_s", FigureKind::Float),
    ("rtt_stdev_s", FigureKind::Float),
    ("idle_max_s", FigureKind::Float),
    ("throughput_bps", FigureKind::Float),
];

/// One direction's figures in the record, kept small (a record can wait in memory for
/// an earlier connection to finish): counts as u32 where tcptrace's are, floats with NaN
/// for null, windows with `u64::MAX` for null.
#[derive(Clone, Debug)]
pub struct DirectionFigures {
    /// retrans_packets, out_of_order, dup_acks, triple_dup_acks, sack, dsack,
    /// zero_window_advertisements, zero_window_probes.
    pub counts: [u32; 8],
    pub retrans_bytes: u64,
    /// Segments that carry sequence space (the retransmission rate's denominator).
    pub seq_packets: u64,
    pub rtt_samples: u64,
    pub syn: Option<SynOptions>,
    /// min, max, avg (`u64::MAX`: not seen).
    pub window: [u64; 3],
    /// min, avg, max, stdev in seconds (NaN: none).
    pub rtt: [f64; 4],
    pub idle_max_s: f64,
    pub throughput_bps: f64,
}

impl Default for DirectionFigures {
    fn default() -> Self {
        DirectionFigures {
            counts: [0; 8],
            retrans_bytes: 0,
            seq_packets: 0,
            rtt_samples: 0,
            syn: None,
            window: [u64::MAX; 3],
            rtt: [f64::NAN; 4],
            idle_max_s: f64::NAN,
            throughput_bps: f64::NAN,
        }
    }
}

/// Equal when every figure is, a null (NaN) float equal to a null one.
impl PartialEq for DirectionFigures {
    fn eq(&self, o: &Self) -> bool {
        let floats = |d: &Self| {
            let [a, b, c, e] = d.rtt;
            [a, b, c, e, d.idle_max_s, d.throughput_bps].map(f64::to_bits)
        };
        self.counts == o.counts
            && self.retrans_bytes == o.retrans_bytes
            && self.seq_packets == o.seq_packets
            && self.rtt_samples == o.rtt_samples
            && self.syn == o.syn
            && self.window == o.window
            && floats(self) == floats(o)
    }
}

fn nan_none(x: f64) -> Option<f64> {
    (!x.is_nan()).then_some(x)
}

/// The record's health figures: client to server, server to client, and the rate.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HealthFigures {
    pub c2s: DirectionFigures,
    pub s2c: DirectionFigures,
    pub retrans_rate: Option<f64>,
}

const NS_F: f64 = 1e9;

fn sat(x: u64) -> i64 {
    i64::try_from(x).unwrap_or(i64::MAX)
}

impl DirectionFigures {
    fn of(d: &Direction, peer: &Direction, duration_ns: i64) -> Self {
        let (mean, stdev) = d.rtt.mean_stdev();
        let has_rtt = d.rtt.samples > 0;
        let secs = |ns: f64| ns / NS_F;
        DirectionFigures {
            counts: [
                d.retrans_packets,
                d.out_of_order_packets,
                d.dup_acks,
                d.triple_dup_acks,
                d.sack_packets,
                d.dsack_packets,
                d.zero_window_advertisements,
                d.zero_window_probes,
            ],
            retrans_bytes: d.retrans_bytes,
            seq_packets: d.seq_packets,
            rtt_samples: d.rtt.samples,
            syn: d.syn_options,
            window: if d.window_samples > 0 {
                [d.win_min, d.win_max, d.window_avg(peer)]
            } else {
                [u64::MAX; 3]
            },
            rtt: if has_rtt {
                [
                    secs(d.rtt.min_ns as f64),
                    mean.map_or(f64::NAN, secs),
                    secs(d.rtt.max_ns as f64),
                    stdev.map_or(f64::NAN, secs),
                ]
            } else {
                [f64::NAN; 4]
            },
            idle_max_s: if d.packets > 0 {
                secs(d.idle_max_ns as f64)
            } else {
                f64::NAN
            },
            throughput_bps: if duration_ns > 0 {
                d.unique_bytes as f64 / secs(duration_ns as f64)
            } else {
                f64::NAN
            },
        }
    }

    /// Retransmitted segments.
    pub fn retrans_packets(&self) -> u64 {
        u64::from(self.counts[0])
    }

    /// The figure called `name` (a [`DIRECTION_FIGURES`] name), or None.
    pub fn get(&self, name: &str) -> Option<Figure> {
        figure_index(name).map(|i| self.figure(i))
    }

    /// The figure at index `i` of [`DIRECTION_FIGURES`].
    pub fn figure(&self, i: usize) -> Figure {
        use Figure::*;
        let count = |c: u32| Int(Some(i64::from(c)));
        let win = |w: u64| Int((w != u64::MAX).then(|| sat(w)));
        let syn = self.syn;
        match i {
            0 => Int(Some(sat(self.seq_packets))),
            1 => count(self.counts[0]),
            2 => Int(Some(sat(self.retrans_bytes))),
            3..=9 => count(self.counts[i - 2]),
            10 => Int(syn.and_then(|o| o.mss).map(i64::from)),
            11 => Int(syn.and_then(|o| o.window_scale).map(i64::from)),
            12 => Bool(syn.map(|o| o.sack_permitted)),
            13 => Bool(syn.map(|o| o.timestamps)),
            14 => win(self.window[0]),
            15 => win(self.window[1]),
            16 => win(self.window[2]),
            17 => Int(Some(sat(self.rtt_samples))),
            18..=21 => Float(nan_none(self.rtt[i - 18])),
            22 => Float(nan_none(self.idle_max_s)),
            _ => Float(nan_none(self.throughput_bps)),
        }
    }
}

fn figure_index(name: &str) -> Option<usize> {
    DIRECTION_FIGURES.iter().position(|(n, _)| *n == name)
}

/// A health column, resolved once from its name (the column builders look values up per
/// record, so the name is not matched again for each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    RetransRate,
    /// (client to server?, index in [`DIRECTION_FIGURES`])
    Direction(bool, usize),
}

impl Column {
    pub fn parse(name: &str) -> Option<Column> {
        if name == "retrans_rate" {
            return Some(Column::RetransRate);
        }
        if let Some(base) = name.strip_suffix("_c2s") {
            return figure_index(base).map(|i| Column::Direction(true, i));
        }
        let base = name.strip_suffix("_s2c")?;
        figure_index(base).map(|i| Column::Direction(false, i))
    }

    pub fn kind(self) -> FigureKind {
        match self {
            Column::RetransRate => FigureKind::Float,
            Column::Direction(_, i) => DIRECTION_FIGURES[i].1,
        }
    }

    /// The value in a record's figures (None for UDP and ICMP: null of the column's kind).
    pub fn value(self, h: Option<&HealthFigures>) -> Figure {
        match (h, self) {
            (Some(h), Column::RetransRate) => Figure::Float(h.retrans_rate),
            (Some(h), Column::Direction(c2s, i)) => {
                if c2s {
                    h.c2s.figure(i)
                } else {
                    h.s2c.figure(i)
                }
            }
            (None, c) => match c.kind() {
                FigureKind::Int => Figure::Int(None),
                FigureKind::Float => Figure::Float(None),
                FigureKind::Bool => Figure::Bool(None),
            },
        }
    }
}

impl HealthFigures {
    /// The figures of a connection whose originator is side `orig`, lasting `duration_ns`.
    pub fn of(h: &Health, orig: usize, duration_ns: i64) -> Self {
        let (c, s) = (h.dir(orig), h.dir(1 - orig));
        let c2s = DirectionFigures::of(c, s, duration_ns);
        let s2c = DirectionFigures::of(s, c, duration_ns);
        let segs = c2s.seq_packets + s2c.seq_packets;
        let rexmt = c2s.retrans_packets() + s2c.retrans_packets();
        HealthFigures {
            retrans_rate: (segs > 0).then(|| rexmt as f64 / segs as f64),
            c2s,
            s2c,
        }
    }

    /// A column's value: `retrans_rate`, or `<figure>_c2s` / `<figure>_s2c`.
    pub fn get(&self, column: &str) -> Option<Figure> {
        Column::parse(column).map(|c| c.value(Some(self)))
    }
}

/// A health column's value in a record that may have none (UDP, ICMP: null), or None
/// when `column` is not a health column.
pub fn column_value(h: Option<&HealthFigures>, column: &str) -> Option<Figure> {
    Column::parse(column).map(|c| c.value(h))
}

/// Every health column, in record order, with its name (built once: the bindings walk
/// them for every record of the tshark path).
pub fn columns() -> &'static [(String, Column)] {
    static COLUMNS: std::sync::OnceLock<Vec<(String, Column)>> = std::sync::OnceLock::new();
    COLUMNS.get_or_init(|| {
        let mut out = vec![("retrans_rate".to_string(), Column::RetransRate)];
        for (i, (name, _)) in DIRECTION_FIGURES.iter().enumerate() {
            out.push((format!("{name}_c2s"), Column::Direction(true, i)));
            out.push((format!("{name}_s2c"), Column::Direction(false, i)));
        }
        out
    })
}
