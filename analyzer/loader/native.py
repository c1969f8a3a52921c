"""Read a capture with the native engine (``analyzer._engine``, Rust): the engine reads the
file, decodes every layer and tracks the connections itself; this module turns its record
batches into :class:`ConnectionRecord` objects and its errors into the project's errors.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from analyzer import _engine
from analyzer.core.columns import NativeBatch
from analyzer.core.packets import HttpMessage, PacketRecord, WsFrame
from analyzer.errors import CaptureError
from analyzer.loader.files import check_file

#: ``on_progress(path, bytes_read, total, packets)``: how far a read has got (see
#: ``analyzer.progress``). ``total`` is the file's size in bytes, 0 when unknown (then
#: ``bytes_read`` is 0 too and only ``packets`` counts).
OnProgress = Callable[[str, int, int, int], None]

#: With a progress callback, the engine hands control back at least every this many
#: frames (with an empty batch when every record is still held back), so that a display
#: moves even while one long connection holds every record until the end.
PROGRESS_EVERY = 65_536


class NeedsTshark(Exception):
    """The capture has a link type or encapsulation the engine does not decode."""


@dataclass(slots=True)
class NativeRead:
    """What a native read found besides records, filled in while batches are read."""

    packets: int = 0
    frames: int = 0
    warnings: list[str] = field(default_factory=list)
    truncated_at: int | None = None


def read_native(path: str, check_checksums: bool = False, read: NativeRead | None = None,
                batch: int = 1024, app_details: bool = True,
                select_frames: Sequence[int] | None = None,
                on_progress: OnProgress | None = None,
                progress_every: int | None = None,
                shard: tuple[int, int] | None = None) -> Iterator[NativeBatch]:
    """Batches of records, in start order, as the engine hands them over.

    ``app_details=False`` leaves each record's HTTP transactions and WebSocket sessions out
    (their counts stay), for a run that writes connection records only.

    ``select_frames``: only the connections with a packet in one of these frames (those a
    display filter matched) are kept, each built from all of its packets; the engine drops
    the others before they reach Python. None keeps every connection.

    ``shard=(index, count)``: only the connections of the host pairs that hash to shard
    ``index`` of ``count`` (``_engine.shard_of``); the other pairs' packets are dropped at
    their IP header. ``read.packets`` then counts this shard's packets.

    Raises CaptureError for a file that cannot be read at all and NeedsTshark for one the
    engine cannot decode. A capture cut short is read up to the cut and noted in
    ``read.warnings`` / ``read.truncated_at``, with the tshark loader's words.

    ``on_progress(path, bytes_read, total, packets)`` is called after each batch the engine
    hands over (``reader.bytes_read``: bytes of the file read, compressed ones for gzip or
    zstd; ``total``: the file's size; ``reader.packets``), and once more at the end (then
    ``bytes_read == total`` for a capture read whole). With it, the engine returns at least
    every ``progress_every`` frames (default ``PROGRESS_EVERY``); empty batches are not
    yielded.
    """
    read = read if read is not None else NativeRead()
    check_file(path)
    total = 0
    every = 0
    if on_progress is not None:
        every = progress_every if progress_every is not None else PROGRESS_EVERY
        try:
            total = os.path.getsize(path)
        except OSError:
            total = 0
    try:
        reader = _engine.read_capture(path, check_checksums=check_checksums, batch=batch,
                                      app_details=app_details, select_frames=select_frames,
                                      progress_every=max(0, every), shard=shard)
        for engine_batch in reader:
            read.packets, read.frames = reader.packets, reader.frames
            if on_progress is not None:
                on_progress(path, reader.bytes_read, total, reader.packets)
            if len(engine_batch):
                yield NativeBatch(path, engine_batch)
    except _engine.UnsupportedCapture as exc:
        raise NeedsTshark(str(exc)) from None
    except _engine.CaptureFormatError as exc:
        raise CaptureError(path, str(exc)) from None
    except _engine.EnginePanic as exc:
        raise CaptureError(path, f"internal error in the native engine {exc}") from None
    except OSError as exc:
        raise CaptureError(path, exc.strerror or str(exc)) from None
    read.packets, read.frames = reader.packets, reader.frames
    if on_progress is not None:
        on_progress(path, reader.bytes_read, total, reader.packets)
    cut = reader.truncation
    if cut is not None:
        after, cut_short, _detail = cut
        read.truncated_at = after
        if cut_short:
            read.warnings.append(f"truncated after frame {after} (the rest is cut off)")
        else:
            read.warnings.append(f"damaged after frame {after}; read up to there")


def connection_packets(path: str, first_frame: int, last_frame: int,
                       client: tuple[str, int], server: tuple[str, int],
                       check_checksums: bool = False) -> list[PacketRecord]:
    """The TCP packets of one connection (between the two endpoints, in frames
    ``first_frame..last_frame``), read natively, each with the HTTP heads and WebSocket
    frames the engine's parsers completed in it (for ``explain`` and the report's ladders).

    Raises CaptureError for a file that cannot be read and NeedsTshark for one the engine
    does not decode.
    """
    try:
        rows = _engine.connection_segments(path, first_frame, last_frame, client, server,
                                           check_checksums=check_checksums)
    except _engine.UnsupportedCapture as exc:
        raise NeedsTshark(str(exc)) from None
    except (_engine.CaptureFormatError, _engine.EnginePanic) as exc:
        raise CaptureError(path, str(exc)) from None
    except OSError as exc:
        raise CaptureError(path, exc.strerror or str(exc)) from None
    out = []
    for (frame, ts_ns, ipv, src, sport, dst, dport, ip_len, flags, seq, ack, plen, window,
         captured, bad, http, ws, options) in rows:
        out.append(PacketRecord(
            frame, ts_ns, "tcp", ipv, src, sport, dst, dport, ip_len, flags, seq, ack, plen,
            window, captured, bad,
            http=tuple(HttpMessage(
                is_request=m["is_request"], method=m["method"], target=m["target"],
                version=m["version"], status=m["status"], reason=m["reason"],
                headers=tuple(tuple(h) for h in m["headers"]),
                chunk_sizes=tuple(m["chunk_sizes"])) for m in http),
            ws=tuple(WsFrame(**f) for f in ws), options=options))
    return out
