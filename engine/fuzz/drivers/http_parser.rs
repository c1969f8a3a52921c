//! Both directions of one HTTP/1.x connection through two `app::http::HttpParser`s, wired
//! to each other as `app/mod.rs` describes, and each direction handed to an
//! `app::ws::WsParser` after its `Upgrade`.
//!
//! Input layout:
//! * byte 0: options. Bit 0: the server direction ends (fin) first; bit 1: model the
//!   reassembler's skipping (after every call, the next `skippable()` bytes of the
//!   direction arrive as `skip` instead of `feed`); bit 2: do not pass request heads on
//!   to the responses side (`expect_response_to`); bit 3: do not pass statuses on to the
//!   requests side (`peer_response`); bit 4: WebSocket senders `Unknown`; bit 5:
//!   WebSocket senders swapped (the client's frames checked as a server's); bit 6: the
//!   streams start at large offsets (`HttpParser::at`); bit 7: a `Tunnel` is handed to a
//!   `WsParser` too.
//! * bytes 1-2 (little endian): where the rest splits into the client's bytes (before)
//!   and the server's (after), capped at the rest's length.
//! * byte 3: the number of operations (value % 32; 0 = feed all of the client's bytes,
//!   then all of the server's), then two bytes per operation, `a` and `b`:
//!   `a` bit 0 picks the direction (0 client, 1 server; when it has no bytes left, the
//!   other); `(a >> 1) & 3` the kind:
//!   - 0: feed `b` × [1, 8, 64, 512][(a >> 3) & 3] bytes in one call (`b` = 0: all);
//!   - 1: feed `b` bytes (0: all) in calls of `(a >> 3) + 1` bytes each;
//!   - 2: a gap of `b` bytes of the input (never shown to the parser) plus an extra
//!     length [0, 1, 2^16, 2^30, 2^53, 2^63, u64::MAX, the parser's `skippable()`]
//!     `[(a >> 3) & 7]`;
//!   - 3: skip `b` bytes of the input (0: as many as `skippable()` says), whether or not
//!     the parser said they were skippable.
//!
//!   The operations repeat until both directions' bytes are used up (at most a bounded
//!   number of rounds); what is left is fed, then both directions end.
//! * the rest: the client's bytes, then the server's.
//!
//! Checked on every event, with `assert!` (a failure is a bug): each direction's event
//! offsets never decrease and never pass the bytes delivered; a parser's `offset()` is
//! exactly the bytes fed + skipped + gapped; heads and `BodyDone`s alternate; a chunked
//! body's sizes end in 0 and add up to `body_len`; nothing is reported after `Upgrade`,
//! `Tunnel`, `NotHttp` or a fatal anomaly; `NotHttp` comes before any head; an
//! `Upgrade`'s `buffered` bytes are exactly the bytes the direction was fed from its
//! offset on; the WebSocket parser's offsets likewise. And the events do not depend on
//! how the bytes were cut into calls: a shadow parser per direction gets the same bytes
//! in as few `feed`s as possible (everything between two calls that are not plain data:
//! a peer's `expect_response_to` / `peer_response`, a `gap`, a `skip` the parser did not
//! ask for, the `fin`; the reassembler-model skips are fed to it as data) and must
//! report the same events.

use std::collections::VecDeque;

use pcap_analyzer_engine::app::http::{HttpAnomaly, HttpEvent, HttpParser};
use pcap_analyzer_engine::app::ws::{Sender, WsEvent, WsParser, OP_CLOSE};

const FEED_MULT: [usize; 4] = [1, 8, 64, 512];
const GAP_EXTRA: [u64; 6] = [0, 1, 1 << 16, 1 << 30, 1 << 53, 1 << 63];

#[derive(Clone, Copy)]
struct Cfg {
    server_fin_first: bool,
    reassembler_skips: bool,
    route_requests: bool,
    route_statuses: bool,
    ws_unknown: bool,
    ws_swapped: bool,
    large_start: bool,
    tunnel_to_ws: bool,
}

impl Cfg {
    fn new(b: u8) -> Self {
        Cfg {
            server_fin_first: b & 1 != 0,
            reassembler_skips: b & 2 != 0,
            route_requests: b & 4 == 0,
            route_statuses: b & 8 == 0,
            ws_unknown: b & 16 != 0,
            ws_swapped: b & 32 != 0,
            large_start: b & 64 != 0,
            tunnel_to_ws: b & 128 != 0,
        }
    }

