//! One TCP connection's application layer (`app::connection::AppConnection`: both
//! directions' reassembly, the HTTP and WebSocket parsers, their analysis) fed segments
//! as the tracker would, with the bytes of each direction taken from the input.
//!
//! Input layout:
//! * byte 0: options: bit 0 a handshake first (SYN, SYN-ACK: the streams start at the
//!   ISNs; otherwise mid-stream), bit 1 keep notes (`with_notes`), bit 2 the server
//!   speaks first, bits 3-4 how often ACKs acknowledge more than was sent (holes), bit 5
//!   end with FIN each way (else RST from a random side or nothing, by bit 6);
//! * bytes 1-2 (little endian): where the rest splits into client / server bytes;
//! * byte 3: the segment size (value + 1);
//! * the rest: client bytes, then server bytes, sent in turn a segment at a time, with
//!   every eighth segment of a direction held back and sent after the next one (out of
//!   order), every thirteenth sent twice (a retransmission), and a byte of the split
//!   deciding whether the copy differs.
//!
//! Checked with `assert!`: the result's counts agree with its lists (no more transactions
//! than requests + responses, WebSocket sessions only with `websocket`), anomaly names
//! appear once, at most `MAX_APP_ANOMALIES` of them.

use pcap_analyzer_engine::app::connection::{AppConnection, Segment, MAX_APP_ANOMALIES};

struct Side {
    isn: u32,
    sent: u32,
}

/// Run one input (see the module docs).
pub fn run(data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let flags = data[0];
    let split = usize::from(u16::from_le_bytes([data[1], data[2]]));
    let mss = usize::from(data[3]) + 1;
    let rest = &data[4..];
    let split = split.min(rest.len());
    let (client, server) = rest.split_at(split);
    let mut app = AppConnection::new(true);
    if flags & 2 != 0 {
        app = app.with_notes();
    }
    let mut sides = [
        Side { isn: 1000, sent: 0 },
        Side {
            isn: 0xFFFF_FF00,
            sent: 0,
        },
    ];
    let mut frame = 0u64;
    let mut ts = 1_000_000_000i64;
    let hole = u32::from((flags >> 3) & 3);
    let mut seg = |app: &mut AppConnection,
                   side: usize,
                   seq: u32,
                   ack: u32,
                   syn: bool,
                   fin: bool,
                   rst: bool,
                   payload: &[u8]| {
        frame += 1;
        ts += 1000;
        app.segment(&Segment {
            side,
            from_client: side == 0,
            seq,
            ack,
            syn,
            fin,
            rst,
            has_ack: !(syn && side == 0),
            payload,
            payload_len: u32::try_from(payload.len()).unwrap_or(u32::MAX),
            ts_ns: ts,
            frame,
        });
        std::hint::black_box(app.take_notes().len());
    };
    if flags & 1 != 0 {
        seg(
            &mut app,
            0,
            sides[0].isn.wrapping_sub(1),
            0,
            true,
            false,
            false,
            &[],
        );
        seg(
            &mut app,
            1,
            sides[1].isn.wrapping_sub(1),
            sides[0].isn,
            true,
            false,
            false,
            &[],
        );
    } else {
        app.set_first_seq(0, sides[0].isn);
        app.set_first_seq(1, sides[1].isn);
    }
    let streams = [client, server];
    let mut pos = [0usize, 0usize];
    let mut held: [Option<(u32, usize, usize)>; 2] = [None, None];
    let mut count = [0u32, 0u32];
    let first = usize::from(flags & 4 != 0);
    let mut turn = first;
    let mut guard = 0;
    while (pos[0] < streams[0].len() || pos[1] < streams[1].len()) && guard < 100_000 {
        guard += 1;
        let d = turn;
        turn ^= 1;
        if pos[d] >= streams[d].len() {
            continue;
        }
        let start = pos[d];
        let end = (start + mss).min(streams[d].len());
        pos[d] = end;
        count[d] += 1;
        let seq = sides[d].isn.wrapping_add(start as u32);
        let peer = d ^ 1;
        let ack = sides[peer].isn.wrapping_add(sides[peer].sent).wrapping_add(
            if hole != 0 && count[d].is_multiple_of(8 / hole.max(1)) {
                7
            } else {
                0
            },
        );
        sides[d].sent = end as u32;
        if count[d].is_multiple_of(8) && held[d].is_none() {
            held[d] = Some((seq, start, end));
            continue;
        }
        seg(
            &mut app,
            d,
            seq,
            ack,
            false,
            false,
            false,
            &streams[d][start..end],
        );
        if let Some((hseq, hs, he)) = held[d].take() {
            seg(
                &mut app,
                d,
                hseq,
                ack,
                false,
                false,
                false,
                &streams[d][hs..he],
            );
        }
        if count[d].is_multiple_of(13) {
            let mut copy = streams[d][start..end].to_vec();
            if split % 2 == 1 {
                if let Some(b) = copy.first_mut() {
                    *b ^= 0x20;
                }
            }
            seg(&mut app, d, seq, ack, false, false, false, &copy);
        }
    }
    for d in 0..2 {
        if let Some((hseq, hs, he)) = held[d].take() {
            let ack = sides[d ^ 1].isn.wrapping_add(sides[d ^ 1].sent);
            seg(
                &mut app,
                d,
                hseq,
                ack,
                false,
                false,
                false,
                &streams[d][hs..he],
            );
        }
    }
    let fin_seq = |s: &Side| s.isn.wrapping_add(s.sent);
    if flags & 0x20 != 0 {
        let (a, b) = (fin_seq(&sides[0]), fin_seq(&sides[1]));
        seg(&mut app, 0, a, b, false, true, false, &[]);
        seg(&mut app, 1, b, a.wrapping_add(1), false, true, false, &[]);
        seg(
            &mut app,
            0,
            a.wrapping_add(1),
            b.wrapping_add(1),
            false,
            false,
            false,
            &[],
        );
    } else if flags & 0x40 != 0 {
        let d = usize::from(flags & 0x80 != 0);
        let (s, a) = (fin_seq(&sides[d]), fin_seq(&sides[d ^ 1]));
        seg(&mut app, d, s, a, false, false, true, &[]);
    }
    std::hint::black_box(app.is_idle());
    let result = app.finish();
    assert!(
        result.anomalies.len() <= MAX_APP_ANOMALIES,
        "too many anomalies"
    );
    for (i, (_, name)) in result.anomalies.iter().enumerate() {
        assert!(
            !result.anomalies[..i].iter().any(|(_, n)| n == name),
            "anomaly {name} noted twice"
        );
    }
    assert!(
        result.websockets.is_empty() || result.websocket,
        "WebSocket sessions without websocket"
    );
    std::hint::black_box(format!("{result:?}"));
}
