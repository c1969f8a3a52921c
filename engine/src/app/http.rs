//! HTTP/1.x messages over one direction's reassembled byte stream (RFC 9112).
//!
//! [`HttpParser`] is sans-IO: the caller feeds it the direction's bytes in order
//! ([`feed`](HttpParser::feed)), tells it about bytes that will never come
//! ([`gap`](HttpParser::gap)) or that the reassembler discarded on its request
//! ([`skip`](HttpParser::skip)), and about the end of the stream
//! ([`fin`](HttpParser::fin)); it reports [`HttpEvent`]s through a callback.
//!
//! * Which side a direction is, is found by content: the first message head starts with
//!   a request line (`method SP target SP HTTP/x.y`, or HTTP/0.9's `GET target`) or a
//!   status line (`HTTP/x.y NNN reason`). Anything else is [`HttpEvent::NotHttp`], once,
//!   and the rest of the direction is ignored.
//! * Each message yields [`HttpEvent::Head`] when its head is complete and
//!   [`HttpEvent::BodyDone`] when its body is (immediately, for messages without one).
//! * The body length follows RFC 9112 §6.3. A response's length depends on its
//!   request, so the caller passes each request head on to the other direction's parser
//!   with [`expect_response_to`](HttpParser::expect_response_to), and each response
//!   status to the request direction with [`peer_response`](HttpParser::peer_response)
//!   (which is how the request side learns of a `101` or a `CONNECT` tunnel).
//! * Bodies are never buffered: their bytes are counted as they pass; for chunked bodies
//!   only the chunk-size lines and trailers are read. [`skippable`](HttpParser::skippable)
//!   tells how many upcoming bytes are body that the reassembler may discard.
//! * `101 Switching Protocols` (and a 2xx to `CONNECT`) ends HTTP on the connection:
//!   [`HttpEvent::Upgrade`] / [`HttpEvent::Tunnel`] give the stream offset where the
//!   new protocol starts, after which the parser ignores everything.

use std::collections::VecDeque;

/// The longest message head (start line + header section, including the empty line)
/// read, and separately the longest trailer section. A longer one is
/// [`HttpAnomaly::HeadTooLong`] and parsing stops for the direction.
pub const MAX_HEAD_LEN: usize = 64 * 1024;

/// The most header fields in one head; more is [`HttpAnomaly::TooManyHeaders`] and
/// parsing stops for the direction.
pub const MAX_HEADERS: usize = 128;

/// The largest body length believed (2^53, the largest integer a JSON/Python float
/// holds exactly). A `Content-Length` above it is [`HttpAnomaly::ContentLengthTooLarge`]
/// and the body is taken to run to the end of the stream; chunked bodies whose chunks add
/// up to more are [`HttpAnomaly::InvalidChunkSize`] and parsing stops.
pub const MAX_BODY_LEN: u64 = 1 << 53;

/// The longest chunk-size line (size, extensions, CRLF); longer is
/// [`HttpAnomaly::InvalidChunkSize`] and parsing stops.
pub const MAX_CHUNK_LINE_LEN: usize = 4096;

/// The most chunk sizes recorded for one message; beyond it sizes are still parsed but
/// not recorded (except the final 0), and [`HttpAnomaly::TooManyChunks`] is reported once.
pub const MAX_CHUNK_SIZES: usize = 10_000;

/// The most requests remembered as awaiting a response; when full, the oldest is
/// forgotten and [`HttpAnomaly::TooManyPendingRequests`] is reported.
pub const MAX_PENDING_REQUESTS: usize = 1024;

/// The longest method token accepted when deciding that a direction is HTTP.
pub const MAX_METHOD_LEN: usize = 32;

/// How many bytes sent after an `Upgrade` or `CONNECT` request are held until the
/// response says whether the protocol switched; more is
/// [`HttpAnomaly::UpgradeUnanswered`] and parsing stops.
pub const MAX_UPGRADE_HELD: usize = 64 * 1024;

/// One HTTP message's head, as the analysis consumes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpMessage {
    pub is_request: bool,
    /// Request method (requests only).
    pub method: Option<String>,
    /// Request target (requests only).
    pub target: Option<String>,
    /// `"1.1"`, `"1.0"` or `"0.9"`.
    pub version: Option<String>,
    /// Status code (responses only; `None` for an HTTP/0.9 response, which has no head).
    pub status: Option<u16>,
    /// Reason phrase (responses only; empty when absent or not ASCII).
    pub reason: Option<String>,
    /// Header fields in order: lower-cased name, value with surrounding blanks trimmed
    /// (lossily decoded as UTF-8). The parser keeps only the fields named in
    /// [`ANALYZED_HEADERS`] (the ones framing and the analysis read), so that other
    /// fields cost no allocation.
    pub headers: Vec<(String, String)>,
    /// Filled in only in [`HttpEvent::BodyDone`]; always empty in a `Head`.
    pub chunk_sizes: Vec<u64>,
}

