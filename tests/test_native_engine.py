"""The native engine through the CLI and the API: the same records as the tshark engine,
checksum handling as Zeek's, bad input and truncation with the same words and exit codes,
and a tshark fallback for what it does not decode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from engines import APP_DIFFERENCES, app_differs, comparable
from zeek_oracle import oracle_captures

from analyzer import _engine
from analyzer.api import analyze, analyze_capture
from analyzer.errors import UsageError
from analyzer.loader import LoadOptions
from analyzer.report.zeek import zeek_rows

pytestmark = pytest.mark.tshark

ROOT = Path(__file__).resolve().parents[1]
ENGINE_CASES = ROOT / "captures" / "engine"

CAPTURES = sorted(
    p for p in (ROOT / "captures").rglob("*")
    if p.is_file() and p.name.endswith((".pcap", ".pcapng", ".gz"))
    and p.parent.name != "bad" and p.name != "wifi_80211.pcap"
) + [c.capture for c in oracle_captures()]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "analyzer", *args], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, "COLUMNS": "200"},
                          check=False)



@pytest.mark.parametrize("check", [False, True], ids=["ignore-checksums", "check-checksums"])
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_native_and_tshark_engines_give_identical_records(path: Path, check: bool) -> None:
    native = analyze_capture(path, LoadOptions(engine="native", check_checksums=check))
    tshark = analyze_capture(path, LoadOptions(engine="tshark", check_checksums=check))
    assert native.engine == "native" and tshark.engine == "tshark"
    assert native.error is None and tshark.error is None
    assert native.records, "every capture here has connections"
    assert [comparable(r, app=not app_differs(path.name, r.uid)) for r in native.records] == [
        comparable(r, app=not app_differs(path.name, r.uid)) for r in tshark.records]
    assert native.warnings == tshark.warnings


@pytest.mark.parametrize(("name", "uid"), sorted(k for k in APP_DIFFERENCES if k[1] != "*"))
def test_listed_app_differences_are_what_the_readme_says(name: str, uid: str) -> None:
    """The native engine finds the HTTP that tshark misses on these connections."""
    path = next((c.capture for c in oracle_captures() if c.capture.name == name), None)
    if path is None:
        pytest.skip("../shared/oracle is not beside the project")
    check = name == "tcp-http-padding.pcap"  # the connection exists only with -C off
    native = {r.uid: r for r in analyze_capture(
        path, LoadOptions(engine="native", check_checksums=check)).records}
    tshark = {r.uid: r for r in analyze_capture(
        path, LoadOptions(engine="tshark", check_checksums=check)).records}
    n, t = native[uid], tshark[uid]
    if check:
        (tx,) = n.transactions
        assert (tx.method, tx.target, tx.request_version, t.transactions) == (
            "T", "/", "1.0", ())
    elif name == "http-to-ssh-rstr.pcap":
        assert (t.http_requests, t.transactions) == (0, ())
        (tx,) = n.transactions
        assert (tx.method, tx.target, tx.host, tx.status) == ("GET", "/", "127.0.0.1:22", None)
        assert (n.http_requests, n.http_responses) == (1, 0)
    else:  # vlan-mpls.pcap
        (nt,), (tt,) = n.transactions, t.transactions
        assert (tt.request_version, tt.status, tt.response_version) == ("0.9", None, None)
        assert (nt.request_version, nt.status, nt.response_version) == ("0.9", None, "0.9")
        assert (n.http_responses, t.http_responses) == (1, 0)
        assert nt.response_frame == 42 and nt.keep_alive is False


@pytest.mark.parametrize("engine", ["native", "tshark"])
def test_both_engines_split_tunnels_as_zeek_does(engine: str) -> None:
    """A VXLAN trace: four outer UDP flows and the inner ICMP flow that names the two outer
    flows it came in. 0.1 kept one header per frame and skipped ICMP, so only the two outer
    flows whose frames carry ARP were left (tests/golden/conn/oracle/zeek-tunnels/)."""
    vxlan = next((c.capture for c in oracle_captures() if c.capture.stem == "vxlan"), None)
    if vxlan is None:
        pytest.skip("../shared/oracle is not beside the project")
    n = analyze_capture(vxlan, LoadOptions(engine=engine)).records
    assert sorted((r.proto, r.client_port, r.server_port) for r in n) == [
        ("icmp", 8, 0), ("udp", 38071, 4789), ("udp", 39924, 4789), ("udp", 40908, 4789),
        ("udp", 48134, 4789)]
    icmp = next(r for r in n if r.proto == "icmp")
    outer = {r.uid: r.client_port for r in n if r.proto == "udp"}
    assert sorted(outer[u] for u in icmp.tunnel_parents) == [38071, 48134]
    assert icmp.history == "X"  # Zeek: more than Tunnel::max_changes_per_connection changes
    assert (icmp.orig_pkts, icmp.orig_bytes, icmp.resp_pkts, icmp.resp_ip_bytes) == (
        4, 224, 4, 336)


@pytest.mark.parametrize("engine", ["native", "tshark"])
def test_bad_ipv4_header_checksum_is_dropped_with_check_checksums(engine: str) -> None:
    """Zeek without -C drops a packet whose IPv4 header checksum is wrong (the TCP checksum
    is right): C in the history instead of D, and the server's ACK reveals the 18 bytes."""
    path = ENGINE_CASES / "ip_header_bad.pcap"
    (r,) = analyze_capture(path, LoadOptions(engine=engine, check_checksums=True)).records
    assert (r.history, r.conn_state, r.missed_bytes, r.orig_pkts) == ("ShACdGfFa", "SF", 18, 3)
    (r,) = analyze_capture(path, LoadOptions(engine=engine)).records
    assert (r.history, r.missed_bytes, r.orig_pkts, r.bytes_c2s) == ("ShADdfFa", 0, 4, 18)


