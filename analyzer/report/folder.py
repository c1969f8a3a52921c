"""``report --out DIR``: the report folder (Markdown, HTML, Parquet, CSV, JUnit)."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from analyzer.api import Analysis, CaptureResult, resolve_engine
from analyzer.core.packets import PacketRecord
from analyzer.core.records import ConnectionRecord
from analyzer.errors import AnalyzerError
from analyzer.loader import LoadOptions, load
from analyzer.loader.extract import extract_frames
from analyzer.report import explain
from analyzer.report.app import http_frame, websocket_frame
from analyzer.report.markdown import render_markdown
from analyzer.report.problems import pick_connections
from analyzer.report.summary import RETRANS_THRESHOLD
from analyzer.report.writers import flat_frame, write_parquet


def diagrams(results: Sequence[CaptureResult], options: LoadOptions, limit: int = 3,
             retrans_threshold: float = RETRANS_THRESHOLD) -> dict[str, str]:
    """Mermaid ladders (uid -> block) of the connections that matter most: the worst of
    each kind of problem in ``report.problems``' triage, then complete ones."""
    records = [r for c in results for r in c.records]
    chosen = pick_connections(records, limit, retrans_threshold)
    out: dict[str, str] = {}
    if resolve_engine(options) == "native":
        # Each connection's packets straight from the capture, with the engine's own
        # HTTP/WebSocket parsing (no tshark).
        try:
            for rec in chosen:
                steps = explain.ladder(rec, explain.connection_packets(rec, options))
                out[rec.uid] = explain.render_mermaid(rec, steps)
            return out
        except AnalyzerError:
            out = {}
    by_capture: dict[str, list[ConnectionRecord]] = {}
    for rec in chosen:
        by_capture.setdefault(rec.capture, []).append(rec)
    for capture, recs in by_capture.items():
        wanted = {
            rec.uid: ({(rec.client_ip, rec.client_port), (rec.server_ip, rec.server_port)},
                      rec.first_frame, rec.last_frame)
            for rec in recs
        }
        packets: dict[str, list[object]] = {uid: [] for uid in wanted}
        for p in _packets_between(capture, options, [(r.first_frame, r.last_frame) for r in recs]):
            if p.proto != "tcp":
                continue
            ends = {(p.src, p.sport), (p.dst, p.dport)}
            for uid, (want_ends, first, last) in wanted.items():
                if ends == want_ends and first <= p.frame <= last:
                    packets[uid].append(p)
        for rec in recs:
            steps = explain.ladder(rec, packets[rec.uid])  # type: ignore[arg-type]
            out[rec.uid] = explain.render_mermaid(rec, steps)
    return {rec.uid: out[rec.uid] for rec in chosen if rec.uid in out}


def _packets_between(capture: str, options: LoadOptions, spans: list[tuple[int, int]]
                     ) -> Iterator[PacketRecord]:
    """The packets of the given frame ranges: read from a copy of just those frames (no
    second pass over a large capture), or from the capture when no copy can be made."""
    frames = sorted({f for first, last in spans for f in range(first, last + 1)})
    with tempfile.TemporaryDirectory(prefix="pcap-analyzer-") as tmp:
        extract = Path(tmp) / "extract.cap"
        if extract_frames(capture, frames, extract):
            yield from load(str(extract), replace(options, frame_map=tuple(frames),
                                                  session_reset=0))
            return
    yield from load(capture, replace(options, session_reset=0))


def write_report(results: Sequence[CaptureResult], out_dir: Path, options: LoadOptions, *,
                 csv: bool = False, title: str = "pcap-analyzer report",
                 checks: Sequence[dict[str, object]] = (),
                 step_summary: bool = True,
                 retrans_threshold: float = RETRANS_THRESHOLD) -> list[Path]:
    """Write the folder; return the files written. A connection retransmitting more than
    ``retrans_threshold`` of its segments is listed in the problems."""
    out_dir.mkdir(parents=True, exist_ok=True)
    analysis = Analysis(list(results))
    records = analysis.records
    written: list[Path] = []
    markdown = render_markdown(results, diagrams(results, options,
                                                 retrans_threshold=retrans_threshold),
                               title=title, checks=checks, retrans_threshold=retrans_threshold)
    md_path = out_dir / "report.md"
    md_path.write_text(markdown, encoding="utf-8")
    written.append(md_path)
    connections = analysis.connections
    http = http_frame(records)
    websockets = websocket_frame(records)
    for name, frame in (("connections", connections), ("http", http),
                        ("websockets", websockets)):
        path = out_dir / f"{name}.parquet"
        if name == "connections":
            with path.open("wb") as fh:
                write_parquet(frame, fh)
        else:
            flat_frame(frame).to_parquet(path, engine="pyarrow", index=False)
        written.append(path)
        if csv:
            from analyzer.report.writers import _csv_safe

            safe = flat_frame(frame.drop(columns=["first_time", "last_time"], errors="ignore"))
            for col in safe.columns:
                if safe[col].dtype == object or str(safe[col].dtype) in ("str", "string"):
                    safe[col] = safe[col].map(_csv_safe)
            csv_path = out_dir / f"{name}.csv"
            safe.to_csv(csv_path, index=False)
            written.append(csv_path)
    html_path = out_dir / "report.html"
    html_path.write_text(_html(analysis, http, websockets, title, checks, retrans_threshold),
                         encoding="utf-8")
    written.append(html_path)
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if step_summary and summary_file:
        with open(summary_file, "a", encoding="utf-8") as fh:
            fh.write(markdown)
    return written


def _html(analysis: Analysis, http: object, websockets: object, title: str,
          checks: Sequence[dict[str, object]], retrans_threshold: float) -> str:
    from analyzer.report.html import render_html

    captures = [(c.path, c.status) for c in analysis.captures]
    generated = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return render_html(analysis.connections, http, websockets,  # type: ignore[arg-type]
                       analysis.summary(), captures, title=title, generated=generated,
                       checks=list(checks) or None, retrans_threshold=retrans_threshold)
