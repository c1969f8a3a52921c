//! The Python bindings (`analyzer._engine`), and nothing else: conversions between the
//! engine's types and Python objects.

use std::net::IpAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use crate::app::analysis::{FrameCounts, HttpTransaction, MessageCounts, WebSocketSession};
use crate::app::connection::Note;
use crate::app::http::HttpMessage;
use crate::app::ws::WsFrame;
use crate::columns::{build, build_http, Buffers, ColumnSpec, Kind};
use crate::decode::shard::Shard;
use crate::decode::{Packet, Transport, Tunnel, TunnelKind};
use crate::pipeline::{
    CaptureRun, Conn, LoaderApp, RunError, SegmentView, Tracker as CoreTracker, TrackerOptions,
};
use crate::record::ConnectionRecord;
use crate::tcp::health::{self, Figure};

create_exception!(
    analyzer._engine,
    CaptureFormatError,
    PyException,
    "The file cannot be read as a capture."
);
create_exception!(
    analyzer._engine,
    UnsupportedCapture,
    PyException,
    "A link type or encapsulation the engine does not decode (read it with tshark)."
);
create_exception!(
    analyzer._engine,
    EnginePanic,
    PyException,
    "An internal error in the engine."
);

fn panic_message(e: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = e.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = e.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_owned()
    }
}

fn record_dict<'py>(py: Python<'py>, r: &ConnectionRecord) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("id", r.id)?;
    d.set_item("uid", &r.uid)?;
    d.set_item("proto", r.proto.as_str())?;
    d.set_item("ip_version", r.ip_version)?;
    d.set_item("client_ip", r.client.0.to_string())?;
    d.set_item("client_port", r.client.1)?;
    d.set_item("server_ip", r.server.0.to_string())?;
    d.set_item("server_port", r.server.1)?;
    d.set_item("client_inferred", r.client_inferred)?;
    d.set_item("first_ts_ns", r.first_ts_ns)?;
    d.set_item("last_ts_ns", r.last_ts_ns)?;
    d.set_item("handshake", r.handshake)?;
    d.set_item("handshake_valid", r.handshake_valid)?;
    d.set_item("handshake_rtt_ns", r.handshake_rtt_ns)?;
    d.set_item("syn_retransmissions", r.syn_retransmissions)?;
    d.set_item("end", r.end)?;
    d.set_item("closer", r.closer)?;
    d.set_item("rst_by", r.rst_by)?;
    d.set_item("client_state", r.client_state)?;
    d.set_item("server_state", r.server_state)?;
    d.set_item("time_wait", r.time_wait)?;
    d.set_item("packets_c2s", r.packets_c2s)?;
    d.set_item("packets_s2c", r.packets_s2c)?;
    d.set_item("bytes_c2s", r.bytes_c2s)?;
    d.set_item("bytes_s2c", r.bytes_s2c)?;
    d.set_item("conn_state", r.conn_state)?;
    d.set_item("history", &r.history)?;
    d.set_item("duration_zeek_ns", r.duration_zeek_ns)?;
    d.set_item("orig_bytes", r.orig_bytes)?;
    d.set_item("resp_bytes", r.resp_bytes)?;
    d.set_item("missed_bytes", r.missed_bytes)?;
    d.set_item("orig_pkts", r.orig_pkts)?;
    d.set_item("orig_ip_bytes", r.orig_ip_bytes)?;
    d.set_item("resp_pkts", r.resp_pkts)?;
    d.set_item("resp_ip_bytes", r.resp_ip_bytes)?;
    d.set_item("first_frame", r.first_frame)?;
    d.set_item("last_frame", r.last_frame)?;
    d.set_item("zeek_flipped", r.zeek_flipped)?;
    d.set_item("anomalies", PyTuple::new(py, &r.anomalies)?)?;
    d.set_item("tunnel_parents", PyTuple::new(py, &r.tunnel_parents)?)?;
    match &r.frames {
        Some(f) => d.set_item("frames", PyList::new(py, f)?)?,
        None => d.set_item("frames", py.None())?,
    }
    d.set_item("http_requests", r.http_requests)?;
    d.set_item("http_responses", r.http_responses)?;
    d.set_item("websocket", r.websocket)?;
    d.set_item("transactions", transactions_list(py, &r.transactions)?)?;
    d.set_item("websockets", sessions_list(py, &r.websockets)?)?;
    for (name, column) in health::columns() {
        d.set_item(name, figure_py(py, column.value(r.health.as_deref()))?)?;
    }
    Ok(d)
}

