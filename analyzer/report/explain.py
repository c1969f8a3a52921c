"""``explain``: one connection as a ladder diagram, with each side's RFC 9293 state after
every segment, and a verdict in plain language.

The ladder is rebuilt by feeding the connection's packets, one at a time, into a fresh
core connection and reading both endpoints' states after each step: the diagram and the
record cannot disagree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from analyzer import _engine
from analyzer.core.app import OPCODES
from analyzer.core.packets import ACK, FIN, RST, SYN, PacketRecord
from analyzer.core.records import ConnectionRecord
from analyzer.report.endpoints import endpoint, host
from analyzer.report.select import (
    AmbiguousConnection,
    NoConnection,
    SelectionError,
    find_connection,
    numbered,
)
from analyzer.text import inert

FOLD_AFTER = 6  # a run of more plain data/ACK segments than this is folded into one line


@dataclass(frozen=True, slots=True)
class Step:
    """One arrow of the ladder."""

    frame: int
    ms: float  # since the first packet
    from_client: bool
    label: str
    length: int
    client_state: str
    server_state: str
    plain: bool  # a data or ACK segment with nothing else to say (foldable)
    #: The numbers the HTML ladder draws (nothing packet-derived but numbers): the TCP
    #: flags, seq/ack relative to each side's ISN (ack None without ACK or before the
    #: other side's ISN is known) and the health marks (``MARK_LABELS``' keys).
    flags: int = 0
    seq: int = 0
    ack: int | None = None
    marks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Fold:
    """A folded run of plain segments."""

    first_frame: int
    last_frame: int
    segments: int
    bytes_c2s: int
    bytes_s2c: int


def choose(records: Sequence[ConnectionRecord], conn: str | None
           ) -> tuple[int, ConnectionRecord]:
    """The TCP connection ``explain`` draws, and its ``#N`` among ``records``: the one
    ``conn`` names (a uid, ``#N`` or endpoints, see ``report.select.find_connection``), or
    the first TCP connection. Raises ``report.select.SelectionError``."""
    if conn is None:
        found = next((c for c in numbered(records) if c.record.proto == "tcp"), None)
        if found is None:
            raise NoConnection("no TCP connection")
    else:
        found = find_connection(records, conn, only=lambda r: r.proto == "tcp",
                                kind="TCP connection")
    record = found.record
    assert isinstance(record, ConnectionRecord)
    return found.number, record


def selection_error(exc: SelectionError, captures: Sequence[str]) -> str:
    """``explain``'s message for a name that matches nothing or several connections: the
    candidates one per line, and where to find the ids."""
    where = f"{captures[0]}: " if len(captures) == 1 else ""
    table = " ".join(["pcap-analyzer connections", *captures, "-f table"])
    if isinstance(exc, AmbiguousConnection):
        return "\n".join([f"error: {where}{exc.message}", *exc.lines()])
    return (f"error: {where}{exc.message} (the # column of `{table}` numbers them; "
            "--columns n,uid,client,server shows the uids)")


def flag_names(fl: int) -> list[str]:
    """The TCP flags a ladder names, in its order (SYN, FIN, RST, ACK, PSH)."""
    names = [n for bit, n in ((SYN, "SYN"), (FIN, "FIN"), (RST, "RST"), (ACK, "ACK"))
             if fl & bit]
    if fl & 0x08:
        names.append("PSH")
    return names


def _flags(fl: int) -> str:
    return ",".join(flag_names(fl)) or "none"


def seq_delta(a: int, b: int) -> int:
    """Signed difference a - b in 32-bit sequence space."""
    return ((a - b + (1 << 31)) % (1 << 32)) - (1 << 31)


def ladder(record: ConnectionRecord, packets: Iterable[PacketRecord]) -> list[Step]:
    """Replay the connection's packets through the engine's tracker, one step per packet,
    reading both endpoints' RFC 9293 states after each."""
    steps: list[Step] = []
    packets = list(packets)
    marks = _engine.segment_marks(packets)
    tracker = _engine.Tracker()
    isn: dict[bool, int] = {}
    first_ns = record.first_ts_ns
    for p, mark in zip(packets, marks, strict=True):
        cid, _ = tracker.feed(p)
        view = tracker.tcp_view(cid)
        if view is None:
            continue
        client_addr, client_port, orig_state, resp_state = view
        from_client = (p.src, p.sport) == (record.client_ip, record.client_port)
        if from_client not in isn:
            isn[from_client] = p.seq if p.flags & SYN else (p.seq - 1) % (1 << 32)
        rel_seq = seq_delta(p.seq, isn[from_client])
        parts = [_flags(p.flags), f"seq={rel_seq}"]
        rel_ack: int | None = None
        if p.flags & ACK and (not from_client) in isn:
            rel_ack = seq_delta(p.ack, isn[not from_client])
            parts.append(f"ack={rel_ack}")
        elif p.flags & ACK:
            parts.append(f"ack=raw {p.ack}")
        if p.payload_len:
            parts.append(f"len={p.payload_len}")
        notes = [_http_note(m) for m in p.http] + [_ws_note(f) for f in p.ws]
        health = _marks_note(mark)
        if health:
            parts.append(health)
        label = " ".join(parts) + ("  " + "; ".join(notes) if notes else "")
        if (client_addr, client_port) == (record.client_ip, record.client_port):
            client_state, server_state = orig_state, resp_state
        else:
            client_state, server_state = resp_state, orig_state
        plain = not (p.flags & (SYN | FIN | RST)) and not notes and not health
        steps.append(Step(p.frame, (p.ts_ns - first_ns) / 1e6, from_client, label,
                          p.payload_len, client_state, server_state, plain,
                          p.flags, rel_seq, rel_ack,
                          tuple(m for m in mark if m in MARK_LABELS)))
    return steps


#: How the ladder names what a segment was (the engine's health marks, as tcptrace and
#: Wireshark's expert info count them); a plain SACK is not worth a mark.
MARK_LABELS = {"retransmission": "RETRANSMISSION", "out_of_order": "OUT-OF-ORDER",
               "dup_ack": "DUP-ACK", "triple_dup_ack": "3RD-DUP-ACK",
               "zero_window": "ZERO-WINDOW", "window_probe": "WINDOW-PROBE",
               "dsack": "D-SACK"}


def _marks_note(marks: list[str]) -> str:
    """``[RETRANSMISSION]``, ``[DUP-ACK 3RD-DUP-ACK]``...; empty for a plain segment."""
    names = [MARK_LABELS[m] for m in marks if m in MARK_LABELS]
    return f"[{' '.join(names)}]" if names else ""


def _health_lines(record: ConnectionRecord, side: dict[str, str]) -> list[str]:
    """The TCP health sentences: retransmissions, duplicate ACKs, zero windows."""
    lines = []
    for way, who in (("c2s", "client"), ("s2c", "server")):
        rexmt = getattr(record, f"retrans_packets_{way}") or 0
        if rexmt:
            nbytes = getattr(record, f"retrans_bytes_{way}") or 0
            lines.append(f"{side[who].capitalize()} retransmitted {rexmt} segment(s) "
                         f"({nbytes:,} B).")
        dups = getattr(record, f"dup_acks_{way}") or 0
        if dups:
            other = "server" if who == "client" else "client"
            lines.append(f"{side[other].capitalize()} sent {dups} duplicate ACK(s) for "
                         f"{who} data.")
        zero = getattr(record, f"zero_window_advertisements_{way}") or 0
        if zero:
            probes = getattr(record, f"zero_window_probes_{'s2c' if way == 'c2s' else 'c2s'}")
            lines.append(f"{side[who].capitalize()} advertised a zero window {zero} time(s); "
                         f"the other side sent {probes or 0} window probe(s).")
    return lines


def _http_note(m: object) -> str:
    from analyzer.core.packets import HttpMessage

    assert isinstance(m, HttpMessage)
    if m.is_request:
        upgrade = " Upgrade: websocket" if (m.header("upgrade") or "").lower() == "websocket" \
            else ""
        return inert(f"HTTP {m.method} {m.target}{upgrade}")
    return inert(f"HTTP {m.status} {m.reason or ''}".rstrip())


def _ws_note(f: object) -> str:
    from analyzer.core.packets import WsFrame

    assert isinstance(f, WsFrame)
    name = OPCODES.get(f.opcode, f"opcode {f.opcode}")
    if f.opcode == 8:
        return f"WS Close {f.close_code if f.close_code is not None else '(no code)'}"
    return f"WS {name} {f.payload_len} B"


def fold(steps: list[Step]) -> list[Step | Fold]:
    """Runs of more than FOLD_AFTER plain segments become one Fold (first and last shown)."""
    out: list[Step | Fold] = []
    run: list[Step] = []

    def flush() -> None:
        if len(run) > FOLD_AFTER:
            out.append(run[0])
            middle = run[1:-1]
            out.append(Fold(middle[0].frame, middle[-1].frame, len(middle),
                            sum(s.length for s in middle if s.from_client),
                            sum(s.length for s in middle if not s.from_client)))
            out.append(run[-1])
        else:
            out.extend(run)
        run.clear()

    for s in steps:
        if s.plain:
            run.append(s)
        else:
            flush()
            out.append(s)
    flush()
    return out


def verdict(record: ConnectionRecord, steps: list[Step]) -> list[str]:
    """Plain-language sentences about how the connection went."""
    lines: list[str] = []
    side = {"client": f"the client ({endpoint(record.client_ip, record.client_port)})",
            "server": f"the server ({endpoint(record.server_ip, record.server_port)})"}
    hs = record.handshake
    if hs == "complete":
        rtt = (record.handshake_rtt_s or 0) * 1000
        valid = "" if record.handshake_valid else " but INVALID (see anomalies)"
        lines.append(f"Handshake complete in {rtt:.3f} ms{valid}.")
        if record.syn_retransmissions:
            lines.append(f"The client sent its SYN {record.syn_retransmissions + 1} times.")
    elif hs == "refused":
        lines.append("The server refused the connection: it answered the SYN with a RST.")
    elif hs == "unanswered":
        lines.append("The SYN was never answered.")
    elif hs == "incomplete":
        lines.append("The server answered with SYN-ACK, but the handshake's final ACK is "
                     "not in the capture.")
    else:
        lines.append("The capture starts after the handshake (roles inferred).")
    if record.end == "fin" and record.closer in side:
        closer = record.closer
        other = "server" if closer == "client" else "client"
        tw = "sits in TIME_WAIT" if record.time_wait == closer else (
            f"ends in {record.client_state if closer == 'client' else record.server_state}")
        sentence = f"{side[closer].capitalize()} closed first and {tw}"
        delay = _fin_ack_delay(record, steps, closer == "client")
        if delay is not None:
            note = " (delayed ACK)" if delay >= 20 else ""
            sentence += (f"; {side[other]} acknowledged the FIN {delay_ms(delay)} ms "
                         f"later{note}")
        lines.append(sentence + ".")
        after = _data_after_fin(steps, closer == "client")
        if after:
            segments, nbytes = after
            lines.append(f"Half-close: {side[other]} kept sending after that FIN "
                         f"({segments} segment(s), {nbytes:,} B) before closing its side.")
    elif record.end == "fin" and record.closer == "both":
        lines.append("Both sides closed at once (simultaneous close): both went through "
                     "CLOSING and both sit in TIME_WAIT.")
    elif record.end == "half_closed" and record.closer in side:
        lines.append(f"Only {side[record.closer]} closed; the other side is in "
                     f"{record.server_state if record.closer == 'client' else record.client_state}"
                     " (half-closed).")
    elif record.end == "rst" and record.rst_by in side and hs != "refused":
        lines.append(f"{side[record.rst_by].capitalize()} aborted the connection with a RST; "
                     "both ends are CLOSED and nobody is in TIME_WAIT.")
    elif record.end == "open":
        lines.append("The connection was still open when the capture ended.")
    lines += _health_lines(record, side)
    if record.http_requests:
        lines.append(f"It carried {record.http_requests} HTTP request(s).")
    for ws in record.websockets:
        state = "established" if ws.established else f"not established (status {ws.status})"
        close = (f"; {ws.close_by} sent Close {ws.close_code}" if ws.close_by else "")
        lines.append(f"WebSocket upgrade to {ws.request_target}: {state}{close}.")
    return lines


def delay_ms(ms: float) -> str:
    """A delay in milliseconds: one decimal from 1 ms up (``40.1``), three significant
    digits below (``0.0312``, ``0.500``), so that a sub-0.05 ms delay never reads 0.0."""
    if ms >= 1 or ms <= 0:
        return f"{ms:.1f}" if ms > 0 else "0"
    decimals = 2 - math.floor(math.log10(ms))
    return f"{ms:.{decimals}f}"


def _data_after_fin(steps: list[Step], closer_is_client: bool) -> tuple[int, int] | None:
    fin = next((s for s in steps if s.from_client == closer_is_client and "FIN" in s.label),
               None)
    if fin is None:
        return None
    data = [s for s in steps if s.frame > fin.frame and s.from_client != closer_is_client
            and s.length > 0]
    return (len(data), sum(s.length for s in data)) if data else None


def _fin_ack_delay(record: ConnectionRecord, steps: list[Step], closer_is_client: bool
                   ) -> float | None:
    fin = next((s for s in steps if s.from_client == closer_is_client and "FIN" in s.label),
               None)
    if fin is None:
        return None
    after = [s for s in steps if s.frame > fin.frame and s.from_client != closer_is_client
             and "ACK" in s.label]
    return after[0].ms - fin.ms if after else None


def render_text(record: ConnectionRecord, steps: list[Step], number: int | None = None
                ) -> str:
    """The ladder as text; ``number``: the connection's ``#N``, shown before its uid."""
    longest = max((len(s.label) for s in steps), default=0)
    width = min(max(58, longest + 6), 120)
    head = [
        ("" if number is None else f"#{number}  ")
        + f"{record.uid}  {record.proto}  client {endpoint(record.client_ip, record.client_port)}"
        f"  ->  server {endpoint(record.server_ip, record.server_port)}   ({record.capture})",
        "seq/ack are relative to each side's ISN; states are RFC 9293, after each segment.",
        "",
        f"{'frame':>6} {'ms':>10}  {'client':<{width // 2}}{'server':>{width // 2}}   "
        "client / server state",
    ]
    body = []
    for item in fold(steps):
        if isinstance(item, Fold):
            body.append(f"{'':>6} {'':>10}  ... {item.segments:,} data segments "
                        f"(frames {item.first_frame}-{item.last_frame}), "
                        f"{item.bytes_c2s:,} B client->server, {item.bytes_s2c:,} B "
                        "server->client ...")
            continue
        label = item.label
        if item.from_client:
            arrow = f"{label} "[: width - 2].ljust(width - 2, "-") + "->"
        else:
            arrow = "<-" + f" {label}"[: width - 2].rjust(width - 2, "-")
        body.append(f"{item.frame:>6} {item.ms:>10.3f}  {arrow}   "
                    f"{item.client_state} / {item.server_state}")
    tail = ["", "Verdict:"] + [f"  {inert(line)}" for line in verdict(record, steps)]
    if record.anomalies:
        tail += ["Anomalies:"] + [f"  {inert(a)}" for a in record.anomalies]
    return "\n".join(head + body + tail) + "\n"


def _mermaid_text(text: str) -> str:
    """Mermaid message text that cannot end or restructure a statement: separators,
    comments, entities, HTML and control characters are replaced with inert look-alikes."""
    text = inert(text)
    for ch, rep in ((";", ","), ("#", "no."), (":", " "), ("<", "‹"), (">", "›"),
                    ("`", "'"), ("%", " pct"), ("{", "("), ("}", ")"), ("\\", "/")):
        text = text.replace(ch, rep)
    return text


def _mermaid_host(ip: str) -> str:
    """An address in a Mermaid participant: IPv6 in brackets, its colons as Mermaid's
    ``#58;`` (a colon would end the statement's text)."""
    return "#58;".join(_mermaid_text(part) for part in host(ip).split(":"))


def render_mermaid(record: ConnectionRecord, steps: list[Step]) -> str:
    c = f"client {_mermaid_host(record.client_ip)}.{record.client_port}"
    s = f"server {_mermaid_host(record.server_ip)}.{record.server_port}"
    lines = ["```mermaid", "sequenceDiagram", f"    participant C as {c}",
             f"    participant S as {s}"]
    last_states: tuple[str, str] | None = None
    for item in fold(steps):
        if isinstance(item, Fold):
            lines.append(f"    Note over C,S: ... {item.segments} data segments, "
                         f"{item.bytes_c2s} B c to s, {item.bytes_s2c} B s to c ...")
            continue
        arrow = "C->>S" if item.from_client else "S->>C"
        text = _mermaid_text(f"no.{item.frame} +{item.ms:.3f}ms {item.label}")
        lines.append(f"    {arrow}: {text}")
        states = (item.client_state, item.server_state)
        if states != last_states:
            lines.append(f"    Note over C,S: {states[0]} / {states[1]}")
            last_states = states
    lines.append("```")
    verdict_lines = verdict(record, steps)
    from analyzer.report.writers import md_escape

    bullets = "\n".join(f"- {md_escape(v)}" for v in verdict_lines)
    return "\n".join(lines) + "\n\n" + bullets + "\n"
