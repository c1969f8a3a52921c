//! WebSocket frame parser tests, named after the RFC 6455 sections they cover. The
//! byte strings of §5.7's examples are used verbatim.

use crate::app::ws::*;

fn run(p: &mut WsParser, chunks: &[&[u8]], fin: bool) -> Vec<WsEvent> {
    let mut evs = Vec::new();
    for c in chunks {
        p.feed(c, &mut |e| evs.push(e));
    }
    if fin {
        p.fin(&mut |e| evs.push(e));
    }
    evs
}

fn parse(sender: Sender, data: &[u8]) -> Vec<WsEvent> {
    run(&mut WsParser::new(sender, 0), &[data], false)
}

fn frames(evs: &[WsEvent]) -> Vec<WsFrame> {
    evs.iter()
        .filter_map(|e| match e {
            WsEvent::Frame { frame, .. } => Some(frame.clone()),
            _ => None,
        })
        .collect()
}

fn offsets(evs: &[WsEvent]) -> Vec<u64> {
    evs.iter()
        .filter_map(|e| match e {
            WsEvent::Frame { offset, .. } => Some(*offset),
            _ => None,
        })
        .collect()
}

fn anomalies(evs: &[WsEvent]) -> Vec<&'static str> {
    evs.iter()
        .filter_map(|e| match e {
            WsEvent::Anomaly { kind, .. } => Some(kind.name()),
            _ => None,
        })
        .collect()
}

fn frame(fin: bool, opcode: u8, masked: bool, payload_len: u64) -> WsFrame {
    WsFrame {
        fin,
        rsv: 0,
        opcode,
        masked,
        payload_len,
        close_code: None,
        close_reason: None,
    }
}

/// A frame as a client sends it: masked with `key`.
fn masked_frame(b0: u8, key: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut v = vec![b0];
    match payload.len() {
        n if n < 126 => v.push(0x80 | n as u8),
        n if n <= 0xffff => {
            v.push(0x80 | 126);
            v.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            v.push(0x80 | 127);
            v.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    v.extend_from_slice(&key);
    v.extend(payload.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k));
    v
}

fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut v = code.to_be_bytes().to_vec();
    v.extend_from_slice(reason);
    v
}

const HELLO_UNMASKED: &[u8] = b"\x81\x05\x48\x65\x6c\x6c\x6f";
const HELLO_MASKED: &[u8] = b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";

// ----- §5.2 base framing ---------------------------------------------------------------

#[test]
fn rfc6455_5_2_seven_bit_payload_length() {
    let mut p = WsParser::new(Sender::Server, 0);
    let evs = run(&mut p, &[HELLO_UNMASKED], false);
    assert_eq!(
        evs,
        vec![WsEvent::Frame {
            offset: 0,
            frame: frame(true, OP_TEXT, false, 5)
        }]
    );
    assert_eq!(p.offset(), 7);
    // Zero-length frames and the 125 maximum of the 7-bit form.
    let mut data = vec![0x82, 0x00, 0x82, 125];
    data.extend_from_slice(&[0u8; 125]);
    let evs = parse(Sender::Server, &data);
    assert_eq!(
        frames(&evs),
        vec![
            frame(true, OP_BINARY, false, 0),
            frame(true, OP_BINARY, false, 125)
        ]
    );
    assert_eq!(offsets(&evs), vec![0, 2]);
}

#[test]
fn rfc6455_5_2_sixteen_bit_payload_length() {
    // §5.7: 256 bytes binary message in a single unmasked frame.
    let mut data = vec![0x82, 0x7e, 0x01, 0x00];
    data.extend_from_slice(&[0xaa; 256]);
    data.extend_from_slice(HELLO_UNMASKED);
    let evs = parse(Sender::Server, &data);
    assert_eq!(
        frames(&evs),
        vec![
            frame(true, OP_BINARY, false, 256),
            frame(true, OP_TEXT, false, 5)
        ]
    );
    assert_eq!(offsets(&evs), vec![0, 260]);
    assert!(anomalies(&evs).is_empty());
}

