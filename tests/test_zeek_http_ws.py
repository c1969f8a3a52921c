"""Conformance with Zeek's http.log, websocket.log, weird.log and printed WebSocket events
for the captures in ../shared/oracle."""

from __future__ import annotations

from pathlib import Path

import pytest
from zeek_oracle import ORACLE, parse_conn_log

from analyzer.api import analyze_capture
from analyzer.core.records import ConnectionRecord
from analyzer.report.app import http_rows, websocket_rows

pytestmark = pytest.mark.tshark
ZEEK = ORACLE / "zeek"

#: http.log rows Zeek writes for HTTP carried *inside* WebSocket frames (wstunnel): tshark
#: does not dissect WebSocket payloads as HTTP, so these rows are out of our reach.
TUNNELLED = {("ws-wstunnel-http", 2)}


def _records(name: str) -> list[ConnectionRecord]:
    path = next(p for p in ZEEK.glob(name + ".pcap*"))
    result = analyze_capture(path)
    assert result.error is None
    return result.records


def _cases(suffix: str) -> list[str]:
    return sorted(p.name.removesuffix(suffix) for p in ZEEK.glob("*" + suffix))


@pytest.mark.skipif(not ZEEK.exists(), reason="../shared/oracle is not beside the project")
@pytest.mark.parametrize("name", _cases(".http.log"))
def test_http_log_rows_equal_zeek(name: str) -> None:
    zeek = parse_conn_log(ZEEK / f"{name}.http.log")
    ours = http_rows(_records(name))

    def key(r: dict[str, object]) -> tuple[object, ...]:
        return (r["id.orig_h"], r["id.orig_p"], r["id.resp_h"], r["id.resp_p"], r["trans_depth"])

    got = {(r["client_ip"], str(r["client_port"]), r["server_ip"], str(r["server_port"]),
            str(r["trans_depth"])): r for r in ours}
    for z in zeek:
        if (name, int(str(z["trans_depth"]))) in TUNNELLED:
            continue
        ours_row = got.get(key(z))  # type: ignore[arg-type]
        assert ours_row is not None, f"{name}: no transaction for {key(z)}"
        version = ours_row["response_version"] or ours_row["request_version"]
        assert (ours_row["method"], ours_row["target"], ours_row["host"],
                None if ours_row["status"] is None else str(ours_row["status"]), version) == (
            z["method"], z["uri"], z["host"], z["status_code"], z["version"]), name
    assert len(ours) == len([z for z in zeek if (name, int(str(z["trans_depth"])))
                             not in TUNNELLED])


@pytest.mark.skipif(not ZEEK.exists(), reason="../shared/oracle is not beside the project")
@pytest.mark.parametrize("name", _cases(".websocket.log"))
def test_websocket_log_rows_equal_zeek(name: str) -> None:
    zeek = parse_conn_log(ZEEK / f"{name}.websocket.log")
    ours = [r for r in websocket_rows(_records(name)) if r["status"] == 101]
    assert len(ours) == len(zeek)

    def norm(r: dict[str, object]) -> tuple[object, ...]:
        return tuple(r.values())

    want = sorted(norm({
        "orig": (z["id.orig_h"], z["id.orig_p"]), "host": z["host"], "uri": z["uri"],
        "ua": z["user_agent"], "sub": z["subprotocol"],
        "cp": z["client_protocols"] or "", "ce": z.get("client_extensions") or "",
        "se": z.get("server_extensions") or "",
    }) for z in zeek)
    got = sorted(norm({
        "orig": (r["client_ip"], str(r["client_port"])), "host": r["host"],
        "uri": r["request_target"], "ua": r["user_agent"], "sub": r["subprotocol"],
        "cp": ",".join(r["offered_subprotocols"]),  # type: ignore[arg-type]
        "ce": ",".join(r["offered_extensions"]),  # type: ignore[arg-type]
        "se": ",".join(r["extensions"]),  # type: ignore[arg-type]
    }) for r in ours)
    assert got == want


@pytest.mark.skipif(not ZEEK.exists(), reason="../shared/oracle is not beside the project")
def test_wrong_accept_matches_zeeks_weird() -> None:
    weird = parse_conn_log(ZEEK / "ws-wrong-accept.weird.log")
    (w,) = [x for x in weird if x["name"] == "websocket_wrong_accept_header"]
    (ws,) = websocket_rows(_records("ws-wrong-accept"))
    expected = str(w["addl"]).split("expected=")[1].split(",")[0]
    found = str(w["addl"]).split("found=")[1]
    assert ws["sec_websocket_accept"] == found
    assert ws["accept_valid"] is False and ws["established"] is False
    assert ws["problems"] == [{"problem": "wrong_accept", "frame": ws["response_frame"]}]
    from analyzer.core.websocket import expected_accept
    assert expected_accept(str(ws["sec_websocket_key"])) == expected


def _events(path: Path) -> tuple[dict[bool, dict[str, int]], list[tuple[bool, int | None]]]:
    frames: dict[bool, dict[str, int]] = {True: {}, False: {}}
    closes: list[tuple[bool, int | None]] = []
    for line in path.read_text().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if parts[0] == "websocket_frame":
            is_orig = parts[2] == "T"
            op = parts[parts.index("opcode") + 1]
            frames[is_orig][op] = frames[is_orig].get(op, 0) + 1
        elif parts[0] == "websocket_close":
            status = parts[parts.index("status") + 1]
            closes.append((parts[2] == "T", int(status) if status.isdigit() else None))
    return frames, closes


@pytest.mark.skipif(not ZEEK.exists(), reason="../shared/oracle is not beside the project")
@pytest.mark.parametrize("name", _cases(".websocket_events.txt"))
def test_frame_counts_and_close_codes_equal_zeeks_events(name: str) -> None:
    frames, closes = _events(ZEEK / f"{name}.websocket_events.txt")
    (ws,) = [r for r in websocket_rows(_records(name)) if r["status"] == 101]
    ours = {True: {k: v for k, v in ws["frames_c2s"].items() if v},  # type: ignore[union-attr]
            False: {k: v for k, v in ws["frames_s2c"].items() if v}}  # type: ignore[union-attr]
    assert ours == frames
    if closes:
        by_orig, code = closes[0]
        assert ws["close_by"] == ("client" if by_orig else "server")
        assert ws["close_code"] == code
        if len(closes) > 1:
            assert ws["reply_close_code"] == closes[1][1]