/// A health figure as a Python value (None when null).
fn figure_py(py: Python<'_>, f: Figure) -> PyResult<Bound<'_, PyAny>> {
    Ok(match f {
        Figure::Int(x) => x.into_pyobject(py)?.into_any(),
        Figure::Float(x) => x.into_pyobject(py)?.into_any(),
        Figure::Bool(x) => x.into_pyobject(py)?.to_owned().into_any(),
    })
}

fn transaction_dict<'py>(py: Python<'py>, t: &HttpTransaction) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("trans_depth", t.trans_depth)?;
    d.set_item("request_ts_ns", t.request_ts_ns)?;
    d.set_item("method", &t.method)?;
    d.set_item("target", &t.target)?;
    d.set_item("host", &t.host)?;
    d.set_item("request_version", &t.request_version)?;
    d.set_item("user_agent", &t.user_agent)?;
    d.set_item("referrer", &t.referrer)?;
    d.set_item("origin", &t.origin)?;
    d.set_item("request_body_len", t.request_body_len)?;
    d.set_item("status", t.status)?;
    d.set_item("reason", &t.reason)?;
    d.set_item("response_version", &t.response_version)?;
    d.set_item("response_ts_ns", t.response_ts_ns)?;
    d.set_item("response_body_len", t.response_body_len)?;
    d.set_item("info_code", t.info_code)?;
    d.set_item("info_msg", &t.info_msg)?;
    d.set_item("chunked", t.chunked)?;
    d.set_item("keep_alive", t.keep_alive)?;
    d.set_item("request_frame", t.request_frame)?;
    d.set_item("response_frame", t.response_frame)?;
    Ok(d)
}

fn transactions_list<'py>(
    py: Python<'py>,
    txs: &[HttpTransaction],
) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for t in txs {
        out.append(transaction_dict(py, t)?)?;
    }
    Ok(out)
}

fn frame_counts<'py>(py: Python<'py>, c: &FrameCounts) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("text", c.text)?;
    d.set_item("binary", c.binary)?;
    d.set_item("continuation", c.continuation)?;
    d.set_item("ping", c.ping)?;
    d.set_item("pong", c.pong)?;
    d.set_item("close", c.close)?;
    Ok(d)
}

fn message_counts<'py>(py: Python<'py>, c: &MessageCounts) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("text", c.text)?;
    d.set_item("binary", c.binary)?;
    Ok(d)
}

fn session_dict<'py>(py: Python<'py>, w: &WebSocketSession) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("request_ts_ns", w.request_ts_ns)?;
    d.set_item("request_target", &w.request_target)?;
    d.set_item("host", &w.host)?;
    d.set_item("origin", &w.origin)?;
    d.set_item("user_agent", &w.user_agent)?;
    d.set_item("sec_websocket_key", &w.sec_websocket_key)?;
    d.set_item("sec_websocket_version", &w.sec_websocket_version)?;
    d.set_item(
        "offered_subprotocols",
        PyTuple::new(py, &w.offered_subprotocols)?,
    )?;
    d.set_item(
        "offered_extensions",
        PyTuple::new(py, &w.offered_extensions)?,
    )?;
    d.set_item("status", w.status)?;
    d.set_item("response_ts_ns", w.response_ts_ns)?;
    d.set_item("sec_websocket_accept", &w.sec_websocket_accept)?;
    d.set_item("accept_valid", w.accept_valid)?;
    d.set_item("subprotocol", &w.subprotocol)?;
    d.set_item("extensions", PyTuple::new(py, &w.extensions)?)?;
    d.set_item("established", w.established)?;
    d.set_item("frames_c2s", frame_counts(py, &w.frames_c2s)?)?;
    d.set_item("frames_s2c", frame_counts(py, &w.frames_s2c)?)?;
    d.set_item("messages_c2s", message_counts(py, &w.messages_c2s)?)?;
    d.set_item("messages_s2c", message_counts(py, &w.messages_s2c)?)?;
    d.set_item("payload_bytes_c2s", w.payload_bytes_c2s)?;
    d.set_item("payload_bytes_s2c", w.payload_bytes_s2c)?;
    d.set_item("close_code", w.close_code)?;
    d.set_item("close_reason", &w.close_reason)?;
    d.set_item("close_by", w.close_by)?;
    d.set_item("reply_close_code", w.reply_close_code)?;
    let problems = PyList::empty(py);
    for (name, frame) in &w.problems {
        problems.append((*name, *frame))?;
    }
    d.set_item("problems", problems)?;
    d.set_item("request_frame", w.request_frame)?;
    d.set_item("response_frame", w.response_frame)?;
    Ok(d)
}

fn sessions_list<'py>(py: Python<'py>, ws: &[WebSocketSession]) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for w in ws {
        out.append(session_dict(py, w)?)?;
    }
    Ok(out)
}

