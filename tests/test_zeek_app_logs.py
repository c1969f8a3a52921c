"""``http --format zeek`` and ``websockets --format zeek`` against Zeek's own http.log and
websocket.log of Zeek's test captures (../shared/oracle), field for field, through the CLI;
the header lines and Zeek's escaping; and conn.log's ``service``.

Compared are the fields whose meaning is Zeek's: ``uid`` (as a renaming: uids differ between
Zeek and us, so rows Zeek gives one uid must share one of ours, and ours is the connection's
conn.log uid), ``id.*`` and ``trans_depth`` (the rows are matched on them), ``method``,
``host``, ``uri``, ``referrer``, ``version``, ``user_agent``, ``origin``, ``status_code``,
``status_msg``, ``info_code``, ``info_msg`` and ``tags``; the body lengths where ours is
known (Zeek counts the body bytes it saw, we report the declared length and leave it unset
when nothing declares it). ``ts`` is masked in the baselines (``XXXXXXXXXX.XXXXXX``): only
its format is checked.

Every mismatch found is in ``DIFFERENCES`` with its reason, and every entry there is still a
mismatch (the test fails either way, so the list stays true). Zeek ran with or without
``-C``; we run with ``--check-checksums`` to match. The engine is the default one.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner
from zeek_oracle import ORACLE, OracleCapture, oracle_captures

from analyzer.cli import app
from analyzer.report import zeek

pytestmark = pytest.mark.tshark
ZEEK = ORACLE / "zeek"
runner = CliRunner()
needs_oracle = pytest.mark.skipif(not ZEEK.exists(),
                                  reason="../shared/oracle is not beside the project")

#: Compared as they are (README, "Zeek conformance").
HTTP_FIELDS = ("method", "host", "uri", "referrer", "version", "user_agent", "origin",
               "status_code", "status_msg", "info_code", "info_msg", "tags")
#: Compared where ours is known (set).
BODY_FIELDS = ("request_body_len", "response_body_len")
WS_FIELDS = ("host", "uri", "user_agent", "subprotocol", "client_protocols",
             "server_extensions", "client_extensions")
ID = ("id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p")

#: Where our logs differ from Zeek's on its captures, keyed by (capture, field); "rows" means
#: a row one side has and the other has not. README, "Zeek conformance", lists them too.
DIFFERENCES: dict[tuple[str, str], str] = {
    # 141.142.220.118:35634 -> 208.80.152.2:80 (history DdA) starts without a SYN. Zeek's HTTP
    # analyzer skips such a partial connection (TCP()->IsPartial()); we report its
    # transaction, so our http.log has a row that Zeek's has not.
    ("wikipedia", "rows"): "a transaction on a connection that starts without a SYN: Zeek "
    "does not analyze it, we report it",
    # Both pipelined responses with Content-Encoding: gzip. Zeek logs the decompressed body
    # (2675 and 21421 bytes); we log the Content-Length on the wire (946 and 6716).
    ("http-pipelined", "response_body_len"): "gzip bodies: Zeek counts the decompressed "
    "bytes, we the declared (compressed) length",
    # 10.20.80.1:50343 is HTTP/0.9: the reply has no status line. Zeek logs status 0 and its
    # placeholder reason "<empty>"; we have no status, so both are unset. (Its body ends at
    # the close, so our response_body_len is unset and not compared; Zeek counted 3429.)
    ("vlan-mpls", "status_code"): "HTTP/0.9 reply without a status line: Zeek logs 0, we "
    "leave it unset",
    ("vlan-mpls", "status_msg"): "HTTP/0.9 reply without a status line: Zeek logs "
    "'<empty>', we leave it unset",
    # conn.log's service (only http and websocket are compared: we detect no other protocol).
    # Both are connections that start without a SYN, whose HTTP request we report and Zeek's
    # HTTP analyzer skips: so ours says http and Zeek's is unset.
    ("wikipedia", "service"): "141.142.220.118:35634 starts without a SYN: Zeek does not "
    "analyze HTTP on it, we do",
    ("modbus-p502-rst", "service"): "198.74.56.135:60293 (history Dr) starts without a SYN: "
    "Zeek does not analyze HTTP on it, we do",
    # curl sends an HTTP request to an SSH server on port 22, which answers with its banner.
    # Off the HTTP ports Zeek attaches its HTTP analyzer only when both sides look like HTTP
    # (the dpd_http_client/dpd_http_server signature pair), so its service is unset; the
    # native engine finds HTTP on any port and reports the request, so ours says http.
    # (tshark decodes port 22 as SSH and finds no HTTP: with --engine tshark this
    # difference does not occur.)
    ("http-to-ssh-rstr", "service"): "an HTTP request answered by an SSH banner: Zeek's "
    "HTTP analyzer is not attached off its ports without an HTTP reply, we count the request",
}

TS = re.compile(r"^\d+\.\d{6}$")
UID = re.compile(r"^C[0-9A-Za-z]+$")


def _capture(name: str) -> OracleCapture:
    return next(c for c in oracle_captures() if c.name == name)


def _cli(command: str, name: str) -> str:
    oc = _capture(name)
    args = [command, str(oc.capture), "--format", "zeek", "-q"]
    if not oc.ignore_checksums:
        args.append("--check-checksums")
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.stdout


def _parse(text: str) -> tuple[dict[str, str], list[dict[str, str | None]]]:
    """A Zeek log (full, or a zeek-cut view whose first line names the columns): its header
    lines by name, and its rows with None for ``-``."""
    header: dict[str, str] = {}
    cols: list[str] | None = None
    rows: list[dict[str, str | None]] = []
    for line in text.splitlines():
        if line.startswith("###") or not line.strip():
            continue
        if line.startswith("#"):
            name = re.split(r"[\t ]", line, maxsplit=1)[0]
            header[name] = line
            if name == "#fields":
                cols = line.split("\t")[1:]
            continue
        parts = line.split("\t")
        if cols is None:
            cols = parts
            continue
        assert len(parts) == len(cols), line
        rows.append({k: (None if v == "-" else v) for k, v in zip(cols, parts, strict=True)})
    return header, rows


def _documented(name: str) -> set[str]:
    return {field for capture, field in DIFFERENCES if capture == name}


def _cases(suffix: str, full: bool | None = None) -> list[str]:
    names = []
    for path in sorted(ZEEK.glob("*" + suffix)):
        has_fields = any(ln.startswith("#fields") for ln in path.read_text().splitlines())
        if full is None or has_fields == full:
            names.append(path.name.removesuffix(suffix))
    return names


def _conn_uids(name: str) -> dict[tuple[str | None, ...], set[str | None]]:
    """Our conn.log's uids by 4-tuple (a 4-tuple can be reused)."""
    _, rows = _parse(_cli("connections", name))
    out: dict[tuple[str | None, ...], set[str | None]] = {}
    for r in rows:
        out.setdefault(tuple(r[c] for c in ID), set()).add(r["uid"])
    return out


