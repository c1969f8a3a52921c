"""The Python API: ``analyze(paths) -> Analysis`` for notebooks and scripts.

>>> import analyzer
>>> a = analyzer.analyze("captures/real/http10.pcapng")
>>> a.connections[["client_port", "handshake", "closer", "time_wait"]]
>>> a.summary()
"""

from __future__ import annotations

import tempfile
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analyzer.core.columns import Batch, RecordsBatch, records_from_columns
from analyzer.core.records import ConnectionRecord
from analyzer.core.tracker import Tracker, TrackerConfig
from analyzer.errors import AnalyzerError, CaptureError, UsageError
from analyzer.loader import LoadOptions, LoadResult, load, tshark_info, validate_filter
from analyzer.loader.extract import extract_frames
from analyzer.loader.native import NativeRead, NeedsTshark, OnProgress, read_native
from analyzer.loader.tshark import http_ports, matching_frames, spans_reset, validate_dissection

if TYPE_CHECKING:
    import pandas as pd


@dataclass(slots=True)
class CaptureResult:
    """One capture's outcome: its records, or the error that stopped it."""

    path: str
    records: list[ConnectionRecord] = field(default_factory=list)
    packets: int = 0
    warnings: list[str] = field(default_factory=list)
    truncated_at: int | None = None
    error: AnalyzerError | None = None
    #: Which engine read the capture ("native" or "tshark").
    engine: str = "tshark"
    #: One-line notes for stderr that change no status (why the native engine handed a
    #: capture to tshark).
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.error is not None:
            return f"error: {self.error}"
        if self.warnings:
            return "warning: " + "; ".join(self.warnings)
        return "ok"


def resolve_engine(options: LoadOptions) -> str:
    """The engine a run uses: ``native`` or ``tshark``.

    ``auto`` (the default) picks the native engine unless the run needs tshark's
    dissection of every packet: ``--decode-as``, ``--pref`` or the pyshark loader (see
    ``tshark_only_options``). ``native`` with such an option is a usage error (raised by
    the CLI before any capture is read). A display filter does not need it: tshark only
    finds the frames it matches (``select``), whichever engine reads. A capture the native
    engine cannot decode is still read with tshark, with a note (``analyze_capture``).
    """
    if options.engine == "native":
        return "native"
    if options.engine == "auto" and not tshark_only_options(options):
        return "native"
    return "tshark"


def tshark_only_options(options: LoadOptions) -> list[str]:
    """The options given that need tshark's dissection of every packet (a display filter
    does not: see ``select``)."""
    found = []
    if options.decode_as:
        found.append("--decode-as")
    if options.prefs:
        found.append("--pref")
    if options.loader == "pyshark":
        found.append("--loader pyshark")
    return found


#: Receives a capture's records batch by batch (``analyzer.core.columns.Batch``).
OnBatch = Callable[[Batch], None]


def select(path: str | Path, options: LoadOptions) -> LoadOptions:
    """The options with the frames their display filter matches in this capture
    (``options.select_frames``), found by tshark once; unchanged without a filter or when
    they are already there.

    A display filter selects connections, not packets: every connection with a packet in
    one of those frames is kept, built from all of its packets (the engines read the whole
    capture), so that its lifecycle, verdict and counts are the ones it has without the
    filter. The others are dropped (by the engine's tracker, before they reach Python).
    """
    if not options.display_filter or options.select_frames is not None:
        return options
    return replace(options, select_frames=matching_frames(str(path), options))


def _no_match_note(path: str | Path, options: LoadOptions, kept: int) -> str | None:
    """The one-line note for a display filter that keeps no connection of the capture."""
    frames = options.select_frames
    if not options.display_filter or frames is None or kept:
        return None
    if not frames:
        return f"{path}: no packet matches the display filter {options.display_filter!r}"
    n = len(frames)
    return (f"{path}: the display filter {options.display_filter!r} matches {n} "
            f"packet{'s' if n != 1 else ''}, none of them in a TCP, UDP or ICMP connection")


