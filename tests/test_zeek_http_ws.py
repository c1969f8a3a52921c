"""Conformance with Zeek's http.log, websocket.log, weird.log and printed WebSocket events
for the captures in ../shared/oracle."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from zeek_oracle import ORACLE, parse_conn_log

from analyzer.api import analyze_capture
from analyzer.core.records import ConnectionRecord
from analyzer.report.app import http_rows, websocket_rows

pytestmark = pytest.mark.tshark
ZEEK = ORACLE / "zeek"

#: Documented differences (README, "Zeek conformance"):
#: * ws-wstunnel-http tunnels an HTTP request inside WebSocket frames. Zeek parses it (its
#:   http.log has a second row, and the tunnelled 301 overwrites the upgrade's status);
#:   tshark does not dissect WebSocket payloads as HTTP. Only host and URI are compared.
#: * vlan-mpls carries an HTTP/0.9 exchange: the reply has no status line. Zeek logs status
#:   0; we report no status (null).
#: * Zeek's HTTP analyzer skips connections whose handshake it did not see; we report their
#:   transactions too, so rows on connections with handshake "not_seen" are left out here.
TUNNELLED = {("ws-wstunnel-http", 2)}
NO_STATUS_LINE = {("vlan-mpls", "0.9")}


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
    records = _records(name)
    ours = http_rows([r for r in records if r.handshake != "not_seen"])
    if "trans_depth" not in zeek[0]:  # a zeek-cut view: compare host and URI
        rows = [z for i, z in enumerate(zeek, 1) if (name, i) not in TUNNELLED]
        assert [(r["host"], r["target"]) for r in ours] == [(z["host"], z["uri"]) for z in rows]
        return

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
        status = None if ours_row["status"] is None else str(ours_row["status"])
        if (name, version) in NO_STATUS_LINE and status is None:
            status = "0"
        assert (ours_row["method"], ours_row["target"], ours_row["host"], status, version) == (
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
    # RFC 6455 §4.2.2: base64(SHA-1(key + GUID)), computed here independently of the engine.
    key = str(ws["sec_websocket_key"]) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
    assert base64.b64encode(hashlib.sha1(key.encode()).digest()).decode() == expected


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
            # Zeek prints status 0 for a Close frame that carries no code; we report null.
            code = int(status) if status.isdigit() and status != "0" else None
            closes.append((parts[2] == "T", code))
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
