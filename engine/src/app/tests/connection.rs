//! Tests of one connection's application layer: literal TCP segments (sequence numbers
//! and payload bytes) through reassembly, the HTTP and WebSocket parsers and the
//! analysis, named after the RFC sections and Zeek behaviours they cover.

use crate::app::connection::{AppConnection, Segment};

const C_ISN: u32 = 1000;
const S_ISN: u32 = 5000;

/// A two-sided script: side 0 is the client, side 1 the server; `seq` is tracked per side
/// unless a test sends at an explicit sequence number.
struct Conn {
    app: AppConnection,
    next: [u32; 2],
    frame: u64,
}

impl Conn {
    /// After a captured handshake: both ISNs known.
    fn new() -> Self {
        let mut app = AppConnection::new(true);
        app.set_first_seq(0, C_ISN + 1);
        app.set_first_seq(1, S_ISN + 1);
        Conn {
            app,
            next: [C_ISN + 1, S_ISN + 1],
            frame: 3,
        }
    }

    /// Send `data` from `side` at sequence number `seq`, acknowledging everything the
    /// peer sent so far.
    fn send_at(&mut self, side: usize, seq: u32, data: &[u8], fin: bool) -> u64 {
        self.frame += 1;
        let ack = self.next[1 - side];
        self.app.segment(&Segment {
            side,
            from_client: side == 0,
            seq,
            ack,
            syn: false,
            fin,
            rst: false,
            has_ack: true,
            payload: data,
            payload_len: data.len() as u32,
            ts_ns: self.frame as i64 * 1_000_000,
            frame: self.frame,
        });
        let end = seq
            .wrapping_add(data.len() as u32)
            .wrapping_add(u32::from(fin));
        if end.wrapping_sub(self.next[side]) as i32 > 0 {
            self.next[side] = end;
        }
        self.frame
    }

    fn send(&mut self, side: usize, data: &[u8]) -> u64 {
        let seq = self.next[side];
        self.send_at(side, seq, data, false)
    }

    fn fin(&mut self, side: usize) -> u64 {
        let seq = self.next[side];
        self.send_at(side, seq, b"", true)
    }
}