def _compare(name: str, zeek_rows: Sequence[dict[str, str | None]],
             our_rows: Sequence[dict[str, str | None]], key: tuple[str, ...],
             fields: Sequence[str], body: Sequence[str] = ()) -> None:
    """Match rows on ``key``; every mismatch (field, row, Zeek's, ours) must be documented in
    ``DIFFERENCES`` for this capture, and every documented one must occur."""
    assert our_rows, f"{name}: no rows"
    for r in our_rows:
        assert TS.match(str(r["ts"])), f"{name}: ts {r['ts']!r}"
        assert UID.match(str(r["uid"])), f"{name}: uid {r['uid']!r}"
    for z in zeek_rows:
        assert z["ts"] == "XXXXXXXXXX.XXXXXX"  # masked: nothing more to compare

    def by_key(rows: Sequence[dict[str, str | None]]
               ) -> dict[tuple[str | None, ...], dict[str, str | None]]:
        out = {tuple(r[c] for c in key): r for r in rows}
        assert len(out) == len(rows), f"{name}: rows share a key"
        return out

    zk, ok = by_key(zeek_rows), by_key(our_rows)
    found: list[tuple[str, object, object, object]] = [
        ("rows", k, k in zk, k in ok) for k in sorted(zk.keys() ^ ok.keys(), key=str)]
    renamed: dict[str | None, str | None] = {}
    for k in sorted(zk.keys() & ok.keys(), key=str):
        z, o = zk[k], ok[k]
        for field in fields:
            if z.get(field) != o.get(field):
                found.append((field, k, z.get(field), o.get(field)))
        for field in body:
            if o.get(field) is not None and z.get(field) != o.get(field):
                found.append((field, k, z.get(field), o.get(field)))
        if renamed.setdefault(z["uid"], o["uid"]) != o["uid"]:
            found.append(("uid", k, z["uid"], o["uid"]))
    if len(set(renamed.values())) != len(renamed):
        found.append(("uid", "two Zeek uids are one of ours", renamed, None))
    conn_uids = _conn_uids(name)
    for k, o in ok.items():
        assert o["uid"] in conn_uids.get(k[:4], set()), f"{name}: {k} not our conn.log's uid"
    observed = {f[0] for f in found}
    undocumented = [f for f in found if (name, f[0]) not in DIFFERENCES]
    assert not undocumented, f"{name}: undocumented differences (field, row, zeek, ours): " \
        f"{undocumented}"
    documented = _documented(name) & {"rows", "uid", *fields, *body}
    assert observed == documented, \
        f"{name}: documented differences that no longer occur: {documented - observed}"


