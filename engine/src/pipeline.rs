//! The composition root: packets into the connection table, finished connections out as
//! records (`Tracker`, sans-IO), and a capture file read through the whole chain
//! (`read_capture`, the only place that joins `capture` to the rest).

use crate::app::connection::{AppConnection, AppResult, Segment};
use crate::app::http::HttpMessage;
use crate::app::ws::WsFrame;
use crate::decode::flags::{ACK, FIN, RST, SYN};
use crate::decode::{Packet, Transport, TunnelKind};
use crate::flow::icmp::IcmpFlow;
use crate::flow::udp::UdpFlow;
use crate::flow::{make_uid, Flow, FlowKey, FlowTable, Timeouts};
use crate::record::{self, ConnectionRecord};
use crate::tcp::first::FirstSegment;
use crate::tcp::TcpConnection;

/// One entry of the connection table (boxed, so that an entry costs what its protocol's
/// connection needs).
pub enum Conn {
    Tcp(Box<TcpConnection>),
    /// A TCP connection of one segment, kept as its header
    /// ([`TrackerOptions::compact_first_segments`]); unpacked into a `Tcp` when the next
    /// segment comes.
    TcpFirst(Box<FirstSegment>),
    Udp(Box<UdpFlow>),
    Icmp(Box<IcmpFlow>),
}

impl Conn {
    fn uid(&self) -> String {
        match self {
            Conn::Tcp(c) => c.uid(),
            Conn::TcpFirst(f) => f.uid(),
            Conn::Udp(f) => f.uid.clone(),
            Conn::Icmp(f) => f.uid.clone(),
        }
    }

    /// A connection kept as its first segment becomes the connection it is.
    fn unpack(&mut self) {
        if let Conn::TcpFirst(f) = self {
            *self = Conn::Tcp(Box::new(f.to_connection()));
        }
    }

    fn tunnel_parents(&mut self) -> &mut Vec<String> {
        self.unpack();
        match self {
            Conn::Tcp(c) => &mut c.extra().tunnel_parents,
            Conn::Udp(f) => &mut f.tunnel_parents,
            Conn::Icmp(f) => &mut f.tunnel_parents,
            Conn::TcpFirst(_) => unreachable!("unpacked above"),
        }
    }

    /// When and where the connection started.
    fn first(&self) -> (i64, u64) {
        match self {
            Conn::Tcp(c) => (c.first_ns, c.first_frame),
            Conn::TcpFirst(f) => f.first(),
            Conn::Udp(f) => (f.counts.first_ns, f.counts.first_frame),
            Conn::Icmp(f) => (f.counts.first_ns, f.counts.first_frame),
        }
    }

    fn history(&mut self) -> &mut crate::flow::history::HistoryLog {
        self.unpack();
        match self {
            Conn::Tcp(c) => &mut c.history,
            Conn::Udp(f) => &mut f.history,
            Conn::Icmp(f) => &mut f.history,
            Conn::TcpFirst(_) => unreachable!("unpacked above"),
        }
    }
}

/// Zeek's `Tunnel::max_changes_per_connection`: changes of a connection's encapsulation
/// that are followed (each adds its tunnel to `tunnel_parents`); one more is a weird and
/// an `X` in the history.
pub const MAX_TUNNEL_CHANGES: u32 = 5;

/// A connection in the table, with what Zeek's `Connection::CheckEncapsulation` keeps.
pub struct Entry {
    id: u64,
    conn: Conn,
    /// The uids of the encapsulation the last packet came in, outermost first.
    stack: Vec<String>,
    tunnel_changes: u32,
    changes_exceeded: bool,
    /// The connection's HTTP/WebSocket layer (TCP only).
    app: AppSlot,
    /// One of its packets is in a selected frame (always true without a selection): only
    /// selected connections leave the tracker as records.
    selected: bool,
}

/// A TCP connection's application layer: not started, running, or given up (the streams
/// carry neither HTTP nor WebSocket, so nothing of them is kept).
#[derive(Debug, Default)]
pub enum AppSlot {
    #[default]
    Untried,
    Active(Box<AppConnection>),
    Done,
}

impl AppSlot {
    fn finish(self) -> Option<AppResult> {
        match self {
            AppSlot::Active(app) => Some(app.finish()),
            AppSlot::Untried | AppSlot::Done => None,
        }
    }
}

/// HTTP messages and WebSocket frames a loader parsed itself (tshark), for one packet.
#[derive(Clone, Debug, Default)]
pub struct LoaderApp {
    pub http: Vec<HttpMessage>,
    pub ws: Vec<WsFrame>,
}