/// Records as columns: a dict of equal-length lists, one per field (the native path's
/// batches; building one list per field is much cheaper than a dict per record).
fn records_columns<'py>(
    py: Python<'py>,
    recs: &[ConnectionRecord],
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    macro_rules! col {
        ($name:literal, $f:expr) => {
            d.set_item($name, PyList::new(py, recs.iter().map($f))?)?;
        };
    }
    col!("id", |r| r.id);
    col!("uid", |r| r.uid.as_str());
    col!("proto", |r| r.proto.as_str());
    col!("ip_version", |r| r.ip_version);
    col!("client_ip", |r| r.client.0.to_string());
    col!("client_port", |r| r.client.1);
    col!("server_ip", |r| r.server.0.to_string());
    col!("server_port", |r| r.server.1);
    col!("client_inferred", |r| r.client_inferred);
    col!("first_ts_ns", |r| r.first_ts_ns);
    col!("last_ts_ns", |r| r.last_ts_ns);
    col!("handshake", |r| r.handshake);
    col!("handshake_valid", |r| r.handshake_valid);
    col!("handshake_rtt_ns", |r| r.handshake_rtt_ns);
    col!("syn_retransmissions", |r| r.syn_retransmissions);
    col!("end", |r| r.end);
    col!("closer", |r| r.closer);
    col!("rst_by", |r| r.rst_by);
    col!("client_state", |r| r.client_state);
    col!("server_state", |r| r.server_state);
    col!("time_wait", |r| r.time_wait);
    col!("packets_c2s", |r| r.packets_c2s);
    col!("packets_s2c", |r| r.packets_s2c);
    col!("bytes_c2s", |r| r.bytes_c2s);
    col!("bytes_s2c", |r| r.bytes_s2c);
    col!("conn_state", |r| r.conn_state);
    col!("history", |r| r.history.as_str());
    col!("duration_zeek_ns", |r| r.duration_zeek_ns);
    col!("orig_bytes", |r| r.orig_bytes);
    col!("resp_bytes", |r| r.resp_bytes);
    col!("missed_bytes", |r| r.missed_bytes);
    col!("orig_pkts", |r| r.orig_pkts);
    col!("orig_ip_bytes", |r| r.orig_ip_bytes);
    col!("resp_pkts", |r| r.resp_pkts);
    col!("resp_ip_bytes", |r| r.resp_ip_bytes);
    col!("first_frame", |r| r.first_frame);
    col!("last_frame", |r| r.last_frame);
    col!("zeek_flipped", |r| r.zeek_flipped);
    col!("http_requests", |r| r.http_requests);
    col!("http_responses", |r| r.http_responses);
    col!("websocket", |r| r.websocket);
    for (name, column) in health::columns() {
        let values = PyList::empty(py);
        for r in recs {
            values.append(figure_py(py, column.value(r.health.as_deref()))?)?;
        }
        d.set_item(name, values)?;
    }
    let anomalies = PyList::empty(py);
    let parents = PyList::empty(py);
    let txs = PyList::empty(py);
    let sessions = PyList::empty(py);
    for r in recs {
        anomalies.append(PyTuple::new(py, &r.anomalies)?)?;
        parents.append(PyTuple::new(py, &r.tunnel_parents)?)?;
        // None for the many records without any, so that no empty list is made for them.
        if r.transactions.is_empty() {
            txs.append(py.None())?;
        } else {
            txs.append(transactions_list(py, &r.transactions)?)?;
        }
        if r.websockets.is_empty() {
            sessions.append(py.None())?;
        } else {
            sessions.append(sessions_list(py, &r.websockets)?)?;
        }
    }
    d.set_item("anomalies", anomalies)?;
    d.set_item("tunnel_parents", parents)?;
    d.set_item("transactions", txs)?;
    d.set_item("websockets", sessions)?;
    Ok(d)
}

fn records_list<'py>(py: Python<'py>, recs: &[ConnectionRecord]) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for r in recs {
        out.append(record_dict(py, r)?)?;
    }
    Ok(out)
}

/// The HTTP messages and WebSocket frames of a PacketRecord (its `http` and `ws` tuples of
/// `analyzer.core.packets.HttpMessage` / `WsFrame`), or None when both are empty.
fn loader_app(http: &Bound<'_, PyAny>, ws: &Bound<'_, PyAny>) -> PyResult<Option<LoaderApp>> {
    if http.len()? == 0 && ws.len()? == 0 {
        return Ok(None);
    }
    let mut app = LoaderApp::default();
    for m in http.try_iter()? {
        let m = m?;
        app.http.push(HttpMessage {
            is_request: m.getattr("is_request")?.extract()?,
            method: m.getattr("method")?.extract()?,
            target: m.getattr("target")?.extract()?,
            version: m.getattr("version")?.extract()?,
            status: m
                .getattr("status")?
                .extract::<Option<i64>>()?
                .map(|s| s.clamp(0, 65535) as u16),
            reason: m.getattr("reason")?.extract()?,
            headers: m.getattr("headers")?.extract()?,
            chunk_sizes: m.getattr("chunk_sizes")?.extract()?,
        });
    }
    for f in ws.try_iter()? {
        let f = f?;
        app.ws.push(WsFrame {
            fin: f.getattr("fin")?.extract()?,
            rsv: f.getattr("rsv")?.extract()?,
            opcode: f.getattr("opcode")?.extract()?,
            masked: f.getattr("masked")?.extract()?,
            payload_len: f.getattr("payload_len")?.extract()?,
            close_code: f
                .getattr("close_code")?
                .extract::<Option<i64>>()?
                .map(|c| c.clamp(0, 65535) as u16),
            close_reason: f.getattr("close_reason")?.extract()?,
        });
    }
    Ok(Some(app))
}

/// The TCP options of a PacketRecord: its raw option bytes (field 19, tshark's
/// `tcp.options`), parsed as the decoder parses them; none when the record has no field 19.
fn packet_options(p: &Bound<'_, PyAny>) -> PyResult<crate::decode::tcp_options::TcpOptions> {
    if p.len()? <= 19 {
        return Ok(Default::default());
    }
    let raw: Vec<u8> = p.get_item(19)?.extract()?;
    Ok(crate::decode::tcp_options::parse(&raw))
}

