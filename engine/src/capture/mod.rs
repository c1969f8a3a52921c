//! Reading capture files: pcap (both byte orders, micro/nanosecond, the modified format) and
//! pcapng (several sections and interfaces), plain or compressed with gzip or zstd.
//!
//! The only module that touches files. The file is streamed through a fixed-size buffer
//! (`CHUNK_LEN` plus the largest record we accept), so memory does not grow with the file.
//! Record and block framing is done here, against named limits, so an absurd length never
//! allocates; the block contents are parsed with the `pcap-parser` crate.
//!
//! Damage policy (what tshark does): a capture cut short in the middle of a record, or a
//! damaged structure after good frames, ends the read cleanly and `truncated_after()` says
//! after which frame. Only a file with no recognisable header is `NotACapture`; a damaged file
//! that yields no frame at all is `Damaged`.

#![forbid(unsafe_code)]

mod pcap;
mod pcapng;
mod source;

use std::fmt;
use std::io::Read;
use std::path::Path;

/// The largest captured length of one packet we accept (tshark's
/// `WTAP_MAX_PACKET_SIZE_STANDARD`). A record claiming more is damage.
pub const MAX_RECORD_LEN: usize = 262_144;
/// The largest pcapng options area we buffer after a packet's data.
pub const MAX_OPTIONS_LEN: usize = 65_536;
/// The largest pcapng header block (SHB, IDB) we buffer and parse.
pub const MAX_HEADER_BLOCK_LEN: usize = 1 << 20;
/// The largest pcapng block of another kind (NRB, ISB, DSB, custom...), skipped unread.
pub const MAX_SKIPPED_BLOCK_LEN: u64 = 16 << 20;
/// How much is read from the (decompressed) stream at a time.
pub const CHUNK_LEN: usize = 4 << 20;
/// The buffer: one chunk plus room for the largest block we ever need whole.
const BUF_LEN: usize = CHUNK_LEN + MAX_HEADER_BLOCK_LEN + MAX_RECORD_LEN + MAX_OPTIONS_LEN + 64;

/// One packet record of the capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// 1-based, counting every packet record (as tshark numbers frames).
    pub number: u64,
    /// Nanoseconds since the epoch.
    pub ts_ns: i64,
    /// The LINKTYPE_ value of the interface the packet was captured on.
    pub linktype: u32,
    /// The captured bytes.
    pub data: &'a [u8],
    /// The length of the packet on the wire.
    pub orig_len: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaptureError {
    NotACapture(String),
    Empty,
    /// The data ends inside the file header (pcap's 24 bytes, pcapng's section header).
    HeaderCut(String),
    Damaged {
        after_frame: u64,
        detail: String,
    },
    Io(String),
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::NotACapture(_) => {
                f.write_str("not a capture file (neither pcap nor pcapng)")
            }
            CaptureError::Empty => f.write_str("empty file (0 bytes), not a capture"),
            CaptureError::HeaderCut(d) => write!(f, "cut short inside its file header ({d})"),
            CaptureError::Damaged { .. } => f.write_str("damaged or corrupt capture file"),
            CaptureError::Io(e) => write!(f, "cannot read the capture: {e}"),
        }
    }
}

impl std::error::Error for CaptureError {}

impl CaptureError {
    /// The longer explanation (the Display form is one short line).
    pub fn detail(&self) -> &str {
        match self {
            CaptureError::NotACapture(d) | CaptureError::Io(d) | CaptureError::HeaderCut(d) => d,
            CaptureError::Damaged { detail, .. } => detail,
            CaptureError::Empty => "",
        }
    }
}

/// The container format of the (decompressed) stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Pcap,
    PcapNg,
}

/// Why a read ended early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Truncation {
    /// The last complete frame (0 when none).
    pub after_frame: u64,
    /// True when the data simply stopped mid-record (cut short), false for damage.
    pub cut_short: bool,
    pub detail: String,
}

/// Outcome of a framing step below the public API.
pub(crate) enum Step {
    /// A packet: (range in the buffer, ts_ns, linktype, orig_len).
    Packet {
        start: usize,
        end: usize,
        ts_ns: i64,
        linktype: u32,
        orig_len: u32,
    },
    /// A non-packet record was consumed; go on.
    Continue,
    /// Clean end of the data.
    End,
    /// The data stopped in the middle of a record.
    Cut(String),
    /// A structure that cannot be right.
    Damage(String),
}

