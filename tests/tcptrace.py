"""tcptrace as an oracle: run ``tcptrace -n -l -r --csv`` on a capture and line its
connections up with our records.

tcptrace's ``a`` is the sender of a connection's first packet, so its ``a2b`` column is
our ``_c2s`` when that sender is the client, else ``_s2c``.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Our per-direction integer figures -> tcptrace's CSV column (before ``_a2b``/``_b2a``).
COUNTS = {
    "retrans_packets": "rexmt_data_pkts",
    "retrans_bytes": "rexmt_data_bytes",
    "out_of_order_packets": "outoforder_pkts",
    "dup_acks": "duplicate_acks",
    "triple_dup_acks": "triple_dupacks",
    "sack_packets": "sack_pkts_sent",
    "dsack_packets": "dsack_pkts_sent",
    "zero_window_advertisements": "zero_win_adv",
    "zero_window_probes": "zwnd_probe_pkts",
    "rtt_samples": "RTT_samples",
    "window_min": "min_win_adv",
    "window_max": "max_win_adv",
    "window_avg": "avg_win_adv",
}
#: Our figures in seconds -> tcptrace's, printed in ms with one decimal.
MILLISECONDS = {
    "rtt_min_s": "RTT_min",
    "rtt_avg_s": "RTT_avg",
    "rtt_max_s": "RTT_max",
    "rtt_stdev_s": "RTT_stdev",
    "idle_max_s": "idletime_max",
}


def available() -> bool:
    return shutil.which("tcptrace") is not None


@dataclass(frozen=True)
class Conn:
    """One tcptrace connection: its endpoints, first packet time and CSV row."""

    a: tuple[str, int]
    b: tuple[str, int]
    first_ts: float
    row: dict[str, str]

    def value(self, column: str, ab: str) -> str:
        return self.row[f"{column}_{ab}"].strip()


def run(path: Path) -> list[Conn] | None:
    """tcptrace's connections in ``path``, or None when tcptrace cannot read the file."""
    proc = subprocess.run(["tcptrace", "-n", "-l", "-r", "--csv", str(path)],
                          capture_output=True, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip() and not ln.startswith("#")]
    if proc.returncode != 0 or not lines:
        return None
    rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    return [Conn((_ip(r["host_a"]), int(r["port_a"])), (_ip(r["host_b"]), int(r["port_b"])),
                 _timestamp(r["first_packet"]), r) for r in rows]


def _ip(text: str) -> str:
    """tcptrace writes IPv6 with leading zeros (``2001:0470:...``), and ``::1`` as
    ``:0001``: the canonical form."""
    text = text.strip()
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        return ipaddress.ip_address(":" + text).compressed


def _timestamp(text: str) -> float:
    """tcptrace prints a time as seconds, a dot and the microseconds without zero padding
    (``1700000000.1000`` is 1 ms past the second)."""
    sec, _, usec = text.strip().partition(".")
    return int(sec) + int(usec or 0) / 1e6


def directions(rec: dict[str, Any], conn: Conn) -> dict[str, str] | None:
    """``{"c2s": "a2b", "s2c": "b2a"}`` (or the reverse) when ``conn`` is this record's
    connection (same endpoints, same first packet to the microsecond), else None."""
    client = (_ip(str(rec["client_ip"])), int(rec["client_port"]))
    server = (_ip(str(rec["server_ip"])), int(rec["server_port"]))
    if abs(conn.first_ts - float(rec["first_ts"])) > 1.5e-6:
        return None
    if (conn.a, conn.b) == (client, server):
        return {"c2s": "a2b", "s2c": "b2a"}
    if (conn.a, conn.b) == (server, client):
        return {"c2s": "b2a", "s2c": "a2b"}
    return None