fn parse_ip(s: &str) -> PyResult<IpAddr> {
    s.parse()
        .map_err(|_| PyValueError::new_err(format!("not an IP address: {s:?}")))
}

/// The sans-IO tracker, fed packet by packet (the tshark and pyshark loaders use it).
#[pyclass(module = "analyzer._engine")]
struct Tracker {
    inner: CoreTracker,
}

#[pymethods]
impl Tracker {
    /// `select_frames`: keep only the connections with a packet in one of these frames
    /// (the frames a display filter matched); None keeps every connection.
    #[new]
    #[pyo3(signature = (check_checksums = false, keep_frames = false, select_frames = None))]
    fn new(check_checksums: bool, keep_frames: bool, select_frames: Option<Vec<u64>>) -> Self {
        let opts = TrackerOptions {
            check_checksums,
            keep_frames,
            select_frames: select_frames.map(Into::into),
            ..TrackerOptions::default()
        };
        Tracker {
            inner: CoreTracker::new(opts),
        }
    }

    /// Feed one packet record (the loader's PacketRecord: frame, ts_ns, proto, ip_version,
    /// src, sport, dst, dport, ip_len, flags, seq, ack, payload_len, window,
    /// payload_captured, checksum_bad, ...); returns (connection id, from_client).
    fn feed(&mut self, p: &Bound<'_, PyAny>) -> PyResult<(u64, bool)> {
        let proto: String = p.get_item(2)?.extract()?;
        let proto = match proto.as_str() {
            "tcp" => Transport::Tcp,
            "udp" => Transport::Udp,
            "icmp" => Transport::Icmp,
            other => return Err(PyValueError::new_err(format!("unknown protocol {other:?}"))),
        };
        let src: String = p.get_item(4)?.extract()?;
        let dst: String = p.get_item(6)?.extract()?;
        let ip_version: u8 = p.get_item(3)?.extract()?;
        let (mut sport, mut dport): (u16, u16) =
            (p.get_item(5)?.extract()?, p.get_item(7)?.extract()?);
        let mut icmp_one_way = false;
        if proto == Transport::Icmp {
            // The loader gives type and code; Zeek's ports are the type and the counterpart.
            let (t, code) = (sport.min(255) as u8, dport.min(255) as u8);
            let (other, one_way) = if ip_version == 6 {
                crate::decode::icmp6_counterpart(t, code)
            } else {
                crate::decode::icmp4_counterpart(t, code)
            };
            (sport, dport, icmp_one_way) = (u16::from(t), u16::from(other), one_way);
        }
        let mut tunnels = Vec::new();
        if p.len()? > 18 {
            let chain: Vec<(String, String, String, u16, u16)> = p.get_item(18)?.extract()?;
            for (kind, osrc, odst, osport, odport) in chain {
                let kind = TunnelKind::from_name(&kind)
                    .ok_or_else(|| PyValueError::new_err(format!("unknown tunnel {kind:?}")))?;
                tunnels.push(Tunnel {
                    kind,
                    outer_src: parse_ip(&osrc)?,
                    outer_dst: parse_ip(&odst)?,
                    outer_sport: osport,
                    outer_dport: odport,
                });
            }
        }
        let options = packet_options(p)?;
        let packet = Packet {
            frame: p.get_item(0)?.extract()?,
            ts_ns: p.get_item(1)?.extract()?,
            proto,
            ip_version,
            src: parse_ip(&src)?,
            sport,
            dst: parse_ip(&dst)?,
            dport,
            ip_len: p.get_item(8)?.extract()?,
            flags: p.get_item(9)?.extract()?,
            seq: p.get_item(10)?.extract()?,
            ack: p.get_item(11)?.extract()?,
            payload_len: p.get_item(12)?.extract()?,
            window: p.get_item(13)?.extract()?,
            options,
            payload_captured: p.get_item(14)?.extract()?,
            checksum_bad: p.get_item(15)?.extract()?,
            icmp_one_way,
            foreign: false,
            tunnels,
            payload: std::borrow::Cow::Borrowed(&[]),
        };
        let ext = if p.len()? > 17 {
            loader_app(&p.get_item(16)?, &p.get_item(17)?)?
        } else {
            None
        };
        let inner = &mut self.inner;
        let placed = catch_unwind(AssertUnwindSafe(|| {
            inner.feed_with_app(&packet, ext.as_ref())
        }))
        .map_err(|e| {
            EnginePanic::new_err(format!("at frame {}: {}", packet.frame, panic_message(&*e)))
        })?;
        Ok((placed.id, placed.from_orig))
    }