def analyze_capture(path: str | Path, options: LoadOptions | None = None,
                    config: TrackerConfig | None = None,
                    on_batch: OnBatch | None = None,
                    on_progress: OnProgress | None = None) -> CaptureResult:
    """Read one capture with the engine the options choose; errors are kept in the result.

    The native engine reads the file itself. A capture with a link type or encapsulation
    it does not decode is read with tshark instead, with a note saying why.

    ``on_batch``: records are handed to it, in start order, as they are ready (the native
    engine hands them over while it reads; the tshark engine once, at the end) instead of
    being kept in the result, so that a writer can stream them.

    ``on_progress(path, bytes_read, total, packets)``: called while the capture is read
    (see ``analyzer.progress``); the tshark engine reports packets only (``total`` 0).
    """
    options = options or LoadOptions()
    if options.shard is not None and resolve_engine(options) == "tshark":
        return _whole_in_first_shard(path, options, config, on_batch, on_progress)
    emitted = [0]

    def counting(batch: Batch) -> None:
        emitted[0] += len(batch)
        if on_batch is not None:
            on_batch(batch)

    try:
        options = select(path, options)
    except AnalyzerError as exc:
        return CaptureResult(str(path), error=exc, engine=resolve_engine(options))
    if resolve_engine(options) == "native":
        try:
            result = analyze_native(path, options, counting if on_batch else None,
                                    on_progress)
        except NeedsTshark as exc:
            if options.shard is not None and not emitted[0]:
                result = _whole_in_first_shard(path, options, config, on_batch, on_progress)
                if options.shard[0] == 0:
                    result.notes.append(f"{path}: read with tshark: {exc}")
                return result
            if emitted[0]:
                result = CaptureResult(str(path), engine="native")
                result.error = CaptureError(
                    str(path), f"{exc}, after {emitted[0]} records were written: read it "
                    "with --engine tshark")
                return result
            result = analyze_tshark(path, options, config, on_progress)
            result.notes.append(f"{path}: read with tshark: {exc}")
    else:
        result = analyze_tshark(path, options, config, on_progress)
    if result.error is not None:
        return result
    note = _no_match_note(path, options, len(result.records) + emitted[0])
    if note is not None:
        result.notes.append(note)
    if on_batch is not None and result.engine == "tshark":
        on_batch(RecordsBatch(result.records))
        result.records = []
    return result


def _whole_in_first_shard(path: str | Path, options: LoadOptions,
                          config: TrackerConfig | None, on_batch: OnBatch | None,
                          on_progress: OnProgress | None) -> CaptureResult:
    """A shard of a capture that tshark reads: tshark cannot skip other shards' packets,
    so the first shard reads the whole capture and the others give nothing (their result
    is empty, with no packets), so that the shards together give the records once."""
    assert options.shard is not None
    if options.shard[0] == 0:
        return analyze_capture(path, replace(options, shard=None), config, on_batch,
                               on_progress)
    return CaptureResult(str(path), engine="tshark")


def analyze_native(path: str | Path, options: LoadOptions,
                   on_batch: OnBatch | None = None,
                   on_progress: OnProgress | None = None) -> CaptureResult:
    """Read one capture with the native engine; raises NeedsTshark for one it cannot
    decode. Records are kept in the result, or handed to ``on_batch`` as they come.
    With a display filter, tshark finds the frames it matches (``select``) and the engine
    keeps the connections with a packet in one of them."""
    name = str(path)
    result = CaptureResult(name, engine="native")
    read = NativeRead()
    records: list[ConnectionRecord] = []
    try:
        options = select(path, options)
        for batch in read_native(name, options.check_checksums, read,
                                 app_details=options.app_details,
                                 select_frames=options.select_frames,
                                 on_progress=on_progress, shard=options.shard):
            if on_batch is not None:
                if len(batch):
                    on_batch(batch)
            else:
                records.extend(records_from_columns(batch.columns))
    except AnalyzerError as exc:
        result.error = exc
        return result
    records.sort(key=lambda r: (r.first_ts_ns, r.first_frame))
    result.records = records
    result.packets = read.packets
    result.warnings = read.warnings
    result.truncated_at = read.truncated_at
    return result