@needs_oracle
@pytest.mark.parametrize("name", _cases(".http.log", full=True))
def test_http_log_equals_zeeks(name: str) -> None:
    _, zeek_rows = _parse((ZEEK / f"{name}.http.log").read_text())
    _, ours = _parse(_cli("http", name))
    _compare(name, zeek_rows, ours, (*ID, "trans_depth"), HTTP_FIELDS, BODY_FIELDS)
    # What we do not parse stays unset, as the README says.
    for r in ours:
        assert all(r[c] is None for c in ("username", "password", "proxied", "orig_fuids",
                                          "orig_filenames", "orig_mime_types", "resp_fuids",
                                          "resp_filenames", "resp_mime_types")), r


@needs_oracle
@pytest.mark.parametrize("name", _cases(".websocket.log"))
def test_websocket_log_equals_zeeks(name: str) -> None:
    """Full logs and zeek-cut views (a first line of column names) alike: every column the
    baseline has."""
    _, zeek_rows = _parse((ZEEK / f"{name}.websocket.log").read_text())
    _, ours = _parse(_cli("websockets", name))
    fields = [c for c in WS_FIELDS if c in zeek_rows[0]]
    assert fields == list(WS_FIELDS)
    _compare(name, zeek_rows, ours, ID, fields)


@needs_oracle
@pytest.mark.parametrize(("command", "log"), [("http", "http"), ("websockets", "websocket")])
def test_header_lines_equal_zeeks(command: str, log: str) -> None:
    """#fields and #types exactly as Zeek writes them, and the other header lines (Zeek's
    #open/#close times are masked in the baselines)."""
    names = _cases(f".{log}.log", full=True)
    assert names
    for name in names:
        want, _ = _parse((ZEEK / f"{name}.{log}.log").read_text())
        got, _ = _parse(_cli(command, name))
        for line in ("#separator", "#set_separator", "#empty_field", "#unset_field", "#path",
                     "#fields", "#types"):
            assert got[line] == want[line], (name, line)
        for line in ("#open", "#close"):
            assert want[line] == f"{line} XXXX-XX-XX-XX-XX-XX"
            assert re.fullmatch(line + r"\t\d{4}(-\d\d){5}", got[line]), got[line]
        assert list(got) == list(want)


