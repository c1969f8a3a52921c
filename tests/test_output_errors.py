"""The output side of the error contract: a file that cannot be written is one line naming
it, exit 3, no traceback; a pipe whose reader goes away (``| head``) ends the run quietly
with exit 0, as ``cat`` does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CAPTURE = ROOT / "captures" / "real" / "lossy_bulk.pcapng"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "analyzer", *args], capture_output=True,
                          text=True, cwd=ROOT, check=False,
                          env={**os.environ, "CI": "true"})


@pytest.mark.parametrize(("target", "reason"), [
    ("/proc/pcap-analyzer-test.jsonl", "No such file or directory"),
    ("/nonexistent-dir/sub/out.jsonl", "No such file or directory"),
    ("/tmp", "Is a directory"),
    ("/dev/full", "No space left on device"),
], ids=["proc", "missing-dir", "directory", "full-disk"])
@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "zeek"])
def test_an_output_that_cannot_be_written_is_one_line_and_exit_3(target: str, reason: str,
                                                                fmt: str) -> None:
    done = _cli("connections", str(CAPTURE), "-f", fmt, "-o", target, "-q")
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines == [f"error: {target}: cannot write: {reason}"]


def test_a_report_folder_that_cannot_be_made_is_one_line_and_exit_3() -> None:
    done = _cli("report", str(CAPTURE), "-o", "/proc/pcap-analyzer-report", "-q")
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        "error: /proc/pcap-analyzer-report: cannot write: No such file or directory"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "table"])
def test_a_closed_pipe_ends_the_run_quietly(fmt: str) -> None:
    """Like ``pcap-analyzer connections ... | head -1``: the reader takes one line and
    closes its end; the analyzer stops with exit 0 and prints no traceback."""
    # Forty times the synthetic captures: far more output than a pipe buffers (64 KiB), so
    # that the writer really meets the closed pipe (it stops there, long before the end).
    captures = [str(p) for p in sorted((ROOT / "captures" / "synthetic").glob("*.pcap"))] * 40
    proc = subprocess.Popen([sys.executable, "-m", "analyzer", "connections", *captures,
                             "-f", fmt, "-q"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "CI": "true",
                                                         "COLUMNS": "200"})
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert first.strip()
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
    assert stderr == ""