def analyze_tshark(path: str | Path, options: LoadOptions | None = None,
                   config: TrackerConfig | None = None,
                   on_progress: OnProgress | None = None) -> CaptureResult:
    """Read one capture through tshark's dissection; errors are kept in the result.

    HTTP is found on any port: tshark dissects it on its own port list and, elsewhere, by
    a heuristic that looks at the start of each segment. The heuristic misses a request
    whose first segment is too short to recognise (a request typed byte by byte); the
    response then arrives without its request. When that happens on a connection whose
    handshake is in the capture, on a port tshark does not already decode as HTTP, the
    capture is read once more with tshark told (``-d tcp.port==P,http``) that those
    servers speak HTTP.

    tshark reports a response once its whole body is there (so that chunked body sizes
    are known). A response whose body never completed (the client reset the connection
    mid-body, or the capture lost a segment) is then never reported. The frames of just
    those connections are copied into a small temporary capture and read again with
    responses reported at the end of their head (see ``_responses_lost``), and the
    responses found that way fill in the ones missing (``_fill_lost_responses``). Only when
    that copy cannot be made (a format the copier does not read) is the whole capture read
    again instead.

    tshark drops its dissection state every ``options.session_reset`` packets, so that its
    memory stays flat; connections open across a reset are read again the same way, from
    a copy of their frames without resets (see ``_read``), so the records do not change.

    A display filter does not filter tshark's export: the capture is read whole, and the
    tracker keeps the connections with a packet in a frame the filter matches (``select``),
    as the native engine does.
    """
    options = options or LoadOptions()
    try:
        options = select(path, options)
    except AnalyzerError as exc:
        return CaptureResult(str(path), error=exc)
    result, kept = _read(path, options, config, on_progress)
    if result.error is not None:
        return result
    missed = _ports_with_unmatched_responses(result.records)
    if missed:
        missed -= http_ports(options.tshark_path)
    rules = tuple(f"tcp.port=={port},http" for port in sorted(missed))
    rules = tuple(r for r in rules if r not in options.decode_as)
    if rules:
        options = replace(options, decode_as=options.decode_as + rules)
        result, kept = _read(path, options, config, on_progress)
        if result.error is not None:
            return result
    if kept:
        heads_only = replace(options, http_body_reassembly=False, session_reset=0)
        heads = _reread(path, heads_only, config, kept)
        records = heads[0] if heads is not None else (
            _analyze_once(path, heads_only, config)[0].records)
        found = {r.uid: r for r in records if r.uid in kept}
        result.records = [_fill_lost_responses(r, found[r.uid]) if r.uid in found else r
                          for r in result.records]
    return result


def _read(path: str | Path, options: LoadOptions, config: TrackerConfig | None,
          on_progress: OnProgress | None = None,
          ) -> tuple[CaptureResult, dict[str, array[int]]]:
    """One reading of the capture, with tshark's session resets if asked for: connections
    open across a reset are read again from a copy of their frames, without resets, and
    those records replace the first ones. Returns the result and the frames kept of the
    connections whose response never completed."""
    result, kept = _analyze_once(path, options, config, _keep_frames_if(options),
                                 on_progress)
    every = options.resets
    spanning = {r.uid for r in result.records if r.uid in kept
                and spans_reset(r.first_frame, r.last_frame, every)}
    if result.error is not None or not spanning:
        return result, kept
    whole = replace(options, session_reset=0)
    again = _reread(path, whole, config, {u: kept[u] for u in spanning}, _keep_frames_if(whole))
    if again is None:
        return _analyze_once(path, whole, config, _keep_frames_if(whole), on_progress)
    records, again_kept = again
    redone = {r.uid: r for r in records if r.uid in spanning}
    result.records = [redone.get(r.uid, r) for r in result.records]
    return result, {u: f for u, f in kept.items() if u not in spanning} | again_kept


