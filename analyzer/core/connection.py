"""One TCP connection or UDP flow: Zeek's endpoint view and the RFC 9293 view, side by side.

A :class:`TcpConnection` keeps two :class:`Side` objects. Each side carries Zeek's endpoint
(``zeek.ZeekEndpoint``: states, sequence bookkeeping, history counters) and the side's RFC
9293 state (``tcp_state``), plus the handshake and close facts the record reports.

Roles: the originator ("client") is the sender of the first SYN. A connection whose SYN
was not captured gets its roles the way Zeek decides them (the side sending from a likely
server port is the responder; a connection that starts with a SYN-ACK is flipped when the
next ACK or data shows up), and is marked ``client_inferred``.

Zeek's timers are emulated in network time (packet timestamps): they decide when a
connection is over, so that a later packet on the same 4-tuple starts a new one exactly
where Zeek starts one (an unanswered SYN expires after 5 s; a closed or reset connection
is removed 5 s after its last packet; a new SYN with a new ISN after a close is reuse;
idle connections expire after 5 min, or 1 min before the handshake completes and for UDP).
"""

from __future__ import annotations

import hashlib
import ipaddress
from array import array
from dataclasses import dataclass
from typing import Any

from analyzer.core.http import HttpTracker, tokens
from analyzer.core.intervals import IntervalSet
from analyzer.core.packets import ACK, FIN, RST, SYN, PacketRecord
from analyzer.core.records import ConnectionRecord
from analyzer.core.tcp_state import Event, TcpState, step
from analyzer.core.websocket import WebSocketTracker
from analyzer.core.zeek import (
    LIKELY_SERVER_PORTS_TCP,
    LIKELY_SERVER_PORTS_UDP,
    SEQ_MOD,
    TOO_LARGE_SEQ_DELTA,
    HistoryLog,
    Scaled,
    ZeekEndpoint,
    ZeekState,
    seq_delta,
    tcp_conn_state,
    udp_conn_state,
)

Z = ZeekState
NS = 1_000_000_000
_HANDSHAKE_STATES = (Z.INACTIVE, Z.SYN_SENT, Z.SYN_ACK_SENT)
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Zeek's timer constants (``init-bare.zeek``), in seconds; all can be changed."""

    tcp_syn: float = 5.0  # tcp_SYN_timeout: first check of a new connection
    tcp_attempt_delay: float = 5.0  # an unanswered SYN is given up after this
    tcp_close_delay: float = 5.0  # a closed connection is removed after this
    tcp_reset_delay: float = 5.0  # a RST after a FIN removes the connection after this
    tcp_session_timer: float = 6.0  # how often a half-closed connection is re-checked
    tcp_connection_linger: float = 5.0  # idle time after a close before it is removed
    tcp_inactivity: float = 300.0  # idle timeout of an established TCP connection
    udp_inactivity: float = 60.0  # idle timeout of UDP, and of TCP before the handshake


def make_uid(proto: str, ts_ns: int, a: str, pa: int, b: str, pb: int) -> str:
    """A stable Zeek-style uid: "C" + 17 base62 digits of a hash of the 5-tuple and start."""
    digest = hashlib.blake2b(f"{proto}|{ts_ns}|{a}|{pa}|{b}|{pb}".encode(), digest_size=13)
    n = int.from_bytes(digest.digest(), "big")
    chars = []
    for _ in range(17):
        n, r = divmod(n, 62)
        chars.append(_B62[r])
    return "C" + "".join(chars)


class Side:
    """One endpoint of a TCP connection."""

    __slots__ = (
        "addr", "data", "data_base", "fin_frame", "fin_next", "final_ack", "packets", "port",
        "rfc", "rst_before_synack", "syn_count", "syn_isn", "syn_ns", "synack_ack",
        "synack_frame", "synack_ns", "synack_seq", "z",
    )

    def __init__(self, addr: str, port: int, is_orig: bool) -> None:
        self.addr = addr
        self.port = port
        self.z = ZeekEndpoint(is_orig)
        self.rfc = TcpState.CLOSED
        self.packets = 0
        self.data = IntervalSet()
        self.data_base: int | None = None
        self.fin_next: int | None = None  # sequence number just past this side's FIN
        self.fin_frame: int | None = None
        self.syn_isn: int | None = None
        self.syn_ns = 0
        self.syn_count = 0
        self.synack_seq: int | None = None
        self.synack_ack = 0
        self.synack_ns = 0
        self.synack_frame = 0
        self.final_ack: tuple[int, int, int] | None = None  # (ack, ts_ns, frame)
        self.rst_before_synack = False


