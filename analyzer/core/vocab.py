"""The project's one vocabulary: the names records use, as enums.

The engine (``analyzer._engine``, Rust) decides every value; these enums only name them
for the Python side (DataFrame categories, reports, rules).
"""

from __future__ import annotations

import enum


class TcpState(enum.Enum):
    """RFC 9293 §3.3.2 connection states (LISTEN is folded into CLOSED: not observable)."""

    CLOSED = "CLOSED"
    SYN_SENT = "SYN_SENT"
    SYN_RECEIVED = "SYN_RECEIVED"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN_WAIT_1"
    FIN_WAIT_2 = "FIN_WAIT_2"
    CLOSE_WAIT = "CLOSE_WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST_ACK"
    TIME_WAIT = "TIME_WAIT"


class Proto(enum.Enum):
    TCP = "tcp"
    UDP = "udp"
    ICMP = "icmp"


class Engine(enum.Enum):
    """Which reader turns the capture into packets (``--engine``)."""

    NATIVE = "native"  # the Rust engine reads the file itself
    TSHARK = "tshark"  # tshark's dissection, through its field export or pyshark
    AUTO = "auto"  # tshark until the native engine also does HTTP/WebSocket


class Handshake(enum.StrEnum):
    """How the three-way handshake went (the record's ``handshake``)."""

    COMPLETE = "complete"
    REFUSED = "refused"
    UNANSWERED = "unanswered"
    INCOMPLETE = "incomplete"
    NOT_SEEN = "not_seen"


class End(enum.StrEnum):
    """How the connection ended (the record's ``end``)."""

    FIN = "fin"
    RST = "rst"
    HALF_CLOSED = "half_closed"
    OPEN = "open"


class Role(enum.StrEnum):
    """One side of a connection (``rst_by``)."""

    CLIENT = "client"
    SERVER = "server"


class Sides(enum.StrEnum):
    """One side or both (``closer``, ``time_wait``)."""

    CLIENT = "client"
    SERVER = "server"
    BOTH = "both"


class ConnState(enum.StrEnum):
    """Zeek's conn_state codes, in the order conn.log's documentation lists them."""

    S0 = "S0"
    S1 = "S1"
    SF = "SF"
    REJ = "REJ"
    S2 = "S2"
    S3 = "S3"
    RSTO = "RSTO"
    RSTR = "RSTR"
    RSTOS0 = "RSTOS0"
    RSTRH = "RSTRH"
    SH = "SH"
    SHR = "SHR"
    OTH = "OTH"


CONN_STATES = tuple(s.value for s in ConnState)


class Opcode(enum.IntEnum):
    """WebSocket opcodes (RFC 6455 §5.2); a member's lower-case name is how frame counts
    and rules name it (``frames_c2s.ping``)."""

    TEXT = 1
    BINARY = 2
    CONTINUATION = 0
    PING = 9
    PONG = 10
    CLOSE = 8

    @property
    def label(self) -> str:
        return self.name.lower()


class WsProblem(enum.StrEnum):
    """The names in a WebSocket session's ``problems`` (README, "HTTP and WebSocket"), as
    the engine's analysis gives them."""

    WRONG_ACCEPT = "wrong_accept"
    MISSING_ACCEPT = "missing_accept"
    BAD_VERSION = "bad_version"
    BAD_UPGRADE_HEADER = "bad_upgrade_header"
    BAD_CONNECTION_HEADER = "bad_connection_header"
    UNOFFERED_SUBPROTOCOL = "unoffered_subprotocol"
    UNOFFERED_EXTENSION = "unoffered_extension"
    UNMASKED_CLIENT_FRAME = "unmasked_client_frame"
    MASKED_SERVER_FRAME = "masked_server_frame"
    CONTROL_FRAME_TOO_LONG = "control_frame_too_long"
    FRAGMENTED_CONTROL_FRAME = "fragmented_control_frame"
    RESERVED_CLOSE_CODE = "reserved_close_code"
    INVALID_CLOSE_CODE = "invalid_close_code"
    DATA_AFTER_CLOSE = "data_after_close"
    INVALID_LENGTH = "invalid_length"
