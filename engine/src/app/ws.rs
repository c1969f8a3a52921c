//! WebSocket frames (RFC 6455 §5.2) over one direction's stream after a `101`.
//!
//! [`WsParser`] is sans-IO like [`super::http::HttpParser`]: bytes in
//! ([`feed`](WsParser::feed), [`gap`](WsParser::gap), [`skip`](WsParser::skip),
//! [`fin`](WsParser::fin)), [`WsEvent`]s out. It reads frame headers only; payloads are
//! skipped by length and never buffered or unmasked, except a close frame's first
//! [`MAX_CLOSE_READ`] bytes, which are unmasked for its status code and reason.
//! Extensions are not applied: permessage-deflate's RSV1 is reported in `rsv`, nothing
//! is inflated.

/// The longest control-frame payload RFC 6455 §5.5 allows; a longer one is reported as
/// [`WsAnomaly::ControlFrameTooLong`] and otherwise handled as it is.
pub const MAX_CONTROL_PAYLOAD: u64 = 125;

/// How many bytes of a close frame's payload are read (and unmasked) for its code and
/// reason; the rest of an over-long close frame is skipped.
pub const MAX_CLOSE_READ: usize = 125;

/// The longest frame header: 2 bytes, 8 of extended length, 4 of masking key.
pub const MAX_FRAME_HEADER: usize = 14;

/// Opcodes (RFC 6455 §5.2, §11.8).
pub const OP_CONTINUATION: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// One frame, as the analysis consumes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WsFrame {
    pub fin: bool,
    /// RSV1..RSV3 as a 3-bit number (RSV1 = 4).
    pub rsv: u8,
    pub opcode: u8,
    pub masked: bool,
    pub payload_len: u64,
    /// A close frame's status code (§5.5.1), when its payload has one.
    pub close_code: Option<u16>,
    /// A close frame's reason (lossily decoded UTF-8), when its payload has one.
    pub close_reason: Option<String>,
}

/// Which endpoint sends this direction; masking is checked against it (§5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sender {
    Client,
    Server,
    Unknown,
}

/// Something wrong with the frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsAnomaly {
    /// A 64-bit payload length with its most significant bit set (§5.2); the frame
    /// boundaries are lost and parsing stops.
    InvalidLength,
    /// A length in a longer form than needed (§5.2 "the minimal number of bytes").
    NonMinimalLength,
    /// A control frame with more than [`MAX_CONTROL_PAYLOAD`] bytes (§5.5).
    ControlFrameTooLong,
    /// A control frame with FIN clear (§5.5: control frames are not fragmented).
    FragmentedControlFrame,
    /// An opcode RFC 6455 reserves (0x3–0x7, 0xB–0xF).
    ReservedOpcode,
    /// A continuation frame with no fragmented message in progress (§5.4).
    UnexpectedContinuation,
    /// A new text/binary frame while a fragmented message is in progress (§5.4).
    ExpectedContinuation,
    /// A client frame without masking (§5.3: clients MUST mask).
    UnmaskedClientFrame,
    /// A server frame with masking (§5.1: servers MUST NOT mask).
    MaskedServerFrame,
    /// A close payload of exactly one byte (§5.5.1: a code is two bytes).
    InvalidClosePayload,
    /// A close code that must not be sent (§7.4.1, §7.4.2).
    InvalidCloseCode,
    /// A close reason that is not UTF-8 (§5.5.1).
    InvalidCloseReason,
    /// A frame after this sender's close frame (§5.5.1).
    FrameAfterClose,
    /// Bytes missing inside a frame header (or a close payload): parsing stops.
    ContentGap,
    /// The stream ended inside a frame.
    TruncatedFrame,
}

impl WsAnomaly {
    /// The anomaly's name as the analysis reports it.
    pub fn name(self) -> &'static str {
        match self {
            WsAnomaly::InvalidLength => "ws_invalid_length",
            WsAnomaly::NonMinimalLength => "ws_non_minimal_length",
            WsAnomaly::ControlFrameTooLong => "ws_control_frame_too_long",
            WsAnomaly::FragmentedControlFrame => "ws_fragmented_control_frame",
            WsAnomaly::ReservedOpcode => "ws_reserved_opcode",
            WsAnomaly::UnexpectedContinuation => "ws_unexpected_continuation",
            WsAnomaly::ExpectedContinuation => "ws_expected_continuation",
            WsAnomaly::UnmaskedClientFrame => "ws_unmasked_client_frame",
            WsAnomaly::MaskedServerFrame => "ws_masked_server_frame",
            WsAnomaly::InvalidClosePayload => "ws_invalid_close_payload",
            WsAnomaly::InvalidCloseCode => "ws_invalid_close_code",
            WsAnomaly::InvalidCloseReason => "ws_invalid_close_reason",
            WsAnomaly::FrameAfterClose => "ws_frame_after_close",
            WsAnomaly::ContentGap => "ws_content_gap",
            WsAnomaly::TruncatedFrame => "ws_truncated_frame",
        }
    }
}

