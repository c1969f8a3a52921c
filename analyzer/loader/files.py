"""The checks every read starts with, whichever engine reads: the path names a regular,
readable, non-empty file, and its pcap or pcapng file header is whole.

tshark reads a pcapng file cut inside its section header as a "MIME file" with no packets
and exits 0; the native engine's reader tells a cut header apart, so both engines ask it
(``_engine.read_capture`` only reads the file header until it is iterated)."""

from __future__ import annotations

import os
import stat

from analyzer.errors import CaptureError

#: How the engine words a file that ends inside its file header (``CaptureError::HeaderCut``).
HEADER_CUT = "cut short inside its file header"

_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device",
          stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket"}


def file_size(path: str) -> int:
    """The file's size in bytes, 0 when it cannot be looked at (for progress figures)."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def check_file(path: str) -> None:
    """Raise CaptureError unless ``path`` is a readable, non-empty regular file.

    A FIFO or a device is refused rather than read: a capture is read more than once (the
    display filter's pass, ``explain``'s and the report's second look at a connection), so
    it must be a file; ``tcpdump -w FILE`` first.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise CaptureError(path, "no such file") from None
    except OSError as exc:
        raise CaptureError(path, exc.strerror or str(exc)) from None
    if stat.S_ISDIR(info.st_mode):
        raise CaptureError(path, "is a directory, not a capture file")
    kind = _KINDS.get(stat.S_IFMT(info.st_mode))
    if kind is not None:
        raise CaptureError(path, f"is {kind}, not a regular file: pcap-analyzer reads a "
                                 "capture more than once, so save it to a file first")
    if not os.access(path, os.R_OK):
        raise CaptureError(path, "permission denied")
    if info.st_size == 0:
        raise CaptureError(path, "empty file (0 bytes), not a capture")


def check_header(path: str) -> None:
    """Raise CaptureError when the file ends inside its pcap or pcapng file header (also
    inside a gzip or zstd stream). Any other verdict is left to the engine that reads."""
    from analyzer import _engine

    try:
        _engine.read_capture(path, check_checksums=False, batch=1, app_details=False,
                             select_frames=None, progress_every=0)
    except _engine.CaptureFormatError as exc:
        if str(exc).startswith(HEADER_CUT):
            raise CaptureError(path, str(exc)) from None
    except (_engine.UnsupportedCapture, _engine.EnginePanic, OSError):
        pass
