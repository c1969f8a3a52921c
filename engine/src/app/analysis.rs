//! HTTP/1.x transactions (RFC 9112) and WebSocket sessions (RFC 6455) of one connection,
//! from the message heads and frame headers that a loader reports: the native
//! [`http::HttpParser`](crate::app::http::HttpParser) /
//! [`ws::WsParser`](crate::app::ws::WsParser) pair, or tshark's dissection.
//!
//! This is a port of the Python analysis (`analyzer/core/http.py`, `websocket.py` and
//! `AppState.feed` in `tracker.py`): the same transactions and sessions, field for field,
//! with the differences listed at the end.
//!
//! # Event model
//!
//! One [`AppAnalysis`] per connection is fed, in capture order:
//!
//! * [`head`](AppAnalysis::head) when a message head is complete (`msg.is_request` says
//!   which side). A request opens a transaction (queued: responses pair with requests in
//!   order, RFC 9112 §9.3.2) and, with `Upgrade: websocket`, a WebSocket session attempt.
//!   A final response completes the oldest open transaction (or one of its own when no
//!   request is open); an interim 1xx other than 101 completes nothing and becomes the
//!   `info_code`/`info_msg` of the oldest open transaction (the one the next final
//!   response answers; with none open, of the next request-less response's, unless a
//!   request comes first). A `101` is its own info code. A `101` to a WebSocket request
//!   switches the connection: from then on [`ws_active`](AppAnalysis::ws_active) is true.
//! * [`body_done`](AppAnalysis::body_done) when the body of the last message whose head
//!   came on that side is complete. The transaction's timestamp and frame of that side
//!   move to this packet (tshark reports a message in the packet that completes it, so
//!   both loaders agree), and a chunked body's length becomes the sum of its chunk sizes.
//!   A `body_done` with no head before it on that side (or after an interim 1xx) is
//!   ignored; each head takes at most one.
//! * [`message`](AppAnalysis::message), for loaders that report messages only once
//!   whole: `head` then `body_done` in the same packet.
//! * [`ws_frame`](AppAnalysis::ws_frame) for each WebSocket frame header; ignored until a
//!   session is switched, then counted and checked against RFC 6455 in the last
//!   switched session.
//!
//! [`finish`](AppAnalysis::finish) gives the transactions (completed and still open,
//! sorted by `trans_depth`) and the sessions (in request order).
//!
//! # Differences from the Python analysis
//!
//! * A `Content-Length` that is not all digits gives a body length of `None` (also for a
//!   request, where Python said 0); one above [`MAX_BODY_LEN`] or beyond 64 bits gives
//!   `None` and the anomaly `http_content_length_too_large` (Python took it as is). Such
//!   a response is not length-delimited for `keep_alive`.
//! * For `keep_alive`, a chunked response is length-delimited even before its chunk
//!   sizes are known.
//! * Times are integer nanoseconds.

use std::collections::VecDeque;

use base64::Engine as _;
use sha1::{Digest, Sha1};

use crate::app::http::{HttpMessage, MAX_BODY_LEN};
use crate::app::ws::WsFrame;

/// RFC 6455 §1.3: the GUID appended to `Sec-WebSocket-Key`.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The largest payload length a frame may claim (RFC 6455 §5.2: 63 bits), and the most a
/// session's payload byte counts reach (they stay within a signed 64-bit column).
pub const MAX_FRAME_PAYLOAD: u64 = (1 << 63) - 1;

/// The anomaly for a `Content-Length` above [`MAX_BODY_LEN`] (or beyond 64 bits).
pub const CONTENT_LENGTH_TOO_LARGE: &str = "http_content_length_too_large";

/// One request/response pair (Python's `HttpTransaction`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpTransaction {
    pub trans_depth: u32,
    pub request_ts_ns: Option<i64>,
    pub method: Option<String>,
    pub target: Option<String>,
    pub host: Option<String>,
    pub request_version: Option<String>,
    pub user_agent: Option<String>,
    /// The request's `Referer` header.
    pub referrer: Option<String>,
    /// The request's `Origin` header.
    pub origin: Option<String>,
    pub request_body_len: Option<u64>,
    pub status: Option<u16>,
    pub reason: Option<String>,
    pub response_version: Option<String>,
    pub response_ts_ns: Option<i64>,
    pub response_body_len: Option<u64>,
    /// The last interim response (1xx, 101 included) seen for this transaction (Zeek's
    /// `info_code` / `info_msg`).
    pub info_code: Option<u16>,
    pub info_msg: Option<String>,
    pub chunked: bool,
    pub keep_alive: Option<bool>,
    pub request_frame: Option<u64>,
    pub response_frame: Option<u64>,
}