impl HttpMessage {
    /// The value of the first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Something wrong with the messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpAnomaly {
    /// A head or trailer section longer than [`MAX_HEAD_LEN`]; parsing stopped.
    HeadTooLong,
    /// More than [`MAX_HEADERS`] header fields; parsing stopped.
    TooManyHeaders,
    /// A head that is not valid HTTP/1.x (after the direction was found to be HTTP);
    /// parsing stopped.
    MalformedHead,
    /// A `Content-Length` that is not a list of digits (RFC 9112 §6.3 rule 5); the body
    /// is taken to run to the end of the stream.
    InvalidContentLength,
    /// Several `Content-Length` values that differ (rule 5); as invalid.
    ConflictingContentLength,
    /// A `Content-Length` above [`MAX_BODY_LEN`] (or beyond 64 bits); as invalid.
    ContentLengthTooLarge,
    /// Both `Transfer-Encoding` and `Content-Length` (rule 3: possible smuggling);
    /// `Transfer-Encoding` wins.
    TransferEncodingWithContentLength,
    /// A request whose `Transfer-Encoding` does not end in `chunked` (rule 4): its
    /// length cannot be known; the body is taken to run to the end of the stream.
    RequestTransferEncodingNotChunked,
    /// A bad chunk-size line (no hex digits, too many, too long a line, or chunks adding
    /// up past [`MAX_BODY_LEN`]); parsing stopped.
    InvalidChunkSize,
    /// Chunk data not followed by CRLF; parsing stopped.
    MissingChunkCrlf,
    /// More than [`MAX_CHUNK_SIZES`] chunks in one body (later sizes not recorded).
    TooManyChunks,
    /// Bytes missing where they were needed (a head, a chunk-size line); parsing
    /// stopped.
    ContentGap,
    /// The stream ended inside a head or before a body's declared end.
    TruncatedMessage,
    /// More than [`MAX_PENDING_REQUESTS`] requests awaiting a response.
    TooManyPendingRequests,
    /// More than [`MAX_UPGRADE_HELD`] bytes after an `Upgrade`/`CONNECT` request before
    /// its response; parsing stopped.
    UpgradeUnanswered,
}

impl HttpAnomaly {
    /// The anomaly's name as the analysis reports it.
    pub fn name(self) -> &'static str {
        match self {
            HttpAnomaly::HeadTooLong => "http_head_too_long",
            HttpAnomaly::TooManyHeaders => "http_too_many_headers",
            HttpAnomaly::MalformedHead => "http_malformed_head",
            HttpAnomaly::InvalidContentLength => "http_invalid_content_length",
            HttpAnomaly::ConflictingContentLength => "http_conflicting_content_length",
            HttpAnomaly::ContentLengthTooLarge => "http_content_length_too_large",
            HttpAnomaly::TransferEncodingWithContentLength => "http_te_and_cl",
            HttpAnomaly::RequestTransferEncodingNotChunked => "http_request_te_not_chunked",
            HttpAnomaly::InvalidChunkSize => "http_invalid_chunk_size",
            HttpAnomaly::MissingChunkCrlf => "http_chunk_missing_crlf",
            HttpAnomaly::TooManyChunks => "http_too_many_chunks",
            HttpAnomaly::ContentGap => "http_content_gap",
            HttpAnomaly::TruncatedMessage => "http_truncated_message",
            HttpAnomaly::TooManyPendingRequests => "http_too_many_pending_requests",
            HttpAnomaly::UpgradeUnanswered => "http_upgrade_unanswered",
        }
    }
}

/// What the parser reports, in stream order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpEvent {
    /// A complete head whose first byte is at stream offset `offset`.
    Head { offset: u64, message: HttpMessage },
    /// The body of the message whose head came last is complete; `end` is the stream
    /// offset just past it. `body_len` counts body octets without chunked framing (the
    /// sum of `chunk_sizes` for a chunked body), including bytes skipped or missing.
    BodyDone {
        end: u64,
        chunk_sizes: Vec<u64>,
        body_len: u64,
    },
    /// `101 Switching Protocols`: HTTP ends; the new protocol's first byte is at stream
    /// offset `offset`. `buffered` holds the bytes from `offset` on that this parser had
    /// already been fed (only on the request side, while waiting for the response):
    /// hand them to the next parser first, then every byte from
    /// `offset + buffered.len()` on.
    Upgrade { offset: u64, buffered: Vec<u8> },
    /// A 2xx response to `CONNECT`: the connection is a tunnel from `offset` on
    /// (`buffered` as for `Upgrade`).
    Tunnel { offset: u64, buffered: Vec<u8> },
    /// The direction does not start with an HTTP message; the rest is ignored.
    NotHttp { offset: u64 },
    /// An anomaly at stream offset `offset`.
    Anomaly { offset: u64, kind: HttpAnomaly },
}

/// What a response's framing depends on from its request.
#[derive(Clone, Copy, Debug, Default)]
struct Pending {
    head: bool,
    connect: bool,
    http09: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Body {
    Length(u64),
    ChunkSize,
    ChunkData(u64),
    /// After chunk data: CRLF expected (`true` once the CR was seen).
    ChunkDataEnd(bool),
    Trailers,
    UntilClose,
}

/// What follows the current message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum After {
    Next,
    /// A request with `Upgrade` (or `CONNECT`, `true`): wait for the response.
    AwaitResponse(bool),
    /// A 101 response: switch.
    Upgrade,
    /// A 2xx to CONNECT: tunnel.
    Tunnel,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Head,
    Body(Body),
    /// Holding bytes after an upgrade/CONNECT request (`true` for CONNECT).
    AwaitResponse(bool),
    Switched,
    Stopped,
}

/// How a message's body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    None,
    Tunnel,
    Chunked,
    Length(u64),
    UntilClose,
}

enum FirstLine {
    Request,
    Http09,
    Status,
    Invalid,
}

/// The HTTP/1.x parser for one direction of a connection.
#[derive(Debug)]
pub struct HttpParser {
    /// `Some(true)` for the requests direction, once found.
    is_request: Option<bool>,
    state: State,
    /// The stream offset of the next byte.
    offset: u64,
    /// Head / chunk line / trailer bytes being collected.
    buf: Vec<u8>,
    /// The stream offset of `buf[0]` while reading a head.
    head_start: u64,
    /// Where the current line starts in `buf`.
    line_start: usize,
    first_line_done: bool,
    /// What each request still awaiting a response (oldest first) implies for its framing.
    pending: VecDeque<Pending>,
    after: After,
    body_len: u64,
    chunk_sizes: Vec<u64>,
    chunks_seen: usize,
    trailer_len: usize,
    /// Bytes held after an upgrade/CONNECT request, starting at `held_at`.
    held: Vec<u8>,
    held_at: u64,
    /// A final status relayed by [`HttpParser::peer_response`] while the upgrade or
    /// CONNECT request's own body was still being read; applied when it completes.
    early_status: Option<u16>,
    ended: bool,
}

