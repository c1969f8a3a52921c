"""``explain`` against golden files (regenerate on purpose with ``make golden``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analyzer.cli import app

pytestmark = pytest.mark.tshark
ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"
CASES = {
    "server_close_first": "captures/real/http10.pcapng",
    "client_close_first": "captures/real/client_close.pcapng",
    "simultaneous_close": "captures/synthetic/simultaneous_close.pcap",
    "rst_abort": "captures/real/rst_abort.pcapng",
    "refused": "captures/real/refused.pcapng",
    "half_close": "captures/real/half_close.pcapng",
    "websocket": "captures/ws_synthetic/ws_ok.pcap",
}


def render(capture: str, fmt: str, engine: str = "auto") -> str:
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        result = CliRunner().invoke(app, ["--engine", engine, "explain", capture,
                                          "--format", fmt])
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("engine", ["native", "tshark"])
@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_explain_matches_golden(name: str, fmt: str, engine: str) -> None:
    """The same ladder from the native engine's packets and parsers as from tshark's."""
    suffix = "txt" if fmt == "text" else "md"
    golden = GOLDEN / f"explain_{name}.{suffix}"
    got = render(CASES[name], fmt, engine)
    if os.environ.get("UPDATE_GOLDEN") and engine == "tshark":
        golden.write_text(got)
    assert got == golden.read_text()


def test_ladder_states_follow_rfc9293() -> None:
    text = render(CASES["server_close_first"], "text")
    states = [line.rsplit("   ", 1)[-1] for line in text.splitlines()
              if line[:6].strip().isdigit()]
    assert states[0] == "SYN_SENT / CLOSED"
    assert "CLOSE_WAIT / FIN_WAIT_1" in states
    assert "LAST_ACK / TIME_WAIT" in states
    assert states[-1] == "CLOSED / TIME_WAIT"
    assert "The server (127.0.0.1:18080) closed first and sits in TIME_WAIT" in text


def test_websocket_session_shows_upgrade_101_and_close_frames() -> None:
    text = render(CASES["websocket"], "text")
    assert "HTTP GET /ws Upgrade: websocket" in text
    assert "HTTP 101 Switching Protocols" in text
    assert text.count("WS Close 1000") == 2
    assert "WebSocket upgrade to /ws: established; client sent Close 1000." in text


def test_unknown_uid_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["explain", str(ROOT / CASES["refused"]), "--conn",
                                      "Cnope"])
    assert result.exit_code == 2
    assert "no TCP connection with uid Cnope" in result.stderr


def test_long_data_phases_are_folded() -> None:
    from analyzer.report.explain import FOLD_AFTER, Step, fold

    steps = [Step(i, float(i), i % 2 == 0, "ACK", 100 if i % 2 == 0 else 0, "ESTABLISHED",
                  "ESTABLISHED", True) for i in range(1, 21)]
    folded = fold(steps)
    assert len(folded) == 3
    middle = folded[1]
    assert (middle.segments, middle.bytes_c2s) == (18, 900)  # type: ignore[union-attr]
    assert FOLD_AFTER < 20


def test_explain_and_the_reports_ladders_need_no_tshark(tmp_path: Path) -> None:
    """With the native engine (the default) the ladder's packets, HTTP heads and WebSocket
    frames come from the engine: a missing tshark changes nothing."""
    missing = ["--tshark-path", str(tmp_path / "no-tshark")]
    capture = str(ROOT / CASES["websocket"])
    result = CliRunner().invoke(app, ["explain", capture, *missing])
    assert result.exit_code == 0, result.output
    assert result.stdout == (GOLDEN / "explain_websocket.txt").read_text().replace(
        CASES["websocket"], capture)
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["report", capture, "--out", str(out),
                                      "--no-step-summary", "-q", *missing])
    assert result.exit_code in (0, 1), result.output
    md = (out / "report.md").read_text()
    assert "```mermaid" in md and "WS Close 1000" in md