/// WebSocket frames of one direction, by opcode (reserved opcodes are not counted).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameCounts {
    pub text: u64,
    pub binary: u64,
    pub continuation: u64,
    pub ping: u64,
    pub pong: u64,
    pub close: u64,
}

impl FrameCounts {
    fn count(&mut self, opcode: u8) {
        let slot = match opcode {
            0 => &mut self.continuation,
            1 => &mut self.text,
            2 => &mut self.binary,
            8 => &mut self.close,
            9 => &mut self.ping,
            10 => &mut self.pong,
            _ => return,
        };
        *slot = slot.saturating_add(1);
    }
}

/// WebSocket data messages of one direction (counted at their first frame).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageCounts {
    pub text: u64,
    pub binary: u64,
}

/// One upgrade attempt and what flowed after it (Python's `WebSocketSession`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebSocketSession {
    pub request_ts_ns: i64,
    pub request_target: Option<String>,
    pub host: Option<String>,
    pub origin: Option<String>,
    pub user_agent: Option<String>,
    pub sec_websocket_key: Option<String>,
    pub sec_websocket_version: Option<String>,
    pub offered_subprotocols: Vec<String>,
    pub offered_extensions: Vec<String>,
    pub status: Option<u16>,
    pub response_ts_ns: Option<i64>,
    pub sec_websocket_accept: Option<String>,
    pub accept_valid: Option<bool>,
    pub subprotocol: Option<String>,
    pub extensions: Vec<String>,
    pub established: bool,
    pub frames_c2s: FrameCounts,
    pub frames_s2c: FrameCounts,
    pub messages_c2s: MessageCounts,
    pub messages_s2c: MessageCounts,
    pub payload_bytes_c2s: u64,
    pub payload_bytes_s2c: u64,
    pub close_code: Option<u16>,
    pub close_reason: Option<String>,
    /// `"client"` or `"server"`: who sent the first Close frame.
    pub close_by: Option<&'static str>,
    pub reply_close_code: Option<u16>,
    /// (problem name, frame number that shows it), in the order found.
    pub problems: Vec<(&'static str, u64)>,
    pub request_frame: u64,
    pub response_frame: Option<u64>,
}

/// RFC 6455 §4.2.2: base64(SHA-1(key + GUID)).
pub fn expected_accept(key: &str) -> String {
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// RFC 6455 §7.4: `reserved_close_code` for the codes never sent on the wire (1005, 1006,
/// 1015), `invalid_close_code` for those outside 1000-1003, 1007-1014 and 3000-4999.
pub fn close_code_problem(code: u16) -> Option<&'static str> {
    if matches!(code, 1005 | 1006 | 1015) {
        return Some("reserved_close_code");
    }
    if code < 1000 || code == 1004 || (1016..=2999).contains(&code) || code >= 5000 {
        return Some("invalid_close_code");
    }
    None
}

/// Python's `str.strip()` (its whitespace is Rust's plus U+001C..U+001F).
fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// Is `token` (lower case) one of the comma-separated tokens of `value` (Python's
/// `token in tokens(value)`)?
fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| {
        v.split(',')
            .map(py_strip)
            .any(|t| !t.is_empty() && t.to_lowercase() == token)
    })
}

/// A comma-separated value as a list of trimmed items (`[]` when absent).
fn split_list(value: Option<&str>) -> Vec<String> {
    value.map_or_else(Vec::new, |v| {
        v.split(',')
            .map(py_strip)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    })
}