fn masked_text(payload: &[u8]) -> Vec<u8> {
    let mask = [1u8, 2, 3, 4];
    let mut f = vec![0x81, 0x80 | payload.len() as u8];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

const UPGRADE: &[u8] = b"GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";
const SWITCH: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

#[test]
fn rfc9112_2_1_http_is_found_by_content_and_paired() {
    let mut c = Conn::new();
    let req = c.send(0, b"GET /a HTTP/1.1\r\nHost: h\r\nUser-Agent: t/1\r\n\r\n");
    let resp = c.send(1, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    let r = c.app.finish();
    assert_eq!(
        (r.http_requests, r.http_responses, r.websocket),
        (1, 1, false)
    );
    let t = &r.transactions[0];
    assert_eq!(t.method.as_deref(), Some("GET"));
    assert_eq!(t.target.as_deref(), Some("/a"));
    assert_eq!(t.user_agent.as_deref(), Some("t/1"));
    assert_eq!((t.status, t.response_body_len), (Some(200), Some(5)));
    assert_eq!((t.request_frame, t.response_frame), (Some(req), Some(resp)));
    assert_eq!(t.keep_alive, Some(true));
    assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
}

#[test]
fn rfc9293_3_10_7_4_out_of_order_body_completes_in_the_frame_that_fills_the_hole() {
    let mut c = Conn::new();
    c.send(0, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n";
    let base = c.next[1];
    c.send(1, head);
    // The second half of the body arrives first; the first half fills the hole later.
    let late = base + head.len() as u32 + 4;
    c.frame += 1;
    c.app.segment(&Segment {
        side: 1,
        from_client: false,
        seq: late,
        ack: c.next[0],
        syn: false,
        fin: false,
        rst: false,
        has_ack: true,
        payload: b"5678",
        payload_len: 4,
        ts_ns: 0,
        frame: c.frame,
    });
    let fill = c.send_at(1, base + head.len() as u32, b"1234", false);
    let r = c.app.finish();
    let t = &r.transactions[0];
    assert_eq!(t.response_body_len, Some(8));
    assert_eq!(t.response_frame, Some(fill));
}

#[test]
fn zeek_content_gap_in_a_body_keeps_the_response_at_its_head() {
    let mut c = Conn::new();
    c.send(0, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    let head = c.send(1, b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n1234");
    // Four body bytes are never captured; the client's ACK covers them.
    c.next[1] += 4;
    c.send(0, b"");
    c.frame += 1;
    c.app.segment(&Segment {
        side: 0,
        from_client: true,
        seq: c.next[0],
        ack: c.next[1],
        syn: false,
        fin: false,
        rst: false,
        has_ack: true,
        payload: b"",
        payload_len: 0,
        ts_ns: 0,
        frame: c.frame,
    });
    let r = c.app.finish();
    let t = &r.transactions[0];
    assert_eq!(t.response_body_len, Some(8));
    assert_eq!(
        t.response_frame,
        Some(head),
        "a message with a hole is not 'completed'"
    );
    assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
}

#[test]
fn rfc9112_9_3_2_pipelined_requests_in_one_segment() {
    let mut c = Conn::new();
    c.send(
        0,
        b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    c.send(
        1,
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 404 No\r\nContent-Length: 0\r\n\r\n",
    );
    let r = c.app.finish();
    let got: Vec<_> = r
        .transactions
        .iter()
        .map(|t| (t.trans_depth, t.target.clone().unwrap(), t.status))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "/1".to_string(), Some(200)),
            (2, "/2".to_string(), Some(404))
        ]
    );
}

#[test]
fn rfc9112_6_3_close_delimited_body_ends_at_the_fin() {
    let mut c = Conn::new();
    c.send(0, b"GET / HTTP/1.0\r\n\r\n");
    c.send(1, b"HTTP/1.0 200 OK\r\n\r\nbody until close");
    let fin = c.fin(1);
    let r = c.app.finish();
    let t = &r.transactions[0];
    assert_eq!(t.response_body_len, None);
    assert_eq!(t.keep_alive, Some(false));
    assert_eq!(t.response_frame, Some(fin));
}

#[test]
fn rfc6455_4_2_2_frames_in_the_101s_segment_are_counted() {
    let mut c = Conn::new();
    c.send(0, UPGRADE);
    let mut seg = SWITCH.to_vec();
    seg.extend_from_slice(&[0x81, 0x02, b'h', b'i']); // an unmasked server text frame
    c.send(1, &seg);
    c.send(0, &masked_text(b"hello"));
    let r = c.app.finish();
    assert!(r.websocket);
    let ws = &r.websockets[0];
    assert!(ws.established, "{:?}", ws.problems);
    assert_eq!(ws.frames_s2c.text, 1);
    assert_eq!(ws.frames_c2s.text, 1);
    assert_eq!((ws.payload_bytes_c2s, ws.payload_bytes_s2c), (5, 2));
    assert!(ws.problems.is_empty(), "{:?}", ws.problems);
}

#[test]
fn rfc6455_4_1_client_frames_sent_before_the_101_are_counted_after_it() {
    let mut c = Conn::new();
    let mut seg = UPGRADE.to_vec();
    seg.extend_from_slice(&masked_text(b"early"));
    c.send(0, &seg);
    c.send(1, SWITCH);
    let r = c.app.finish();
    let ws = &r.websockets[0];
    assert_eq!(ws.frames_c2s.text, 1);
    assert_eq!(ws.payload_bytes_c2s, 5);
}

#[test]
fn rfc6455_5_5_1_close_handshake_each_way() {
    let mut c = Conn::new();
    c.send(0, UPGRADE);
    c.send(1, SWITCH);
    // Client Close 1000 "bye" (masked), server Close 1000 (unmasked).
    let mask = [9u8, 9, 9, 9];
    let body = [0x03, 0xE8, b'b', b'y', b'e'];
    let mut close = vec![0x88, 0x80 | body.len() as u8];
    close.extend_from_slice(&mask);
    close.extend(body.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    c.send(0, &close);
    c.send(1, &[0x88, 0x02, 0x03, 0xE8]);
    let r = c.app.finish();
    let ws = &r.websockets[0];
    assert_eq!(ws.close_by, Some("client"));
    assert_eq!(ws.close_code, Some(1000));
    assert_eq!(ws.close_reason.as_deref(), Some("bye"));
    assert_eq!(ws.reply_close_code, Some(1000));
}

#[test]
fn rfc9112_6_3_absurd_content_length_is_an_anomaly_not_a_crash() {
    let mut c = Conn::new();
    c.send(0, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    c.send(
        1,
        b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\nabc",
    );
    // The body runs to the close; the anomaly is noted where the message completes.
    let fin = c.fin(1);
    let r = c.app.finish();
    assert_eq!(r.transactions[0].response_body_len, None);
    assert_eq!(r.transactions[0].response_frame, Some(fin));
    assert_eq!(r.anomalies, vec![(fin, "http_content_length_too_large")]);
}

#[test]
fn a_stream_that_is_not_http_is_dropped() {
    let mut c = Conn::new();
    c.send(0, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03");
    assert!(
        !c.app.is_idle(),
        "the server's direction is still undecided"
    );
    c.send(1, b"SSH-2.0-OpenSSH_9.6\r\n");
    assert!(c.app.is_idle());
    let r = c.app.finish();
    assert_eq!((r.http_requests, r.http_responses), (0, 0));
}

#[test]
fn a_segment_cut_by_the_snap_length_is_a_gap_for_the_rest() {
    let mut c = Conn::new();
    c.send(0, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
    c.frame += 1;
    let seq = c.next[1];
    c.app.segment(&Segment {
        side: 1,
        from_client: false,
        seq,
        ack: c.next[0],
        syn: false,
        fin: false,
        rst: false,
        has_ack: true,
        payload: wire,
        payload_len: wire.len() as u32 + 100,
        ts_ns: 0,
        frame: c.frame,
    });
    c.next[1] = seq + wire.len() as u32 + 100;
    // The next response on the connection is still parsed.
    c.send(0, b"GET /2 HTTP/1.1\r\nHost: h\r\n\r\n");
    c.send(1, b"HTTP/1.1 204 No Content\r\n\r\n");
    let r = c.app.finish();
    let statuses: Vec<_> = r.transactions.iter().map(|t| t.status).collect();
    assert_eq!(statuses, vec![Some(200), Some(204)]);
}

#[test]
fn mid_stream_direction_starts_at_its_first_segment() {
    let mut app = AppConnection::new(true);
    for (frame, side, seq, data) in [
        (
            1u64,
            0usize,
            777_777u32,
            &b"GET /m HTTP/1.1\r\nHost: h\r\n\r\n"[..],
        ),
        (
            2,
            1,
            4_000_000_000,
            &b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"[..],
        ),
    ] {
        app.segment(&Segment {
            side,
            from_client: side == 0,
            seq,
            ack: 0,
            syn: false,
            fin: false,
            rst: false,
            has_ack: false,
            payload: data,
            payload_len: data.len() as u32,
            ts_ns: 0,
            frame,
        });
    }
    let r = app.finish();
    assert_eq!(r.transactions.len(), 1);
    assert_eq!(r.transactions[0].target.as_deref(), Some("/m"));
    assert_eq!(r.transactions[0].status, Some(200));
}