/// What the parser reports, in stream order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WsEvent {
    /// A frame whose first header byte is at stream offset `offset`. Reported when its
    /// header is complete; for a close frame, once its code and reason are read.
    Frame { offset: u64, frame: WsFrame },
    /// An anomaly about the frame at (or the byte at) stream offset `offset`.
    Anomaly { offset: u64, kind: WsAnomaly },
}

#[derive(Debug)]
enum State {
    /// Reading a frame header; `buf[..len]` so far.
    Header,
    /// Skipping this many payload bytes.
    Payload(u64),
    /// Reading the first bytes of a close frame's payload.
    Close,
    Stopped,
}

/// The frame parser for one direction of a WebSocket connection.
#[derive(Debug)]
pub struct WsParser {
    sender: Sender,
    state: State,
    /// The stream offset of the next byte.
    offset: u64,
    /// The stream offset of the current frame's first byte.
    frame_start: u64,
    header: [u8; MAX_FRAME_HEADER],
    header_len: usize,
    /// The close frame being read, its masking key, its payload so far and how much
    /// of it to read.
    frame: WsFrame,
    key: Option<[u8; 4]>,
    close_buf: Vec<u8>,
    close_want: usize,
    /// A fragmented text/binary message is in progress.
    in_message: bool,
    closed: bool,
    ended: bool,
}

impl WsParser {
    /// A parser for frames sent by `sender`, whose first byte is at stream offset
    /// `offset` (the `Upgrade` event's offset).
    pub fn new(sender: Sender, offset: u64) -> Self {
        WsParser {
            sender,
            state: State::Header,
            offset,
            frame_start: offset,
            header: [0; MAX_FRAME_HEADER],
            header_len: 0,
            frame: WsFrame::default(),
            key: None,
            close_buf: Vec::new(),
            close_want: 0,
            in_message: false,
            closed: false,
            ended: false,
        }
    }

