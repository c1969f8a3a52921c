//! Application-layer parsers over reassembled TCP streams (foundation for native
//! HTTP/1.x and WebSocket analysis; not wired into the tracker yet).
//!
//! Every parser here is sans-IO and works on one direction's byte stream, reporting
//! events through a callback. None of them buffers message bodies: bodies and data
//! payloads are counted by length as they pass, only heads, chunk-size lines and
//! WebSocket frame headers (and close frames' first 125 bytes) are read.
//!
//! * [`http`]: HTTP/1.x messages (RFC 9112), one [`http::HttpParser`] per direction.
//! * [`ws`]: WebSocket frames (RFC 6455 §5), one [`ws::WsParser`] per direction.
//!
//! # Event flow for one TCP connection
//!
//! ```text
//!  segments ──► stream::Reassembler (one per direction)
//!                 │ Data{offset,data} ──► HttpParser::feed      (or WsParser::feed)
//!                 │ Skipped{len}      ──► HttpParser::skip
//!                 │ Gap{len}          ──► HttpParser::gap
//!                 │ Fin               ──► HttpParser::fin
//!                 ▲
//!                 └── after each call: Reassembler::skip(parser.skippable())
//!
//!  requests' HttpParser ── Head(request) ──► responses' HttpParser::expect_response_to
//!  responses' HttpParser ─ Head(status) ───► requests' HttpParser::peer_response
//!  either ── Upgrade{offset, buffered} ──► a WsParser for that direction, fed
//!            `buffered`, then the stream from `offset + buffered.len()` on
//! ```
//!
//! The caller knows each `Data` slice's stream offset, so when an `Upgrade` (or
//! `Tunnel`) arrives in the middle of a slice, the new protocol's bytes are
//! `data[(offset - slice_offset)..]`.

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

pub mod analysis;
pub mod connection;
pub mod http;
pub mod ws;

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