    /// Records of the connections finished so far (dicts).
    fn take_records<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let recs = self.inner.take_records();
        records_list(py, &recs)
    }

    /// End of capture: every open connection is finished (take them with take_records).
    fn finish(&mut self) {
        self.inner.finish();
    }

    #[getter]
    fn open_connections(&self) -> usize {
        self.inner.open_connections()
    }

    /// An open TCP connection's view now: (client ip, client port, client RFC state,
    /// server RFC state), or None.
    fn tcp_view(&self, id: u64) -> Option<(String, u16, &'static str, &'static str)> {
        match self.inner.connection(id)? {
            Conn::Tcp(c) => {
                let (o, r) = (c.orig_side(), c.resp_side());
                Some((o.addr.to_string(), o.port, o.rfc.as_str(), r.rfc.as_str()))
            }
            _ => None,
        }
    }
}

/// A capture read natively, in batches of records: iterate to get column dicts (one list
/// per field, at most `batch` records each).
/// Sendable: the garbage collector may drop a reader left in a reference cycle on any
/// thread (an unsendable one then raised "is being dropped on another thread").
#[pyclass(module = "analyzer._engine")]
struct CaptureReader {
    /// Behind a mutex only to be Sync (PyO3's requirement); `&mut self` methods take it
    /// without locking.
    run: std::sync::Mutex<CaptureRun>,
    batch: usize,
    /// Frames read at most per `__next__` before it returns, with an empty batch if no
    /// record is ready (so that the caller can show progress).
    max_frames: u64,
    ready: std::collections::VecDeque<ConnectionRecord>,
}

impl CaptureReader {
    fn run(&self) -> std::sync::MutexGuard<'_, CaptureRun> {
        self.run.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Read on (without the GIL) until a batch is ready or the capture ends.
    fn read(&mut self, py: Python<'_>) -> PyResult<()> {
        let (batch, max_frames) = (self.batch, self.max_frames);
        let run = self.run.get_mut().unwrap_or_else(|e| e.into_inner());
        let result =
            py.allow_threads(|| catch_unwind(AssertUnwindSafe(|| run.step(batch, max_frames))));
        let recs = match result {
            Ok(Ok(recs)) => recs,
            Ok(Err(RunError::Unsupported(e))) => {
                return Err(UnsupportedCapture::new_err(e.to_string()))
            }
            Ok(Err(RunError::Capture(e))) => {
                return Err(CaptureFormatError::new_err(e.to_string()))
            }
            Err(e) => {
                return Err(EnginePanic::new_err(format!(
                    "after frame {}: {}",
                    self.run().frames(),
                    panic_message(&*e)
                )))
            }
        };
        self.ready.extend(recs);
        Ok(())
    }
}

#[pymethods]
impl CaptureReader {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<RecordBatch>> {
        if self.ready.len() < self.batch && !self.run().is_finished() {
            self.read(py)?;
        }
        if self.ready.is_empty() && self.run().is_finished() {
            return Ok(None);
        }
        let n = self.ready.len().min(self.batch);
        Ok(Some(RecordBatch {
            recs: self.ready.drain(..n).collect(),
        }))
    }

    /// TCP/UDP/ICMP packets decoded so far.
    #[getter]
    fn packets(&self) -> u64 {
        self.run().packets
    }

    /// Frames (capture records) read so far.
    #[getter]
    fn frames(&self) -> u64 {
        self.run().frames()
    }

    /// Bytes of the file read so far (compressed bytes for a gzip or zstd capture): the
    /// file's size once the capture is read.
    #[getter]
    fn bytes_read(&self) -> u64 {
        self.run().bytes_read()
    }

    #[getter]
    fn open_connections(&self) -> usize {
        self.run().open_connections()
    }

    /// Finished records waiting for an earlier-starting connection.
    #[getter]
    fn pending(&self) -> usize {
        self.run().pending()
    }

    /// (last complete frame, cut short rather than damaged, detail) when the capture ended
    /// early, else None.
    #[getter]
    fn truncation(&self) -> Option<(u64, bool, String)> {
        self.run()
            .truncation()
            .map(|t| (t.after_frame, t.cut_short, t.detail.clone()))
    }
}

/// A batch of finished records, kept in Rust until the caller says how it wants them.
#[pyclass(module = "analyzer._engine")]
struct RecordBatch {
    recs: Vec<ConnectionRecord>,
}

#[pymethods]
impl RecordBatch {
    fn __len__(&self) -> usize {
        self.recs.len()
    }