impl Default for HttpParser {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpParser {
    /// A parser for a direction whose stream starts at offset 0.
    pub fn new() -> Self {
        Self::at(0)
    }

    /// A parser whose first byte is at stream offset `offset`.
    pub fn at(offset: u64) -> Self {
        HttpParser {
            is_request: None,
            state: State::Head,
            offset,
            buf: Vec::new(),
            head_start: offset,
            line_start: 0,
            first_line_done: false,
            pending: VecDeque::new(),
            after: After::Next,
            body_len: 0,
            chunk_sizes: Vec::new(),
            chunks_seen: 0,
            trailer_len: 0,
            held: Vec::new(),
            held_at: offset,
            early_status: None,
            ended: false,
        }
    }

    /// `Some(true)` once the direction is known to carry requests, `Some(false)`
    /// responses, `None` before (or if it is not HTTP).
    pub fn is_request(&self) -> Option<bool> {
        self.is_request
    }

    /// The stream offset of the next byte expected.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// True once the parser ignores the rest of the direction (not HTTP, a fatal
    /// anomaly, the end of the stream, or a protocol switch).
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Stopped | State::Switched)
    }

    /// How many upcoming bytes are body the parser will only count: the caller may have
    /// the reassembler discard them ([`crate::stream::Reassembler::skip`]) and pass the
    /// resulting `Skipped` events to [`skip`](Self::skip). `u64::MAX` when everything
    /// until the end of the stream is (a close-delimited body, or a stopped parser).
    pub fn skippable(&self) -> u64 {
        match self.state {
            State::Body(Body::Length(n)) | State::Body(Body::ChunkData(n)) => n,
            State::Body(Body::UntilClose) | State::Stopped => u64::MAX,
            _ => 0,
        }
    }

    /// Tells the responses direction about a request seen on the other direction, in
    /// order, so that a response's body length can follow RFC 9112 §6.3 (no body for
    /// `HEAD`, a tunnel for `CONNECT`, a head-less HTTP/0.9 response). A response with
    /// no request announced is framed as if it answered a `GET`.
    pub fn expect_response_to(&mut self, request: &HttpMessage, out: &mut impl FnMut(HttpEvent)) {
        let method = request.method.as_deref().unwrap_or("");
        if self.pending.len() >= MAX_PENDING_REQUESTS {
            self.pending.pop_front();
            out(HttpEvent::Anomaly {
                offset: self.offset,
                kind: HttpAnomaly::TooManyPendingRequests,
            });
        }
        self.pending.push_back(Pending {
            head: method.eq_ignore_ascii_case("HEAD"),
            connect: method.eq_ignore_ascii_case("CONNECT"),
            http09: request.version.as_deref() == Some("0.9"),
        });
    }

    /// Tells the requests direction the status of a response seen on the other
    /// direction. After an `Upgrade` request a `101` (after a `CONNECT` a 2xx) switches
    /// protocols: [`HttpEvent::Upgrade`] / [`HttpEvent::Tunnel`] is reported with the
    /// bytes held meanwhile. Another final status resumes HTTP parsing of those bytes;
    /// interim 1xx statuses change nothing. A `101` at a message boundary without an
    /// `Upgrade` request also switches.
    pub fn peer_response(&mut self, status: u16, out: &mut impl FnMut(HttpEvent)) {
        self.peer_response_dyn(status, out);
    }

    fn peer_response_dyn(&mut self, status: u16, out: &mut dyn FnMut(HttpEvent)) {
        match self.state {
            State::AwaitResponse(connect) => {
                let switch = status == 101 || (connect && (200..300).contains(&status));
                if switch {
                    let buffered = std::mem::take(&mut self.held);
                    let offset = self.held_at;
                    self.state = State::Switched;
                    if status == 101 {
                        out(HttpEvent::Upgrade { offset, buffered });
                    } else {
                        out(HttpEvent::Tunnel { offset, buffered });
                    }
                } else if status >= 200 {
                    let held = std::mem::take(&mut self.held);
                    self.state = State::Head;
                    self.offset = self.held_at;
                    self.reset_head();
                    self.feed_dyn(&held, out);
                }
            }
            State::Body(_) if matches!(self.after, After::AwaitResponse(_)) && status >= 101 => {
                if status != 101 && status < 200 {
                    return;
                }
                self.early_status = Some(status);
            }
            State::Head if status == 101 && self.buf.is_empty() => {
                self.state = State::Switched;
                out(HttpEvent::Upgrade {
                    offset: self.offset,
                    buffered: Vec::new(),
                });
            }
            _ => {}
        }
    }

    /// The next bytes of the direction, in order.
    pub fn feed(&mut self, data: &[u8], out: &mut impl FnMut(HttpEvent)) {
        self.feed_dyn(data, out);
    }

    fn feed_dyn(&mut self, data: &[u8], out: &mut dyn FnMut(HttpEvent)) {
        let mut data = data;
        while !data.is_empty() {
            let used = match self.state {
                State::Head => self.feed_head(data, out),
                State::Body(body) => self.feed_body(body, data, out),
                State::AwaitResponse(_) => {
                    if let Some(n) = past_limit(self.held.len(), data.len(), MAX_UPGRADE_HELD) {
                        self.advance(n);
                        self.stop(HttpAnomaly::UpgradeUnanswered, out);
                        n
                    } else {
                        self.advance(data.len());
                        self.held.extend_from_slice(data);
                        data.len()
                    }
                }
                State::Switched | State::Stopped => {
                    self.advance(data.len());
                    data.len()
                }
            };
            // Every step consumes at least one byte (and has advanced `offset` by it).
            data = data.get(used.max(1)..).unwrap_or(&[]);
        }
    }

    /// `len` bytes of the direction will never be seen (a capture gap). Inside a body of
    /// known length they are counted as body; anywhere else the parser has lost the
    /// message boundaries: [`HttpAnomaly::ContentGap`] and parsing stops.
    pub fn gap(&mut self, len: u64, out: &mut impl FnMut(HttpEvent)) {
        self.pass(len, out);
    }

    /// `len` bytes were discarded by the reassembler because [`skippable`](Self::skippable)
    /// said they were body: they are counted like body bytes. (Bytes beyond what was
    /// skippable are handled as by [`gap`](Self::gap).)
    pub fn skip(&mut self, len: u64, out: &mut impl FnMut(HttpEvent)) {
        self.pass(len, out);
    }

    fn pass(&mut self, len: u64, out: &mut dyn FnMut(HttpEvent)) {
        let mut len = len;
        while len > 0 {
            let used = match self.state {
                State::Body(Body::Length(n)) => {
                    let take = n.min(len);
                    self.body_len = self.body_len.saturating_add(take);
                    self.offset = self.offset.saturating_add(take);
                    self.state = State::Body(Body::Length(n.saturating_sub(take)));
                    if n == take {
                        self.finish_message(out);
                    }
                    take
                }
                State::Body(Body::ChunkData(n)) => {
                    let take = n.min(len);
                    self.body_len = self.body_len.saturating_add(take);
                    self.offset = self.offset.saturating_add(take);
                    self.state = State::Body(if n == take {
                        Body::ChunkDataEnd(false)
                    } else {
                        Body::ChunkData(n.saturating_sub(take))
                    });
                    take
                }
                State::Body(Body::UntilClose) => {
                    self.body_len = self.body_len.saturating_add(len);
                    self.offset = self.offset.saturating_add(len);
                    len
                }
                State::Switched | State::Stopped => {
                    self.offset = self.offset.saturating_add(len);
                    len
                }
                _ => {
                    self.stop(HttpAnomaly::ContentGap, out);
                    self.offset = self.offset.saturating_add(len);
                    len
                }
            };
            len = len.saturating_sub(used.max(1));
        }
    }

    /// The direction's stream ended (FIN reached, or the connection is over). A
    /// close-delimited body completes; a message cut short is
    /// [`HttpAnomaly::TruncatedMessage`]. Everything after is ignored.
    pub fn fin(&mut self, out: &mut impl FnMut(HttpEvent)) {
        self.fin_dyn(out);
    }

    fn fin_dyn(&mut self, out: &mut dyn FnMut(HttpEvent)) {
        if self.ended {
            return;
        }
        self.ended = true;
        match self.state {
            State::Body(Body::UntilClose) => {
                self.finish_message(out);
            }
            State::Body(_) => self.anomaly(HttpAnomaly::TruncatedMessage, out),
            State::Head if !self.buf.is_empty() => {
                if self.http09_response_pending() {
                    // Fewer bytes than "HTTP/" and then the end: a tiny HTTP/0.9 body.
                    let n = len64(self.buf.len());
                    self.buf.clear();
                    self.start_http09_response(out);
                    self.body_len = n;
                    self.finish_message(out);
                } else {
                    self.anomaly(HttpAnomaly::TruncatedMessage, out);
                }
            }
            _ => {}
        }
        // A request direction waiting for its upgrade's response may still switch.
        if !matches!(self.state, State::Switched | State::AwaitResponse(_)) {
            self.state = State::Stopped;
        }
    }

    // ----- heads -------------------------------------------------------------------

    /// Each step advances `offset` past the bytes it consumes *before* reporting events,
    /// so events see the offset just past what caused them.
    fn advance(&mut self, n: usize) {
        self.offset = self.offset.saturating_add(len64(n));
    }

    fn reset_head(&mut self) {
        self.buf.clear();
        self.line_start = 0;
        self.first_line_done = false;
        self.head_start = self.offset;
    }

    fn http09_response_pending(&self) -> bool {
        self.is_request != Some(true) && self.pending.front().is_some_and(|p| p.http09)
    }

    /// Reads head bytes; returns how many of `data` were used (≥ 1).
    fn feed_head(&mut self, data: &[u8], out: &mut dyn FnMut(HttpEvent)) -> usize {
        // After an HTTP/0.9 request, the probe goes on until it holds 5 bytes, however
        // many calls they come in: entered only on an empty `buf`, a response split after
        // a prefix of "HTTP/" (e.g. "H" | "ello") fell through to the head path and came
        // out as NotHttp or a malformed head instead of a head-less body.
        if self.http09_response_pending() && self.buf.len() < 5 {
            if self.buf.is_empty() {
                self.head_start = self.offset;
            }
            return self.feed_http09_probe(data, out);
        }
        if self.buf.is_empty() {
            self.head_start = self.offset;
            // RFC 9112 §2.2: empty lines before a start line are ignored.
            let blank = data
                .iter()
                .take_while(|b| **b == b'\r' || **b == b'\n')
                .count();
            if blank > 0 {
                self.advance(blank);
                return blank;
            }
        }
        let (mut line, complete) = match data.iter().position(|b| *b == b'\n') {
            Some(i) => (data.get(..=i).unwrap_or(data), true),
            None => (data, false),
        };
        if !self.first_line_done {
            // Consume only up to the byte that rules out a start line, so that the
            // anomaly is reported just past it whatever the split into calls (it used to
            // be reported at the end of the piece that held the byte).
            if let Some(i) = implausible_at(&self.buf, line) {
                line = line.get(..=i).unwrap_or(line);
            }
        }
        if let Some(n) = past_limit(self.buf.len(), line.len(), MAX_HEAD_LEN) {
            self.advance(n);
            self.stop(HttpAnomaly::HeadTooLong, out);
            return n;
        }
        self.advance(line.len());
        self.buf.extend_from_slice(line);
        if !self.first_line_done && !plausible_start(&self.buf) {
            self.reject_head(out);
            return line.len();
        }
        if complete {
            self.end_of_line(out);
        }
        line.len()
    }

    /// The responses direction after an HTTP/0.9 request: a status line, or else the
    /// whole stream is the response body.
    fn feed_http09_probe(&mut self, data: &[u8], out: &mut dyn FnMut(HttpEvent)) -> usize {
        let want = 5usize.saturating_sub(self.buf.len());
        let take = want.min(data.len()).max(1);
        self.advance(take);
        self.buf.extend_from_slice(data.get(..take).unwrap_or(&[]));
        let n = self.buf.len().min(5);
        if b"HTTP/".get(..n) != self.buf.get(..n) {
            // Not a status line: these bytes are the body of a head-less response.
            let body = len64(self.buf.len());
            self.buf.clear();
            self.start_http09_response(out);
            self.body_len = body;
            return take;
        }
        if self.buf.len() >= 5 {
            // A status line after all: parse the response normally. The pending entry
            // stays and is popped when this head completes.
            if let Some(p) = self.pending.front_mut() {
                p.http09 = false;
            }
        }
        take
    }

    fn start_http09_response(&mut self, out: &mut dyn FnMut(HttpEvent)) {
        self.pending.pop_front();
        self.is_request = Some(false);
        out(HttpEvent::Head {
            offset: self.head_start,
            message: HttpMessage {
                is_request: false,
                version: Some("0.9".to_string()),
                ..HttpMessage::default()
            },
        });
        self.begin_body(Framing::UntilClose, After::Next, out);
    }

    fn end_of_line(&mut self, out: &mut dyn FnMut(HttpEvent)) {
        let end = self.buf.len();
        let line = trim_eol(self.buf.get(self.line_start..end).unwrap_or(&[]));
        if !self.first_line_done {
            self.first_line_done = true;
            match classify(line) {
                FirstLine::Invalid => return self.reject_head(out),
                FirstLine::Http09 if self.is_request != Some(false) => {
                    self.is_request = Some(true);
                    return self.complete_http09_request(out);
                }
                FirstLine::Request | FirstLine::Http09 if self.is_request == Some(false) => {
                    return self.reject_head(out);
                }
                FirstLine::Status if self.is_request == Some(true) => {
                    return self.reject_head(out);
                }
                FirstLine::Status => self.is_request = Some(false),
                FirstLine::Request | FirstLine::Http09 => self.is_request = Some(true),
            }
        } else if line.is_empty() {
            return self.complete_head(out);
        }
        self.line_start = end;
    }

    /// Invalid content where a head should start: at the very start the direction is
    /// not HTTP; later it is a malformed head.
    fn reject_head(&mut self, out: &mut dyn FnMut(HttpEvent)) {
        if self.is_request.is_none() {
            self.not_http(out);
        } else {
            self.stop(HttpAnomaly::MalformedHead, out);
        }
    }

    fn not_http(&mut self, out: &mut dyn FnMut(HttpEvent)) {
        self.buf = Vec::new();
        self.state = State::Stopped;
        out(HttpEvent::NotHttp {
            offset: self.head_start,
        });
    }

    fn complete_http09_request(&mut self, out: &mut dyn FnMut(HttpEvent)) {
        let line = trim_eol(&self.buf);
        let mut parts = line.split(|b| *b == b' ').filter(|p| !p.is_empty());
        let method = parts.next().map(lossy);
        let target = parts.next().map(lossy);
        let message = HttpMessage {
            is_request: true,
            method,
            target,
            version: Some("0.9".to_string()),
            ..HttpMessage::default()
        };
        out(HttpEvent::Head {
            offset: self.head_start,
            message,
        });
        self.buf.clear();
        self.begin_body(Framing::None, After::Next, out);
    }

    /// The head in `buf` is complete: parse it, report it, start its body.
    fn complete_head(&mut self, out: &mut dyn FnMut(HttpEvent)) {
        let buf = std::mem::take(&mut self.buf);
        let is_request = self.is_request == Some(true);
        let parsed = parse_head(&buf, is_request);
        self.buf = buf;
        self.buf.clear();
        let message = match parsed {
            Ok(m) => m,
            Err(kind) => return self.stop(kind, out),
        };
        let offset = self.head_start;
        if is_request {
            let connect = message
                .method
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case("CONNECT"));
            let upgrade = message.header("upgrade").is_some();
            let (framing, anomalies) = framing(&message, true, Pending::default());
            let after = if connect || upgrade {
                After::AwaitResponse(connect)
            } else {
                After::Next
            };
            out(HttpEvent::Head { offset, message });
            for a in anomalies {
                self.anomaly(a, out);
            }
            self.begin_body(framing, after, out);
        } else {
            let status = message.status.unwrap_or(0);
            let interim = (100..200).contains(&status) && status != 101;
            let pending = if interim {
                self.pending.front().copied().unwrap_or_default()
            } else {
                self.pending.pop_front().unwrap_or_default()
            };
            let (framing, anomalies) = framing(&message, false, pending);
            let after = match (status, framing) {
                (101, _) => After::Upgrade,
                (_, Framing::Tunnel) => After::Tunnel,
                _ => After::Next,
            };
            out(HttpEvent::Head { offset, message });
            for a in anomalies {
                self.anomaly(a, out);
            }
            self.begin_body(framing, after, out);
        }
    }

    // ----- bodies ------------------------------------------------------------------

    fn begin_body(&mut self, framing: Framing, after: After, out: &mut dyn FnMut(HttpEvent)) {
        self.after = after;
        self.body_len = 0;
        self.chunk_sizes = Vec::new();
        self.chunks_seen = 0;
        self.trailer_len = 0;
        self.buf.clear();
        match framing {
            Framing::None | Framing::Tunnel | Framing::Length(0) => {
                self.finish_message(out);
            }
            Framing::Length(n) => self.state = State::Body(Body::Length(n)),
            Framing::Chunked => self.state = State::Body(Body::ChunkSize),
            Framing::UntilClose => self.state = State::Body(Body::UntilClose),
        }
    }

    /// Reads body bytes; returns how many of `data` were used (≥ 1).
    fn feed_body(&mut self, body: Body, data: &[u8], out: &mut dyn FnMut(HttpEvent)) -> usize {
        match body {
            Body::Length(n) => {
                let take = usize::try_from(n).unwrap_or(usize::MAX).min(data.len());
                let left = n.saturating_sub(len64(take));
                self.body_len = self.body_len.saturating_add(len64(take));
                self.advance(take);
                self.state = State::Body(Body::Length(left));
                if left == 0 {
                    self.finish_message(out);
                }
                take
            }
            Body::ChunkData(n) => {
                let take = usize::try_from(n).unwrap_or(usize::MAX).min(data.len());
                let left = n.saturating_sub(len64(take));
                self.body_len = self.body_len.saturating_add(len64(take));
                self.advance(take);
                self.state = State::Body(if left == 0 {
                    Body::ChunkDataEnd(false)
                } else {
                    Body::ChunkData(left)
                });
                take
            }
            Body::ChunkDataEnd(cr) => {
                self.advance(1);
                match data.first() {
                    Some(b'\r') if !cr => self.state = State::Body(Body::ChunkDataEnd(true)),
                    Some(b'\n') => self.state = State::Body(Body::ChunkSize),
                    _ => self.stop(HttpAnomaly::MissingChunkCrlf, out),
                }
                1
            }
            Body::ChunkSize => {
                let (line, complete) = split_line(data);
                if let Some(n) = past_limit(self.buf.len(), line.len(), MAX_CHUNK_LINE_LEN) {
                    self.advance(n);
                    self.stop(HttpAnomaly::InvalidChunkSize, out);
                    return n;
                }
                self.advance(line.len());
                self.buf.extend_from_slice(line);
                if complete {
                    self.end_of_chunk_line(out);
                }
                line.len()
            }
            Body::Trailers => {
                let (line, complete) = split_line(data);
                if let Some(n) = past_limit(self.trailer_len, line.len(), MAX_HEAD_LEN) {
                    self.advance(n);
                    self.stop(HttpAnomaly::HeadTooLong, out);
                    return n;
                }
                self.advance(line.len());
                self.trailer_len = self.trailer_len.saturating_add(line.len());
                self.buf.extend_from_slice(line);
                if complete {
                    let empty = trim_eol(&self.buf).is_empty();
                    self.buf.clear();
                    if empty {
                        self.finish_message(out);
                    }
                }
                line.len()
            }
            Body::UntilClose => {
                self.advance(data.len());
                self.body_len = self.body_len.saturating_add(len64(data.len()));
                data.len()
            }
        }
    }

    /// A complete chunk-size line is in `buf` (RFC 9112 §7.1: `chunk-size [ chunk-ext ]
    /// CRLF`, extensions ignored).
    fn end_of_chunk_line(&mut self, out: &mut dyn FnMut(HttpEvent)) {
        let size = parse_chunk_size(trim_eol(&self.buf));
        self.buf.clear();
        let Some(size) = size else {
            return self.stop(HttpAnomaly::InvalidChunkSize, out);
        };
        if self.body_len.saturating_add(size) > MAX_BODY_LEN {
            return self.stop(HttpAnomaly::InvalidChunkSize, out);
        }
        self.chunks_seen = self.chunks_seen.saturating_add(1);
        if self.chunk_sizes.len() < MAX_CHUNK_SIZES || size == 0 {
            self.chunk_sizes.push(size);
        } else if self.chunks_seen == MAX_CHUNK_SIZES.saturating_add(1) {
            self.anomaly(HttpAnomaly::TooManyChunks, out);
        }
        self.state = State::Body(if size == 0 {
            Body::Trailers
        } else {
            Body::ChunkData(size)
        });
    }

    /// The current message is complete: report its body, then go on as `after` says.
    /// `offset` must be the stream offset just past the message.
    fn finish_message(&mut self, out: &mut dyn FnMut(HttpEvent)) {
        out(HttpEvent::BodyDone {
            end: self.offset,
            chunk_sizes: std::mem::take(&mut self.chunk_sizes),
            body_len: self.body_len,
        });
        self.body_len = 0;
        self.reset_head();
        match self.after {
            After::Next => self.state = State::Head,
            After::AwaitResponse(connect) => {
                self.state = State::AwaitResponse(connect);
                self.held.clear();
                self.held_at = self.offset;
                if let Some(status) = self.early_status.take() {
                    self.after = After::Next;
                    return self.peer_response_dyn(status, out);
                }
            }
            After::Upgrade => {
                self.state = State::Switched;
                out(HttpEvent::Upgrade {
                    offset: self.offset,
                    buffered: Vec::new(),
                });
            }
            After::Tunnel => {
                self.state = State::Switched;
                out(HttpEvent::Tunnel {
                    offset: self.offset,
                    buffered: Vec::new(),
                });
            }
        }
        self.after = After::Next;
    }

    fn anomaly(&mut self, kind: HttpAnomaly, out: &mut dyn FnMut(HttpEvent)) {
        out(HttpEvent::Anomaly {
            offset: self.offset,
            kind,
        });
    }

    fn stop(&mut self, kind: HttpAnomaly, out: &mut dyn FnMut(HttpEvent)) {
        self.anomaly(kind, out);
        self.state = State::Stopped;
        self.buf = Vec::new();
        self.held = Vec::new();
    }
}

