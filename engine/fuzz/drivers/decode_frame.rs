//! One frame straight into the decoder, and its packets into a tracker.
//!
//! Input layout: bytes 0-1 (little endian) pick the link type, value % 9 among
//! NULL, Ethernet, RAW (12), RAW (101), LOOP, Linux SLL, IPv4, IPv6 and Linux SLL2, and
//! (value / 9) & 1 turns checksum checks on; bytes 2-3 (little endian) are added to the
//! captured length to give the length on the wire (a truncated capture); the rest is the
//! frame. Errors are expected results; a panic, an abort or a hang is a bug.

use pcap_analyzer_engine::capture::Frame;
use pcap_analyzer_engine::decode::{DecodeOptions, Decoder, Packet};
use pcap_analyzer_engine::pipeline::{Tracker, TrackerOptions};

const LINKTYPES: [u32; 9] = [0, 1, 12, 101, 108, 113, 228, 229, 276];

/// Run one input (see the module docs).
pub fn run(data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let sel = usize::from(u16::from_le_bytes([data[0], data[1]]));
    let linktype = LINKTYPES[sel % LINKTYPES.len()];
    let check = (sel / LINKTYPES.len()) & 1 != 0;
    let extra = u32::from(u16::from_le_bytes([data[2], data[3]]));
    let bytes = &data[4..];
    let frame = Frame {
        number: 1,
        ts_ns: 1_000_000_000,
        linktype,
        data: bytes,
        orig_len: u32::try_from(bytes.len())
            .unwrap_or(u32::MAX)
            .saturating_add(extra),
    };
    let mut decoder = Decoder::new(DecodeOptions {
        check_checksums: check,
    });
    let mut packets: Vec<Packet<'_>> = Vec::new();
    if decoder.decode(&frame, &mut packets).is_err() {
        return;
    }
    let mut tracker = Tracker::new(TrackerOptions {
        check_checksums: check,
        keep_frames: true,
        ..Default::default()
    });
    for p in &packets {
        tracker.feed(p);
    }
    tracker.finish();
    for r in tracker.take_records() {
        std::hint::black_box(format!("{r:?}"));
    }
}
