//! The connection record: the engine's output, one per TCP connection, UDP flow or ICMP
//! "connection". Field names and meanings are the project's record contract (README,
//! "Record contract"); the Zeek columns carry Zeek's exact meaning. Times stay integer
//! nanoseconds here; the bindings derive the float seconds.

use crate::app::analysis::{HttpTransaction, WebSocketSession};
use crate::app::connection::AppResult;
use crate::decode::Transport;
use crate::flow::counters::Counters;
use crate::flow::icmp::IcmpFlow;
use crate::flow::udp::UdpFlow;
use crate::flow::Endpoint;
use crate::tcp::endpoint::tcp_conn_state;
use crate::tcp::health::HealthFigures;
use crate::tcp::outcome::{self, Role};
use crate::tcp::TcpConnection;

#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionRecord {
    /// The tracker's serial number of the connection (not a column).
    pub id: u64,
    pub uid: String,
    pub proto: Transport,
    pub ip_version: u8,
    pub client: Endpoint,
    pub server: Endpoint,
    pub client_inferred: bool,
    pub first_ts_ns: i64,
    pub last_ts_ns: i64,
    pub handshake: Option<&'static str>,
    pub handshake_valid: Option<bool>,
    pub handshake_rtt_ns: Option<i64>,
    pub syn_retransmissions: u64,
    pub end: Option<&'static str>,
    pub closer: Option<&'static str>,
    pub rst_by: Option<&'static str>,
    pub client_state: Option<&'static str>,
    pub server_state: Option<&'static str>,
    pub time_wait: Option<&'static str>,
    pub packets_c2s: u64,
    pub packets_s2c: u64,
    pub bytes_c2s: u64,
    pub bytes_s2c: u64,
    pub conn_state: &'static str,
    pub history: String,
    /// Zeek's duration (first packet to the last one Zeek counted); None when zero.
    pub duration_zeek_ns: Option<i64>,
    pub orig_bytes: Option<u64>,
    pub resp_bytes: Option<u64>,
    pub missed_bytes: u64,
    pub orig_pkts: u64,
    pub orig_ip_bytes: u64,
    pub resp_pkts: u64,
    pub resp_ip_bytes: u64,
    pub first_frame: u64,
    pub last_frame: u64,
    pub zeek_flipped: bool,
    pub anomalies: Vec<String>,
    /// uids of the connections (or IP tunnels) this one was carried in, sorted.
    pub tunnel_parents: Vec<String>,
    /// Every frame number of the connection, when the tracker was asked to keep them.
    pub frames: Option<Vec<u32>>,
    /// HTTP requests and final responses, and whether a request asked for WebSocket.
    pub http_requests: u64,
    pub http_responses: u64,
    pub websocket: bool,
    pub transactions: Vec<HttpTransaction>,
    pub websockets: Vec<WebSocketSession>,
    /// TCP health (tcptrace's figures); None for UDP and ICMP.
    pub health: Option<Box<HealthFigures>>,
}

