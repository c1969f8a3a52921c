//! TCP: the RFC 9293 transition table (`state`), Zeek's endpoint (`endpoint`) and its
//! steps (`zeek`), the connection that runs both side by side (`connection`), and the
//! outcome the record reports (`outcome`).

pub mod connection;
pub mod endpoint;
pub mod first;
pub mod health;
pub mod outcome;
pub mod state;
pub mod zeek;

#[cfg(test)]
mod health_tests;
#[cfg(test)]
mod tests;

pub use connection::TcpConnection;