    fn sender(&self, is_request: Option<bool>) -> Sender {
        match (self.ws_unknown, is_request, self.ws_swapped) {
            (true, _, _) | (_, None, _) => Sender::Unknown,
            (false, Some(req), swapped) if req != swapped => Sender::Client,
            _ => Sender::Server,
        }
    }
}

/// One call's worth of the direction's stream, as the reassembler reports it.
#[derive(Clone, Copy)]
enum Delivery<'a> {
    Data(&'a [u8]),
    Skip(u64),
    Gap(u64),
    Fin,
}

impl Delivery<'_> {
    fn len(&self) -> u64 {
        match self {
            Delivery::Data(b) => b.len() as u64,
            Delivery::Skip(n) | Delivery::Gap(n) => *n,
            Delivery::Fin => 0,
        }
    }
}

struct Dir<'a> {
    name: &'static str,
    /// Input bytes not yet delivered.
    data: &'a [u8],
    /// The stream offset of the next byte (saturating, as the parsers' offsets are).
    pos: u64,
    /// The reassembler's skipped range ends here (bit 1 of the options).
    skip_until: u64,
    http: HttpParser,
    http_last: u64,
    /// A head was reported and its `BodyDone` not yet.
    http_open: bool,
    http_heads: usize,
    /// `Upgrade`, `Tunnel` or `NotHttp` was reported.
    http_final: bool,
    /// Every `Data` given to the HTTP parser, by stream offset (to check `buffered`).
    fed: Vec<(u64, &'a [u8])>,
    ws: Option<WsParser>,
    ws_start: u64,
    ws_last: u64,
    fin: bool,
    /// Every event of `http`, in order, and the split-independence shadow.
    http_evs: Vec<HttpEvent>,
    shadow: HttpParser,
    shadow_evs: Vec<HttpEvent>,
    /// Bytes given to `http` (as data or as a skip it asked for) not yet to `shadow`.
    shadow_pending: Vec<u8>,
}

impl<'a> Dir<'a> {
    fn new(name: &'static str, data: &'a [u8], start: u64) -> Self {
        Dir {
            name,
            data,
            pos: start,
            skip_until: start,
            http: HttpParser::at(start),
            http_last: start,
            http_open: false,
            http_heads: 0,
            http_final: false,
            fed: Vec::new(),
            ws: None,
            ws_start: start,
            ws_last: start,
            fin: false,
            http_evs: Vec::new(),
            shadow: HttpParser::at(start),
            shadow_evs: Vec::new(),
            shadow_pending: Vec::new(),
        }
    }

    /// Gives the shadow the bytes it has not had yet, in one call.
    fn flush_shadow(&mut self) {
        if !self.shadow_pending.is_empty() {
            let evs = &mut self.shadow_evs;
            self.shadow.feed(&self.shadow_pending, &mut |e| evs.push(e));
            self.shadow_pending.clear();
        }
    }

    /// The shadow's copy of a call that is not plain data.
    fn shadow_call(&mut self, del: Delivery<'_>) {
        self.flush_shadow();
        let evs = &mut self.shadow_evs;
        match del {
            Delivery::Data(b) => self.shadow.feed(b, &mut |e| evs.push(e)),
            Delivery::Skip(n) => self.shadow.skip(n, &mut |e| evs.push(e)),
            Delivery::Gap(n) => self.shadow.gap(n, &mut |e| evs.push(e)),
            Delivery::Fin => self.shadow.fin(&mut |e| evs.push(e)),
        }
    }

    /// At the end: the same events as the shadow's.
    fn check_shadow(&mut self) {
        self.flush_shadow();
        if self.http_evs != self.shadow_evs {
            let i = self
                .http_evs
                .iter()
                .zip(&self.shadow_evs)
                .take_while(|(a, b)| a == b)
                .count();
            panic!(
                "{}: the events depend on how the bytes were split into calls; from event \
                 {i} on, in pieces: {:?}\nfed at once: {:?}",
                self.name,
                self.http_evs.get(i..),
                self.shadow_evs.get(i..)
            );
        }
    }

    fn skippable(&self) -> u64 {
        match &self.ws {
            Some(ws) => ws.skippable(),
            None => self.http.skippable(),
        }
    }