class TcpConnection:
    """A TCP connection, fed one packet at a time by the tracker."""

    def __init__(self, p: PacketRecord, timeouts: Timeouts, check_checksums: bool) -> None:
        self.t = timeouts
        self.check_checksums = check_checksums
        flip = _tcp_flip_at_creation(p.flags, p.sport, p.dport)
        src, dst = Side(p.src, p.sport, True), Side(p.dst, p.dport, False)
        if flip:
            src.z.is_orig, dst.z.is_orig = False, True
        self.orig, self.resp = (dst, src) if flip else (src, dst)
        self.history = HistoryLog()
        if flip:
            self.history.flip()
        self.client_inferred = not (p.flags & SYN and not p.flags & ACK)
        self.ip_version = p.ip_version
        self.first_ns = self.last_ns = self.zeek_last_ns = self.start_ns = p.ts_ns
        self.first_frame = self.last_frame = p.frame
        self.uid = make_uid("tcp", p.ts_ns, p.src, p.sport, p.dst, p.dport)
        # Every frame number of this connection (4 bytes each, freed with the connection):
        # lets the caller re-read just this connection's packets (``Tracker.kept_frames``).
        self.frames = array("I")
        self.is_partial = False
        self.first_seen_orig = self.first_seen_resp = False
        # Pending Zeek timers: (fire time ns, kind). The inactivity timer is implicit.
        self.timers: list[tuple[int, str]] = [(p.ts_ns + _ns(timeouts.tcp_syn), "expire")]
        self.inactivity = _ns(timeouts.udp_inactivity)
        self.removed = False
        self.fins: list[Side] = []
        self.simultaneous_close = False
        self.first_rst: Side | None = None
        self.anomalies: list[str] = []
        self.http = HttpTracker()
        self.ws_by_depth: dict[int, WebSocketTracker] = {}
        self.ws_active: WebSocketTracker | None = None
        # Initial RFC states: a capture that starts with a SYN sees both sides CLOSED; one
        # that starts with a SYN-ACK implies the client is in SYN_SENT; one that starts
        # mid-stream finds both sides ESTABLISHED.
        if p.flags & SYN and p.flags & ACK:
            dst.rfc = TcpState.SYN_SENT  # the SYN-ACK's receiver must have sent a SYN
        elif not p.flags & SYN:
            self.orig.rfc = self.resp.rfc = TcpState.ESTABLISHED

    # ----------------------------------------------------------------- timers and reuse
    def expired(self, now_ns: int) -> bool:
        """Run Zeek's timers up to ``now_ns``; True once Zeek would have removed this."""
        if self.removed:
            return True
        if now_ns >= self.zeek_last_ns + self.inactivity:
            self.removed = True
            return True
        while self.timers:
            self.timers.sort()
            fire, kind = self.timers[0]
            if fire > now_ns:
                break
            self.timers.pop(0)
            if self._timer(fire, kind):
                self.removed = True
                return True
        return False

    def _timer(self, t: int, kind: str) -> bool:
        o, r = self.orig.z, self.resp.z
        if kind == "attempt":
            return o.state in (Z.SYN_SENT, Z.SYN_ACK_SENT) and r.state is Z.INACTIVE
        if kind in ("delete", "reset"):
            return True
        # "expire": TCPSessionAdapter::ExpireTimer
        if self.zeek_last_ns + _ns(self.t.tcp_connection_linger) < t:
            if (o.did_close or r.did_close) and (
                (o.did_close and r.did_close)
                or Z.RESET in (o.state, r.state)
                or Z.INACTIVE in (o.state, r.state)
            ):
                return True
            if r.state is Z.INACTIVE and o.state is Z.INACTIVE:
                return True
        self.timers.append((t + _ns(self.t.tcp_session_timer), "expire"))
        return False

    def is_reuse(self, p: PacketRecord) -> bool:
        """Zeek ``IsReuse``: a new SYN on this 4-tuple starts a new connection."""
        if not p.flags & SYN:
            return False
        conn_orig = self.orig.z
        if p.flags & ACK:
            if self.orig.z.state is not Z.INACTIVE:
                return False
            conn_orig = self.resp.z
        if not (self.orig.z.did_close or self.resp.z.did_close):
            if p.seq == conn_orig.start_seq:
                return False
            if (
                not p.flags & ACK
                and conn_orig.state is Z.SYN_ACK_SENT
                and self.resp.z.state is Z.INACTIVE
                and p.seq == self.resp.z.start_seq
            ):
                return False
        return True

    # ----------------------------------------------------------------- packets
    def feed(self, p: PacketRecord) -> None:
        from_orig = p.src == self.orig.addr and p.sport == self.orig.port
        ep, peer = (self.orig, self.resp) if from_orig else (self.resp, self.orig)
        self.last_ns = p.ts_ns
        self.last_frame = p.frame
        self.frames.append(p.frame)
        ep.packets += 1
        fl = p.flags
        if (
            self.orig.z.state is Z.SYN_ACK_SENT
            and self.resp.z.state is Z.INACTIVE
            and not fl & (SYN | FIN | RST)
            and (fl & ACK or p.payload_len > 0)
        ):
            # Zeek PR #2191: a connection that began with a SYN-ACK is flipped once an ACK
            # or data follows; the SYN-ACK's sender is the responder.
            self._flip()
            self.resp.z.set_state(Z.ESTABLISHED)
            self.client_inferred = True
        if p.checksum_bad and self.check_checksums:
            if ep.z.chk.hit():
                self.history.add("C", ep.z.is_orig)
            return
        self._zeek(ep, peer, p)
        self._rfc(ep, peer, p)
        self._facts(ep, peer, p)
        if p.http or p.ws:
            self._app(ep is self.orig, p)

    def _app(self, from_client: bool, p: PacketRecord) -> None:
        """HTTP messages and WebSocket frames that tshark completed in this packet."""
        for msg in p.http:
            if msg.is_request:
                tx = self.http.request(msg, p.ts_ns, p.frame)
                if "websocket" in tokens(msg.header("upgrade")):
                    self.ws_by_depth[tx.trans_depth] = WebSocketTracker(msg, p.ts_ns, p.frame)
            else:
                done = self.http.response(msg, p.ts_ns, p.frame)
                ws = self.ws_by_depth.get(done.trans_depth) if done is not None else None
                if ws is not None:
                    ws.response(msg, p.ts_ns, p.frame)
                    if ws.switched:
                        self.ws_active = ws
        if self.ws_active is not None:
            for f in p.ws:
                self.ws_active.frame(f, from_client, p.frame)

    def _flip(self) -> None:
        self.orig, self.resp = self.resp, self.orig
        self.orig.z.is_orig, self.resp.z.is_orig = True, False
        self.first_seen_orig, self.first_seen_resp = self.first_seen_resp, self.first_seen_orig
        self.history.flip()
        self.is_partial = False

    def _zeek(self, ep: Side, peer: Side, p: PacketRecord) -> None:
        """TCPSessionAdapter::Process, step for step."""
        z, pz = ep.z, peer.z
        fl, length = p.flags, p.payload_len
        syn, fin, rst, ack = bool(fl & SYN), bool(fl & FIN), bool(fl & RST), bool(fl & ACK)
        is_orig = z.is_orig
        # SetPartialStatus
        if is_orig:
            if not self.first_seen_orig:
                self.is_partial = (not syn) or ack
        elif not self.first_seen_resp and not self.is_partial:
            self.is_partial = not syn
        seg_len = length + syn + fin - (length if rst else 0)
        base = p.seq
        one_past = (base + seg_len) % SEQ_MOD
        # init_endpoint
        st = z.state
        if st is Z.INACTIVE:
            if syn:
                z.init_seqs(base, one_past)
            else:
                z.init_seqs((base - 1) % SEQ_MOD, base)
        elif (st in (Z.SYN_SENT, Z.SYN_ACK_SENT) and syn and base != z.start_seq) or (
            st in (Z.ESTABLISHED, Z.PARTIAL) and syn
        ) or (st is Z.RESET and syn and z.prev_state is Z.INACTIVE):
            z.init_seqs(base, one_past)
        rel_seq = seq_delta(base, z.start_seq)
        underflow = rel_seq < 0
        self._history(z, fl, rel_seq, length)
        # update_window: zero windows that matter
        if p.window == 0 and not rst and pz.state is not Z.CLOSED and z.state is not Z.RESET:
            if z.win0.hit():
                self.history.add("W", is_orig)
        if not (self.orig.z.did_close and self.resp.z.did_close):
            self.zeek_last_ns = p.ts_ns
        if fin:
            z.fin_cnt += 1
            z.fin_seq = rel_seq + seg_len
        if rst:
            z.rst_cnt += 1
        rel_ack = 0
        if ack:
            if pz.state is Z.INACTIVE:
                rel_ack = 1
                pz.init_seqs((p.ack - 1) % SEQ_MOD, (p.ack - 1) % SEQ_MOD)
            else:
                rel_ack = seq_delta(p.ack, pz.start_seq)
                if rel_ack < 0:
                    rel_ack = 0
                elif not rst:
                    delta_ack = seq_delta(p.ack, pz.ack_seq)
                    if delta_ack > 0 and not (p.ack == 0 and delta_ack > TOO_LARGE_SEQ_DELTA):
                        pz.ack_seq = p.ack
        # update_last_seq
        delta_last = seq_delta(one_past, z.last_seq)
        if (syn or rst) and abs(delta_last) > TOO_LARGE_SEQ_DELTA:
            pass
        elif fin and z.last_seq == (z.start_seq + 1) % SEQ_MOD:
            z.last_seq = one_past
        elif z.state is Z.RESET:
            pass
        elif delta_last > 0:
            z.last_seq = one_past
        elif length > 0 and z.rxmt.hit():
            self.history.add("T", is_orig)
        if fl & (SYN | FIN | RST) or z.state is not Z.ESTABLISHED:
            do_close = self._zeek_states(ep, peer, p, is_orig)
        else:
            do_close = False  # UpdateStateMachine changes nothing here
        if ack:
            self._ack_received(peer, rel_ack, fl)
        if length > 0 and p.payload_captured and not rst and not underflow:
            start = rel_seq + 1 if syn else rel_seq
            z.reasm.data(start, start + length)
        if is_orig:
            self.first_seen_orig = True
        else:
            self.first_seen_resp = True
        if do_close:
            self._connection_closed(z, pz)
        z.pkts += 1
        z.ip_bytes += p.ip_len

    def _history(self, z: ZeekEndpoint, fl: int, rel_seq: int, length: int) -> None:
        h, is_orig = self.history, z.is_orig
        syn, fin, rst = bool(fl & SYN), bool(fl & FIN), bool(fl & RST)
        bits = syn + fin + rst
        if bits > 1:
            if fin and rst:
                h.check("I", "I", is_orig)
            else:
                h.check("Q", "Q", is_orig)
        elif bits == 1:
            if syn:
                code = "H" if fl & ACK else "S"
                if h.check("SYN", code, is_orig) and rel_seq != z.hist_last_syn:
                    h.add(code, is_orig)
                z.hist_last_syn = rel_seq
            if fin:
                if h.check("F", "F", is_orig) and rel_seq + length != z.hist_last_fin:
                    h.add("F", is_orig)
                z.hist_last_fin = rel_seq + length
            if rst:
                if h.check("R", "R", is_orig) and rel_seq != z.hist_last_rst:
                    h.add("R", is_orig)
                z.hist_last_rst = rel_seq
        elif length:
            h.check("D", "D", is_orig)
        elif fl & ACK:
            h.check("A", "A", is_orig)

    def _set_state(self, z: ZeekEndpoint, peer: ZeekEndpoint, new: ZeekState) -> None:
        if (
            new is not z.state
            and new not in _HANDSHAKE_STATES
            and z.state in _HANDSHAKE_STATES
            and peer.state in _HANDSHAKE_STATES
        ):
            self.inactivity = _ns(self.t.tcp_inactivity)
        z.set_state(new)

    def _zeek_states(self, ep: Side, peer: Side, p: PacketRecord, is_orig: bool) -> bool:
        """TCPSessionAdapter::UpdateStateMachine; returns do_close."""
        z, pz = ep.z, peer.z
        fl = p.flags
        syn, fin, rst, ack = bool(fl & SYN), bool(fl & FIN), bool(fl & RST), bool(fl & ACK)
        do_close = False
        st = z.state
        if st is Z.INACTIVE:
            if syn:
                if is_orig:
                    self._set_state(z, pz, Z.SYN_ACK_SENT if ack else Z.SYN_SENT)
                    self.timers.append((p.ts_ns + _ns(self.t.tcp_attempt_delay), "attempt"))
                else:
                    if not ack and pz.state is Z.SYN_ACK_SENT and p.seq == z.start_seq:
                        # A SYN/SYN-ACK reversal: flip and establish.
                        self._flip()
                        z, pz = ep.z, peer.z
                        self._set_state(pz, z, Z.ESTABLISHED)
                    if pz.state is Z.SYN_SENT:
                        self._set_state(pz, z, Z.ESTABLISHED)
                    self._set_state(z, pz, Z.ESTABLISHED)
            if fin:
                self._set_state(z, pz, Z.CLOSED)
                do_close = True
            if rst:
                self._set_state(z, pz, Z.RESET)
                do_close = True
            if z.state is Z.INACTIVE:
                if not z.is_orig and p.payload_len == 0 and self.orig.z.state is Z.SYN_SENT:
                    pass  # an ACK of the SYN before the SYN-ACK: not a partial connection
                elif ack and pz.state is Z.ESTABLISHED:
                    self._set_state(z, pz, Z.ESTABLISHED)
                    self.is_partial = False
                else:
                    self._set_state(z, pz, Z.PARTIAL)
        elif st in (Z.SYN_SENT, Z.SYN_ACK_SENT):
            if fin:
                self._set_state(z, pz, Z.CLOSED)
                do_close = True
            if rst:
                self._set_state(z, pz, Z.RESET)
                do_close = True
        elif st in (Z.ESTABLISHED, Z.PARTIAL):
            if syn and st is Z.PARTIAL and pz.state is Z.INACTIVE and not ack:
                self._set_state(z, pz, Z.SYN_SENT)
            if fin and not rst:
                self._set_state(z, pz, Z.CLOSED)
                if pz.state is Z.RESET and pz.prev_state is Z.CLOSED:
                    pz.set_state(Z.CLOSED)
                do_close = True
            if rst:
                self._set_state(z, pz, Z.RESET)
                do_close = True
        elif st is Z.CLOSED:
            if rst and pz.state is not Z.CLOSED:
                self._set_state(z, pz, Z.RESET)
                if not z.did_close:
                    do_close = True
                self.timers.append((p.ts_ns + _ns(self.t.tcp_reset_delay), "reset"))
        return do_close

    def _ack_received(self, sender: Side, rel_ack: int, acking_flags: int) -> None:
        """TCP_Reassembler::AckReceived: an ACK above what was captured is a content gap."""
        z = sender.z
        up_to = rel_ack
        if z.fin_cnt > 0 and up_to >= z.fin_seq:
            up_to = z.fin_seq - 1  # not the FIN's own sequence octet
        if up_to <= 2 and self.is_partial:
            return
        missing = z.reasm.ack(up_to)
        if missing > 0:
            z.missed += missing
            # Gaps revealed by a FIN or RST at the very end are not reliable; Zeek does
            # not flag them in the history.
            if not acking_flags & (FIN | RST) and z.gap.hit():
                self.history.add("G", z.is_orig)

    def _connection_closed(self, z: ZeekEndpoint, pz: ZeekEndpoint) -> None:
        if z.did_close:
            return
        z.did_close = True
        if z.state is Z.RESET or pz.did_close or pz.state is Z.INACTIVE:
            self.timers = [(self.zeek_last_ns + _ns(self.t.tcp_close_delay), "delete")]
        elif z.prev_state is not Z.INACTIVE:
            self.timers.append((self.zeek_last_ns + _ns(self.t.tcp_session_timer), "expire"))

    # ----------------------------------------------------------------- RFC view
    def _rfc(self, ep: Side, peer: Side, p: PacketRecord) -> None:
        fl = p.flags
        if not fl & (SYN | FIN | RST) and (
            not fl & ACK or (peer.rfc is not TcpState.SYN_RECEIVED and peer.fin_next is None)
        ):
            return  # a data or ACK segment that moves neither side (the common case)
        syn, fin, rst, ack = bool(fl & SYN), bool(fl & FIN), bool(fl & RST), bool(fl & ACK)
        sent: list[Event] = []
        if syn:
            sent.append(Event.SEND_SYN_ACK if ack else Event.SEND_SYN)
        if fin:
            crossed = (
                ep.rfc is TcpState.CLOSE_WAIT
                and peer.fin_next is not None
                and not (ack and seq_delta(p.ack, peer.fin_next) >= 0)
            )
            sent.append(Event.SEND_FIN_CROSSED if crossed else Event.SEND_FIN)
        if rst:
            sent.append(Event.SEND_RST)
        got: list[Event] = []
        if syn:
            got.append(Event.RECV_SYN_ACK if ack else Event.RECV_SYN)
        elif ack and not rst:
            got.append(Event.RECV_ACK_OF_SYN)
        if ack and peer.fin_next is not None and seq_delta(p.ack, peer.fin_next) >= 0:
            got.append(Event.RECV_ACK_OF_FIN)
        if fin:
            got.append(Event.RECV_FIN)
        if rst:
            got.append(Event.RECV_RST)
        for ev in sent:
            ep.rfc = self._step(ep, ev, p)
        for ev in got:
            if ev is Event.RECV_ACK_OF_SYN and peer.rfc is not TcpState.SYN_RECEIVED:
                continue
            peer.rfc = self._step(peer, ev, p)

    def _step(self, side: Side, ev: Event, p: PacketRecord) -> TcpState:
        new = step(side.rfc, ev)
        if new is side.rfc and ev in (Event.SEND_SYN, Event.RECV_SYN) and side.rfc in (
            TcpState.ESTABLISHED,
            TcpState.TIME_WAIT,
        ):
            self.anomalies.append(f"frame {p.frame}: {ev.value} in {side.rfc.value}")
        return new

    # ----------------------------------------------------------------- record facts
    def _facts(self, ep: Side, peer: Side, p: PacketRecord) -> None:
        fl, length = p.flags, p.payload_len
        syn, fin, rst, ack = bool(fl & SYN), bool(fl & FIN), bool(fl & RST), bool(fl & ACK)
        if syn and not ack:
            if ep.syn_isn is None:
                ep.syn_isn, ep.syn_ns = p.seq, p.ts_ns
            elif p.seq == ep.syn_isn:
                ep.syn_count += 1
        if syn and ack and ep.synack_seq is None:
            ep.synack_seq, ep.synack_ack = p.seq, p.ack
            ep.synack_ns, ep.synack_frame = p.ts_ns, p.frame
            if peer.syn_isn is not None and p.ack != (peer.syn_isn + 1) % SEQ_MOD:
                self.anomalies.append(
                    f"frame {p.frame}: SYN-ACK acknowledges {p.ack}, "
                    f"expected ISN+1 = {(peer.syn_isn + 1) % SEQ_MOD}"
                )
        if ack and not syn and not rst and peer.synack_seq is not None and ep.final_ack is None:
            ep.final_ack = (p.ack, p.ts_ns, p.frame)
            if p.ack != (peer.synack_seq + 1) % SEQ_MOD:
                self.anomalies.append(
                    f"frame {p.frame}: handshake ACK acknowledges {p.ack}, "
                    f"expected ISN+1 = {(peer.synack_seq + 1) % SEQ_MOD}"
                )
        if rst:
            if ep.synack_seq is None and peer.syn_isn is not None:
                ep.rst_before_synack = True
            if self.first_rst is None:
                self.first_rst = ep
        if length > 0 and not rst:
            start = p.seq + (1 if syn else 0)
            if ep.data_base is None:
                ep.data_base = start
            rel = seq_delta(start, ep.data_base)
            ep.data.add(rel, rel + length)
        if fin and ep.fin_next is None:
            ep.fin_next = (p.seq + length + syn + 1) % SEQ_MOD
            ep.fin_frame = p.frame
            if self.fins and self.fins[0] is not ep:
                first = self.fins[0]
                assert first.fin_next is not None
                self.simultaneous_close = not (ack and seq_delta(p.ack, first.fin_next) >= 0)
            self.fins.append(ep)

    # ----------------------------------------------------------------- output
    def record(self, capture: str) -> ConnectionRecord:
        c, s = self.orig, self.resp

        def role(side: Side | None) -> str | None:
            return None if side is None else ("client" if side is c else "server")

        if c.syn_isn is None:
            handshake = "not_seen"
        elif s.synack_seq is not None:
            handshake = "complete" if c.final_ack is not None else "incomplete"
        elif s.rst_before_synack:
            handshake = "refused"
        else:
            handshake = "unanswered"
        valid: bool | None = None
        rtt: float | None = None
        if handshake in ("complete", "incomplete") and c.syn_isn is not None:
            synack_ok = s.synack_ack == (c.syn_isn + 1) % SEQ_MOD
            if handshake == "complete" and c.final_ack is not None and s.synack_seq is not None:
                valid = synack_ok and c.final_ack[0] == (s.synack_seq + 1) % SEQ_MOD
                rtt = (c.final_ack[1] - c.syn_ns) / NS
            else:
                valid = False if not synack_ok else None
        any_rst = self.first_rst is not None
        fin_sides = {id(x) for x in self.fins}
        if any_rst:
            end = "rst"
        elif len(fin_sides) == 2:
            end = "fin"
        elif fin_sides:
            end = "half_closed"
        else:
            end = "open"
        closer: str | None
        if self.fins:
            closer = "both" if self.simultaneous_close else role(self.fins[0])
        elif any_rst and handshake != "refused":
            closer = role(self.first_rst)
        else:
            closer = None
        tw = [x for x in (c, s) if x.rfc is TcpState.TIME_WAIT]
        time_wait = "both" if len(tw) == 2 else (role(tw[0]) if tw else None)
        history = str(self.history)
        duration_zeek = (self.zeek_last_ns - self.start_ns) / NS
        zeek_dur = duration_zeek if duration_zeek > 0 else None
        return ConnectionRecord(
            **_common(capture, self.uid, "tcp", self.ip_version, (c.addr, c.port),
                      (s.addr, s.port), self.first_ns, self.last_ns,
                      self.first_frame, self.last_frame),
            client_inferred=self.client_inferred,
            handshake=handshake,
            handshake_valid=valid,
            handshake_rtt_s=rtt,
            syn_retransmissions=c.syn_count,
            end=end,
            closer=closer,
            rst_by=role(self.first_rst),
            client_state=c.rfc.value,
            server_state=s.rfc.value,
            time_wait=time_wait,
            packets_c2s=c.packets,
            packets_s2c=s.packets,
            bytes_c2s=c.data.total,
            bytes_s2c=s.data.total,
            conn_state=tcp_conn_state(c.z, s.z, history),
            history=history,
            duration_zeek=zeek_dur,
            orig_bytes=c.z.size(s.z) if zeek_dur is not None else None,
            resp_bytes=s.z.size(c.z) if zeek_dur is not None else None,
            missed_bytes=c.z.missed + s.z.missed,
            orig_pkts=c.z.pkts,
            orig_ip_bytes=c.z.ip_bytes,
            resp_pkts=s.z.pkts,
            resp_ip_bytes=s.z.ip_bytes,
            zeek_flipped=False,
            anomalies=tuple(self.anomalies),
            http_requests=self.http.requests,
            http_responses=self.http.responses,
            websocket=bool(self.ws_by_depth),
            transactions=tuple(self.http.transactions()),
            websockets=tuple(ws.session() for ws in self.ws_by_depth.values()),
        )


