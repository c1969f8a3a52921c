"""Real loss on loopback: captures recorded by ``captures/record_lossy.py`` in a network
namespace where nftables dropped segments at random after the capture point, so that the
kernel really retransmitted. Each capture's sidecar (``*.ss.json``) holds what ``ss -ti``
said about every socket just before it closed: our figures must match the sockets'.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from analyzer.api import analyze_capture
from analyzer.loader import LoadOptions

REAL = Path(__file__).resolve().parents[1] / "captures" / "real"
LOSSY = sorted(REAL.glob("lossy_*.pcapng"))


def _record(path: Path, engine: str = "native") -> dict[str, Any]:
    recs = [r for r in analyze_capture(path, LoadOptions(engine=engine)).records
            if r.proto == "tcp"]
    assert len(recs) == 1
    return recs[0].to_dict()


def _sockets(path: Path) -> dict[str, dict[str, Any]]:
    side = json.loads(path.with_suffix(".ss.json").read_text())
    return {s["role"]: s for s in side["sockets"]}


@pytest.mark.parametrize("path", LOSSY, ids=lambda p: p.stem)
def test_retransmissions_are_the_kernels(path: Path) -> None:
    """Every segment the kernel retransmitted (``retrans:a/TOTAL``, ``bytes_retrans``),
    and nothing else, is a retransmission in the record, each way."""
    rec = _record(path)
    socks = _sockets(path)
    for way, role in (("c2s", "client"), ("s2c", "server")):
        assert rec[f"retrans_packets_{way}"] == socks[role]["retrans_total"], way
        assert rec[f"retrans_bytes_{way}"] == socks[role].get("bytes_retrans", 0), way
        assert rec[f"mss_{way}"] is not None


def test_the_bulk_transfer_lost_segments_both_ways() -> None:
    rec = _record(REAL / "lossy_bulk.pcapng")
    total = rec["retrans_packets_c2s"] + rec["retrans_packets_s2c"]
    assert total > 10
    assert rec["retrans_rate"] == pytest.approx(
        total / (rec["seq_packets_c2s"] + rec["seq_packets_s2c"]))
    # Loss with SACK on: the receivers sent SACK blocks, and loopback RTTs are below 10 ms.
    assert rec["sack_packets_c2s"] > 0 and rec["sack_packets_s2c"] > 0
    assert 0 < rec["rtt_avg_s_c2s"] < 0.01


def test_the_stalled_reader_advertised_a_zero_window() -> None:
    """The server stopped reading with a small receive buffer: its window went to zero.
    Linux probes a zero window with a zero-length segment one below the next sequence
    number, which (as for tcptrace) is no zero-window probe but a duplicate ACK."""
    rec = _record(REAL / "lossy_zero_window.pcapng")
    assert rec["zero_window_advertisements_s2c"] == 2
    assert rec["zero_window_advertisements_c2s"] == 0
    assert rec["zero_window_probes_c2s"] == 0
    assert rec["dup_acks_s2c"] >= 2  # the two probes, repeating the client's ACK


@pytest.mark.tshark
@pytest.mark.parametrize("path", LOSSY, ids=lambda p: p.stem)
def test_both_engines_give_the_same_health(path: Path) -> None:
    native, tshark = _record(path), _record(path, "tshark")
    health = {k: v for k, v in native.items() if k.endswith(("_c2s", "_s2c"))}
    assert health == {k: tshark[k] for k in health}


@pytest.mark.parametrize("path", LOSSY, ids=lambda p: p.stem)
def test_round_trips_fit_the_kernels(path: Path) -> None:
    """On loopback the capture point sits inside the kernel's own round trip (dumpcap sees
    a segment after the sender's stack made it, and the ACK before the sender's stack takes
    it), so our smallest sample is at most the kernel's ``minrtt``, and every sample is well
    below a millisecond."""
    rec = _record(path)
    for way, role in (("c2s", "client"), ("s2c", "server")):
        raw = _sockets(path)[role]["ss"]
        minrtt_ms = float(raw.split("minrtt:")[1].split()[0])
        assert rec[f"rtt_samples_{way}"] > 0
        assert rec[f"rtt_min_s_{way}"] * 1000 <= minrtt_ms
        assert rec[f"rtt_max_s_{way}"] < 0.001
