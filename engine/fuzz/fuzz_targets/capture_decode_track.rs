//! A whole capture file through the whole chain: capture (pcap, pcapng, gzip, zstd) →
//! decode → tracker → records.
//!
//! Input layout: byte 0 holds the options (bit 0: check checksums, bit 1: keep every
//! TCP connection's frame numbers); the rest is the capture file. Errors are expected
//! results; a panic, an abort, a hang or runaway memory is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pcap_analyzer_engine::capture::CaptureReader;
use pcap_analyzer_engine::pipeline::{CaptureRun, TrackerOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, file)) = data.split_first() else {
        return;
    };
    let opts = TrackerOptions {
        check_checksums: flags & 1 != 0,
        keep_frames: flags & 2 != 0,
        parse_app: true,
        ..Default::default()
    };
    let reader = match CaptureReader::from_reader(Box::new(std::io::Cursor::new(file.to_vec()))) {
        Ok(r) => r,
        Err(_) => return,
    };
    let mut run = CaptureRun::new(reader, opts);
    // Small batches, so that the loop around `step` is exercised too.
    while !run.is_finished() {
        match run.step(64, 1 << 20) {
            Ok(records) => {
                for r in &records {
                    std::hint::black_box(format!("{r:?}"));
                }
            }
            Err(e) => {
                std::hint::black_box(e.to_string());
                break;
            }
        }
    }
    std::hint::black_box((run.frames(), run.bytes_read(), run.open_connections(), run.truncation()));
});
