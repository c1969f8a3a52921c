"""HTTP transactions and WebSocket sessions on real loopback captures (``captures/ws``,
recorded with the websockets package, curl and http.client on odd ports) and on hand-built
RFC 6455 violations (``captures/ws_synthetic``). Every key of every expectation is asserted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from analyzer.api import analyze_capture
from analyzer.report.app import http_rows, websocket_rows

pytestmark = pytest.mark.tshark
ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "captures" / "ws").glob("*.expected.json")) + sorted(
    (ROOT / "captures" / "ws_synthetic").glob("*.expected.json"))
#: Keys that identify rather than describe (asserted through the match itself).
SKIP = {"uid", "capture"}


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _match(got: dict[str, Any], want: dict[str, Any], where: str) -> None:
    for key, value in want.items():
        if key in SKIP:
            continue
        assert key in got, f"{where}: no key {key}"
        actual = got[key]
        if key == "problems" and any("frame" not in p for p in value):
            # A live recording knows what went wrong but not the frame number: compare the
            # names, and check that a handshake problem points at the 101's frame.
            assert [p["problem"] for p in actual] == [p["problem"] for p in value], where
            for p in actual:
                if p["problem"] in ("wrong_accept", "missing_accept"):
                    assert p["frame"] == got["response_frame"], where
            continue
        if isinstance(value, float) and isinstance(actual, float):
            assert actual == pytest.approx(value, abs=1e-6), f"{where}: {key}"
        else:
            assert actual == value, f"{where}: {key}: {actual!r} != {value!r}"


@pytest.mark.parametrize("expectation", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_app_records_match_what_the_script_did(expectation: Path) -> None:
    spec = _load(expectation)
    result = analyze_capture(expectation.parent / spec["capture"])
    assert result.error is None
    records = result.records
    for kind, rows in (("websockets", websocket_rows(records)), ("http", http_rows(records))):
        wanted = spec.get(kind)
        if wanted is None:
            continue
        assert len(rows) == len(wanted), f"{kind}: {len(rows)} != {len(wanted)}"
        for got, want in zip(rows, wanted, strict=True):
            _match(got, want, f"{expectation.stem} {kind} {want.get('client_port')}")
    for want in spec.get("connections", []):
        (rec,) = [r for r in records if r.client_port == want["client_port"]
                  and r.server_port == want["server_port"]]
        _match(rec.to_dict(), want, f"{expectation.stem} connection {want['client_port']}")


def test_every_named_problem_is_exercised() -> None:
    names = {p["problem"] for f in FILES for ws in _load(f).get("websockets", [])
             for p in ws.get("problems", [])}
    assert names >= {
        "wrong_accept", "missing_accept", "bad_version", "bad_connection_header",
        "unoffered_subprotocol", "unoffered_extension", "unmasked_client_frame",
        "masked_server_frame", "control_frame_too_long", "fragmented_control_frame",
        "reserved_close_code", "invalid_close_code", "data_after_close"}


def test_http_parquet_streams_the_same_rows_as_jsonl(tmp_path: Path) -> None:
    """`http --format parquet` writes a row group per batch straight from the engine's
    columns; its rows and dtypes are those of the JSON Lines output."""
    import pandas as pd
    from typer.testing import CliRunner

    from analyzer.cli import app

    runner = CliRunner()
    capture = str(ROOT / "captures" / "real" / "http11_keepalive.pcapng")
    out = tmp_path / "http.parquet"
    result = runner.invoke(app, ["http", capture, "-f", "parquet", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.stderr
    lines = runner.invoke(app, ["http", capture, "-f", "jsonl", "-q"]).stdout.splitlines()
    want = [json.loads(x) for x in lines]
    df = pd.read_parquet(out)
    assert len(df) == len(want) == 3
    assert str(df["status"].dtype) == "Int64" and str(df["keep_alive"].dtype) == "boolean"
    got = [{k: (None if pd.isna(v) else v) for k, v in row.items()}
           for row in df.to_dict("records")]
    assert [(r["trans_depth"], r["target"], r["status"], r["response_body_len"],
             r["keep_alive"], r["request_frame"]) for r in got] == [
        (w["trans_depth"], w["target"], w["status"], w["response_body_len"],
         w["keep_alive"], w["request_frame"]) for w in want]
    assert [r["request_ts"] for r in got] == [w["request_ts"] for w in want]