    /// The stream is exact until an offset saturates at `u64::MAX`.
    fn exact(&self) -> bool {
        self.pos < u64::MAX
    }

    fn check_offset(&self, what: &str, offset: u64) {
        if self.exact() {
            assert_eq!(
                offset, self.pos,
                "{}: {what} offset() != bytes delivered",
                self.name
            );
        } else {
            assert!(
                offset <= self.pos,
                "{}: {what} offset() past bytes delivered",
                self.name
            );
        }
    }

    /// The bytes this direction's HTTP parser was fed at `[from, from + len)`, if it was
    /// fed all of them.
    fn fed_bytes(&self, from: u64, len: usize) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(len);
        let mut at = from;
        let end = from.checked_add(len as u64)?;
        for (off, seg) in &self.fed {
            let seg_end = off.saturating_add(seg.len() as u64);
            if seg_end <= at || at >= end {
                continue;
            }
            if *off > at {
                return None;
            }
            let lo = (at - off) as usize;
            let hi = (end.min(seg_end) - off) as usize;
            out.extend_from_slice(&seg[lo..hi]);
            at = off.saturating_add(hi as u64);
        }
        (at == end).then_some(out)
    }

    fn check_http_event(&mut self, ev: &HttpEvent) {
        let pending_anomaly = matches!(
            ev,
            HttpEvent::Anomaly {
                kind: HttpAnomaly::TooManyPendingRequests,
                ..
            }
        );
        let off = match ev {
            HttpEvent::Head { offset, .. }
            | HttpEvent::Upgrade { offset, .. }
            | HttpEvent::Tunnel { offset, .. }
            | HttpEvent::NotHttp { offset }
            | HttpEvent::Anomaly { offset, .. } => *offset,
            HttpEvent::BodyDone { end, .. } => *end,
        };
        assert!(
            off <= self.pos,
            "{}: event past the bytes delivered: {ev:?}",
            self.name
        );
        self.http_evs.push(ev.clone());
        // The responses side's pending-request overflow is reported at its current
        // offset whatever it is parsing; it is about the other direction.
        if !pending_anomaly {
            assert!(
                off >= self.http_last,
                "{}: event offset went back from {}: {ev:?}",
                self.name,
                self.http_last
            );
            self.http_last = off;
            assert!(
                !self.http_final,
                "{}: event after the end of HTTP: {ev:?}",
                self.name
            );
        }
        match ev {
            HttpEvent::Head { message, .. } => {
                assert!(
                    !self.http_open,
                    "{}: head inside a message: {ev:?}",
                    self.name
                );
                self.http_open = true;
                self.http_heads += 1;
                assert_eq!(
                    self.http.is_request(),
                    Some(message.is_request),
                    "{}: role",
                    self.name
                );
                assert!(message.chunk_sizes.is_empty());
                if message.is_request {
                    assert!(message.method.is_some() && message.status.is_none());
                } else {
                    assert!(message.method.is_none());
                    assert!(message.status.is_some() || message.version.as_deref() == Some("0.9"));
                }
            }
            HttpEvent::BodyDone {
                chunk_sizes,
                body_len,
                ..
            } => {
                assert!(self.http_open, "{}: BodyDone without a head", self.name);
                self.http_open = false;
                if let Some(last) = chunk_sizes.last() {
                    assert_eq!(
                        *last, 0,
                        "{}: chunked body not ended by a 0 chunk",
                        self.name
                    );
                    let sum: u128 = chunk_sizes.iter().map(|s| u128::from(*s)).sum();
                    assert_eq!(
                        sum,
                        u128::from(*body_len),
                        "{}: chunk sizes vs body_len",
                        self.name
                    );
                }
            }
            HttpEvent::Upgrade { .. } | HttpEvent::Tunnel { .. } => {
                assert!(!self.http_open, "{}: switch inside a message", self.name);
                self.http_final = true;
            }
            HttpEvent::NotHttp { .. } => {
                assert_eq!(self.http_heads, 0, "{}: NotHttp after a head", self.name);
                self.http_final = true;
            }
            HttpEvent::Anomaly { .. } => {}
        }
    }

    fn check_ws_events(&mut self, evs: &[WsEvent]) {
        for ev in evs {
            let off = match ev {
                WsEvent::Frame { offset, .. } | WsEvent::Anomaly { offset, .. } => *offset,
            };
            assert!(
                off >= self.ws_start && off >= self.ws_last,
                "{}: ws offset back: {ev:?}",
                self.name
            );
            assert!(
                off <= self.pos,
                "{}: ws event past the bytes delivered: {ev:?}",
                self.name
            );
            self.ws_last = off;
            if let WsEvent::Frame { frame, .. } = ev {
                assert!(frame.rsv < 8 && frame.opcode < 16);
                if frame.close_code.is_some() || frame.close_reason.is_some() {
                    assert_eq!(frame.opcode, OP_CLOSE);
                    assert!(frame.close_code.is_some() && frame.payload_len >= 2);
                }
            }
        }
    }
}

