//! pcap-analyzer's native engine: captures in, connection records out.
//!
//! Layers, one concern per module, arrows pointing one way:
//! `capture` (files: pcap, pcapng, gzip, zstd) → `decode` (link types, encapsulations,
//! IP, fragments, tunnels, TCP/UDP/ICMP) → `flow` (demultiplexing, Zeek's timers, port
//! reuse) → `tcp` (the RFC 9293 table, Zeek's endpoint steps, the outcome) → `stream`
//! (per-direction reassembly) → `app` (HTTP/1.x, WebSocket, their analysis) → `record`
//! (the output rows). `pipeline` joins them; `py` holds the Python bindings and nothing
//! else.
//!
//! Everything below `capture` is sans-IO: packets in, records out.

/// The allocator of everything that links the engine (the extension module, the
/// examples, the tests): the analysis makes many small allocations (header strings,
/// transactions), where mimalloc takes about half the time of the system allocator on the
/// large benchmark corpus (bench/results.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod app;
pub mod capture;
pub mod columns;
pub mod decode;
pub mod flow;
pub mod pipeline;
pub mod record;
pub mod stream;
pub mod tcp;

#[cfg(feature = "python")]
mod py;
