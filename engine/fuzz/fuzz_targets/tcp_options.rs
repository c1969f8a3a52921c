//! The `tcp_options` target: see `../drivers/tcp_options.rs` for the input layout and the checks
//! (shared with the stable runner, `../stable/main.rs`).

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../drivers/tcp_options.rs"]
mod driver;

fuzz_target!(|data: &[u8]| driver::run(data));