#[test]
fn rfc6455_5_2_sixty_four_bit_payload_length_is_skipped_not_buffered() {
    // §5.7: 64KiB binary message in a single unmasked frame.
    let header = [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0];
    let mut p = WsParser::new(Sender::Server, 1000);
    let mut evs = run(&mut p, &[&header], false);
    assert_eq!(frames(&evs), vec![frame(true, OP_BINARY, false, 65536)]);
    assert_eq!(offsets(&evs), vec![1000]);
    assert_eq!(p.skippable(), 65536);
    // The payload passes as a skip (as the reassembler would report it), then a frame.
    p.skip(65536, &mut |e| evs.push(e));
    p.feed(HELLO_UNMASKED, &mut |e| evs.push(e));
    assert_eq!(offsets(&evs), vec![1000, 1000 + 10 + 65536]);
    assert!(anomalies(&evs).is_empty());
    // A length beyond 4 GiB is just a number.
    let evs = parse(Sender::Server, &[0x82, 0x7f, 0, 0, 0, 5, 0, 0, 0, 0]);
    assert_eq!(frames(&evs)[0].payload_len, 5 << 32);
}

#[test]
fn rfc6455_5_2_sixty_four_bit_length_with_the_top_bit_set_is_a_protocol_error() {
    let mut p = WsParser::new(Sender::Server, 0);
    let evs = run(
        &mut p,
        &[
            &[0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            HELLO_UNMASKED,
        ],
        true,
    );
    assert_eq!(anomalies(&evs), vec!["ws_invalid_length"]);
    assert!(frames(&evs).is_empty());
    assert!(p.is_done());
    assert_eq!(p.skippable(), u64::MAX);
}

#[test]
fn rfc6455_5_2_length_must_use_the_minimal_encoding() {
    let evs = parse(
        Sender::Server,
        &[0x81, 0x7e, 0x00, 0x05, b'H', b'e', b'l', b'l', b'o'],
    );
    assert_eq!(anomalies(&evs), vec!["ws_non_minimal_length"]);
    assert_eq!(frames(&evs), vec![frame(true, OP_TEXT, false, 5)]);
    let evs = parse(Sender::Server, &[0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);
    assert_eq!(anomalies(&evs), vec!["ws_non_minimal_length"]);
}

#[test]
fn rfc6455_5_2_frames_across_segment_boundaries_and_several_per_segment() {
    let mut data = HELLO_MASKED.to_vec();
    data.extend(masked_frame(0x82, [1, 2, 3, 4], &[9u8; 300]));
    data.extend(masked_frame(
        0x88,
        [5, 6, 7, 8],
        &close_payload(1001, b"going away"),
    ));
    let whole = run(&mut WsParser::new(Sender::Client, 0), &[&data], true);
    assert_eq!(frames(&whole).len(), 3);
    assert!(anomalies(&whole).is_empty());
    let bytes: Vec<&[u8]> = data.chunks(1).collect();
    assert_eq!(
        run(&mut WsParser::new(Sender::Client, 0), &bytes, true),
        whole
    );
    for cut in 1..data.len() {
        let (a, b) = data.split_at(cut);
        assert_eq!(
            run(&mut WsParser::new(Sender::Client, 0), &[a, b], true),
            whole,
            "cut at {cut}"
        );
    }
}

#[test]
fn rfc6455_5_2_rsv_bits_are_reported_never_inflated() {
    // permessage-deflate (RFC 7692) sets RSV1 on a compressed message's first frame.
    let evs = parse(
        Sender::Server,
        &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00],
    );
    let f = &frames(&evs)[0];
    assert_eq!(f.rsv, 0b100);
    assert_eq!(f.payload_len, 7);
    let evs = parse(Sender::Server, &[0xb1, 0x00]);
    assert_eq!(frames(&evs)[0].rsv, 0b011);
    assert!(anomalies(&evs).is_empty());
}

#[test]
fn rfc6455_5_2_reserved_opcodes_are_reported() {
    let evs = parse(Sender::Server, &[0x83, 0x00, 0x8b, 0x00]);
    assert_eq!(
        anomalies(&evs),
        vec!["ws_reserved_opcode", "ws_reserved_opcode"]
    );
    assert_eq!(frames(&evs).len(), 2);
}

// ----- §5.3 masking --------------------------------------------------------------------

#[test]
fn rfc6455_5_3_client_frames_are_masked() {
    let evs = parse(Sender::Client, HELLO_MASKED);
    assert_eq!(frames(&evs), vec![frame(true, OP_TEXT, true, 5)]);
    assert!(anomalies(&evs).is_empty());
    let evs = parse(Sender::Client, HELLO_UNMASKED);
    assert_eq!(anomalies(&evs), vec!["ws_unmasked_client_frame"]);
}

#[test]
fn rfc6455_5_1_server_frames_are_not_masked() {
    let evs = parse(Sender::Server, HELLO_MASKED);
    assert_eq!(anomalies(&evs), vec!["ws_masked_server_frame"]);
    // With the sender unknown, neither is an anomaly.
    assert!(anomalies(&parse(Sender::Unknown, HELLO_MASKED)).is_empty());
    assert!(anomalies(&parse(Sender::Unknown, HELLO_UNMASKED)).is_empty());
}

#[test]
fn rfc6455_5_3_masked_close_payload_is_unmasked_with_the_key_cycle() {
    // The key's octet i mod 4 for payload octet i, over more than one key cycle.
    let data = masked_frame(
        0x88,
        [0xde, 0xad, 0xbe, 0xef],
        &close_payload(1000, b"normal closure"),
    );
    let evs = parse(Sender::Client, &data);
    let f = &frames(&evs)[0];
    assert_eq!(f.close_code, Some(1000));
    assert_eq!(f.close_reason.as_deref(), Some("normal closure"));
    assert!(f.masked);
}

// ----- §5.4 fragmentation --------------------------------------------------------------

#[test]
fn rfc6455_5_4_fragmented_message_with_an_interleaved_control_frame() {
    // §5.7: "Hel" + "lo", with a ping between the fragments (§5.4 allows it).
    let data = b"\x01\x03Hel\x89\x00\x80\x02lo";
    let evs = parse(Sender::Server, data);
    assert_eq!(
        frames(&evs),
        vec![
            frame(false, OP_TEXT, false, 3),
            frame(true, OP_PING, false, 0),
            frame(true, OP_CONTINUATION, false, 2),
        ]
    );
    assert!(anomalies(&evs).is_empty());
    // Several continuation frames.
    let evs = parse(Sender::Server, b"\x02\x01a\x00\x01b\x00\x01c\x80\x01d");
    assert_eq!(frames(&evs).len(), 4);
    assert!(anomalies(&evs).is_empty());
}

#[test]
fn rfc6455_5_4_continuation_out_of_place() {
    let evs = parse(Sender::Server, b"\x80\x02lo");
    assert_eq!(anomalies(&evs), vec!["ws_unexpected_continuation"]);
    let evs = parse(Sender::Server, b"\x01\x03Hel\x81\x02lo");
    assert_eq!(anomalies(&evs), vec!["ws_expected_continuation"]);
}

// ----- §5.5 control frames -------------------------------------------------------------

#[test]
fn rfc6455_5_5_1_close_frame_with_code_and_reason() {
    let mut data = vec![0x88, 0x0b];
    data.extend(close_payload(1001, b"going away"[..9].as_ref()));
    let evs = parse(Sender::Server, &data);
    assert_eq!(
        evs,
        vec![WsEvent::Frame {
            offset: 0,
            frame: WsFrame {
                close_code: Some(1001),
                close_reason: Some("going awa".into()),
                ..frame(true, OP_CLOSE, false, 11)
            }
        }]
    );
    // An empty close frame has no code.
    let evs = parse(Sender::Server, &[0x88, 0x00]);
    assert_eq!(frames(&evs)[0].close_code, None);
    assert_eq!(frames(&evs)[0].close_reason, None);
    // A code without a reason.
    let evs = parse(Sender::Server, &[0x88, 0x02, 0x03, 0xe8]);
    assert_eq!(frames(&evs)[0].close_code, Some(1000));
    assert_eq!(frames(&evs)[0].close_reason.as_deref(), Some(""));
}

#[test]
fn rfc6455_5_5_1_close_payload_of_one_byte_is_invalid() {
    let evs = parse(Sender::Server, &[0x88, 0x01, 0x03]);
    assert_eq!(anomalies(&evs), vec!["ws_invalid_close_payload"]);
    assert_eq!(frames(&evs)[0].close_code, None);
}

#[test]
fn rfc6455_5_5_1_close_reason_is_lossily_decoded() {
    let mut data = vec![0x88, 0x06];
    data.extend(close_payload(1000, b"ok\xff\xfe"));
    let evs = parse(Sender::Server, &data);
    assert_eq!(anomalies(&evs), vec!["ws_invalid_close_reason"]);
    assert_eq!(
        frames(&evs)[0].close_reason.as_deref(),
        Some("ok\u{fffd}\u{fffd}")
    );
    // Multi-byte UTF-8 is fine.
    let mut data = vec![0x88, 0x08];
    data.extend(close_payload(1000, "adiós".as_bytes()));
    let evs = parse(Sender::Server, &data);
    assert!(anomalies(&evs).is_empty());
    assert_eq!(frames(&evs)[0].close_reason.as_deref(), Some("adiós"));
}

#[test]
fn rfc6455_5_5_1_frames_after_close_are_reported() {
    let evs = parse(Sender::Server, &[0x88, 0x02, 0x03, 0xe8, 0x81, 0x00]);
    assert_eq!(anomalies(&evs), vec!["ws_frame_after_close"]);
}

#[test]
fn rfc6455_5_5_2_ping_and_5_5_3_pong() {
    // §5.7: unmasked ping "Hello", masked pong "Hello".
    let evs = parse(Sender::Server, b"\x89\x05Hello");
    assert_eq!(frames(&evs), vec![frame(true, OP_PING, false, 5)]);
    let evs = parse(
        Sender::Client,
        b"\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
    );
    assert_eq!(frames(&evs), vec![frame(true, OP_PONG, true, 5)]);
    assert!(anomalies(&evs).is_empty());
}

#[test]
fn rfc6455_5_5_control_frames_longer_than_125_are_reported_as_they_are() {
    let reason = vec![b'r'; 198];
    let data = masked_frame(0x88, [1, 2, 3, 4], &close_payload(1000, &reason));
    let mut p = WsParser::new(Sender::Client, 0);
    let mut evs = run(&mut p, &[&data], false);
    assert_eq!(anomalies(&evs), vec!["ws_control_frame_too_long"]);
    let f = &frames(&evs)[0];
    assert_eq!(f.payload_len, 200);
    assert_eq!(f.close_code, Some(1000));
    assert_eq!(
        f.close_reason.as_deref().map(str::len),
        Some(MAX_CLOSE_READ - 2)
    );
    // The rest of the payload was skipped; the next frame parses.
    p.feed(&[0x8a, 0x80, 0, 0, 0, 0], &mut |e| evs.push(e));
    assert_eq!(frames(&evs).len(), 2);
    // A ping that is too long.
    let mut data = vec![0x89, 0x7e, 0x00, 0xc8];
    data.extend_from_slice(&[0; 200]);
    let evs = parse(Sender::Server, &data);
    assert_eq!(anomalies(&evs), vec!["ws_control_frame_too_long"]);
    // A long reason cut inside a multi-byte character at the read limit is not invalid.
    let mut reason = vec![b'a'; 122];
    reason.extend_from_slice("é".as_bytes()); // bytes 124 and 125 of the payload
    reason.extend_from_slice(b"tail");
    let data = masked_frame(0x88, [9, 9, 9, 9], &close_payload(1000, &reason));
    let evs = parse(Sender::Client, &data);
    assert_eq!(anomalies(&evs), vec!["ws_control_frame_too_long"]);
}

#[test]
fn rfc6455_5_5_control_frames_must_not_be_fragmented() {
    let evs = parse(Sender::Server, &[0x09, 0x00]);
    assert_eq!(anomalies(&evs), vec!["ws_fragmented_control_frame"]);
}

// ----- §7.4 status codes ---------------------------------------------------------------

#[test]
fn rfc6455_7_4_1_defined_status_codes_are_valid() {
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999,
    ] {
        let mut data = vec![0x88, 0x02];
        data.extend(close_payload(code, b""));
        let evs = parse(Sender::Server, &data);
        assert!(anomalies(&evs).is_empty(), "{code}");
        assert_eq!(frames(&evs)[0].close_code, Some(code));
    }
}

