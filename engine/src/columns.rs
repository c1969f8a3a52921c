//! Records as Arrow-layout column buffers: the native engine's batches for Parquet, built
//! without a Python object per value (the bindings wrap the bytes as Arrow arrays).
//!
//! The columns, their order and their types come from the caller ([`ColumnSpec`]: the
//! Python side's schema is the one source of truth); this module only knows how to take
//! each field out of a record. Float seconds are the integer nanoseconds divided exactly as
//! Python divides integers (correctly rounded), so that both sides give the same numbers.

#![forbid(unsafe_code)]

use crate::app::analysis::HttpTransaction;
use crate::record::ConnectionRecord;
use crate::tcp::health::{self, Figure};

/// What a column holds, as the caller's schema names it.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Str,
    Int64,
    /// Nullable int64.
    NInt64,
    Bool,
    /// Nullable bool.
    NBool,
    Float64,
    /// Dictionary-encoded strings: int8 codes into these categories.
    Category(Vec<String>),
    /// A list of strings.
    List,
    /// Timestamps in ns (taken from an integer field).
    Time,
}

impl Kind {
    pub fn parse(kind: &str, categories: Vec<String>) -> Option<Kind> {
        Some(match kind {
            "str" => Kind::Str,
            "int64" => Kind::Int64,
            "Int64" => Kind::NInt64,
            "bool" => Kind::Bool,
            "boolean" => Kind::NBool,
            "float64" => Kind::Float64,
            "category" => Kind::Category(categories),
            "list" => Kind::List,
            "time" => Kind::Time,
            _ => return None,
        })
    }
}

/// One column to build: the record field it comes from and its kind.
#[derive(Clone, Debug)]
pub struct ColumnSpec {
    pub field: String,
    pub kind: Kind,
}

/// Arrow buffers of one column (little-endian, as Arrow lays them out).
#[derive(Clone, Debug, PartialEq)]
pub enum Buffers {
    /// Fixed-width values (int64, float64, int8 codes, bit-packed bools) and validity.
    Fixed {
        validity: Option<Vec<u8>>,
        values: Vec<u8>,
    },
    /// large_string: i64 offsets and the bytes.
    Str {
        validity: Option<Vec<u8>>,
        offsets: Vec<u8>,
        data: Vec<u8>,
    },
    /// list<large_string>: i32 offsets into the child, the child's i64 offsets and bytes.
    List {
        offsets: Vec<u8>,
        child_offsets: Vec<u8>,
        child_data: Vec<u8>,
    },
}