impl Flow for Conn {
    fn expired(&mut self, now_ns: i64) -> bool {
        match self {
            Conn::Tcp(c) => c.expired(now_ns),
            Conn::TcpFirst(f) => f.expired(now_ns),
            Conn::Udp(f) => f.expired(now_ns),
            Conn::Icmp(f) => f.expired(now_ns),
        }
    }

    fn is_reuse(&self, p: &Packet<'_>) -> bool {
        match self {
            Conn::Tcp(c) => c.is_reuse(p),
            Conn::TcpFirst(f) => f.is_reuse(p),
            Conn::Udp(f) => f.is_reuse(p),
            Conn::Icmp(f) => f.is_reuse(p),
        }
    }

    fn prepare(&mut self) {
        self.unpack();
    }
}

/// The largest timestamp magnitude the tracker takes as it is (2^62 ns, about 146 years
/// from the epoch); packets beyond it are clamped to it.
pub const MAX_TS_NS: i64 = 1 << 62;

/// How the tracker runs.
#[derive(Clone, Debug, Default)]
pub struct TrackerOptions {
    /// Drop packets whose checksum is bad, as Zeek does without `-C` (they add `C` to the
    /// history and nothing else).
    pub check_checksums: bool,
    /// Keep every TCP connection's frame numbers in its record.
    pub keep_frames: bool,
    pub timeouts: Timeouts,
    /// Packets between two sweeps of the table for connections Zeek's timers ended
    /// (0: [`crate::flow::SWEEP_EVERY`]).
    pub sweep_every: u64,
    /// Reassemble TCP streams and parse HTTP/WebSocket in them (the native loader);
    /// otherwise only what the loader hands over with [`Tracker::feed_with_app`] counts.
    pub parse_app: bool,
    /// Leave the HTTP transactions and WebSocket sessions out of the records (their counts
    /// stay): for runs that write connection records only, so that finished records
    /// waiting for their turn hold no more than they need.
    pub no_app_details: bool,
    /// Keep only the connections that have a packet in one of these frames (1-based, the
    /// frames a display filter matched; any order, duplicates allowed); `None` keeps
    /// every connection. A connection is still tracked from all of its packets, so a
    /// record kept is the record it has without a selection. A packet reassembled from IP
    /// fragments is in its last fragment's frame; a tunnel's outer flow is kept only if one
    /// of its own packets is selected.
    pub select_frames: Option<std::sync::Arc<[u64]>>,
    /// Keep a TCP connection that has sent one segment as that segment's header until
    /// the next one comes (its record is the same; a SYN flood then costs a fraction of
    /// the memory). Its state cannot be looked at meanwhile ([`Tracker::connection`] shows
    /// it as [`Conn::TcpFirst`]), so the step-by-step views leave it off; [`CaptureRun`]
    /// turns it on.
    pub compact_first_segments: bool,
    /// Track only this shard's host pairs ([`crate::decode::shard`]): [`CaptureRun`]'s
    /// decoder drops other pairs' packets at their IP header (their UDP datagrams come
    /// marked [`Packet::foreign`]), and the tracker writes no record of a connection that
    /// only such packets made. A record is the one an unsharded run gives.
    pub shard: Option<crate::decode::shard::Shard>,
}

/// A set of frame numbers, asked about in (mostly) ascending order: sorted, with a cursor,
/// so that a packet costs amortised O(1) when frames come in capture order (and a binary
/// search when one goes backwards).
#[derive(Clone, Debug)]
pub struct FrameSelection {
    frames: Vec<u64>,
    /// The first index whose frame is at least the frame asked about last.
    cursor: usize,
}

impl FrameSelection {
    pub fn new(frames: &[u64]) -> Self {
        let mut frames = frames.to_vec();
        frames.sort_unstable();
        frames.dedup();
        FrameSelection { frames, cursor: 0 }
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Is `frame` one of the selected frames?
    pub fn contains(&mut self, frame: u64) -> bool {
        let f = &self.frames;
        if self.cursor > 0 && f[self.cursor - 1] >= frame {
            self.cursor = f.partition_point(|&x| x < frame);
        } else {
            while self.cursor < f.len() && f[self.cursor] < frame {
                self.cursor += 1;
            }
        }
        f.get(self.cursor) == Some(&frame)
    }
}

/// Where a packet went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The connection's serial number (the record's `id`).
    pub id: u64,
    /// The packet came from the originator (client), as the roles stand after it.
    pub from_orig: bool,
}

/// A connection's start: its first packet's time, that packet's frame, its id. Records go
/// out in this order (ids are unique, so no two connections share a key).
pub type StartKey = (i64, u64, u64);

