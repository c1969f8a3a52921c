"""Reference loader: pyshark packet objects -> :class:`PacketRecord` (``--loader pyshark``).

This is the slow, second opinion next to the fast ``tshark -T fields`` loader
(:mod:`analyzer.loader.tshark`). It must build exactly the same records, so it copies
that loader's field semantics: an IP/TCP/UDP field is the LAST occurrence of that field in the
packet (the last of tshark's ``-E occurrence=a`` values), so for tunnels the innermost IP
header and TCP/UDP header win; HTTP and WebSocket fields keep every occurrence (see below).

How the pyshark 0.6 JSON mode (``tshark -T json --no-duplicate-keys``) is read:

* ``pkt.frame_info`` holds the ``frame`` layer; ``frame.protocols`` gives the true order of
  the dissected protocols. pyshark's own ``pkt.layers`` list does not: it groups every
  instance of a protocol under that protocol's first appearance, so for ``ip:ipv6:ip:tcp`` it
  lists ``ip, ipv6, tcp``. Whether the innermost network header is IPv4 or IPv6 is therefore
  decided from ``frame.protocols``.
* A protocol that occurs twice in a packet (``ip`` in ``ip:gre:ip:tcp``) is one JSON key whose
  value is a list; pyshark turns it into one ``JsonLayer`` whose first instance is the layer
  and the others are in ``duplicate_layers``. Fields are looked up across all instances, in
  document order, keeping the last value seen, which is what ``occurrence=l`` does.
* ICMP/ICMPv6 error messages carry the quoted IP/TCP/UDP headers nested inside the ``icmp``
  layer; such packets are skipped before anything is read from them.
* Values are the raw JSON strings (``"0x0012"``, ``"1700000000.000001000"``), never floats.

Headers cut short by the snap length get the fast loader's treatment
(``analyzer.loader.tshark.parse_fields``), so that both loaders agree there too: a packet is
TCP when ``tcp.srcport`` was dissected, else UDP when ``udp.srcport`` was, else skipped;
missing addresses read ``""``, a missing IP length 0 (IPv6: 40), missing seq/ack/len/window 0,
a missing UDP length gives payload 0 and a UDP payload is never negative. A TCP or UDP header
cut after the source port (no destination port / no TCP flags) is skipped.

HTTP messages and WebSocket frames (``PacketRecord.http`` / ``.ws``) are built by the fast
loader's own ``parse_http`` / ``parse_ws`` from the same columns it reads: every occurrence of
each ``http.*`` / ``websocket.*`` field, in tree order, joined with its ``AGG`` separator.

* tshark is given the same dissection preferences as the fast loader (``LEAN_ARGS`` and
  ``HTTP_ARGS``), so both see the same messages and frames.
* Pipelined messages / several frames in one segment are one JSON key holding a list (pyshark's
  ``duplicate_layers``); a message's first-line fields sit in a subtree keyed by the first line
  and a close frame's code/reason under the payload subtree, so whole trees are walked in
  document order.
* ``--no-duplicate-keys`` (always on in pyshark) merges sibling subtrees with the same label
  into one list at the place of the first: for a chunked body sent as chunks of 5, 3 and 5
  bytes, the two "Data chunk (5 octets)" subtrees come out before the 3-byte one. tshark is
  therefore run with ``-x`` (pyshark ``include_raw``), and chunk sizes are put back in byte
  order from their ``http.chunk_size_raw`` offsets.
* ``-T fields`` escapes backspace, form feed, newline, carriage return and tab in string values
  (``Host: x\\r\\n``) while JSON carries the characters themselves; the same escaping is
  applied here, so that header lines, reasons and URIs come out character for character alike.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import warnings
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pyshark
from pyshark.capture.capture import TSharkCrashException

from analyzer.core.packets import HttpMessage, PacketRecord, WsFrame, option_bytes
from analyzer.loader.tshark import (
    AGG,
    FIELDS,
    HTTP_ARGS,
    LEAN_ARGS,
    TUNNEL_ARGS,
    TUNNEL_PROTOCOLS,
    parse_epoch_ns,
    parse_frame,
    parse_http,
    parse_ws,
)

__all__ = ["PROTOCOL_FILTER", "iter_packets_pyshark", "parse_epoch_ns", "record_from_packet",
           "records_from_packet"]

#: ``-J`` protocol filter: only these layers are emitted with their fields (``frame`` must be
#: in the list: pyshark reads ``frame.protocols`` and crashes without it).
PROTOCOL_FILTER = "frame ip ipv6 tcp udp icmp icmpv6 http websocket"

_SKIP_PROTOCOLS = frozenset({"icmp", "icmpv6"})

_FRAME_FIELDS = frozenset({"frame.number", "frame.time_epoch", "frame.len", "frame.cap_len"})
_IPV4_FIELDS = frozenset({"ip.src", "ip.dst", "ip.len", "ip.checksum.status", "ip.hdr_len",
                          "ip.reassembled.length"})
_IPV6_FIELDS = frozenset({"ipv6.src", "ipv6.dst", "ipv6.plen", "ipv6.reassembled.length",
                          "ipv6.hopopts.len"})
_TCP_FIELDS = frozenset(
    {
        "tcp.srcport",
        "tcp.dstport",
        "tcp.flags",
        "tcp.seq_raw",
        "tcp.ack_raw",
        "tcp.len",
        "tcp.window_size_value",
        "tcp.checksum.status",
        "tcp.options",
    }
)
_UDP_FIELDS = frozenset({"udp.srcport", "udp.dstport", "udp.length", "udp.checksum.status"})

#: The fast loader's HTTP and WebSocket columns (``parse_fields`` reads ``c[23:32]`` and
#: ``c[32:41]``), in the same order, so the same ``parse_http``/``parse_ws`` can read them.
_HTTP_COLUMNS: tuple[str, ...] = FIELDS[23:32]
_WS_COLUMNS: tuple[str, ...] = FIELDS[32:41]
_HTTP_METHOD, _HTTP_CODE = (
    _HTTP_COLUMNS.index("http.request.method"),
    _HTTP_COLUMNS.index("http.response.code"),
)
_WS_OPCODE = _WS_COLUMNS.index("websocket.opcode")
_CHUNK_SIZE = "http.chunk_size"
_WS_BOOLEANS = frozenset({"websocket.fin", "websocket.mask"})
_BOOLEAN_TEXT = {"True": "1", "true": "1", "False": "0", "false": "0"}

#: What ``-T fields`` escapes in a value (epan/print.c ``print_escaped_csv``).
_FIELDS_ESCAPES = str.maketrans({"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"})

#: ``*.checksum.status`` value when tshark validated the checksum and found it wrong
#: (``PROTO_CHECKSUM_E_BAD``; 1 = good, 2 = unverified, 3 = not present).
_CHECKSUM_BAD = "0"



def iter_packets_pyshark(
    path: str,
    *,
    display_filter: str | None = None,
    check_checksums: bool = False,
    tshark_path: str | None = None,
    decode_as: dict[str, str] | None = None,
    override_prefs: dict[str, str] | None = None,
    lean: bool = True,
) -> Iterator[PacketRecord]:
    """Yield one :class:`PacketRecord` per TCP segment / UDP datagram in the capture at ``path``.

    Packets that are ICMP/ICMPv6, carry neither TCP nor UDP, or whose needed header fields were
    not captured are skipped.

    Args:
        path: the capture file (anything tshark reads: pcap, pcapng, gzip-compressed, ...).
        display_filter: a Wireshark display filter (``-Y``) applied by tshark.
        check_checksums: have tshark validate TCP and UDP checksums, so that ``checksum_bad``
            can be True (off by default, as in Wireshark).
        tshark_path: the tshark binary to run (pyshark's lookup when None).
        decode_as: ``{"tcp.port==8888": "http"}``-style ``-d`` rules.
        override_prefs: extra ``-o name:value`` preferences; they win over the loader's own
            (``HTTP_ARGS``, ``LEAN_ARGS``, checksum checking), as they do in the fast loader.
        lean: pass the fast loader's ``LEAN_ARGS`` (as ``LoadOptions.lean``, default on).

    Raises:
        pyshark.capture.capture.TSharkCrashException: tshark failed (not a capture, truncated
            capture, ...). For a capture cut short mid-packet this is raised only after every
            packet tshark could read has been yielded.
        FileNotFoundError: ``path`` does not exist or is a directory.
    """
    # The fast loader's order: HTTP_ARGS, checksum checking, then the caller's -o (last wins).
    # LEAN_ARGS go in custom_parameters, which pyshark puts before all of these.
    prefs: dict[str, str] = _prefs_from_args(HTTP_ARGS)
    if check_checksums:
        prefs["ip.check_checksum"] = "TRUE"
        prefs["tcp.check_checksum"] = "TRUE"
        prefs["udp.check_checksum"] = "TRUE"
    prefs.update(override_prefs or {})
    parameters = ["-n", "-J", PROTOCOL_FILTER, *TUNNEL_ARGS]
    if lean:
        parameters += LEAN_ARGS
    capture = pyshark.FileCapture(
        path,
        use_json=True,
        include_raw=True,  # -x: field offsets, to order merged subtrees (module docstring)
        keep_packets=False,
        display_filter=display_filter,
        decode_as=decode_as or None,
        override_prefs=prefs or None,
        tshark_path=tshark_path,
        custom_parameters=parameters,
    )
    _watch_by_pidfd(capture)
    lost = _LostStatus()
    asyncio_log = logging.getLogger("asyncio")
    asyncio_log.addFilter(lost)
    try:
        try:
            for packet in capture:
                yield from records_from_packet(packet)
        except BaseException:
            # Includes GeneratorExit (the consumer stopped early): tshark is killed, and an
            # error from the close must not mask the one already on its way.
            _close_capture(capture, lost, reraise=False)
            raise
        # tshark's exit status is only looked at here: pyshark reports a failed tshark (not
        # a capture, cut short mid-packet) as TSharkCrashException from close(), after the
        # iteration above yielded every packet tshark could read.
        _close_capture(capture, lost, reraise=True)
    finally:
        asyncio_log.removeFilter(lost)


def records_from_packet(packet: Any) -> list[PacketRecord]:
    """The packets of one pyshark JSON-mode frame, as the fast loader gives them.

    A frame with ICMP, a tunnel or more than one IP header is laid out as the fast loader's
    ``-T fields`` line (every occurrence of each field, instance by instance, outermost
    first) and read by the same layer walk (``analyzer.loader.tshark.parse_frame``); any
    other frame is one record (``record_from_packet``).
    """
    frame_fields = _raw_fields(packet.frame_info)
    protocols = str(frame_fields.get("frame.protocols", "")).split(":")
    layered = (_SKIP_PROTOCOLS.intersection(protocols)
               or any(p in TUNNEL_PROTOCOLS for p in protocols)
               or sum(p in ("ip", "ipv6") for p in protocols) > 1)
    if not layered:
        record = record_from_packet(packet)
        return [record] if record is not None else []
    layers: dict[str, Any] = {}
    for layer in packet.layers:
        layers.setdefault(str(layer.layer_name).lower(), layer)
    line = [""] * len(FIELDS)
    by_proto: dict[str, list[int]] = {}
    for i, name in enumerate(FIELDS):
        by_proto.setdefault(name.split(".", 1)[0], []).append(i)
    for proto, indexes in by_proto.items():
        if proto == "frame":
            for i in indexes:
                line[i] = str(frame_fields.get(FIELDS[i], ""))
        elif proto in ("http", "websocket") and proto in layers:
            values = _columns(_instances(layers[proto]), tuple(FIELDS[i] for i in indexes))
            for i, value in zip(indexes, values, strict=True):
                line[i] = value
        elif proto in layers:
            # One value per instance of the header (the first, as ``-T fields`` has it).
            instances = _instances(layers[proto])
            for i in indexes:
                key = FIELDS[i]
                found = [v for v in (_first_value(tree, key) for tree in instances)
                         if v is not None]
                line[i] = AGG.join(_as_fields_text(key, v) for v in found)
    return parse_frame(line)


def _first_value(tree: dict[str, Any], key: str) -> str | None:
    """A field's value in one protocol instance: at its top level, else in its subtrees."""
    if key in tree:
        return _last_scalar(tree[key])
    found: dict[str, str] = {}
    _walk(tree, frozenset({key}), found)
    return found.get(key)


def record_from_packet(packet: Any) -> PacketRecord | None:
    """Build the record for one pyshark JSON-mode packet, or None when it is to be skipped.

    Mirrors ``analyzer.loader.tshark.parse_fields`` case by case, including for headers cut
    short by the snap length (see the module docstring).
    """
    frame_fields = _raw_fields(packet.frame_info)
    protocols = str(frame_fields.get("frame.protocols", "")).split(":")
    if _SKIP_PROTOCOLS.intersection(protocols):
        return None
    layers: dict[str, Any] = {}
    for layer in packet.layers:
        # pyshark makes one JsonLayer per distinct protocol; keep the first, just in case.
        layers.setdefault(str(layer.layer_name).lower(), layer)

    # "Is TCP" / "is UDP" means: the (last) source port was dissected, as in the fast loader.
    tcp = _collect(_instances(layers["tcp"]), _TCP_FIELDS) if "tcp" in layers else {}
    udp: dict[str, str] = {}
    is_tcp = bool(tcp.get("tcp.srcport"))
    if not is_tcp:
        udp = _collect(_instances(layers["udp"]), _UDP_FIELDS) if "udp" in layers else {}
        if not udp.get("udp.srcport"):
            return None

    ip_version = _innermost_ip_version(protocols)
    if ip_version is None:
        return None
    ip_bad = False
    if ip_version == 4:
        ip = _collect(_instances(layers["ip"]), _IPV4_FIELDS) if "ip" in layers else {}
        src, dst = ip.get("ip.src", ""), ip.get("ip.dst", "")
        ip_len = _int_or(ip.get("ip.len"), 0)
        if ip.get("ip.reassembled.length"):  # Zeek counts the whole reassembled datagram
            ip_len = _int_or(ip.get("ip.reassembled.length"), 0) + _int_or(
                ip.get("ip.hdr_len"), 20)
        ip_bad = ip.get("ip.checksum.status") == _CHECKSUM_BAD
    else:
        ip6 = _collect(_instances(layers["ipv6"]), _IPV6_FIELDS) if "ipv6" in layers else {}
        src, dst = ip6.get("ipv6.src", ""), ip6.get("ipv6.dst", "")
        ip_len = _int_or(ip6.get("ipv6.plen"), 0) + 40
        if ip6.get("ipv6.reassembled.length"):
            hop = ip6.get("ipv6.hopopts.len")
            ip_len = (_int_or(ip6.get("ipv6.reassembled.length"), 0) + 40
                      + ((int(hop) + 1) * 8 if hop and hop.isdigit() else 0))

    frame = _collect([frame_fields], _FRAME_FIELDS)
    number = int(frame["frame.number"])
    ts_ns = parse_epoch_ns(frame["frame.time_epoch"])
    payload_captured = int(frame["frame.cap_len"]) >= int(frame["frame.len"])

    if is_tcp:
        dport = tcp.get("tcp.dstport")
        flags = tcp.get("tcp.flags")
        if not dport or not flags:
            # TCP header cut after the source port: nothing usable (see the module docstring).
            return None
        http = _http_messages(layers.get("http"))
        ws = _ws_frames(layers.get("websocket"))
        return PacketRecord(
            frame=number,
            ts_ns=ts_ns,
            proto="tcp",
            ip_version=ip_version,
            src=src,
            sport=int(tcp["tcp.srcport"]),
            dst=dst,
            dport=int(dport),
            ip_len=ip_len,
            flags=int(flags, 16) & 0xFF,
            seq=_int_or(tcp.get("tcp.seq_raw"), 0),
            ack=_int_or(tcp.get("tcp.ack_raw"), 0),
            payload_len=_int_or(tcp.get("tcp.len"), 0),
            window=_int_or(tcp.get("tcp.window_size_value"), 0),
            payload_captured=payload_captured,
            checksum_bad=ip_bad or tcp.get("tcp.checksum.status") == _CHECKSUM_BAD,
            http=http,
            ws=ws,
            options=option_bytes(str(tcp.get("tcp.options") or "")),
        )

    dport = udp.get("udp.dstport")
    if not dport:
        return None
    return PacketRecord(
        frame=number,
        ts_ns=ts_ns,
        proto="udp",
        ip_version=ip_version,
        src=src,
        sport=int(udp["udp.srcport"]),
        dst=dst,
        dport=int(dport),
        ip_len=ip_len,
        flags=0,
        seq=0,
        ack=0,
        payload_len=max(_int_or(udp.get("udp.length"), 8) - 8, 0),
        window=0,
        payload_captured=payload_captured,
        checksum_bad=ip_bad or udp.get("udp.checksum.status") == _CHECKSUM_BAD,
    )


def _http_messages(layer: Any) -> tuple[HttpMessage, ...]:
    """The packet's HTTP messages, as ``parse_fields`` builds them from its HTTP columns."""
    if layer is None:
        return ()
    columns = _columns(_instances(layer), _HTTP_COLUMNS)
    if not (columns[_HTTP_METHOD] or columns[_HTTP_CODE]):
        return ()
    return parse_http(columns)


def _ws_frames(layer: Any) -> tuple[WsFrame, ...]:
    """The packet's WebSocket frames, as ``parse_fields`` builds them from its WS columns."""
    if layer is None:
        return ()
    columns = _columns(_instances(layer), _WS_COLUMNS)
    if not columns[_WS_OPCODE]:
        return ()
    return parse_ws(columns)


def _columns(instances: list[dict[str, Any]], wanted: tuple[str, ...]) -> list[str]:
    """The ``-T fields -E occurrence=a`` column of each wanted field: every occurrence across
    the protocol's instances, in tree order, as tshark prints it, joined with ``AGG``."""
    found: dict[str, list[str]] = {key: [] for key in wanted}
    for tree in instances:
        occurrences: dict[str, list[tuple[str, int | None]]] = {key: [] for key in wanted}
        _gather(tree, occurrences)
        chunks = occurrences.get(_CHUNK_SIZE)
        if chunks and all(offset is not None for _, offset in chunks):
            # Put chunk sizes merged by --no-duplicate-keys back in byte order (stable sort).
            chunks.sort(key=lambda item: item[1] or 0)
        for key, values in occurrences.items():
            found[key] += (_as_fields_text(key, value) for value, _ in values)
    return [AGG.join(found[key]) for key in wanted]


def _gather(node: object, occurrences: dict[str, list[tuple[str, int | None]]]) -> None:
    """Every occurrence of the wanted fields under ``node``, in document order, each with its
    byte offset from the ``<field>_raw`` sibling (None when tshark gave none)."""
    if isinstance(node, dict):
        for key, value in node.items():
            bucket = occurrences.get(key)
            if bucket is not None:
                values = _strings(value)
                offsets = _raw_offsets(node.get(f"{key}_raw"), len(values))
                bucket += zip(values, offsets, strict=True)
            if isinstance(value, dict | list):
                _gather(value, occurrences)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict | list):
                _gather(item, occurrences)