def _keep_frames_if(options: LoadOptions) -> Callable[[ConnectionRecord], bool] | None:
    """Which connections' frames the first reading keeps for a second look: those whose
    response never completed (with body reassembly on), and those with payload that stay
    open across one of tshark's session resets."""
    every, bodies = options.resets, options.http_body_reassembly
    if not every and not bodies:
        return None

    def keep(r: ConnectionRecord) -> bool:
        return (bodies and _responses_lost(r)) or (
            every > 0 and r.bytes_c2s + r.bytes_s2c > 0
            and spans_reset(r.first_frame, r.last_frame, every))

    return keep


def _responses_lost(record: ConnectionRecord) -> bool:
    """A request left without a response although the server sent data: the response's
    body probably never completed, and tshark, waiting for the whole body, never reported
    it. Such a connection is read again with responses reported at the end of their head."""
    return record.bytes_s2c > 0 and not record.websockets and any(
        tx.status is None and tx.method is not None for tx in record.transactions)


def _reread(path: str | Path, options: LoadOptions, config: TrackerConfig | None,
            kept: dict[str, array[int]],
            keep_frames_if: Callable[[ConnectionRecord], bool] | None = None,
            ) -> tuple[list[ConnectionRecord], dict[str, array[int]]] | None:
    """A second reading of just the connections in ``kept`` (uid -> their frame numbers),
    from a copy of their frames: its records, and the frames it kept in turn (original
    numbers); None if the frames could not be copied."""
    frames = sorted({f for fs in kept.values() for f in fs})
    with tempfile.TemporaryDirectory(prefix="pcap-analyzer-") as tmp:
        extract = Path(tmp) / "extract.cap"
        if not extract_frames(path, frames, extract):
            return None
        again, again_kept = _analyze_once(
            str(extract), replace(options, frame_map=tuple(frames)), config, keep_frames_if)
    if again.error is not None:
        return None
    return [replace(r, capture=str(path)) for r in again.records], again_kept


def _fill_lost_responses(first: ConnectionRecord, heads: ConnectionRecord
                         ) -> ConnectionRecord:
    """The first reading's record, with each request it left unanswered paired with the
    response that the heads-only reading found for the same request frame. Responses the
    first reading has are kept: without body reassembly, tshark misses a response head
    that shares a segment with the end of the previous body, so the heads-only reading is
    only trusted for what the first one lacks, and only after the last response both
    agree on."""
    answered = {tx.request_frame: tx for tx in heads.transactions
                if tx.status is not None and tx.request_frame is not None}
    txs, filled, last_frame = [], 0, 0
    for tx in first.transactions:
        new = answered.get(tx.request_frame or 0) if tx.status is None else None
        if new is not None and (new.response_frame or 0) > last_frame:
            tx = replace(new, trans_depth=tx.trans_depth)
            filled += 1
        last_frame = max(last_frame, tx.response_frame or 0)
        txs.append(tx)
    if not filled:
        return first
    return replace(first, transactions=tuple(txs), http_responses=first.http_responses + filled)


def _ports_with_unmatched_responses(records: list[ConnectionRecord]) -> set[int]:
    """Server ports of connections whose handshake is in the capture (so their requests
    are too) that carry a response without a request."""
    return {r.server_port for r in records if r.handshake != "not_seen"
            for tx in r.transactions if tx.method is None}


