//! The capture reader alone (`capture::CaptureReader`: format sniffing, gzip and zstd,
//! pcap and pcapng framing), on a whole file.
//!
//! Input layout: the capture file. Errors are expected results; a panic, an abort, a hang
//! or runaway memory is a bug.
//!
//! Checked with `assert!`: frames are numbered 1, 2, 3, ... with no gap; `frames_read()`
//! is the number of the last frame handed out; `bytes_read()` never goes back and never
//! passes the input's length; a frame's captured bytes are at most the record's (so at
//! most the input's length); once the reader says it is done (`Ok(None)` or an error) it
//! stays done; a truncation names a frame no later than the last one read.

use pcap_analyzer_engine::capture::CaptureReader;

/// Run one input (see the module docs).
pub fn run(data: &[u8]) {
    let Ok(mut reader) = CaptureReader::from_reader(Box::new(std::io::Cursor::new(data.to_vec())))
    else {
        return;
    };
    std::hint::black_box(reader.format());
    let mut number = 0u64;
    let mut bytes = 0u64;
    let mut end_seen = false;
    // Compressed inputs expand: bound the work per input (the reader's own limits are
    // what is under test, not the time a huge expansion takes).
    for _ in 0..200_000 {
        match reader.next_frame() {
            Ok(Some(f)) => {
                assert!(!end_seen, "a frame after the end");
                number += 1;
                assert_eq!(f.number, number, "frames numbered with a gap");
                std::hint::black_box((f.ts_ns, f.linktype, f.orig_len, f.data.len()));
            }
            Ok(None) | Err(_) => {
                if end_seen {
                    break;
                }
                end_seen = true;
            }
        }
        assert_eq!(
            reader.frames_read(),
            number,
            "frames_read is not the last frame"
        );
        assert!(reader.bytes_read() >= bytes, "bytes_read went back");
        bytes = reader.bytes_read();
    }
    if let Some(t) = reader.truncation() {
        assert!(
            t.after_frame <= number,
            "truncated after a frame never read"
        );
        std::hint::black_box(&t.detail);
    }
}
