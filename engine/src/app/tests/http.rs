//! HTTP/1.x parser tests, named after the RFC 9112 (and RFC 9110) sections they cover.
//! Every test feeds literal bytes.

use crate::app::http::*;
use crate::stream::{Reassembler, StreamEvent};

/// Feeds `chunks` in order, then (if `fin`) the end of the stream.
fn run(p: &mut HttpParser, chunks: &[&[u8]], fin: bool) -> Vec<HttpEvent> {
    let mut evs = Vec::new();
    for c in chunks {
        p.feed(c, &mut |e| evs.push(e));
    }
    if fin {
        p.fin(&mut |e| evs.push(e));
    }
    evs
}

fn parse(chunks: &[&[u8]], fin: bool) -> Vec<HttpEvent> {
    run(&mut HttpParser::new(), chunks, fin)
}

/// Feeds `data` one byte at a time.
fn parse_bytewise(data: &[u8], fin: bool) -> Vec<HttpEvent> {
    let chunks: Vec<&[u8]> = data.chunks(1).collect();
    parse(&chunks, fin)
}

fn heads(evs: &[HttpEvent]) -> Vec<&HttpMessage> {
    evs.iter()
        .filter_map(|e| match e {
            HttpEvent::Head { message, .. } => Some(message),
            _ => None,
        })
        .collect()
}

/// `(chunk_sizes, body_len)` of every `BodyDone`.
fn bodies(evs: &[HttpEvent]) -> Vec<(Vec<u64>, u64)> {
    evs.iter()
        .filter_map(|e| match e {
            HttpEvent::BodyDone {
                chunk_sizes,
                body_len,
                ..
            } => Some((chunk_sizes.clone(), *body_len)),
            _ => None,
        })
        .collect()
}

fn anomalies(evs: &[HttpEvent]) -> Vec<&'static str> {
    evs.iter()
        .filter_map(|e| match e {
            HttpEvent::Anomaly { kind, .. } => Some(kind.name()),
            _ => None,
        })
        .collect()
}

fn request(method: &str) -> HttpMessage {
    HttpMessage {
        is_request: true,
        method: Some(method.to_string()),
        target: Some("/".to_string()),
        version: Some("1.1".to_string()),
        ..HttpMessage::default()
    }
}

/// A responses-direction parser that was told about `methods` requests.
fn responses_to(methods: &[&str]) -> HttpParser {
    let mut p = HttpParser::new();
    for m in methods {
        p.expect_response_to(&request(m), &mut |_| {});
    }
    p
}

fn statuses(evs: &[HttpEvent]) -> Vec<Option<u16>> {
    heads(evs).iter().map(|m| m.status).collect()
}

// ----- start lines and detection (§2, §3, §4) ------------------------------------------

#[test]
fn rfc9112_3_request_line_and_fields_are_parsed() {
    let evs = parse(
        // Only the fields the analysis reads are kept (ANALYZED_HEADERS): Accept is not.
        &[b"GET /index.html?q=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent:   v a l  \r\nACCEPT:*/*\r\nCONNECTION:close\r\n\r\n"],
        false,
    );
    assert_eq!(
        evs,
        vec![
            HttpEvent::Head {
                offset: 0,
                message: HttpMessage {
                    is_request: true,
                    method: Some("GET".into()),
                    target: Some("/index.html?q=1".into()),
                    version: Some("1.1".into()),
                    headers: vec![
                        ("host".into(), "example.com".into()),
                        ("user-agent".into(), "v a l".into()),
                        ("connection".into(), "close".into()),
                    ],
                    ..HttpMessage::default()
                },
            },
            HttpEvent::BodyDone {
                end: 104,
                chunk_sizes: vec![],
                body_len: 0
            },
        ]
    );
}

#[test]
fn rfc9112_4_status_line_is_parsed() {
    let evs = parse(
        &[b"HTTP/1.0 404 Not Found\r\nContent-Length: 3\r\n\r\nabc"],
        false,
    );
    let m = heads(&evs)[0];
    assert!(!m.is_request);
    assert_eq!(m.version.as_deref(), Some("1.0"));
    assert_eq!(m.status, Some(404));
    assert_eq!(m.reason.as_deref(), Some("Not Found"));
    assert_eq!(m.method, None);
    assert_eq!(bodies(&evs), vec![(vec![], 3)]);
    // A status line without a reason phrase.
    let evs = parse(&[b"HTTP/1.1 204\r\n\r\n"], false);
    assert_eq!(heads(&evs)[0].reason.as_deref(), Some(""));
}

#[test]
fn rfc9112_2_2_empty_lines_before_a_start_line_are_ignored() {
    let evs = parse(&[b"\r\n\r\nGET / HTTP/1.1\r\n\r\n"], false);
    assert!(matches!(evs[0], HttpEvent::Head { offset: 4, .. }));
    // Also between pipelined requests (a stray CRLF after a body).
    let evs = parse(
        &[b"POST /a HTTP/1.1\r\nContent-Length: 1\r\n\r\nx\r\nGET /b HTTP/1.1\r\n\r\n"],
        false,
    );
    assert_eq!(heads(&evs).len(), 2);
    assert!(anomalies(&evs).is_empty());
}

