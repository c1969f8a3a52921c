//! pcap-analyzer's native engine: captures in, connection records out.
//!
//! Layers, one concern per module, arrows pointing one way:
//! `capture` (files: pcap, pcapng, gzip, zstd) → `decode` (link types, encapsulations,
//! IP, fragments, tunnels, TCP/UDP/ICMP) → `flow` (demultiplexing, Zeek's timers, port
//! reuse) → `tcp` (the RFC 9293 table, Zeek's endpoint steps, the outcome) → `record`
//! (the output rows). `py` holds the Python bindings and nothing else.
//!
//! Everything below `capture` is sans-IO: packets in, records out.

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
