"""The connection record: the core's output, one per TCP connection or UDP flow.

Field names and values are the project's record contract (README, "Record contract").
Fields whose names start with ``zeek_``-free Zeek names (``conn_state``, ``history``,
``orig_*``/``resp_*``, ``missed_bytes``) carry Zeek's exact meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from analyzer.core.app import HttpTransaction, WebSocketSession


@dataclass(frozen=True, slots=True)
class ConnectionRecord:
    """What happened to one connection.

    Attributes:
        capture: the capture file it was read from.
        uid: a stable identifier ("C" + 17 base62 characters) from the 5-tuple and start time.
        proto: ``tcp``, ``udp`` or ``icmp``.
        ip_version: 4 or 6.
        client_ip, client_port, server_ip, server_port: the client is the SYN's sender
            (Zeek's originator); for UDP the first sender.
        client_inferred: True when no SYN was captured and the roles were guessed.
        first_ts, last_ts: epoch seconds of the first and last packet; ``*_ns`` the same in ns.
        duration_s: last_ts - first_ts.
        handshake: complete | refused | unanswered | incomplete | not_seen (null for UDP).
        handshake_valid: SYN-ACK acks ISN_c+1 and the final ACK acks ISN_s+1.
        handshake_rtt_s: from the first SYN to the final ACK of the handshake.
        syn_retransmissions: extra copies of the client's SYN.
        end: fin | rst | half_closed | open (null for UDP).
        closer: client | server | both | null: whose FIN came first (RST sender if no FIN).
        rst_by: client | server | null: who sent the first RST.
        client_state, server_state: RFC 9293 state of each endpoint at the end.
        time_wait: client | server | both | null: who is left in TIME_WAIT.
        packets_c2s, packets_s2c, bytes_c2s, bytes_s2c: packets, and payload bytes each
            counted once (retransmissions excluded), each way.
        conn_state, history: Zeek's codes.
        duration_zeek, orig_bytes, resp_bytes, missed_bytes, orig_pkts, orig_ip_bytes,
            resp_pkts, resp_ip_bytes: Zeek's conn.log columns of the same name.
        http_requests, http_responses: HTTP requests and final responses on the connection.
        websocket: a request on it asked to upgrade to WebSocket.
        first_frame, last_frame: frame numbers of the first and last packet.
        zeek_flipped: True when Zeek's originator is this record's server (a UDP flow whose
            first sender used a well-known server port); Zeek's columns follow Zeek's roles.
        anomalies: what did not follow the RFC, each with its frame number.
        tunnel_parents: uids of the tunnels this connection was carried in (Zeek's
            ``tunnel_parents``: the outer UDP flow's uid, or an IP tunnel's), sorted.
        retrans_rate, *_c2s, *_s2c: TCP health, per direction, with tcptrace's meaning
            (:data:`HEALTH_FIELDS`; README, "TCP health"); None for UDP and ICMP.
    """

    capture: str
    uid: str
    proto: str
    ip_version: int
    client_ip: str
    client_port: int
    server_ip: str
    server_port: int
    client_inferred: bool
    first_ts: float
    last_ts: float
    first_ts_ns: int
    last_ts_ns: int
    duration_s: float
    handshake: str | None
    handshake_valid: bool | None
    handshake_rtt_s: float | None
    syn_retransmissions: int
    end: str | None
    closer: str | None
    rst_by: str | None
    client_state: str | None
    server_state: str | None
    time_wait: str | None
    packets_c2s: int
    packets_s2c: int
    bytes_c2s: int
    bytes_s2c: int
    conn_state: str
    history: str
    duration_zeek: float | None
    orig_bytes: int | None
    resp_bytes: int | None
    missed_bytes: int
    orig_pkts: int
    orig_ip_bytes: int
    resp_pkts: int
    resp_ip_bytes: int
    http_requests: int
    http_responses: int
    websocket: bool
    first_frame: int
    last_frame: int
    zeek_flipped: bool
    anomalies: tuple[str, ...]
    tunnel_parents: tuple[str, ...] = ()
    #: TCP health (tcptrace's figures; README, "TCP health"); None for UDP and ICMP.
    retrans_rate: float | None = None
    seq_packets_c2s: int | None = None
    seq_packets_s2c: int | None = None
    retrans_packets_c2s: int | None = None
    retrans_packets_s2c: int | None = None
    retrans_bytes_c2s: int | None = None
    retrans_bytes_s2c: int | None = None
    out_of_order_packets_c2s: int | None = None
    out_of_order_packets_s2c: int | None = None
    dup_acks_c2s: int | None = None
    dup_acks_s2c: int | None = None
    triple_dup_acks_c2s: int | None = None
    triple_dup_acks_s2c: int | None = None
    sack_packets_c2s: int | None = None
    sack_packets_s2c: int | None = None
    dsack_packets_c2s: int | None = None
    dsack_packets_s2c: int | None = None
    zero_window_advertisements_c2s: int | None = None
    zero_window_advertisements_s2c: int | None = None
    zero_window_probes_c2s: int | None = None
    zero_window_probes_s2c: int | None = None
    mss_c2s: int | None = None
    mss_s2c: int | None = None
    window_scale_c2s: int | None = None
    window_scale_s2c: int | None = None
    sack_permitted_c2s: bool | None = None
    sack_permitted_s2c: bool | None = None
    timestamps_c2s: bool | None = None
    timestamps_s2c: bool | None = None
    window_min_c2s: int | None = None
    window_min_s2c: int | None = None
    window_max_c2s: int | None = None
    window_max_s2c: int | None = None
    window_avg_c2s: int | None = None
    window_avg_s2c: int | None = None
    rtt_samples_c2s: int | None = None
    rtt_samples_s2c: int | None = None
    rtt_min_s_c2s: float | None = None
    rtt_min_s_s2c: float | None = None
    rtt_avg_s_c2s: float | None = None
    rtt_avg_s_s2c: float | None = None
    rtt_max_s_c2s: float | None = None
    rtt_max_s_s2c: float | None = None
    rtt_stdev_s_c2s: float | None = None
    rtt_stdev_s_s2c: float | None = None
    idle_max_s_c2s: float | None = None
    idle_max_s_s2c: float | None = None
    throughput_bps_c2s: float | None = None
    throughput_bps_s2c: float | None = None
    #: The connection's HTTP transactions and WebSocket upgrade attempts (not columns).
    transactions: tuple[HttpTransaction, ...] = field(default=(), repr=False)
    websockets: tuple[WebSocketSession, ...] = field(default=(), repr=False)
    #: The tracker's creation order of the connection (not a column): breaks ties between
    #: connections that start in the same frame (a tunnel's outer flow comes first).
    conn_id: int = field(default=0, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = {name: getattr(self, name) for name in FIELD_NAMES}
        d["anomalies"] = list(self.anomalies)
        d["tunnel_parents"] = list(self.tunnel_parents)
        return d


FIELD_NAMES: tuple[str, ...] = tuple(
    f.name for f in fields(ConnectionRecord)
    if f.name not in ("transactions", "websockets", "conn_id")
)


#: The per-direction TCP health figures, in record order; each is a column twice, with
#: ``_c2s`` and ``_s2c`` (README, "TCP health").
HEALTH_FIGURES: tuple[str, ...] = (
    "seq_packets",
    "retrans_packets",
    "retrans_bytes",
    "out_of_order_packets",
    "dup_acks",
    "triple_dup_acks",
    "sack_packets",
    "dsack_packets",
    "zero_window_advertisements",
    "zero_window_probes",
    "mss",
    "window_scale",
    "sack_permitted",
    "timestamps",
    "window_min",
    "window_max",
    "window_avg",
    "rtt_samples",
    "rtt_min_s",
    "rtt_avg_s",
    "rtt_max_s",
    "rtt_stdev_s",
    "idle_max_s",
    "throughput_bps",
)
#: Every TCP health column: ``retrans_rate``, then each figure both ways.
HEALTH_FIELDS: tuple[str, ...] = ("retrans_rate", *(
    f"{name}_{way}" for name in HEALTH_FIGURES for way in ("c2s", "s2c")))
