//! One TCP connection's application layer: both directions' reassembly, the HTTP and
//! WebSocket parsers on them, and the analysis their events feed.
//!
//! [`AppConnection`] takes the connection's segments as the tracker sees them (after Zeek's
//! and the RFC's view of the packet) and keeps, per direction, a
//! [`Reassembler`](crate::stream::Reassembler) and the parser of whatever protocol the
//! direction carries now:
//!
//! * every direction starts as HTTP: the first bytes decide (a request line or a status
//!   line), on any port;
//! * `101 Switching Protocols` after a request that asked for `Upgrade: websocket` turns
//!   both directions into WebSocket frame parsers (another upgrade, a `CONNECT` tunnel or
//!   bytes that are not HTTP turn the direction off);
//! * a direction that is off keeps no reassembly state at all; once both are off and
//!   nothing was found, the tracker drops the whole object ([`AppConnection::is_idle`]).
//!
//! Holes are closed as Zeek closes them: bytes the receiver acknowledged that were never
//! captured become a gap (`StreamEvent::Gap`), which a body of known length counts and
//! anything else stops at. A segment cut short by the snap length is followed at once by a
//! gap for the rest of it.
//!
//! A loader that parses HTTP itself (tshark) feeds complete messages and frames instead,
//! through [`AppConnection::http_message`] and [`AppConnection::ws_frame`]; the analysis is
//! the same either way.

use crate::app::analysis::{AppAnalysis, HttpTransaction, WebSocketSession};
use crate::app::http::{HttpAnomaly, HttpEvent, HttpMessage, HttpParser};
use crate::app::ws::{Sender, WsAnomaly, WsEvent, WsFrame, WsParser};
use crate::stream::{Reassembler, StreamEvent};

/// The most anomalies one connection's application layer reports (each name once).
pub const MAX_APP_ANOMALIES: usize = 32;

/// One TCP segment, as the application layer needs it.
#[derive(Clone, Copy, Debug)]
pub struct Segment<'a> {
    /// The sending side (0 or 1: the tracker's fixed side numbers, not roles).
    pub side: usize,
    /// The sender is the connection's client (originator), as the roles stand now.
    pub from_client: bool,
    pub seq: u32,
    pub ack: u32,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    pub has_ack: bool,
    /// The captured payload (may be shorter than `payload_len`).
    pub payload: &'a [u8],
    /// The payload's length on the wire.
    pub payload_len: u32,
    pub ts_ns: i64,
    pub frame: u64,
}

/// What one direction carries now.
#[derive(Debug)]
enum Proto {
    Http(Box<HttpParser>),
    Ws(Box<WsParser>),
    Off,
}

impl Proto {
    fn skippable(&self) -> u64 {
        match self {
            Proto::Http(p) => p.skippable(),
            Proto::Ws(p) => p.skippable(),
            Proto::Off => u64::MAX,
        }
    }
}

/// One direction: the sequence number its stream starts at, its reassembly, its parser.
#[derive(Debug)]
struct Direction {
    /// The ISN + 1 once the direction's SYN was seen.
    first_seq: Option<u32>,
    reasm: Option<Reassembler>,
    proto: Proto,
    /// Bytes of the message being read were never captured: its end is not reported as
    /// the packet that completed it (a loader reassembling messages could not complete it
    /// either), and its chunk sizes are not trusted.
    gap_in_message: bool,
    /// The note of the head whose body is being read (moved to the packet that completes
    /// the message, where tshark reports it).
    pending_note: Option<usize>,
}

impl Direction {
    fn new() -> Self {
        Direction {
            first_seq: None,
            reasm: None,
            proto: Proto::Http(Box::default()),
            gap_in_message: false,
            pending_note: None,
        }
    }

    fn is_off(&self) -> bool {
        matches!(self.proto, Proto::Off)
    }

    fn turn_off(&mut self) {
        self.proto = Proto::Off;
        self.reasm = None;
    }
}

/// An HTTP message head or a WebSocket frame, in the packet that showed it (for
/// step-by-step views such as `explain`).
#[derive(Clone, Debug, PartialEq)]
pub enum Note {
    Http(HttpMessage),
    Ws(WsFrame),
}

