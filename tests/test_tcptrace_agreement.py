"""TCP health against tcptrace (``tcptrace -n -l -r --csv``), an independent
implementation: every capture in the repository and the oracle that tcptrace reads.

Connections are matched by endpoints and first packet. Where tcptrace and Zeek draw a
connection's boundaries differently (tcptrace keeps one connection across a 4-tuple's
reuse that Zeek splits, and decodes neither MPLS nor tunnels), the packet counts differ
and the connection is not compared; those captures are listed in ``SPLIT_DIFFERENTLY``.
The deliberate differences (README, "TCP health") each have their own test below.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from analyzer.api import analyze_capture
from analyzer.loader import LoadOptions

sys.path.insert(0, str(Path(__file__).parent))
import tcptrace
from zeek_oracle import oracle_captures

pytestmark = pytest.mark.skipif(not tcptrace.available(), reason="tcptrace not installed")

ROOT = Path(__file__).resolve().parents[1]
CAPTURES = sorted(
    p for p in (ROOT / "captures").rglob("*")
    if p.is_file() and p.name.endswith((".pcap", ".pcapng")) and p.parent.name != "bad"
) + [c.capture for c in oracle_captures()]

#: Captures where tcptrace and Zeek split connections differently (so some records have no
#: tcptrace connection with the same packets): a 4-tuple reused after a RST or a long
#: silence (tcptrace keeps one connection), MPLS and tunnels (tcptrace decodes neither).
SPLIT_DIFFERENTLY = {"pop3-rej.pcap", "ssh-half-duplex-client.pcap", "modbus-p502-rst.pcap",
                     "vlan-mpls.pcap", "teredo.pcap"}
#: tcptrace keeps the MSS in a signed 16-bit field: above 32767 it prints 2^32 - (2^16 - x).
MSS_SIGNED = 32767


def _records(path: Path) -> list[dict[str, Any]]:
    res = analyze_capture(path, LoadOptions(engine="native"))
    return [r.to_dict() for r in res.records if r.proto == "tcp"]


def _closed(conn: tcptrace.Conn) -> bool:
    """Did tcptrace see the connection closed (two FINs, or a RST)? Only then is its
    idle time between segments (README: tcptrace runs an open one to the capture's end)."""
    fins = sum(int(conn.value("SYN/FIN_pkts_sent", ab).split("/")[1]) for ab in ("a2b", "b2a"))
    resets = sum(int(conn.value("resets_sent", ab)) for ab in ("a2b", "b2a"))
    return fins >= 2 or resets > 0


def _ms(value: float | None) -> float:
    return 0.0 if value is None else value * 1000


def _compare(rec: dict[str, Any], conn: tcptrace.Conn, ways: dict[str, str]) -> list[str]:
    """Every figure of ``rec`` that tcptrace prints differently."""
    out = []
    for way, ab in ways.items():
        acker = "b2a" if ab == "a2b" else "a2b"
        fin_rst = (int(conn.value("SYN/FIN_pkts_sent", acker).split("/")[1])
                   + int(conn.value("resets_sent", acker)))
        for ours, theirs in tcptrace.COUNTS.items():
            value = rec[f"{ours}_{way}"] or 0
            if ours in ("dup_acks", "triple_dup_acks"):
                # tcptrace also counts a FIN or RST that repeats the ACK (README).
                if not 0 <= int(conn.value(theirs, ab)) - value <= fin_rst:
                    out.append(f"{ours}_{way}={value} tcptrace {conn.value(theirs, ab)}")
                continue
            if value != int(conn.value(theirs, ab)):
                out.append(f"{ours}_{way}={value} tcptrace {theirs}={conn.value(theirs, ab)}")
        samples = int(conn.value("RTT_samples", ab))
        for ours, theirs in tcptrace.MILLISECONDS.items():
            printed = conn.value(theirs, ab)
            if printed == "NA" or (ours == "rtt_stdev_s" and samples <= 2):
                continue  # tcptrace prints 0 below three samples (README)
            if ours == "idle_max_s" and (not _closed(conn)
                                         or float(printed) > rec["duration_s"] * 1000 + 0.1):
                # tcptrace ran the idle time past the connection (README): ours is shorter.
                if _ms(rec[f"{ours}_{way}"]) > float(printed) + 0.0505:
                    out.append(f"{ours}_{way} above tcptrace's {printed}")
                continue
            mine = _ms(rec[f"{ours}_{way}"])
            if ours == "rtt_avg_s":
                mine *= samples / (samples + 0.0001)  # tcptrace's Average() divides so
            # Printed with one decimal of a millisecond: within half of it (and a hair for
            # tcptrace's microsecond clock).
            if abs(mine - float(printed)) > 0.0505:
                out.append(f"{ours}_{way}={_ms(rec[f'{ours}_{way}']):.4f}ms "
                           f"tcptrace {theirs}={printed}")
        mss = rec[f"mss_{way}"]
        if mss is not None and mss <= MSS_SIGNED and int(conn.value("mss_requested", ab)) != mss:
            out.append(f"mss_{way}={mss} tcptrace {conn.value('mss_requested', ab)}")
        ws_ts = conn.value("req_1323_ws/ts", ab).split("/")
        if rec[f"timestamps_{way}"] is not None and rec[f"timestamps_{way}"] != (ws_ts[1] == "Y"):
            out.append(f"timestamps_{way}={rec[f'timestamps_{way}']} tcptrace {ws_ts[1]}")
        sack = rec[f"sack_permitted_{way}"]
        if sack is not None and sack != (conn.value("req_sack", ab) == "Y"):
            out.append(f"sack_permitted_{way}={sack} tcptrace {conn.value('req_sack', ab)}")
        both_scale = all(rec[f"window_scale_{w}"] is not None for w in ("c2s", "s2c"))
        if both_scale and rec[f"window_scale_{way}"] != int(conn.value("adv_wind_scale", ab)):
            out.append(f"window_scale_{way}={rec[f'window_scale_{way}']} "
                       f"tcptrace {conn.value('adv_wind_scale', ab)}")
        printed = conn.value("throughput", ab)
        if printed != "NA" and rec[f"throughput_bps_{way}"] is not None:
            # tcptrace's clock has microseconds: allow the rate one microsecond gives.
            duration = max(float(rec["duration_s"]), 1e-6)
            slack = 1 + rec[f"throughput_bps_{way}"] * 2e-6 / duration
            if abs(rec[f"throughput_bps_{way}"] - float(printed)) > slack:
                out.append(f"throughput_bps_{way}={rec[f'throughput_bps_{way}']:.0f} "
                           f"tcptrace {printed}")
    return out


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_health_agrees_with_tcptrace(path: Path) -> None:
    conns = tcptrace.run(path)
    if conns is None:
        pytest.skip("tcptrace cannot read this capture (link type or format)")
    compared = 0
    for rec in _records(path):
        match = [(c, w) for c in conns if (w := tcptrace.directions(rec, c))]
        if not match:
            assert path.name in SPLIT_DIFFERENTLY, f"{rec['uid']}: no tcptrace connection"
            continue
        conn, ways = match[0]
        theirs = {w: int(conn.value("total_packets", ab)) for w, ab in ways.items()}
        if theirs != {"c2s": rec["packets_c2s"], "s2c": rec["packets_s2c"]}:
            assert path.name in SPLIT_DIFFERENTLY, f"{rec['uid']}: packets {theirs}"
            continue
        assert _compare(rec, conn, ways) == [], rec["uid"]
        compared += 1
    assert compared > 0 or path.name in SPLIT_DIFFERENTLY


def test_the_agreement_covers_retransmissions_reordering_and_rtt() -> None:
    """The captures above are not all trivially zero: the lossy loopback recordings and
    Zeek's traces have retransmissions, reordering, SACKs and millisecond round trips."""
    totals = {"retrans_packets": 0, "out_of_order_packets": 0, "sack_packets": 0,
              "dup_acks": 0, "dsack_packets": 0, "zero_window_advertisements": 0}
    rtt_ms = 0.0
    for name in ("lossy_bulk.pcapng", "lossy_zero_window.pcapng", "lossy_ipv6.pcapng"):
        for rec in _records(ROOT / "captures" / "real" / name):
            for key in totals:
                totals[key] += rec[f"{key}_c2s"] + rec[f"{key}_s2c"]
    for rec in _records(ROOT.parent / "shared" / "oracle" / "zeek" / "wikipedia.pcap"):
        rtt_ms = max(rtt_ms, _ms(rec["rtt_max_s_c2s"]))
    assert all(v > 0 for v in totals.values()), totals
    assert rtt_ms > 10


def test_idle_time_of_an_open_connection_stops_at_its_last_segment() -> None:
    """A difference (README): tcptrace runs the idle time of a connection that is not
    closed to the end of the whole capture; ours is the longest gap between two of the
    direction's segments, whatever else the capture holds."""
    path = ROOT.parent / "shared" / "oracle" / "zeek" / "wikipedia.pcap"
    conns = tcptrace.run(path)
    assert conns is not None
    end = max(float(r["last_ts"]) for r in _records(path))
    checked = 0
    for rec in _records(path):
        match = [(c, w) for c in conns if (w := tcptrace.directions(rec, c))]
        conn, ways = match[0]
        if _closed(conn):
            continue
        for way, ab in ways.items():
            if conn.value("idletime_max", ab) == "NA":
                continue
            last = float(rec["last_ts"])
            assert float(conn.value("idletime_max", ab)) >= (end - last) * 1000 - 0.1
            assert rec[f"idle_max_s_{way}"] <= rec["duration_s"]
        checked += 1
    assert checked > 0


def test_rtt_stdev_of_two_samples_is_theirs_not_zero() -> None:
    """A difference (README): tcptrace prints a standard deviation of 0 below three
    samples; ours is the sample standard deviation from two samples on."""
    recs = [r for p in CAPTURES[:40] for r in _records(p)
            if r["rtt_samples_c2s"] == 2 and r["rtt_max_s_c2s"] > r["rtt_min_s_c2s"]]
    assert recs
    rec = recs[0]
    assert rec["rtt_stdev_s_c2s"] is not None
    spread = rec["rtt_max_s_c2s"] - rec["rtt_min_s_c2s"]
    # Two samples: the sample standard deviation is |a - b| / sqrt(2).
    assert rec["rtt_stdev_s_c2s"] == pytest.approx(spread / 2 ** 0.5, rel=1e-6)


def test_a_fin_repeating_the_ack_is_no_duplicate_ack() -> None:
    """A difference (README): RFC 5681 §2 excludes segments with SYN or FIN (and we a RST)
    from duplicate ACKs; tcptrace counts a FIN that repeats the previous ACK as one, so a
    plain close shows duplicate ACKs there."""
    path = ROOT / "captures" / "real" / "half_close.pcapng"
    conns = tcptrace.run(path)
    assert conns is not None
    rec = _records(path)[0]
    ways = tcptrace.directions(rec, conns[0])
    assert ways is not None
    theirs = sum(int(conns[0].value("duplicate_acks", ab)) for ab in ways.values())
    assert theirs == 2  # the two FIN,ACKs, each repeating its side's previous ACK
    assert rec["dup_acks_c2s"] + rec["dup_acks_s2c"] == 0


def test_an_mss_above_32767_is_ours_unwrapped() -> None:
    """A difference (README): tcptrace keeps the MSS in a signed 16-bit field, so a
    loopback MSS of 65495 prints as 4294967255."""
    path = ROOT / "captures" / "real" / "client_close.pcapng"
    conns = tcptrace.run(path)
    assert conns is not None
    rec = _records(path)[0]
    assert rec["mss_c2s"] == 65495
    assert int(conns[0].value("mss_requested", "a2b")) == 2**32 - (2**16 - 65495)


def test_syn_options_without_the_syn_are_null() -> None:
    """A difference (README): a capture that starts after the handshake has no SYN
    options for us; tcptrace takes the timestamp option from any segment."""
    path = ROOT / "captures" / "real" / "midstream.pcapng"
    conns = tcptrace.run(path)
    assert conns is not None
    rec = _records(path)[0]
    ways = tcptrace.directions(rec, conns[0])
    assert ways is not None
    assert conns[0].value("req_1323_ws/ts", ways["c2s"]).endswith("/Y")
    for way in ("c2s", "s2c"):
        assert rec[f"mss_{way}"] is None and rec[f"window_scale_{way}"] is None
        assert rec[f"timestamps_{way}"] is None and rec[f"sack_permitted_{way}"] is None
    # The windows are then unscaled, as tcptrace has them (its scale is unknown too).
    assert rec["window_max_c2s"] == int(conns[0].value("max_win_adv", ways["c2s"]))