#[test]
fn rfc6455_7_4_1_and_7_4_2_codes_that_must_not_be_sent() {
    // 1004 reserved; 1005, 1006, 1015 only for reporting; 0–999 unused; 1016–2999
    // reserved for future RFCs; 5000+ undefined.
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
        let mut data = vec![0x88, 0x02];
        data.extend(close_payload(code, b""));
        let evs = parse(Sender::Server, &data);
        assert_eq!(anomalies(&evs), vec!["ws_invalid_close_code"], "{code}");
        assert_eq!(frames(&evs)[0].close_code, Some(code), "still reported");
    }
}

// ----- gaps and the end of the stream ----------------------------------------------------

#[test]
fn rfc6455_5_2_gap_inside_a_payload_keeps_frame_boundaries() {
    let mut p = WsParser::new(Sender::Server, 0);
    let mut evs = run(&mut p, &[&[0x82, 0x7e, 0x01, 0x00, 1, 2, 3]], false);
    p.gap(250, &mut |e| evs.push(e));
    p.feed(&[4, 5, 6], &mut |e| evs.push(e));
    p.feed(HELLO_UNMASKED, &mut |e| evs.push(e));
    assert_eq!(offsets(&evs), vec![0, 260]);
    assert!(anomalies(&evs).is_empty());
    // A gap past the payload's end loses the next header.
    p.feed(&[0x82, 0x03, 1], &mut |e| evs.push(e));
    p.gap(5, &mut |e| evs.push(e));
    assert_eq!(anomalies(&evs), vec!["ws_content_gap"]);
    assert!(p.is_done());
}