// ----- pure helpers ----------------------------------------------------------------

fn len64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `data` up to and including its first LF (`true`), or all of it (`false`).
fn split_line(data: &[u8]) -> (&[u8], bool) {
    match data.iter().position(|b| *b == b'\n') {
        Some(i) => (data.get(..=i).unwrap_or(data), true),
        None => (data, false),
    }
}

/// A line without its LF or CRLF.
fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether the bytes so far of a head's first line could still start a request line or
/// a status line (looked at only up to the method's end).
fn plausible_start(buf: &[u8]) -> bool {
    let n = buf.len().min(5);
    if b"HTTP/".get(..n) == buf.get(..n) {
        return true;
    }
    for (i, b) in buf.iter().enumerate() {
        if *b == b' ' {
            return i > 0;
        }
        if !is_tchar(*b) || i >= MAX_METHOD_LEN {
            return false;
        }
    }
    true
}

/// When `have` bytes and `more` exceed `limit`: how many of `more` take the count one byte
/// past it. Limit anomalies consume only that many, so that they are reported at the same
/// offset however the bytes were split into calls (they used to be reported at the end of
/// the piece that crossed the limit).
fn past_limit(have: usize, more: usize, limit: usize) -> Option<usize> {
    (have.saturating_add(more) > limit).then(|| limit.saturating_sub(have).saturating_add(1))
}