@pytest.mark.parametrize("engine", ["native", "tshark"])
def test_a_dropped_packet_does_not_flip_the_roles(engine: str) -> None:
    path = ENGINE_CASES / "bad_ack_no_flip.pcap"
    (r,) = analyze_capture(path, LoadOptions(engine=engine, check_checksums=True)).records
    assert (r.history, r.client_ip, r.client_port, r.orig_pkts) == ("Hc", "10.9.0.2", 9999, 1)
    (r,) = analyze_capture(path, LoadOptions(engine=engine)).records
    assert (r.history, r.client_ip, r.client_port) == ("^hA", "10.9.0.1", 41000)


def test_an_undecoded_link_type_is_read_with_tshark_and_says_so() -> None:
    proc = _cli("--engine", "native", "connections", "captures/engine/wifi_80211.pcap",
                "-f", "zeek", "-q")
    assert proc.returncode == 0
    assert proc.stderr.strip() == ("note: captures/engine/wifi_80211.pcap: read with tshark: "
                                   "link type 105 is not decoded by the native engine")
    rows = [ln.split("\t") for ln in proc.stdout.splitlines() if not ln.startswith("#")]
    assert [(r[2], r[3], r[11], r[13]) for r in rows] == [("10.9.0.1", "41000", "S1", "Sh")]


@pytest.mark.parametrize(("name", "message"), [
    ("empty.pcap", "empty file (0 bytes), not a capture"),
    ("not_a_capture.pcap", "not a capture file (neither pcap nor pcapng)"),
])
def test_bad_files_give_one_line_and_exit_3(name: str, message: str) -> None:
    path = f"captures/synthetic/bad/{name}"
    proc = _cli("--engine", "native", "connections", path, "-f", "jsonl")
    assert proc.returncode == 3
    assert proc.stderr.strip() == f"error: {path}: {message}"
    assert proc.stdout == ""


def test_a_truncated_capture_is_read_up_to_the_cut() -> None:
    path = "captures/synthetic/bad/truncated.pcap"
    proc = _cli("--engine", "native", "connections", path, "-f", "jsonl", "-q")
    assert proc.returncode == 0
    assert proc.stderr.strip() == (
        f"warning: {path}: truncated after frame 7 (the rest is cut off)")
    assert proc.stdout.count("\n") == 1 and '"last_frame": 7' in proc.stdout
    assert _cli("--engine", "native", "connections", path, "--strict", "-q").returncode == 4