def test_values_are_escaped_as_zeek_escapes_them() -> None:
    """Zeek's ASCII writer (LogAscii::enable_utf_8 on, its default): control bytes (the tab
    separator, a newline), a backslash and bytes that are not UTF-8 as \\xNN; valid UTF-8
    as is; a ``,`` inside a vector item as \\x2c; a value that reads as ``-`` or ``(empty)``
    with its first byte escaped; an empty string or vector as ``(empty)``."""
    row = {"uid": "CabcDEF0123456789", "client_ip": "10.0.0.1", "client_port": 40000,
           "server_ip": "10.0.0.2", "server_port": 80, "trans_depth": 1,
           "request_ts": 1700000000.5, "method": "GET", "target": "/a\tb\nc\\d",
           "host": "h\u00e9st", "request_version": "1.1",
           "user_agent": "bad\udcffbyte\x7f\x00", "referrer": "-", "origin": "(empty)",
           "request_body_len": 0, "status": 200, "reason": "", "response_version": "1.1",
           "response_body_len": None, "info_code": None}
    buf = io.StringIO()
    zeek.write_http_log([row], buf)
    (line,) = [ln for ln in buf.getvalue().splitlines() if not ln.startswith("#")]
    got = dict(zip(zeek.HTTP_LOG_COLUMNS, line.split("\t"), strict=True))
    assert got["ts"] == "1700000000.500000"
    assert got["uri"] == "/a\\x09b\\x0ac\\x5cd"
    assert got["host"] == "h\u00e9st"
    assert got["user_agent"] == "bad\\xffbyte\\x7f\\x00"
    assert got["referrer"] == "\\x2d"
    assert got["origin"] == "\\x28empty)"
    assert got["status_msg"] == "<empty>"  # a status line without a reason phrase
    assert (got["response_body_len"], got["info_code"], got["info_msg"]) == ("-", "-", "-")
    assert got["tags"] == "(empty)"
    assert got["id.orig_p"] == "40000" and got["trans_depth"] == "1"

    ws = {"uid": "CabcDEF0123456789", "client_ip": "10.0.0.1", "client_port": 40000,
          "server_ip": "10.0.0.2", "server_port": 80, "request_ts": 1.0, "response_ts": 2.0,
          "request_target": "/", "host": "h", "user_agent": None, "subprotocol": "",
          "status": 101, "problems": [], "response_frame": 4,
          "offered_subprotocols": ["a,b", "c\td"], "offered_extensions": [],
          "extensions": ["x"]}
    buf = io.StringIO()
    zeek.write_websocket_log([ws, {**ws, "status": 400}], buf)
    (line,) = [ln for ln in buf.getvalue().splitlines() if not ln.startswith("#")]
    got = dict(zip(zeek.WS_LOG_COLUMNS, line.split("\t"), strict=True))
    assert got["ts"] == "2.000000"  # the 101's time, when Zeek logs the upgrade
    assert got["client_protocols"] == "a\\x2cb,c\\x09d"
    assert got["server_extensions"] == "x"
    assert got["client_extensions"] == "-"  # not offered: unset, as in Zeek
    assert (got["subprotocol"], got["user_agent"]) == ("(empty)", "-")