#[test]
fn rfc6455_5_2_stream_ending_inside_a_frame_is_truncated() {
    let evs = run(
        &mut WsParser::new(Sender::Server, 0),
        &[&[0x81, 0x05, b'H']],
        true,
    );
    assert_eq!(anomalies(&evs), vec!["ws_truncated_frame"]);
    let evs = run(&mut WsParser::new(Sender::Server, 0), &[&[0x81]], true);
    assert_eq!(anomalies(&evs), vec!["ws_truncated_frame"]);
    // A close frame cut short is still reported with what was read.
    let evs = run(
        &mut WsParser::new(Sender::Server, 0),
        &[&[0x88, 0x05, 0x03, 0xe8, b'b']],
        true,
    );
    assert_eq!(frames(&evs)[0].close_code, Some(1000));
    assert_eq!(anomalies(&evs), vec!["ws_truncated_frame"]);
    // Ending between frames is clean.
    let evs = run(
        &mut WsParser::new(Sender::Server, 0),
        &[HELLO_UNMASKED],
        true,
    );
    assert!(anomalies(&evs).is_empty());
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut x: u64 = 0x0bad_cafe_dead_beef;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..500 {
        let len = (next() % 300) as usize;
        let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        for sender in [Sender::Client, Sender::Server, Sender::Unknown] {
            let mut p = WsParser::new(sender, next());
            let mut rest: &[u8] = &data;
            while !rest.is_empty() {
                let n = 1 + (next() % 20) as usize;
                let (a, b) = rest.split_at(n.min(rest.len()));
                p.feed(a, &mut |_| {});
                if next() % 15 == 0 {
                    p.gap(next() % 10, &mut |_| {});
                }
                rest = b;
            }
            p.fin(&mut |_| {});
        }
    }
}

