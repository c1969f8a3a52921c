"""Lengths no parser may trust (captures/engine/absurd_lengths.pcap, made by
captures/make_engine_cases.py): a Content-Length of 2^64-1, as in Zeek's http/261
cl_uint64max trace, and WebSocket frames claiming 2^63 and 2^63-1 payload bytes. Every
command gives null lengths and named problems, on both engines, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from analyzer.cli import app

pytestmark = pytest.mark.tshark

CAPTURE = str(Path(__file__).resolve().parents[1] / "captures" / "engine" / "absurd_lengths.pcap")
runner = CliRunner()


def _run(engine: str, *args: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["--engine", engine, *args, CAPTURE, "-f", "jsonl", "-q"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize("engine", ["native", "tshark"])
def test_rfc9112_6_3_content_length_2_64_minus_1_is_null_and_an_anomaly(engine: str) -> None:
    (huge, upgrade) = _run(engine, "http")
    assert (huge["target"], huge["status"], huge["response_body_len"]) == ("/huge", 200, None)
    assert huge["keep_alive"] is False  # the length is unknown: the body runs to the close
    assert huge["response_frame"] == 6  # the server's FIN completes it
    conns = {c["client_port"]: c for c in _run(engine, "connections")}
    assert conns[41100]["anomalies"] == ["frame 6: http_content_length_too_large"]
    assert upgrade["status"] == 101


@pytest.mark.parametrize("engine", ["native", "tshark"])
def test_rfc6455_5_2_a_length_with_the_top_bit_set_is_a_problem_not_a_frame(engine: str
                                                                            ) -> None:
    (ws,) = _run(engine, "websockets")
    assert ws["established"] is True
    # The server's frame claims 2^63 bytes: invalid, not counted.
    assert ws["frames_s2c"] == {"text": 0, "binary": 0, "continuation": 0, "ping": 0,
                                "pong": 0, "close": 0}
    assert ws["problems"] == [{"problem": "invalid_length", "frame": 15}]
    # The client's claims 2^63-1, the largest valid length: counted as it is.
    assert ws["frames_c2s"]["binary"] == 1  # type: ignore[index]
    assert ws["payload_bytes_c2s"] == (1 << 63) - 1


@pytest.mark.parametrize("engine", ["native", "tshark"])
def test_parquet_and_report_keep_the_absurd_values(engine: str, tmp_path: Path) -> None:
    for kind in ("http", "websockets"):
        out = tmp_path / f"{kind}.parquet"
        result = runner.invoke(app, ["--engine", engine, kind, CAPTURE, "-f", "parquet",
                                     "-o", str(out), "-q"])
        assert result.exit_code == 0, result.output
        df = pd.read_parquet(out)
        if kind == "http":
            assert df["response_body_len"].isna().tolist() == [True, False]
        else:
            assert int(df["payload_bytes_c2s"].iloc[0]) == (1 << 63) - 1
    result = runner.invoke(app, ["--engine", engine, "report", CAPTURE, "--out",
                                 str(tmp_path / "report"), "--no-step-summary", "-q"])
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    md = (tmp_path / "report" / "report.md").read_text()
    assert "1 invalid WebSocket handshakes or RFC 6455 violations**: `CDXkH85X7xz0OCb1Dq`" in md
    assert "invalid_length" in (tmp_path / "report" / "report.html").read_text()
