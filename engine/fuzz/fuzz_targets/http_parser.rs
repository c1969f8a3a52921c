//! The `http_parser` target: see `../drivers/http_parser.rs` for the input layout and the
//! checks (shared with `engine/tests/fuzz_regressions.rs`, which replays
//! `regressions/http_parser-*`).

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../drivers/http_parser.rs"]
mod driver;

fuzz_target!(|data: &[u8]| driver::run(data));