class UdpFlow:
    """A UDP flow: client = first sender; Zeek's originator may differ (``zeek_flipped``)."""

    def __init__(self, p: PacketRecord, timeouts: Timeouts, check_checksums: bool) -> None:
        self.check_checksums = check_checksums
        self.client = (p.src, p.sport)
        self.server = (p.dst, p.dport)
        # Zeek flips a UDP flow whose first sender uses a likely server port.
        self.zeek_flipped = (
            p.sport in LIKELY_SERVER_PORTS_UDP
            and p.dport not in LIKELY_SERVER_PORTS_UDP
            and not _broadcast_or_multicast(p.dst)
        )
        self.history = HistoryLog()
        if self.zeek_flipped:
            self.history.flip()
        self.ip_version = p.ip_version
        self.first_ns = self.last_ns = self.zeek_last_ns = p.ts_ns
        self.first_frame = self.last_frame = p.frame
        self.uid = make_uid("udp", p.ts_ns, p.src, p.sport, p.dst, p.dport)
        self.inactivity = _ns(timeouts.udp_inactivity)
        self.pkts = [0, 0]  # client, server
        self.bytes = [0, 0]
        self.z_pkts = [0, 0]
        self.z_ip_bytes = [0, 0]
        self.chk = (Scaled(), Scaled())
        self.removed = False

    def expired(self, now_ns: int) -> bool:
        if now_ns >= self.zeek_last_ns + self.inactivity:
            self.removed = True
        return self.removed

    def is_reuse(self, p: PacketRecord) -> bool:
        return False

    def feed(self, p: PacketRecord) -> None:
        i = 0 if (p.src, p.sport) == self.client else 1
        self.last_ns, self.last_frame = p.ts_ns, p.frame
        self.pkts[i] += 1
        is_orig = (i == 0) != self.zeek_flipped
        if p.checksum_bad and self.check_checksums:
            if self.chk[i].hit():
                self.history.add("C", is_orig)
            return
        self.bytes[i] += p.payload_len
        self.zeek_last_ns = p.ts_ns
        self.history.check("D", "D", is_orig)
        self.z_pkts[i] += 1
        self.z_ip_bytes[i] += p.ip_len

    def record(self, capture: str) -> ConnectionRecord:
        o, r = (1, 0) if self.zeek_flipped else (0, 1)
        duration = (self.zeek_last_ns - self.first_ns) / NS
        zeek_dur = duration if duration > 0 else None
        return ConnectionRecord(
            **_common(capture, self.uid, "udp", self.ip_version, self.client, self.server,
                      self.first_ns, self.last_ns, self.first_frame, self.last_frame),
            client_inferred=False,
            handshake=None,
            handshake_valid=None,
            handshake_rtt_s=None,
            syn_retransmissions=0,
            end=None,
            closer=None,
            rst_by=None,
            client_state=None,
            server_state=None,
            time_wait=None,
            packets_c2s=self.pkts[0],
            packets_s2c=self.pkts[1],
            bytes_c2s=self.bytes[0],
            bytes_s2c=self.bytes[1],
            conn_state=udp_conn_state(self.z_pkts[o] > 0, self.z_pkts[r] > 0),
            history=str(self.history),
            duration_zeek=zeek_dur,
            orig_bytes=self.bytes[o] if zeek_dur is not None else None,
            resp_bytes=self.bytes[r] if zeek_dur is not None else None,
            missed_bytes=0,
            orig_pkts=self.z_pkts[o],
            orig_ip_bytes=self.z_ip_bytes[o],
            resp_pkts=self.z_pkts[r],
            resp_ip_bytes=self.z_ip_bytes[r],
            zeek_flipped=self.zeek_flipped,
            anomalies=(),
            http_requests=0,
            http_responses=0,
            websocket=False,
        )


