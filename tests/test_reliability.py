"""The error contract under careless and hostile use (issue 12): every failure is one line on
stderr naming the file, with a documented exit code, on both engines; nothing hangs; a
report folder is whole or untouched. Each test failed before its fix."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("pcap-analyzer"))
MIXED = ROOT / "captures" / "real" / "mixed.pcap"
HALF_CLOSE = ROOT / "captures" / "real" / "half_close.pcapng"
GZIP = ROOT / "captures" / "synthetic" / "gzip.pcap.gz"
ENGINES = ["native", "tshark"]

pytestmark = pytest.mark.tshark


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=cwd, check=False)


def lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return done.stderr.strip().splitlines()


# --- usage errors: one line, exit 2 ---------------------------------------------------------

@pytest.mark.parametrize(("args", "expected"), [
    (["connections", "--bogus", "x"],
     "error: No such option: --bogus (Possible options: --columns, --jobs) "
     "(see 'pcap-analyzer connections --help')"),
    (["conections", "x"],
     "error: No such command 'conections'. Did you mean 'connections'? "
     "(see 'pcap-analyzer --help')"),
    (["connections"],
     "error: Missing argument 'CAPTURE'. (see 'pcap-analyzer connections --help')"),
])
def test_a_usage_error_is_one_line_naming_the_help(args: list[str], expected: str) -> None:
    done = cli(*args)
    assert done.returncode == 2
    assert lines(done) == [expected]


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--decode-as", "tcp.port==8888,bogus", 'Unknown protocol -- "bogus"'),
    ("--pref", "nonsense.pref:1", '-o flag "nonsense.pref:1" specifies unknown preference'),
])
def test_a_bad_tshark_option_is_a_usage_error_not_the_captures(option: str, value: str,
                                                                message: str) -> None:
    done = cli("connections", str(MIXED), option, value)
    assert done.returncode == 2
    assert lines(done) == [f"error: bad {option} '{value}': {message}"]


def test_a_good_pref_still_reads() -> None:
    done = cli("connections", str(MIXED), "--pref", "tcp.desegment_tcp_streams:TRUE",
               "-f", "jsonl", "-q")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 4


# --- inputs ---------------------------------------------------------------------------------

def test_a_newline_in_a_file_name_stays_on_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "new\nline\x1b[31m.pcap"
    bad.write_bytes(b"junk that is no capture")
    done = cli("connections", str(bad))
    assert done.returncode == 3
    assert lines(done) == [f"error: {tmp_path}/new\\nline\\x1b[31m.pcap: not a capture file "
                           "(neither pcap nor pcapng)"]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_fifo_is_refused_at_once_not_read_as_empty(engine: str, tmp_path: Path) -> None:
    fifo = tmp_path / "live.pcap"
    os.mkfifo(fifo)
    done = cli("--engine", engine, "connections", str(fifo), timeout=30)
    assert done.returncode == 3
    assert lines(done) == [f"error: {fifo}: is a FIFO, not a regular file: pcap-analyzer "
                           "reads a capture more than once, so save it to a file first"]


def test_a_character_device_is_refused() -> None:
    done = cli("connections", "/dev/zero", timeout=30)
    assert done.returncode == 3
    assert lines(done) == ["error: /dev/zero: is a character device, not a regular file: "
                           "pcap-analyzer reads a capture more than once, so save it to a "
                           "file first"]


def test_a_path_longer_than_the_system_allows_is_an_input_error() -> None:
    name = "/tmp/" + "a" * 300 + ".pcap"
    done = cli("connections", name)
    assert done.returncode == 3
    assert lines(done) == [f"error: {name}: File name too long"]


def test_a_directory_named_like_a_capture_is_reported_and_the_rest_read(tmp_path: Path
                                                                         ) -> None:
    (tmp_path / "x.pcap").mkdir()
    shutil.copy(MIXED, tmp_path / "mixed.pcap")
    done = cli("connections", str(tmp_path), "-f", "jsonl", "-q")
    assert done.returncode == 3
    assert lines(done) == [f"error: {tmp_path}/x.pcap: is a directory, not a capture file"]
    assert len(done.stdout.splitlines()) == 4


def test_no_captures_names_the_directory_and_an_empty_one_beside_others_is_noted(
        tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    alone = cli("connections", str(empty))
    assert alone.returncode == 3
    assert lines(alone) == [f"error: no capture files found in {empty} (looked for *.pcap, "
                            "*.pcapng, *.cap, *.pcap.gz, *.pcapng.gz, *.cap.gz, *.pcap.zst, "
                            "*.pcapng.zst)"]
    beside = cli("connections", str(empty), str(MIXED), "-f", "jsonl", "-q")
    assert beside.returncode == 0
    assert lines(beside) == [f"note: {empty}: no capture files in it"]
    assert len(beside.stdout.splitlines()) == 4


def test_a_file_named_truncated_that_is_no_capture_is_not_a_truncated_capture(
        tmp_path: Path) -> None:
    text = tmp_path / "truncated capture.pcap"
    text.write_text("This is not a packet capture.\n" * 20)
    done = cli("--engine", "tshark", "connections", str(text))
    assert done.returncode == 3
    assert lines(done) == [f"error: {text}: not a capture file (tshark does not recognise "
                           "the format)"]


def test_an_unreadable_file_is_exit_3_without_a_usage_block(tmp_path: Path) -> None:
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to drop root's file-access override")
    locked = tmp_path / "locked.pcap"
    shutil.copy(MIXED, locked)
    locked.chmod(0)
    done = subprocess.run(
        ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search",
         CLI, "connections", str(locked)], capture_output=True, text=True, check=False)
    assert done.returncode == 3
    assert lines(done) == [f"error: {locked}: permission denied"]


# --- the file header: never exit 0 in silence -----------------------------------------------

def _header_cuts(capture: Path, header: int) -> list[int]:
    return [1, 3, header // 2, header - 1] if header > 4 else list(range(1, header))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("capture", "header", "detail"), [
    (MIXED, 24, "{n} of the pcap header's 24 bytes"),
    (HALF_CLOSE, 160, "in the middle of a section header"),
])
def test_a_cut_inside_the_file_header_is_an_error_on_both_engines(
        engine: str, capture: Path, header: int, detail: str, tmp_path: Path) -> None:
    data = capture.read_bytes()
    if capture is HALF_CLOSE:
        header = int.from_bytes(data[4:8], "little")  # the section header block's length
    for n in (1, 3, 10, header // 2, header - 1):
        cut = tmp_path / f"cut{n}{capture.suffix}"
        cut.write_bytes(data[:n])
        done = cli("--engine", engine, "connections", str(cut), "-f", "jsonl")
        expected = ("{n} of a magic number's 4 bytes" if n < 4 else detail).format(n=n)
        assert (done.returncode, lines(done), done.stdout) == (
            3, [f"error: {cut}: cut short inside its file header ({expected})"], ""), n


# --- tshark: the one given, and never for ever ----------------------------------------------

@pytest.mark.parametrize("binary", ["/bin/false", "/bin/echo"])
def test_a_tshark_path_that_is_not_tshark_is_refused(binary: str) -> None:
    done = cli("--engine", "tshark", "connections", str(MIXED), "--tshark-path", binary)
    assert done.returncode == 3
    assert lines(done) == [f"error: tshark not found: {binary} (from --tshark-path) is not "
                           f"tshark ('{binary} -v' prints no TShark version)"]


def _fake_tshark(tmp_path: Path, body: str) -> Path:
    """A program that answers ``-v`` as the real tshark does and does ``body`` otherwise (a
    hung or broken tshark cannot be had from the real one on demand)."""
    real = shutil.which("tshark")
    assert real is not None
    fake = tmp_path / "tshark"
    fake.write_text(f'#!/bin/sh\nfor a in "$@"; do [ "$a" = "-v" ] && exec {real} -v; done\n'
                    f"{body}\n")
    fake.chmod(0o755)
    return fake


def test_a_stalled_tshark_is_stopped_with_one_line(tmp_path: Path) -> None:
    fake = _fake_tshark(tmp_path, "exec sleep 300")
    started = time.monotonic()
    done = cli("--engine", "tshark", "connections", str(MIXED), "--tshark-path", str(fake),
               env={"PCAP_ANALYZER_TSHARK_TIMEOUT": "2"}, timeout=60)
    assert time.monotonic() - started < 30
    assert done.returncode == 3
    assert lines(done) == [f"error: {MIXED}: tshark made no progress for 2 s and was stopped "
                           "(set PCAP_ANALYZER_TSHARK_TIMEOUT to wait longer, 0 for ever)"]
    left = subprocess.run(["pgrep", "-f", "sleep 300"], capture_output=True, text=True,
                          check=False)
    assert left.stdout.strip() == ""


def test_tshark_output_the_loader_cannot_read_is_one_line(tmp_path: Path) -> None:
    from analyzer.loader.tshark import FIELDS

    garbage = "\\t".join(["x"] * (len(FIELDS)))
    fake = _fake_tshark(tmp_path, f"printf '{garbage}\\n'")
    done = cli("--engine", "tshark", "--session-reset", "5", "connections", str(MIXED),
               "--tshark-path", str(fake))
    assert done.returncode == 3
    (line,) = lines(done)
    assert line.startswith(f"error: {MIXED}: tshark printed a line the loader cannot read "
                           "(line 1): b'x\\tx\\tx")


# --- damaged compressed captures on the second look -----------------------------------------

@pytest.mark.parametrize("engine", ENGINES)
def test_a_cut_gzip_capture_is_read_to_the_cut_by_every_command(engine: str, tmp_path: Path
                                                                  ) -> None:
    cut = tmp_path / "cut.pcap.gz"
    cut.write_bytes(GZIP.read_bytes()[:328])
    word = "truncated after frame 6 (the rest is cut off)"  # both engines: a cut, not damage
    explain = cli("--engine", engine, "explain", str(cut))
    assert explain.returncode == 0
    assert lines(explain) == [f"warning: {cut}: {word}"]
    assert "client 10.0.0.1:40017  ->  server 10.0.0.2:8080" in explain.stdout
    report = cli("--engine", engine, "report", str(cut), str(MIXED), "--out",
                 str(tmp_path / "r"), "-q", "--no-step-summary")
    assert report.returncode == 0
    assert lines(report) == [f"warning: {cut}: {word}"]
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [
        "connections.parquet", "http.parquet", "report.html", "report.md",
        "websockets.parquet"]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("compress", [False, True])
def test_a_pcapng_block_length_of_zero_ends_the_read_there(engine: str, compress: bool,
                                                            tmp_path: Path) -> None:
    data = bytearray(HALF_CLOSE.read_bytes())
    offset, packets = 0, 0
    while packets < 4:  # the fourth enhanced packet block
        kind = int.from_bytes(data[offset:offset + 4], "little")
        length = int.from_bytes(data[offset + 4:offset + 8], "little")
        if kind == 6:
            packets += 1
            if packets == 4:
                break
        offset += length
    data[offset + 4:offset + 8] = bytes(4)
    bad = tmp_path / ("zero.pcapng.gz" if compress else "zero.pcapng")
    bad.write_bytes(gzip.compress(bytes(data)) if compress else bytes(data))
    explain = cli("--engine", engine, "explain", str(bad))
    assert explain.returncode == 0
    assert lines(explain) == [f"warning: {bad}: damaged after frame 3; read up to there"]
    assert "frame" in explain.stdout and "     3 " in explain.stdout


# --- the report folder: whole or untouched --------------------------------------------------

def test_a_report_into_a_file_leaves_no_partial_folder(tmp_path: Path) -> None:
    target = tmp_path / "report"
    target.write_text("a file, not a folder")
    done = cli("report", str(MIXED), "--out", str(target), "-q", "--no-step-summary")
    assert done.returncode == 3
    assert lines(done) == [f"error: {target}: cannot write: not a directory"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_a_report_over_an_old_one_replaces_its_files_and_keeps_the_others(tmp_path: Path
                                                                          ) -> None:
    out = tmp_path / "report"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "report.md").write_text("old")
    done = cli("report", str(MIXED), "--out", str(out), "-q", "--no-step-summary",
               "--rule", "count() > 100")
    assert done.returncode == 1
    assert sorted(p.name for p in out.iterdir()) == [
        "connections.parquet", "http.parquet", "junit.xml", "notes.txt", "report.html",
        "report.md", "websockets.parquet"]
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "report.md").read_text().startswith("# pcap-analyzer report")
    assert oct(out.stat().st_mode & 0o777) == oct(0o777 & ~_umask())
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_full_disk_leaves_no_report_folder(tmp_path: Path) -> None:
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        done = cli("report", str(MIXED), "--out", str(mnt / "rep"), "-q", "--no-step-summary")
        assert done.returncode == 3
        assert lines(done) == [f"error: {mnt / 'rep'}: cannot write: No space left on device"]
        assert list(mnt.iterdir()) == []
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


# --- what the report and its charts print ---------------------------------------------------

def test_report_html_has_no_control_characters_from_packet_data(tmp_path: Path) -> None:
    from analyzer.report.html import inert

    assert inert("a\x1b[2Jb\x07c\td\n\x9b") == "a\\x1b[2Jb\\x07c\td\n\\x9b"
    hostile = ROOT / "captures" / "hostile" / "hostile.pcap"
    done = cli("report", str(hostile), "--out", str(tmp_path / "r"), "-q",
               "--no-step-summary")
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert "\x1b" not in html
    assert "\\x1b" in html


def test_an_unwritable_home_adds_no_lines_to_stderr(tmp_path: Path) -> None:
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to drop root's file-access override")
    home = tmp_path / "home"
    home.mkdir(mode=0o555)
    done = subprocess.run(
        ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search",
         CLI, "report", str(MIXED), "--out", str(tmp_path / "r"), "-q", "--no-step-summary"],
        capture_output=True, text=True, check=False,
        env={**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": "", "XDG_CACHE_HOME": "",
             "MPLCONFIGDIR": ""})
    assert done.returncode == 0
    assert done.stderr == ""


def test_diff_of_a_capture_with_itself_finds_no_change() -> None:
    done = cli("diff", str(MIXED), str(MIXED))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "The same server endpoints in both captures." in done.stdout
    assert "No metric changed." in done.stdout


def _pcapng_with_timestamp(units: int) -> bytes:
    """A pcapng of one TCP SYN whose timestamp is ``units`` microseconds (64 bits)."""
    import struct

    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    frame = bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40000, dport=80,
                                                                       flags="S"))
    shb = struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28)
    idb = struct.pack("<IIHHII", 1, 20, 1, 0, 0, 20)
    pad = (-len(frame)) % 4
    length = 32 + len(frame) + pad
    epb = struct.pack("<IIIIIII", 6, length, 0, units >> 32, units & 0xFFFFFFFF, len(frame),
                      len(frame)) + frame + bytes(pad) + struct.pack("<I", length)
    return shb + idb + epb


@pytest.mark.parametrize("engine", ENGINES)
def test_a_timestamp_beyond_64_bits_of_nanoseconds_is_clamped_alike(engine: str, tmp_path: Path
                                                              ) -> None:
    import json

    from analyzer.loader.tshark import parse_epoch_ns

    assert parse_epoch_ns("17956868500.932607550") == 2**63 - 1
    assert parse_epoch_ns("-1.5") == -1_500_000_000
    late = tmp_path / "late.pcapng"
    late.write_bytes(_pcapng_with_timestamp(2**64 - 1))
    done = cli("--engine", engine, "connections", str(late), "-f", "jsonl", "-q")
    assert done.returncode == 0, done.stderr
    (record,) = [json.loads(line) for line in done.stdout.splitlines()]
    # the tracker clamps to ±2^62 ns (pipeline::MAX_TS_NS), so that timer sums cannot overflow
    assert (record["first_ts_ns"], record["conn_state"]) == (2**62, "S0")