/// Gives `del` to the WebSocket parser of a direction that switched before it.
fn ws_deliver(dir: &mut Dir<'_>, del: Delivery<'_>) {
    let Some(ws) = dir.ws.as_mut() else { return };
    let was_done = ws.is_done();
    let mut evs = Vec::new();
    match del {
        Delivery::Data(b) => ws.feed(b, &mut |e| evs.push(e)),
        Delivery::Skip(n) => ws.skip(n, &mut |e| evs.push(e)),
        Delivery::Gap(n) => ws.gap(n, &mut |e| evs.push(e)),
        Delivery::Fin => ws.fin(&mut |e| evs.push(e)),
    }
    if was_done {
        assert!(
            evs.is_empty(),
            "{}: ws events after it stopped: {evs:?}",
            dir.name
        );
    }
    let off = ws.offset();
    dir.check_offset("ws", off);
    dir.check_ws_events(&evs);
}

/// An `Upgrade` (or `Tunnel`) on direction `x`: a `WsParser` from `offset` on, fed
/// `buffered`, then what is left of the delivery in progress (`cur`: its start and
/// itself, when `x` is the direction being delivered to).
fn start_ws(
    dir: &mut Dir<'_>,
    offset: u64,
    buffered: &[u8],
    cur: Option<(u64, Delivery<'_>)>,
    cfg: &Cfg,
) {
    assert!(dir.ws.is_none(), "{}: a second switch", dir.name);
    let from = offset.saturating_add(buffered.len() as u64);
    let lower = cur.map_or(dir.pos, |(start, _)| start);
    if dir.exact() {
        // Every byte from `offset` on reaches the new parser exactly once: the ones
        // before this delivery through `buffered`, the rest from this delivery.
        assert!(
            from >= lower && from <= dir.pos,
            "{}: switch at {offset} + {} buffered, delivered {lower}..{}",
            dir.name,
            buffered.len(),
            dir.pos
        );
        if !buffered.is_empty() {
            let fed = dir.fed_bytes(offset, buffered.len());
            assert_eq!(
                fed.as_deref(),
                Some(buffered),
                "{}: buffered != bytes fed",
                dir.name
            );
        }
    }
    let mut ws = WsParser::new(cfg.sender(dir.http.is_request()), offset);
    let mut evs = Vec::new();
    ws.feed(buffered, &mut |e| evs.push(e));
    if let Some((start, del)) = cur {
        let rest = dir.pos.saturating_sub(from);
        match del {
            Delivery::Data(b) => {
                let cut = usize::try_from(from.saturating_sub(start)).unwrap_or(usize::MAX);
                ws.feed(b.get(cut..).unwrap_or(&[]), &mut |e| evs.push(e));
            }
            Delivery::Skip(_) => ws.skip(rest, &mut |e| evs.push(e)),
            Delivery::Gap(_) => ws.gap(rest, &mut |e| evs.push(e)),
            Delivery::Fin => {}
        }
    }
    if dir.fin {
        ws.fin(&mut |e| evs.push(e));
    }
    dir.ws_start = offset;
    dir.ws_last = offset;
    let off = ws.offset();
    dir.ws = Some(ws);
    dir.check_offset("ws", off);
    dir.check_ws_events(&evs);
}

fn pair<'b, 'a>(dirs: &'b mut [Dir<'a>; 2], x: usize) -> (&'b mut Dir<'a>, &'b mut Dir<'a>) {
    let (a, b) = dirs.split_at_mut(1);
    if x == 0 {
        (&mut a[0], &mut b[0])
    } else {
        (&mut b[0], &mut a[0])
    }
}

