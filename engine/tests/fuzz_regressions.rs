//! Every input that once crashed a fuzz target (engine/fuzz/regressions/) goes through the
//! whole chain again without a panic: capture → decode → tracker → records. The
//! `http_parser-*` and `ws_parser-*` inputs go through those targets' own drivers
//! (engine/fuzz/drivers/), with all their checks.

use std::path::PathBuf;

use pcap_analyzer_engine::capture::CaptureReader;
use pcap_analyzer_engine::pipeline::{CaptureRun, TrackerOptions};

#[path = "../fuzz/drivers/http_parser.rs"]
mod http_parser;
#[path = "../fuzz/drivers/ws_parser.rs"]
mod ws_parser;

fn run(data: &[u8], check_checksums: bool) -> usize {
    let Ok(reader) = CaptureReader::from_reader(Box::new(std::io::Cursor::new(data.to_vec())))
    else {
        return 0;
    };
    let opts = TrackerOptions {
        check_checksums,
        parse_app: true,
        ..TrackerOptions::default()
    };
    let mut run = CaptureRun::new(reader, opts);
    let mut records = 0;
    while !run.is_finished() {
        match run.step(64, 1 << 20) {
            Ok(recs) => records += recs.len(),
            Err(_) => break,
        }
    }
    records
}

#[test]
fn fuzz_regressions_run_clean() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let data = std::fs::read(entry.path()).expect("readable regression input");
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("http_parser-") {
            http_parser::run(&data);
        } else if name.starts_with("ws_parser-") {
            ws_parser::run(&data);
        } else {
            for check in [false, true] {
                run(&data, check);
            }
        }
        n += 1;
    }
    // The folder is kept in the repository with at least the inputs found so far.
    assert!(n >= 1, "no regression inputs in {}", dir.display());
}