/// Feed packets in capture order; take records as connections finish.
pub struct Tracker {
    /// The open connections. Boxed, so that a slot of the table (which has up to twice as
    /// many slots as connections) costs a pointer, not a connection.
    table: FlowTable<Box<Entry>>,
    opts: TrackerOptions,
    /// `opts.timeouts`, shared by the TCP connections.
    timeouts: std::sync::Arc<crate::flow::Timeouts>,
    /// Connections over, as they left the table (boxed there; moved, not copied).
    #[allow(clippy::vec_box)]
    done: Vec<Box<Entry>>,
    /// After [`Tracker::finish_in_order`]: the connections still open at the end, latest
    /// start first (the next to finish is the last), each finished into its record only
    /// when it is taken, so that the end of a capture never holds a record of every open
    /// connection at once.
    closing: Vec<(StartKey, Box<Entry>)>,
    next_id: u64,
    /// `opts.select_frames`, with its cursor.
    selection: Option<FrameSelection>,
}

impl Entry {
    fn start_key(&self) -> StartKey {
        let (ts, frame) = self.conn.first();
        (ts, frame, self.id)
    }
}

impl Flow for Entry {
    fn expired(&mut self, now_ns: i64) -> bool {
        self.conn.expired(now_ns)
    }
    fn is_reuse(&self, p: &Packet<'_>) -> bool {
        self.conn.is_reuse(p)
    }
    fn prepare(&mut self) {
        self.conn.prepare();
    }
}

/// The uid an IP-level tunnel (IP-in-IP, GRE) is named by in `tunnel_parents`: the same
/// for both directions, whenever it is first seen.
pub fn ip_tunnel_uid(kind: TunnelKind, a: std::net::IpAddr, b: std::net::IpAddr) -> String {
    let (lo, hi) = if b < a { (b, a) } else { (a, b) };
    make_uid(&format!("tunnel-{}", kind.as_str()), 0, lo, 0, hi, 0)
}

impl Tracker {
    pub fn new(opts: TrackerOptions) -> Self {
        let mut table = FlowTable::default();
        if opts.sweep_every > 0 {
            table.sweep_every = opts.sweep_every;
        }
        let selection = opts.select_frames.as_deref().map(FrameSelection::new);
        Tracker {
            table,
            timeouts: std::sync::Arc::new(opts.timeouts),
            opts,
            done: Vec::new(),
            closing: Vec::new(),
            next_id: 0,
            selection,
        }
    }

    pub fn open_connections(&self) -> usize {
        self.table.table.len()
    }

    /// The uid of each tunnel a packet came in, outermost first: a UDP tunnel is named by
    /// its outer flow's uid, an IP tunnel by [`ip_tunnel_uid`].
    fn stack(&self, p: &Packet<'_>) -> Vec<String> {
        p.tunnels
            .iter()
            .map(|t| {
                if t.outer_sport != 0 || t.outer_dport != 0 {
                    let outer = FlowKey::new(
                        Transport::Udp,
                        (t.outer_src, t.outer_sport),
                        (t.outer_dst, t.outer_dport),
                    );
                    if let Some(e) = self.table.table.get(&outer) {
                        return e.conn.uid();
                    }
                }
                ip_tunnel_uid(t.kind, t.outer_src, t.outer_dst)
            })
            .collect()
    }

    pub fn feed(&mut self, p: &Packet<'_>) -> Placement {
        self.feed_with_app(p, None)
    }

    /// [`feed`](Self::feed), with the HTTP messages and WebSocket frames a loader that
    /// parses them itself found in the packet.
    pub fn feed_with_app(&mut self, p: &Packet<'_>, ext: Option<&LoaderApp>) -> Placement {
        if !(-MAX_TS_NS..=MAX_TS_NS).contains(&p.ts_ns) {
            // Timestamps this far out are damage, not time: clamp them so that timer sums
            // and differences stay in range (a capture's own clock is never near 2^62 ns,
            // the year 2116).
            let mut q = p.clone();
            q.ts_ns = p.ts_ns.clamp(-MAX_TS_NS, MAX_TS_NS);
            return self.feed_in_range(&q, ext);
        }
        self.feed_in_range(p, ext)
    }

