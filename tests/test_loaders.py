"""The fast tshark field export and the pyshark reference loader agree, packet for packet
and record for record, on every bundled capture and every oracle capture."""

from __future__ import annotations

from pathlib import Path

import pytest
from zeek_oracle import oracle_captures

from analyzer.api import analyze_capture
from analyzer.loader import LoadOptions, LoadResult, load

pytestmark = pytest.mark.tshark
ROOT = Path(__file__).resolve().parents[1]
CAPTURES = sorted(
    p for p in (ROOT / "captures").rglob("*")
    if p.suffix in (".pcap", ".pcapng", ".gz") and p.parent.name != "bad"
) + [c.capture for c in oracle_captures()]


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_pyshark_loader_gives_identical_packets_and_records(path: Path) -> None:
    fast = list(load(str(path), LoadOptions()))
    slow = list(load(str(path), LoadOptions(loader="pyshark")))
    assert fast, "capture has TCP/UDP packets"
    assert slow == fast
    a = analyze_capture(path, LoadOptions(engine="tshark")).records
    b = analyze_capture(path, LoadOptions(loader="pyshark")).records
    assert a == b


def test_bad_checksum_seen_by_both_loaders() -> None:
    path = str(ROOT.parent / "shared/oracle/zeek/tcp-bad-checksum-syn.pcap")
    if not Path(path).exists():
        pytest.skip("../shared/oracle is not beside the project")
    for loader in ("tshark", "pyshark"):
        (p,) = load(path, LoadOptions(check_checksums=True, loader=loader))
        assert p.checksum_bad
        (q,) = load(path, LoadOptions(check_checksums=False, loader=loader))
        assert not q.checksum_bad


def test_pyshark_loader_reads_a_truncated_capture_up_to_the_cut() -> None:
    res = LoadResult()
    packets = list(load(str(ROOT / "captures/synthetic/bad/truncated.pcap"),
                        LoadOptions(loader="pyshark"), res))
    assert [p.frame for p in packets] == list(range(1, 8))
    assert res.truncated_at == 7


def test_a_status_asyncio_made_up_is_noted_and_kept_off_stderr() -> None:
    """asyncio says 255 for a child whose exit status another waitpid read first; the
    pyshark loader notes the pid (that tshark did not crash) and keeps the warning off
    stderr. Anything else asyncio logs goes through."""
    import logging

    from analyzer.loader.pyshark_loader import _LostStatus

    lost = _LostStatus()

    def record(msg: str, *args: object) -> logging.LogRecord:
        return logging.LogRecord("asyncio", logging.WARNING, __file__, 1, msg, args, None)

    assert not lost.filter(record("Unknown child process pid %d, will report returncode 255",
                                  4242))
    assert not lost.filter(record(
        "child process pid %d exit status already read:  will report returncode 255", 17))
    assert lost.filter(record("Executing %s took %.3f seconds", "task", 0.2))
    assert lost.pids == {4242, 17}