/// Checks and routes the events `evs` of direction `d` (and whatever they cause on the
/// other direction), as a caller following `app/mod.rs` would.
// Each arm states the case it handles; folding the `if`s into guards would hide that.
#[allow(clippy::collapsible_match)]
fn process(
    dirs: &mut [Dir<'_>; 2],
    d: usize,
    evs: Vec<HttpEvent>,
    cur: Option<(u64, Delivery<'_>)>,
    cfg: &Cfg,
) {
    let mut queue: VecDeque<(usize, HttpEvent)> = evs.into_iter().map(|e| (d, e)).collect();
    while let Some((x, ev)) = queue.pop_front() {
        let (me, other) = pair(dirs, x);
        me.check_http_event(&ev);
        let mut out = Vec::new();
        match &ev {
            HttpEvent::Head { message, .. } if message.is_request => {
                if cfg.route_requests {
                    other.http.expect_response_to(message, &mut |e| out.push(e));
                    other.flush_shadow();
                    let evs = &mut other.shadow_evs;
                    other
                        .shadow
                        .expect_response_to(message, &mut |e| evs.push(e));
                    for e in &out {
                        assert!(
                            matches!(
                                e,
                                HttpEvent::Anomaly {
                                    kind: HttpAnomaly::TooManyPendingRequests,
                                    ..
                                }
                            ),
                            "{}: expect_response_to reported {e:?}",
                            other.name
                        );
                    }
                }
            }
            HttpEvent::Head { message, .. } => {
                if let (true, Some(status)) = (cfg.route_statuses, message.status) {
                    let was_done = other.http.is_done();
                    other.http.peer_response(status, &mut |e| out.push(e));
                    other.flush_shadow();
                    let evs = &mut other.shadow_evs;
                    other.shadow.peer_response(status, &mut |e| evs.push(e));
                    if was_done {
                        assert!(
                            out.is_empty(),
                            "{}: events after the end: {out:?}",
                            other.name
                        );
                    }
                }
            }
            HttpEvent::Upgrade { offset, buffered } => {
                start_ws(me, *offset, buffered, if x == d { cur } else { None }, cfg);
            }
            HttpEvent::Tunnel { offset, buffered } if cfg.tunnel_to_ws => {
                start_ws(me, *offset, buffered, if x == d { cur } else { None }, cfg);
            }
            _ => {}
        }
        let off = other.http.offset();
        other.check_offset("http (after a call from the other side)", off);
        queue.extend(out.into_iter().map(|e| (1 - x, e)));
    }
}

/// One reassembler event for direction `d`: to its WebSocket parser if it switched
/// before, to its HTTP parser always (which must then stay silent). `as_data`: the bytes
/// of a skip the parser asked for, which its shadow is fed instead.
fn deliver<'a>(
    dirs: &mut [Dir<'a>; 2],
    d: usize,
    del: Delivery<'a>,
    as_data: Option<&'a [u8]>,
    cfg: &Cfg,
) {
    let dir = &mut dirs[d];
    match (del, as_data) {
        (Delivery::Data(b), _) | (_, Some(b)) => dir.shadow_pending.extend_from_slice(b),
        _ => dir.shadow_call(del),
    }
    let start = dir.pos;
    dir.pos = start.saturating_add(del.len());
    if let Delivery::Fin = del {
        dir.fin = true;
    }
    if dir.ws.is_some() {
        ws_deliver(dir, del);
    }
    let was_done = dir.http.is_done();
    let mut evs = Vec::new();
    match del {
        Delivery::Data(b) => {
            dir.fed.push((start, b));
            dir.http.feed(b, &mut |e| evs.push(e));
        }
        Delivery::Skip(n) => dir.http.skip(n, &mut |e| evs.push(e)),
        Delivery::Gap(n) => dir.http.gap(n, &mut |e| evs.push(e)),
        Delivery::Fin => dir.http.fin(&mut |e| evs.push(e)),
    }
    if was_done {
        assert!(
            evs.is_empty(),
            "{}: events after the end: {evs:?}",
            dir.name
        );
    }
    let off = dir.http.offset();
    dir.check_offset("http", off);
    process(dirs, d, evs, Some((start, del)), cfg);
    if cfg.reassembler_skips {
        for dir in dirs.iter_mut() {
            let until = dir.pos.saturating_add(dir.skippable());
            dir.skip_until = dir.skip_until.max(until);
        }
    }
}

/// Input bytes of direction `d`, as the reassembler would pass them on: the part in
/// the skipped range as one `Skip`, the rest as one `Data`.
fn deliver_bytes<'a>(dirs: &mut [Dir<'a>; 2], d: usize, bytes: &'a [u8], cfg: &Cfg) {
    let dir = &dirs[d];
    let mut bytes = bytes;
    if dir.pos < dir.skip_until {
        let k = usize::try_from(dir.skip_until - dir.pos)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        if k > 0 {
            let (skipped, rest) = bytes.split_at(k);
            deliver(dirs, d, Delivery::Skip(k as u64), Some(skipped), cfg);
            bytes = rest;
        }
    }
    if !bytes.is_empty() {
        deliver(dirs, d, Delivery::Data(bytes), None, cfg);
    }
}