    /// The HTTP transactions of the batch's records, as columns (the `http` command's
    /// rows: the connection's uid and endpoints, then the transaction's fields; times in
    /// ns as `request_ts_ns`/`response_ts_ns`).
    fn http_columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let rows: Vec<(&ConnectionRecord, &HttpTransaction)> = self
            .recs
            .iter()
            .flat_map(|r| r.transactions.iter().map(move |t| (r, t)))
            .collect();
        let d = PyDict::new(py);
        macro_rules! col {
            ($name:literal, $f:expr) => {
                d.set_item($name, PyList::new(py, rows.iter().map($f))?)?;
            };
        }
        col!("uid", |(r, _)| r.uid.as_str());
        col!("client_ip", |(r, _)| r.client.0.to_string());
        col!("client_port", |(r, _)| r.client.1);
        col!("server_ip", |(r, _)| r.server.0.to_string());
        col!("server_port", |(r, _)| r.server.1);
        col!("trans_depth", |(_, t)| t.trans_depth);
        col!("request_ts_ns", |(_, t)| t.request_ts_ns);
        col!("method", |(_, t)| t.method.as_deref());
        col!("target", |(_, t)| t.target.as_deref());
        col!("host", |(_, t)| t.host.as_deref());
        col!("request_version", |(_, t)| t.request_version.as_deref());
        col!("user_agent", |(_, t)| t.user_agent.as_deref());
        col!("referrer", |(_, t)| t.referrer.as_deref());
        col!("origin", |(_, t)| t.origin.as_deref());
        col!("request_body_len", |(_, t)| t.request_body_len);
        col!("status", |(_, t)| t.status);
        col!("reason", |(_, t)| t.reason.as_deref());
        col!("info_code", |(_, t)| t.info_code);
        col!("info_msg", |(_, t)| t.info_msg.as_deref());
        col!("response_version", |(_, t)| t.response_version.as_deref());
        col!("response_ts_ns", |(_, t)| t.response_ts_ns);
        col!("response_body_len", |(_, t)| t.response_body_len);
        col!("chunked", |(_, t)| t.chunked);
        col!("keep_alive", |(_, t)| t.keep_alive);
        col!("request_frame", |(_, t)| t.request_frame);
        col!("response_frame", |(_, t)| t.response_frame);
        Ok(d)
    }

    /// The WebSocket sessions of the batch's records, as columns (the `websockets`
    /// command's rows, times in ns as `request_ts_ns`/`response_ts_ns`; each `problems`
    /// value a list of (name, frame)).
    fn ws_columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let rows: Vec<(&ConnectionRecord, &WebSocketSession)> = self
            .recs
            .iter()
            .flat_map(|r| r.websockets.iter().map(move |w| (r, w)))
            .collect();
        let sessions = PyList::empty(py);
        for (_, w) in &rows {
            sessions.append(session_dict(py, w)?)?;
        }
        d.set_item(
            "uid",
            PyList::new(py, rows.iter().map(|(r, _)| r.uid.as_str()))?,
        )?;
        d.set_item(
            "client_ip",
            PyList::new(py, rows.iter().map(|(r, _)| r.client.0.to_string()))?,
        )?;
        d.set_item(
            "client_port",
            PyList::new(py, rows.iter().map(|(r, _)| r.client.1))?,
        )?;
        d.set_item(
            "server_ip",
            PyList::new(py, rows.iter().map(|(r, _)| r.server.0.to_string()))?,
        )?;
        d.set_item(
            "server_port",
            PyList::new(py, rows.iter().map(|(r, _)| r.server.1))?,
        )?;
        d.set_item("sessions", sessions)?;
        Ok(d)
    }

    /// The records as columns: a dict of equal-length lists, one per field.
    fn columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        records_columns(py, &self.recs)
    }

    /// The records as Arrow buffers, column by column as `spec` lists them:
    /// spec = [(field, kind, categories), ...]; returns one tuple of bytes (or None for an
    /// absent validity bitmap) per column: fixed (validity, values), string (validity,
    /// offsets, data), list (offsets, child offsets, child data).
    fn arrow_buffers<'py>(
        &self,
        py: Python<'py>,
        spec: Vec<(String, String, Vec<String>)>,
        capture: &str,
    ) -> PyResult<Bound<'py, PyList>> {
        let cols = column_specs(spec)?;
        let recs = &self.recs;
        let built = py
            .allow_threads(|| build(&cols, recs, capture))
            .map_err(PyValueError::new_err)?;
        buffers_list(py, &built)
    }

    /// The number of HTTP transactions in the batch (rows of `http_arrow_buffers`).
    fn http_len(&self) -> usize {
        self.recs.iter().map(|r| r.transactions.len()).sum()
    }

    /// `arrow_buffers` of the batch's HTTP transactions (the `http` table's columns).
    fn http_arrow_buffers<'py>(
        &self,
        py: Python<'py>,
        spec: Vec<(String, String, Vec<String>)>,
        capture: &str,
    ) -> PyResult<Bound<'py, PyList>> {
        let cols = column_specs(spec)?;
        let recs = &self.recs;
        let built = py
            .allow_threads(|| build_http(&cols, recs, capture))
            .map_err(PyValueError::new_err)?;
        buffers_list(py, &built)
    }
}

fn column_specs(spec: Vec<(String, String, Vec<String>)>) -> PyResult<Vec<ColumnSpec>> {
    let mut cols = Vec::with_capacity(spec.len());
    for (field, kind, cats) in spec {
        let kind = Kind::parse(&kind, cats)
            .ok_or_else(|| PyValueError::new_err(format!("unknown column kind {kind:?}")))?;
        cols.push(ColumnSpec { field, kind });
    }
    Ok(cols)
}