    fn feed_in_range(&mut self, p: &Packet<'_>, ext: Option<&LoaderApp>) -> Placement {
        let key = self.table.lookup(p, &mut self.done);
        let stack = if p.tunnels.is_empty() {
            Vec::new()
        } else {
            self.stack(p)
        };
        let hit = !p.foreign
            && match &mut self.selection {
                Some(s) => s.contains(p.frame),
                None => true,
            };
        let (opts, next_id, t) = (&self.opts, &mut self.next_id, &self.timeouts);
        let mut created = false;
        let entry = self.table.table.entry(key).or_insert_with(|| {
            created = true;
            Box::new(new_entry(p, opts, t, next_id, &stack))
        });
        entry.selected |= hit;
        let id = entry.id;
        check_encapsulation(entry, stack);
        let conn = &mut entry.conn;
        // The table's lookup unpacked a connection kept as its first segment.
        conn.unpack();
        let from_orig = match conn {
            Conn::Tcp(c) => {
                let from_orig = c.feed(p);
                if !(p.checksum_bad && opts.check_checksums) {
                    feed_app(&mut entry.app, c, p, from_orig, opts.parse_app, ext);
                }
                from_orig
            }
            Conn::Udp(f) => f.feed(p),
            Conn::Icmp(f) => f.feed(p),
            Conn::TcpFirst(_) => unreachable!("unpacked above"),
        };
        if created && opts.compact_first_segments && matches!(entry.app, AppSlot::Untried) {
            compact(&mut entry.conn, p);
        }
        self.table.tick(&mut self.done);
        Placement { id, from_orig }
    }

    /// Records of the connections finished so far (with a frame selection, of those with
    /// a packet in a selected frame; the others are dropped here).
    pub fn take_records(&mut self) -> Vec<ConnectionRecord> {
        let no_details = self.opts.no_app_details;
        self.done
            .drain(..)
            .filter(|e| e.selected)
            .map(|e| entry_record(*e, no_details))
            .collect()
    }

    /// End of capture: every connection still open is finished with its state now.
    pub fn finish(&mut self) {
        self.table.drain(&mut self.done);
        self.done
            .extend(self.closing.drain(..).rev().map(|(_, e)| e));
    }

    /// End of capture, in start order and one record at a time: the connections still
    /// open leave the table (those outside a frame selection are dropped), and each is
    /// finished with its state now when [`take_closing`](Self::take_closing) takes it.
    /// The records are those [`finish`](Self::finish) gives: nothing changes a connection
    /// after the last packet, whenever its record is made.
    pub fn finish_in_order(&mut self) {
        let table = std::mem::take(&mut self.table.table);
        self.closing.extend(
            table
                .into_values()
                .filter(|e| e.selected)
                .map(|e| (e.start_key(), e)),
        );
        self.closing
            .sort_unstable_by_key(|e| std::cmp::Reverse(e.0));
    }

    /// The start of the next connection [`take_closing`](Self::take_closing) finishes.
    pub fn next_closing_key(&self) -> Option<StartKey> {
        self.closing.last().map(|(k, _)| *k)
    }

    /// The record of the earliest-starting connection left by
    /// [`finish_in_order`](Self::finish_in_order).
    pub fn take_closing(&mut self) -> Option<ConnectionRecord> {
        let (_, e) = self.closing.pop()?;
        if self.closing.len() < self.closing.capacity() / 4 {
            self.closing.shrink_to_fit();
        }
        Some(entry_record(*e, self.opts.no_app_details))
    }

    /// Connections left by [`finish_in_order`](Self::finish_in_order) not yet taken.
    pub fn closing(&self) -> usize {
        self.closing.len()
    }

    /// The smallest start key (first packet's time, its frame, connection id) of the
    /// connections still open: no record still to come starts before it, except one of a
    /// connection not yet seen.
    pub fn min_open_key(&self) -> Option<StartKey> {
        self.table.table.values().map(|e| e.start_key()).min()
    }

    /// The newest packet's time.
    pub fn now_ns(&self) -> i64 {
        self.table.now_ns
    }

    /// Look at an open connection (for step-by-step views such as `explain`).
    pub fn connection(&self, id: u64) -> Option<&Conn> {
        self.table
            .table
            .values()
            .find(|e| e.id == id)
            .map(|e| &e.conn)
    }
}

/// A new connection for the packet that starts it, named by the tracker's next id; its
/// first encapsulation is its first tunnel parent.
fn new_entry(
    p: &Packet<'_>,
    opts: &TrackerOptions,
    timeouts: &std::sync::Arc<crate::flow::Timeouts>,
    next_id: &mut u64,
    stack: &[String],
) -> Entry {
    let (t, cc) = (&opts.timeouts, opts.check_checksums);
    let mut conn = match p.proto {
        Transport::Tcp => Conn::Tcp(Box::new(TcpConnection::new(
            p,
            timeouts,
            cc,
            opts.keep_frames,
        ))),
        Transport::Udp => Conn::Udp(Box::new(UdpFlow::new(p, t, cc))),
        Transport::Icmp => Conn::Icmp(Box::new(IcmpFlow::new(p, t, cc))),
    };
    if let Some(uid) = stack.last() {
        conn.tunnel_parents().push(uid.clone());
    }
    *next_id += 1;
    Entry {
        id: *next_id,
        conn,
        stack: stack.to_vec(),
        tunnel_changes: 0,
        changes_exceeded: false,
        app: AppSlot::Untried,
        selected: false,
    }
}

