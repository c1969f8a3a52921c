"""Real loopback captures and scapy-built edge cases against what their scripts did.

Each ``captures/**/NAME.expected.json`` was written by the script that made the capture,
from what it knows it did (socket ports, bytes sent, who closed), never by reading the
capture back. Every key in it is asserted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import expectation_files

from analyzer import analyze

pytestmark = pytest.mark.tshark

#: Keys no expectation file may leave unasserted (every key present is checked).
LATER: set[str] = set()


def _expected(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


CASES = [p for p in expectation_files() if _expected(p).get("connections")]


@pytest.mark.parametrize("expectation", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_capture_matches_what_its_script_did(expectation: Path) -> None:
    spec = _expected(expectation)
    capture = expectation.parent / spec["capture"]
    records = analyze(capture).records
    assert len(records) == len(spec["connections"]), [
        (r.client_port, r.server_port) for r in records]
    for got, want in zip(records, spec["connections"], strict=True):
        actual = got.to_dict()
        for key, value in want.items():
            if key in LATER:
                continue
            if key == "zeek":
                if "conn_state" in value:
                    assert got.conn_state == value["conn_state"], got
                continue
            if key == "transactions":
                assert [{k: getattr(tx, k) for k in w} for tx, w in zip(
                    got.transactions, value, strict=True)] == value, capture.name
                continue
            assert actual[key] == value, f"{capture.name}: {key}: {actual[key]!r} != {value!r}"


def test_port_reuse_splits_the_four_tuple_into_two_connections() -> None:
    records = analyze(Path(__file__).parents[1] / "captures/synthetic/port_reuse.pcap").records
    assert [(r.client_port, r.handshake, r.closer) for r in records] == [
        (records[0].client_port, "complete", "client"),
        (records[0].client_port, "complete", "server"),
    ]


def test_truncated_capture_reports_what_it_read_with_a_warning() -> None:
    from analyzer.api import analyze_capture

    path = Path(__file__).parents[1] / "captures/synthetic/bad/truncated.pcap"
    result = analyze_capture(path)
    assert result.error is None
    assert result.packets == 7
    assert result.truncated_at == 7
    assert result.warnings == ["truncated after frame 7 (the rest is cut off)"]
    (r,) = result.records
    assert (r.handshake, r.end, r.packets_c2s + r.packets_s2c) == ("complete", "open", 7)
