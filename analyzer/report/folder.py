"""``report --out DIR``: the report folder (Markdown, HTML, Parquet, CSV, JUnit)."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from analyzer.core.packets import PacketRecord
from analyzer.core.records import ConnectionRecord
from analyzer.errors import AnalyzerError
from analyzer.report import explain
from analyzer.report.app import http_frame, websocket_frame
from analyzer.report.frame import to_frame
from analyzer.report.markdown import CaptureLike, render_markdown
from analyzer.report.problems import pick_connections
from analyzer.report.summary import RETRANS_THRESHOLD, summarize
from analyzer.report.writers import flat_frame, write_parquet

if TYPE_CHECKING:
    import pandas as pd

#: Hands the report the packets of the connections it draws (uid -> packets; a connection
#: missing from the answer gets no diagram; an ``AnalyzerError`` means none). Built outside
#: ``report/``: ``analyzer.reread.packet_source(options)``.
PacketSource = Callable[[Sequence[ConnectionRecord]], Mapping[str, Sequence[PacketRecord]]]

#: How many connections get a ladder (report.md's Mermaid, report.html's SVG).
LADDERS = 3


def ladders(results: Sequence[CaptureLike], packets: PacketSource, limit: int = LADDERS,
            retrans_threshold: float = RETRANS_THRESHOLD
            ) -> list[tuple[ConnectionRecord, list[explain.Step]]]:
    """The ladders of the connections that matter most (``report.problems``'
    ``pick_connections``: the worst of each kind of problem, then complete ones), each
    replayed from the packets ``packets`` hands back; none when it cannot read them."""
    records = [r for c in results for r in c.records]
    chosen = pick_connections(records, limit, retrans_threshold)
    if not chosen:
        return []
    try:
        found = packets(chosen)
    except AnalyzerError:
        return []
    return [(rec, explain.ladder(rec, found[rec.uid])) for rec in chosen if rec.uid in found]


def diagrams(drawn: Sequence[tuple[ConnectionRecord, list[explain.Step]]]) -> dict[str, str]:
    """report.md's Mermaid ladders (uid -> block)."""
    return {rec.uid: explain.render_mermaid(rec, steps) for rec, steps in drawn}


@contextlib.contextmanager
def staged(out_dir: Path) -> Iterator[Path]:
    """A folder to write the report into, moved into place as ``out_dir`` when the block
    ends without an error; on an error it is removed and ``out_dir`` is as it was.

    The folder is made beside ``out_dir`` (same file system: the move is a rename). An
    ``out_dir`` that exists keeps its other files; each of the report's replaces its
    namesake in one step, so no reader ever sees a half-written file.
    """
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a directory", str(out_dir))
    try:
        stage = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial",
                                      dir=out_dir.parent))
    except OSError as exc:
        exc.filename = str(out_dir)  # not the staging folder's made-up name
        raise
    try:
        umask = os.umask(0)
        os.umask(umask)
        stage.chmod(0o777 & ~umask)  # mkdtemp's 0700 would become the report folder's
        yield stage
        if out_dir.is_dir():
            for item in sorted(stage.iterdir()):
                target = out_dir / item.name
                if item.is_dir() and target.is_dir():  # a dataset's partition: replaced whole
                    shutil.rmtree(target)
                os.replace(item, target)
        else:
            os.rename(stage, out_dir)
    except OSError as exc:
        # Name the file as the user knows it, not its place in the staging folder.
        if exc.filename and Path(exc.filename).is_relative_to(stage):
            exc.filename = str(out_dir / Path(exc.filename).relative_to(stage))
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def write_report(results: Sequence[CaptureLike], out_dir: Path, *,
                 csv: bool = False, title: str = "pcap-analyzer report",
                 checks: Sequence[dict[str, object]] = (),
                 step_summary: bool = True,
                 retrans_threshold: float = RETRANS_THRESHOLD,
                 packets: PacketSource | None = None) -> list[Path]:
    """Write the folder; return the files written. A connection retransmitting more than
    ``retrans_threshold`` of its segments is listed in the problems. ``packets`` hands back
    the packets of the connections the report draws (``analyzer.reread.packet_source``,
    given by the caller: ``report/`` reads no capture); without it, no ladders."""
    out_dir.mkdir(parents=True, exist_ok=True)
    drawn = [] if packets is None else ladders(results, packets,
                                               retrans_threshold=retrans_threshold)
    records = [r for c in results for r in c.records]
    written: list[Path] = []
    markdown = render_markdown(results, diagrams(drawn), title=title, checks=checks,
                               retrans_threshold=retrans_threshold)
    md_path = out_dir / "report.md"
    md_path.write_text(markdown, encoding="utf-8")
    written.append(md_path)
    connections = to_frame(records)
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
    html_path.write_text(_html(results, connections, http, websockets, title, checks,
                               retrans_threshold, drawn), encoding="utf-8")
    written.append(html_path)
    if step_summary:
        append_step_summary(md_path)
    return written


def append_step_summary(markdown: Path) -> None:
    """Append report.md to the file ``GITHUB_STEP_SUMMARY`` names, when it names one (the
    job summary of a GitHub Actions step)."""
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        with open(summary_file, "a", encoding="utf-8") as fh:
            fh.write(markdown.read_text(encoding="utf-8"))


def _html(results: Sequence[CaptureLike], connections: pd.DataFrame, http: pd.DataFrame,
          websockets: pd.DataFrame, title: str, checks: Sequence[dict[str, object]],
          retrans_threshold: float,
          drawn: Sequence[tuple[ConnectionRecord, list[explain.Step]]]) -> str:
    from analyzer.report.html import render_html

    captures = [(c.path, c.status) for c in results]
    records = [r for c in results for r in c.records]
    statuses = [(c.path, c.status, c.packets) for c in results]
    summary = summarize(connections, records, statuses=statuses)
    generated = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return render_html(connections, http, websockets, summary, captures, title=title,
                       generated=generated, checks=list(checks) or None,
                       retrans_threshold=retrans_threshold,
                       ladders={(rec.capture, rec.uid): steps for rec, steps in drawn})