fn positive(ns: i64) -> Option<i64> {
    (ns > 0).then_some(ns)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

pub fn from_tcp(id: u64, c: TcpConnection, app: Option<AppResult>) -> ConnectionRecord {
    let (o, r) = (c.orig, 1 - c.orig);
    let (cs, ss) = (&c.sides[o], &c.sides[r]);
    let role = |side: usize| {
        if side == o {
            Role::Client
        } else {
            Role::Server
        }
    };
    let handshake = outcome::handshake(cs, ss);
    let (valid, rtt) = outcome::handshake_validity(handshake, cs, ss);
    let first_rst = c.first_rst.map(usize::from);
    let any_rst = first_rst.is_some();
    let fin_sides = usize::from(c.fins.contains(0)) + usize::from(c.fins.contains(1));
    let closer = outcome::closer(
        c.fins.first().map(role),
        c.simultaneous_close,
        first_rst.map(role),
        handshake,
    );
    let history = c.history.as_string();
    let uid = c.uid();
    let duration = positive(c.zeek_last_ns - c.first_ns);
    let app = app.unwrap_or_default();
    let health = HealthFigures::of(&c.health, o, c.last_ns - c.first_ns);
    let extra = c.extra.map(|x| *x).unwrap_or_default();
    let mut anomalies = extra.anomalies;
    anomalies.extend(
        app.anomalies
            .iter()
            .map(|(frame, name)| format!("frame {frame}: {name}")),
    );
    ConnectionRecord {
        id,
        uid,
        proto: Transport::Tcp,
        ip_version: c.ip_version,
        client: cs.endpoint(),
        server: ss.endpoint(),
        client_inferred: c.client_inferred,
        first_ts_ns: c.first_ns,
        last_ts_ns: c.last_ns,
        handshake: Some(handshake.as_str()),
        handshake_valid: valid,
        handshake_rtt_ns: rtt,
        syn_retransmissions: cs.syn_count,
        end: Some(outcome::end(any_rst, fin_sides)),
        closer: closer.map(Role::as_str),
        rst_by: first_rst.map(|s| role(s).as_str()),
        client_state: Some(cs.rfc.as_str()),
        server_state: Some(ss.rfc.as_str()),
        time_wait: outcome::time_wait(cs.rfc, ss.rfc).map(Role::as_str),
        packets_c2s: cs.packets,
        packets_s2c: ss.packets,
        bytes_c2s: cs.data.total().max(0) as u64,
        bytes_s2c: ss.data.total().max(0) as u64,
        conn_state: tcp_conn_state(&cs.z, &ss.z, &history),
        history,
        duration_zeek_ns: duration,
        orig_bytes: duration.map(|_| cs.z.size(&ss.z)),
        resp_bytes: duration.map(|_| ss.z.size(&cs.z)),
        missed_bytes: (cs.z.missed + ss.z.missed).max(0) as u64,
        orig_pkts: cs.z.pkts,
        orig_ip_bytes: cs.z.ip_bytes,
        resp_pkts: ss.z.pkts,
        resp_ip_bytes: ss.z.ip_bytes,
        first_frame: c.first_frame,
        last_frame: c.last_frame,
        zeek_flipped: false,
        anomalies,
        tunnel_parents: sorted(extra.tunnel_parents),
        frames: c.frames.map(|f| *f),
        http_requests: app.http_requests,
        http_responses: app.http_responses,
        websocket: app.websocket,
        transactions: app.transactions,
        websockets: app.websockets,
        health: Some(Box::new(health)),
    }
}

/// The record of a connection-less flow (UDP, ICMP): counts from `c`, Zeek's originator on
/// side `o` (0 or 1) of the counts, no TCP fields.
#[allow(clippy::too_many_arguments)]
fn flow_record(
    id: u64,
    uid: String,
    proto: Transport,
    ip_version: u8,
    client: Endpoint,
    server: Endpoint,
    c: &Counters,
    o: usize,
    conn_state: &'static str,
    history: String,
    tunnel_parents: Vec<String>,
) -> ConnectionRecord {
    let r = 1 - o;
    let duration = positive(c.zeek_last_ns - c.first_ns);
    ConnectionRecord {
        id,
        uid,
        proto,
        ip_version,
        client,
        server,
        client_inferred: false,
        first_ts_ns: c.first_ns,
        last_ts_ns: c.last_ns,
        handshake: None,
        handshake_valid: None,
        handshake_rtt_ns: None,
        syn_retransmissions: 0,
        end: None,
        closer: None,
        rst_by: None,
        client_state: None,
        server_state: None,
        time_wait: None,
        packets_c2s: c.pkts[0],
        packets_s2c: c.pkts[1],
        bytes_c2s: c.bytes[0],
        bytes_s2c: c.bytes[1],
        conn_state,
        history,
        duration_zeek_ns: duration,
        orig_bytes: duration.map(|_| c.bytes[o]),
        resp_bytes: duration.map(|_| c.bytes[r]),
        missed_bytes: 0,
        orig_pkts: c.z_pkts[o],
        orig_ip_bytes: c.z_ip_bytes[o],
        resp_pkts: c.z_pkts[r],
        resp_ip_bytes: c.z_ip_bytes[r],
        first_frame: c.first_frame,
        last_frame: c.last_frame,
        zeek_flipped: o == 1,
        anomalies: Vec::new(),
        tunnel_parents: sorted(tunnel_parents),
        frames: None,
        http_requests: 0,
        http_responses: 0,
        websocket: false,
        transactions: Vec::new(),
        websockets: Vec::new(),
        health: None,
    }
}

pub fn from_udp(id: u64, f: UdpFlow) -> ConnectionRecord {
    let (o, r) = if f.zeek_flipped { (1, 0) } else { (0, 1) };
    let c = &f.counts;
    let state = crate::tcp::endpoint::udp_conn_state(c.z_pkts[o] > 0, c.z_pkts[r] > 0);
    flow_record(
        id,
        f.uid,
        Transport::Udp,
        f.ip_version,
        f.client,
        f.server,
        &f.counts,
        o,
        state,
        f.history.as_string(),
        f.tunnel_parents,
    )
}

/// ICMP: Zeek's `conn_state()` knows only TCP and UDP, so every ICMP connection is `OTH`.
pub fn from_icmp(id: u64, f: IcmpFlow) -> ConnectionRecord {
    flow_record(
        id,
        f.uid,
        Transport::Icmp,
        f.ip_version,
        f.orig,
        f.resp,
        &f.counts,
        0,
        "OTH",
        f.history.as_string(),
        f.tunnel_parents,
    )
}
