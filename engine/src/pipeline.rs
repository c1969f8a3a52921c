//! The composition root: packets into the connection table, finished connections out as
//! records (`Tracker`, sans-IO), and a capture file read through the whole chain
//! (`read_capture`, the only place that joins `capture` to the rest).

use crate::decode::{Packet, Transport, TunnelKind};
use crate::flow::icmp::IcmpFlow;
use crate::flow::udp::UdpFlow;
use crate::flow::{make_uid, Flow, FlowKey, FlowTable, Timeouts};
use crate::record::{self, ConnectionRecord};
use crate::tcp::TcpConnection;

/// One entry of the connection table.
pub enum Conn {
    Tcp(Box<TcpConnection>),
    Udp(UdpFlow),
    Icmp(IcmpFlow),
}

impl Conn {
    fn uid(&self) -> &str {
        match self {
            Conn::Tcp(c) => &c.uid,
            Conn::Udp(f) => &f.uid,
            Conn::Icmp(f) => &f.uid,
        }
    }

    fn tunnel_parents(&mut self) -> &mut Vec<String> {
        match self {
            Conn::Tcp(c) => &mut c.tunnel_parents,
            Conn::Udp(f) => &mut f.tunnel_parents,
            Conn::Icmp(f) => &mut f.tunnel_parents,
        }
    }

    fn history(&mut self) -> &mut crate::flow::history::HistoryLog {
        match self {
            Conn::Tcp(c) => &mut c.history,
            Conn::Udp(f) => &mut f.history,
            Conn::Icmp(f) => &mut f.history,
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
}

impl Flow for Conn {
    fn expired(&mut self, now_ns: i64) -> bool {
        match self {
            Conn::Tcp(c) => c.expired(now_ns),
            Conn::Udp(f) => f.expired(now_ns),
            Conn::Icmp(f) => f.expired(now_ns),
        }
    }

    fn is_reuse(&self, p: &Packet<'_>) -> bool {
        match self {
            Conn::Tcp(c) => c.is_reuse(p),
            Conn::Udp(f) => f.is_reuse(p),
            Conn::Icmp(f) => f.is_reuse(p),
        }
    }
}

/// How the tracker runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct TrackerOptions {
    /// Drop packets whose checksum is bad, as Zeek does without `-C` (they add `C` to the
    /// history and nothing else).
    pub check_checksums: bool,
    /// Keep every TCP connection's frame numbers in its record.
    pub keep_frames: bool,
    pub timeouts: Timeouts,
}

/// Where a packet went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The connection's serial number (the record's `id`).
    pub id: u64,
    /// The packet came from the originator (client), as the roles stand after it.
    pub from_orig: bool,
}

/// Feed packets in capture order; take records as connections finish.
pub struct Tracker {
    table: FlowTable<Entry>,
    opts: TrackerOptions,
    done: Vec<Entry>,
    next_id: u64,
}

impl Flow for Entry {
    fn expired(&mut self, now_ns: i64) -> bool {
        self.conn.expired(now_ns)
    }
    fn is_reuse(&self, p: &Packet<'_>) -> bool {
        self.conn.is_reuse(p)
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
        Tracker {
            table: FlowTable::default(),
            opts,
            done: Vec::new(),
            next_id: 0,
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
                        return e.conn.uid().to_owned();
                    }
                }
                ip_tunnel_uid(t.kind, t.outer_src, t.outer_dst)
            })
            .collect()
    }

    pub fn feed(&mut self, p: &Packet<'_>) -> Placement {
        let (key, present) = self.table.lookup(p, &mut self.done);
        let stack = if p.tunnels.is_empty() {
            Vec::new()
        } else {
            self.stack(p)
        };
        if !present {
            let t = &self.opts.timeouts;
            let cc = self.opts.check_checksums;
            let conn = match p.proto {
                Transport::Tcp => Conn::Tcp(Box::new(TcpConnection::new(
                    p,
                    t,
                    cc,
                    self.opts.keep_frames,
                ))),
                Transport::Udp => Conn::Udp(UdpFlow::new(p, t, cc)),
                Transport::Icmp => Conn::Icmp(IcmpFlow::new(p, t, cc)),
            };
            self.next_id += 1;
            let mut conn = conn;
            if let Some(uid) = stack.last() {
                conn.tunnel_parents().push(uid.clone());
            }
            let entry = Entry {
                id: self.next_id,
                conn,
                stack: stack.clone(),
                tunnel_changes: 0,
                changes_exceeded: false,
            };
            self.table.table.insert(key, entry);
        }
        let Some(entry) = self.table.table.get_mut(&key) else {
            unreachable!("inserted above");
        };
        let id = entry.id;
        check_encapsulation(entry, stack);
        let conn = &mut entry.conn;
        let from_orig = match conn {
            Conn::Tcp(c) => c.feed(p),
            Conn::Udp(f) => f.feed(p),
            Conn::Icmp(f) => f.feed(p),
        };
        self.table.tick(&mut self.done);
        Placement { id, from_orig }
    }

    /// Records of the connections finished so far.
    pub fn take_records(&mut self) -> Vec<ConnectionRecord> {
        self.done
            .drain(..)
            .map(|e| to_record(e.id, e.conn))
            .collect()
    }

    /// End of capture: every connection still open is finished with its state now.
    pub fn finish(&mut self) {
        self.table.drain(&mut self.done);
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

fn to_record(id: u64, c: Conn) -> ConnectionRecord {
    match c {
        Conn::Tcp(c) => record::from_tcp(id, *c),
        Conn::Udp(f) => record::from_udp(id, f),
        Conn::Icmp(f) => record::from_icmp(id, f),
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

/// A capture read through the whole chain: capture → decode → tracker → records.
pub struct CaptureRun {
    reader: crate::capture::CaptureReader,
    decoder: crate::decode::Decoder,
    tracker: Tracker,
    /// TCP/UDP/ICMP packets fed to the tracker.
    pub packets: u64,
    finished: bool,
}

impl CaptureRun {
    pub fn new(reader: crate::capture::CaptureReader, opts: TrackerOptions) -> Self {
        let decoder = crate::decode::Decoder::new(crate::decode::DecodeOptions {
            check_checksums: opts.check_checksums,
        });
        CaptureRun {
            reader,
            decoder,
            tracker: Tracker::new(opts),
            packets: 0,
            finished: false,
        }
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

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Read on until at least `min_records` connections have finished, `max_frames` frames
    /// have been read, or the capture ends (then every open connection is finished too).
    pub fn step(
        &mut self,
        min_records: usize,
        max_frames: u64,
    ) -> Result<Vec<ConnectionRecord>, RunError> {
        let mut frames = 0u64;
        let mut out = Vec::new();
        while !self.finished && self.tracker.done.len() < min_records && frames < max_frames {
            let frame = match self.reader.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => {
                    self.finished = true;
                    self.tracker.finish();
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
                self.packets += 1;
                self.tracker.feed(p);
            }
        }
        out.extend(self.tracker.take_records());
        Ok(out)
    }
}
