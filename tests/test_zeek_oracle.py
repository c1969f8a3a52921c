"""Conformance with Zeek: conn_state, history, the packet and byte counts, the duration and
tunnel_parents must equal Zeek's own output for every connection of every capture in
../shared/oracle (MANIFEST.tsv and zeek-tunnels/MANIFEST.tsv).

Zeek ran with or without ``-C`` (ignore checksums); we run with checksum checking to match.
Both engines are held to it.
"""

from __future__ import annotations

import pytest
from zeek_oracle import (
    COMPARED,
    OracleCapture,
    group_rows,
    name_parents,
    oracle_captures,
    parse_conn_log,
    parse_history_state,
)

from analyzer.api import analyze_capture
from analyzer.core.tracker import TrackerConfig
from analyzer.loader import LoadOptions
from analyzer.report.zeek import zeek_rows

pytestmark = pytest.mark.tshark

CASES = [c for c in oracle_captures() if c.conn_log or c.history_state]


def _ours(oc: OracleCapture, engine: str) -> list[dict[str, str | None]]:
    check = not oc.ignore_checksums
    result = analyze_capture(oc.capture, LoadOptions(check_checksums=check, engine=engine),
                             TrackerConfig(check_checksums=check))
    assert result.error is None
    assert result.engine == engine
    return zeek_rows(result.records)


@pytest.mark.skipif(not CASES, reason="../shared/oracle is not beside the project")
@pytest.mark.parametrize("engine", ["native", "tshark"])
@pytest.mark.parametrize("oc", CASES, ids=lambda c: c.name)
def test_conn_log_equals_zeek(oc: OracleCapture, engine: str) -> None:
    ours = _ours(oc, engine)
    if oc.history_state is not None:
        history, state = parse_history_state(oc.history_state)
        assert [(r["history"], r["conn_state"]) for r in ours] == [(history, state)]
        return
    assert oc.conn_log is not None
    zeek = parse_conn_log(oc.conn_log)
    cols = tuple(c for c in COMPARED if c in zeek[0])
    assert "history" in cols
    if "id.orig_h" not in zeek[0]:  # a zeek-cut view without the endpoints
        assert sorted(tuple(r.get(c) for c in cols) for r in ours) == sorted(
            tuple(r.get(c) for c in cols) for r in zeek)
        return
    assert group_rows(name_parents(ours), cols) == group_rows(name_parents(zeek), cols)


def test_oracle_covers_every_conn_state_family_and_every_tunnel() -> None:
    states = set()
    for oc in CASES:
        if oc.conn_log:
            states |= {r.get("conn_state") for r in parse_conn_log(oc.conn_log)}
    assert {"S0", "S1", "SF", "REJ", "RSTO", "RSTR", "RSTRH", "SH", "SHR", "OTH"} <= states
    names = {oc.name for oc in CASES}
    assert {"vxlan", "geneve", "gre-sample", "gtp-inner-ipv6", "teredo"} <= names
