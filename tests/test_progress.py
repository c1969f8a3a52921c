"""The progress display (analyzer.progress) and the progress hooks of the readers."""

from __future__ import annotations

import io
import os
import re
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from analyzer import progress
from analyzer.api import analyze_capture
from analyzer.batch import run_batch
from analyzer.core.tracker import TrackerConfig
from analyzer.loader import LoadOptions
from analyzer.loader.native import read_native
from analyzer.progress.bars import CaptureProgress

ROOT = Path(__file__).resolve().parent.parent
LOSSY = ROOT / "captures" / "real" / "lossy_bulk.pcapng"
GZIP = ROOT / "captures" / "synthetic" / "gzip.pcap.gz"
PCAP = ROOT / "captures" / "synthetic" / "retransmission.pcap"

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=120, color_system=None,
                   legacy_windows=False), out


def _shown(out: io.StringIO) -> str:
    return ANSI.sub("", out.getvalue())


@pytest.mark.parametrize("capture", [LOSSY, GZIP], ids=["pcapng", "gzip"])
def test_bar_shows_name_percent_rate_and_completes(capture: Path) -> None:
    console, out = _console()
    with CaptureProgress([capture], console=console) as shown:
        result = analyze_capture(capture, LoadOptions(engine="native"),
                                 on_progress=shown.on_progress)
    assert result.error is None and result.engine == "native"
    text = _shown(out)
    assert capture.name in text
    assert "100%" in text
    assert re.search(r"\d+(\.\d+)?[kM]? packets/s", text), text


def test_several_captures_show_a_bar_over_all_of_them() -> None:
    console, out = _console()
    paths = [str(LOSSY), str(GZIP)]
    with CaptureProgress(paths, console=console) as shown:
        results = run_batch(paths, LoadOptions(engine="native"), TrackerConfig(), jobs=1,
                            on_progress=shown.on_progress)
    assert all(r.error is None for r in results)
    text = _shown(out)
    assert "2/2 captures" in text and LOSSY.name in text and GZIP.name in text


def test_process_pool_reports_each_capture_once_complete() -> None:
    calls: list[tuple[str, int, int, int]] = []
    paths = [str(LOSSY), str(PCAP)]
    run_batch(paths, LoadOptions(engine="native"), TrackerConfig(), jobs=2,
              on_progress=lambda *a: calls.append(a))
    assert sorted(c[0] for c in calls) == sorted(paths)
    assert all(c[1] == c[2] == os.path.getsize(c[0]) for c in calls)


def test_callback_called_often_and_bytes_reach_the_file_size(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int, int]] = []
    batches = list(read_native(str(LOSSY), on_progress=lambda *a: calls.append(a),
                               progress_every=64))
    size = LOSSY.stat().st_size
    # lossy_bulk has more than a thousand frames and a single connection that holds its
    # record until the end: the engine still hands control back every 64 frames.
    assert len(calls) > 5
    assert all(len(b) for b in batches)
    assert [c[1] for c in calls] == sorted(c[1] for c in calls)
    assert [c[3] for c in calls] == sorted(c[3] for c in calls)
    assert calls[-1][1] == calls[-1][2] == size
    plain = tmp_path / "plain.pcap"
    shutil.copy(PCAP, plain)
    calls.clear()
    list(read_native(str(plain), on_progress=lambda *a: calls.append(a), progress_every=1))
    assert len(calls) > 1
    assert calls[-1][1] == plain.stat().st_size == calls[-1][2]


def test_no_callback_no_change() -> None:
    with_cb = analyze_capture(LOSSY, LoadOptions(engine="native"), on_progress=lambda *a: None)
    without = analyze_capture(LOSSY, LoadOptions(engine="native"))
    assert with_cb.records == without.records and with_cb.packets == without.packets


def test_tshark_reports_packets_with_unknown_total() -> None:
    if shutil.which("tshark") is None:
        pytest.skip("no tshark")
    calls: list[tuple[str, int, int, int]] = []
    result = analyze_capture(LOSSY, LoadOptions(engine="tshark"),
                             on_progress=lambda *a: calls.append(a))
    assert result.error is None
    assert calls and all(c[1] == c[2] == 0 for c in calls)
    assert calls[-1][3] == result.packets
    console, out = _console()
    with CaptureProgress([LOSSY], console=console) as shown:
        for c in calls:
            shown.on_progress(*c)
    text = _shown(out)
    assert "packets/s" in text and "ETA" not in text


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert progress.enabled(False, None, _Stream(True))
    assert not progress.enabled(False, None, _Stream(False))
    assert progress.enabled(False, True, _Stream(False))
    assert not progress.enabled(False, False, _Stream(True))
    assert not progress.enabled(True, True, _Stream(True))
    monkeypatch.setenv("CI", "true")
    assert not progress.enabled(False, None, _Stream(True))
    assert progress.enabled(False, True, _Stream(True))


def test_display_disabled_yields_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "1")
    with progress.display([LOSSY]) as on_progress:
        assert on_progress is None