/// The index in `more` of the byte with which `buf` followed by `more` stops being a
/// [`plausible_start`], if it does.
fn implausible_at(buf: &[u8], more: &[u8]) -> Option<usize> {
    // `plausible_start` looks at no more than a method token and its space: a longer
    // start that is still plausible stays so.
    if buf.len() > MAX_METHOD_LEN {
        return None;
    }
    let mut probe = buf.to_vec();
    for (i, b) in more
        .iter()
        .enumerate()
        .take(MAX_METHOD_LEN.saturating_add(1))
    {
        probe.push(*b);
        if !plausible_start(&probe) {
            return Some(i);
        }
    }
    None
}

/// What a complete first line (without its line ending) is.
fn classify(line: &[u8]) -> FirstLine {
    if line.starts_with(b"HTTP/") {
        return if is_status_line(line) {
            FirstLine::Status
        } else {
            FirstLine::Invalid
        };
    }
    let mut parts = line.split(|b| *b == b' ').filter(|p| !p.is_empty());
    let Some(method) = parts.next() else {
        return FirstLine::Invalid;
    };
    if method.len() > MAX_METHOD_LEN || !method.iter().all(|b| is_tchar(*b)) {
        return FirstLine::Invalid;
    }
    let Some(target) = parts.next() else {
        return FirstLine::Invalid;
    };
    // Control bytes other than NUL are invalid in a request-target, but Zeek and Wireshark
    // read such requests (they are what an attacker sends), and so do we.
    if target.contains(&0) {
        return FirstLine::Invalid;
    }
    match (parts.next(), parts.next()) {
        (None, _) if method == b"GET" => FirstLine::Http09,
        (Some(v), None) if v.starts_with(b"HTTP/") => FirstLine::Request,
        _ => FirstLine::Invalid,
    }
}