/// Keep a TCP connection that has seen one segment (`p`) as that segment's header, when
/// it can be rebuilt from it.
fn compact(conn: &mut Conn, p: &Packet<'_>) {
    let Conn::Tcp(c) = conn else {
        return;
    };
    if let Some(f) = FirstSegment::keep(p, c) {
        *conn = Conn::TcpFirst(Box::new(f));
    }
}

/// A TCP packet as the application layer takes it, sent by connection side `side`.
fn segment_of<'a>(p: &'a Packet<'_>, side: usize, from_client: bool) -> Segment<'a> {
    Segment {
        side,
        from_client,
        seq: p.seq,
        ack: p.ack,
        syn: p.flags & SYN != 0,
        fin: p.flags & FIN != 0,
        rst: p.flags & RST != 0,
        has_ack: p.flags & ACK != 0,
        payload: &p.payload,
        payload_len: p.payload_len,
        ts_ns: p.ts_ns,
        frame: p.frame,
    }
}

/// Hand a TCP segment (and what the loader parsed in it) to the connection's application
/// layer, starting it at the first payload, a FIN, or a loader's message.
fn feed_app(
    slot: &mut AppSlot,
    c: &TcpConnection,
    p: &Packet<'_>,
    from_orig: bool,
    parse: bool,
    ext: Option<&LoaderApp>,
) {
    let has_ext = ext.is_some_and(|e| !e.http.is_empty() || !e.ws.is_empty());
    let wanted = if parse {
        p.payload_len > 0 || p.flags & FIN != 0
    } else {
        has_ext
    };
    if matches!(slot, AppSlot::Untried) && wanted {
        let mut app = AppConnection::new(parse);
        for (i, side) in c.sides.iter().enumerate() {
            if let Some(isn) = side.syn_isn.or(side.synack_seq) {
                app.set_first_seq(i, isn.wrapping_add(1));
            }
        }
        *slot = AppSlot::Active(Box::new(app));
    }
    let AppSlot::Active(app) = slot else {
        return;
    };
    let mut idle = false;
    if parse {
        let side = usize::from(!(p.src == c.sides[0].addr && p.sport == c.sides[0].port));
        app.segment(&segment_of(p, side, from_orig));
        idle = app.is_idle();
    }
    if let Some(ext) = ext {
        for m in &ext.http {
            app.http_message(m, p.ts_ns, p.frame);
        }
        for f in &ext.ws {
            app.ws_frame(from_orig, f, p.frame);
        }
    }
    if idle {
        *slot = AppSlot::Done;
    }
}

/// Zeek `Connection::CheckEncapsulation`: a packet that came in another encapsulation than
/// the last one is a tunnel change; the first [`MAX_TUNNEL_CHANGES`] add the new innermost
/// tunnel to `tunnel_parents`, the next one is a weird and an `X` in the history.
fn check_encapsulation(entry: &mut Entry, stack: Vec<String>) {
    if entry.stack == stack {
        return;
    }
    if entry.tunnel_changes < MAX_TUNNEL_CHANGES {
        entry.tunnel_changes += 1;
        if let Some(uid) = stack.last() {
            let parents = entry.conn.tunnel_parents();
            if !parents.contains(uid) {
                parents.push(uid.clone());
            }
        }
    } else if !entry.changes_exceeded {
        entry.changes_exceeded = true;
        entry.conn.history().add(b'X', true);
    }
    entry.stack = stack;
}

/// A finished connection's record (without the HTTP transactions and WebSocket sessions
/// when `no_app_details`).
fn entry_record(e: Entry, no_app_details: bool) -> ConnectionRecord {
    let mut r = to_record(e.id, e.conn, e.app);
    if no_app_details {
        r.transactions = Vec::new();
        r.websockets = Vec::new();
    }
    r
}

fn to_record(id: u64, c: Conn, app: AppSlot) -> ConnectionRecord {
    match c {
        Conn::Tcp(c) => record::from_tcp(id, *c, app.finish()),
        Conn::TcpFirst(f) => record::from_tcp(id, f.to_connection(), app.finish()),
        Conn::Udp(f) => record::from_udp(id, *f),
        Conn::Icmp(f) => record::from_icmp(id, *f),
    }
}

/// Why a capture could not be read through the native engine.
#[derive(Debug)]
pub enum RunError {
    /// The file is not a capture, is empty, or is damaged before its first frame.
    Capture(crate::capture::CaptureError),
    /// A link type or encapsulation the engine does not decode: read it with tshark.
    Unsupported(crate::decode::DecodeError),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Capture(e) => write!(f, "{e}"),
            RunError::Unsupported(e) => write!(f, "{e}"),
        }
    }
}

