"""What the native and the tshark engine are allowed to differ in (README, "Where the
engines differ"), in one place for the tests that compare them."""

from __future__ import annotations

import dataclasses
import re

#: Anomalies only the native engine can notice: its own reassembly (a retransmission
#: whose bytes differ, the out-of-order buffer limit, a segment or FIN far outside the
#: window, data after the FIN) and its HTTP/WebSocket parsers (a gap where a head was
#: expected, framing errors). tshark's dissectors report such things, if at all, as
#: expert info, which the tshark loader does not read. An absurd Content-Length is found by
#: the shared analysis, so both engines report it.
NATIVE_ONLY_ANOMALY = re.compile(
    r"^frame \d+: (retransmission_inconsistency|reassembly_buffer_overflow"
    r"|segment_out_of_window|data_after_fin|ws_\w+"
    r"|http_(?!content_length_too_large)\w+)$")

#: Connections whose HTTP the engines see differently, by (capture file name, uid): the
#: native engine finds HTTP by content; tshark by port and by a heuristic that misses some.
APP_DIFFERENCES: dict[tuple[str, str], str] = {
    ("http-to-ssh-rstr.pcap", "CjVuSagTl7p9UvfxHe"):
        "a GET sent to port 22: tshark decodes the port as SSH only",
    ("vlan-mpls.pcap", "C8W1RAd3Vx5KyLm0z2"):
        "HTTP/0.9: tshark does not report a response without a status line (Zeek does)",
    ("tcp-http-padding.pcap", "CLg4LvUhQ9dPhteXEH"):
        "with checksums checked (the server's packets all have bad ones), the second "
        "connection starts in the middle of a request typed byte by byte: the native engine "
        "reads 'T / HTTP/1.0' as a request; tshark's heuristic does not try",
    ("http_odd_ports.pcapng", "*"):
        "HTTP from client ports 44818 and 1099: tshark gives those ports to EtherNet/IP and "
        "Java RMI and never tries HTTP (tests/test_odd_ports.py)",
}


def app_differs(name: str, uid: str) -> bool:
    """Is this connection's HTTP listed as seen differently by the two engines?"""
    return (name, uid) in APP_DIFFERENCES or (name, "*") in APP_DIFFERENCES

APP_FIELDS = ("http_requests", "http_responses", "websocket", "transactions", "websockets")


def comparable(rec: object, *, app: bool = True) -> dict[str, object]:
    """A record as a dict for comparing the engines: native-only anomalies left out, and
    the HTTP/WebSocket fields too unless ``app``."""
    d = dataclasses.asdict(rec)  # type: ignore[call-overload]
    d.pop("conn_id", None)
    d["anomalies"] = tuple(a for a in d["anomalies"] if not NATIVE_ONLY_ANOMALY.match(a))
    if not app:
        for k in APP_FIELDS:
            d.pop(k)
    return d
