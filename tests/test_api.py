"""The Python API: analyze() -> DataFrames."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import analyzer

pytestmark = pytest.mark.tshark
ROOT = Path(__file__).resolve().parents[1]


def test_connections_frame_is_typed() -> None:
    a = analyzer.analyze(ROOT / "captures/real/mixed.pcap")
    df = a.connections
    assert len(df) == 4
    assert str(df["first_ts_ns"].dtype) == "int64"
    assert str(df["first_time"].dtype) == "datetime64[ns, UTC]"
    assert isinstance(df["handshake"].dtype, pd.CategoricalDtype)
    assert list(df["handshake"].astype(str)) == ["complete", "complete", "refused", "complete"]
    assert (df["first_time"].astype("int64") == df["first_ts_ns"]).all()


def test_summary_has_rtt_percentiles() -> None:
    s = analyzer.analyze(ROOT / "captures/synthetic/syn_retransmit.pcap").summary()
    rtt = s[s["section"] == "handshake_rtt_ms"].set_index("item")["value"]
    # first SYN at t, its second retransmission at t+3 s, then SYN-ACK and ACK
    assert rtt["p50"] > 3000