fn take<'a>(dir: &mut Dir<'a>, n: usize) -> &'a [u8] {
    let n = n.min(dir.data.len());
    let (head, rest) = dir.data.split_at(n);
    dir.data = rest;
    head
}

fn op<'a>(dirs: &mut [Dir<'a>; 2], a: u8, b: u8, cfg: &Cfg) {
    let mut d = usize::from(a & 1);
    if dirs[d].data.is_empty() && !dirs[1 - d].data.is_empty() {
        d = 1 - d;
    }
    let all = |n: usize| if n == 0 { usize::MAX } else { n };
    match (a >> 1) & 3 {
        0 => {
            let n = all(usize::from(b) * FEED_MULT[usize::from((a >> 3) & 3)]);
            let bytes = take(&mut dirs[d], n);
            deliver_bytes(dirs, d, bytes, cfg);
        }
        1 => {
            let bytes = take(&mut dirs[d], all(usize::from(b)));
            for piece in bytes.chunks(usize::from(a >> 3) + 1) {
                deliver_bytes(dirs, d, piece, cfg);
            }
        }
        2 => {
            let n = take(&mut dirs[d], usize::from(b)).len() as u64;
            let extra = match usize::from((a >> 3) & 7) {
                i @ 0..=5 => GAP_EXTRA[i],
                6 => u64::MAX,
                _ => dirs[d].skippable(),
            };
            deliver(dirs, d, Delivery::Gap(n.saturating_add(extra)), None, cfg);
        }
        _ => {
            let n = if b == 0 {
                usize::try_from(dirs[d].skippable()).unwrap_or(usize::MAX)
            } else {
                usize::from(b)
            };
            let n = take(&mut dirs[d], n).len() as u64;
            if n > 0 {
                deliver(dirs, d, Delivery::Skip(n), None, cfg);
            }
        }
    }
}

/// Runs one input (the layout above); panics on a broken invariant.
pub fn run(data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let cfg = Cfg::new(data[0]);
    let split = usize::from(u16::from_le_bytes([data[1], data[2]]));
    let nops = usize::from(data[3] % 32);
    let Some(ops) = data.get(4..4 + 2 * nops) else {
        return;
    };
    let rest = &data[4 + 2 * nops..];
    let (client, server) = rest.split_at(split.min(rest.len()));
    let (c0, s0) = if cfg.large_start {
        (1 << 40, (1 << 32) + 7)
    } else {
        (0, 0)
    };
    let mut dirs = [
        Dir::new("client", client, c0),
        Dir::new("server", server, s0),
    ];

    if nops == 0 {
        op(&mut dirs, 0, 0, &cfg);
        op(&mut dirs, 1, 0, &cfg);
    }
    // Each round of operations either uses input or (gaps, skips of nothing) does not:
    // a bound keeps a round of the latter from repeating forever.
    let mut rounds = 0;
    while nops > 0 && rounds < 64 && dirs.iter().any(|d| !d.data.is_empty()) {
        for o in ops.chunks_exact(2) {
            op(&mut dirs, o[0], o[1], &cfg);
        }
        rounds += 1;
    }
    for d in 0..2 {
        let bytes = take(&mut dirs[d], usize::MAX);
        deliver_bytes(&mut dirs, d, bytes, &cfg);
    }
    let order = if cfg.server_fin_first { [1, 0] } else { [0, 1] };
    for d in order {
        deliver(&mut dirs, d, Delivery::Fin, None, &cfg);
    }
    for dir in &mut dirs {
        dir.check_shadow();
    }
}
