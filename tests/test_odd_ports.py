"""HTTP on client ports that tshark gives to other protocols (captures/real/http_odd_ports).

captures/record_real.py recorded two HTTP/1.1 keep-alive connections to 127.0.0.1:18094
whose clients bound their source port before connecting: 44818 and 1099. Each made two
requests (GET /a, GET /b) answered 200 with Content-Length bodies of different sizes, and
the client closed first. The expectation file holds what the script did, transactions
included; the native engine's own HTTP parser finds every one of them, the tshark engine
finds none (see ``test_tshark_engine_gives_the_odd_ports_to_other_dissectors``).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from analyzer.api import _ports_with_unmatched_responses, analyze_capture
from analyzer.core.records import ConnectionRecord
from analyzer.loader import LoadOptions

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = ROOT / "captures" / "real" / "http_odd_ports.expected.json"
SPEC: dict[str, Any] = json.loads(EXPECTED.read_text())
CAPTURE = EXPECTED.parent / SPEC["capture"]
CONNS: list[dict[str, Any]] = SPEC["connections"]
TCP_FACTS = ("client_ip", "server_ip", "server_port", "handshake", "end", "closer",
             "time_wait", "bytes_c2s", "bytes_s2c")


def _by_client_port(engine: str, **options: Any) -> dict[int, ConnectionRecord]:
    result = analyze_capture(CAPTURE, LoadOptions(engine=engine, **options))
    assert result.engine == engine
    assert result.error is None and not result.warnings and not result.notes
    by_port = {r.client_port: r for r in result.records}
    assert len(by_port) == len(result.records) == len(CONNS)
    return by_port


def test_the_expectation_file_is_the_scenario_the_tests_are_about() -> None:
    assert [c["client_port"] for c in CONNS] == [44818, 1099]
    for want in CONNS:
        assert want["http_requests"] == want["http_responses"] == 2
        txs = want["transactions"]
        assert [t["trans_depth"] for t in txs] == [1, 2]
        assert txs[0]["keep_alive"] is True
        assert txs[0]["response_body_len"] != txs[1]["response_body_len"]


def test_native_engine_finds_every_transaction() -> None:
    records = _by_client_port("native")
    assert sorted(records) == sorted(c["client_port"] for c in CONNS) == [1099, 44818]
    for want in CONNS:
        got = records[want["client_port"]]
        for key in TCP_FACTS:
            assert getattr(got, key) == want[key], (want["client_port"], key)
        assert got.http_requests == want["http_requests"]
        assert got.http_responses == want["http_responses"]
        assert len(got.transactions) == len(want["transactions"])
        for tx, wtx in zip(got.transactions, want["transactions"], strict=True):
            where = (want["client_port"], wtx["target"])
            assert tx.trans_depth == wtx["trans_depth"], where
            assert tx.method == wtx["method"], where
            assert tx.target == wtx["target"], where
            assert tx.host == wtx["host"], where
            assert tx.user_agent == wtx["user_agent"], where
            assert tx.status == wtx["status"], where
            assert tx.response_body_len == wtx["response_body_len"], where
            assert tx.keep_alive == wtx["keep_alive"], where


@pytest.mark.tshark
def test_tshark_engine_gives_the_odd_ports_to_other_dissectors() -> None:
    """tshark finds no HTTP at all here: 0 requests and 0 responses on both connections.

    ``tshark -G decodes`` lists ``tcp.port 44818 enip`` and ``tcp.port 1099 rmi``, and no
    dissector for the server port 18094. tshark tries the port tables before its HTTP
    heuristic, so each client port's dissector takes the payload:

    - 1099: RMI claims every data segment (``tshark -Y rmi``: frames 16, 18, 20, 21,
      "RMI Continuation").
    - 44818: EtherNet/IP takes the segments into its PDU reassembly ("TCP segment of a
      reassembled PDU" on frames 4, 6, 8, 9), which never completes, so nothing above TCP
      is reported.

    ``tshark -r captures/real/http_odd_ports.pcapng -Y http`` prints nothing; with
    ``--disable-protocol enip`` (or ``rmi``) the heuristic finds that connection's 4 HTTP
    messages, and with ``-d tcp.port==18094,http`` all 8.

    The tshark engine's re-read with ``-d tcp.port==P,http`` (``analyze_tshark``) does not
    happen: it is triggered by a response without its request
    (``_ports_with_unmatched_responses``), and here tshark reports no HTTP message at all.
    The TCP facts are unaffected.
    """
    decodes = subprocess.run(["tshark", "-G", "decodes"], capture_output=True, text=True,
                             check=True).stdout.splitlines()
    assert "tcp.port\t44818\tenip" in decodes
    assert "tcp.port\t1099\trmi" in decodes

    records = _by_client_port("tshark")
    assert sorted(records) == [1099, 44818]
    assert _ports_with_unmatched_responses(list(records.values())) == set()
    for want in CONNS:
        got = records[want["client_port"]]
        for key in TCP_FACTS:
            assert getattr(got, key) == want[key], (want["client_port"], key)
        assert (got.http_requests, got.http_responses, got.transactions) == (0, 0, ())

    # Telling tshark that the server speaks HTTP (what the re-read would have done) finds
    # every transaction the script made.
    server = f"tcp.port=={CONNS[0]['server_port']},http"
    told = _by_client_port("tshark", decode_as=(server,))
    for want in CONNS:
        got = told[want["client_port"]]
        assert (got.http_requests, got.http_responses) == (
            want["http_requests"], want["http_responses"])
        assert [(t.trans_depth, t.method, t.target, t.status, t.response_body_len)
                for t in got.transactions] == [
            (w["trans_depth"], w["method"], w["target"], w["status"], w["response_body_len"])
            for w in want["transactions"]]