    /// The stream offset of the next byte expected.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// True once parsing stopped (lost framing or the end of the stream).
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Stopped)
    }

    /// How many upcoming bytes are payload the parser only counts (see
    /// [`super::http::HttpParser::skippable`]); `u64::MAX` once stopped.
    pub fn skippable(&self) -> u64 {
        match self.state {
            State::Payload(n) => n,
            State::Stopped => u64::MAX,
            _ => 0,
        }
    }

    /// The next bytes of the direction, in order.
    pub fn feed(&mut self, data: &[u8], out: &mut impl FnMut(WsEvent)) {
        let mut data = data;
        while !data.is_empty() {
            let used = match self.state {
                State::Header => {
                    let need = self.header_need().saturating_sub(self.header_len);
                    let take = need.min(data.len()).max(1);
                    for b in data.get(..take).unwrap_or(&[]) {
                        if let Some(slot) = self.header.get_mut(self.header_len) {
                            *slot = *b;
                            self.header_len = self.header_len.saturating_add(1);
                        }
                    }
                    self.advance(take);
                    if self.header_len >= self.header_need() {
                        self.end_of_header(out);
                    }
                    take
                }
                State::Payload(n) => {
                    let take = usize::try_from(n).unwrap_or(usize::MAX).min(data.len());
                    self.advance(take);
                    self.payload_passed(n, len64(take));
                    take
                }
                State::Close => {
                    let need = self.close_want.saturating_sub(self.close_buf.len());
                    let take = need.min(data.len()).max(1);
                    self.close_buf
                        .extend_from_slice(data.get(..take).unwrap_or(&[]));
                    self.advance(take);
                    if self.close_buf.len() >= self.close_want {
                        self.end_of_close(out);
                    }
                    take
                }
                State::Stopped => {
                    self.advance(data.len());
                    data.len()
                }
            };
            data = data.get(used.max(1)..).unwrap_or(&[]);
        }
    }

    /// `len` bytes will never be seen. Inside a payload being skipped they are counted;
    /// anywhere else the frame boundaries are lost: [`WsAnomaly::ContentGap`], stop.
    pub fn gap(&mut self, len: u64, out: &mut impl FnMut(WsEvent)) {
        let mut len = len;
        while len > 0 {
            match self.state {
                State::Payload(n) => {
                    let take = n.min(len);
                    self.offset = self.offset.saturating_add(take);
                    self.payload_passed(n, take);
                    len = len.saturating_sub(take);
                }
                State::Stopped => {
                    self.offset = self.offset.saturating_add(len);
                    len = 0;
                }
                _ => {
                    if matches!(self.state, State::Close) {
                        // Report the close frame with what was read.
                        self.end_of_close(out);
                    }
                    self.anomaly(self.offset, WsAnomaly::ContentGap, out);
                    self.state = State::Stopped;
                }
            }
        }
    }

    /// `len` bytes of payload were discarded by the reassembler on
    /// [`skippable`](Self::skippable)'s word; handled as [`gap`](Self::gap).
    pub fn skip(&mut self, len: u64, out: &mut impl FnMut(WsEvent)) {
        self.gap(len, out);
    }

    /// The stream ended; a frame cut short is [`WsAnomaly::TruncatedFrame`] (a close
    /// frame cut short is still reported with what was read).
    pub fn fin(&mut self, out: &mut impl FnMut(WsEvent)) {
        if self.ended {
            return;
        }
        self.ended = true;
        let truncated = match self.state {
            State::Header => self.header_len > 0,
            State::Payload(n) => n > 0,
            State::Close => {
                self.end_of_close(out);
                true
            }
            State::Stopped => false,
        };
        if truncated {
            self.anomaly(self.frame_start, WsAnomaly::TruncatedFrame, out);
        }
        self.state = State::Stopped;
    }

    fn advance(&mut self, n: usize) {
        self.offset = self.offset.saturating_add(len64(n));
    }

    /// How long the current header is, as far as its bytes so far tell (§5.2).
    fn header_need(&self) -> usize {
        if self.header_len < 2 {
            return 2;
        }
        let b1 = self.header.get(1).copied().unwrap_or(0);
        let ext: usize = match b1 & 0x7f {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask: usize = if b1 & 0x80 != 0 { 4 } else { 0 };
        ext.saturating_add(mask).saturating_add(2)
    }

    fn payload_passed(&mut self, n: u64, took: u64) {
        let left = n.saturating_sub(took);
        self.state = if left == 0 {
            self.start_frame()
        } else {
            State::Payload(left)
        };
    }

    fn start_frame(&mut self) -> State {
        self.header_len = 0;
        self.frame_start = self.offset;
        State::Header
    }

    /// §5.2: the header in `header[..header_len]` is complete.
    fn end_of_header(&mut self, out: &mut impl FnMut(WsEvent)) {
        let h = self.header;
        let byte = |i: usize| h.get(i).copied().unwrap_or(0);
        let b0 = byte(0);
        let b1 = byte(1);
        let len7 = b1 & 0x7f;
        let masked = b1 & 0x80 != 0;
        let (payload_len, ext) = match len7 {
            126 => (u64::from(u16::from_be_bytes([byte(2), byte(3)])), 2usize),
            127 => {
                let mut be = [0u8; 8];
                for (i, b) in be.iter_mut().enumerate() {
                    *b = byte(i.saturating_add(2));
                }
                (u64::from_be_bytes(be), 8)
            }
            n => (u64::from(n), 0),
        };
        let at = self.frame_start;
        if len7 == 127 && payload_len >> 63 != 0 {
            self.anomaly(at, WsAnomaly::InvalidLength, out);
            self.state = State::Stopped;
            return;
        }
        if (len7 == 126 && payload_len < 126) || (len7 == 127 && payload_len <= 0xffff) {
            self.anomaly(at, WsAnomaly::NonMinimalLength, out);
        }
        let key = if masked {
            let k = ext.saturating_add(2);
            let at = |i: usize| byte(k.saturating_add(i));
            Some([at(0), at(1), at(2), at(3)])
        } else {
            None
        };
        let frame = WsFrame {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0x07,
            opcode: b0 & 0x0f,
            masked,
            payload_len,
            close_code: None,
            close_reason: None,
        };
        self.check_frame(&frame, out);
        if frame.opcode == OP_CLOSE && payload_len > 0 {
            self.close_want = usize::try_from(payload_len)
                .unwrap_or(usize::MAX)
                .min(MAX_CLOSE_READ);
            self.close_buf.clear();
            self.key = key;
            self.frame = frame;
            self.state = State::Close;
            return;
        }
        out(WsEvent::Frame { offset: at, frame });
        self.state = if payload_len == 0 {
            self.start_frame()
        } else {
            State::Payload(payload_len)
        };
    }

    /// The per-frame protocol checks of §5.1–§5.5.
    fn check_frame(&mut self, f: &WsFrame, out: &mut impl FnMut(WsEvent)) {
        let at = self.frame_start;
        if self.closed {
            self.anomaly(at, WsAnomaly::FrameAfterClose, out);
        }
        match (self.sender, f.masked) {
            (Sender::Client, false) => self.anomaly(at, WsAnomaly::UnmaskedClientFrame, out),
            (Sender::Server, true) => self.anomaly(at, WsAnomaly::MaskedServerFrame, out),
            _ => {}
        }
        match f.opcode {
            OP_CONTINUATION => {
                if !self.in_message {
                    self.anomaly(at, WsAnomaly::UnexpectedContinuation, out);
                }
                self.in_message = !f.fin;
            }
            OP_TEXT | OP_BINARY => {
                if self.in_message {
                    self.anomaly(at, WsAnomaly::ExpectedContinuation, out);
                }
                self.in_message = !f.fin;
            }
            OP_CLOSE | OP_PING | OP_PONG => {
                if !f.fin {
                    self.anomaly(at, WsAnomaly::FragmentedControlFrame, out);
                }
                if f.payload_len > MAX_CONTROL_PAYLOAD {
                    self.anomaly(at, WsAnomaly::ControlFrameTooLong, out);
                }
                if f.opcode == OP_CLOSE {
                    self.closed = true;
                }
            }
            _ => self.anomaly(at, WsAnomaly::ReservedOpcode, out),
        }
    }

    /// §5.5.1: the close payload's first bytes are in `close_buf`: unmask, decode,
    /// report the frame, skip whatever is left of its payload.
    fn end_of_close(&mut self, out: &mut impl FnMut(WsEvent)) {
        let at = self.frame_start;
        let mut payload = std::mem::take(&mut self.close_buf);
        if let Some(key) = self.key {
            // §5.3: octet i is XORed with key octet i mod 4.
            for (b, k) in payload.iter_mut().zip(key.iter().cycle()) {
                *b ^= *k;
            }
        }
        let mut frame = std::mem::take(&mut self.frame);
        let complete = payload.len() >= self.close_want;
        match payload.as_slice() {
            [] => {}
            [_] => {
                if complete {
                    self.anomaly(at, WsAnomaly::InvalidClosePayload, out);
                }
            }
            [hi, lo, reason @ ..] => {
                let code = u16::from_be_bytes([*hi, *lo]);
                frame.close_code = Some(code);
                if !close_code_may_be_sent(code) {
                    self.anomaly(at, WsAnomaly::InvalidCloseCode, out);
                }
                let cut = usize::try_from(frame.payload_len).unwrap_or(usize::MAX) > payload.len();
                let valid = match std::str::from_utf8(reason) {
                    Ok(_) => true,
                    // A reason cut at our read limit may end inside a character.
                    Err(e) => cut && e.error_len().is_none(),
                };
                if !valid {
                    self.anomaly(at, WsAnomaly::InvalidCloseReason, out);
                }
                frame.close_reason = Some(String::from_utf8_lossy(reason).into_owned());
            }
        }
        let rest = frame.payload_len.saturating_sub(len64(payload.len()));
        out(WsEvent::Frame { offset: at, frame });
        self.key = None;
        self.close_want = 0;
        self.state = if !complete {
            State::Stopped
        } else if rest == 0 {
            self.start_frame()
        } else {
            State::Payload(rest)
        };
    }

    fn anomaly(&mut self, offset: u64, kind: WsAnomaly, out: &mut impl FnMut(WsEvent)) {
        out(WsEvent::Anomaly { offset, kind });
    }
}

/// §7.4.1 / §7.4.2 (with the IANA registry's 1012–1014): whether an endpoint may put
/// `code` in a close frame. 1005, 1006 and 1015 are for reporting only; 0–999 are
/// unused; 1016–2999 are reserved; 3000–4999 are for libraries and applications.
pub fn close_code_may_be_sent(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

fn len64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