/// Column buffers as Python tuples of bytes (None for an absent validity bitmap).
fn buffers_list<'py>(py: Python<'py>, built: &[Buffers]) -> PyResult<Bound<'py, PyList>> {
    {
        let out = PyList::empty(py);
        let bytes = |b: &[u8]| PyBytes::new(py, b).into_any();
        let opt = |b: &Option<Vec<u8>>| match b {
            Some(v) => PyBytes::new(py, v).into_any(),
            None => py.None().into_bound(py),
        };
        for b in built {
            let t = match b {
                Buffers::Fixed { validity, values } => {
                    PyTuple::new(py, [opt(validity), bytes(values)])?
                }
                Buffers::Str {
                    validity,
                    offsets,
                    data,
                } => PyTuple::new(py, [opt(validity), bytes(offsets), bytes(data)])?,
                Buffers::List {
                    offsets,
                    child_offsets,
                    child_data,
                } => PyTuple::new(
                    py,
                    [bytes(offsets), bytes(child_offsets), bytes(child_data)],
                )?,
            };
            out.append(t)?;
        }
        Ok(out)
    }
}

fn message_dict<'py>(py: Python<'py>, m: &HttpMessage) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("is_request", m.is_request)?;
    d.set_item("method", &m.method)?;
    d.set_item("target", &m.target)?;
    d.set_item("version", &m.version)?;
    d.set_item("status", m.status)?;
    d.set_item("reason", &m.reason)?;
    d.set_item("headers", PyList::new(py, &m.headers)?)?;
    d.set_item("chunk_sizes", PyList::new(py, &m.chunk_sizes)?)?;
    Ok(d)
}

fn frame_dict<'py>(py: Python<'py>, f: &WsFrame) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("fin", f.fin)?;
    d.set_item("rsv", f.rsv)?;
    d.set_item("opcode", f.opcode)?;
    d.set_item("masked", f.masked)?;
    d.set_item("payload_len", f.payload_len)?;
    d.set_item("close_code", f.close_code)?;
    d.set_item("close_reason", &f.close_reason)?;
    Ok(d)
}

/// The TCP segments between two endpoints in frames `first..=last` of a capture, read
/// natively: a list of (frame, ts_ns, ip_version, src, sport, dst, dport, ip_len, flags,
/// seq, ack, payload_len, window, payload_captured, checksum_bad, http heads (dicts),
/// WebSocket frames (dicts)), the heads and frames in the packet that completed them.
#[pyfunction]
#[pyo3(signature = (path, first, last, client, server, check_checksums = false))]
fn connection_segments<'py>(
    py: Python<'py>,
    path: PathBuf,
    first: u64,
    last: u64,
    client: (String, u16),
    server: (String, u16),
    check_checksums: bool,
) -> PyResult<Bound<'py, PyList>> {
    let client = (parse_ip(&client.0)?, client.1);
    let server = (parse_ip(&server.0)?, server.1);
    let run = || -> Result<Vec<SegmentView>, RunError> {
        let reader = crate::capture::CaptureReader::open(&path).map_err(RunError::Capture)?;
        crate::pipeline::connection_segments(reader, check_checksums, first, last, client, server)
    };
    let segments = py
        .allow_threads(|| catch_unwind(AssertUnwindSafe(run)))
        .map_err(|e| EnginePanic::new_err(format!("reading segments: {}", panic_message(&*e))))?
        .map_err(|e| match e {
            RunError::Unsupported(e) => UnsupportedCapture::new_err(e.to_string()),
            RunError::Capture(e) => CaptureFormatError::new_err(e.to_string()),
        })?;
    let out = PyList::empty(py);
    for s in &segments {
        let http = PyList::empty(py);
        let ws = PyList::empty(py);
        for note in &s.notes {
            match note {
                Note::Http(m) => http.append(message_dict(py, m)?)?,
                Note::Ws(f) => ws.append(frame_dict(py, f)?)?,
            }
        }
        let fields: Vec<Bound<'py, PyAny>> = vec![
            s.frame.into_pyobject(py)?.into_any(),
            s.ts_ns.into_pyobject(py)?.into_any(),
            s.ip_version.into_pyobject(py)?.into_any(),
            s.src.0.to_string().into_pyobject(py)?.into_any(),
            s.src.1.into_pyobject(py)?.into_any(),
            s.dst.0.to_string().into_pyobject(py)?.into_any(),
            s.dst.1.into_pyobject(py)?.into_any(),
            s.ip_len.into_pyobject(py)?.into_any(),
            s.flags.into_pyobject(py)?.into_any(),
            s.seq.into_pyobject(py)?.into_any(),
            s.ack.into_pyobject(py)?.into_any(),
            s.payload_len.into_pyobject(py)?.into_any(),
            s.window.into_pyobject(py)?.into_any(),
            pyo3::types::PyBool::new(py, s.payload_captured)
                .to_owned()
                .into_any(),
            pyo3::types::PyBool::new(py, s.checksum_bad)
                .to_owned()
                .into_any(),
            http.into_any(),
            ws.into_any(),
            pyo3::types::PyBytes::new(py, &s.options.to_bytes()).into_any(),
        ];
        out.append(PyTuple::new(py, fields)?)?;
    }
    Ok(out)
}

