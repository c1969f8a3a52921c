"""Build captures/hostile/hostile.pcap: a WebSocket session whose packet-derived strings
(request target, Host, Origin, subprotocol, close reason) are hostile to every output
format: HTML/script injection, Markdown pipes and backticks, Mermaid syntax, CSV formula
prefixes and ANSI escape sequences. Offline (scapy, written to a file), deterministic.

    python captures/make_hostile.py [--out captures/hostile]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_ws_synthetic import (
    OP_TEXT,
    WsSession,
    close_handshake,
    one,
    pcap_bytes,
)

TARGET = "/x?q=<script>alert(1)</script>|`code`|=cmd|%%{init}%%;end\x1b[2J"
ORIGIN = '"><img src=x onerror=alert(1)>'
SUBPROTOCOL = "=HYPERLINK(1)|`x`"
REASON = "]]%%{init}%%;end <b>bold</b> @SUM(1) \x1b[31mred"


def build() -> bytes:
    s = WsSession("hostile", 41999)
    s.tcp_open()
    s.request(target=TARGET, origin=ORIGIN, protocols=SUBPROTOCOL)
    s.response_101(protocol=SUBPROTOCOL)
    s.ack("c")
    one(s, "c", OP_TEXT, b"<script>alert(2)</script>")
    close_handshake(s, code=1000, reason=REASON, reply_code=1000)
    return pcap_bytes(s.cap)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "hostile")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "hostile.pcap").write_bytes(build())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
