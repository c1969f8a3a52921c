"""Hand-built segment sequences through the sans-IO core (no tshark, no files)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.core.packets import PacketRecord
from analyzer.core.records import ConnectionRecord
from analyzer.core.tracker import track

C, S = ("10.1.1.1", 40000), ("10.1.1.2", 80)
ISN_C, ISN_S = 1000, 5000
FLAGS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10}


class Ladder:
    """Builds segments with correct seq/ack, like a ladder diagram."""

    def __init__(self) -> None:
        self.nxt = {"c": ISN_C, "s": ISN_S}
        self.frame = 0
        self.pkts: list[PacketRecord] = []

    def __call__(self, who: str, flags: str, data: int = 0, ack: int | None = None,
                 seq: int | None = None, dt_ms: int = 1) -> None:
        other = "s" if who == "c" else "c"
        src, dst = (C, S) if who == "c" else (S, C)
        bits = sum(FLAGS[f] for f in flags)
        this_seq = self.nxt[who] if seq is None else seq
        this_ack = (self.nxt[other] if ack is None else ack) if "A" in flags else 0
        self.frame += 1
        self.pkts.append(PacketRecord(
            frame=self.frame, ts_ns=1_700_000_000_000_000_000 + self.frame * dt_ms * 1_000_000,
            proto="tcp", ip_version=4, src=src[0], sport=src[1], dst=dst[0], dport=dst[1],
            ip_len=40 + data, flags=bits, seq=this_seq, ack=this_ack, payload_len=data))
        if seq is None:
            self.nxt[who] = this_seq + data + ("S" in flags) + ("F" in flags)

    def records(self) -> list[ConnectionRecord]:
        return list(track("test", self.pkts))


def handshake(lad: Ladder) -> None:
    lad("c", "S")
    lad("s", "SA")
    lad("c", "A")


def test_graceful_close_client_first_leaves_client_in_time_wait() -> None:
    lad = Ladder()
    handshake(lad)
    lad("c", "PA", 10)
    lad("s", "PA", 20)
    lad("c", "FA")
    lad("s", "A")
    lad("s", "FA")
    lad("c", "A")
    (r,) = lad.records()
    assert (r.handshake, r.handshake_valid, r.end, r.closer) == ("complete", True, "fin", "client")
    assert (r.client_state, r.server_state, r.time_wait) == ("TIME_WAIT", "CLOSED", "client")
    assert (r.conn_state, r.history) == ("SF", "ShADdFaf")
    assert (r.bytes_c2s, r.bytes_s2c) == (10, 20)


def test_passive_side_waits_in_last_ack_until_its_fin_is_acknowledged() -> None:
    lad = Ladder()
    handshake(lad)
    lad("s", "FA")
    lad("c", "A")
    lad("c", "FA")
    (r,) = lad.records()
    assert (r.closer, r.server_state, r.client_state) == ("server", "TIME_WAIT", "LAST_ACK")


def test_simultaneous_close_goes_through_closing_on_both_sides() -> None:
    lad = Ladder()
    handshake(lad)
    lad("c", "FA")
    lad("s", "FA", ack=ISN_C + 1)  # does not acknowledge the client's FIN: they crossed
    lad("c", "A")
    lad("s", "A")
    (r,) = lad.records()
    assert (r.closer, r.time_wait) == ("both", "both")
    assert (r.client_state, r.server_state) == ("TIME_WAIT", "TIME_WAIT")


def test_half_close_data_after_first_fin_is_counted() -> None:
    lad = Ladder()
    handshake(lad)
    lad("c", "FPA", 5)
    lad("s", "A")
    lad("s", "PA", 100)
    lad("c", "A")
    (r,) = lad.records()
    assert (r.end, r.closer, r.client_state, r.server_state) == (
        "half_closed", "client", "FIN_WAIT_2", "CLOSE_WAIT")
    assert (r.bytes_c2s, r.bytes_s2c) == (5, 100)


def test_refused_syn_is_rej_with_no_closer() -> None:
    lad = Ladder()
    lad("c", "S")
    lad("s", "RA", ack=ISN_C + 1)
    (r,) = lad.records()
    assert (r.handshake, r.end, r.closer, r.rst_by) == ("refused", "rst", None, "server")
    assert (r.conn_state, r.history, r.client_state, r.server_state) == (
        "REJ", "Sr", "CLOSED", "CLOSED")


def test_wrong_synack_ack_makes_the_handshake_invalid_and_names_the_frame() -> None:
    lad = Ladder()
    lad("c", "S")
    lad("s", "SA", ack=ISN_C + 5)
    lad("c", "A")
    (r,) = lad.records()
    assert r.handshake == "complete"
    assert r.handshake_valid is False
    assert r.anomalies[0].startswith("frame 2: SYN-ACK acknowledges 1005, expected ISN+1 = 1001")


def test_retransmitted_syn_and_payload_counted_once() -> None:
    lad = Ladder()
    lad("c", "S")
    lad("c", "S", seq=ISN_C)
    lad("s", "SA")
    lad("c", "A")
    lad("c", "PA", 50)
    lad("c", "PA", 50, seq=ISN_C + 1)  # retransmission
    (r,) = lad.records()
    assert r.syn_retransmissions == 1
    assert r.bytes_c2s == 50
    assert r.history == "ShADT"


def test_new_syn_after_close_is_port_reuse() -> None:
    lad = Ladder()
    handshake(lad)
    lad("c", "FA")
    lad("s", "FA")
    lad("c", "A")
    lad.nxt = {"c": 90000, "s": 70000}
    handshake(lad)
    first, second = lad.records()
    assert first.end == "fin" and second.handshake == "complete"
    assert first.uid != second.uid


def test_rst_without_ack_from_server() -> None:
    lad = Ladder()
    handshake(lad)
    lad("c", "PA", 10)
    lad("s", "R")
    (r,) = lad.records()
    assert (r.end, r.closer, r.rst_by, r.conn_state) == ("rst", "server", "server", "RSTR")
    assert (r.client_state, r.server_state, r.time_wait) == ("CLOSED", "CLOSED", None)


SEGMENT = st.tuples(st.sampled_from("cs"), st.sampled_from(["S", "SA", "A", "PA", "FA", "R", "RA",
                                                              "FPA", "SF", "FR"]),
                    st.integers(0, 30))
VALID_STATES = {"S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH",
                "SHR", "OTH"}


@settings(max_examples=300, deadline=None)
@given(st.lists(SEGMENT, min_size=1, max_size=12))
def test_any_segment_sequence_gives_consistent_records(segs: list[tuple[str, str, int]]) -> None:
    lad = Ladder()
    for who, flags, data in segs:
        lad(who, flags, data if "P" in flags else 0)
    records = lad.records()
    assert records
    for r in records:
        assert r.conn_state in VALID_STATES
        assert r.packets_c2s + r.packets_s2c >= 1
        if r.time_wait is not None:
            assert r.end in ("fin", "rst", "half_closed")
        if r.end == "open":
            assert r.closer is None