/// Every value of the headers named `name`.
fn header_all<'a>(msg: &'a HttpMessage, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    msg.headers
        .iter()
        .filter(move |(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn is_chunked(msg: &HttpMessage) -> bool {
    has_token(msg.header("transfer-encoding"), "chunked")
}

fn chunk_sum(sizes: &[u64]) -> u64 {
    sizes.iter().fold(0u64, |a, &b| a.saturating_add(b))
}

/// A message's `Content-Length`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ContentLength {
    Absent,
    /// Not a list of digits.
    Invalid,
    /// Digits, but above [`MAX_BODY_LEN`] or beyond 64 bits.
    TooLarge,
    Len(u64),
}

fn content_length(msg: &HttpMessage) -> ContentLength {
    let Some(v) = msg.header("content-length") else {
        return ContentLength::Absent;
    };
    let v = py_strip(v);
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return ContentLength::Invalid;
    }
    match v.parse::<u64>().ok().filter(|n| *n <= MAX_BODY_LEN) {
        Some(n) => ContentLength::Len(n),
        None => ContentLength::TooLarge,
    }
}

/// Python's `body_length`: chunk sizes, `Content-Length`, 0, or `None` (unknown or
/// close-delimited).
fn body_length(msg: &HttpMessage, no_body: bool) -> Option<u64> {
    if no_body {
        return Some(0);
    }
    if is_chunked(msg) {
        return (!msg.chunk_sizes.is_empty()).then(|| chunk_sum(&msg.chunk_sizes));
    }
    match content_length(msg) {
        ContentLength::Len(n) => Some(n),
        ContentLength::Invalid | ContentLength::TooLarge => None,
        // A request without either has no body (RFC 9112 §6.3).
        ContentLength::Absent => msg.is_request.then_some(0),
    }
}

/// What a response's analysis needs from its request.
#[derive(Clone, Copy, Debug)]
struct RequestInfo {
    head: bool,
    http10: bool,
    close: bool,
}

/// Python's `keep_alive`, with a chunked response taken as length-delimited.
fn keep_alive(req: Option<RequestInfo>, resp: &HttpMessage) -> bool {
    if resp.status == Some(101) {
        return false;
    }
    let resp_conn = resp.header("connection");
    if has_token(resp_conn, "close") || req.is_some_and(|r| r.close) {
        return false;
    }
    let http10 = resp.version.as_deref() == Some("1.0") || req.is_some_and(|r| r.http10);
    if http10 {
        return has_token(resp_conn, "keep-alive");
    }
    // An HTTP/1.1 response whose body ends at the close cannot be followed by another.
    let delimited = is_chunked(resp) || body_length(resp, false).is_some();
    delimited || matches!(resp.status, Some(204 | 304))
}

#[derive(Clone, Debug)]
struct Tx {
    tx: HttpTransaction,
    req: Option<RequestInfo>,
    /// The request's body length comes from its chunk sizes.
    req_chunks: bool,
    /// The response's body length comes from its chunk sizes.
    resp_chunks: bool,
    /// The WebSocket tracker of this request (index into `AppAnalysis::ws`).
    ws: Option<usize>,
}

#[derive(Clone, Debug, Default)]
struct Side {
    frames: FrameCounts,
    messages: MessageCounts,
    payload: u64,
    closed: bool,
}

/// What the session needs from the latest response to its request.
#[derive(Clone, Debug)]
struct WsResponse {
    status: Option<u16>,
    accept: Option<String>,
    protocol: Option<String>,
    extensions: Vec<String>,
}

