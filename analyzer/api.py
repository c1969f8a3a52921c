"""The Python API: ``analyze(paths) -> Analysis`` for notebooks and scripts.

>>> import analyzer
>>> a = analyzer.analyze("captures/real/http10.pcapng")
>>> a.connections[["client_port", "handshake", "closer", "time_wait"]]
>>> a.summary()
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from analyzer.core.records import ConnectionRecord
from analyzer.core.tracker import Tracker, TrackerConfig
from analyzer.errors import AnalyzerError
from analyzer.loader import LoadOptions, LoadResult, load, tshark_info

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

    @property
    def status(self) -> str:
        if self.error is not None:
            return f"error: {self.error}"
        if self.warnings:
            return "warning: " + "; ".join(self.warnings)
        return "ok"


def analyze_capture(path: str | Path, options: LoadOptions | None = None,
                    config: TrackerConfig | None = None) -> CaptureResult:
    """Read one capture; errors are kept in the result, not raised.

    HTTP is found on any port: tshark dissects it on its own port list and, elsewhere, by
    a heuristic that looks at the start of each segment. The heuristic misses a request
    whose first segment is too short to recognise (a request typed byte by byte); the
    response then arrives without its request. When that happens, the capture is read
    once more with tshark told (``-d tcp.port==P,http``) that those servers speak HTTP.
    The same second reading, with responses reported at the end of their head, recovers
    a response whose body lost a segment (see ``_responses_lost``).
    """
    options = options or LoadOptions()
    result = _analyze_once(path, options, config)
    if result.error is not None:
        return result
    missed = sorted(_ports_with_unmatched_responses(result.records))
    rules = tuple(f"tcp.port=={port},http" for port in missed)
    rules = tuple(r for r in rules if r not in options.decode_as)
    lossy = options.http_body_reassembly and _responses_lost(result.records)
    if rules or lossy:
        from dataclasses import replace

        retry = replace(options, decode_as=options.decode_as + rules,
                        http_body_reassembly=options.http_body_reassembly and not lossy)
        result = _analyze_once(path, retry, config)
    return result


def _responses_lost(records: list[ConnectionRecord]) -> bool:
    """A request left without a response although the server sent data: the response's
    body probably lost a segment, and tshark, waiting for the whole body, never reported
    it. Read again with responses reported at the end of their head."""
    return any(tx.status is None and tx.method is not None and r.bytes_s2c > 0
               and not r.websockets
               for r in records for tx in r.transactions)


def _ports_with_unmatched_responses(records: list[ConnectionRecord]) -> set[int]:
    return {r.server_port for r in records for tx in r.transactions if tx.method is None}


def _analyze_once(path: str | Path, options: LoadOptions,
                  config: TrackerConfig | None) -> CaptureResult:
    config = config or TrackerConfig(check_checksums=options.check_checksums)
    name = str(path)
    result = CaptureResult(name)
    loaded = LoadResult()
    tracker = Tracker(name, config)
    records: list[ConnectionRecord] = []
    try:
        for packet in load(name, options, loaded):
            records.extend(tracker.feed(packet))
    except AnalyzerError as exc:
        result.error = exc
        return result
    records.extend(tracker.finish())
    records.sort(key=lambda r: (r.first_ts_ns, r.first_frame))
    result.records = records
    result.packets = loaded.packets
    result.warnings = loaded.warnings
    result.truncated_at = loaded.truncated_at
    return result


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


def analyze(paths: str | Path | Iterable[str | Path], *, display_filter: str | None = None,
            loader: str = "tshark", check_checksums: bool = False,
            tshark_path: str | None = None, decode_as: Iterable[str] = (),
            prefs: Iterable[str] = ()) -> Analysis:
    """Analyze captures; raise the first capture's error if every capture failed."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    tshark_info(tshark_path)
    options = LoadOptions(
        display_filter=display_filter,
        check_checksums=check_checksums,
        loader=loader,
        tshark_path=tshark_path,
        decode_as=tuple(decode_as),
        prefs=tuple(prefs),
    )
    results = [analyze_capture(p, options) for p in paths]
    if results and all(r.error is not None for r in results):
        error = results[0].error
        assert error is not None
        raise error
    return Analysis(results)