#[test]
fn rfc9112_2_1_non_http_data_is_reported_once_and_ignored() {
    // A TLS ClientHello.
    let evs = parse(
        &[
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            b"GET / HTTP/1.1\r\n\r\n",
        ],
        true,
    );
    assert_eq!(evs, vec![HttpEvent::NotHttp { offset: 0 }]);
    // An SSH banner: a token, a space, but no HTTP version and not GET.
    let evs = parse(&[b"SSH-2.0-OpenSSH_9.6 Ubuntu\r\n"], false);
    assert_eq!(evs, vec![HttpEvent::NotHttp { offset: 0 }]);
    // A long binary run without spaces is rejected early, not buffered to the limit.
    let mut p = HttpParser::new();
    let evs = run(&mut p, &[&[b'A'; 40]], false);
    assert_eq!(evs, vec![HttpEvent::NotHttp { offset: 0 }]);
    assert!(p.is_done());
    assert_eq!(p.is_request(), None);
}

#[test]
fn rfc9112_c_1_http09_request_and_headless_response() {
    let mut req = HttpParser::new();
    let evs = run(&mut req, &[b"GET /old/page.html\r\n"], false);
    assert_eq!(evs.len(), 2);
    let m = heads(&evs)[0].clone();
    assert_eq!(m.method.as_deref(), Some("GET"));
    assert_eq!(m.target.as_deref(), Some("/old/page.html"));
    assert_eq!(m.version.as_deref(), Some("0.9"));
    assert!(m.headers.is_empty());
    assert_eq!(bodies(&evs), vec![(vec![], 0)]);

    // The response has no status line: all of it, to the close, is the body.
    let mut resp = HttpParser::new();
    resp.expect_response_to(&m, &mut |_| {});
    let evs = run(&mut resp, &[b"<ht", b"ml>hello</html>\n"], true);
    let h = heads(&evs)[0];
    assert_eq!(h.version.as_deref(), Some("0.9"));
    assert_eq!(h.status, None);
    assert_eq!(bodies(&evs), vec![(vec![], 19)]);

    // A tiny body shorter than "HTTP/".
    let mut resp = HttpParser::new();
    resp.expect_response_to(&m, &mut |_| {});
    let evs = run(&mut resp, &[b"ok"], true);
    assert_eq!(bodies(&evs), vec![(vec![], 2)]);

    // A server that answers an HTTP/0.9 request with a status line after all.
    let mut resp = HttpParser::new();
    resp.expect_response_to(&m, &mut |_| {});
    let evs = run(&mut resp, &[b"HTTP/1.0 200 OK\r\n\r\nbody"], true);
    assert_eq!(statuses(&evs), vec![Some(200)]);
    assert_eq!(bodies(&evs), vec![(vec![], 4)]);
}