/// A value taken out of a record.
enum Value<'a> {
    Int(Option<i64>),
    Float(Option<f64>),
    Bool(Option<bool>),
    Str(Option<&'a str>),
    Owned(String),
    List(&'a [String]),
}

const NS: i64 = 1_000_000_000;

/// `n / 1e9` correctly rounded (round half to even), as Python's `int / int` gives it.
pub fn div_ns(n: i64) -> f64 {
    if n.unsigned_abs() < (1 << 53) {
        return n as f64 / NS as f64; // both exact: one rounding
    }
    // The exact quotient written out in decimal, then parsed: Rust's float parsing rounds
    // correctly, so this is the double nearest to n / 10^9.
    let (sign, a) = if n < 0 {
        ("-", n.unsigned_abs())
    } else {
        ("", n.unsigned_abs())
    };
    let text = format!("{sign}{}.{:09}", a / 1_000_000_000, a % 1_000_000_000);
    text.parse().unwrap_or(n as f64 / NS as f64)
}

fn value<'a>(r: &'a ConnectionRecord, field: &str, capture: &'a str) -> Option<Value<'a>> {
    use Value::*;
    let ns = |x: Option<i64>| Float(x.map(div_ns));
    let u = |x: u64| Int(Some(i64::try_from(x).unwrap_or(i64::MAX)));
    Some(match field {
        "capture" => Str(Some(capture)),
        "uid" => Str(Some(&r.uid)),
        "proto" => Str(Some(r.proto.as_str())),
        "ip_version" => Int(Some(i64::from(r.ip_version))),
        "client_ip" => Owned(r.client.0.to_string()),
        "client_port" => Int(Some(i64::from(r.client.1))),
        "server_ip" => Owned(r.server.0.to_string()),
        "server_port" => Int(Some(i64::from(r.server.1))),
        "client_inferred" => Bool(Some(r.client_inferred)),
        "first_ts" => ns(Some(r.first_ts_ns)),
        "last_ts" => ns(Some(r.last_ts_ns)),
        "first_ts_ns" => Int(Some(r.first_ts_ns)),
        "last_ts_ns" => Int(Some(r.last_ts_ns)),
        "duration_s" => ns(Some(r.last_ts_ns.saturating_sub(r.first_ts_ns))),
        "handshake" => Str(r.handshake),
        "handshake_valid" => Bool(r.handshake_valid),
        "handshake_rtt_s" => ns(r.handshake_rtt_ns),
        "syn_retransmissions" => u(r.syn_retransmissions),
        "end" => Str(r.end),
        "closer" => Str(r.closer),
        "rst_by" => Str(r.rst_by),
        "client_state" => Str(r.client_state),
        "server_state" => Str(r.server_state),
        "time_wait" => Str(r.time_wait),
        "packets_c2s" => u(r.packets_c2s),
        "packets_s2c" => u(r.packets_s2c),
        "bytes_c2s" => u(r.bytes_c2s),
        "bytes_s2c" => u(r.bytes_s2c),
        "conn_state" => Str(Some(r.conn_state)),
        "history" => Str(Some(&r.history)),
        "duration_zeek" => ns(r.duration_zeek_ns),
        "orig_bytes" => Int(r.orig_bytes.map(|x| i64::try_from(x).unwrap_or(i64::MAX))),
        "resp_bytes" => Int(r.resp_bytes.map(|x| i64::try_from(x).unwrap_or(i64::MAX))),
        "missed_bytes" => u(r.missed_bytes),
        "orig_pkts" => u(r.orig_pkts),
        "orig_ip_bytes" => u(r.orig_ip_bytes),
        "resp_pkts" => u(r.resp_pkts),
        "resp_ip_bytes" => u(r.resp_ip_bytes),
        "http_requests" => u(r.http_requests),
        "http_responses" => u(r.http_responses),
        "websocket" => Bool(Some(r.websocket)),
        "first_frame" => u(r.first_frame),
        "last_frame" => u(r.last_frame),
        "zeek_flipped" => Bool(Some(r.zeek_flipped)),
        "anomalies" => List(&r.anomalies),
        "tunnel_parents" => List(&r.tunnel_parents),
        _ => match health::column_value(r.health.as_deref(), field)? {
            Figure::Int(x) => Int(x),
            Figure::Float(x) => Float(x),
            Figure::Bool(x) => Bool(x),
        },
    })
}

/// Validity bitmap (None when every value is there).
fn validity(present: &[bool]) -> Option<Vec<u8>> {
    if present.iter().all(|&p| p) {
        return None;
    }
    Some(bits(present))
}

fn bits(values: &[bool]) -> Vec<u8> {
    let mut out = vec![0u8; values.len().div_ceil(8)];
    for (i, &v) in values.iter().enumerate() {
        if v {
            if let Some(byte) = out.get_mut(i / 8) {
                *byte |= 1 << (i % 8);
            }
        }
    }
    out
}

/// Build every column of `spec` for `recs`; an unknown field or a value of the wrong kind
/// is an error naming the column.
pub fn build(
    spec: &[ColumnSpec],
    recs: &[ConnectionRecord],
    capture: &str,
) -> Result<Vec<Buffers>, String> {
    spec.iter().map(|c| column(c, recs, capture)).collect()
}

/// Build every column of `spec` for the HTTP transactions of `recs` (the `http` table:
/// the connection's uid and endpoints, then the transaction's fields), in record order.
pub fn build_http(
    spec: &[ColumnSpec],
    recs: &[ConnectionRecord],
    capture: &str,
) -> Result<Vec<Buffers>, String> {
    let rows: Vec<(&ConnectionRecord, &HttpTransaction)> = recs
        .iter()
        .flat_map(|r| r.transactions.iter().map(move |t| (r, t)))
        .collect();
    spec.iter()
        .map(|c| {
            let mut values = Vec::with_capacity(rows.len());
            for (r, t) in &rows {
                values.push(
                    http_value(r, t, &c.field, capture)
                        .ok_or_else(|| format!("no field {}", c.field))?,
                );
            }
            column_of(c, values)
        })
        .collect()
}

/// A value of the `http` table's row for transaction `t` of record `r`.
fn http_value<'a>(
    r: &'a ConnectionRecord,
    t: &'a HttpTransaction,
    field: &str,
    capture: &'a str,
) -> Option<Value<'a>> {
    use Value::*;
    let u = |x: Option<u64>| Int(x.map(|v| i64::try_from(v).unwrap_or(i64::MAX)));
    let s = |x: &'a Option<String>| Str(x.as_deref());
    Some(match field {
        "capture" => Str(Some(capture)),
        "uid" => Str(Some(&r.uid)),
        "client_ip" => Owned(r.client.0.to_string()),
        "client_port" => Int(Some(i64::from(r.client.1))),
        "server_ip" => Owned(r.server.0.to_string()),
        "server_port" => Int(Some(i64::from(r.server.1))),
        "trans_depth" => Int(Some(i64::from(t.trans_depth))),
        "request_ts" => Float(t.request_ts_ns.map(div_ns)),
        "response_ts" => Float(t.response_ts_ns.map(div_ns)),
        "method" => s(&t.method),
        "target" => s(&t.target),
        "host" => s(&t.host),
        "request_version" => s(&t.request_version),
        "user_agent" => s(&t.user_agent),
        "referrer" => s(&t.referrer),
        "origin" => s(&t.origin),
        "request_body_len" => u(t.request_body_len),
        "status" => Int(t.status.map(i64::from)),
        "reason" => s(&t.reason),
        "info_code" => Int(t.info_code.map(i64::from)),
        "info_msg" => s(&t.info_msg),
        "response_version" => s(&t.response_version),
        "response_body_len" => u(t.response_body_len),
        "chunked" => Bool(Some(t.chunked)),
        "keep_alive" => Bool(t.keep_alive),
        "request_frame" => u(t.request_frame),
        "response_frame" => u(t.response_frame),
        _ => return None,
    })
}