def _strings(value: object) -> list[str]:
    """A field's values: one string, or a list of them when it repeats within one tree."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _raw_offsets(raw: object, count: int) -> list[int | None]:
    """Offsets from a ``-x`` raw entry (``[hex, offset, length, bitmask, type]``, or a list of
    those for a repeated field); None for each value when they cannot be paired up."""
    entries: list[object] = []
    if isinstance(raw, list) and raw:
        entries = list(raw) if isinstance(raw[0], list) else [raw]
    offsets: list[int | None] = []
    for entry in entries:
        if isinstance(entry, list) and len(entry) > 1 and isinstance(entry[1], int):
            offsets.append(entry[1])
        else:
            offsets.append(None)
    if len(offsets) != count:
        return [None] * count
    return offsets


def _as_fields_text(key: str, value: str) -> str:
    """A JSON field value as ``-T fields`` prints it (see the module docstring)."""
    if key in _WS_BOOLEANS:
        value = _BOOLEAN_TEXT.get(value, value)
    return value.translate(_FIELDS_ESCAPES)


def _prefs_from_args(args: tuple[str, ...]) -> dict[str, str]:
    """``("-o", "name:value", ...)`` -> ``{"name": "value"}`` (other arguments are ignored)."""
    prefs: dict[str, str] = {}
    for option, argument in pairwise(args):
        if option == "-o":
            name, sep, value = argument.partition(":")
            if sep:
                prefs[name] = value
    return prefs


def _watch_by_pidfd(capture: Any) -> None:
    """Learn of tshark's exit from a pidfd instead of from SIGCHLD.

    pyshark installs a SafeChildWatcher, which finds exited children by SIGCHLD through the
    event loop's signal pipe. With many other children coming and going (the fast loader's
    tshark runs, worker processes) that pipe overflows and the watcher can come to a child
    whose status is gone: asyncio then reports exit status 255 and pyshark calls a tshark
    that read the whole file "crashed". A pidfd (Linux 5.3 and later) belongs to one process
    and needs no signal, so tshark's real exit status is the one pyshark sees. Elsewhere
    (another thread, no pidfd) pyshark's own choice stays.
    """
    if not hasattr(os, "pidfd_open") or threading.current_thread() is not threading.main_thread():
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # child watchers, Python 3.12+
        try:
            os.close(os.pidfd_open(os.getpid()))
        except OSError:  # a kernel or sandbox without pidfd_open
            return
        # pyshark's watcher has no child yet; closing it gives SIGCHLD back to its default.
        previous = asyncio.get_child_watcher()
        if isinstance(previous, asyncio.SafeChildWatcher):
            previous.close()
        watcher = asyncio.PidfdChildWatcher()
        watcher.attach_loop(capture.eventloop)
        asyncio.set_child_watcher(watcher)


def _close_capture(capture: Any, lost: _LostStatus, *, reraise: bool) -> None:
    """Stop tshark and release the capture's pipes and tasks (pyshark issues #168/#395).

    Without an explicit close the tshark process and its pipes outlive the iteration. When
    tshark exited with an error, pyshark's ``close`` raises TSharkCrashException but leaves the
    process registered, so ``Capture.__del__`` would retry the close later from whatever code
    is then running the shared asyncio loop ("This event loop is already running"). So the
    registration is dropped and ``close`` rerun (it then only waits for the stderr readers)
    before the exception is re-raised (or swallowed, when another one is already propagating).
    """
    running = getattr(capture, "_running_processes", None)
    pids = {p.pid for p in running} if running is not None else set()
    try:
        capture.close()
    except TSharkCrashException:
        if running is not None:
            running.clear()
        capture.close()
        # asyncio reports 255 for a child whose status it could not read (someone else's
        # waitpid came first): that is no crash of tshark, whose output was read to the end.
        made_up = bool(pids) and pids <= lost.pids and getattr(capture, "_eof_reached", False)
        if reraise and not made_up:
            raise


class _LostStatus(logging.Filter):
    """Notes the children whose exit status asyncio could not read and reported as 255
    ("Unknown child process pid N, will report returncode 255", "child process pid N exit
    status already read: will report returncode 255"), and keeps that warning off stderr:
    ``_close_capture`` deals with it. Installed on the ``asyncio`` logger while a capture
    is read."""

    def __init__(self) -> None:
        super().__init__()
        self.pids: set[int] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if "returncode 255" in message and record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            if args and isinstance(args[0], int):
                self.pids.add(args[0])
                return False
        return True


def _innermost_ip_version(protocols: list[str]) -> int | None:
    """4 or 6, whichever of ``ip``/``ipv6`` comes last in ``frame.protocols`` (None: neither)."""
    for name in reversed(protocols):
        if name == "ip":
            return 4
        if name == "ipv6":
            return 6
    return None


def _raw_fields(layer: Any) -> dict[str, Any]:
    """The JSON object behind one pyshark ``JsonLayer`` (its first instance)."""
    fields = getattr(layer, "_all_fields", None)
    if not isinstance(fields, dict):
        raise TypeError(
            f"unexpected pyshark layer object {type(layer).__name__}: the pyshark loader needs "
            "pyshark 0.6 in JSON mode"
        )
    return fields


def _instances(layer: Any) -> list[dict[str, Any]]:
    """Every instance of a protocol in the packet, outermost first."""
    return [_raw_fields(layer)] + [_raw_fields(dup) for dup in layer.duplicate_layers]


def _collect(instances: list[dict[str, Any]], wanted: frozenset[str]) -> dict[str, str]:
    """The last occurrence of each wanted field across the instances of one protocol.

    tshark puts these fields at the top level of the protocol's tree, so that is looked at
    first; a field not found there is searched for in the nested subtrees (document order,
    last occurrence wins) before being declared absent.
    """
    found: dict[str, str] = {}
    for tree in instances:
        for key in wanted:
            if key in tree:
                value = _last_scalar(tree[key])
                if value is not None:
                    found[key] = value
    if len(found) < len(wanted):
        missing = wanted.difference(found)
        for tree in instances:
            _walk(tree, missing, found)
    return found


def _walk(node: object, wanted: frozenset[str], found: dict[str, str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in wanted:
                last = _last_scalar(value)
                if last is not None:
                    found[key] = last
            if isinstance(value, dict | list):
                _walk(value, wanted, found)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict | list):
                _walk(item, wanted, found)


def _last_scalar(value: object) -> str | None:
    """A field's value; for a field repeated within one tree (a JSON list), the last one."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        for item in reversed(value):
            if isinstance(item, str):
                return item
    return None


def _int_or(value: str | None, default: int) -> int:
    """The field as an int, or ``default`` when tshark did not dissect it."""
    return int(value) if value else default
