"""Reference loader: pyshark packet objects -> :class:`PacketRecord` (``--loader pyshark``).

This is the slow, second opinion next to the fast ``tshark -T fields`` loader
(:mod:`analyzer.loader.tshark_fields`). It must build exactly the same records, so it copies
that loader's field semantics, which are tshark's ``-E occurrence=l``: every field is the LAST
occurrence of that field in the packet, so for tunnels the innermost IP header and TCP/UDP
header win.

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

A packet whose headers were cut short by the snap length, so that a field the record needs
(addresses, ports, sequence number, ...) was not dissected, is skipped: there is no honest
value to put in the record.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pyshark
from pyshark.capture.capture import TSharkCrashException

from analyzer.core.packets import PacketRecord

__all__ = ["PROTOCOL_FILTER", "iter_packets_pyshark", "parse_epoch_ns", "record_from_packet"]

#: ``-J`` protocol filter: only these layers are emitted with their fields (``frame`` must be
#: in the list: pyshark reads ``frame.protocols`` and crashes without it).
PROTOCOL_FILTER = "frame ip ipv6 tcp udp icmp icmpv6"

_SKIP_PROTOCOLS = frozenset({"icmp", "icmpv6"})

_FRAME_FIELDS = frozenset({"frame.number", "frame.time_epoch", "frame.len", "frame.cap_len"})
_IPV4_FIELDS = frozenset({"ip.src", "ip.dst", "ip.len"})
_IPV6_FIELDS = frozenset({"ipv6.src", "ipv6.dst", "ipv6.plen"})
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
    }
)
_UDP_FIELDS = frozenset({"udp.srcport", "udp.dstport", "udp.length", "udp.checksum.status"})

#: ``*.checksum.status`` value when tshark validated the checksum and found it wrong
#: (``PROTO_CHECKSUM_E_BAD``; 1 = good, 2 = unverified, 3 = not present).
_CHECKSUM_BAD = "0"

_NS_PER_S = 1_000_000_000


def iter_packets_pyshark(
    path: str,
    *,
    display_filter: str | None = None,
    check_checksums: bool = False,
    tshark_path: str | None = None,
    decode_as: dict[str, str] | None = None,
    override_prefs: dict[str, str] | None = None,
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
        override_prefs: extra ``-o name:value`` preferences.

    Raises:
        pyshark.capture.capture.TSharkCrashException: tshark failed (not a capture, truncated
            capture, ...). For a capture cut short mid-packet this is raised only after every
            packet tshark could read has been yielded.
        FileNotFoundError: ``path`` does not exist or is a directory.
    """
    prefs: dict[str, str] = dict(override_prefs or {})
    if check_checksums:
        prefs["tcp.check_checksum"] = "TRUE"
        prefs["udp.check_checksum"] = "TRUE"
    capture = pyshark.FileCapture(
        path,
        use_json=True,
        keep_packets=False,
        display_filter=display_filter,
        decode_as=decode_as or None,
        override_prefs=prefs or None,
        tshark_path=tshark_path,
        custom_parameters=["-n", "-J", PROTOCOL_FILTER],
    )
    try:
        for packet in capture:
            record = record_from_packet(packet)
            if record is not None:
                yield record
    except BaseException:
        # Includes GeneratorExit (the consumer stopped early): tshark is killed, and an error
        # from the close must not mask the one already on its way.
        _close_capture(capture, reraise=False)
        raise
    # tshark's exit status is only looked at here: pyshark reports a failed tshark (not a
    # capture, cut short mid-packet) as TSharkCrashException from close(), after the
    # iteration above yielded every packet tshark could read.
    _close_capture(capture, reraise=True)


