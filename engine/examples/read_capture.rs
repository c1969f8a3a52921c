//! Read a capture through the whole engine and print what it found: for profiling the
//! engine alone (`cargo run --release --example read_capture -- FILE`).

use pcap_analyzer_engine::pipeline::{CaptureRun, TrackerOptions};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: read_capture FILE");
        std::process::exit(2);
    };
    let mut run = match CaptureRun::open(
        std::path::Path::new(&path),
        TrackerOptions {
            // NO_APP=1 measures the engine without HTTP/WebSocket.
            parse_app: std::env::var_os("NO_APP").is_none(),
            ..TrackerOptions::default()
        },
    ) {
        Ok(run) => run,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(3);
        }
    };
    let (mut records, mut peak_open, mut peak_pending) = (0usize, 0usize, 0usize);
    while !run.is_finished() {
        match run.step(4096, 1 << 16) {
            Ok(recs) => records += recs.len(),
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(3);
            }
        }
        peak_open = peak_open.max(run.open_connections());
        peak_pending = peak_pending.max(run.pending());
    }
    println!(
        "frames {} packets {} records {records} peak open {peak_open} peak pending {peak_pending}",
        run.frames(),
        run.packets
    );
}
