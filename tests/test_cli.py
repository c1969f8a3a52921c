"""The command line: formats, and one clear line with a documented exit code for bad input."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from analyzer.cli import app

pytestmark = pytest.mark.tshark
ROOT = Path(__file__).resolve().parents[1]
SYN = ROOT / "captures" / "synthetic"
HTTP10 = ROOT / "captures" / "real" / "http10.pcapng"
runner = CliRunner()

CONTRACT_KEYS = {
    "capture", "uid", "proto", "ip_version", "client_ip", "client_port", "server_ip",
    "server_port", "client_inferred", "first_ts", "last_ts", "duration_s", "handshake",
    "handshake_valid", "handshake_rtt_s", "syn_retransmissions", "end", "closer", "rst_by",
    "client_state", "server_state", "time_wait", "packets_c2s", "packets_s2c", "bytes_c2s",
    "bytes_s2c", "conn_state", "history", "http_requests", "websocket",
}


def test_jsonl_carries_every_contract_key() -> None:
    result = runner.invoke(app, ["connections", str(SYN / "simultaneous_close.pcap"),
                                 "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    rec = json.loads(line)
    assert set(rec) >= CONTRACT_KEYS
    assert (rec["closer"], rec["time_wait"], rec["client_state"]) == ("both", "both", "TIME_WAIT")
    assert rec["first_ts"] == rec["first_ts_ns"] / 1e9


def test_zeek_format_is_a_conn_log() -> None:
    result = runner.invoke(app, ["connections", str(SYN / "refused.pcap"), "--format", "zeek"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "#separator \\x09"
    fields = next(ln for ln in lines if ln.startswith("#fields")).split("\t")[1:]
    row = dict(zip(fields, next(ln for ln in lines if not ln.startswith("#")).split("\t"),
                   strict=True))
    assert (row["conn_state"], row["history"], row["service"]) == ("REJ", "Sr", "-")
    assert (row["id.orig_h"], row["id.resp_p"]) == ("10.0.0.1", "8080")


def test_csv_and_parquet_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "c.parquet"
    result = runner.invoke(app, ["connections", str(SYN / "port_reuse.pcap"), "--format",
                                 "parquet", "-o", str(out)])
    assert result.exit_code == 0
    df = pd.read_parquet(out)
    assert list(df["closer"]) == ["client", "server"]
    assert str(df["first_ts_ns"].dtype) == "int64"
    assert isinstance(df["client_state"].dtype, pd.CategoricalDtype)
    result = runner.invoke(app, ["connections", str(SYN / "port_reuse.pcap"), "--format", "csv"])
    csv = pd.read_csv(io.StringIO(result.stdout))
    assert list(csv["conn_state"]) == ["SF", "SF"]


def test_summary_json_counts_closers() -> None:
    result = runner.invoke(app, ["summary", str(ROOT / "captures/real/mixed.pcap"), "-f", "json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    got = {(r["section"], r["item"]): r["count"] for r in rows}
    assert got[("handshake", "complete")] == 3
    assert got[("handshake", "refused")] == 1
    assert got[("closer", "client")] == 2
    assert got[("time_wait", "server")] == 1


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("missing.pcap", "no such file"),
        ("bad/empty.pcap", "empty file (0 bytes), not a capture"),
        ("bad/not_a_capture.pcap", "not a capture file"),
    ],
)
def test_bad_input_is_one_line_and_exit_3(name: str, message: str) -> None:
    path = SYN / name
    result = runner.invoke(app, ["connections", str(path), "--format", "jsonl"])
    assert result.exit_code == 3
    assert result.stderr.strip().splitlines() == [f"error: {path}: {message}" + (
        " (neither pcap nor pcapng)" if message == "not a capture file" else "")]
    assert "Traceback" not in result.output


def test_directory_without_captures_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("no captures here")
    result = runner.invoke(app, ["connections", str(tmp_path)])
    assert result.exit_code == 3
    assert result.stderr.strip().splitlines() == [
        f"error: no capture files found in {tmp_path} (looked for *.pcap, *.pcapng, *.cap, "
        "*.pcap.gz, *.pcapng.gz, *.cap.gz, *.pcap.zst, *.pcapng.zst)"]


def test_bad_display_filter_is_a_usage_error() -> None:
    result = runner.invoke(app, ["connections", str(HTTP10), "-Y", "tcp.port ==="])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: bad display filter 'tcp.port ===': ")


def test_display_filter_selects_connections() -> None:
    result = runner.invoke(app, ["connections", str(ROOT / "captures/real/mixed.pcap"),
                                 "-Y", "tcp.flags.reset == 1", "-f", "jsonl"])
    assert result.exit_code == 0
    recs = [json.loads(x) for x in result.stdout.splitlines()]
    # The two connections with a RST, each built from all of its packets (the filter no
    # longer drops the handshakes: tests/test_display_filter.py).
    assert [(r["handshake"], r["end"], r["conn_state"], r["history"]) for r in recs] == [
        ("refused", "rst", "REJ", "Sr"), ("complete", "rst", "RSTO", "ShADadR")]


def test_truncated_warns_and_strict_fails() -> None:
    path = SYN / "bad" / "truncated.pcap"
    result = runner.invoke(app, ["connections", str(path), "-f", "jsonl"])
    assert result.exit_code == 0
    assert result.stderr.strip() == (
        f"warning: {path}: truncated after frame 7 (the rest is cut off)")
    assert len(result.stdout.splitlines()) == 1
    strict = runner.invoke(app, ["connections", str(path), "-f", "jsonl", "--strict"])
    assert strict.exit_code == 4


def test_missing_tshark_is_exit_3(tmp_path: Path) -> None:
    from analyzer.loader.tshark import tshark_info

    tshark_info.cache_clear()
    env = {"TSHARK_PATH": str(tmp_path / "no-tshark")}
    # A display filter needs tshark.
    result = runner.invoke(app, ["connections", str(HTTP10), "-Y", "tcp"], env=env)
    assert result.exit_code == 3
    assert result.stderr.startswith("error: tshark not found")
    # The default (native) engine does not.
    result = runner.invoke(app, ["connections", str(HTTP10), "-f", "jsonl"], env=env)
    tshark_info.cache_clear()
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["http_requests"] == 1


def test_python_dash_m_is_the_same_command() -> None:
    proc = subprocess.run([sys.executable, "-m", "analyzer", "connections", str(HTTP10), "-f",
                           "jsonl"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    rec = json.loads(proc.stdout)
    assert (rec["closer"], rec["time_wait"]) == ("server", "server")


def test_gzip_and_link_types_read() -> None:
    for name in ("gzip.pcap.gz", "sll2.pcap", "loopback_null.pcap", "qinq.pcap", "mpls.pcap"):
        result = runner.invoke(app, ["connections", str(SYN / name), "-f", "jsonl"])
        assert result.exit_code == 0, name
        (rec,) = [json.loads(x) for x in result.stdout.splitlines()]
        assert (rec["handshake"], rec["end"]) == ("complete", "fin"), name


def test_batch_directory_accounts_for_every_file(tmp_path: Path) -> None:
    import shutil

    (tmp_path / "sub").mkdir()
    shutil.copy(ROOT / "captures/real/mixed.pcap", tmp_path / "good.pcap")
    shutil.copy(SYN / "bad/truncated.pcap", tmp_path / "sub" / "cut.pcap")
    shutil.copy(SYN / "bad/not_a_capture.pcap", tmp_path / "sub" / "junk.pcapng")
    (tmp_path / "notes.txt").write_text("not a capture name: not picked up")
    result = runner.invoke(app, ["summary", str(tmp_path), "-f", "json", "-j", "2"])
    assert result.exit_code == 3  # one input could not be read
    rows = [r for r in json.loads(result.stdout) if r["section"] == "capture"]
    assert [(Path(r["capture"]).name, r["item"].split(":")[0], r["count"]) for r in rows] == [
        ("good.pcap", "ok", 32), ("cut.pcap", "warning", 7), ("junk.pcapng", "error", 0)]
    assert "3 captures: 1 ok, 1 with warnings, 1 failed" in result.stderr


def test_globs_expand_and_jobs_give_the_same_records() -> None:
    pattern = str(ROOT / "captures" / "real" / "*.pcap*")
    one = runner.invoke(app, ["connections", pattern, "-f", "jsonl", "-j", "1", "-q"])
    two = runner.invoke(app, ["connections", pattern, "-f", "jsonl", "-j", "2", "-q"])
    assert one.exit_code == two.exit_code == 0
    assert one.stdout == two.stdout
    assert len(one.stdout.splitlines()) == 19  # the 15 real captures hold 19 connections


def test_diff_reports_endpoint_changes() -> None:
    result = runner.invoke(app, ["diff", str(SYN / "fin_with_data.pcap"),
                                 str(SYN / "rst_no_ack.pcap"), "-f", "json"])
    assert result.exit_code == 0
    d = json.loads(result.stdout)
    assert d["new_endpoints"] == [] and d["vanished_endpoints"] == []
    changes = {(c["metric"], c["before"], c["after"]) for c in d["changes"]}
    assert ("rst_rate", 0.0, 1.0) in changes
    assert ("time_wait", "server 1", "none 1") in changes
    fields = {(c["field"], c["before"], c["after"]) for c in d["connection_changes"]}
    assert ("end", "fin", "rst") in fields and ("conn_state", "SF", "RSTR") in fields


def test_diff_new_and_vanished_endpoints() -> None:
    result = runner.invoke(app, ["diff", str(HTTP10), str(ROOT / "captures/real/mixed.pcap"),
                                 "-f", "json"])
    d = json.loads(result.stdout)
    assert d["vanished_endpoints"] == ["127.0.0.1:18080/tcp"]
    assert d["new_endpoints"] == [f"127.0.0.1:{p}/tcp" for p in (18090, 18091, 18092, 18093)]


def test_report_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary_file = tmp_path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary_file))
    out = tmp_path / "out"
    result = runner.invoke(app, ["report", str(ROOT / "captures/real/mixed.pcap"),
                                 str(ROOT / "captures/ws_synthetic/ws_wrong_accept.pcap"),
                                 "--out", str(out), "--csv", "-q"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == ["connections.csv", "connections.parquet", "http.csv", "http.parquet",
                     "report.html", "report.md", "websockets.csv", "websockets.parquet"]
    md = (out / "report.md").read_text()
    assert summary_file.read_text() == md
    assert "- **1 handshakes refused (the SYN answered by a RST)**: `" in md
    assert "- **1 invalid WebSocket handshakes or RFC 6455 violations**: `" in md
    # each problem's row: kind, capture, uid, endpoints, what happened
    rows = md.replace("\\_", "_").replace("\\[", "[").replace("\\]", "]")
    mixed = re.escape(str(ROOT / "captures/real/mixed.pcap"))
    assert re.search(r"^\| handshake refused \| " + mixed + r" \| `C[0-9A-Za-z]{17}` \| "
                     r"127\.0\.0\.1:56863 → 127\.0\.0\.1:18092 \| "
                     r"the SYN was answered by a RST \|$", rows, re.MULTILINE)
    assert re.search(r"^\| WebSocket problem \| .*ws_wrong_accept\.pcap \| "
                     r"`C[0-9A-Za-z]{17}` \| "
                     r"10\.0\.0\.1:\d+ → 10\.0\.0\.2:8765 \| handshake failed, status 101: "
                     r"wrong_accept \(frame 5\) \|$", rows, re.MULTILINE)
    assert md.count("```mermaid") == 3
    ws = pd.read_parquet(out / "websockets.parquet")
    assert list(ws["accept_valid"]) == [False]
    conns = pd.read_parquet(out / "connections.parquet")
    assert len(conns) == 5 and str(conns["first_ts_ns"].dtype) == "int64"
    no_summary = runner.invoke(app, ["report", str(HTTP10), "--out", str(out), "-q",
                                     "--no-step-summary"])
    assert no_summary.exit_code == 0
    assert summary_file.read_text() == md  # not appended again
