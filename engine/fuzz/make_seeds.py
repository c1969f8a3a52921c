#!/usr/bin/env python3
"""Build the fuzz corpora (and, with --seeds, the small committed seed sets) from captures.

    python3 engine/fuzz/make_seeds.py [--max-bytes 65536] [--seeds] DIR_OR_FILE ...

Writes engine/fuzz/corpus/capture_decode_track/ (each capture file, prefixed with the
options byte: 0x00 and 0x01 = checksums checked) and engine/fuzz/corpus/decode_frame/
(every frame of those captures whose link type the target knows, with the target's
4-byte header, plus the IP packets of Ethernet frames re-wrapped as RAW, IPv4/IPv6,
NULL and LOOP frames). File names are content hashes, so reruns add nothing twice.
With --seeds the same goes to engine/fuzz/seeds/<target>/ instead (keep those few and
small: pass a handful of files). With --app-seeds (no files needed) it writes the
hand-written HTTP exchanges and WebSocket streams of APP_SEEDS/WS_SEEDS below to
engine/fuzz/seeds/http_parser/ and seeds/ws_parser/, in those targets' input layouts.
Standard library only.
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


# ----- http_parser and ws_parser seeds (literal exchanges) -----------------------------

def ws_frame(opcode: int, payload: bytes, fin: bool = True, key: bytes | None = None,
             length_form: int | None = None) -> bytes:
    """One RFC 6455 frame; ``length_form`` forces 7, 16 or 64-bit lengths."""
    n = len(payload)
    form = length_form or (7 if n < 126 else 16 if n < 65536 else 64)
    b0 = (0x80 if fin else 0) | opcode
    m = 0x80 if key else 0
    if form == 7:
        head = bytes([b0, m | n])
    elif form == 16:
        head = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        head += key
    return head + payload


KEY = b"\x37\xfa\x21\x3d"
WS_REQ = (b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
          b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          b"Sec-WebSocket-Version: 13\r\n\r\n")
WS_RESP = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
C, S = 0, 1

# name: (options byte, [(direction, bytes), ...] in the order they are fed).
APP_SEEDS: dict[str, tuple[int, list[tuple[int, bytes]]]] = {
    "get-keep-alive": (0, [
        (C, b"GET / HTTP/1.1\r\nHost: a.example\r\nUser-Agent: t\r\n\r\n"),
        (S, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"),
        (C, b"GET /favicon.ico HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n"),
        (S, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    ]),
    "pipelined-head-304-204": (2, [
        (C, b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nHEAD /b HTTP/1.1\r\nHost: h\r\n\r\n"
            b"GET /c HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"x\"\r\n\r\n"
            b"DELETE /d HTTP/1.1\r\nHost: h\r\n\r\n"),
        (S, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
            b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n"
            b"HTTP/1.1 204 No Content\r\n\r\n"),
    ]),
    "chunked-both-ways": (0, [
        (C, b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
            b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: yes\r\n\r\n"),
        (S, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"1a\r\nabcdefghijklmnopqrstuvwxyz\r\n10 ; name=\"v\"\r\n0123456789abcdef\r\n0\r\n\r\n"),
    ]),
    "100-continue-103": (0, [
        (C, b"PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n"),
        (S, b"HTTP/1.1 100 Continue\r\n\r\n"),
        (C, b"0123456789"),
        (S, b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
            b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"),
    ]),
    "websocket-101": (0, [
        (C, WS_REQ),
        # Sent before the 101 arrives: held by the request side, handed over as `buffered`.
        (C, ws_frame(0x1, b"Hello", key=KEY)),
        (S, WS_RESP + ws_frame(0x1, b"Hello") + ws_frame(0x9, b"ping")),
        (C, ws_frame(0xA, b"ping", key=KEY) + ws_frame(0x2, bytes(200), key=KEY)),
        (S, ws_frame(0x1, b"Hel", fin=False) + ws_frame(0x0, b"lo")),
        (C, ws_frame(0x8, struct.pack(">H", 1000) + b"bye", key=KEY)),
        (S, ws_frame(0x8, struct.pack(">H", 1000))),
    ]),
    "websocket-101-skips": (2, [
        (C, WS_REQ),
        (S, WS_RESP + ws_frame(0x2, bytes(300)) + ws_frame(0x2, bytes(130), length_form=64)),
        (C, ws_frame(0x8, struct.pack(">H", 1001), key=KEY)),
    ]),
    "http09": (0, [
        (C, b"GET /old.html\r\n"),
        (S, b"<html>HTTP/0.9 has no status line</html>\n"),
    ]),
    "connect-tunnel": (0, [
        (C, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
            b"\x16\x03\x01\x00\x05hello"),
        (S, b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03\x00\x02hi"),
    ]),
    "absurd-content-length": (2, [
        (C, b"GET /big HTTP/1.1\r\nHost: h\r\n\r\nGET /bigger HTTP/1.1\r\nHost: h\r\n\r\n"),
        (S, b"HTTP/1.1 200 OK\r\nContent-Length: 9007199254740992\r\n\r\nxyz"),
    ]),
    "content-length-u64-max": (0, [
        (C, b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551615\r\n\r\nabc"),
        (S, b"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\nbody"),
    ]),
    "close-delimited-1.0": (1, [
        (C, b"GET / HTTP/1.0\r\n\r\n"),
        (S, b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>until close</html>"),
    ]),
    "smuggling-te-cl": (0, [
        (C, b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n"
            b"\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nContent-Length: 1, 2\r\n\r\n"),
        (S, b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
    ]),
}

# name: (sender 0 client, 1 server, 2 unknown, plus option bits; stream; ops (a, b)).
WS_SEEDS: dict[str, tuple[int, bytes, list[tuple[int, int]]]] = {
    "client-masked-text-close": (0, ws_frame(0x1, b"Hello", key=KEY)
                                 + ws_frame(0x8, struct.pack(">H", 1000) + b"done", key=KEY), []),
    "server-fragments-ping": (1, ws_frame(0x1, b"Hel", fin=False) + ws_frame(0x9, b"Hello")
                              + ws_frame(0x0, b"lo") + ws_frame(0xA, b""), [(1, 0)]),
    "length-16": (1 | 4, ws_frame(0x2, bytes(range(256)) * 2) + ws_frame(0x8, b""), []),
    # A 64-bit length of 2^16 whose payload is a capture gap (gap extra 2^16, op a=2|2<<2).
    "length-64-gap": (1, ws_frame(0x2, b"", length_form=64)[:2] + struct.pack(">Q", 1 << 16)
                      + ws_frame(0x8, struct.pack(">H", 1001)), [(0, 10), (2 | (2 << 2), 0), (0, 0)]),
    "non-minimal-lengths": (2, ws_frame(0x1, b"abc", length_form=16)
                            + ws_frame(0x1, b"abc", length_form=64, key=KEY), []),
    "close-bad-code-reason": (0, ws_frame(0x8, struct.pack(">H", 1005) + b"\xff\xfe", key=KEY)
                              + ws_frame(0x1, b"late", key=KEY), [(1 | (2 << 2), 0)]),
}


def http_seed(options: int, segments: list[tuple[int, bytes]]) -> bytes:
    """The http_parser input: feed operations in segment order (kind 0, x1 lengths)."""
    client = b"".join(b for d, b in segments if d == C)
    server = b"".join(b for d, b in segments if d == S)
    ops: list[tuple[int, int]] = []
    for d, b in segments:
        n = len(b)
        while n > 0:
            ops.append((d, min(n, 255)))
            n -= min(n, 255)
    if len(ops) > 31:
        ops = []
    return (bytes([options]) + struct.pack("<H", len(client)) + bytes([len(ops)])
            + b"".join(bytes(o) for o in ops) + client + server)


def ws_seed(options: int, stream: bytes, ops: list[tuple[int, int]]) -> bytes:
    return bytes([options, len(ops)]) + b"".join(bytes(o) for o in ops) + stream


def write_app_seeds() -> None:
    n = 0
    for options, segments in APP_SEEDS.values():
        n += save(HERE / "seeds" / "http_parser", http_seed(options, segments))
    for options, stream, ops in WS_SEEDS.values():
        n += save(HERE / "seeds" / "ws_parser", ws_seed(options, stream, ops))
    print(f"{n} new http_parser/ws_parser seeds in {HERE / 'seeds'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inputs", nargs="*", type=Path)
    ap.add_argument("--max-bytes", type=int, default=65536,
                    help="skip capture files larger than this (default 65536)")
    ap.add_argument("--max-frame", type=int, default=4096,
                    help="cut frames after this many bytes (default 4096)")
    ap.add_argument("--seeds", action="store_true",
                    help="write to seeds/ (committed) instead of corpus/: options byte 0 "
                    "only, at most 3 frames per link type, no checksum variants")
    ap.add_argument("--app-seeds", action="store_true",
                    help="write the hand-written http_parser and ws_parser seeds")
    args = ap.parse_args()
    if args.app_seeds:
        write_app_seeds()
        if not args.inputs:
            return 0
    elif not args.inputs:
        ap.error("no capture files given")
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