/// What the application layer found on one connection, for its record.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppResult {
    pub http_requests: u64,
    pub http_responses: u64,
    pub websocket: bool,
    pub transactions: Vec<HttpTransaction>,
    pub websockets: Vec<WebSocketSession>,
    /// Anomaly names, each with the frame it was first seen in.
    pub anomalies: Vec<(u64, &'static str)>,
}

/// The application layer of one TCP connection.
#[derive(Debug)]
pub struct AppConnection {
    dirs: [Direction; 2],
    analysis: AppAnalysis,
    anomalies: Vec<(u64, &'static str)>,
    /// How many of the analysis's anomalies are in `anomalies` already.
    analysis_noted: usize,
    /// The packet that completed the last head (where the analysis's anomalies of a
    /// message that never completes are noted).
    last_head_frame: u64,
    /// Heads and frames by packet, when asked for ([`AppConnection::with_notes`]).
    notes: Option<Vec<(u64, Note)>>,
    /// Parse the streams (the native loader); false when a loader feeds messages.
    parse: bool,
}

/// Where an event is handled: this packet's time and frame, and which side the direction
/// being handled belongs to.
#[derive(Clone, Copy)]
struct At {
    ts_ns: i64,
    frame: u64,
    /// The direction being handled is the client's.
    client: bool,
}

/// Copy the analysis's anomalies found since the last look, with the frame that showed
/// them.
fn note_analysis(
    analysis: &AppAnalysis,
    noted: &mut usize,
    anomalies: &mut Vec<(u64, &'static str)>,
    frame: u64,
) {
    let found = analysis.anomalies();
    for name in found.get(*noted..).unwrap_or(&[]) {
        note(anomalies, frame, name);
    }
    *noted = found.len();
}

fn note(anomalies: &mut Vec<(u64, &'static str)>, frame: u64, name: &'static str) {
    if anomalies.len() < MAX_APP_ANOMALIES && !anomalies.iter().any(|(_, n)| *n == name) {
        anomalies.push((frame, name));
    }
}

impl AppConnection {
    /// `parse`: reassemble and parse the streams; otherwise only messages fed by
    /// [`http_message`](Self::http_message) / [`ws_frame`](Self::ws_frame) count.
    pub fn new(parse: bool) -> Self {
        AppConnection {
            dirs: [Direction::new(), Direction::new()],
            analysis: AppAnalysis::new(),
            anomalies: Vec::new(),
            analysis_noted: 0,
            last_head_frame: 0,
            notes: None,
            parse,
        }
    }

    /// Keep every message head and frame seen, with its packet, for [`take_notes`].
    ///
    /// [`take_notes`]: Self::take_notes
    pub fn with_notes(mut self) -> Self {
        self.notes = Some(Vec::new());
        self
    }

    /// The heads and frames noted, each with the packet that completed it (a head: the
    /// packet that completed its message, when the body arrived whole), in the order seen.
    pub fn take_notes(&mut self) -> Vec<(u64, Note)> {
        self.notes.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Side `side`'s stream starts at sequence number `seq` (its ISN + 1), from the SYN or
    /// SYN-ACK the tracker saw before this object was made.
    pub fn set_first_seq(&mut self, side: usize, seq: u32) {
        let dir = self.dir(side & 1);
        if dir.reasm.is_none() {
            dir.first_seq = Some(seq);
        }
    }

    /// Nothing found and nothing left to parse: the tracker may drop this object.
    pub fn is_idle(&self) -> bool {
        self.parse
            && self.dirs.iter().all(Direction::is_off)
            && self.analysis.requests() == 0
            && self.analysis.responses() == 0
            && !self.analysis.websocket()
    }

    /// One segment of the connection, in capture order.
    pub fn segment(&mut self, s: &Segment<'_>) {
        if !self.parse {
            return;
        }
        let d = s.side & 1;
        let peer = d ^ 1;
        if s.syn {
            let dir = self.dir(d);
            if dir.reasm.is_none() && dir.first_seq.is_none() {
                dir.first_seq = Some(s.seq.wrapping_add(1));
            }
        }
        // The peer acknowledged up to `ack`: what it sent before that and we never saw is
        // a gap (Zeek's content gap).
        if s.has_ack && self.dir(peer).reasm.is_some() {
            let at = At {
                ts_ns: s.ts_ns,
                frame: s.frame,
                client: !s.from_client,
            };
            self.with_stream(peer, at, s.ack, |r, mut out| r.gap(s.ack, &mut out));
        }
        if self.dir(d).is_off() {
            return;
        }
        let start = s.seq.wrapping_add(u32::from(s.syn));
        let at = At {
            ts_ns: s.ts_ns,
            frame: s.frame,
            client: s.from_client,
        };
        if s.payload_len > 0 && !s.rst {
            let wire = usize::try_from(s.payload_len).unwrap_or(usize::MAX);
            let data = s.payload.get(..s.payload.len().min(wire)).unwrap_or(&[]);
            self.with_stream(d, at, start, |r, mut out| r.segment(start, data, &mut out));
            if data.len() < wire {
                let end = start.wrapping_add(s.payload_len);
                self.with_stream(d, at, start, |r, mut out| r.gap(end, &mut out));
            }
        }
        if s.fin && !self.dir(d).is_off() {
            let fin_seq = start.wrapping_add(s.payload_len);
            self.with_stream(d, at, start, |r, mut out| r.fin(fin_seq, &mut out));
        }
    }

    fn dir(&mut self, d: usize) -> &mut Direction {
        let [a, b] = &mut self.dirs;
        if d == 0 {
            a
        } else {
            b
        }
    }

    /// Run one reassembler call on direction `d` and hand its events to the direction's
    /// parser (and, through the parsers' events, to the other direction and the analysis).
    /// A direction whose SYN was not seen starts at `first_seq`, the sequence number of
    /// the first segment it sends.
    fn with_stream(
        &mut self,
        d: usize,
        at: At,
        first_seq: u32,
        call: impl FnOnce(&mut Reassembler, &mut dyn FnMut(StreamEvent<'_>)),
    ) {
        let [a, b] = &mut self.dirs;
        let (me, other) = if d == 0 { (a, b) } else { (b, a) };
        let first_seq = me.first_seq.unwrap_or(first_seq);
        let analysis = &mut self.analysis;
        let anomalies = &mut self.anomalies;
        let analysis_noted = &mut self.analysis_noted;
        let last_head_frame = &mut self.last_head_frame;
        let notes = &mut self.notes;
        let Direction {
            reasm,
            proto,
            gap_in_message,
            pending_note,
            ..
        } = &mut *me;
        let reasm = reasm.get_or_insert_with(|| Reassembler::new(first_seq));
        let mut ctx = Ctx {
            at,
            proto,
            gap_in_message,
            pending_note,
            other,
            analysis,
            anomalies,
            analysis_noted,
            last_head_frame,
            notes,
        };
        call(reasm, &mut |ev| ctx.stream_event(ev));
        reasm.skip(ctx.proto.skippable());
        if matches!(ctx.proto, Proto::Off) {
            me.reasm = None;
        }
    }

    /// A complete HTTP message from a loader that parses HTTP itself.
    pub fn http_message(&mut self, msg: &HttpMessage, ts_ns: i64, frame: u64) {
        self.analysis.message(msg, ts_ns, frame);
        note_analysis(
            &self.analysis,
            &mut self.analysis_noted,
            &mut self.anomalies,
            frame,
        );
    }

    /// A WebSocket frame from a loader that parses WebSocket itself.
    pub fn ws_frame(&mut self, from_client: bool, f: &WsFrame, frame: u64) {
        self.analysis.ws_frame(from_client, f, frame);
    }

    /// The connection is over: what was found.
    pub fn finish(mut self) -> AppResult {
        let frame = self.last_head_frame;
        note_analysis(
            &self.analysis,
            &mut self.analysis_noted,
            &mut self.anomalies,
            frame,
        );
        let anomalies = self.anomalies;
        let (http_requests, http_responses, websocket) = (
            self.analysis.requests(),
            self.analysis.responses(),
            self.analysis.websocket(),
        );
        let (transactions, websockets) = self.analysis.finish();
        AppResult {
            http_requests,
            http_responses,
            websocket,
            transactions,
            websockets,
            anomalies,
        }
    }
}

/// The state one stream event may touch.
struct Ctx<'c> {
    at: At,
    proto: &'c mut Proto,
    gap_in_message: &'c mut bool,
    pending_note: &'c mut Option<usize>,
    other: &'c mut Direction,
    analysis: &'c mut AppAnalysis,
    anomalies: &'c mut Vec<(u64, &'static str)>,
    analysis_noted: &'c mut usize,
    last_head_frame: &'c mut u64,
    notes: &'c mut Option<Vec<(u64, Note)>>,
}

impl Ctx<'_> {
    fn stream_event(&mut self, ev: StreamEvent<'_>) {
        match ev {
            StreamEvent::Data { offset, data } => self.data(offset, data),
            StreamEvent::Skipped { len, .. } => self.pass(len, false),
            StreamEvent::Gap { len, .. } => {
                *self.gap_in_message = true;
                self.pass(len, true);
            }
            StreamEvent::Fin { .. } => self.fin(),
            StreamEvent::Anomaly { kind, .. } => note(self.anomalies, self.at.frame, kind.name()),
        }
    }

    fn data(&mut self, offset: u64, data: &[u8]) {
        match self.proto {
            Proto::Http(p) => {
                let mut events = Vec::new();
                p.feed(data, &mut |e| events.push(e));
                for e in events {
                    self.http_event(e, Some((offset, data)));
                }
            }
            Proto::Ws(p) => {
                let mut events = Vec::new();
                p.feed(data, &mut |e| events.push(e));
                self.ws_events(events, self.at.client);
            }
            Proto::Off => {}
        }
    }

    fn pass(&mut self, len: u64, gap: bool) {
        match self.proto {
            Proto::Http(p) => {
                let mut events = Vec::new();
                if gap {
                    p.gap(len, &mut |e| events.push(e));
                } else {
                    p.skip(len, &mut |e| events.push(e));
                }
                for e in events {
                    self.http_event(e, None);
                }
            }
            Proto::Ws(p) => {
                let mut events = Vec::new();
                if gap {
                    p.gap(len, &mut |e| events.push(e));
                } else {
                    p.skip(len, &mut |e| events.push(e));
                }
                self.ws_events(events, self.at.client);
            }
            Proto::Off => {}
        }
    }

    fn fin(&mut self) {
        match self.proto {
            Proto::Http(p) => {
                let mut events = Vec::new();
                p.fin(&mut |e| events.push(e));
                for e in events {
                    self.http_event(e, None);
                }
            }
            Proto::Ws(p) => {
                let mut events = Vec::new();
                p.fin(&mut |e| events.push(e));
                self.ws_events(events, self.at.client);
            }
            Proto::Off => {}
        }
    }

    /// Frames and anomalies of the WebSocket parser of a direction sent by the client if
    /// `client`, found in this packet.
    fn ws_events(&mut self, events: Vec<WsEvent>, client: bool) {
        let frame_no = self.at.frame;
        for e in events {
            match e {
                WsEvent::Frame { frame, .. } => {
                    self.analysis.ws_frame(client, &frame, frame_no);
                    if let Some(notes) = self.notes.as_mut() {
                        notes.push((frame_no, Note::Ws(frame)));
                    }
                }
                WsEvent::Anomaly { kind, .. } => {
                    if kind == WsAnomaly::InvalidLength {
                        self.analysis.ws_invalid_length(frame_no);
                    }
                    ws_anomaly(self.anomalies, frame_no, kind);
                }
            }
        }
    }

    /// An event of this direction's HTTP parser; `slice` is the data being fed (its
    /// stream offset and bytes), if any.
    fn http_event(&mut self, e: HttpEvent, slice: Option<(u64, &[u8])>) {
        let At { ts_ns, frame, .. } = self.at;
        match e {
            HttpEvent::Head { mut message, .. } => {
                *self.gap_in_message = false;
                // An empty reason phrase is no reason, as tshark reports it.
                if message.reason.as_deref() == Some("") {
                    message.reason = None;
                }
                self.analysis.head(&message, ts_ns, frame);
                if let Some(notes) = self.notes.as_mut() {
                    *self.pending_note = Some(notes.len());
                    notes.push((frame, Note::Http(message.clone())));
                }
                // What the analysis found in the head is noted when the message completes
                // (below), in the packet tshark reports it in too.
                *self.last_head_frame = frame;
                let mut events = Vec::new();
                if let Proto::Http(o) = &mut self.other.proto {
                    if message.is_request {
                        o.expect_response_to(&message, &mut |e| events.push(e));
                    } else if let Some(status) = message.status {
                        o.peer_response(status, &mut |e| events.push(e));
                    }
                }
                for e in events {
                    self.other_http_event(e);
                }
            }
            HttpEvent::BodyDone { chunk_sizes, .. } => {
                let request = matches!(&self.proto, Proto::Http(p) if p.is_request() == Some(true));
                if !*self.gap_in_message {
                    self.analysis.body_done(request, &chunk_sizes, ts_ns, frame);
                    let pending = self.pending_note.take();
                    if let Some(note) = pending.and_then(|i| self.notes.as_mut()?.get_mut(i)) {
                        note.0 = frame;
                    }
                }
                *self.pending_note = None;
                *self.gap_in_message = false;
                note_analysis(self.analysis, self.analysis_noted, self.anomalies, frame);
            }
            HttpEvent::Upgrade { offset, buffered } => {
                let request = matches!(&self.proto, Proto::Http(p) if p.is_request() == Some(true));
                if self.analysis.ws_active() {
                    let (mut ws, mut events) = start_ws(request, offset, &buffered);
                    // The rest of the slice being fed, from the new protocol's first byte.
                    if let Some((start, data)) = slice {
                        let from = offset.saturating_add(len64(buffered.len()));
                        if let Some(rest) = from
                            .checked_sub(start)
                            .and_then(|i| usize::try_from(i).ok())
                            .and_then(|i| data.get(i..))
                        {
                            ws.feed(rest, &mut |e| events.push(e));
                        }
                    }
                    *self.proto = Proto::Ws(ws);
                    self.ws_events(events, self.at.client);
                } else {
                    *self.proto = Proto::Off;
                }
            }
            HttpEvent::Tunnel { .. } | HttpEvent::NotHttp { .. } => *self.proto = Proto::Off,
            // The analysis reports a too large Content-Length itself, for both loaders.
            HttpEvent::Anomaly {
                kind: HttpAnomaly::ContentLengthTooLarge,
                ..
            } => {}
            HttpEvent::Anomaly { kind, .. } => note(self.anomalies, frame, kind.name()),
        }
    }

    /// An event of the other direction's HTTP parser, caused by a message on this one
    /// (the request side switching on a 101, or an anomaly).
    fn other_http_event(&mut self, e: HttpEvent) {
        let frame = self.at.frame;
        match e {
            HttpEvent::Upgrade { offset, buffered } => {
                if self.analysis.ws_active() {
                    let request =
                        matches!(&self.other.proto, Proto::Http(p) if p.is_request() == Some(true));
                    let (ws, events) = start_ws(request, offset, &buffered);
                    self.other.proto = Proto::Ws(ws);
                    self.ws_events(events, !self.at.client);
                } else {
                    self.other.turn_off();
                }
            }
            HttpEvent::Tunnel { .. } | HttpEvent::NotHttp { .. } => self.other.turn_off(),
            HttpEvent::Anomaly { kind, .. } => note(self.anomalies, frame, kind.name()),
            HttpEvent::Head { .. } | HttpEvent::BodyDone { .. } => {}
        }
    }
}

/// The WebSocket parser of a direction that switched at stream offset `offset` (sent by
/// the client if it carried the requests), and its events on the bytes the HTTP parser
/// had held since the switch.
fn start_ws(request: bool, offset: u64, buffered: &[u8]) -> (Box<WsParser>, Vec<WsEvent>) {
    let sender = if request {
        Sender::Client
    } else {
        Sender::Server
    };
    let mut ws = Box::new(WsParser::new(sender, offset));
    let mut events = Vec::new();
    ws.feed(buffered, &mut |e| events.push(e));
    (ws, events)
}

/// A frame parser's anomaly, unless the analysis reports it as a problem of the session
/// already (RFC 6455 rules on masking, control frames, close codes, data after close).
fn ws_anomaly(anomalies: &mut Vec<(u64, &'static str)>, frame: u64, kind: WsAnomaly) {
    let is_problem = matches!(
        kind,
        WsAnomaly::UnmaskedClientFrame
            | WsAnomaly::MaskedServerFrame
            | WsAnomaly::ControlFrameTooLong
            | WsAnomaly::FragmentedControlFrame
            | WsAnomaly::InvalidCloseCode
            | WsAnomaly::FrameAfterClose
    );
    if !is_problem {
        note(anomalies, frame, kind.name());
    }
}

fn len64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
