"""Zeek's view of a TCP/UDP connection: endpoint states, ``history`` letters, ``conn_state``.

This mirrors Zeek's TCP analysis (``TCPSessionAdapter.cc``, ``TCP_Endpoint.cc``,
``TCP_Reassembler.cc``, ``Conn.cc``) and ``base/protocols/conn/main.zeek`` closely enough
to reproduce Zeek's ``conn_state`` and ``history`` strings, with Zeek's meaning:

* history letters: upper case from the originator, lower case from the responder;
  ``S`` SYN, ``H`` SYN-ACK, ``A`` pure ACK, ``D`` payload, ``F`` FIN, ``R`` RST,
  ``C`` bad checksum, ``G`` content gap, ``T`` retransmitted payload, ``W`` zero window,
  ``I`` FIN+RST, ``Q`` SYN with FIN or RST, ``^`` roles flipped by a heuristic.
* ``A D I Q`` at most once per direction; ``S H F R`` again only when the sequence number
  differs from the last packet with that flag; ``C G T W`` at the 1st, 10th, 100th... time.
* multi-flag packets give only ``Q``/``I``; a FIN or RST packet with payload gives no ``D``.

Sequence numbers are kept relative to the endpoint's initial sequence number with 32-bit
modular arithmetic; a single direction carrying more than 2 GiB is out of scope.
"""

from __future__ import annotations

import enum

SEQ_MOD = 1 << 32
TOO_LARGE_SEQ_DELTA = 1048576


def seq_delta(a: int, b: int) -> int:
    """Signed difference a - b in 32-bit sequence space (Zeek's ``seq_delta``)."""
    return ((a - b + (1 << 31)) % SEQ_MOD) - (1 << 31)


class ZeekState(enum.Enum):
    """Zeek's per-endpoint TCP states (``TCP_Endpoint.h``)."""

    INACTIVE = 0  # nothing seen from this side
    SYN_SENT = 1  # SYN seen, no ack
    SYN_ACK_SENT = 2  # SYN-ACK seen, no initial SYN
    PARTIAL = 3  # data seen, but no SYN
    ESTABLISHED = 4
    CLOSED = 5  # FIN seen
    RESET = 6  # RST seen


Z = ZeekState

#: Ports Zeek considers "likely server ports" when it has to guess who the originator is
#: (a connection whose first packet is not a SYN). Zeek fills this set from the analyzers
#: its scripts load; this is the set of well-known service ports those analyzers register.
LIKELY_SERVER_PORTS_TCP: frozenset[int] = frozenset(
    {
        20, 21, 22, 23, 25, 53, 79, 80, 81, 88, 102, 110, 111, 135, 139, 143, 179, 389,
        443, 445, 465, 502, 512, 513, 514, 515, 563, 585, 587, 593, 614, 631, 636, 989,
        990, 992, 993, 995, 1080, 1433, 1521, 1723, 1883, 2049, 2404, 3128, 3306, 3389,
        5060, 5061, 5222, 5223, 5269, 5432, 5672, 5900, 6379, 6666, 6667, 6668, 6669,
        8000, 8080, 8081, 8443, 8888, 9200, 11211, 20000, 27017,
    }
)
LIKELY_SERVER_PORTS_UDP: frozenset[int] = frozenset(
    {
        53, 67, 69, 88, 111, 123, 137, 138, 161, 162, 443, 500, 514, 1194, 1812, 1813,
        2123, 2152, 3478, 4500, 4789, 5060, 5353, 5355, 6081, 11211,
    }
)


class HistoryLog:
    """A connection's history string with Zeek's once-per-direction bookkeeping."""

    __slots__ = ("letters", "seen")

    def __init__(self) -> None:
        self.letters: list[str] = []
        self.seen: set[tuple[str, bool]] = set()

    def check(self, kind: str, letter: str, is_orig: bool) -> bool:
        """Zeek ``CheckHistory``: add ``letter`` the first time this ``kind`` of packet is
        seen in this direction (SYN and SYN-ACK share the kind "SYN"); True if seen before."""
        key = (kind, is_orig)
        if key in self.seen:
            return True
        self.seen.add(key)
        self.add(letter, is_orig)
        return False

    def add(self, letter: str, is_orig: bool) -> None:
        self.letters.append(letter.upper() if is_orig else letter.lower())

    def flip(self) -> None:
        """Roles flipped: swap the case of what is there and mark it with ``^``."""
        self.letters = ["^", *(c.swapcase() for c in self.letters if c != "^")]
        self.seen = {(letter, not is_orig) for letter, is_orig in self.seen}

    def __str__(self) -> str:
        return "".join(self.letters)


class Scaled:
    """Zeek ``ScaledHistoryEntry``: a letter at the 1st, 10th, 100th ... occurrence."""

    __slots__ = ("count", "threshold")

    def __init__(self) -> None:
        self.count = 0
        self.threshold = 1

    def hit(self) -> bool:
        self.count += 1
        if self.count == self.threshold:
            self.threshold *= 10
            return True
        return False