/// What each segment of one connection was (`retransmission`, `dup_ack`, ...: the names
/// of `tcp::health::Marks`), from its PacketRecords in capture order, as the record's
/// health figures count them. Segments with a bad checksum (when checked) are skipped.
#[pyfunction]
fn segment_marks(packets: &Bound<'_, PyAny>) -> PyResult<Vec<Vec<&'static str>>> {
    let mut h = health::Health::default();
    let mut first: Option<(String, u16)> = None;
    let mut out = Vec::new();
    for p in packets.try_iter()? {
        let p = p?;
        let src: (String, u16) = (p.get_item(4)?.extract()?, p.get_item(5)?.extract()?);
        let side = usize::from(*first.get_or_insert_with(|| src.clone()) != src);
        if p.get_item(15)?.extract::<bool>()? {
            out.push(Vec::new());
            continue;
        }
        let options = packet_options(&p)?;
        let facts = health::SegmentFacts {
            ts_ns: p.get_item(1)?.extract()?,
            flags: p.get_item(9)?.extract()?,
            seq: p.get_item(10)?.extract()?,
            ack: p.get_item(11)?.extract()?,
            payload_len: p.get_item(12)?.extract()?,
            window: p.get_item(13)?.extract()?,
            options,
        };
        out.push(h.segment(side, &facts).names().collect());
    }
    Ok(out)
}

/// Open a capture for a native read. `select_frames`: keep only the connections with a
/// packet in one of these frames (the frames a display filter matched; each connection is
/// still built from all of its packets); None keeps every connection. `progress_every`:
/// iteration hands back a batch (empty if no record is ready) at least every this many
/// frames, for a progress display; 0 (the default) is every 2^20 frames. `shard`:
/// `(index, count)` tracks only the connections of the host pairs in that shard
/// ([`crate::decode::shard`]); None tracks every connection.
#[pyfunction]
#[pyo3(signature = (path, check_checksums = false, batch = 4096, release_every = crate::pipeline::RELEASE_EVERY, app_details = true, select_frames = None, progress_every = 0, shard = None))]
#[allow(clippy::too_many_arguments)]
fn read_capture(
    path: PathBuf,
    check_checksums: bool,
    batch: usize,
    release_every: u64,
    app_details: bool,
    select_frames: Option<Vec<u64>>,
    progress_every: u64,
    shard: Option<(u32, u32)>,
) -> PyResult<CaptureReader> {
    let shard = match shard {
        None => None,
        Some((index, count)) => Some(Shard::new(index, count).ok_or_else(|| {
            PyValueError::new_err(format!(
                "shard {index} of {count}: the index must be below the count"
            ))
        })?),
    };
    let opts = TrackerOptions {
        shard,
        check_checksums,
        parse_app: true,
        no_app_details: !app_details,
        select_frames: select_frames.map(Into::into),
        ..TrackerOptions::default()
    };
    let run = catch_unwind(|| CaptureRun::open(&path, opts))
        .map_err(|e| EnginePanic::new_err(format!("opening the capture: {}", panic_message(&*e))))?
        .map_err(|e| match e {
            RunError::Unsupported(e) => UnsupportedCapture::new_err(e.to_string()),
            RunError::Capture(e) => CaptureFormatError::new_err(e.to_string()),
        })?;
    Ok(CaptureReader {
        run: std::sync::Mutex::new(run.with_release_every(release_every)),
        batch: batch.max(1),
        max_frames: if progress_every == 0 {
            1 << 20
        } else {
            progress_every
        },
        ready: std::collections::VecDeque::new(),
    })
}

/// The shard, in `0..count`, of the host pair (`a`, `b`) (IP addresses as text): the
/// same in both directions ([`crate::decode::shard::shard_of`]).
#[pyfunction]
fn shard_of(a: &str, b: &str, count: u32) -> PyResult<u32> {
    if count == 0 {
        return Err(PyValueError::new_err("count must be at least 1"));
    }
    Ok(crate::decode::shard::shard_of(
        parse_ip(a)?,
        parse_ip(b)?,
        count,
    ))
}

/// Panic inside the engine's guard and return what the caller gets: checks that a panic
/// reaches Python as one `EnginePanic` line, never as a Rust backtrace (for the tests).
#[pyfunction]
fn _panic_for_test(message: String) -> PyResult<()> {
    catch_unwind(|| -> () { panic!("{message}") })
        .map_err(|e| EnginePanic::new_err(panic_message(&*e)))
}

#[pymodule]
fn _engine(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // A panic is reported to the caller as EnginePanic (one line), never as a backtrace.
    std::panic::set_hook(Box::new(|_| {}));
    m.add_class::<Tracker>()?;
    m.add_class::<CaptureReader>()?;
    m.add_class::<RecordBatch>()?;
    m.add_function(wrap_pyfunction!(connection_segments, m)?)?;
    m.add_function(wrap_pyfunction!(segment_marks, m)?)?;
    m.add_function(wrap_pyfunction!(read_capture, m)?)?;
    m.add_function(wrap_pyfunction!(shard_of, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_test, m)?)?;
    m.add(
        "CaptureFormatError",
        m.py().get_type::<CaptureFormatError>(),
    )?;
    m.add(
        "UnsupportedCapture",
        m.py().get_type::<UnsupportedCapture>(),
    )?;
    m.add("EnginePanic", m.py().get_type::<EnginePanic>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