/// A finished record waiting for its turn, ordered by start (time, frame, id), smallest
/// first in a `BinaryHeap`. Boxed, so that the heap moves pointers, not records, when it
/// grows or sifts.
struct Pending(Box<ConnectionRecord>);

impl Pending {
    fn key(&self) -> StartKey {
        (self.0.first_ts_ns, self.0.first_frame, self.0.id)
    }
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.key().cmp(&self.key())
    }
}

/// Frames between two looks at the open connections for records that may go out.
pub const RELEASE_EVERY: u64 = 65_536;

/// A capture read through the whole chain: capture → decode → tracker → records.
///
/// Records come out in start order (first packet's time, then frame), as soon as no
/// connection still open, nor one still to come, can start before them: memory follows the
/// open connections. (A capture whose clock runs backwards can start a later connection
/// before one already handed out; records then leave in the order they could.) At the end
/// of the capture the connections still open are finished a batch at a time, as the
/// records are taken ([`Tracker::finish_in_order`]), merged in start order with the
/// records already waiting.
pub struct CaptureRun {
    reader: crate::capture::CaptureReader,
    decoder: crate::decode::Decoder,
    tracker: Tracker,
    /// TCP/UDP/ICMP packets fed to the tracker.
    pub packets: u64,
    finished: bool,
    pending: std::collections::BinaryHeap<Pending>,
    since_release: u64,
    release_every: u64,
    /// Finish every connection at the end at once, as [`Tracker::finish`] does (the
    /// reference the lazy end is tested against).
    eager_finish: bool,
    /// The start before which waiting records may go, as last worked out, and the frames
    /// read then (it changes only when a frame is read).
    mark: Option<(u64, StartKey)>,
    /// The last release stopped at its limit with records that may go still waiting:
    /// the next step hands them out before it reads on (a sweep can finish tens of
    /// thousands of connections at once; they must not wait for frames to be read).
    held: bool,
}

impl CaptureRun {
    pub fn new(reader: crate::capture::CaptureReader, opts: TrackerOptions) -> Self {
        let decoder = crate::decode::Decoder::new(crate::decode::DecodeOptions {
            check_checksums: opts.check_checksums,
            shard: opts.shard,
        });
        CaptureRun {
            reader,
            decoder,
            tracker: Tracker::new(TrackerOptions {
                compact_first_segments: true,
                ..opts
            }),
            packets: 0,
            finished: false,
            pending: std::collections::BinaryHeap::new(),
            since_release: 0,
            release_every: RELEASE_EVERY,
            eager_finish: false,
            mark: None,
            held: false,
        }
    }

    /// Finish every open connection into its record at once when the capture ends (the
    /// order and records are the same; only the memory differs).
    pub fn with_eager_finish(mut self) -> Self {
        self.eager_finish = true;
        self
    }

    /// Look for records to hand out every `frames` frames instead of [`RELEASE_EVERY`].
    pub fn with_release_every(mut self, frames: u64) -> Self {
        self.release_every = frames.max(1);
        self
    }

    pub fn open(path: &std::path::Path, opts: TrackerOptions) -> Result<Self, RunError> {
        let reader = crate::capture::CaptureReader::open(path).map_err(RunError::Capture)?;
        Ok(CaptureRun::new(reader, opts))
    }

    /// Frames read so far (every record of the capture, decoded or not).
    pub fn frames(&self) -> u64 {
        self.reader.frames_read()
    }

    pub fn bytes_read(&self) -> u64 {
        self.reader.bytes_read()
    }

    pub fn truncation(&self) -> Option<&crate::capture::Truncation> {
        self.reader.truncation()
    }

    pub fn open_connections(&self) -> usize {
        self.tracker.open_connections()
    }

    /// The capture is read and every record handed out.
    pub fn is_finished(&self) -> bool {
        self.finished && self.pending.is_empty() && self.tracker.closing() == 0
    }

    /// Records waiting for an earlier-starting connection to finish (at the end, with the
    /// connections still to be finished).
    pub fn pending(&self) -> usize {
        self.pending.len() + self.tracker.closing()
    }

