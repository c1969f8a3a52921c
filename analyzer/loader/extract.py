"""Copy chosen frames of a capture into a new file, without dissecting anything.

The analyzer sometimes needs a second look at a few connections with other tshark
preferences (a response whose body never completed is only reported by tshark when it is
told not to wait for bodies). Re-reading the whole capture would cost a full pass of
dissection; instead the frames of those connections are copied into a small temporary
file, at the speed of the disk, and only that file is dissected again.

Frames are counted the way tshark numbers them: every packet record of a pcap file, and
every Enhanced, Simple or (obsolete) Packet Block of a pcapng file. Every other pcapng
block (section headers, interface descriptions, name resolution, statistics) is copied as
it is, so the new file keeps its interfaces and link types. gzip-compressed input is read
through :mod:`gzip`; the output is never compressed. Any other format returns ``False``
and the caller falls back to reading the whole capture again.
"""

from __future__ import annotations

import contextlib
import gzip
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import IO, cast

_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">",  # microsecond timestamps
    b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">",  # nanosecond timestamps
}
_PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"
_PCAPNG_PACKET_BLOCKS = {2, 3, 6}  # obsolete Packet Block, Simple PB, Enhanced PB
_GZIP = b"\x1f\x8b"
#: What reading a damaged gzip stream raises: the copy then ends there.
_DAMAGED = (EOFError, gzip.BadGzipFile, zlib.error)


def extract_frames(src: str | Path, frames: Iterable[int], dst: str | Path) -> bool:
    """Write the frames numbered in ``frames`` (1-based, as tshark numbers them) from
    ``src`` to ``dst`` in their original order. False if ``src`` is in a format this
    module does not read (nothing useful is written then). A file cut short ends the
    copy at the last whole record."""
    wanted = sorted(set(frames))
    with open(src, "rb") as raw, contextlib.ExitStack() as stack:
        head = raw.read(2)
        raw.seek(0)
        stream: IO[bytes] = raw
        if head == _GZIP:
            unzipped = gzip.GzipFile(fileobj=raw, mode="rb")
            stack.callback(unzipped.close)
            stream = cast(IO[bytes], unzipped)
        try:
            magic = stream.read(4)
        except _DAMAGED:
            return False
        with open(dst, "wb") as out:
            try:
                if magic in _PCAP_MAGICS:
                    _copy_pcap(stream, magic, _PCAP_MAGICS[magic], wanted, out)
                    return True
                if magic == _PCAPNG_SHB:
                    _copy_pcapng(stream, magic, wanted, out)
                    return True
            except _DAMAGED:
                # A gzip stream cut short or corrupt: the records before the damage are
                # written (whole records only), as for a plain file cut short.
                return True
    return False


_CHUNK = 4 << 20


def _copy_pcap(f: IO[bytes], magic: bytes, endian: str, wanted: list[int], out: IO[bytes]
               ) -> None:
    """Walk the records in 4 MiB reads (no read call per record, and no memory map,
    whose pages would count in this process's resident memory)."""
    out.write(magic + f.read(20))
    length_at = struct.Struct(endian + "I").unpack_from
    buf, pos, frame, i = b"", 0, 0, 0
    while i < len(wanted):
        if len(buf) - pos < 16:
            buf, pos = buf[pos:] + f.read(_CHUNK), 0
            if len(buf) < 16:
                return
        nxt = pos + 16 + length_at(buf, pos + 8)[0]
        if nxt > len(buf):
            buf, pos = buf[pos:] + f.read(max(_CHUNK, nxt - len(buf))), 0
            nxt = 16 + length_at(buf, 8)[0]
            if nxt > len(buf):
                return  # cut short in the middle of a record
        frame += 1
        if frame == wanted[i]:
            out.write(buf[pos:nxt])
            i += 1
        pos = nxt


def _copy_pcapng(f: IO[bytes], magic: bytes, wanted: list[int], out: IO[bytes]) -> None:
    frame, i = 0, 0
    endian = "<"
    block_type = magic
    while True:
        length_bytes = f.read(4)
        if len(length_bytes) < 4:
            return
        if block_type == _PCAPNG_SHB:
            # The byte-order magic follows the length; it decides the section's endianness.
            bom = f.read(4)
            endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            length = struct.unpack(endian + "I", length_bytes)[0]
            if length < 28:  # damaged: no section header is that short
                return
            body = bom + f.read(length - 12)
            keep = True
        else:
            kind = struct.unpack(endian + "I", block_type)[0]
            length = struct.unpack(endian + "I", length_bytes)[0]
            if length < 12:  # damaged: a block is at least its type and two lengths
                return
            if kind in _PCAPNG_PACKET_BLOCKS:
                frame += 1
                keep = i < len(wanted) and frame == wanted[i]
                if keep:
                    i += 1
            else:
                keep = True
            if not keep:
                f.seek(length - 8, 1)
                body = b""
            else:
                body = f.read(length - 8)
        if keep:
            if len(body) < length - 8:
                return
            out.write(block_type + length_bytes + body)
        elif i >= len(wanted):
            return
        block_type = f.read(4)
        if len(block_type) < 4:
            return