/// `HTTP/` DIGIT `.` DIGIT SP 3DIGIT ( SP reason / end ).
fn is_status_line(line: &[u8]) -> bool {
    let digit = |i: usize| line.get(i).is_some_and(|b| b.is_ascii_digit());
    digit(5) && line.get(6) == Some(&b'.') && digit(7) && line.get(8) == Some(&b' ') && {
        let rest = line.get(8..).unwrap_or(&[]);
        let code = rest.iter().skip_while(|b| **b == b' ').take(3);
        code.filter(|b| b.is_ascii_digit()).count() == 3
    }
}

/// Parses a complete head with httparse.
fn parse_head(buf: &[u8], is_request: bool) -> Result<HttpMessage, HttpAnomaly> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut config = httparse::ParserConfig::default();
    config
        .allow_multiple_spaces_in_request_line_delimiters(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        // A header line with a control byte is skipped, not the whole message (Zeek and
        // Wireshark keep such requests).
        .ignore_invalid_headers_in_requests(true)
        .ignore_invalid_headers_in_responses(true);
    let to_anomaly = |e: httparse::Error| match e {
        httparse::Error::TooManyHeaders => HttpAnomaly::TooManyHeaders,
        _ => HttpAnomaly::MalformedHead,
    };
    let mut message = HttpMessage {
        is_request,
        ..HttpMessage::default()
    };
    let fields: &[httparse::Header<'_>] = if is_request {
        let mut req = httparse::Request::new(&mut headers);
        match config.parse_request(&mut req, buf) {
            Ok(httparse::Status::Complete(_)) => {
                message.method = req.method.map(str::to_string);
                message.target = req.path.map(str::to_string);
                message.version = req.version.map(|v| format!("1.{v}"));
                req.headers
            }
            Ok(httparse::Status::Partial) => return Err(HttpAnomaly::MalformedHead),
            // httparse refuses a request-target with control bytes: read the request line
            // leniently (method, target up to the last space, version) and the header
            // fields after it with httparse.
            Err(httparse::Error::Token) => {
                let (method, target, version, rest) =
                    lenient_request_line(buf).ok_or(HttpAnomaly::MalformedHead)?;
                message.method = Some(method);
                message.target = Some(target);
                message.version = Some(version);
                let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let parsed = httparse::parse_headers(rest, &mut fields).map_err(to_anomaly)?;
                let httparse::Status::Complete((_, parsed)) = parsed else {
                    return Err(HttpAnomaly::MalformedHead);
                };
                message.headers = header_pairs(parsed);
                return Ok(message);
            }
            Err(e) => return Err(to_anomaly(e)),
        }
    } else {
        let mut resp = httparse::Response::new(&mut headers);
        match config.parse_response(&mut resp, buf) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => return Err(HttpAnomaly::MalformedHead),
            Err(e) => return Err(to_anomaly(e)),
        }
        message.version = resp.version.map(|v| format!("1.{v}"));
        message.status = resp.code;
        message.reason = resp.reason.map(str::to_string);
        resp.headers
    };
    message.headers = header_pairs(fields);
    Ok(message)
}

