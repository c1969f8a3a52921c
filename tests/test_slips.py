"""Issue 11's small slips: IPv6 endpoints in brackets in ``summary``, ``check`` and
``diff``; one percentile in ``check``; ``diff`` ignoring RTT changes below the printed
precision; a ``--tshark-path`` that cannot be used named with what is wrong with it;
counts with their plurals."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analyzer.api import analyze_capture
from analyzer.cli import app
from analyzer.core.records import ConnectionRecord
from analyzer.errors import EXIT_INPUT, TsharkNotFound
from analyzer.loader.tshark import tshark_info
from analyzer.report import diff
from analyzer.report import rules as R
from analyzer.report.frame import to_frame
from analyzer.report.summary import summarize, tcp_health

ROOT = Path(__file__).resolve().parents[1]
HTTP10 = ROOT / "captures" / "real" / "http10.pcapng"  # one complete TCP connection


def _one() -> ConnectionRecord:
    (rec,) = analyze_capture(HTTP10).records
    return rec


def _v6(rec: ConnectionRecord, **changes: object) -> ConnectionRecord:
    return dataclasses.replace(rec, client_ip="::1", server_ip="::1", **changes)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- IPv6


def test_summary_top_servers_and_worst_retransmitters_bracket_ipv6() -> None:
    rec = _one()
    v6 = _v6(rec, uid="C" + "6" * 17, retrans_packets_c2s=3)
    records = [rec, v6]
    s = summarize(to_frame(records), records)
    servers = s[s["section"] == "top_servers"]["item"].tolist()
    assert f"[::1]:{rec.server_port}/tcp" in servers
    assert f"{rec.server_ip}:{rec.server_port}/tcp" in servers  # IPv4 unchanged
    (worst,) = tcp_health(to_frame([v6])).worst
    assert (worst.client, worst.server) == (f"[::1]:{rec.client_port}",
                                            f"[::1]:{rec.server_port}")


def test_check_offenders_bracket_ipv6() -> None:
    d = R.CaptureData("hand.pcap", {R.CONN: [
        {"uid": "C1", "client_ip": "::1", "client_port": 35047, "server_ip": "::1",
         "server_port": 80, "end": "rst"},
        {"uid": "C2", "client_ip": "10.0.0.1", "client_port": 40001,
         "server_ip": "10.0.0.2", "server_port": 80, "end": "rst"}], R.WS: [], R.HTTP: []})
    result = R.evaluate(R.parse("count(end == 'rst') == 0"), d)
    assert [o.describe() for o in result.offenders] == [
        "C1 [::1]:35047 -> [::1]:80 end='rst'",
        "C2 10.0.0.1:40001 -> 10.0.0.2:80 end='rst'"]


def test_diff_endpoints_bracket_ipv6() -> None:
    rec = _one()
    assert diff.endpoint(_v6(rec)) == f"[::1]:{rec.server_port}/tcp"
    d = diff.diff([rec], [_v6(rec)])
    assert d.new_endpoints == [f"[::1]:{rec.server_port}/tcp"]
    assert d.vanished_endpoints == [f"{rec.server_ip}:{rec.server_port}/tcp"]


# --------------------------------------------------------------------------- one percentile


def test_check_percentile_is_the_shared_one() -> None:
    d = R.CaptureData("hand.pcap", {R.CONN: [{"uid": f"C{i}", "bytes_c2s": v}
                                             for i, v in enumerate([1, 2, 3, 4])],
                                    R.WS: [], R.HTTP: []})
    assert R.evaluate(R.parse("bytes_c2s.p95 > 0"), d).measured == pytest.approx(3.85)
    half = R.evaluate(R.parse("p50(bytes_c2s) == 2.5"), d)
    assert half.passed and half.measured == 2.5
    # An integer column's p50 of [1, 2, 3] still prints as 2.
    three = R.CaptureData("hand.pcap", {R.CONN: [{"uid": f"C{i}", "bytes_c2s": v}
                                                 for i, v in enumerate([1, 2, 3])],
                                        R.WS: [], R.HTTP: []})
    result = R.evaluate(R.parse("bytes_c2s.p50 > 5"), three)
    assert result.headline() == "hand.pcap: bytes_c2s.p50 > 5 (measured: 2)"


# --------------------------------------------------------------------------- diff precision


def _rtts(rtts_s: list[float], base: int = 0) -> list[ConnectionRecord]:
    rec = _one()
    return [dataclasses.replace(rec, uid=f"C{base + i:017d}", handshake_rtt_s=rtt,
                                first_ts_ns=rec.first_ts_ns + i, first_frame=rec.first_frame + i)
            for i, rtt in enumerate(rtts_s)]


def test_diff_ignores_rtt_changes_below_the_printed_precision() -> None:
    # 1.2344 ms and 1.2346 ms print as 1.234 and 1.235: a hair apart, not a change.
    before, after = _rtts([0.0012344]), _rtts([0.0012346], base=10)
    assert diff.metrics(before)["rtt_p50_ms"] == 1.234
    assert diff.metrics(after)["rtt_p50_ms"] == 1.235
    assert diff.diff(before, after).changes == []
    # Equal once printed: not a change either.
    assert diff.diff(_rtts([0.0012341]), _rtts([0.0012344], base=10)).changes == []
    # A whole printed unit is.
    d = diff.diff(_rtts([0.001]), _rtts([0.002], base=10))
    assert [(c["metric"], c["before"], c["after"]) for c in d.changes] == [
        ("rtt_p50_ms", 1.0, 2.0), ("rtt_p95_ms", 1.0, 2.0)]
    d = diff.diff(_rtts([0.0012340]), _rtts([0.0012350], base=10))
    assert [(c["metric"], c["before"], c["after"]) for c in d.changes] == [
        ("rtt_p50_ms", 1.234, 1.235), ("rtt_p95_ms", 1.234, 1.235)]


# --------------------------------------------------------------------------- --tshark-path


@pytest.fixture
def fresh_tshark_info() -> object:
    tshark_info.cache_clear()
    yield None
    tshark_info.cache_clear()


def test_a_missing_tshark_path_is_named(tmp_path: Path, fresh_tshark_info: object) -> None:
    path = tmp_path / "no-tshark"
    with pytest.raises(TsharkNotFound) as exc:
        tshark_info(str(path))
    assert str(exc.value) == f"tshark not found: {path} (from --tshark-path) does not exist"
    assert exc.value.exit_code == EXIT_INPUT == 3


def test_a_directory_as_tshark_path(tmp_path: Path, fresh_tshark_info: object) -> None:
    with pytest.raises(TsharkNotFound) as exc:
        tshark_info(str(tmp_path))
    assert str(exc.value) == (f"tshark not found: {tmp_path} (from --tshark-path) is a "
                              "directory, not the tshark program")


def test_a_tshark_path_that_is_not_executable(tmp_path: Path,
                                              fresh_tshark_info: object) -> None:
    path = tmp_path / "tshark"
    path.write_text("#!/bin/sh\n", encoding="utf-8")
    path.chmod(0o644)
    if os.access(path, os.X_OK):  # pragma: no cover - running as root on some file systems
        pytest.skip("the file system ignores the execute bit")
    with pytest.raises(TsharkNotFound) as exc:
        tshark_info(str(path))
    assert str(exc.value) == f"tshark not found: {path} (from --tshark-path) is not executable"


def test_a_tshark_path_that_is_not_tshark(tmp_path: Path, fresh_tshark_info: object) -> None:
    path = tmp_path / "tshark"
    path.write_text("#!/bin/sh\necho 'hello from something else'\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(TsharkNotFound) as exc:
        tshark_info(str(path))
    assert str(exc.value) == (f"tshark not found: {path} (from --tshark-path) is not tshark "
                              f"('{path} -v' prints no TShark version)")


def test_tshark_path_from_the_environment_says_so(tmp_path: Path,
                                                  fresh_tshark_info: object,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "no-tshark"
    monkeypatch.setenv("TSHARK_PATH", str(path))
    with pytest.raises(TsharkNotFound) as exc:
        tshark_info()
    assert str(exc.value) == f"tshark not found: {path} (from TSHARK_PATH) does not exist"


def test_without_a_path_the_message_is_about_path() -> None:
    assert str(TsharkNotFound()) == ("tshark not found on PATH (set --tshark-path or "
                                     "TSHARK_PATH, or install it: apt-get install tshark)")


def test_cli_names_the_tshark_path_on_one_line(tmp_path: Path,
                                               fresh_tshark_info: object) -> None:
    path = tmp_path / "no-tshark"
    result = CliRunner().invoke(app, ["connections", str(HTTP10), "-Y", "tcp",
                                      "--tshark-path", str(path)])
    assert result.exit_code == 3
    assert result.stderr.splitlines() == [
        f"error: tshark not found: {path} (from --tshark-path) does not exist"]


# --------------------------------------------------------------------------- plurals


def test_check_tally_and_offenders_use_singulars() -> None:
    from analyzer.report.rules.report import CaptureCheck, tally

    d = R.CaptureData("hand.pcap", {R.CONN: [{"uid": "C1", "client_ip": "10.0.0.1",
                                              "client_port": 1, "server_ip": "10.0.0.2",
                                              "server_port": 2, "end": "rst"}],
                                    R.WS: [], R.HTTP: []})
    result = R.evaluate(R.parse("count(end == 'rst') == 0"), d)
    assert result.detail_lines()[0] == "1 offending connection:"
    check = CaptureCheck("hand.pcap", [result])
    assert tally([check]) == "0 passed, 1 failed, 0 warnings (1 rule on 1 capture)"
