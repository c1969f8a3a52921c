"""The port is exact: both engines reproduce every golden record, field for field.

The golden files (tests/golden/conn/, written by tests/golden/record.py before the engine
existed, with tshark's dissection and the Python core) hold ``connections --format jsonl``
and ``--format zeek`` for every capture in captures/ and ../shared/oracle/. Fields added
since (``tunnel_parents``, conn.log's ``tunnel_parents`` and ``ip_proto``) are not in them,
and conn.log's ``service`` column, unset in 0.1, is now filled in (compared with Zeek's in
tests/test_zeek_app_logs.py).

Where the golden output was wrong, the engines now differ from it, and only there; each
such capture is listed in ``FIXED`` with the reason (the README lists them too).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from engines import NATIVE_ONLY_ANOMALY

from analyzer.api import analyze_capture
from analyzer.loader import LoadOptions
from analyzer.report.writers import write_jsonl
from analyzer.report.zeek import write_conn_log

pytestmark = pytest.mark.tshark

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden" / "conn"
ORACLE = ROOT.parent / "shared" / "oracle"
APP_FIELDS = ("http_requests", "http_responses", "websocket")

#: Captures whose golden records were wrong, and why (README, "What changed from 0.1's
#: records"). Both engines now give Zeek's rows for them (the oracle test checks).
FIXED: dict[str, str] = {
    "oracle/zeek-tunnels/vxlan.pcap": "a flow was built from the inner addresses and the "
    "outer ports; now the outer UDP flows and the inner ICMP flow, as Zeek reports them",
    "oracle/zeek-tunnels/geneve.pcap": "same as vxlan: a 5-tuple from two layers",
    "oracle/zeek-tunnels/gre-sample.pcap": "ICMP rows were missing",
    "oracle/zeek-tunnels/gtp-inner-ipv6.pcap": "the outer GTP-U flow and the ICMPv6 rows "
    "were missing",
    "oracle/zeek-tunnels/teredo.pcap": "the outer Teredo flows and the ICMPv6 rows were "
    "missing",
}

#: Connections where the native engine's HTTP counts differ from 0.1's (tshark's), and
#: what it reports instead (README, "Where the engines differ"): (http_requests,
#: http_responses, websocket) by uid.
NATIVE_APP: dict[str, dict[str, tuple[int, int, bool]]] = {
    # A GET sent to an SSH server: tshark decodes port 22 as SSH only.
    "oracle/zeek/http-to-ssh-rstr.pcap": {"CjVuSagTl7p9UvfxHe": (1, 0, False)},
    # An HTTP/0.9 exchange: tshark does not see the head-less response; Zeek logs it.
    "oracle/zeek/vlan-mpls.pcap": {"C8W1RAd3Vx5KyLm0z2": (1, 1, False)},
}


def _capture_path(name: str) -> Path:
    if name.startswith("oracle/"):
        return ORACLE / name.removeprefix("oracle/")
    return ROOT / "captures" / name


def golden_names() -> list[str]:
    names = sorted(str(p.relative_to(GOLDEN)).removesuffix(".jsonl")
                   for p in GOLDEN.rglob("*.jsonl"))
    return [n for n in names if _capture_path(n).exists()]


def _ours(name: str, engine: str) -> tuple[list[dict[str, object]], list[dict[str, str]]]:
    path = _capture_path(name)
    result = analyze_capture(path, LoadOptions(engine=engine))
    assert result.error is None, result.error
    from io import StringIO

    buf = StringIO()
    write_jsonl(result.records, buf)
    rows = [json.loads(line) for line in buf.getvalue().splitlines()]
    for row in rows:
        row["anomalies"] = [a for a in row["anomalies"] if not NATIVE_ONLY_ANOMALY.match(a)]
    zbuf = StringIO()
    write_conn_log(result.records, zbuf)
    return rows, _conn_rows(zbuf.getvalue())


def _conn_rows(text: str) -> list[dict[str, str]]:
    cols: list[str] = []
    rows = []
    for line in text.splitlines():
        if line.startswith("#fields"):
            cols = line.split("\t")[1:]
        elif line and not line.startswith("#"):
            rows.append(dict(zip(cols, line.split("\t"), strict=True)))
    return rows


def _golden(name: str) -> tuple[list[dict[str, object]], list[dict[str, str]]]:
    lines = (GOLDEN / f"{name}.jsonl").read_text().splitlines()
    return [json.loads(x) for x in lines], _conn_rows((GOLDEN / f"{name}.conn.log").read_text())


def _project(rows: list[dict[str, object]], keys: list[str]) -> list[dict[str, object]]:
    return [{k: r.get(k) for k in keys} for r in rows]


@pytest.mark.parametrize("engine", ["native", "tshark"])
@pytest.mark.parametrize("name", golden_names())
def test_engine_reproduces_golden_records(name: str, engine: str) -> None:
    if name in FIXED:
        pytest.skip(f"golden was wrong: {FIXED[name]}")
    want, want_zeek = _golden(name)
    got, got_zeek = _ours(name, engine)
    keys = [k for k in (want[0] if want else {}) if k != "capture"]
    if engine == "native" and name in NATIVE_APP:
        keys = [k for k in keys if k not in APP_FIELDS]
        by_uid = {r["uid"]: r for r in got}
        want_app = NATIVE_APP[name]
        assert {u: tuple(by_uid[u][k] for k in APP_FIELDS) for u in want_app} == want_app
    assert _project(got, keys) == _project(want, keys)
    zkeys = [k for k in (want_zeek[0] if want_zeek else {}) if k != "service"]
    assert _project(got_zeek, zkeys) == _project(want_zeek, zkeys)  # type: ignore[arg-type]


def test_every_bundled_capture_has_a_golden_file() -> None:
    names = set(golden_names())
    assert len(names) >= 90
    assert {"real/mixed.pcap", "synthetic/gzip.pcap.gz", "oracle/zeek/http-get.pcap"} <= names