/// Python's `WebSocketTracker`.
#[derive(Clone, Debug)]
struct WsTracker {
    request_ts_ns: i64,
    request_frame: u64,
    target: Option<String>,
    host: Option<String>,
    origin: Option<String>,
    user_agent: Option<String>,
    key: Option<String>,
    version: Option<String>,
    offered_subprotocols: Vec<String>,
    offered_extensions: Vec<String>,
    resp: Option<WsResponse>,
    response_ts_ns: Option<i64>,
    response_frame: Option<u64>,
    /// Where the problems found in the latest response start.
    response_problems: usize,
    problems: Vec<(&'static str, u64)>,
    client: Side,
    server: Side,
    close: Option<(&'static str, Option<u16>, Option<String>)>,
    reply_close_code: Option<u16>,
    handshake_ok: bool,
}

impl WsTracker {
    fn new(req: &HttpMessage, ts_ns: i64, frame: u64) -> Self {
        let header = |n: &str| req.header(n).map(str::to_string);
        let mut t = WsTracker {
            request_ts_ns: ts_ns,
            request_frame: frame,
            target: req.target.clone(),
            host: header("host"),
            origin: header("origin"),
            user_agent: header("user-agent"),
            key: header("sec-websocket-key"),
            version: header("sec-websocket-version"),
            offered_subprotocols: split_list(req.header("sec-websocket-protocol")),
            offered_extensions: header_all(req, "sec-websocket-extensions")
                .flat_map(|v| split_list(Some(v)))
                .collect(),
            resp: None,
            response_ts_ns: None,
            response_frame: None,
            response_problems: 0,
            problems: Vec::new(),
            client: Side::default(),
            server: Side::default(),
            close: None,
            reply_close_code: None,
            handshake_ok: true,
        };
        if t.version.as_deref().map(py_strip) != Some("13") {
            t.handshake_problem("bad_version", frame);
        }
        if !has_token(req.header("connection"), "upgrade") {
            t.handshake_problem("bad_connection_header", frame);
        }
        t
    }

    fn handshake_problem(&mut self, name: &'static str, frame: u64) {
        self.problems.push((name, frame));
        self.handshake_ok = false;
    }

    fn switched(&self) -> bool {
        self.resp.as_ref().is_some_and(|r| r.status == Some(101))
    }

    fn response(&mut self, msg: &HttpMessage, ts_ns: i64, frame: u64) {
        let header = |n: &str| msg.header(n).map(str::to_string);
        self.resp = Some(WsResponse {
            status: msg.status,
            accept: header("sec-websocket-accept"),
            protocol: header("sec-websocket-protocol"),
            extensions: header_all(msg, "sec-websocket-extensions")
                .flat_map(|v| split_list(Some(v)))
                .collect(),
        });
        self.response_ts_ns = Some(ts_ns);
        self.response_frame = Some(frame);
        self.response_problems = self.problems.len();
        if msg.status != Some(101) {
            return;
        }
        match (msg.header("sec-websocket-accept"), self.key.as_deref()) {
            (None, _) => self.handshake_problem("missing_accept", frame),
            (Some(accept), Some(key)) if py_strip(accept) == expected_accept(py_strip(key)) => {}
            (Some(_), _) => self.handshake_problem("wrong_accept", frame),
        }
        if !has_token(msg.header("upgrade"), "websocket") {
            self.handshake_problem("bad_upgrade_header", frame);
        }
        if !has_token(msg.header("connection"), "upgrade") {
            self.handshake_problem("bad_connection_header", frame);
        }
        if let Some(chosen) = msg.header("sec-websocket-protocol") {
            let chosen = py_strip(chosen);
            if !self.offered_subprotocols.iter().any(|o| o == chosen) {
                self.handshake_problem("unoffered_subprotocol", frame);
            }
        }
        let name = |e: &str| py_strip(e.split(';').next().unwrap_or("")).to_lowercase();
        let offered: Vec<String> = self.offered_extensions.iter().map(|e| name(e)).collect();
        let unoffered = self
            .resp
            .as_ref()
            .is_some_and(|r| r.extensions.iter().any(|e| !offered.contains(&name(e))));
        if unoffered {
            self.handshake_problem("unoffered_extension", frame);
        }
    }

    /// The request's head frame moves to `frame` (its body completed there), unless the
    /// response has already come.
    fn move_request(&mut self, ts_ns: i64, frame: u64) {
        if self.resp.is_some() {
            return;
        }
        let old = self.request_frame;
        for p in &mut self.problems {
            if p.1 == old {
                p.1 = frame;
            }
        }
        self.request_ts_ns = ts_ns;
        self.request_frame = frame;
    }

    /// The latest response moves to `frame` (its body completed there).
    fn move_response(&mut self, ts_ns: i64, frame: u64) {
        let Some(old) = self.response_frame else {
            return;
        };
        for p in self.problems.iter_mut().skip(self.response_problems) {
            if p.1 == old {
                p.1 = frame;
            }
        }
        self.response_ts_ns = Some(ts_ns);
        self.response_frame = Some(frame);
    }

    fn frame(&mut self, f: &WsFrame, from_client: bool, frame: u64) {
        if f.payload_len > MAX_FRAME_PAYLOAD {
            // RFC 6455 §5.2: the most significant bit of a 64-bit length must be 0. Such a
            // frame's boundaries are lost: it is a problem, not a frame.
            self.problems.push(("invalid_length", frame));
            return;
        }
        let side = if from_client {
            &mut self.client
        } else {
            &mut self.server
        };
        side.frames.count(f.opcode);
        side.payload = side
            .payload
            .saturating_add(f.payload_len)
            .min(MAX_FRAME_PAYLOAD);
        if from_client && !f.masked {
            self.problems.push(("unmasked_client_frame", frame));
        }
        if !from_client && f.masked {
            self.problems.push(("masked_server_frame", frame));
        }
        if f.opcode >= 8 {
            if f.payload_len > 125 {
                self.problems.push(("control_frame_too_long", frame));
            }
            if !f.fin {
                self.problems.push(("fragmented_control_frame", frame));
            }
        } else if side.closed {
            self.problems.push(("data_after_close", frame));
        }
        match f.opcode {
            1 => side.messages.text = side.messages.text.saturating_add(1),
            2 => side.messages.binary = side.messages.binary.saturating_add(1),
            _ => {}
        }
        if f.opcode == 8 {
            if let Some(p) = f.close_code.and_then(close_code_problem) {
                self.problems.push((p, frame));
            }
            let by = if from_client { "client" } else { "server" };
            match &self.close {
                None => self.close = Some((by, f.close_code, f.close_reason.clone())),
                Some((first, _, _)) => {
                    if *first != by && !side.closed {
                        self.reply_close_code = f.close_code;
                    }
                }
            }
            side.closed = true;
        }
    }

    fn session(self) -> WebSocketSession {
        let resp = self.resp.as_ref();
        let status = resp.and_then(|r| r.status);
        let switched = status == Some(101);
        let accept = resp.and_then(|r| r.accept.clone());
        let accept_valid = switched.then(|| match (accept.as_deref(), self.key.as_deref()) {
            (Some(a), Some(k)) => py_strip(a) == expected_accept(py_strip(k)),
            _ => false,
        });
        let subprotocol = resp
            .filter(|_| switched)
            .and_then(|r| r.protocol.as_deref())
            .filter(|p| !p.is_empty())
            .map(|p| py_strip(p).to_string());
        let extensions = resp
            .filter(|_| switched)
            .map(|r| r.extensions.clone())
            .unwrap_or_default();
        let (close_by, close_code, close_reason) = match self.close {
            Some((by, code, reason)) => (Some(by), code, reason),
            None => (None, None, None),
        };
        WebSocketSession {
            request_ts_ns: self.request_ts_ns,
            request_target: self.target,
            host: self.host,
            origin: self.origin,
            user_agent: self.user_agent,
            sec_websocket_key: self.key,
            sec_websocket_version: self.version,
            offered_subprotocols: self.offered_subprotocols,
            offered_extensions: self.offered_extensions,
            status,
            response_ts_ns: self.response_ts_ns,
            sec_websocket_accept: accept,
            accept_valid,
            subprotocol,
            extensions,
            established: switched && accept_valid == Some(true) && self.handshake_ok,
            frames_c2s: self.client.frames,
            frames_s2c: self.server.frames,
            messages_c2s: self.client.messages,
            messages_s2c: self.server.messages,
            payload_bytes_c2s: self.client.payload,
            payload_bytes_s2c: self.server.payload,
            close_code,
            close_reason,
            close_by,
            reply_close_code: self.reply_close_code,
            problems: self.problems,
            request_frame: self.request_frame,
            response_frame: self.response_frame,
        }
    }
}

/// The HTTP transactions and WebSocket sessions of one connection (Python's `AppState`
/// with its `HttpTracker` and `WebSocketTracker`s). See the module doc for the events.
#[derive(Clone, Debug, Default)]
pub struct AppAnalysis {
    /// Every transaction, in `trans_depth` order.
    txs: Vec<Tx>,
    /// Transactions waiting for their response, oldest first (indices into `txs`).
    pending: VecDeque<usize>,
    depth: u32,
    requests: u64,
    responses: u64,
    /// The transaction whose request / response head came last and whose body is not
    /// done yet.
    last_request: Option<usize>,
    last_response: Option<usize>,
    /// An interim 1xx (code, reason) that came while no request was open: it goes to the
    /// transaction that the next (request-less) response opens, unless a request comes
    /// first.
    orphan_info: Option<(u16, Option<String>)>,
    /// WebSocket trackers in request order.
    ws: Vec<WsTracker>,
    /// The switched tracker that frames go to.
    ws_active: Option<usize>,
    anomalies: Vec<&'static str>,
}

impl AppAnalysis {
    pub fn new() -> Self {
        Self::default()
    }

    fn anomaly(&mut self, name: &'static str) {
        if !self.anomalies.contains(&name) {
            self.anomalies.push(name);
        }
    }

    /// Records the anomaly of a too large `Content-Length` (when it is not overridden by
    /// chunked framing).
    fn check_content_length(&mut self, msg: &HttpMessage) {
        if !is_chunked(msg) && content_length(msg) == ContentLength::TooLarge {
            self.anomaly(CONTENT_LENGTH_TOO_LARGE);
        }
    }

    /// A message head completed in packet `frame` at `ts_ns`. `msg.is_request` says
    /// request or response.
    pub fn head(&mut self, msg: &HttpMessage, ts_ns: i64, frame: u64) {
        self.check_content_length(msg);
        if msg.is_request {
            self.request(msg, ts_ns, frame);
        } else {
            self.response(msg, ts_ns, frame);
        }
    }

    fn request(&mut self, msg: &HttpMessage, ts_ns: i64, frame: u64) {
        self.orphan_info = None;
        self.depth = self.depth.saturating_add(1);
        self.requests = self.requests.saturating_add(1);
        let header = |n: &str| msg.header(n).map(str::to_string);
        let tx = HttpTransaction {
            trans_depth: self.depth,
            request_ts_ns: Some(ts_ns),
            method: msg.method.clone(),
            target: msg.target.clone(),
            host: header("host"),
            request_version: msg.version.clone(),
            user_agent: header("user-agent"),
            referrer: header("referer"),
            origin: header("origin"),
            request_body_len: body_length(msg, false),
            request_frame: Some(frame),
            ..HttpTransaction::default()
        };
        let ws = has_token(msg.header("upgrade"), "websocket").then(|| {
            self.ws.push(WsTracker::new(msg, ts_ns, frame));
            self.ws.len().saturating_sub(1)
        });
        let req = RequestInfo {
            head: msg.method.as_deref() == Some("HEAD"),
            http10: msg.version.as_deref() == Some("1.0"),
            close: has_token(msg.header("connection"), "close"),
        };
        let idx = self.txs.len();
        self.txs.push(Tx {
            tx,
            req: Some(req),
            req_chunks: is_chunked(msg),
            resp_chunks: false,
            ws,
        });
        self.pending.push_back(idx);
        self.last_request = Some(idx);
    }

    fn response(&mut self, msg: &HttpMessage, ts_ns: i64, frame: u64) {
        let status = msg.status;
        if let Some(s) = status.filter(|s| (100..200).contains(s) && *s != 101) {
            // Interim: completes nothing, but is the info code of the oldest open request
            // (the one the next final response answers); its (empty) body is no final
            // response's.
            match self.pending.front().and_then(|&i| self.txs.get_mut(i)) {
                Some(t) => {
                    t.tx.info_code = Some(s);
                    t.tx.info_msg = msg.reason.clone();
                }
                None => self.orphan_info = Some((s, msg.reason.clone())),
            }
            self.last_response = None;
            return;
        }
        self.responses = self.responses.saturating_add(1);
        let idx = match self.pending.pop_front() {
            Some(idx) => idx,
            None => {
                // A response without a request in the capture.
                self.depth = self.depth.saturating_add(1);
                let (info_code, info_msg) = match self.orphan_info.take() {
                    Some((code, reason)) => (Some(code), reason),
                    None => (None, None),
                };
                self.txs.push(Tx {
                    tx: HttpTransaction {
                        trans_depth: self.depth,
                        info_code,
                        info_msg,
                        ..HttpTransaction::default()
                    },
                    req: None,
                    req_chunks: false,
                    resp_chunks: false,
                    ws: None,
                });
                self.txs.len().saturating_sub(1)
            }
        };
        let Some(t) = self.txs.get_mut(idx) else {
            return;
        };
        if status == Some(101) {
            // A 101 is Zeek's info code as well as the status.
            t.tx.info_code = Some(101);
            t.tx.info_msg = msg.reason.clone();
        }
        let no_body = status.is_some_and(|s| matches!(s, 204 | 304 | 100..=199))
            || t.req.is_some_and(|r| r.head);
        let chunked = is_chunked(msg);
        t.resp_chunks = chunked && !no_body;
        t.tx.status = status;
        t.tx.reason = msg.reason.clone();
        t.tx.response_version = msg.version.clone();
        t.tx.response_ts_ns = Some(ts_ns);
        t.tx.response_body_len = body_length(msg, no_body);
        t.tx.chunked = chunked;
        t.tx.keep_alive = Some(keep_alive(t.req, msg));
        t.tx.response_frame = Some(frame);
        if let Some(w) = t.ws {
            if let Some(tracker) = self.ws.get_mut(w) {
                tracker.response(msg, ts_ns, frame);
                if tracker.switched() {
                    self.ws_active = Some(w);
                }
            }
        }
        self.last_response = Some(idx);
    }

    /// The body of the last message whose head came in this direction (requests if
    /// `request`, else responses) is complete in packet `frame`. For a chunked body,
    /// `chunk_sizes` are the chunk sizes (empty if unknown).
    pub fn body_done(&mut self, request: bool, chunk_sizes: &[u64], ts_ns: i64, frame: u64) {
        let slot = if request {
            self.last_request.take()
        } else {
            self.last_response.take()
        };
        let Some(t) = slot.and_then(|idx| self.txs.get_mut(idx)) else {
            return;
        };
        if request {
            t.tx.request_ts_ns = Some(ts_ns);
            t.tx.request_frame = Some(frame);
            if t.req_chunks && !chunk_sizes.is_empty() {
                t.tx.request_body_len = Some(chunk_sum(chunk_sizes));
            }
        } else {
            t.tx.response_ts_ns = Some(ts_ns);
            t.tx.response_frame = Some(frame);
            if t.resp_chunks && !chunk_sizes.is_empty() {
                t.tx.response_body_len = Some(chunk_sum(chunk_sizes));
            }
        }
        if let Some(tracker) = t.ws.and_then(|w| self.ws.get_mut(w)) {
            if request {
                tracker.move_request(ts_ns, frame);
            } else {
                tracker.move_response(ts_ns, frame);
            }
        }
    }

    /// A complete message from a loader that reports messages only once whole (tshark):
    /// head + body_done in the same packet, chunk sizes in `msg.chunk_sizes`.
    pub fn message(&mut self, msg: &HttpMessage, ts_ns: i64, frame: u64) {
        self.head(msg, ts_ns, frame);
        self.body_done(msg.is_request, &msg.chunk_sizes, ts_ns, frame);
    }

    /// A WebSocket frame header seen in packet `frame`, sent by the client if
    /// `from_client`. Ignored unless a session is active (after a 101 to an
    /// `Upgrade: websocket` request).
    /// A frame header whose 64-bit payload length has its most significant bit set, which
    /// a frame parser cannot go past (RFC 6455 §5.2): the session's problem
    /// `invalid_length`, as [`ws_frame`](Self::ws_frame) gives it for such a frame.
    pub fn ws_invalid_length(&mut self, frame: u64) {
        if let Some(tracker) = self.ws_active.and_then(|w| self.ws.get_mut(w)) {
            tracker.problems.push(("invalid_length", frame));
        }
    }

    pub fn ws_frame(&mut self, from_client: bool, f: &WsFrame, frame: u64) {
        if let Some(tracker) = self.ws_active.and_then(|w| self.ws.get_mut(w)) {
            tracker.frame(f, from_client, frame);
        }
    }

    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Final responses (interim 1xx other than 101 are not counted).
    pub fn responses(&self) -> u64 {
        self.responses
    }

    /// true when any request asked for `Upgrade: websocket`.
    pub fn websocket(&self) -> bool {
        !self.ws.is_empty()
    }

    /// Is a WebSocket session switched (101 seen)?
    pub fn ws_active(&self) -> bool {
        self.ws_active.is_some()
    }

    /// Anomaly names found by the analysis, in order, deduplicated.
    pub fn anomalies(&self) -> &[&'static str] {
        &self.anomalies
    }

    /// Completed transactions and those still waiting for a response, sorted by
    /// `trans_depth`; and the sessions in request order.
    pub fn finish(self) -> (Vec<HttpTransaction>, Vec<WebSocketSession>) {
        let mut txs: Vec<HttpTransaction> = self.txs.into_iter().map(|t| t.tx).collect();
        txs.sort_by_key(|t| t.trans_depth);
        let sessions = self.ws.into_iter().map(WsTracker::session).collect();
        (txs, sessions)
    }
}
