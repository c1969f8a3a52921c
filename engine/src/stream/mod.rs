//! Per-direction TCP stream reassembly (foundation for HTTP/WebSocket; not wired yet).
//!
//! A [`Reassembler`] turns one direction's TCP segments (sequence number + payload) into
//! an ordered stream of [`StreamEvent`]s: contiguous bytes, bytes the consumer chose to
//! skip, bytes that were never captured, anomalies, and the end of the stream. It is
//! sans-IO: segments in, events out through a callback, no clock, no allocation beyond
//! the documented limits.
//!
//! Stream *offsets* are 64-bit positions counted from the first byte of the direction
//! (offset 0 has the sequence number given to [`Reassembler::new`]), so they never wrap
//! even though TCP sequence numbers do (RFC 9293 §3.4).
//!
//! The consumer of the stream advances its own position by the `len` of every `Data`,
//! `Skipped` and `Gap` event, in order; the three together tile the stream without
//! overlap, so a consumer's offset always equals [`Reassembler::delivered`] after each
//! call returns.

// For this module and every parser below it, checked by the compiler: no panic on any
// input (no unchecked arithmetic, indexing or unwrapping).
#![forbid(unsafe_code)]
#![deny(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

mod reassembler;

#[cfg(test)]
#[allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)] // tests may index, unwrap and panic: a failed assertion is the point
mod tests;

pub use reassembler::{
    Reassembler, StreamAnomaly, StreamEvent, MAX_BUFFERED, MAX_HELD_SEGMENTS, MAX_HISTORY,
    MAX_WINDOW,
};
