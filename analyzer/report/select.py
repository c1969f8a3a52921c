"""Naming a connection: a uid, its ``#N`` or its endpoints, and any unique prefix of them.

``#N`` is the connection's place (1-based) among the records of the captures given, in
the order every table and report lists them: capture by capture in the order the captures
were given, and within a capture in start order. ``connections -f table``, report.md,
report.html and ``explain`` number them alike because they all number with
:func:`numbered` over the same records.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Protocol

from analyzer.report.endpoints import connection

#: At most this many candidates are listed when a name is ambiguous.
MAX_CANDIDATES = 10

_INDEX = re.compile(r"#?\s*(\d+)")
_UID = re.compile(r"C[0-9A-Za-z]*")


class Connection(Protocol):
    """What naming needs of a record (``ConnectionRecord`` has it)."""

    @property
    def capture(self) -> str: ...
    @property
    def uid(self) -> str: ...
    @property
    def proto(self) -> str: ...
    @property
    def client_ip(self) -> str: ...
    @property
    def client_port(self) -> int: ...
    @property
    def server_ip(self) -> str: ...
    @property
    def server_port(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Numbered:
    """A record and its ``#N``."""

    number: int
    record: Connection

    @property
    def label(self) -> str:
        return f"#{self.number}"

    @property
    def endpoints(self) -> str:
        r = self.record
        return connection(r.client_ip, r.client_port, r.server_ip, r.server_port)

    def describe(self, with_capture: bool = False) -> str:
        """``uid  #N  CLIENT-SERVER`` (and ``(capture)``): one candidate's line."""
        text = f"{self.record.uid}  {self.label}  {self.endpoints}  {self.record.proto}"
        return text + (f"  ({PurePath(self.record.capture).name})" if with_capture else "")


class SelectionError(LookupError):
    """The text names no connection, or more than one."""

    def __init__(self, message: str, candidates: Sequence[Numbered] = (),
                 total: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.candidates = list(candidates)
        self.total = total


class NoConnection(SelectionError):
    """Nothing matches."""


class AmbiguousConnection(SelectionError):
    """Several connections match: ``candidates`` (at most ``MAX_CANDIDATES``) of
    ``total``."""

    def lines(self) -> list[str]:
        several = len({c.record.capture for c in self.candidates}) > 1
        out = [f"  {c.describe(several)}" for c in self.candidates]
        if self.total > len(self.candidates):
            out.append(f"  ... and {self.total - len(self.candidates)} more")
        return out


def numbered(records: Iterable[Connection]) -> list[Numbered]:
    """Every record with its ``#N``, in the order given (the tables' and reports' order)."""
    return [Numbered(i, r) for i, r in enumerate(records, start=1)]


def numbers(records: Iterable[Connection]) -> dict[tuple[str, str], int]:
    """``(capture, uid) -> N``, for links and cross-references."""
    return {(r.capture, r.uid): i for i, r in enumerate(records, start=1)}


def _normalise(text: str) -> str:
    text = text.strip().replace("→", "-").replace("->", "-")
    return re.sub(r"\s+", "", text)


def find_connection(records: Sequence[Connection], text: str, *,
                    only: Callable[[Connection], bool] | None = None,
                    kind: str = "connection") -> Numbered:
    """The one record that ``text`` names, with its ``#N``.

    ``text`` is ``#N`` (or just ``N``: ``#`` starts a comment in a shell), a uid, or an
    endpoint pair ``CLIENT:PORT-SERVER:PORT`` (IPv6 in brackets, ``[::1]:35047``); a uid or
    an endpoint pair may be cut short anywhere, as long as one connection starts so
    (``C1a2``, ``10.0.0.1:40001-``, ``10.0.0.1:40001-10.0.0.2``). An exact uid or endpoint
    pair wins over longer ones it is a prefix of. ``only`` narrows the candidates (say, to
    TCP), ``kind`` names them in messages.

    Raises :class:`NoConnection` or :class:`AmbiguousConnection`.
    """
    everything = numbered(records)
    wanted = _normalise(text)
    if not wanted:
        raise NoConnection(f"no {kind} named by an empty string")
    index = _INDEX.fullmatch(wanted)
    if index:
        n = int(index.group(1))
        if not 1 <= n <= len(everything):
            span = f"#1 to #{len(everything)}" if everything else "none"
            raise NoConnection(f"no {kind} #{n}: the connections are {span}")
        found = everything[n - 1]
        if only is not None and not only(found.record):
            raise NoConnection(f"#{n} ({found.endpoints}, {found.record.proto}) is not a "
                               f"{kind}")
        return found
    pool = [c for c in everything if only is None or only(c.record)]
    if _UID.fullmatch(wanted):
        what = f"uid {wanted}"
        matches = [c for c in pool if c.record.uid.startswith(wanted)]
        exact = [c for c in matches if c.record.uid == wanted]
    else:
        what = f"endpoints {wanted}"
        matches = [c for c in pool if c.endpoints.startswith(wanted)]
        exact = [c for c in matches if c.endpoints == wanted]
    matches = exact or matches
    if len(matches) == 1:
        return matches[0]
    if not matches:
        hint = ""
        if "[" not in wanted and wanted.count(":") > 1:
            hint = " (write IPv6 addresses in brackets: [::1]:35047-[::1]:8080)"
        raise NoConnection(f"no {kind} with {what}{hint}")
    raise AmbiguousConnection(
        f"{text.strip()} matches {len(matches)} {kind}s; give more of it, or one of these:",
        matches[:MAX_CANDIDATES], len(matches))