/// The header fields a parsed message keeps (lower case): those that decide framing
/// (RFC 9112 §6.3), keep-alive and the upgrade, and those the records report.
pub const ANALYZED_HEADERS: [&str; 13] = [
    "connection",
    "content-length",
    "host",
    "origin",
    "referer",
    "sec-websocket-accept",
    "sec-websocket-extensions",
    "sec-websocket-key",
    "sec-websocket-protocol",
    "sec-websocket-version",
    "transfer-encoding",
    "upgrade",
    "user-agent",
];

/// The header fields of [`ANALYZED_HEADERS`] as (lower-cased name, value without
/// surrounding blanks).
fn header_pairs(fields: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    fields
        .iter()
        .filter(|h| {
            ANALYZED_HEADERS
                .iter()
                .any(|name| h.name.eq_ignore_ascii_case(name))
        })
        .map(|h| {
            let value = lossy(h.value);
            let value = value.trim_matches(|c| c == ' ' || c == '\t').to_string();
            (h.name.to_ascii_lowercase(), value)
        })
        .collect()
}

/// `method SP target SP HTTP/1.x` read without httparse's request-target check; the target
/// is everything between the first and the last space. Returns the three parts (lossily
/// decoded) and the bytes after the line.
fn lenient_request_line(buf: &[u8]) -> Option<(String, String, String, &[u8])> {
    let eol = buf.iter().position(|b| *b == b'\n')?;
    let line = buf.get(..eol)?;
    let rest = buf.get(eol.checked_add(1)?..)?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let first = line.iter().position(|b| *b == b' ')?;
    let last = line.iter().rposition(|b| *b == b' ')?;
    let method = line.get(..first)?;
    let target = line.get(first.checked_add(1)?..last)?;
    let version = line.get(last.checked_add(1)?..)?;
    let minor = match version {
        b"HTTP/1.0" => "1.0",
        b"HTTP/1.1" => "1.1",
        _ => return None,
    };
    let target = lossy(target);
    let target = target.trim_matches(' ');
    if method.is_empty() || target.is_empty() {
        return None;
    }
    Some((lossy(method), target.to_string(), minor.to_string(), rest))
}