def _analyze_once(path: str | Path, options: LoadOptions, config: TrackerConfig | None,
                  keep_frames_if: Callable[[ConnectionRecord], bool] | None = None,
                  on_progress: OnProgress | None = None,
                  ) -> tuple[CaptureResult, dict[str, array[int]]]:
    config = config or TrackerConfig(check_checksums=options.check_checksums)
    name = str(path)
    result = CaptureResult(name)
    loaded = LoadResult()
    tracker = Tracker(name, config, keep_frames_if, options.select_frames)
    records: list[ConnectionRecord] = []
    try:
        for packet in load(name, options, loaded, on_progress):
            records.extend(tracker.feed(packet))
    except AnalyzerError as exc:
        result.error = exc
        return result, {}
    records.extend(tracker.finish())
    records.sort(key=lambda r: (r.first_ts_ns, r.first_frame, r.conn_id))
    result.records = records
    result.packets = loaded.packets
    result.warnings = loaded.warnings
    result.truncated_at = loaded.truncated_at
    return result, tracker.kept_frames


class Analysis:
    """The records of one or more captures, as pandas DataFrames."""

    def __init__(self, captures: list[CaptureResult]) -> None:
        self.captures = captures
        self._frame: pd.DataFrame | None = None

    @property
    def records(self) -> list[ConnectionRecord]:
        return [r for c in self.captures for r in c.records]

    @property
    def connections(self) -> pd.DataFrame:
        """One row per connection; columns as the record contract, typed (see report.frame)."""
        if self._frame is None:
            from analyzer.report.frame import to_frame

            self._frame = to_frame(self.records)
        return self._frame

    def summary(self) -> pd.DataFrame:
        """Counts by handshake, end, closer, time_wait and conn_state, RTT percentiles and
        the top server endpoints, per capture."""
        from analyzer.report.summary import summarize

        statuses = [(c.path, c.status, c.packets) for c in self.captures]
        return summarize(self.connections, self.records, statuses=statuses)


def check_options(options: LoadOptions) -> None:
    """What is checked before any file is read: the engine can apply the options, tshark is
    there when the run needs it, and the display filter is valid (tshark finds the frames
    it matches whichever engine reads). Raises UsageError, TsharkNotFound or BadFilter."""
    if resolve_engine(options) == "native":
        needs = tshark_only_options(options)
        if needs:
            raise UsageError(f"--engine native cannot apply {', '.join(needs)}: "
                             "use --engine tshark or auto")
    else:
        tshark_info(options.tshark_path)
    if options.display_filter:
        validate_filter(options.display_filter, options.tshark_path)
    validate_dissection(options.prefs, options.decode_as, options.tshark_path)


def analyze(paths: str | Path | Iterable[str | Path], *, display_filter: str | None = None,
            loader: str = "tshark", check_checksums: bool = False,
            tshark_path: str | None = None, decode_as: Iterable[str] = (),
            prefs: Iterable[str] = (), engine: str = "auto", client: Any = None,
            shards: int = 1) -> Analysis:
    """Analyze captures; raise the first capture's error if every capture failed.

    ``engine``: ``native`` (the Rust engine reads the file), ``tshark``, or ``auto``.
    ``display_filter`` keeps the connections with a packet it matches, each built from all
    of its packets (tshark finds the matching frames, whichever engine reads).

    ``client``: a ``distributed.Client`` (or ``"local:N"``, or a scheduler's address) runs
    each capture, or each of its ``shards`` (split by host pair), as a Dask task; the
    records are those of a local run, in the same order (``analyzer.cluster``). ``shards``
    without a client runs the shards in a process pool here. A failed task raises
    ``analyzer.cluster.TaskFailed``.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    options = LoadOptions(
        engine=engine,
        display_filter=display_filter,
        check_checksums=check_checksums,
        loader=loader,
        tshark_path=tshark_path,
        decode_as=tuple(decode_as),
        prefs=tuple(prefs),
    )
    check_options(options)
    if client is not None or shards > 1:
        from analyzer.cluster import run_cluster

        results = run_cluster([str(p) for p in paths], options,
                              TrackerConfig(check_checksums=check_checksums),
                              dask=client, shards=shards).results
    else:
        results = [analyze_capture(p, options) for p in paths]
    if results and all(r.error is not None for r in results):
        error = results[0].error
        assert error is not None
        raise error
    return Analysis(results)