def _expect_100_capture(path: Path, user_agent: bytes) -> None:
    """A POST with Referer, Origin and ``Expect: 100-continue``, answered 100 then 200."""
    from scapy.all import IP, TCP, Ether, Raw, wrpcap

    client, server = ("10.0.0.1", 40000), ("10.0.0.2", 80)
    seq = {True: 1000, False: 5000}
    packets = []

    def send(from_client: bool, flags: str, payload: bytes = b"") -> None:
        (src, sport), (dst, dport) = (client, server) if from_client else (server, client)
        p = Ether() / IP(src=src, dst=dst) / TCP(
            sport=sport, dport=dport, flags=flags, seq=seq[from_client],
            ack=seq[not from_client] if "A" in flags else 0)
        if payload:
            p = p / Raw(payload)
        p.time = 1700000000 + len(packets) / 1000
        packets.append(p)
        seq[from_client] += len(payload) + (1 if ("S" in flags or "F" in flags) else 0)

    send(True, "S")
    send(False, "SA")
    send(True, "A")
    send(True, "PA", b"POST /up HTTP/1.1\r\nHost: example.com\r\nUser-Agent: " + user_agent
         + b"\r\nReferer: http://example.com/form\r\nOrigin: http://example.com\r\n"
         b"Expect: 100-continue\r\nContent-Length: 4\r\n\r\n")
    send(False, "PA", b"HTTP/1.1 100 Continue\r\n\r\n")
    send(True, "PA", b"abcd")
    send(False, "PA", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    send(True, "FA")
    send(False, "FA")
    send(True, "A")
    wrpcap(str(path), packets)


def test_interim_response_referrer_origin_and_escaping_end_to_end(tmp_path: Path) -> None:
    """Through the CLI: a 100 Continue is Zeek's info_code/info_msg of the transaction it
    precedes; Referer and Origin are referrer and origin; a tab and a backslash in a header
    are escaped, valid UTF-8 is not; and conn.log says http."""
    capture = tmp_path / "expect_100.pcap"
    _expect_100_capture(capture, "caf\u00e9\tb\\c".encode())
    result = runner.invoke(app, ["http", str(capture), "--format", "zeek", "-q"])
    assert result.exit_code == 0, result.output
    header, (row,) = _parse(result.stdout)
    assert header["#path"] == "#path\thttp"
    assert {k: row[k] for k in ("method", "uri", "host", "referrer", "origin", "version",
                                "status_code", "status_msg", "info_code", "info_msg",
                                "request_body_len", "response_body_len", "user_agent")} == {
        "method": "POST", "uri": "/up", "host": "example.com",
        "referrer": "http://example.com/form", "origin": "http://example.com",
        "version": "1.1", "status_code": "200", "status_msg": "OK", "info_code": "100",
        "info_msg": "Continue", "request_body_len": "4", "response_body_len": "2",
        "user_agent": "caf\u00e9\\x09b\\x5cc"}
    result = runner.invoke(app, ["connections", str(capture), "--format", "zeek", "-q"])
    assert result.exit_code == 0, result.output
    assert [r["service"] for r in _parse(result.stdout)[1]] == ["http"]


@needs_oracle
@pytest.mark.parametrize(("name", "service"), [("ws-jupyter", "http,websocket"),
                                               ("http-get", "http")])
def test_conn_log_service(name: str, service: str) -> None:
    _, zeek_rows = _parse((ZEEK / f"{name}.conn.log").read_text())
    _, ours = _parse(_cli("connections", name))
    assert [r["service"] for r in zeek_rows] == [service]
    assert [r["service"] for r in ours if r["proto"] == "tcp"] == [service]


def _ours_of(service: str | None) -> str | None:
    """Zeek's service as far as we detect protocols: http and websocket only."""
    kept = [s for s in (service or "").split(",") if s in ("http", "websocket")]
    return ",".join(kept) or None


@needs_oracle
@pytest.mark.parametrize("oc", [c for c in oracle_captures() if c.conn_log],
                         ids=lambda c: c.name)
def test_conn_log_service_equals_zeeks_http_and_websocket(oc: OracleCapture) -> None:
    assert oc.conn_log is not None
    _, zeek_rows = _parse(oc.conn_log.read_text())
    if "service" not in zeek_rows[0]:
        pytest.skip("the baseline has no service column")
    _, ours = _parse(_cli("connections", oc.name))
    cols = [c for c in ("proto", *ID) if c in zeek_rows[0]]

    def grouped(rows: list[dict[str, str | None]]) -> dict[tuple[str | None, ...],
                                                           list[str]]:
        out: dict[tuple[str | None, ...], list[str]] = {}
        for r in rows:
            if r.get("proto", "tcp") == "tcp":
                out.setdefault(tuple(r[c] for c in cols), []).append(
                    _ours_of(r["service"]) or "-")
        return {k: sorted(v) for k, v in out.items()}

    want, got = grouped(zeek_rows), grouped(ours)
    differ = sorted((k, want.get(k), got.get(k)) for k in want.keys() | got.keys()
                    if want.get(k) != got.get(k))
    if (oc.name, "service") in DIFFERENCES:
        assert differ, f"{oc.name}: the documented service difference no longer occurs"
    else:
        assert not differ, f"{oc.name}: (connection, zeek, ours): {differ}"


def test_documented_differences_name_real_cases() -> None:
    captures = {c.name for c in oracle_captures()} if ZEEK.exists() else set()
    for capture, field in DIFFERENCES:
        assert field in (*HTTP_FIELDS, *BODY_FIELDS, *WS_FIELDS, "uid", "rows", "service")
        if captures:
            assert capture in captures, capture