/// A fixed-capacity window over the stream.
pub(crate) struct Buf {
    data: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    reader: Box<dyn Read + Send>,
    /// A read error that ended the stream (decompression errors land here).
    read_error: Option<String>,
    /// That error was the (compressed) stream ending early: a cut, not damage.
    read_cut: bool,
}

impl Buf {
    fn new(reader: Box<dyn Read + Send>) -> Self {
        Buf {
            data: vec![0; BUF_LEN],
            start: 0,
            end: 0,
            eof: false,
            reader,
            read_error: None,
            read_cut: false,
        }
    }

    pub(crate) fn avail(&self) -> &[u8] {
        self.data.get(self.start..self.end).unwrap_or(&[])
    }

    pub(crate) fn start(&self) -> usize {
        self.start
    }

    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
    }

    /// Make at least `n` bytes available; false when the stream ends first. `n` must not
    /// exceed the buffer (callers check lengths against the limits first).
    pub(crate) fn ensure(&mut self, n: usize) -> bool {
        if self.end - self.start >= n {
            return true;
        }
        if n > self.data.len() {
            return false;
        }
        if self.start + n > self.data.len() {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.end - self.start < n && !self.eof {
            // Read up to a chunk (or to the end of the buffer), at least what is missing.
            let limit = (self.end + CHUNK_LEN.max(n)).min(self.data.len());
            let Some(dst) = self.data.get_mut(self.end..limit) else {
                self.eof = true;
                break;
            };
            match self.reader.read(dst) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // A compressed stream that simply stops is cut short, not damaged.
                    self.read_cut |= e.kind() == std::io::ErrorKind::UnexpectedEof;
                    self.read_error = Some(e.to_string());
                    self.eof = true;
                }
            }
        }
        self.end - self.start >= n
    }

    /// Discard `n` bytes, streaming; false when the stream ends first.
    pub(crate) fn skip(&mut self, mut n: u64) -> bool {
        loop {
            let have = (self.end - self.start) as u64;
            if have >= n {
                self.start += n as usize;
                return true;
            }
            n -= have;
            self.start = 0;
            self.end = 0;
            if !self.ensure(1) {
                return false;
            }
        }
    }

    /// Whether the stream has no byte left (after what is buffered).
    pub(crate) fn at_end(&mut self) -> bool {
        !self.ensure(1)
    }

    pub(crate) fn slice(&self, start: usize, end: usize) -> &[u8] {
        self.data.get(start..end).unwrap_or(&[])
    }
}

/// The first four bytes of a pcapng file (a section header block's type).
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// Whether `head` (under four bytes) starts a pcap or pcapng magic number.
fn is_magic_prefix(head: &[u8]) -> bool {
    // pcap's four magics, then the first bytes of gzip's and zstd's (a compressed file cut
    // inside its own magic number)
    let pcap: [[u8; 4]; 6] = [
        [0xd4, 0xc3, 0xb2, 0xa1],
        [0xa1, 0xb2, 0xc3, 0xd4],
        [0x4d, 0x3c, 0xb2, 0xa1],
        [0xa1, 0xb2, 0x3c, 0x4d],
        [0x1f, 0x8b, 0x08, 0x00],
        [0x28, 0xb5, 0x2f, 0xfd],
    ];
    !head.is_empty()
        && std::iter::once(&PCAPNG_MAGIC)
            .chain(pcap.iter())
            .any(|m| m.starts_with(head))
}

enum Parser {
    Pcap(pcap::PcapState),
    PcapNg(pcapng::PcapNgState),
}

/// Streams the frames of one capture.
pub struct CaptureReader {
    buf: Buf,
    parser: Parser,
    frames: u64,
    truncation: Option<Truncation>,
    done: bool,
    counter: source::Counter,
}

