"""Memory follows the open connections (issue 12): many connections open at once, read
by the CLI, stay under a peak-RSS bound.

``bench/floods.py`` writes the captures: 10^6 SYNs from distinct sources, never answered
(all open when the capture ends: they span 1 s, less than Zeek's 5 s attempt timer), and
2*10^5 connections that complete the handshake and never close. Each is read by
``pcap-analyzer connections FILE -f jsonl -q -o OUT`` under GNU ``time -f %M``.

Measured (this project's 2-core machine, mimalloc; peak RSS of the whole CLI process,
whose imports alone take about 135 MiB):

============================  ===========  ==========  =====================
capture                       before       after       after, per connection
============================  ===========  ==========  =====================
10^6 SYNs, jsonl              4313 MiB     591 MiB     about 480 B
2*10^5 open, jsonl            949 MiB      468 MiB     about 1.75 KB
============================  ===========  ==========  =====================

The bounds are those measurements times 1.3. The engine alone (``read_capture``) peaks
at 484 MiB and 360 MiB: about 470 B per lone SYN (a slot of the connection table, its
entry, and the SYN's header, kept until a second segment comes) and about 1.7 KB per
established connection (both directions' Zeek, RFC 9293 and tcptrace state).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).with_name("pcap-analyzer")
TIME = Path("/usr/bin/time")

SYN_COUNT = 1_000_000
OPEN_COUNT = 200_000
# Peak RSS bounds in KiB (measured * 1.3).
SYN_BOUND_KIB = 787_000
OPEN_BOUND_KIB = 623_000

pytestmark = pytest.mark.skipif(
    not TIME.exists() or not CLI.exists(),
    reason="needs GNU time (/usr/bin/time) and the pcap-analyzer script",
)


def _floods():
    spec = importlib.util.spec_from_file_location("floods", ROOT / "bench" / "floods.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _peak_kib(capture: Path, out: Path) -> int:
    """Run the CLI on the capture under GNU time; its peak RSS in KiB."""
    done = subprocess.run(
        [str(TIME), "-f", "%M", str(CLI), "connections", str(capture), "-f", "jsonl", "-q",
         "-o", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stderr.strip().splitlines()[-1])


def _lines(path: Path) -> tuple[int, dict, dict]:
    """The number of records, the first and the last."""
    n = 0
    with path.open("rb") as f:
        first = json.loads(f.readline())
        f.seek(0)
        while chunk := f.read(1 << 24):
            n += chunk.count(b"\n")
        f.seek(max(0, path.stat().st_size - 65536))
        last = json.loads(f.read().splitlines()[-1])
    return n, first, last


def test_a_million_unanswered_syns_stay_under_the_bound(tmp_path):
    floods = _floods()
    capture, out = tmp_path / "syn.pcap", tmp_path / "syn.jsonl"
    assert floods.write(str(capture), "syn", SYN_COUNT) == SYN_COUNT
    try:
        peak = _peak_kib(capture, out)
        n, first, last = _lines(out)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)
    assert n == SYN_COUNT
    assert peak < SYN_BOUND_KIB, f"peak RSS {peak} KiB"
    # In start order; each a lone SYN, Zeek's S0.
    assert (first["client_ip"], first["client_port"], first["first_frame"]) == ("10.0.0.0", 1024, 1)
    assert (first["server_ip"], first["server_port"]) == ("10.255.0.1", 80)
    i = SYN_COUNT - 1
    assert (last["client_ip"], last["client_port"]) == (
        f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}", 1024 + i % 60000)
    for r in (first, last):
        assert r["conn_state"] == "S0" and r["history"] == "S"
        assert (r["orig_pkts"], r["resp_pkts"], r["orig_ip_bytes"]) == (1, 0, 40)
        assert (r["handshake"], r["end"]) == ("unanswered", "open")
        assert (r["client_state"], r["server_state"]) == ("SYN_SENT", "CLOSED")
        assert r["duration_zeek"] is None
        assert (r["seq_packets_c2s"], r["seq_packets_s2c"], r["window_max_s2c"]) == (1, 0, None)


def test_two_hundred_thousand_open_connections_stay_under_the_bound(tmp_path):
    floods = _floods()
    capture, out = tmp_path / "open.pcap", tmp_path / "open.jsonl"
    assert floods.write(str(capture), "open", OPEN_COUNT) == 3 * OPEN_COUNT
    try:
        peak = _peak_kib(capture, out)
        n, first, last = _lines(out)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)
    assert n == OPEN_COUNT
    assert peak < OPEN_BOUND_KIB, f"peak RSS {peak} KiB"
    assert (first["client_port"], first["first_frame"], first["last_frame"]) == (1024, 1, 3)
    assert last["first_frame"] == 3 * OPEN_COUNT - 2
    for r in (first, last):
        assert r["conn_state"] == "S1" and r["history"] == "ShA"
        assert (r["handshake"], r["handshake_valid"], r["end"]) == ("complete", True, "open")
        assert (r["client_state"], r["server_state"]) == ("ESTABLISHED", "ESTABLISHED")
        assert (r["orig_pkts"], r["resp_pkts"]) == (2, 1)
        assert (r["rtt_samples_c2s"], r["rtt_samples_s2c"]) == (1, 1)
