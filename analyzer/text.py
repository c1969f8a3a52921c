"""Untrusted text made inert: control characters (ANSI escape sequences, CR, LF, NUL, C1)
shown as visible escapes. One table per use, built once:

- ``inert``: tables, CSV, Markdown, JUnit: everything but the tab as ``\\xNN``;
- ``one_line``: stderr messages: every control character, line breaks and tabs as ``\\n``,
  ``\\r``, ``\\t``, so that a message stays one line;
- ``inert_document``: whole documents (report.html): line breaks and tabs kept.
"""

from __future__ import annotations

_C0_C1 = [*range(0x00, 0x20), *range(0x7F, 0xA0)]
_NAMED = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}


def _table(keep: tuple[int, ...] = (), named: bool = False) -> dict[int, str]:
    return {c: (_NAMED[c] if named and c in _NAMED else f"\\x{c:02x}")
            for c in _C0_C1 if c not in keep}


_INERT = _table(keep=(0x09,))
_ONE_LINE = _table(named=True)
_DOCUMENT = _table(keep=(0x09, 0x0A, 0x0D))


def inert(text: str) -> str:
    """Control characters but the tab as visible ``\\xNN`` text."""
    return text.translate(_INERT)


def one_line(text: str) -> str:
    """``text`` as one printable line (a newline in a file name, ESC from a capture,
    tshark's own line breaks): it cannot span lines or drive the terminal."""
    return text.translate(_ONE_LINE)


def inert_document(text: str) -> str:
    """A document with every control character but tab and line ends as ``\\xNN``."""
    return text.translate(_DOCUMENT)