def record_from_packet(packet: Any) -> PacketRecord | None:
    """Build the record for one pyshark JSON-mode packet, or None when it is to be skipped."""
    frame = _collect(_instances(packet.frame_info), _FRAME_FIELDS)
    protocols = str(_raw_fields(packet.frame_info).get("frame.protocols", "")).split(":")
    if _SKIP_PROTOCOLS.intersection(protocols):
        return None
    layers: dict[str, Any] = {}
    for layer in packet.layers:
        # pyshark makes one JsonLayer per distinct protocol; keep the first, just in case.
        layers.setdefault(str(layer.layer_name).lower(), layer)
    if "icmp" in layers or "icmpv6" in layers:
        return None
    tcp_layer = layers.get("tcp")
    udp_layer = layers.get("udp")
    if tcp_layer is None and udp_layer is None:
        return None

    ip_version = _innermost_ip_version(protocols, layers)
    if ip_version == 4:
        ip = _collect(_instances(layers["ip"]), _IPV4_FIELDS)
        src, dst, ip_len_raw = ip.get("ip.src"), ip.get("ip.dst"), ip.get("ip.len")
        ip_len = _to_int(ip_len_raw)
    elif ip_version == 6:
        ip6 = _collect(_instances(layers["ipv6"]), _IPV6_FIELDS)
        src, dst = ip6.get("ipv6.src"), ip6.get("ipv6.dst")
        plen = _to_int(ip6.get("ipv6.plen"))
        ip_len = None if plen is None else plen + 40
    else:
        return None

    number = _to_int(frame.get("frame.number"))
    epoch = frame.get("frame.time_epoch")
    frame_len = _to_int(frame.get("frame.len"))
    cap_len = _to_int(frame.get("frame.cap_len"))
    if (
        number is None
        or epoch is None
        or frame_len is None
        or cap_len is None
        or src is None
        or dst is None
        or ip_len is None
    ):
        return None
    ts_ns = parse_epoch_ns(epoch)
    payload_captured = cap_len >= frame_len

    if tcp_layer is not None:
        tcp = _collect(_instances(tcp_layer), _TCP_FIELDS)
        sport = _to_int(tcp.get("tcp.srcport"))
        dport = _to_int(tcp.get("tcp.dstport"))
        flags = _to_int(tcp.get("tcp.flags"), base=16)
        seq = _to_int(tcp.get("tcp.seq_raw"))
        ack = _to_int(tcp.get("tcp.ack_raw"))
        payload_len = _to_int(tcp.get("tcp.len"))
        window = _to_int(tcp.get("tcp.window_size_value"))
        if (
            sport is None
            or dport is None
            or flags is None
            or seq is None
            or payload_len is None
            or window is None
        ):
            return None
        return PacketRecord(
            frame=number,
            ts_ns=ts_ns,
            proto="tcp",
            ip_version=ip_version,
            src=src,
            sport=sport,
            dst=dst,
            dport=dport,
            ip_len=ip_len,
            flags=flags & 0xFF,
            seq=seq,
            ack=0 if ack is None else ack,
            payload_len=payload_len,
            window=window,
            payload_captured=payload_captured,
            checksum_bad=tcp.get("tcp.checksum.status") == _CHECKSUM_BAD,
        )

    udp = _collect(_instances(udp_layer), _UDP_FIELDS)
    sport = _to_int(udp.get("udp.srcport"))
    dport = _to_int(udp.get("udp.dstport"))
    length = _to_int(udp.get("udp.length"))
    if sport is None or dport is None or length is None:
        return None
    return PacketRecord(
        frame=number,
        ts_ns=ts_ns,
        proto="udp",
        ip_version=ip_version,
        src=src,
        sport=sport,
        dst=dst,
        dport=dport,
        ip_len=ip_len,
        flags=0,
        seq=0,
        ack=0,
        payload_len=length - 8,
        window=0,
        payload_captured=payload_captured,
        checksum_bad=udp.get("udp.checksum.status") == _CHECKSUM_BAD,
    )


def _close_capture(capture: Any, *, reraise: bool) -> None:
    """Stop tshark and release the capture's pipes and tasks (pyshark issues #168/#395).

    Without an explicit close the tshark process and its pipes outlive the iteration. When
    tshark exited with an error, pyshark's ``close`` raises TSharkCrashException but leaves the
    process registered, so ``Capture.__del__`` would retry the close later from whatever code
    is then running the shared asyncio loop ("This event loop is already running"). So the
    registration is dropped and ``close`` rerun (it then only waits for the stderr readers)
    before the exception is re-raised (or swallowed, when another one is already propagating).
    """
    try:
        capture.close()
    except TSharkCrashException:
        running = getattr(capture, "_running_processes", None)
        if running is not None:
            running.clear()
        capture.close()
        if reraise:
            raise


def parse_epoch_ns(text: str) -> int:
    """``"1700000000.000001000"`` -> ``1700000000000001000`` (exact, no float on the way)."""
    text = text.strip()
    negative = text.startswith("-")
    if negative or text.startswith("+"):
        text = text[1:]
    seconds, _, fraction = text.partition(".")
    if not (seconds or fraction) or not (seconds + fraction).isdigit():
        raise ValueError(f"not an epoch timestamp: {text!r}")
    nanos = int(seconds or "0") * _NS_PER_S + int((fraction[:9]).ljust(9, "0"))
    return -nanos if negative else nanos


def _innermost_ip_version(protocols: list[str], layers: Mapping[str, Any]) -> int | None:
    """4 or 6, whichever of ``ip``/``ipv6`` comes last in ``frame.protocols``."""
    for name in reversed(protocols):
        if name == "ip" and "ip" in layers:
            return 4
        if name == "ipv6" and "ipv6" in layers:
            return 6
    # frame.protocols should always list them; fall back on pyshark's layer order.
    for name in reversed(list(layers)):
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


def _to_int(value: str | None, base: int = 10) -> int | None:
    if value is None or value == "":
        return None
    return int(value, base)