    /// Move finished records to the waiting heap and hand out, in start order, those that
    /// nothing still open or still to come can precede (all of them at the end).
    /// At most `limit` records go out at a time, so that the end of a capture (when every
    /// waiting record may go) does not hand them all over at once.
    fn release(&mut self, out: &mut Vec<ConnectionRecord>, limit: usize) {
        self.pending.extend(
            self.tracker
                .take_records()
                .into_iter()
                .map(|r| Pending(Box::new(r))),
        );
        let mark = if self.finished {
            None
        } else {
            let frames = self.reader.frames_read();
            Some(match self.mark {
                Some((at, m)) if at == frames => m,
                _ => {
                    let next = (self.tracker.now_ns(), frames + 1, 0);
                    let m = self.tracker.min_open_key().map_or(next, |k| k.min(next));
                    self.mark = Some((frames, m));
                    m
                }
            })
        };
        self.held = false;
        while out.len() < limit {
            let waiting = self.pending.peek().map(Pending::key);
            let closing = self.tracker.next_closing_key();
            // The connections still open at the end wait in start order, as the heap's
            // records do: the smaller start of the two goes first.
            if closing.is_some_and(|c| waiting.is_none_or(|w| c < w)) {
                if let Some(r) = self.tracker.take_closing() {
                    out.push(r);
                }
                continue;
            }
            if waiting.is_none_or(|w| mark.is_some_and(|m| w >= m)) {
                break;
            }
            if let Some(Pending(r)) = self.pending.pop() {
                out.push(*r);
            }
        }
        self.held = !self.finished
            && self
                .pending
                .peek()
                .is_some_and(|top| mark.is_some_and(|m| top.key() < m));
        if self.pending.is_empty() {
            self.pending.shrink_to_fit();
        }
    }

    /// Read on until at least `min_records` records can be handed out, `max_frames` frames
    /// have been read, or the capture ends (then every open connection is finished and
    /// every record handed out).
    pub fn step(
        &mut self,
        min_records: usize,
        max_frames: u64,
    ) -> Result<Vec<ConnectionRecord>, RunError> {
        let mut frames = 0u64;
        let mut out = Vec::new();
        if self.held {
            self.release(&mut out, min_records);
        }
        while !self.finished && out.len() < min_records && frames < max_frames {
            let frame = match self.reader.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => {
                    self.finished = true;
                    if self.eager_finish {
                        self.tracker.finish();
                    } else {
                        self.tracker.finish_in_order();
                    }
                    break;
                }
                Err(e) => {
                    // A damaged file with no frame read at all.
                    return Err(RunError::Capture(e));
                }
            };
            frames += 1;
            let mut packets: Vec<Packet<'_>> = Vec::new();
            self.decoder
                .decode(&frame, &mut packets)
                .map_err(RunError::Unsupported)?;
            for p in &packets {
                // Another shard's datagram: followed for its uid, counted by its shard.
                self.packets += u64::from(!p.foreign);
                self.tracker.feed(p);
            }
            self.since_release += 1;
            if self.since_release >= self.release_every {
                self.since_release = 0;
                self.release(&mut out, min_records);
            }
        }
        self.release(&mut out, min_records.max(1));
        Ok(out)
    }
}

/// One TCP segment of a connection, as a step-by-step view (`explain`) shows it, with the
/// HTTP heads and WebSocket frames the engine's parsers found in it.
#[derive(Clone, Debug)]
pub struct SegmentView {
    pub frame: u64,
    pub ts_ns: i64,
    pub ip_version: u8,
    pub src: crate::flow::Endpoint,
    pub dst: crate::flow::Endpoint,
    pub ip_len: u32,
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub payload_len: u32,
    pub window: u16,
    pub payload_captured: bool,
    pub checksum_bad: bool,
    pub options: crate::decode::tcp_options::TcpOptions,
    pub notes: Vec<crate::app::connection::Note>,
}