def test_a_capture_given_twice_is_read_twice() -> None:
    path = "captures/synthetic/vlan.pcap"
    proc = _cli("--engine", "native", "connections", path, path, "-f", "jsonl", "-q")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert len(lines) == 2 and lines[0] == lines[1]


def test_native_applies_a_display_filter_but_not_tshark_only_options() -> None:
    # -Y needs tshark only to find the matching frames: the native engine reads the capture
    # (tests/test_display_filter.py); --decode-as needs tshark's dissection of every packet.
    proc = _cli("--engine", "native", "connections", "captures/synthetic/vlan.pcap",
                "-Y", "tcp", "-f", "jsonl")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "" and proc.stdout.count("\n") == 1
    (result,) = analyze("captures/synthetic/vlan.pcap", engine="native",
                        display_filter="tcp").captures
    assert result.engine == "native" and len(result.records) == 1
    proc = _cli("--engine", "native", "connections", "captures/synthetic/vlan.pcap",
                "-d", "tcp.port==8080,http")
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: --engine native cannot apply --decode-as: "
                                   "use --engine tshark or auto")
    with pytest.raises(UsageError):
        analyze("captures/synthetic/vlan.pcap", engine="native", decode_as=["tcp.port==80,http"])


def test_native_needs_no_tshark(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path), "TSHARK_PATH": ""}
    proc = subprocess.run([sys.executable, "-m", "analyzer", "--engine", "native",
                           "connections", "captures/synthetic/gzip.pcap.gz", "-f", "zeek",
                           "-q"], capture_output=True, text=True, cwd=ROOT, env=env,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    rows = [ln.split("\t") for ln in proc.stdout.splitlines() if not ln.startswith("#")]
    assert [(r[11], r[13]) for r in rows] == [("SF", "ShADadFf")]


def test_engine_reads_compressed_captures_the_same(tmp_path: Path) -> None:
    """A gzip and a zstd copy (made here; ``make test`` installs the zstd command) give the
    plain file's records."""
    import gzip
    import shutil

    plain = ROOT / "captures/real/mixed.pcap"
    gz = tmp_path / "mixed.pcap.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    want = [comparable(r) for r in analyze_capture(plain, LoadOptions(engine="native")).records]
    got = analyze_capture(gz, LoadOptions(engine="native")).records
    assert [{**comparable(r), "capture": str(plain)} for r in got] == want
    zstd = shutil.which("zstd")
    if zstd is None:
        if os.environ.get("CI"):
            pytest.fail("the zstd command is missing; make test installs it")
        pytest.skip("the zstd command is not installed")
    zst = tmp_path / "mixed.pcap.zst"
    subprocess.run([zstd, "-q", str(plain), "-o", str(zst)], check=True)
    got = analyze_capture(zst, LoadOptions(engine="native")).records
    assert [{**comparable(r), "capture": str(plain)} for r in got] == want


def test_engine_hands_records_over_in_start_order() -> None:
    """Batches come in start order (the Rust tests check that records leave while the
    capture is read); together they are exactly the records of a whole read."""
    path = ROOT / "captures/real/mixed.pcap"
    reader = _engine.read_capture(str(path), batch=1, release_every=1)
    batches = [b.columns() for b in reader]
    assert {len(b["uid"]) for b in batches} == {1}
    keys = [k for b in batches for k in zip(b["first_ts_ns"], b["first_frame"], strict=True)]
    assert keys == sorted(keys)
    whole = analyze_capture(path, LoadOptions(engine="native")).records
    assert keys == [(r.first_ts_ns, r.first_frame) for r in whole]
    assert reader.frames == max(r.last_frame for r in whole) and reader.pending == 0


def test_zeek_rows_name_tunnel_parents_and_ip_proto() -> None:
    gre = next((c.capture for c in oracle_captures() if c.capture.stem == "gre-sample"), None)
    if gre is None:
        pytest.skip("../shared/oracle is not beside the project")
    rows = zeek_rows(analyze_capture(gre, LoadOptions(engine="native")).records)
    parents = {r["tunnel_parents"] for r in rows}
    assert len(parents) == 1 and None not in parents  # one GRE tunnel carries everything
    assert sorted({(r["proto"], r["ip_proto"]) for r in rows}) == [
        ("icmp", "1"), ("tcp", "6"), ("udp", "17")]


@pytest.mark.parametrize("engine", ["native", "tshark"])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_streamed_formats_equal_whole_writes(engine: str, jobs: str, tmp_path: Path) -> None:
    """jsonl, csv, zeek and parquet are written batch by batch as records come; the result
    is what writing every record at once gives (capture order, start order within)."""
    import io

    import pandas as pd

    from analyzer.batch import expand_inputs
    from analyzer.report.frame import to_frame
    from analyzer.report.writers import write_csv, write_jsonl

    inputs = ["captures/real", "captures/synthetic/vlan.pcap", "captures/ws"]
    records = analyze(expand_inputs(inputs), engine=engine).records
    assert len(records) > 20
    want = {"jsonl": io.StringIO(), "csv": io.StringIO()}
    write_jsonl(records, want["jsonl"])
    write_csv(to_frame(records), want["csv"])
    for fmt, buf in want.items():
        proc = _cli("--engine", engine, "connections", *inputs, "-f", fmt, "-q", "-j", jobs)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == buf.getvalue(), fmt
    out = tmp_path / "c.parquet"
    proc = _cli("--engine", engine, "connections", *inputs, "-f", "parquet", "-o", str(out),
                "-q", "-j", jobs)
    assert proc.returncode == 0, proc.stderr
    back = pd.read_parquet(out)
    frame = to_frame(records)
    for col in ("anomalies", "tunnel_parents"):
        back[col] = back[col].map(list)
    # Every value and dtype, categories included: the engine's float seconds are Python's
    # own int / int.
    pd.testing.assert_frame_equal(back, frame)
    proc = _cli("--engine", engine, "connections", *inputs, "-f", "zeek", "-q", "-j", jobs)
    rows = [ln for ln in proc.stdout.splitlines() if not ln.startswith("#")]
    assert [r.split("\t")[1] for r in rows] == frame["uid"].tolist()


def test_http_is_read_by_the_native_engine_by_default() -> None:
    proc = _cli("http", "captures/real/http10.pcapng", "-f", "jsonl", "-q",
                "--tshark-path", "/nonexistent/tshark")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # no tshark needed, no note
    assert '"method": "GET"' in proc.stdout and '"status": 200' in proc.stdout


def test_an_engine_panic_is_one_python_exception_and_no_backtrace() -> None:
    code = ("from analyzer import _engine\n"
            "try:\n    _engine._panic_for_test('boom at frame 7')\n"
            "except _engine.EnginePanic as e:\n    print('caught', e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=False, env={**os.environ, "RUST_BACKTRACE": "1"})
    assert proc.returncode == 0
    assert proc.stdout.strip() == "caught boom at frame 7"
    assert proc.stderr == ""  # the panic hook prints nothing


@pytest.mark.parametrize("engine", ["native", "tshark"])
def test_fragments_count_once_as_the_reassembled_datagram(engine: str) -> None:
    """Zeek reassembles IP fragments and counts the datagram once, at its last fragment,
    with the reassembled length (payload + the header)."""
    recs = analyze_capture(ENGINE_CASES / "fragments.pcap", LoadOptions(engine=engine)).records
    got = [(r.client_ip, r.orig_pkts, r.orig_ip_bytes, r.bytes_c2s, r.first_frame, r.conn_state)
           for r in recs]
    assert got == [("10.1.0.1", 1, 3028, 3000, 3, "SF"), ("fd00::1", 1, 3048, 3000, 7, "S0")]


def test_http_inside_a_tunnel_is_still_found_by_the_tshark_engine() -> None:
    """Splitting tunnels keeps tshark's HTTP messages on the inner TCP segment: the Teredo
    trace's inner IPv6 connection carries two requests."""
    teredo = next((c.capture for c in oracle_captures() if c.capture.stem == "teredo"), None)
    if teredo is None:
        pytest.skip("../shared/oracle is not beside the project")
    recs = analyze_capture(teredo, LoadOptions(engine="tshark")).records
    inner = [r for r in recs if r.client_ip.startswith("2001:0:4137") and r.proto == "tcp"]
    assert [(r.server_port, r.http_requests, r.http_responses) for r in inner] == [(80, 2, 2)]
    assert len(inner[0].tunnel_parents) == 1