#[test]
fn rfc6455_4_2_2_frames_after_the_101_go_to_the_frame_parser() {
    use crate::app::http::{HttpEvent, HttpParser};
    // RFC 6455 §1.3's server handshake, then two frames in the same segment.
    let head: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    let mut segment = head.to_vec();
    segment.extend_from_slice(HELLO_UNMASKED);
    segment.extend_from_slice(&[0x88, 0x02, 0x03, 0xe8]);
    let slice_offset = 0u64;
    let mut http = HttpParser::new();
    let mut upgrade = None;
    http.feed(&segment, &mut |e| {
        if let HttpEvent::Upgrade { offset, buffered } = e {
            upgrade = Some((offset, buffered));
        }
    });
    let (offset, buffered) = upgrade.expect("101 seen");
    assert!(buffered.is_empty());
    let mut ws = WsParser::new(Sender::Server, offset);
    let mut evs = Vec::new();
    ws.feed(&buffered, &mut |e| evs.push(e));
    let rest = &segment[(offset - slice_offset) as usize..];
    ws.feed(rest, &mut |e| evs.push(e));
    assert_eq!(
        offsets(&evs),
        vec![head.len() as u64, head.len() as u64 + 7]
    );
    assert_eq!(frames(&evs)[1].close_code, Some(1000));
}