/// The TCP segments between `client` and `server` in frames `first..=last` of a capture,
/// each with what the application layer found in it (read in one pass up to `last`).
pub fn connection_segments(
    mut reader: crate::capture::CaptureReader,
    check_checksums: bool,
    first: u64,
    last: u64,
    client: crate::flow::Endpoint,
    server: crate::flow::Endpoint,
) -> Result<Vec<SegmentView>, RunError> {
    let mut decoder = crate::decode::Decoder::new(crate::decode::DecodeOptions {
        check_checksums,
        ..Default::default()
    });
    let mut app = AppConnection::new(true).with_notes();
    let mut out: Vec<SegmentView> = Vec::new();
    let mut first_sender: Option<crate::flow::Endpoint> = None;
    while let Some(frame) = reader.next_frame().map_err(RunError::Capture)? {
        if frame.number > last {
            break;
        }
        if frame.number < first {
            continue;
        }
        let mut packets: Vec<Packet<'_>> = Vec::new();
        decoder
            .decode(&frame, &mut packets)
            .map_err(RunError::Unsupported)?;
        for p in &packets {
            let (src, dst) = ((p.src, p.sport), (p.dst, p.dport));
            if p.proto != Transport::Tcp
                || !((src, dst) == (client, server) || (src, dst) == (server, client))
            {
                continue;
            }
            let sender = *first_sender.get_or_insert(src);
            if !(p.checksum_bad && check_checksums) {
                app.segment(&segment_of(p, usize::from(src != sender), src == client));
            }
            out.push(SegmentView {
                frame: p.frame,
                ts_ns: p.ts_ns,
                ip_version: p.ip_version,
                src,
                dst,
                ip_len: p.ip_len,
                flags: p.flags,
                seq: p.seq,
                ack: p.ack,
                payload_len: p.payload_len,
                window: p.window,
                payload_captured: p.payload_captured,
                checksum_bad: p.checksum_bad,
                options: p.options,
                notes: Vec::new(),
            });
        }
    }
    // Each note goes to the packet that completed it.
    let index: std::collections::HashMap<u64, usize> =
        out.iter().enumerate().map(|(i, s)| (s.frame, i)).collect();
    for (frame, note) in app.take_notes() {
        if let Some(&i) = index.get(&frame) {
            out[i].notes.push(note);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod selection_tests {
    //! The display filter's selection: connections with a packet in a selected frame are
    //! kept whole, the others dropped (hand-built packets, no capture, no tshark).

    use super::*;
    use std::borrow::Cow;

    fn packet(frame: u64, proto: Transport, sport: u16, dport: u16, flags: u8) -> Packet<'static> {
        Packet {
            frame,
            ts_ns: 1_700_000_000_000_000_000 + frame as i64 * 1_000_000,
            proto,
            ip_version: 4,
            src: "10.0.0.1".parse().unwrap(),
            sport,
            dst: "10.0.0.2".parse().unwrap(),
            dport,
            ip_len: 40,
            flags,
            seq: 1000 + frame as u32,
            ack: 0,
            payload_len: 0,
            window: 65535,
            options: Default::default(),
            payload_captured: true,
            checksum_bad: false,
            icmp_one_way: false,
            foreign: false,
            tunnels: Vec::new(),
            payload: Cow::Borrowed(&[]),
        }
    }

    /// Three connections: TCP 40000 (frames 1, 3, 5), TCP 40001 (frames 2, 4), UDP (6).
    fn run(select: Option<&[u64]>) -> Vec<ConnectionRecord> {
        let mut t = Tracker::new(TrackerOptions {
            select_frames: select.map(Into::into),
            ..TrackerOptions::default()
        });
        for p in [
            packet(1, Transport::Tcp, 40000, 80, SYN),
            packet(2, Transport::Tcp, 40001, 80, SYN),
            packet(3, Transport::Tcp, 40000, 80, ACK),
            packet(4, Transport::Tcp, 40001, 80, RST),
            packet(5, Transport::Tcp, 40000, 80, FIN | ACK),
            packet(6, Transport::Udp, 5353, 5353, 0),
        ] {
            t.feed(&p);
        }
        t.finish();
        let mut recs = t.take_records();
        recs.sort_by_key(|r| r.id);
        recs
    }

    #[test]
    fn frame_selection_answers_in_and_out_of_order() {
        let mut s = FrameSelection::new(&[9, 3, 3, 7]);
        assert_eq!(s.len(), 3);
        let asked: Vec<bool> = [1, 3, 3, 4, 7, 8, 9, 10, 3, 2, 9]
            .iter()
            .map(|&f| s.contains(f))
            .collect();
        assert_eq!(
            asked,
            [false, true, true, false, true, false, true, false, true, false, true]
        );
        assert!(FrameSelection::new(&[]).is_empty());
        assert!(!FrameSelection::new(&[]).contains(1));
    }

    #[test]
    fn a_selected_frame_keeps_its_whole_connection() {
        let all = run(None);
        assert_eq!(all.len(), 3);
        // Frame 4 (the RST) is the second connection's: it is kept with both its packets.
        let kept = run(Some(&[4]));
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].uid, all[1].uid);
        assert_eq!(kept[0].packets_c2s, all[1].packets_c2s);
        assert_eq!(kept[0].history, all[1].history);
        assert_eq!(kept[0].first_frame, 2);
        // Frames of both TCP connections, and one no packet is in.
        let kept = run(Some(&[5, 2, 99]));
        let uids: Vec<&str> = kept.iter().map(|r| r.uid.as_str()).collect();
        assert_eq!(uids, [all[0].uid.as_str(), all[1].uid.as_str()]);
        // A UDP flow counts too; nothing selected keeps nothing.
        assert_eq!(run(Some(&[6]))[0].uid, all[2].uid);
        assert!(run(Some(&[])).is_empty());
    }
}

#[cfg(test)]
#[path = "drain_tests.rs"]
mod drain_tests;
