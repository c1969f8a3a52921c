//! Decoder tests from hand-made bytes, named after the RFC section or Zeek behaviour, and a
//! walk over the project's real captures checked against tshark.

mod builders;
mod real;
mod units;
