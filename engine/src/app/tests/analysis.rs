//! Tests of the HTTP/WebSocket analysis, named after the RFC 9112 / RFC 9110 / RFC 6455
//! sections they cover. Every test feeds literal `HttpMessage` / `WsFrame` values.

use crate::app::analysis::*;
use crate::app::http::HttpMessage;
use crate::app::ws::WsFrame;

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn hdrs(h: &[(&str, &str)]) -> Vec<(String, String)> {
    h.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn req(method: &str, target: &str, version: &str, h: &[(&str, &str)]) -> HttpMessage {
    HttpMessage {
        is_request: true,
        method: Some(method.into()),
        target: Some(target.into()),
        version: Some(version.into()),
        headers: hdrs(h),
        ..HttpMessage::default()
    }
}

fn get(target: &str) -> HttpMessage {
    req("GET", target, "1.1", &[("host", "example.com")])
}

fn resp(status: u16, reason: &str, version: &str, h: &[(&str, &str)]) -> HttpMessage {
    HttpMessage {
        is_request: false,
        version: Some(version.into()),
        status: Some(status),
        reason: Some(reason.into()),
        headers: hdrs(h),
        ..HttpMessage::default()
    }
}

fn ok(len: &str) -> HttpMessage {
    resp(200, "OK", "1.1", &[("content-length", len)])
}

fn ws_request(extra: &[(&str, &str)]) -> HttpMessage {
    let mut h = vec![
        ("host", "server.example.com"),
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-key", KEY),
        ("origin", "http://example.com"),
        ("sec-websocket-version", "13"),
    ];
    h.extend_from_slice(extra);
    req("GET", "/chat", "1.1", &h)
}

fn switching(extra: &[(&str, &str)]) -> HttpMessage {
    let mut h = vec![
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-accept", ACCEPT),
    ];
    h.extend_from_slice(extra);
    resp(101, "Switching Protocols", "1.1", &h)
}

fn frame(opcode: u8, fin: bool, masked: bool, len: u64) -> WsFrame {
    WsFrame {
        fin,
        rsv: 0,
        opcode,
        masked,
        payload_len: len,
        close_code: None,
        close_reason: None,
    }
}

fn close(masked: bool, code: Option<u16>, reason: Option<&str>) -> WsFrame {
    WsFrame {
        close_code: code,
        close_reason: reason.map(str::to_string),
        ..frame(8, true, masked, 2)
    }
}

/// A switched session: request in frame 1, 101 in frame 2.
fn session() -> AppAnalysis {
    let mut a = AppAnalysis::new();
    a.message(&ws_request(&[]), 1_000, 1);
    a.message(&switching(&[]), 2_000, 2);
    assert!(a.ws_active());
    a
}

fn one_session(a: AppAnalysis) -> WebSocketSession {
    let (_, mut s) = a.finish();
    assert_eq!(s.len(), 1);
    s.remove(0)
}

fn problems(s: &WebSocketSession) -> Vec<(&'static str, u64)> {
    s.problems.clone()
}

#[test]
fn rfc9112_9_3_2_pipelined_responses_pair_in_order() {
    let mut a = AppAnalysis::new();
    a.message(&get("/a"), 10, 1);
    a.message(&get("/b"), 11, 2);
    a.message(&get("/c"), 12, 3);
    a.message(&ok("1"), 20, 4);
    a.message(&ok("2"), 21, 5);
    assert_eq!((a.requests(), a.responses()), (3, 2));
    let (txs, ws) = a.finish();
    assert!(ws.is_empty());
    let got: Vec<_> = txs
        .iter()
        .map(|t| {
            (
                t.trans_depth,
                t.target.as_deref(),
                t.response_body_len,
                t.response_frame,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1, Some("/a"), Some(1), Some(4)),
            (2, Some("/b"), Some(2), Some(5)),
            (3, Some("/c"), None, None),
        ]
    );
    // The open one is still a transaction, waiting.
    assert_eq!(txs[2].status, None);
    assert_eq!(txs[2].keep_alive, None);
    assert_eq!(txs[2].request_frame, Some(3));
}

#[test]
fn request_fields_are_taken_from_the_head() {
    let mut a = AppAnalysis::new();
    let r = req(
        "POST",
        "/form",
        "1.1",
        &[
            ("host", "example.com"),
            ("user-agent", "curl/8"),
            ("referer", "http://example.com/start"),
            ("origin", "http://example.com"),
            ("content-length", "42"),
        ],
    );
    a.message(&r, 5_000_000_000, 7);
    let (txs, _) = a.finish();
    let t = &txs[0];
    assert_eq!(t.method.as_deref(), Some("POST"));
    assert_eq!(t.host.as_deref(), Some("example.com"));
    assert_eq!(t.request_version.as_deref(), Some("1.1"));
    assert_eq!(t.user_agent.as_deref(), Some("curl/8"));
    assert_eq!(t.referrer.as_deref(), Some("http://example.com/start"));
    assert_eq!(t.origin.as_deref(), Some("http://example.com"));
    assert_eq!(t.request_body_len, Some(42));
    assert_eq!(t.request_ts_ns, Some(5_000_000_000));
    assert_eq!(t.request_frame, Some(7));
}

#[test]
fn rfc9112_6_3_request_without_length_has_empty_body() {
    let mut a = AppAnalysis::new();
    a.message(&get("/"), 1, 1);
    let (txs, _) = a.finish();
    assert_eq!(txs[0].request_body_len, Some(0));
}

#[test]
fn response_without_request_gets_its_own_transaction() {
    let mut a = AppAnalysis::new();
    a.message(&ok("3"), 50, 9);
    a.message(&get("/late"), 60, 10);
    assert_eq!((a.requests(), a.responses()), (1, 1));
    let (txs, _) = a.finish();
    assert_eq!(txs.len(), 2);
    let t = &txs[0];
    assert_eq!(t.trans_depth, 1);
    assert_eq!(
        (t.method.clone(), t.request_ts_ns, t.request_frame),
        (None, None, None)
    );
    assert_eq!(t.request_body_len, None);
    assert_eq!((t.status, t.response_body_len), (Some(200), Some(3)));
    assert_eq!((t.response_ts_ns, t.response_frame), (Some(50), Some(9)));
    assert_eq!(t.keep_alive, Some(true));
    assert_eq!(txs[1].trans_depth, 2);
    assert_eq!(txs[1].target.as_deref(), Some("/late"));
}

#[test]
fn rfc9110_15_2_interim_1xx_completes_nothing_and_is_the_info_code() {
    let mut a = AppAnalysis::new();
    a.message(
        &req("PUT", "/x", "1.1", &[("expect", "100-continue")]),
        1,
        1,
    );
    a.message(&resp(100, "Continue", "1.1", &[]), 2, 2);
    a.message(&resp(103, "Early Hints", "1.1", &[]), 3, 3);
    assert_eq!(a.responses(), 0);
    a.message(&ok("0"), 4, 4);
    a.message(&get("/y"), 5, 5);
    a.message(&ok("0"), 6, 6);
    assert_eq!(a.responses(), 2);
    let (txs, _) = a.finish();
    let t = &txs[0];
    assert_eq!((t.status, t.response_frame), (Some(200), Some(4)));
    assert_eq!(t.info_code, Some(103));
    assert_eq!(t.info_msg.as_deref(), Some("Early Hints"));
    // The interim response was given to the first final response only.
    assert_eq!((txs[1].info_code, txs[1].info_msg.clone()), (None, None));
}

#[test]
fn rfc9110_15_2_interim_1xx_belongs_to_the_oldest_open_request() {
    let mut a = AppAnalysis::new();
    a.message(&get("/a"), 1, 1);
    a.message(&get("/b"), 2, 2);
    a.message(&resp(102, "Processing", "1.1", &[]), 3, 3);
    let (txs, _) = a.clone().finish();
    // Kept even while the transaction is still open.
    assert_eq!((txs[0].status, txs[0].info_code), (None, Some(102)));
    assert_eq!(txs[0].info_msg.as_deref(), Some("Processing"));
    assert_eq!(txs[1].info_code, None);
    a.message(&ok("0"), 4, 4);
    a.message(&ok("0"), 5, 5);
    let (txs, _) = a.finish();
    assert_eq!((txs[0].status, txs[0].info_code), (Some(200), Some(102)));
    assert_eq!(txs[1].info_code, None);
}

#[test]
fn rfc9110_15_2_interim_without_request_goes_to_the_next_request_less_response() {
    let mut a = AppAnalysis::new();
    a.message(&resp(100, "Continue", "1.1", &[]), 1, 1);
    a.message(&ok("0"), 2, 2);
    // An orphan interim is forgotten when a request comes before the final response.
    a.message(&resp(100, "Continue", "1.1", &[]), 3, 3);
    a.message(&get("/"), 4, 4);
    a.message(&ok("0"), 5, 5);
    let (txs, _) = a.finish();
    assert_eq!((txs[0].request_frame, txs[0].info_code), (None, Some(100)));
    assert_eq!(txs[0].info_msg.as_deref(), Some("Continue"));
    assert_eq!((txs[1].request_frame, txs[1].info_code), (Some(4), None));
}

#[test]
fn rfc9110_15_2_interim_body_done_does_not_move_the_previous_response() {
    let mut a = AppAnalysis::new();
    a.message(&get("/a"), 1, 1);
    a.message(&ok("0"), 2, 2);
    a.message(&get("/b"), 3, 3);
    a.head(&resp(100, "Continue", "1.1", &[]), 4, 4);
    a.body_done(false, &[], 4, 4);
    let (txs, _) = a.finish();
    assert_eq!(
        (txs[0].response_ts_ns, txs[0].response_frame),
        (Some(2), Some(2))
    );
    assert_eq!(txs[1].status, None);
}

#[test]
fn rfc9110_15_2_2_switching_protocols_is_its_own_info_code() {
    let mut a = AppAnalysis::new();
    a.message(&ws_request(&[]), 1, 1);
    a.message(&resp(100, "Continue", "1.1", &[]), 2, 2);
    a.message(&switching(&[]), 3, 3);
    let (txs, _) = a.finish();
    let t = &txs[0];
    assert_eq!((t.status, t.info_code), (Some(101), Some(101)));
    assert_eq!(t.info_msg.as_deref(), Some("Switching Protocols"));
    assert_eq!((t.response_body_len, t.keep_alive), (Some(0), Some(false)));
}

#[test]
fn rfc9110_9_3_2_head_response_has_no_body() {
    let mut a = AppAnalysis::new();
    a.message(&req("HEAD", "/", "1.1", &[]), 1, 1);
    a.message(&ok("1234"), 2, 2);
    let (txs, _) = a.finish();
    assert_eq!(txs[0].response_body_len, Some(0));
    assert_eq!(txs[0].keep_alive, Some(true));
}

#[test]
fn rfc9110_15_3_5_and_15_4_5_204_and_304_have_no_body_and_keep_alive() {
    let mut a = AppAnalysis::new();
    a.message(&get("/a"), 1, 1);
    a.message(&resp(204, "No Content", "1.1", &[]), 2, 2);
    a.message(&get("/b"), 3, 3);
    a.message(
        &resp(304, "Not Modified", "1.1", &[("content-length", "99")]),
        4,
        4,
    );
    let (txs, _) = a.finish();
    assert_eq!(
        (txs[0].response_body_len, txs[0].keep_alive),
        (Some(0), Some(true))
    );
    assert_eq!(
        (txs[1].response_body_len, txs[1].keep_alive),
        (Some(0), Some(true))
    );
}

#[test]
fn rfc9112_6_3_response_until_close_is_not_keep_alive() {
    let mut a = AppAnalysis::new();
    a.message(&get("/"), 1, 1);
    a.message(&resp(200, "OK", "1.1", &[]), 2, 2);
    let (txs, _) = a.finish();
    assert_eq!(
        (txs[0].response_body_len, txs[0].keep_alive),
        (None, Some(false))
    );
}

#[test]
fn rfc9112_9_6_connection_close_on_either_side_ends_keep_alive() {
    let mut a = AppAnalysis::new();
    a.message(&req("GET", "/", "1.1", &[("connection", "Close")]), 1, 1);
    a.message(&ok("0"), 2, 2);
    a.message(&get("/b"), 3, 3);
    a.message(
        &resp(
            200,
            "OK",
            "1.1",
            &[("content-length", "0"), ("connection", "close")],
        ),
        4,
        4,
    );
    let (txs, _) = a.finish();
    assert_eq!(txs[0].keep_alive, Some(false));
    assert_eq!(txs[1].keep_alive, Some(false));
}

#[test]
fn rfc9112_9_3_http10_keeps_alive_only_with_keep_alive_in_the_response() {
    let mut a = AppAnalysis::new();
    // 1.0 request, 1.1 response without keep-alive: closes.
    a.message(
        &req("GET", "/a", "1.0", &[("connection", "keep-alive")]),
        1,
        1,
    );
    a.message(&ok("0"), 2, 2);
    // 1.0 response with keep-alive: stays open.
    a.message(&get("/b"), 3, 3);
    a.message(
        &resp(
            200,
            "OK",
            "1.0",
            &[("content-length", "0"), ("connection", "Keep-Alive")],
        ),
        4,
        4,
    );
    // 1.0 response without it: closes, even with a length.
    a.message(&get("/c"), 5, 5);
    a.message(&resp(200, "OK", "1.0", &[("content-length", "0")]), 6, 6);
    let (txs, _) = a.finish();
    let ka: Vec<_> = txs.iter().map(|t| t.keep_alive).collect();
    assert_eq!(ka, vec![Some(false), Some(true), Some(false)]);
    assert_eq!(txs[1].response_version.as_deref(), Some("1.0"));
}

#[test]
fn rfc9112_7_1_chunked_body_done_sums_sizes_and_moves_the_frame() {
    let mut a = AppAnalysis::new();
    let post = req("POST", "/up", "1.1", &[("transfer-encoding", "chunked")]);
    a.head(&post, 100, 1);
    a.body_done(true, &[5, 7, 0], 300, 3);
    let chunked = resp(200, "OK", "1.1", &[("transfer-encoding", "gzip, Chunked")]);
    a.head(&chunked, 400, 4);
    {
        // Before its sizes are known, a chunked response is length-delimited for
        // keep-alive, its length still unknown.
        let (txs, _) = a.clone().finish();
        assert_eq!(
            (txs[0].response_body_len, txs[0].keep_alive),
            (None, Some(true))
        );
    }
    a.body_done(false, &[10, 0], 600, 6);
    let (txs, _) = a.finish();
    let t = &txs[0];
    assert_eq!(
        (t.request_body_len, t.request_ts_ns, t.request_frame),
        (Some(12), Some(300), Some(3))
    );
    assert_eq!(
        (t.response_body_len, t.response_ts_ns, t.response_frame),
        (Some(10), Some(600), Some(6))
    );
    assert!(t.chunked);
    assert_eq!(t.keep_alive, Some(true));
}

#[test]
fn body_done_moves_a_length_delimited_message_without_changing_its_length() {
    let mut a = AppAnalysis::new();
    a.head(&get("/"), 1, 1);
    a.body_done(true, &[], 1, 1);
    a.head(&ok("5000"), 2, 2);
    a.body_done(false, &[1, 2], 9, 5);
    // A second body_done for the same head is ignored.
    a.body_done(false, &[], 99, 99);
    let (txs, _) = a.finish();
    assert_eq!(
        (txs[0].response_body_len, txs[0].response_frame),
        (Some(5000), Some(5))
    );
    assert_eq!(txs[0].response_ts_ns, Some(9));
}

#[test]
fn body_done_without_a_head_is_ignored() {
    let mut a = AppAnalysis::new();
    a.body_done(true, &[1], 1, 1);
    a.body_done(false, &[1], 1, 1);
    let (txs, ws) = a.finish();
    assert!(txs.is_empty() && ws.is_empty());
}

#[test]
fn message_is_head_then_body_done_with_its_chunk_sizes() {
    let r = HttpMessage {
        chunk_sizes: vec![3, 4, 0],
        ..resp(200, "OK", "1.1", &[("transfer-encoding", "chunked")])
    };
    let mut a = AppAnalysis::new();
    a.message(&get("/"), 1, 1);
    a.message(&r, 2, 2);
    let mut b = AppAnalysis::new();
    b.head(&get("/"), 1, 1);
    b.body_done(true, &[], 1, 1);
    b.head(
        &HttpMessage {
            chunk_sizes: vec![],
            ..r.clone()
        },
        2,
        2,
    );
    b.body_done(false, &r.chunk_sizes, 2, 2);
    let (ta, _) = a.finish();
    let (tb, _) = b.finish();
    assert_eq!(ta, tb);
    assert_eq!(ta[0].response_body_len, Some(7));
}

#[test]
fn rfc9112_6_3_content_length_beyond_64_bits_is_none_and_an_anomaly() {
    let mut a = AppAnalysis::new();
    a.message(
        &req(
            "POST",
            "/",
            "1.1",
            &[("content-length", "18446744073709551615")],
        ),
        1,
        1,
    );
    a.message(&ok("99999999999999999999999"), 2, 2);
    a.message(&get("/"), 3, 3);
    a.message(&ok("9007199254740993"), 4, 4);
    assert_eq!(a.anomalies(), &["http_content_length_too_large"]);
    let (txs, _) = a.finish();
    assert_eq!(txs[0].request_body_len, None);
    assert_eq!(txs[0].response_body_len, None);
    assert_eq!(txs[0].keep_alive, Some(false));
    assert_eq!(txs[1].response_body_len, None);
}

#[test]
fn rfc9112_6_3_content_length_at_the_limit_is_believed() {
    let mut a = AppAnalysis::new();
    a.message(&get("/"), 1, 1);
    a.message(&ok("9007199254740992"), 2, 2);
    assert!(a.anomalies().is_empty());
    let (txs, _) = a.finish();
    assert_eq!(txs[0].response_body_len, Some(1 << 53));
}

#[test]
fn rfc9112_6_3_content_length_not_digits_is_none_without_anomaly() {
    let mut a = AppAnalysis::new();
    a.message(
        &req("POST", "/", "1.1", &[("content-length", "12abc")]),
        1,
        1,
    );
    a.message(&ok("-1"), 2, 2);
    assert!(a.anomalies().is_empty());
    let (txs, _) = a.finish();
    assert_eq!(txs[0].request_body_len, None);
    assert_eq!(
        (txs[0].response_body_len, txs[0].keep_alive),
        (None, Some(false))
    );
}

#[test]
fn rfc6455_4_2_2_expected_accept_of_the_sample_key() {
    assert_eq!(expected_accept(KEY), ACCEPT);
}

#[test]
fn rfc6455_4_2_2_switched_session_is_established() {
    let mut a = AppAnalysis::new();
    let r = ws_request(&[
        ("user-agent", "browser"),
        ("sec-websocket-protocol", "chat, superchat"),
        (
            "sec-websocket-extensions",
            "permessage-deflate; client_max_window_bits",
        ),
        ("sec-websocket-extensions", "x-webkit-deflate-frame"),
    ]);
    a.message(&r, 1_000, 1);
    assert!(a.websocket());
    assert!(!a.ws_active());
    a.message(
        &switching(&[
            ("sec-websocket-protocol", " chat "),
            ("sec-websocket-extensions", "permessage-deflate"),
        ]),
        2_000,
        2,
    );
    assert!(a.ws_active());
    assert_eq!((a.requests(), a.responses()), (1, 1));
    let s = one_session(a);
    assert_eq!(s.request_ts_ns, 1_000);
    assert_eq!(s.request_target.as_deref(), Some("/chat"));
    assert_eq!(s.host.as_deref(), Some("server.example.com"));
    assert_eq!(s.origin.as_deref(), Some("http://example.com"));
    assert_eq!(s.user_agent.as_deref(), Some("browser"));
    assert_eq!(s.sec_websocket_key.as_deref(), Some(KEY));
    assert_eq!(s.sec_websocket_version.as_deref(), Some("13"));
    assert_eq!(s.offered_subprotocols, vec!["chat", "superchat"]);
    assert_eq!(
        s.offered_extensions,
        vec![
            "permessage-deflate; client_max_window_bits",
            "x-webkit-deflate-frame"
        ]
    );
    assert_eq!((s.status, s.response_ts_ns), (Some(101), Some(2_000)));
    assert_eq!(s.sec_websocket_accept.as_deref(), Some(ACCEPT));
    assert_eq!(s.accept_valid, Some(true));
    assert_eq!(s.subprotocol.as_deref(), Some("chat"));
    assert_eq!(s.extensions, vec!["permessage-deflate"]);
    assert!(s.established);
    assert!(s.problems.is_empty());
    assert_eq!((s.request_frame, s.response_frame), (1, Some(2)));
}

#[test]
fn rfc6455_4_1_frames_before_the_switch_are_ignored() {
    let mut a = AppAnalysis::new();
    a.message(&ws_request(&[]), 1, 1);
    a.ws_frame(true, &frame(1, true, false, 5), 2);
    a.message(
        &resp(403, "Forbidden", "1.1", &[("content-length", "0")]),
        3,
        3,
    );
    assert!(a.websocket());
    assert!(!a.ws_active());
    a.ws_frame(true, &frame(1, true, false, 5), 4);
    let s = one_session(a);
    assert_eq!(s.status, Some(403));
    assert_eq!(s.accept_valid, None);
    assert!(!s.established);
    assert_eq!(s.frames_c2s, FrameCounts::default());
    assert!(s.problems.is_empty());
    assert_eq!(s.response_frame, Some(3));
}

#[test]
fn rfc6455_4_1_unanswered_upgrade_has_no_response() {
    let mut a = AppAnalysis::new();
    a.message(&ws_request(&[]), 1, 1);
    let (txs, s) = a.finish();
    assert_eq!(txs.len(), 1);
    assert_eq!(
        (s[0].status, s[0].response_frame, s[0].accept_valid),
        (None, None, None)
    );
    assert!(!s[0].established);
}

#[test]
fn rfc6455_5_2_frames_messages_and_payload_counted_per_direction() {
    let mut a = session();
    a.ws_frame(true, &frame(1, false, true, 10), 3);
    a.ws_frame(true, &frame(0, true, true, 5), 3);
    a.ws_frame(true, &frame(9, true, true, 0), 4);
    a.ws_frame(false, &frame(10, true, false, 0), 5);
    a.ws_frame(false, &frame(2, true, false, 100), 5);
    a.ws_frame(false, &frame(2, true, false, MAX_FRAME_PAYLOAD), 6);
    a.ws_frame(false, &frame(2, true, false, 1), 6);
    a.ws_frame(false, &frame(3, true, false, 1), 6); // reserved opcode: not counted
                                                     // RFC 6455 §5.2: a 64-bit length with its top bit set is no frame, only a problem.
    a.ws_frame(false, &frame(2, true, false, u64::MAX), 7);
    let s = one_session(a);
    assert_eq!(
        s.frames_c2s,
        FrameCounts {
            text: 1,
            continuation: 1,
            ping: 1,
            ..FrameCounts::default()
        }
    );
    assert_eq!(
        s.frames_s2c,
        FrameCounts {
            binary: 3,
            pong: 1,
            ..FrameCounts::default()
        }
    );
    assert_eq!(s.messages_c2s, MessageCounts { text: 1, binary: 0 });
    assert_eq!(s.messages_s2c, MessageCounts { text: 0, binary: 3 });
    assert_eq!(s.payload_bytes_c2s, 15);
    assert_eq!(s.payload_bytes_s2c, MAX_FRAME_PAYLOAD); // saturated within 63 bits
    assert_eq!(s.problems, vec![("invalid_length", 7)]);
}

#[test]
fn rfc6455_5_5_1_close_handshake_client_first_server_replies() {
    let mut a = session();
    a.ws_frame(true, &close(true, Some(1000), Some("bye")), 3);
    a.ws_frame(false, &close(false, Some(1001), None), 4);
    let s = one_session(a);
    assert_eq!(s.close_by, Some("client"));
    assert_eq!(
        (s.close_code, s.close_reason.as_deref()),
        (Some(1000), Some("bye"))
    );
    assert_eq!(s.reply_close_code, Some(1001));
    assert_eq!((s.frames_c2s.close, s.frames_s2c.close), (1, 1));
    assert!(s.problems.is_empty());
}

#[test]
fn rfc6455_5_5_1_close_handshake_server_first_repeats_are_not_replies() {
    let mut a = session();
    a.ws_frame(false, &close(false, Some(1000), None), 3);
    a.ws_frame(false, &close(false, Some(1002), None), 4); // the closer again
    assert_eq!(one_session(a.clone()).reply_close_code, None);
    a.ws_frame(true, &close(true, None, None), 5); // reply without a code
    a.ws_frame(true, &close(true, Some(1003), None), 6); // the replier again
    let s = one_session(a);
    assert_eq!(s.close_by, Some("server"));
    assert_eq!(s.close_code, Some(1000));
    assert_eq!(s.reply_close_code, None);
    assert_eq!(s.frames_s2c.close, 2);
}

#[test]
fn rfc6455_7_4_every_close_code_class() {
    for code in [1005, 1006, 1015] {
        assert_eq!(
            close_code_problem(code),
            Some("reserved_close_code"),
            "{code}"
        );
    }
    for code in [0, 999, 1004, 1016, 2000, 2999, 5000, u16::MAX] {
        assert_eq!(
            close_code_problem(code),
            Some("invalid_close_code"),
            "{code}"
        );
    }
    for code in [1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4000, 4999] {
        assert_eq!(close_code_problem(code), None, "{code}");
    }
}

#[test]
fn rfc6455_7_4_bad_close_codes_are_problems_at_their_frame() {
    let mut a = session();
    a.ws_frame(true, &close(true, Some(1005), None), 3);
    a.ws_frame(false, &close(false, Some(2000), None), 4);
    let s = one_session(a);
    assert_eq!(
        problems(&s),
        vec![("reserved_close_code", 3), ("invalid_close_code", 4)]
    );
    assert_eq!(s.reply_close_code, Some(2000));
    // Frame problems do not undo the handshake.
    assert!(s.established);
}

#[test]
fn rfc6455_5_1_unmasked_client_frame() {
    let mut a = session();
    a.ws_frame(true, &frame(1, true, false, 3), 7);
    let s = one_session(a);
    assert_eq!(problems(&s), vec![("unmasked_client_frame", 7)]);
}

#[test]
fn rfc6455_5_1_masked_server_frame() {
    let mut a = session();
    a.ws_frame(false, &frame(2, true, true, 3), 8);
    let s = one_session(a);
    assert_eq!(problems(&s), vec![("masked_server_frame", 8)]);
}

#[test]
fn rfc6455_5_5_control_frame_too_long() {
    let mut a = session();
    a.ws_frame(true, &frame(9, true, true, 125), 3);
    a.ws_frame(true, &frame(9, true, true, 126), 4);
    a.ws_frame(false, &frame(0xB, true, false, 200), 5); // reserved control opcode too
    let s = one_session(a);
    assert_eq!(
        problems(&s),
        vec![("control_frame_too_long", 4), ("control_frame_too_long", 5)]
    );
}

#[test]
fn rfc6455_5_5_fragmented_control_frame() {
    let mut a = session();
    a.ws_frame(false, &frame(10, false, false, 0), 9);
    let s = one_session(a);
    assert_eq!(problems(&s), vec![("fragmented_control_frame", 9)]);
}

#[test]
fn rfc6455_5_5_1_data_after_close() {
    let mut a = session();
    a.ws_frame(true, &close(true, Some(1000), None), 3);
    a.ws_frame(false, &frame(1, true, false, 4), 4); // the other side may still send
    a.ws_frame(true, &frame(9, true, true, 0), 5); // control frames are allowed
    a.ws_frame(true, &frame(2, true, true, 4), 6);
    a.ws_frame(true, &frame(0, true, true, 4), 7);
    let s = one_session(a);
    assert_eq!(
        problems(&s),
        vec![("data_after_close", 6), ("data_after_close", 7)]
    );
    assert_eq!(s.messages_c2s.binary, 1);
}

#[test]
fn rfc6455_4_1_unoffered_subprotocol() {
    let mut a = AppAnalysis::new();
    a.message(&ws_request(&[("sec-websocket-protocol", "chat")]), 1, 1);
    a.message(&switching(&[("sec-websocket-protocol", "mqtt")]), 2, 2);
    let s = one_session(a);
    assert_eq!(problems(&s), vec![("unoffered_subprotocol", 2)]);
    assert_eq!(s.subprotocol.as_deref(), Some("mqtt"));
    assert_eq!(s.accept_valid, Some(true));
    assert!(!s.established);
}

#[test]
fn rfc6455_9_1_unoffered_extension_is_one_problem() {
    let mut a = AppAnalysis::new();
    a.message(
        &ws_request(&[("sec-websocket-extensions", "Permessage-Deflate; x=1")]),
        1,
        1,
    );
    a.message(
        &switching(&[(
            "sec-websocket-extensions",
            "permessage-deflate; server_no_context_takeover, foo, bar",
        )]),
        2,
        2,
    );
    let s = one_session(a);
    assert_eq!(problems(&s), vec![("unoffered_extension", 2)]);
    assert_eq!(
        s.extensions,
        vec![
            "permessage-deflate; server_no_context_takeover",
            "foo",
            "bar"
        ]
    );
    assert!(!s.established);
}

#[test]
fn rfc6455_4_2_2_wrong_accept_is_a_problem() {
    let mut a = AppAnalysis::new();
    a.message(&ws_request(&[]), 1, 1);
    let mut r = switching(&[]);
    r.headers.retain(|(n, _)| n != "sec-websocket-accept");
    r.headers.push((
        "sec-websocket-accept".into(),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAA=".into(),
    ));
    a.message(&r, 2, 2);
    // A switch is a switch: frames are still analysed.
    assert!(a.ws_active());
    let s = one_session(a);
    assert_eq!(problems(&s), vec![("wrong_accept", 2)]);
    assert_eq!(s.accept_valid, Some(false));
    assert!(!s.established);
}

#[test]
fn rfc6455_4_2_2_missing_accept_and_bad_response_headers() {
    let mut a = AppAnalysis::new();
    a.message(&ws_request(&[]), 1, 1);
    a.message(
        &resp(101, "Switching Protocols", "1.1", &[("upgrade", "h2c")]),
        2,
        2,
    );
    let s = one_session(a);
    assert_eq!(
        problems(&s),
        vec![
            ("missing_accept", 2),
            ("bad_upgrade_header", 2),
            ("bad_connection_header", 2)
        ]
    );
    assert_eq!(
        (s.sec_websocket_accept, s.accept_valid),
        (None, Some(false))
    );
}

#[test]
fn rfc6455_4_1_bad_version_and_connection_header_at_the_request_frame() {
    let mut a = AppAnalysis::new();
    let r = req(
        "GET",
        "/ws",
        "1.1",
        &[
            ("upgrade", "WebSocket"),
            ("connection", "keep-alive"),
            ("sec-websocket-key", KEY),
            ("sec-websocket-version", "8"),
        ],
    );
    a.message(&r, 1, 4);
    a.message(&switching(&[]), 2, 5);
    let s = one_session(a);
    assert_eq!(
        problems(&s),
        vec![("bad_version", 4), ("bad_connection_header", 4)]
    );
    assert_eq!(s.accept_valid, Some(true));
    assert!(!s.established);
}

#[test]
fn upgrade_request_body_done_moves_the_session_request_frame() {
    let mut a = AppAnalysis::new();
    let mut r = ws_request(&[("content-length", "3")]);
    r.headers.retain(|(n, _)| n != "sec-websocket-version");
    a.head(&r, 10, 1);
    a.body_done(true, &[], 30, 3);
    a.message(&switching(&[]), 40, 4);
    let (txs, s) = a.finish();
    assert_eq!(
        (txs[0].request_frame, txs[0].request_ts_ns),
        (Some(3), Some(30))
    );
    assert_eq!((s[0].request_frame, s[0].request_ts_ns), (3, 30));
    assert_eq!(s[0].problems, vec![("bad_version", 3)]);
}

#[test]
fn frames_go_to_the_last_switched_session() {
    let mut a = AppAnalysis::new();
    a.message(&ws_request(&[]), 1, 1);
    a.message(
        &resp(400, "Bad Request", "1.1", &[("content-length", "0")]),
        2,
        2,
    );
    a.message(&ws_request(&[]), 3, 3);
    a.message(&switching(&[]), 4, 4);
    a.ws_frame(true, &frame(1, true, true, 1), 5);
    let (txs, s) = a.finish();
    assert_eq!(txs.len(), 2);
    assert_eq!(s.len(), 2);
    assert_eq!((s[0].status, s[0].frames_c2s.text), (Some(400), 0));
    assert_eq!((s[1].status, s[1].frames_c2s.text), (Some(101), 1));
    assert_eq!(s[1].request_frame, 3);
}