class Reassembly:
    """Which payload bytes of one direction were captured, to find content gaps.

    ``expected`` is the next relative sequence number not yet delivered in order; blocks
    above a hole wait in ``blocks``. An acknowledgment above ``expected`` reveals bytes the
    receiver got but the capture did not: a content gap (Zeek's ``Undelivered``).
    """

    __slots__ = ("blocks", "expected")

    def __init__(self) -> None:
        self.expected = 1
        self.blocks: list[tuple[int, int]] = []

    def data(self, start: int, end: int) -> None:
        if end <= self.expected:
            return
        if start <= self.expected:
            self.expected = end
            self._absorb()
        else:
            self.blocks.append((start, end))
            self.blocks.sort()

    def _absorb(self) -> None:
        while self.blocks and self.blocks[0][0] <= self.expected:
            _, end = self.blocks.pop(0)
            self.expected = max(self.expected, end)

    def ack(self, up_to: int) -> int:
        """Everything below ``up_to`` was received; return the bytes the capture missed."""
        if up_to <= self.expected:
            return 0
        covered = 0
        kept: list[tuple[int, int]] = []
        for start, end in self.blocks:
            if start >= up_to:
                kept.append((start, end))
                continue
            covered += min(end, up_to) - max(start, self.expected)
            if end > up_to:
                kept.append((up_to, end))
        missing = up_to - self.expected - covered
        self.expected = up_to
        self.blocks = kept
        self._absorb()
        return max(missing, 0)


class ZeekEndpoint:
    """One side of a TCP connection the way Zeek's ``TCP_Endpoint`` tracks it."""

    __slots__ = (
        "ack_seq", "chk", "did_close", "fin_cnt", "fin_seq", "gap", "hist_last_fin",
        "hist_last_rst", "hist_last_syn", "ip_bytes", "is_orig", "last_seq", "missed",
        "pkts", "prev_state", "reasm", "rst_cnt", "rxmt", "start_seq", "state", "win0",
    )

    def __init__(self, is_orig: bool) -> None:
        self.is_orig = is_orig
        self.state = Z.INACTIVE
        self.prev_state = Z.INACTIVE
        self.start_seq = 0
        self.last_seq = 0
        self.ack_seq = 0
        self.fin_cnt = 0
        self.fin_seq = 0
        self.rst_cnt = 0
        self.did_close = False
        self.hist_last_syn = 0
        self.hist_last_fin = 0
        self.hist_last_rst = 0
        self.chk = Scaled()
        self.rxmt = Scaled()
        self.win0 = Scaled()
        self.gap = Scaled()
        self.reasm = Reassembly()
        self.missed = 0
        self.pkts = 0
        self.ip_bytes = 0

    def set_state(self, new: ZeekState) -> None:
        if new is not self.state:
            self.prev_state = self.state
            self.state = new

    def init_seqs(self, start: int, last: int) -> None:
        self.start_seq = start
        self.ack_seq = start
        self.last_seq = last

    def rel(self, seq: int) -> int:
        return seq_delta(seq, self.start_seq)

    def size(self, peer: ZeekEndpoint) -> int:
        """Zeek ``TCP_Endpoint::Size``: bytes of sequence space used, SYN and FIN excluded."""
        if (
            self.prev_state is Z.SYN_SENT
            and self.state is Z.RESET
            and peer.state is Z.INACTIVE
            and seq_delta(self.ack_seq, self.start_seq) > 1
        ):
            return 0
        last = seq_delta(self.last_seq, self.start_seq)
        acked = seq_delta(self.ack_seq, self.start_seq)
        size = max(last, acked)
        if size <= 0:
            return 0
        size -= 1
        if self.fin_cnt > 0 and size != 0:
            size -= 1
        return size


def tcp_conn_state(orig: ZeekEndpoint, resp: ZeekEndpoint, history: str) -> str:
    """``conn_state`` from the two endpoint states, as ``base/protocols/conn/main.zeek``."""
    os_, rs = orig.state, resp.state
    o_inactive = os_ in (Z.INACTIVE, Z.PARTIAL)
    r_inactive = rs in (Z.INACTIVE, Z.PARTIAL)
    if rs is Z.RESET:
        if os_ in (Z.SYN_SENT, Z.SYN_ACK_SENT) or (
            os_ is Z.RESET and orig.size(resp) == 0 and resp.size(orig) == 0
        ):
            return "REJ"
        return "RSTRH" if o_inactive else "RSTR"
    if os_ is Z.RESET:
        if r_inactive:
            return "RSTOS0" if _rstos0_history(history) else "OTH"
        return "RSTO"
    if rs is Z.CLOSED and os_ is Z.CLOSED:
        return "SF"
    if os_ is Z.CLOSED:
        return "SH" if r_inactive else "S2"
    if rs is Z.CLOSED:
        return "SHR" if o_inactive else "S3"
    if os_ is Z.SYN_SENT and rs is Z.INACTIVE:
        return "S0"
    if os_ is Z.ESTABLISHED and rs is Z.ESTABLISHED:
        return "S1"
    return "OTH"


def _rstos0_history(history: str) -> bool:
    """Zeek's ``/\\^?S[^HAFGIQ]*R.*/ == history`` (a whole-string match)."""
    rest = history[1:] if history.startswith("^") else history
    if not rest.startswith("S"):
        return False
    for ch in rest[1:]:
        if ch == "R":
            return True
        if ch in "HAFGIQ":
            return False
    return False


def udp_conn_state(orig_sent: bool, resp_sent: bool) -> str:
    if orig_sent:
        return "SF" if resp_sent else "S0"
    return "SHR" if resp_sent else "OTH"