fn column(c: &ColumnSpec, recs: &[ConnectionRecord], capture: &str) -> Result<Buffers, String> {
    let mut values = Vec::with_capacity(recs.len());
    if let Some(h) = health::Column::parse(&c.field) {
        values.extend(recs.iter().map(|r| match h.value(r.health.as_deref()) {
            Figure::Int(x) => Value::Int(x),
            Figure::Float(x) => Value::Float(x),
            Figure::Bool(x) => Value::Bool(x),
        }));
        return column_of(c, values);
    }
    for r in recs {
        values.push(value(r, &c.field, capture).ok_or_else(|| format!("no field {}", c.field))?);
    }
    column_of(c, values)
}

/// The buffers of one column from its values.
fn column_of(c: &ColumnSpec, values: Vec<Value<'_>>) -> Result<Buffers, String> {
    let bad = || format!("column {} is not of kind {:?}", c.field, c.kind);
    Ok(match &c.kind {
        Kind::Int64 | Kind::NInt64 | Kind::Time => {
            let mut present = Vec::with_capacity(values.len());
            let mut out = Vec::with_capacity(values.len() * 8);
            for v in &values {
                let Value::Int(x) = v else { return Err(bad()) };
                present.push(x.is_some());
                out.extend_from_slice(&x.unwrap_or(0).to_le_bytes());
            }
            Buffers::Fixed {
                validity: validity(&present),
                values: out,
            }
        }
        Kind::Float64 => {
            let mut present = Vec::with_capacity(values.len());
            let mut out = Vec::with_capacity(values.len() * 8);
            for v in &values {
                let Value::Float(x) = v else {
                    return Err(bad());
                };
                present.push(x.is_some());
                out.extend_from_slice(&x.unwrap_or(0.0).to_le_bytes());
            }
            Buffers::Fixed {
                validity: validity(&present),
                values: out,
            }
        }
        Kind::Bool | Kind::NBool => {
            let mut present = Vec::with_capacity(values.len());
            let mut flags = Vec::with_capacity(values.len());
            for v in &values {
                let Value::Bool(x) = v else { return Err(bad()) };
                present.push(x.is_some());
                flags.push(x.unwrap_or(false));
            }
            Buffers::Fixed {
                validity: validity(&present),
                values: bits(&flags),
            }
        }
        Kind::Category(cats) => {
            let mut present = Vec::with_capacity(values.len());
            let mut codes = Vec::with_capacity(values.len());
            for v in &values {
                let s = match v {
                    Value::Str(s) => *s,
                    _ => return Err(bad()),
                };
                let code = match s {
                    None => None,
                    Some(s) => Some(
                        cats.iter()
                            .position(|c| c == s)
                            .ok_or_else(|| format!("{s:?} is not a category of {}", c.field))?,
                    ),
                };
                present.push(code.is_some());
                codes.push(code.map_or(0, |i| i8::try_from(i).unwrap_or(i8::MAX)) as u8);
            }
            Buffers::Fixed {
                validity: validity(&present),
                values: codes,
            }
        }
        Kind::Str => {
            let mut present = Vec::with_capacity(values.len());
            let mut offsets = Vec::with_capacity((values.len() + 1) * 8);
            let mut data = Vec::new();
            offsets.extend_from_slice(&0i64.to_le_bytes());
            for v in &values {
                let s: Option<&str> = match v {
                    Value::Str(s) => *s,
                    Value::Owned(s) => Some(s.as_str()),
                    _ => return Err(bad()),
                };
                present.push(s.is_some());
                data.extend_from_slice(s.unwrap_or("").as_bytes());
                offsets.extend_from_slice(&(data.len() as i64).to_le_bytes());
            }
            Buffers::Str {
                validity: validity(&present),
                offsets,
                data,
            }
        }
        Kind::List => {
            let mut offsets = Vec::with_capacity((values.len() + 1) * 4);
            let mut child_offsets = Vec::new();
            let mut child_data = Vec::new();
            let mut items = 0i32;
            offsets.extend_from_slice(&0i32.to_le_bytes());
            child_offsets.extend_from_slice(&0i64.to_le_bytes());
            for v in &values {
                let Value::List(list) = v else {
                    return Err(bad());
                };
                for s in list.iter() {
                    child_data.extend_from_slice(s.as_bytes());
                    child_offsets.extend_from_slice(&(child_data.len() as i64).to_le_bytes());
                    items = items.saturating_add(1);
                }
                offsets.extend_from_slice(&items.to_le_bytes());
            }
            Buffers::List {
                offsets,
                child_offsets,
                child_data,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn div_ns_rounds_like_python_int_division() {
        // Values from Python: repr(n / 1_000_000_000).
        assert_eq!(div_ns(1_700_000_000_001_000_000), 1700000000.001);
        assert_eq!(div_ns(1_795_686_857_824_633_000), 1795686857.824633);
        assert_eq!(div_ns(1_700_000_000_000_000_001), 1700000000.0);
        assert_eq!(div_ns(1_402_706_119_542_940_000), 1402706119.54294);
        assert_eq!(div_ns(2_810_000), 0.00281);
        assert_eq!(div_ns(-1_700_000_000_001_000_000), -1700000000.001);
        assert_eq!(div_ns(i64::MIN), -9223372036.854776);
    }

    #[test]
    fn a_bitmap_is_only_made_when_a_value_is_missing() {
        assert_eq!(validity(&[true, true]), None);
        assert_eq!(validity(&[true, false, true]), Some(vec![0b101]));
    }
}
