//! The application layer's tests, named after the RFC sections they cover: the parsers
//! and one connection's layer fed literal bytes and segments, the analysis fed literal
//! messages and frames (no capture, no tshark).

mod analysis;
mod connection;
mod http;
mod ws;