def _common(capture: str, uid: str, proto: str, ip_version: int, client: tuple[str, int],
            server: tuple[str, int], first_ns: int, last_ns: int, first_frame: int,
            last_frame: int) -> dict[str, Any]:
    """The record fields TCP connections and UDP flows fill in the same way."""
    return {
        "capture": capture, "uid": uid, "proto": proto, "ip_version": ip_version,
        "client_ip": client[0], "client_port": client[1],
        "server_ip": server[0], "server_port": server[1],
        "first_ts": first_ns / NS, "last_ts": last_ns / NS,
        "first_ts_ns": first_ns, "last_ts_ns": last_ns, "duration_s": (last_ns - first_ns) / NS,
        "first_frame": first_frame, "last_frame": last_frame,
    }


def _tcp_flip_at_creation(flags: int, sport: int, dport: int) -> bool:
    """Zeek ``TCPAnalyzer::WantConnection``: guess the responder of a partial connection."""
    if flags & SYN and not flags & ACK:
        return False
    if sport in LIKELY_SERVER_PORTS_TCP:
        if dport in LIKELY_SERVER_PORTS_TCP:
            return not flags & SYN and sport < dport
        return True
    return False


def _broadcast_or_multicast(addr: str) -> bool:
    """Zeek does not make a broadcast or multicast address the originator (zeek#3235)."""
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    return ip.is_multicast or (ip.version == 4 and addr == "255.255.255.255")


def _ns(seconds: float) -> int:
    return int(seconds * NS)