impl CaptureReader {
    /// Open a capture file (pcap or pcapng, optionally gzip or zstd compressed).
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        let file = std::fs::File::open(path)
            .map_err(|e| CaptureError::Io(format!("{}: {e}", path.display())))?;
        Self::from_source(Box::new(file), true)
    }

    /// Read a capture from any byte stream (tests, fuzzing, pipes).
    pub fn from_reader(r: Box<dyn Read + Send>) -> Result<Self, CaptureError> {
        Self::from_source(r, false)
    }

    /// `prefetch`: read (and decompress) on a thread of its own, ahead of the parser.
    fn from_source(r: Box<dyn Read + Send>, prefetch: bool) -> Result<Self, CaptureError> {
        let (reader, counter) = source::open(r)?;
        let reader: Box<dyn Read + Send> = if prefetch {
            Box::new(source::Prefetch::new(reader))
        } else {
            reader
        };
        let mut buf = Buf::new(reader);
        if !buf.ensure(1) {
            if let Some(e) = buf.read_error.take() {
                if buf.read_cut {
                    return Err(CaptureError::HeaderCut(
                        "the compressed stream ends before the capture starts".into(),
                    ));
                }
                return Err(CaptureError::Damaged {
                    after_frame: 0,
                    detail: e,
                });
            }
            return Err(CaptureError::Empty);
        }
        buf.ensure(4);
        let magic = buf.avail();
        if magic.len() < 4 && is_magic_prefix(magic) {
            return Err(CaptureError::HeaderCut(format!(
                "{} of a magic number's 4 bytes",
                magic.len()
            )));
        }
        let format = if magic.len() >= 4 && magic[..4] == PCAPNG_MAGIC {
            Format::PcapNg
        } else if magic.len() >= 4 && pcap::is_magic(&magic[..4]) {
            Format::Pcap
        } else {
            return Err(CaptureError::NotACapture(
                "no pcap or pcapng magic number".into(),
            ));
        };
        let parser = match format {
            Format::Pcap => Parser::Pcap(pcap::PcapState::read_header(&mut buf)?),
            Format::PcapNg => Parser::PcapNg(pcapng::PcapNgState::new(&mut buf)?),
        };
        Ok(CaptureReader {
            buf,
            parser,
            frames: 0,
            truncation: None,
            done: false,
            counter,
        })
    }

    pub fn format(&self) -> Format {
        match self.parser {
            Parser::Pcap(_) => Format::Pcap,
            Parser::PcapNg(_) => Format::PcapNg,
        }
    }

    /// The next frame, or None at the end. A capture cut short in the middle of a record, or
    /// damaged after some good frames, ends cleanly and `truncated_after()` becomes
    /// Some(last complete frame number).
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        loop {
            let step = match &mut self.parser {
                Parser::Pcap(p) => p.step(&mut self.buf),
                Parser::PcapNg(p) => p.step(&mut self.buf),
            };
            match step {
                Step::Continue => continue,
                Step::Packet {
                    start,
                    end,
                    ts_ns,
                    linktype,
                    orig_len,
                } => {
                    self.frames += 1;
                    return Ok(Some(Frame {
                        number: self.frames,
                        ts_ns,
                        linktype,
                        data: self.buf.slice(start, end),
                        orig_len,
                    }));
                }
                Step::End => {
                    self.done = true;
                    if let Some(e) = self.buf.read_error.take() {
                        let cut = self.buf.read_cut;
                        return self.damaged(cut, format!("read error: {e}"));
                    }
                    return Ok(None);
                }
                Step::Cut(detail) => {
                    self.done = true;
                    if let Some(e) = self.buf.read_error.take() {
                        let cut = self.buf.read_cut;
                        return self.damaged(cut, format!("read error: {e}"));
                    }
                    return self.damaged(true, detail);
                }
                Step::Damage(detail) => {
                    self.done = true;
                    return self.damaged(false, detail);
                }
            }
        }
    }

    fn damaged(
        &mut self,
        cut_short: bool,
        detail: String,
    ) -> Result<Option<Frame<'_>>, CaptureError> {
        if self.frames == 0 && !cut_short {
            return Err(CaptureError::Damaged {
                after_frame: 0,
                detail,
            });
        }
        self.truncation = Some(Truncation {
            after_frame: self.frames,
            cut_short,
            detail,
        });
        Ok(None)
    }

    /// The last complete frame when the read ended early (cut short or damaged).
    pub fn truncated_after(&self) -> Option<u64> {
        self.truncation.as_ref().map(|t| t.after_frame)
    }

    /// How and why the read ended early.
    pub fn truncation(&self) -> Option<&Truncation> {
        self.truncation.as_ref()
    }

    /// Bytes of the file (compressed, when it is) consumed so far, for progress.
    pub fn bytes_read(&self) -> u64 {
        self.counter.get()
    }

    /// Frames returned so far.
    pub fn frames_read(&self) -> u64 {
        self.frames
    }
}

/// Nanoseconds from seconds and a fraction in `units_per_sec`, saturating.
pub(crate) fn ts_to_ns(secs: i128, frac: i128, units_per_sec: i128) -> i64 {
    let ns = if units_per_sec <= 0 {
        secs * 1_000_000_000
    } else {
        secs * 1_000_000_000 + frac * 1_000_000_000 / units_per_sec
    };
    ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

#[cfg(test)]
mod tests;
