#!/usr/bin/env python3
"""Build the fuzz corpora (and, with --seeds, the small committed seed sets) from captures.

    python3 engine/fuzz/make_seeds.py [--max-bytes 65536] [--seeds] DIR_OR_FILE ...

Writes engine/fuzz/corpus/capture_decode_track/ (each capture file, prefixed with the
options byte: 0x00 and 0x01 = checksums checked) and engine/fuzz/corpus/decode_frame/
(every frame of those captures whose link type the target knows, with the target's
4-byte header, plus the IP packets of Ethernet frames re-wrapped as RAW, IPv4/IPv6,
NULL and LOOP frames). File names are content hashes, so reruns add nothing twice.
With --seeds the same goes to engine/fuzz/seeds/<target>/ instead (keep those few and
small: pass a handful of files). Standard library only.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import struct
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The decode_frame target's link types, in its order (index = selector % 9).
LINKTYPES = [0, 1, 12, 101, 108, 113, 228, 229, 276]
ETHERNET = 1


def frames(blob: bytes) -> Iterator[tuple[int, bytes]]:
    """(link type, frame bytes) of every packet of a pcap or pcapng file (best effort)."""
    if blob[:2] == b"\x1f\x8b":
        blob = gzip.decompress(blob)
    magic = blob[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic[0] in (0xD4, 0x4D) else ">"
        linktype = struct.unpack_from(e + "I", blob, 20)[0] & 0x0FFFFFFF
        off = 24
        while off + 16 <= len(blob):
            caplen = struct.unpack_from(e + "I", blob, off + 8)[0]
            data = blob[off + 16:off + 16 + caplen]
            if len(data) < caplen:
                return
            yield linktype, data
            off += 16 + caplen
    elif magic == b"\x0a\x0d\x0d\x0a":
        yield from _pcapng(blob)


def _pcapng(blob: bytes) -> Iterator[tuple[int, bytes]]:
    off, e, ifaces = 0, "<", []
    while off + 12 <= len(blob):
        btype = struct.unpack_from("<I", blob, off)[0]
        if btype == 0x0A0D0D0A:
            e = "<" if blob[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        blen = struct.unpack_from(e + "I", blob, off + 4)[0]
        if blen < 12 or off + blen > len(blob):
            return
        body = blob[off + 8:off + blen - 4]
        if btype == 1 and len(body) >= 2:
            ifaces.append(struct.unpack_from(e + "H", body, 0)[0])
        elif btype == 6 and len(body) >= 20:
            iface, _, _, caplen, _ = struct.unpack_from(e + "IIIII", body, 0)
            if iface < len(ifaces):
                yield ifaces[iface], body[20:20 + caplen]
        elif btype == 3 and len(body) >= 4 and ifaces:
            yield ifaces[0], body[4:]
        off += blen


def rewrapped(linktype: int, data: bytes) -> Iterator[tuple[int, bytes]]:
    """The frame as is, and an Ethernet frame's IP packet under the other link types."""
    yield linktype, data
    if linktype != ETHERNET or len(data) < 15:
        return
    ethertype = int.from_bytes(data[12:14], "big")
    if ethertype not in (0x0800, 0x86DD):
        return
    ip = data[14:]
    v6 = ethertype == 0x86DD
    yield 101, ip
    yield 12, ip
    yield (229 if v6 else 228), ip
    yield 0, struct.pack("<I", 30 if v6 else 2) + ip  # NULL: AF in host order
    yield 108, struct.pack(">I", 24 if v6 else 2) + ip  # LOOP: AF in network order


def frame_input(linktype: int, data: bytes, check: bool, max_frame: int) -> bytes | None:
    """The decode_frame input; a frame longer than ``max_frame`` is cut there, the rest
    counted as not captured (the header's wire-length extra), as a short snaplen would."""
    if linktype not in LINKTYPES:
        return None
    sel = LINKTYPES.index(linktype) + (len(LINKTYPES) if check else 0)
    extra = min(0xFFFF, max(0, len(data) - max_frame))
    return struct.pack("<HH", sel, extra) + data[:max_frame]


def save(directory: Path, blob: bytes) -> bool:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / hashlib.sha1(blob).hexdigest()[:16]
    if path.exists():
        return False
    path.write_bytes(blob)
    return True


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inputs", nargs="+", type=Path)
    ap.add_argument("--max-bytes", type=int, default=65536,
                    help="skip capture files larger than this (default 65536)")
    ap.add_argument("--max-frame", type=int, default=4096,
                    help="cut frames after this many bytes (default 4096)")
    ap.add_argument("--seeds", action="store_true",
                    help="write to seeds/ (committed) instead of corpus/: options byte 0 "
                    "only, at most 3 frames per link type, no checksum variants")
    args = ap.parse_args()
    base = HERE / ("seeds" if args.seeds else "corpus")
    files: list[Path] = []
    for item in args.inputs:
        files += sorted(p for p in item.rglob("*.pcap*") if p.is_file()) if item.is_dir() else [item]
    variants = (False,) if args.seeds else (False, True)
    per_linktype: dict[int, int] = {}
    n_cap = n_frame = 0
    for path in files:
        blob = path.read_bytes()
        if len(blob) > args.max_bytes:
            continue
        for check in variants:
            n_cap += save(base / "capture_decode_track", bytes([int(check)]) + blob)
        try:
            found = list(frames(blob))
        except (struct.error, OSError, EOFError):
            found = []
        for linktype, data in found:
            for lt, d in rewrapped(linktype, data):
                if args.seeds and per_linktype.get(lt, 0) >= 3:
                    continue
                for check in variants:
                    inp = frame_input(lt, d, check, args.max_frame)
                    if inp is not None and save(base / "decode_frame", inp):
                        n_frame += 1
                        per_linktype[lt] = per_linktype.get(lt, 0) + 1
    print(f"{len(files)} files: {n_cap} new capture inputs, {n_frame} new frame inputs in {base}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
