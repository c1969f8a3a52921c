//! A whole capture file through the whole chain: capture (pcap, pcapng, gzip, zstd) →
//! decode → tracker → records, as `pipeline::CaptureRun` drives it.
//!
//! Input layout: byte 0 holds the options (bit 0: check checksums, bit 1: keep every
//! TCP connection's frame numbers); the rest is the capture file. Errors are expected
//! results; a panic, an abort, a hang or runaway memory is a bug.
//!
//! Checked with `assert!`: the frame count never goes back, and a read that stopped early
//! names a frame no later than the last one read.

use pcap_analyzer_engine::capture::CaptureReader;
use pcap_analyzer_engine::pipeline::{CaptureRun, TrackerOptions};

/// Run one input (see the module docs).
pub fn run(data: &[u8]) {
    let Some((&flags, file)) = data.split_first() else {
        return;
    };
    let opts = TrackerOptions {
        check_checksums: flags & 1 != 0,
        keep_frames: flags & 2 != 0,
        parse_app: true,
        ..Default::default()
    };
    let Ok(reader) = CaptureReader::from_reader(Box::new(std::io::Cursor::new(file.to_vec())))
    else {
        return;
    };
    let mut run = CaptureRun::new(reader, opts);
    let mut frames = 0;
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
        assert!(run.frames() >= frames, "the frame count went back");
        frames = run.frames();
    }
    if let Some(t) = run.truncation() {
        assert!(
            t.after_frame <= run.frames(),
            "truncated after a frame never read"
        );
    }
    std::hint::black_box((run.frames(), run.bytes_read(), run.open_connections()));
}
