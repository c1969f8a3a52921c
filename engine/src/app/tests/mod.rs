//! The parsers' tests, named after the RFC sections they cover; every test feeds literal
//! bytes (no capture, no tshark).

mod http;
mod ws;