/// RFC 9112 §6.3: how the body of `message` is delimited, and the anomalies that
/// decision noticed. `pending` describes the request a response answers.
fn framing(
    message: &HttpMessage,
    is_request: bool,
    pending: Pending,
) -> (Framing, Vec<HttpAnomaly>) {
    let mut anomalies = Vec::new();
    if !is_request {
        let status = message.status.unwrap_or(0);
        // Rule 1: HEAD responses, 1xx, 204 and 304 end with their head.
        if pending.head || (100..200).contains(&status) || status == 204 || status == 304 {
            return (Framing::None, anomalies);
        }
        // Rule 2: a 2xx to CONNECT turns the connection into a tunnel.
        if pending.connect && (200..300).contains(&status) {
            return (Framing::Tunnel, anomalies);
        }
    }
    let mut codings: Vec<String> = Vec::new();
    let mut has_te = false;
    let mut lengths: Vec<&str> = Vec::new();
    for (name, value) in &message.headers {
        if name == "transfer-encoding" {
            has_te = true;
            codings.extend(
                value
                    .split(',')
                    .map(|c| c.trim().to_ascii_lowercase())
                    .filter(|c| !c.is_empty()),
            );
        } else if name == "content-length" {
            lengths.extend(value.split(',').map(str::trim));
        }
    }
    if has_te {
        // Rule 3: Transfer-Encoding overrides Content-Length (and smells of smuggling).
        if !lengths.is_empty() {
            anomalies.push(HttpAnomaly::TransferEncodingWithContentLength);
        }
        // Rule 4: chunked last → chunked; otherwise a response runs until close, and a
        // request's length cannot be known.
        if codings.last().map(String::as_str) == Some("chunked") {
            return (Framing::Chunked, anomalies);
        }
        if is_request {
            anomalies.push(HttpAnomaly::RequestTransferEncodingNotChunked);
        }
        return (Framing::UntilClose, anomalies);
    }
    if !lengths.is_empty() {
        // Rules 5 and 6: a valid (possibly repeated, identical) value is the length.
        let mut value: Option<u64> = None;
        for l in lengths {
            if l.is_empty() || !l.bytes().all(|b| b.is_ascii_digit()) {
                anomalies.push(HttpAnomaly::InvalidContentLength);
                return (Framing::UntilClose, anomalies);
            }
            let n = l.parse::<u64>().ok().filter(|n| *n <= MAX_BODY_LEN);
            let Some(n) = n else {
                anomalies.push(HttpAnomaly::ContentLengthTooLarge);
                return (Framing::UntilClose, anomalies);
            };
            match value {
                Some(v) if v != n => {
                    anomalies.push(HttpAnomaly::ConflictingContentLength);
                    return (Framing::UntilClose, anomalies);
                }
                _ => value = Some(n),
            }
        }
        return (Framing::Length(value.unwrap_or(0)), anomalies);
    }
    if is_request {
        // Rule 7: a request without a declared length has no body.
        (Framing::None, anomalies)
    } else {
        // Rule 8: a response without one runs until the server closes.
        (Framing::UntilClose, anomalies)
    }
}

/// `1*HEXDIG [ BWS ; chunk-ext ]` → the size; `None` if invalid or above 2^64 − 1.
fn parse_chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return None;
    }
    let mut size: u64 = 0;
    for b in line.get(..digits)? {
        let d = char::from(*b).to_digit(16)?;
        size = size.checked_mul(16)?.checked_add(u64::from(d))?;
    }
    let rest = line.get(digits..)?;
    let rest: &[u8] = {
        let ws = rest
            .iter()
            .take_while(|b| **b == b' ' || **b == b'\t')
            .count();
        rest.get(ws..)?
    };
    if rest.is_empty() || rest.first() == Some(&b';') {
        Some(size)
    } else {
        None
    }
}
