"""tshark's session reset (``-M``) bounds its memory; the records must not change.

With a reset every few packets, every HTTP message and WebSocket session of the bundled
captures is cut by some reset: the connections open across one are read again without
resets, and frame numbers carry on across the resets.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.api import analyze_capture
from analyzer.loader import LoadOptions
from analyzer.loader.tshark import SESSION_RESET, spans_reset, tshark_args

pytestmark = pytest.mark.tshark
ROOT = Path(__file__).resolve().parents[1]
CAPTURES = sorted(
    p for d in ("real", "ws", "ws_synthetic") for p in (ROOT / "captures" / d).glob("*.pcap*")
)


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_records_do_not_change_with_session_resets(capture: Path) -> None:
    plain = analyze_capture(capture, LoadOptions(session_reset=0))
    reset = analyze_capture(capture, LoadOptions(session_reset=7))
    assert plain.error is None and plain.records
    assert reset.records == plain.records
    assert (reset.status, reset.packets) == (plain.status, plain.packets)


def test_a_reset_cuts_http_and_websocket_without_a_second_look() -> None:
    """Without the second look the resets do lose application data: the check above is
    not vacuous."""
    from analyzer.api import _analyze_once

    capture = ROOT / "captures/ws/ws_text_binary.pcapng"
    plain = _analyze_once(capture, LoadOptions(session_reset=0), None)[0].records
    cut = _analyze_once(capture, LoadOptions(session_reset=7), None)[0].records
    assert [r.first_frame for r in cut] == [r.first_frame for r in plain]
    assert [r.last_frame for r in cut] == [r.last_frame for r in plain]  # renumbered
    assert cut != plain


def test_resets_are_asked_of_tshark_only_where_they_are_safe() -> None:
    path = str(ROOT / "captures/real/http10.pcapng")
    assert LoadOptions().session_reset == SESSION_RESET == 100_000
    args = tshark_args(path, LoadOptions(session_reset=500))
    assert args[args.index("-M") + 1] == "500"
    assert "-M" not in tshark_args(path, LoadOptions(session_reset=0))
    # a display filter selects connections afterwards: the export has every packet, so
    # resets are as safe as without it (and tshark is not given the filter)
    args = tshark_args(path, LoadOptions(session_reset=500, display_filter="tcp"))
    assert args[args.index("-M") + 1] == "500" and "-Y" not in args
    assert LoadOptions(session_reset=500, loader="pyshark").resets == 0


@pytest.mark.parametrize(("first", "last", "every", "spans"), [
    (1, 100, 100, False), (100, 101, 100, True), (101, 200, 100, False),
    (50, 250, 100, True), (1, 1, 0, False),
])
def test_spans_reset(first: int, last: int, every: int, spans: bool) -> None:
    assert spans_reset(first, last, every) is spans