#[test]
fn rfc9112_c_1_http09_response_split_inside_the_status_line_probe() {
    // Found by the http_parser fuzz target (regressions/http_parser-http09-probe-split):
    // the probe for a status line ran only on an empty head buffer, so a response split
    // after a prefix of "HTTP/" was parsed as a head (NotHttp here) instead of a body.
    let request = heads(&parse(&[b"GET /old\r\n"], false))[0].clone();
    let respond = |chunks: &[&[u8]]| {
        let mut resp = HttpParser::new();
        resp.expect_response_to(&request, &mut |_| {});
        run(&mut resp, chunks, true)
    };
    let body: &[u8] = b"Hello world\n";
    let whole = respond(&[body]);
    assert_eq!(heads(&whole)[0].version.as_deref(), Some("0.9"));
    assert_eq!(bodies(&whole), vec![(vec![], 12)]);
    let status: &[u8] = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let with_status = respond(&[status]);
    assert_eq!(statuses(&with_status), vec![Some(200)]);
    assert_eq!(bodies(&with_status), vec![(vec![], 2)]);
    for (stream, expect) in [(body, &whole), (status, &with_status)] {
        for cut in 1..stream.len() {
            let (a, b) = stream.split_at(cut);
            assert_eq!(&respond(&[a, b]), expect, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(&respond(&bytes), expect);
    }
}

#[test]
fn rfc9112_5_header_lines_split_across_segments() {
    let whole: &[u8] = b"GET /x HTTP/1.1\r\nHost: a.example\r\nUser-Agent: curl/8\r\n\r\n";
    let expect = parse(&[whole], false);
    for cut in 1..whole.len() {
        let (a, b) = whole.split_at(cut);
        assert_eq!(parse(&[a, b], false), expect, "cut at {cut}");
    }
    assert_eq!(parse_bytewise(whole, false), expect);
}

#[test]
fn rfc9110_5_4_too_many_header_fields_stop_parsing() {
    let mut head = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..=MAX_HEADERS {
        head.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    let evs = parse(&[&head, b"GET / HTTP/1.1\r\n\r\n"], false);
    assert_eq!(anomalies(&evs), vec!["http_too_many_headers"]);
    assert!(heads(&evs).is_empty());
}

#[test]
fn rfc9110_5_4_head_longer_than_max_head_len_stops_parsing() {
    let mut p = HttpParser::new();
    let mut evs = Vec::new();
    p.feed(b"GET / HTTP/1.1\r\n", &mut |e| evs.push(e));
    let line = format!("X-Long: {}\r\n", "a".repeat(1000));
    for _ in 0..(MAX_HEAD_LEN / line.len() + 1) {
        p.feed(line.as_bytes(), &mut |e| evs.push(e));
    }
    p.feed(b"\r\n", &mut |e| evs.push(e));
    assert_eq!(anomalies(&evs), vec!["http_head_too_long"]);
    assert!(heads(&evs).is_empty());
    assert!(p.is_done());
    // Nothing after is parsed, and the offset still counts every byte.
    let before = p.offset();
    p.feed(b"GET / HTTP/1.1\r\n\r\n", &mut |e| evs.push(e));
    assert_eq!(p.offset(), before + 18);
    assert_eq!(anomalies(&evs).len(), 1);
}

#[test]
fn rfc9112_3_malformed_head_after_detection_is_an_anomaly() {
    let evs = parse(&[b"GET / HTTP/1.1\r\n\r\n\x00\x01binary\r\n\r\n"], false);
    assert_eq!(heads(&evs).len(), 1);
    assert_eq!(anomalies(&evs), vec!["http_malformed_head"]);
    // A status line on a direction that carried requests.
    let evs = parse(&[b"GET / HTTP/1.1\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"], false);
    assert_eq!(anomalies(&evs), vec!["http_malformed_head"]);
}

#[test]
fn rfc9112_3_malformed_start_is_reported_just_past_the_byte_that_rules_it_out() {
    // Found by the http_parser fuzz target (regressions/http_parser-malformed-head-offset):
    // the anomaly used to be reported at the end of whichever piece held the offending
    // byte, so its offset depended on the segmentation.
    let stream: &[u8] = b"GET / HTTP/1.1\r\n\r\nGE\x01T /x HTTP/1.1\r\n\r\n";
    let whole = parse(&[stream], true);
    assert_eq!(
        whole.last(),
        Some(&HttpEvent::Anomaly {
            offset: 21,
            kind: HttpAnomaly::MalformedHead
        })
    );
    assert_eq!(parse_bytewise(stream, true), whole);
    for cut in 1..stream.len() {
        let (a, b) = stream.split_at(cut);
        assert_eq!(parse(&[a, b], true), whole, "cut at {cut}");
    }
}

// ----- §6.3 message body length, rule by rule ------------------------------------------

#[test]
fn rfc9112_6_3_rule1_response_to_head_has_no_body() {
    let mut p = responses_to(&["HEAD", "GET"]);
    let evs = run(
        &mut p,
        &[b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"],
        false,
    );
    assert_eq!(statuses(&evs), vec![Some(200), Some(200)]);
    assert_eq!(bodies(&evs), vec![(vec![], 0), (vec![], 2)]);
}

#[test]
fn rfc9112_6_3_rule1_1xx_204_304_have_no_body() {
    let mut p = responses_to(&["GET", "GET", "GET"]);
    let evs = run(
        &mut p,
        &[b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n\
            HTTP/1.1 204 No Content\r\nContent-Length: 50\r\n\r\n\
            HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n\
            HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz"],
        false,
    );
    assert_eq!(
        statuses(&evs),
        vec![Some(103), Some(204), Some(304), Some(200)]
    );
    assert_eq!(
        bodies(&evs),
        vec![(vec![], 0), (vec![], 0), (vec![], 0), (vec![], 1)]
    );
    assert!(anomalies(&evs).is_empty());
}

#[test]
fn rfc9112_6_3_rule1_interim_100_continue_then_final_200() {
    // The request: Expect: 100-continue, body sent after the 100.
    let mut req = HttpParser::new();
    let evs = run(
        &mut req,
        &[
            b"PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n",
            b"data",
        ],
        false,
    );
    assert_eq!(bodies(&evs), vec![(vec![], 4)]);
    let mut resp = HttpParser::new();
    resp.expect_response_to(heads(&evs)[0], &mut |_| {});
    let evs = run(
        &mut resp,
        &[b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"],
        false,
    );
    assert_eq!(statuses(&evs), vec![Some(100), Some(201)]);
    assert_eq!(bodies(&evs).len(), 2);
    // 100 did not consume the pending request: a HEAD's interim response keeps it.
    let mut p = responses_to(&["HEAD"]);
    let evs = run(
        &mut p,
        &[b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"],
        false,
    );
    assert_eq!(bodies(&evs), vec![(vec![], 0), (vec![], 0)]);
}

#[test]
fn rfc9112_6_3_rule2_2xx_to_connect_is_a_tunnel() {
    let mut req = HttpParser::new();
    let evs = run(
        &mut req,
        &[b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01"],
        false,
    );
    assert_eq!(heads(&evs)[0].method.as_deref(), Some("CONNECT"));
    assert_eq!(bodies(&evs), vec![(vec![], 0)]);
    let connect = heads(&evs)[0].clone();
    // The response: 200, with a Content-Length that rule 2 ignores.
    let mut resp = HttpParser::new();
    resp.expect_response_to(&connect, &mut |_| {});
    let head = b"HTTP/1.1 200 Connection established\r\nContent-Length: 99\r\n\r\n";
    let mut data = head.to_vec();
    data.extend_from_slice(b"\x16\x03\x03");
    let evs = run(&mut resp, &[&data], false);
    assert_eq!(
        evs.last(),
        Some(&HttpEvent::Tunnel {
            offset: head.len() as u64,
            buffered: vec![]
        })
    );
    // The request side learns of it and hands back the bytes it held meanwhile.
    let mut evs = Vec::new();
    req.peer_response(200, &mut |e| evs.push(e));
    assert_eq!(
        evs,
        vec![HttpEvent::Tunnel {
            offset: 59,
            buffered: b"\x16\x03\x01".to_vec()
        }]
    );
    assert!(req.is_done());
}

#[test]
fn rfc9112_6_3_rule2_refused_connect_resumes_http() {
    let mut req = HttpParser::new();
    let mut evs = run(
        &mut req,
        &[b"CONNECT h:443 HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n"],
        false,
    );
    assert_eq!(heads(&evs).len(), 1, "held until the response is known");
    req.peer_response(407, &mut |e| evs.push(e));
    assert_eq!(heads(&evs).len(), 2);
    assert!(matches!(evs[2], HttpEvent::Head { offset: 26, .. }));
}

#[test]
fn rfc9112_6_3_rule3_transfer_encoding_overrides_content_length() {
    let evs = parse(
        &[b"POST / HTTP/1.1\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n"],
        false,
    );
    assert_eq!(anomalies(&evs), vec!["http_te_and_cl"]);
    assert_eq!(bodies(&evs), vec![(vec![3, 0], 3), (vec![], 0)]);
}

#[test]
fn rfc9112_6_3_rule4_chunked_as_final_coding() {
    let evs = parse(
        &[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\n\x1f\x8b\r\n0\r\n\r\n"],
        false,
    );
    assert_eq!(bodies(&evs), vec![(vec![2, 0], 2)]);
}

#[test]
fn rfc9112_6_3_rule4_response_not_chunked_runs_until_close() {
    let evs = parse(
        &[
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            b"0\r\n\r\nmore",
        ],
        true,
    );
    assert_eq!(bodies(&evs), vec![(vec![], 9)]);
    assert!(anomalies(&evs).is_empty());
}

#[test]
fn rfc9112_6_3_rule4_request_not_chunked_is_an_anomaly() {
    let evs = parse(
        &[b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nxyz"],
        true,
    );
    assert_eq!(anomalies(&evs), vec!["http_request_te_not_chunked"]);
    assert_eq!(bodies(&evs), vec![(vec![], 3)]);
}

#[test]
fn rfc9112_6_3_rule5_invalid_content_length() {
    for bad in ["12abc", "-1", "", "0x10", "1 2"] {
        let msg = format!("HTTP/1.1 200 OK\r\nContent-Length: {bad}\r\n\r\nbody");
        let evs = parse(&[msg.as_bytes()], true);
        assert_eq!(
            anomalies(&evs),
            vec!["http_invalid_content_length"],
            "{bad:?}"
        );
        assert_eq!(
            bodies(&evs),
            vec![(vec![], 4)],
            "body runs to the end: {bad:?}"
        );
    }
}

#[test]
fn rfc9112_6_3_rule5_conflicting_and_repeated_content_length() {
    let evs = parse(
        &[b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"],
        true,
    );
    assert_eq!(anomalies(&evs), vec!["http_conflicting_content_length"]);
    assert_eq!(bodies(&evs), vec![(vec![], 6)]);
    // The same value repeated, in one field or in two, is valid (§6.3 rule 5).
    let evs = parse(
        &[b"POST / HTTP/1.1\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n"],
        false,
    );
    assert!(anomalies(&evs).is_empty());
    assert_eq!(bodies(&evs), vec![(vec![], 5), (vec![], 0)]);
}

#[test]
fn rfc9112_6_3_rule5_absurd_content_length_is_an_anomaly_not_a_crash() {
    for huge in [
        "18446744073709551615", // 2^64 - 1
        "18446744073709551616", // 2^64: overflows u64
        "9007199254740993",     // 2^53 + 1 > MAX_BODY_LEN
        "99999999999999999999999999999999999999",
    ] {
        let msg = format!("HTTP/1.1 200 OK\r\nContent-Length: {huge}\r\n\r\npartial");
        let evs = parse(&[msg.as_bytes()], true);
        assert_eq!(
            anomalies(&evs),
            vec!["http_content_length_too_large"],
            "{huge}"
        );
        assert_eq!(bodies(&evs), vec![(vec![], 7)], "{huge}");
    }
    // Exactly MAX_BODY_LEN is believed.
    let msg = format!("HTTP/1.1 200 OK\r\nContent-Length: {MAX_BODY_LEN}\r\n\r\n");
    let mut p = HttpParser::new();
    let evs = run(&mut p, &[msg.as_bytes()], false);
    assert!(anomalies(&evs).is_empty());
    assert_eq!(p.skippable(), MAX_BODY_LEN);
}

#[test]
fn rfc9112_6_3_rule6_content_length_delimits_the_body() {
    let mut p = HttpParser::new();
    let evs = run(
        &mut p,
        &[
            b"POST /up HTTP/1.1\r\nContent-Length: 10\r\n\r\n01234",
            b"56789GET",
        ],
        false,
    );
    assert_eq!(
        evs.last(),
        Some(&HttpEvent::BodyDone {
            end: 51,
            chunk_sizes: vec![],
            body_len: 10
        })
    );
    // A body cut short by the end of the stream is truncated.
    let evs = parse(&[b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"], true);
    assert_eq!(anomalies(&evs), vec!["http_truncated_message"]);
    assert!(bodies(&evs).is_empty());
}

#[test]
fn rfc9112_6_3_rule7_request_without_length_has_no_body() {
    let evs = parse(
        &[b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"],
        false,
    );
    assert_eq!(bodies(&evs), vec![(vec![], 0), (vec![], 0)]);
    let targets: Vec<_> = heads(&evs).iter().map(|m| m.target.clone()).collect();
    assert_eq!(targets, vec![Some("/a".into()), Some("/b".into())]);
}

#[test]
fn rfc9112_6_3_rule8_response_without_length_runs_until_close() {
    let mut p = responses_to(&["GET"]);
    let evs = run(
        &mut p,
        &[
            b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nline one\n",
            b"HTTP/1.1 200 OK\r\n",
        ],
        false,
    );
    assert!(bodies(&evs).is_empty(), "not done before the close");
    assert_eq!(p.skippable(), u64::MAX);
    let mut evs = Vec::new();
    p.fin(&mut |e| evs.push(e));
    assert_eq!(bodies(&evs), vec![(vec![], 26)]);
}

// ----- §7.1 chunked transfer coding ----------------------------------------------------

const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
    5;name=value;quoted=\"a;b\"\r\nhello\r\n\
    1A\r\nabcdefghijklmnopqrstuvwxyz\r\n\
    0 ; last\r\nExpires: never\r\nX-Checksum: 1234\r\n\r\n\
    HTTP/1.1 204 No Content\r\n\r\n";

#[test]
fn rfc9112_7_1_1_chunk_extensions_are_ignored() {
    let mut p = responses_to(&["GET", "GET"]);
    let evs = run(&mut p, &[CHUNKED], false);
    assert_eq!(bodies(&evs), vec![(vec![5, 26, 0], 31), (vec![], 0)]);
    assert!(anomalies(&evs).is_empty());
    assert_eq!(statuses(&evs), vec![Some(200), Some(204)]);
}

#[test]
fn rfc9112_7_1_2_trailer_section_ends_the_body() {
    let evs = parse(&[CHUNKED], false);
    let end = evs
        .iter()
        .find_map(|e| match e {
            HttpEvent::BodyDone { end, .. } => Some(*end),
            _ => None,
        })
        .unwrap();
    let trailers_end = CHUNKED.windows(4).position(|w| w == b"34\r\n").unwrap() + 6;
    assert_eq!(end as usize, trailers_end);
}

#[test]
fn rfc9112_7_1_chunk_sizes_across_segment_boundaries() {
    let expect = {
        let mut p = responses_to(&["GET", "GET"]);
        run(&mut p, &[CHUNKED], false)
    };
    for cut in 1..CHUNKED.len() {
        let (a, b) = CHUNKED.split_at(cut);
        let mut p = responses_to(&["GET", "GET"]);
        assert_eq!(run(&mut p, &[a, b], false), expect, "cut at {cut}");
    }
    let mut p = responses_to(&["GET", "GET"]);
    let chunks: Vec<&[u8]> = CHUNKED.chunks(1).collect();
    assert_eq!(run(&mut p, &chunks, false), expect, "byte by byte");
}

#[test]
fn rfc9112_7_1_bare_lf_line_endings_are_tolerated() {
    let evs = parse(
        &[b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n"],
        false,
    );
    assert_eq!(bodies(&evs), vec![(vec![3, 0], 3)]);
}

#[test]
fn rfc9112_7_1_invalid_chunk_size_stops_parsing() {
    for bad in [
        &b"zz\r\n"[..],
        b"\r\n",
        b"12345678901234567\r\n",
        b"5 x\r\n",
    ] {
        let mut msg = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        msg.extend_from_slice(bad);
        let mut p = HttpParser::new();
        let evs = run(&mut p, &[&msg], false);
        assert_eq!(anomalies(&evs), vec!["http_invalid_chunk_size"], "{bad:?}");
        assert!(p.is_done());
    }
    // A chunk-size line longer than the limit.
    let mut msg = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;".to_vec();
    msg.extend(std::iter::repeat_n(b'x', MAX_CHUNK_LINE_LEN));
    let evs = parse(&[&msg], false);
    assert_eq!(anomalies(&evs), vec!["http_invalid_chunk_size"]);
    // Chunks adding up past MAX_BODY_LEN.
    let evs = parse(
        &[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\n"],
        false,
    );
    assert_eq!(anomalies(&evs), vec!["http_invalid_chunk_size"]);
}

#[test]
fn rfc9112_7_1_chunk_data_without_crlf_stops_parsing() {
    let evs = parse(
        &[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n"],
        false,
    );
    assert_eq!(anomalies(&evs), vec!["http_chunk_missing_crlf"]);
}

// ----- §9.3.2 pipelining; RFC 9110 §7.8 Upgrade -------------------------------------

#[test]
fn rfc9112_9_3_2_pipelined_requests_and_their_responses() {
    let reqs: &[u8] = b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n\
        HEAD /2 HTTP/1.1\r\nHost: h\r\n\r\n\
        POST /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc\
        GET /4 HTTP/1.1\r\nHost: h\r\n\r\n";
    let mut req = HttpParser::new();
    let evs = run(&mut req, &[reqs], false);
    let methods: Vec<_> = heads(&evs)
        .iter()
        .map(|m| m.method.clone().unwrap())
        .collect();
    assert_eq!(methods, vec!["GET", "HEAD", "POST", "GET"]);
    let offsets: Vec<u64> = evs
        .iter()
        .filter_map(|e| match e {
            HttpEvent::Head { offset, .. } => Some(*offset),
            _ => None,
        })
        .collect();
    assert_eq!(offsets, vec![0, 28, 57, 108]);
    let mut resp = HttpParser::new();
    for m in heads(&evs) {
        resp.expect_response_to(m, &mut |_| {});
    }
    let evs = run(
        &mut resp,
        &[b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi\
            HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n\
            HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n\
            HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n!"],
        false,
    );
    assert_eq!(
        bodies(&evs),
        vec![(vec![], 2), (vec![], 0), (vec![0], 0), (vec![], 1)]
    );
}

#[test]
fn rfc9110_7_8_upgrade_101_ends_http_on_both_directions() {
    let upgrade_req: &[u8] =
        b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";
    let mut req = HttpParser::new();
    let mut evs = run(&mut req, &[upgrade_req], false);
    let m = heads(&evs)[0].clone();
    assert_eq!(m.header("upgrade"), Some("websocket"));

    let mut resp = HttpParser::new();
    resp.expect_response_to(&m, &mut |_| {});
    let head: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    let mut data = head.to_vec();
    data.extend_from_slice(b"\x81\x05Hello");
    let revs = run(&mut resp, &[&data], false);
    assert_eq!(statuses(&revs), vec![Some(101)]);
    assert_eq!(
        revs.last(),
        Some(&HttpEvent::Upgrade {
            offset: head.len() as u64,
            buffered: vec![]
        })
    );
    assert!(resp.is_done());
    assert_eq!(resp.skippable(), 0);

    // The client's first frame arrived before the caller relayed the 101.
    req.feed(b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58", &mut |e| {
        evs.push(e)
    });
    assert_eq!(anomalies(&evs), Vec::<&str>::new());
    req.peer_response(101, &mut |e| evs.push(e));
    assert_eq!(
        evs.last(),
        Some(&HttpEvent::Upgrade {
            offset: upgrade_req.len() as u64,
            buffered: b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58".to_vec()
        })
    );
    assert!(req.is_done());
}

#[test]
fn rfc9110_7_8_declined_upgrade_resumes_http() {
    let mut req = HttpParser::new();
    let mut evs = run(
        &mut req,
        &[b"GET / HTTP/1.1\r\nUpgrade: h2c\r\n\r\nGET /next HTTP/1.1\r\n\r\n"],
        false,
    );
    req.peer_response(100, &mut |e| evs.push(e)); // interim: still waiting
    assert_eq!(heads(&evs).len(), 1);
    req.peer_response(200, &mut |e| evs.push(e));
    let targets: Vec<_> = heads(&evs)
        .iter()
        .map(|m| m.target.clone().unwrap())
        .collect();
    assert_eq!(targets, vec!["/", "/next"]);
    assert!(!req.is_done());
}

#[test]
fn rfc9110_7_8_unanswered_upgrade_is_bounded() {
    let mut req = HttpParser::new();
    let mut evs = run(&mut req, &[b"GET / HTTP/1.1\r\nUpgrade: x\r\n\r\n"], false);
    let junk = vec![0u8; MAX_UPGRADE_HELD + 1];
    req.feed(&junk, &mut |e| evs.push(e));
    assert_eq!(anomalies(&evs), vec!["http_upgrade_unanswered"]);
    assert!(req.is_done());
}

// ----- gaps, skipping, the end of the stream -------------------------------------------

#[test]
fn rfc9112_6_3_gap_inside_a_known_length_body_keeps_message_boundaries() {
    let mut p = HttpParser::new();
    let mut evs = run(
        &mut p,
        &[b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nab"],
        false,
    );
    p.gap(90, &mut |e| evs.push(e));
    p.feed(b"12345678HTTP/1.1 204 No Content\r\n\r\n", &mut |e| {
        evs.push(e)
    });
    assert_eq!(bodies(&evs), vec![(vec![], 100), (vec![], 0)]);
    assert!(anomalies(&evs).is_empty());
}

#[test]
fn rfc9112_6_3_gap_in_a_head_loses_the_boundaries() {
    let mut p = HttpParser::new();
    let mut evs = run(&mut p, &[b"GET / HTTP/1.1\r\nHo"], false);
    p.gap(10, &mut |e| evs.push(e));
    p.feed(b"GET / HTTP/1.1\r\n\r\n", &mut |e| evs.push(e));
    assert_eq!(anomalies(&evs), vec!["http_content_gap"]);
    assert!(heads(&evs).is_empty());
    // A gap that runs past the end of a body into the next head.
    let mut p = HttpParser::new();
    let mut evs = run(
        &mut p,
        &[b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"],
        false,
    );
    p.gap(20, &mut |e| evs.push(e));
    assert_eq!(bodies(&evs), vec![(vec![], 5)]);
    assert_eq!(anomalies(&evs), vec!["http_content_gap"]);
    assert_eq!(p.offset(), 38 + 20);
}

#[test]
fn rfc9112_7_1_gap_inside_chunk_data_is_counted() {
    let mut p = HttpParser::new();
    let mut evs = run(
        &mut p,
        &[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nab"],
        false,
    );
    assert_eq!(p.skippable(), 14);
    p.skip(14, &mut |e| evs.push(e));
    p.feed(b"\r\n0\r\n\r\n", &mut |e| evs.push(e));
    assert_eq!(bodies(&evs), vec![(vec![16, 0], 16)]);
}

#[test]
fn rfc9112_8_stream_ending_inside_a_head_is_truncated() {
    let evs = parse(&[b"GET / HTTP/1.1\r\nHost: x\r\n"], true);
    assert_eq!(anomalies(&evs), vec!["http_truncated_message"]);
    // A clean end between messages is not.
    let evs = parse(&[b"GET / HTTP/1.1\r\n\r\n"], true);
    assert!(anomalies(&evs).is_empty());
}

#[test]
fn rfc9112_6_3_bodies_are_skipped_through_the_reassembler_not_buffered() {
    // End to end: segments → Reassembler → HttpParser, with the body skipped.
    let head: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n";
    let body = vec![b'b'; 20000];
    let next: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";
    let mut stream = head.to_vec();
    stream.extend_from_slice(&body);
    stream.extend_from_slice(next);
    let isn = 4_000_000_000u32;
    let mut r = Reassembler::new(isn);
    let mut p = HttpParser::new();
    let mut evs = Vec::new();
    let deliver = |r: &mut Reassembler,
                   p: &mut HttpParser,
                   seq: u32,
                   seg: &[u8],
                   evs: &mut Vec<HttpEvent>| {
        r.segment(seq, seg, &mut |ev| match ev {
            StreamEvent::Data { data, .. } => p.feed(data, &mut |e| evs.push(e)),
            StreamEvent::Skipped { len, .. } => p.skip(len, &mut |e| evs.push(e)),
            StreamEvent::Gap { len, .. } => p.gap(len, &mut |e| evs.push(e)),
            StreamEvent::Fin { .. } => p.fin(&mut |e| evs.push(e)),
            StreamEvent::Anomaly { .. } => {}
        });
        r.skip(p.skippable());
    };
    // First segment: the head and the body's first 1000 bytes.
    let first = head.len() + 1000;
    deliver(&mut r, &mut p, isn, &stream[..first], &mut evs);
    assert_eq!(p.skippable(), 19000);
    // The rest arrives in reverse order (out of order): nothing is buffered for it.
    let mut at = stream.len();
    let mut segs = Vec::new();
    while at > first {
        let start = at.saturating_sub(1448).max(first);
        segs.push((start, at));
        at = start;
    }
    for (s, e) in segs {
        deliver(
            &mut r,
            &mut p,
            isn.wrapping_add(s as u32),
            &stream[s..e],
            &mut evs,
        );
        assert!(r.buffered() <= next.len(), "only the next head may be held");
    }
    assert_eq!(statuses(&evs), vec![Some(200), Some(204)]);
    assert_eq!(bodies(&evs), vec![(vec![], 20000), (vec![], 0)]);
    assert_eq!(p.offset(), stream.len() as u64);
}

// ----- robustness ----------------------------------------------------------------------

#[test]
fn every_split_and_bytewise_feeding_give_the_same_events() {
    let transcript: &[u8] = b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
        4;x=y\r\nwiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nT: v\r\n\r\n\
        GET /b HTTP/1.0\r\nContent-Length: 0\r\n\r\nGET /c\r\n";
    let whole = parse(&[transcript], true);
    assert_eq!(
        bodies(&whole),
        vec![(vec![4, 5, 14, 0], 23), (vec![], 0), (vec![], 0)]
    );
    assert_eq!(parse_bytewise(transcript, true), whole);
    for cut in 1..transcript.len() {
        let (a, b) = transcript.split_at(cut);
        assert_eq!(parse(&[a, b], true), whole, "cut at {cut}");
    }
}

#[test]
fn limit_anomalies_are_reported_one_byte_past_the_limit_whatever_the_split() {
    // Found with the http_parser fuzz target's split check (a chunk-size line longer than
    // MAX_CHUNK_LINE_LEN; regressions/http_parser-chunk-line-limit-offset): a limit
    // anomaly used to be reported at the end of whichever
    // piece crossed the limit. Heads, trailers and held upgrade bytes had the same code.
    let chunked: &[u8] = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    let upgrade: &[u8] = b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n";
    let long = vec![b'a'; 70_000];
    let cat = |parts: &[&[u8]]| parts.concat();
    let cases = [
        (
            cat(&[chunked, b"1;", &long[..5000], b"\r\n"]),
            HttpAnomaly::InvalidChunkSize,
            chunked.len() + MAX_CHUNK_LINE_LEN + 1,
        ),
        (
            cat(&[b"GET / HTTP/1.1\r\nX: ", &long, b"\r\n\r\n"]),
            HttpAnomaly::HeadTooLong,
            MAX_HEAD_LEN + 1,
        ),
        (
            cat(&[chunked, b"0\r\nX: ", &long, b"\r\n\r\n"]),
            HttpAnomaly::HeadTooLong,
            chunked.len() + 3 + MAX_HEAD_LEN + 1,
        ),
        (
            cat(&[upgrade, &long]),
            HttpAnomaly::UpgradeUnanswered,
            upgrade.len() + MAX_UPGRADE_HELD + 1,
        ),
    ];
    for (stream, kind, at) in cases {
        let whole = parse(&[&stream], true);
        let offset = at as u64;
        assert!(
            whole.contains(&HttpEvent::Anomaly { offset, kind }),
            "{kind:?} at {offset}: {whole:?}"
        );
        for cut in [1, at - 2, at - 1, at, at + 1, stream.len() - 1] {
            let (a, b) = stream.split_at(cut);
            assert_eq!(parse(&[a, b], true), whole, "{kind:?}, cut at {cut}");
        }
        let pieces: Vec<&[u8]> = stream.chunks(1000).collect();
        assert_eq!(parse(&pieces, true), whole, "{kind:?} in pieces of 1000");
    }
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut x: u64 = 0x1234_5678_9abc_def1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let alphabet: &[u8] = b"HTTP/1.1 200 GET \r\n:0123456789abcdefABCDEF;chunkedtransfer-encodingcontent-length\x00\xff";
    for _ in 0..300 {
        let len = (next() % 400) as usize;
        let data: Vec<u8> = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        for start in [&b"GET / HTTP/1.1\r\n"[..], b"HTTP/1.1 200 OK\r\n", b""] {
            let mut p = HttpParser::new();
            let mut all = start.to_vec();
            all.extend_from_slice(&data);
            let mut rest: &[u8] = &all;
            while !rest.is_empty() {
                let n = 1 + (next() % 50) as usize;
                let (a, b) = rest.split_at(n.min(rest.len()));
                p.feed(a, &mut |_| {});
                if next() % 10 == 0 {
                    p.gap(next() % 20, &mut |_| {});
                }
                rest = b;
            }
            p.fin(&mut |_| {});
        }
    }
}

#[test]
fn rfc9110_7_8_101_relayed_before_the_upgrade_request_body_ends() {
    let mut req = HttpParser::new();
    let mut evs = run(
        &mut req,
        &[b"POST /ws HTTP/1.1\r\nUpgrade: websocket\r\nContent-Length: 4\r\n\r\nab"],
        false,
    );
    req.peer_response(101, &mut |e| evs.push(e));
    assert!(!req.is_done(), "the body is still being read");
    req.feed(b"cd\x81\x00", &mut |e| evs.push(e));
    assert_eq!(bodies(&evs), vec![(vec![], 4)]);
    assert_eq!(
        evs.last(),
        Some(&HttpEvent::Upgrade {
            offset: 64,
            buffered: vec![]
        })
    );
    assert!(req.is_done());
    // The caller hands the rest of that slice, from the offset on, to the next parser.
}

#[test]
fn rfc9110_7_8_upgrade_response_after_the_client_fin_still_switches() {
    let mut req = HttpParser::new();
    let mut evs = run(
        &mut req,
        &[b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x88\x80\x00\x00\x00\x00"],
        true,
    );
    req.peer_response(101, &mut |e| evs.push(e));
    assert_eq!(
        evs.last(),
        Some(&HttpEvent::Upgrade {
            offset: 38,
            buffered: b"\x88\x80\x00\x00\x00\x00".to_vec()
        })
    );
}
