#!/usr/bin/env python3
"""Time pcap-analyzer's scale-out options (``--jobs``, ``--shards``, ``--dask``) on one capture.

Every row is a real ``pcap-analyzer connections ... -f parquet -o OUT -q`` run under GNU time
(``/usr/bin/time -f "%e %M"``: wall seconds, and the max RSS of the largest process among the
command and its waited-for children). The rows, run ``--runs`` times interleaved round by round
(the median wall time is reported):

- ``local, 1 file``: the capture in one process, the reference for the speed-ups;
- the capture split by ``editcap -c`` into 10 files of equal packet counts (once, untimed), all
  10 on one command line: ``-j 1``, ``-j 2``, ``--dask local:1``, ``--dask local:2``;
- the capture as 4 shards by host pair (each shard reads the whole file): ``--shards 4`` with
  ``-j 1``, ``-j 2``, ``--dask local:1``, ``--dask local:2``;
- the per-task overhead: a tiny capture as 1 task and as 40 tasks (40 copies of it), on
  ``--dask local:2`` and on ``-j 2``; overhead per task = (wall(40) - wall(1)) / 39, and
  wall(1) on Dask is the cluster's start-up and tear-down.

Writes a section between ``<!-- scale-out:begin -->`` and ``<!-- scale-out:end -->`` in
``bench/results.md`` (replaced if present, else appended; ``bench/run_bench.py`` rewrites that
file, so run this after it) and the raw figures to ``bench/scale_out.json`` (next to ``--out``).
``make bench`` runs it on the last of its sizes; alone:

    .venv/bin/python bench/scale_out.py --size large --runs 3
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from run_bench import (  # bench/ is on the path of a script run from it
    _without_command,
    commit_id,
    machine_info,
)

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's bin/ when run as .venv/bin/python
ANALYZER = str(BIN / "pcap-analyzer")
GNU_TIME = "/usr/bin/time"
SIZES = ("small", "medium", "large")
BEGIN = "<!-- scale-out:begin -->"
END = "<!-- scale-out:end -->"
TINY = ROOT / "captures" / "real" / "http10.pcapng"
SPLIT_FILES = 10
SHARDS = 4
TINY_TASKS = 40
#: The whole capture given this many times: enough work to stand out from the start-up.
HEAVY = 10
KIB_PER_MIB = 1024
REFERENCE = "local, 1 file"


def log(msg: str) -> None:
    print(f"[scale-out {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- rows


@dataclass
class Row:
    """One measured command: ``pcap-analyzer connections INPUTS EXTRA -f parquet -o OUT -q``."""

    name: str
    group: str  # single, files, shards, overhead
    inputs: list[Path]
    extra: list[str]
    tasks: int
    workers: str
    shown: str  # the command as quoted in the table
    packets: int | None = None  # of the corpus; None for the tiny capture
    dask: bool = False

    def argv(self, out: Path) -> list[str]:
        return [ANALYZER, "connections", *map(str, self.inputs), *self.extra,
                "-f", "parquet", "-o", str(out), "-q"]


@dataclass
class Run:
    row: str
    round: int
    wall_s: float  # GNU time's %e
    elapsed_s: float  # perf_counter around the command, GNU time included
    maxrss_kib: int  # GNU time's %M


@dataclass
class Summary:
    row: str
    group: str
    tasks: int
    workers: str
    shown: str
    runs: int
    wall_s: float
    walls: list[float] = field(default_factory=list)
    peak_rss_mib: float = 0.0
    packets: int | None = None
    packets_per_s: float | None = None
    speedup: float | None = None


def build_rows(cap: Path, packets: int, parts: list[Path], tiny: list[Path]) -> list[Row]:
    name = cap.name
    files = f"{cap.stem}_part*.pcap ({len(parts)} files)"
    rows = [Row(REFERENCE, "single", [cap], [], 1, "1 process",
                f"connections {name} -f parquet -o T/a.parquet -q", packets)]
    for jobs in (1, 2):
        rows.append(Row(f"{len(parts)} files, local -j {jobs}", "files", parts, ["-j", str(jobs)],
                        len(parts), _procs(jobs),
                        f"connections {files} -j {jobs} -f parquet -o T/a.parquet -q", packets))
    for n in (1, 2):
        rows.append(Row(f"{len(parts)} files, --dask local:{n}", "files", parts,
                        ["--dask", f"local:{n}"], len(parts), _workers(n),
                        f"connections {files} --dask local:{n} -f parquet -o T/ds{n} -q",
                        packets, dask=True))
    for jobs in (1, 2):
        rows.append(Row(f"{name} ×{HEAVY}, local -j {jobs}", "heavy", [cap] * HEAVY,
                        ["-j", str(jobs)], HEAVY, _procs(jobs),
                        f"connections {name} (×{HEAVY}) -j {jobs} -f parquet -o T/a.parquet -q",
                        packets * HEAVY))
    for n in (1, 2):
        rows.append(Row(f"{name} ×{HEAVY}, --dask local:{n}", "heavy", [cap] * HEAVY,
                        ["--dask", f"local:{n}"], HEAVY, _workers(n),
                        f"connections {name} (×{HEAVY}) --dask local:{n} -f parquet "
                        f"-o T/ds{n} -q", packets * HEAVY, dask=True))
    for jobs in (1, 2):
        rows.append(Row(f"--shards {SHARDS} -j {jobs}", "shards", [cap],
                        ["--shards", str(SHARDS), "-j", str(jobs)], SHARDS, _procs(jobs),
                        f"connections {name} --shards {SHARDS} -j {jobs} -f parquet "
                        "-o T/a.parquet -q", packets))
    for n in (1, 2):
        rows.append(Row(f"--shards {SHARDS} --dask local:{n}", "shards", [cap],
                        ["--shards", str(SHARDS), "--dask", f"local:{n}"], SHARDS, _workers(n),
                        f"connections {name} --shards {SHARDS} --dask local:{n} -f parquet "
                        f"-o T/ds{n} -q", packets, dask=True))
    rows.append(Row("tiny ×1, --dask local:1", "overhead", tiny[:1], ["--dask", "local:1"], 1,
                    _workers(1), f"connections {TINY.name} --dask local:1 -f parquet -o T/ds -q",
                    dask=True))
    for label, extra, dask, workers in (("--dask local:2", ["--dask", "local:2"], True,
                                         _workers(2)),
                                        ("local -j 2", ["-j", "2"], False, _procs(2))):
        for inputs in (tiny[:1], tiny):
            count = len(inputs)
            out = "T/ds" if dask else "T/a.parquet"
            what = TINY.name if count == 1 else f"{TINY.stem}_NN{TINY.suffix} ({count} copies)"
            rows.append(Row(f"tiny ×{count}, {label}", "overhead", inputs, extra, count,
                            workers if count > 1 or dask else "1 process",
                            f"connections {what} {' '.join(extra)} -f parquet -o {out} -q",
                            dask=dask))
    return rows


def _procs(jobs: int) -> str:
    return "1 process" if jobs == 1 else f"{jobs} pool processes"


def _workers(n: int) -> str:
    return f"{n} Dask worker{'s' if n > 1 else ''}"


# --------------------------------------------------------------------------- measuring


def measure(row: Row, rnd: int, out_dir: Path, timeout: float) -> Run:
    """Run ``row`` once under GNU time; exit on a non-zero exit code, quoting the command."""
    out = out_dir / f"{_slug(row.name)}-r{rnd}" if row.dask else \
        out_dir / f"{_slug(row.name)}-r{rnd}.parquet"
    timefile = out_dir / "time.txt"
    argv = row.argv(out)
    cmd = [GNU_TIME, "-f", "%e %M", "-o", str(timefile), *argv]
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              cwd=ROOT, timeout=timeout)
    except subprocess.TimeoutExpired:
        sys.exit(f"timed out after {timeout:.0f} s: {shlex.join(argv)}")
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"exit code {proc.returncode}: {shlex.join(argv)}\n"
                 f"--- stderr ---\n{proc.stderr.strip()}\n--- GNU time ---\n"
                 f"{_read(timefile).strip()}")
    fields = _read(timefile).split()
    try:
        wall, maxrss = float(fields[-2]), int(fields[-1])
    except (IndexError, ValueError):
        sys.exit(f"cannot read GNU time's output {_read(timefile)!r} for {shlex.join(argv)}")
    shutil.rmtree(out) if out.is_dir() else out.unlink(missing_ok=True)
    return Run(row.name, rnd, wall, round(elapsed, 4), maxrss)


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).strip("-")


def split_capture(cap: Path, packets: int, into: Path) -> list[Path]:
    """``cap`` as files of ceil(packets / 10) packets each (``editcap -c``)."""
    editcap = shutil.which("editcap")
    if not editcap:
        sys.exit("editcap not found (it comes with tshark's package: make tshark)")
    into.mkdir(parents=True, exist_ok=True)
    per_file = math.ceil(packets / SPLIT_FILES)
    argv = [editcap, "-c", str(per_file), str(cap), str(into / f"{cap.stem}_part.pcap")]
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"exit code {proc.returncode}: {shlex.join(argv)}\n{proc.stderr.strip()}")
    parts = sorted(into.glob(f"{cap.stem}_part_*.pcap"))
    if len(parts) != SPLIT_FILES:
        sys.exit(f"{shlex.join(argv)} made {len(parts)} files, not {SPLIT_FILES}")
    return parts


def tiny_copies(into: Path) -> list[Path]:
    """40 copies of the tiny capture under distinct names: 40 tasks, 40 dataset partitions."""
    into.mkdir(parents=True, exist_ok=True)
    copies = []
    for i in range(TINY_TASKS):
        dest = into / f"{TINY.stem}_{i:02d}{TINY.suffix}"
        shutil.copyfile(TINY, dest)
        copies.append(dest)
    return copies


def warm_up(paths: list[Path], tiny: Path, out_dir: Path) -> None:
    """The files into the page cache and the analyzer's libraries loaded once, untimed."""
    for path in paths:
        with open(path, "rb") as fh:
            while fh.read(1 << 22):
                pass
    out = out_dir / "warm"
    subprocess.run([ANALYZER, "connections", str(tiny), "--dask", "local:1", "-f", "parquet",
                    "-o", str(out), "-q"], capture_output=True, cwd=ROOT)
    shutil.rmtree(out, ignore_errors=True)


def summarize(rows: list[Row], runs: list[Run]) -> dict[str, Summary]:
    out: dict[str, Summary] = {}
    for row in rows:
        mine = [r for r in runs if r.row == row.name]
        walls = [r.wall_s for r in mine]
        wall = statistics.median(walls)
        out[row.name] = Summary(row.name, row.group, row.tasks, row.workers, row.shown,
                                len(mine), wall, walls,
                                max(r.maxrss_kib for r in mine) / KIB_PER_MIB, row.packets,
                                row.packets / wall if row.packets and wall > 0 else None)
    ref = out[REFERENCE].wall_s
    for s in out.values():
        if s.packets and s.wall_s > 0:
            s.speedup = ref / s.wall_s
    return out


# --------------------------------------------------------------------------- markdown


def _secs(value: float) -> str:
    return f"{value:.2f}" if value >= 10 else f"{value:.3f}"


def _ms(value: float) -> str:
    note = " (below the timing noise)" if value < 0 else ""
    return f"{value * 1000:.1f} ms{note}"


def table(summ: dict[str, Summary]) -> list[str]:
    lines = ["| row | tasks | workers / processes | wall s (median) | packets/s "
             "| speed-up vs local, 1 file | peak RSS MiB | command |",
             "|---|---:|---|---:|---:|---:|---:|---|"]
    for s in summ.values():
        pps = f"{s.packets_per_s:,.0f}" if s.packets_per_s else "–"
        speed = f"{s.speedup:.2f}×" if s.speedup else "–"
        lines.append(f"| {s.row} | {s.tasks} | {s.workers} | {_secs(s.wall_s)} | {pps} "
                     f"| {speed} | {s.peak_rss_mib:.0f} | `{s.shown}` |")
    return lines


@dataclass
class Derived:
    """The figures the prose is made of (work and T_shard unclamped: <= 0 is noise)."""

    files_2v1_local: float
    files_2v1_dask: float
    shards_2v1_local: float
    shards_2v1_dask: float
    startup_dask: float
    overhead_dask: float
    startup_local: float
    overhead_local: float
    files_work: float
    shard_s: float
    shard_fraction: float
    shards_vs_single: float
    files_model: dict[int, float]
    startup_dask1: float = 0.0
    heavy_2v1_local: float = 0.0
    heavy_2v1_dask: float = 0.0
    heavy_work: float = 0.0
    heavy_model: dict[int, float] = field(default_factory=dict)


def derive(summ: dict[str, Summary]) -> Derived:
    def w(name: str) -> float:
        return summ[name].wall_s

    f = f"{SPLIT_FILES} files"
    s = f"--shards {SHARDS}"
    startup_dask = w("tiny ×1, --dask local:2")
    overhead_dask = (w(f"tiny ×{TINY_TASKS}, --dask local:2") - startup_dask) / (TINY_TASKS - 1)
    startup_local = w("tiny ×1, local -j 2")
    overhead_local = (w(f"tiny ×{TINY_TASKS}, local -j 2") - startup_local) / (TINY_TASKS - 1)
    per_task = max(0.0, overhead_dask)
    # The files' work on one worker, without the run's fixed cost and the tasks' overhead.
    startup_dask1 = w("tiny ×1, --dask local:1")
    files_work = w(f"{f}, --dask local:1") - startup_dask1 - SPLIT_FILES * per_task
    model = {n: startup_dask + max(0.0, files_work) / n + SPLIT_FILES * per_task / n
             for n in (2, 5, SPLIT_FILES)}
    shard_s = (w(f"{s} --dask local:1") - startup_dask1) / SHARDS
    single = w(REFERENCE)
    h = f"{Path(summ[REFERENCE].shown.split()[1]).name} ×{HEAVY}"
    heavy_work = w(f"{h}, --dask local:1") - startup_dask1 - HEAVY * per_task
    heavy_model = {n: startup_dask + max(0.0, heavy_work) / n + HEAVY * per_task / n
                   for n in (2, 5, HEAVY)}
    return Derived(
        startup_dask1=startup_dask1,
        heavy_2v1_local=w(f"{h}, local -j 1") / w(f"{h}, local -j 2"),
        heavy_2v1_dask=w(f"{h}, --dask local:1") / w(f"{h}, --dask local:2"),
        heavy_work=heavy_work, heavy_model=heavy_model,
        files_2v1_local=w(f"{f}, local -j 1") / w(f"{f}, local -j 2"),
        files_2v1_dask=w(f"{f}, --dask local:1") / w(f"{f}, --dask local:2"),
        shards_2v1_local=w(f"{s} -j 1") / w(f"{s} -j 2"),
        shards_2v1_dask=w(f"{s} --dask local:1") / w(f"{s} --dask local:2"),
        startup_dask=startup_dask, overhead_dask=overhead_dask,
        startup_local=startup_local, overhead_local=overhead_local,
        files_work=files_work, shard_s=shard_s, shard_fraction=shard_s / single,
        shards_vs_single=w(f"{s} -j 1") / single, files_model=model)


def prose(summ: dict[str, Summary], d: Derived, cores: int) -> list[str]:
    single = summ[REFERENCE].wall_s
    files1 = summ[f"{SPLIT_FILES} files, --dask local:1"].wall_s
    files2 = summ[f"{SPLIT_FILES} files, --dask local:2"].wall_s
    shards1 = summ[f"--shards {SHARDS} --dask local:1"].wall_s
    start = _secs(d.startup_dask)
    head = ("**Extrapolation to N hosts** (one worker each, every host reading the captures "
            "as fast as this machine reads them from its page cache; shared storage, the "
            "network and the scheduler's round trips over it are not modelled). Files: time "
            "≈ start-up + work / N + tasks × overhead / N while the files outnumber the hosts, "
            f"with start-up {start} s and overhead {_ms(d.overhead_dask)}; work = "
            f"wall({SPLIT_FILES} files, local:1) − start-up of 1 worker − {SPLIT_FILES} × "
            f"overhead = {_secs(files1)} − {_secs(d.startup_dask1)} − {SPLIT_FILES} × "
            f"{_ms(max(0.0, d.overhead_dask))}")
    if d.files_work > 0:
        model = ", ".join(f"{n} hosts ≈ {_secs(t)} s" for n, t in d.files_model.items())
        files = (f" = {_secs(d.files_work)} s: {model} (2 workers measured here: "
                 f"{_secs(files2)} s). Beyond {SPLIT_FILES} hosts the capture has to be cut "
                 "finer, every file adds its overhead, and the start-up stays.")
    else:
        files = (f" ≤ 0: on this capture the work does not stand out from the start-up's "
                 f"noise, so N hosts take about the start-up, {start} s, whatever N; "
                 "run it on a larger capture to see the work.")
    heavy1 = next(v for k, v in summ.items() if k.endswith(f"×{HEAVY}, --dask local:1"))
    heavy2 = next(v for k, v in summ.items() if k.endswith(f"×{HEAVY}, --dask local:2"))
    if d.heavy_work > 0:
        model = ", ".join(f"{n} hosts ≈ {_secs(t)} s" for n, t in d.heavy_model.items())
        heavy = (f" With more work per task ({heavy1.row.split(',')[0]}: {HEAVY} tasks of the "
                 f"whole capture), work = {_secs(heavy1.wall_s)} − "
                 f"{_secs(d.startup_dask1)} (start-up of 1 worker) − {HEAVY} × overhead = "
                 f"{_secs(d.heavy_work)} s: {model} (2 workers measured here: "
                 f"{_secs(heavy2.wall_s)} s).")
    else:
        heavy = ""
    shard_head = (" Shards: every shard reads the whole file, so one shard's time is about "
                  "a floor, whatever N: T_shard = "
                  f"(T(--shards {SHARDS} --dask local:1) − start-up of 1 worker) / {SHARDS} = "
                  f"({_secs(shards1)} − {_secs(d.startup_dask1)}) / {SHARDS}")
    if d.shard_s > 0:
        best = single / (d.startup_dask + d.shard_s)
        shards = (f" = {_secs(d.shard_s)} s, and N hosts with one shard each take ≈ start-up "
                  f"+ T_shard = {_secs(d.startup_dask + d.shard_s)} s (with more shards a "
                  "shard tracks fewer pairs and takes somewhat less, never less than reading "
                  "and decoding the whole file). T_shard is "
                  f"{d.shard_fraction:.0%} of the local single-process time "
                  f"({_secs(single)} s): {1 / d.shard_fraction:.2f}× is about the best speed-up "
                  "sharding can give on this capture, whatever N; counting the start-up, "
                  f"{best:.2f}×.")
    else:
        shards = (" ≤ 0: the shards' work does not stand out from the start-up's noise on "
                  f"this capture, so N hosts take about the start-up, {start} s, against "
                  f"{_secs(single)} s for the local single process.")
    return [
        f"**Two workers over one.** {SPLIT_FILES} files: {d.files_2v1_local:.2f}× on the local "
        f"pool (`-j 2` vs `-j 1`), {d.files_2v1_dask:.2f}× on Dask (`local:2` vs `local:1`). "
        f"{SHARDS} shards: {d.shards_2v1_local:.2f}× local, {d.shards_2v1_dask:.2f}× on Dask. "
        f"The whole capture {HEAVY} times: {d.heavy_2v1_local:.2f}× local, "
        f"{d.heavy_2v1_dask:.2f}× on Dask. "
        f"The machine has {cores} cores, so {cores} workers is the most that can help "
        f"({cores:.2f}× at best), and the analyzer's own read-ahead thread and anything else "
        "running share those cores.",
        "",
        f"**Per-task overhead.** On `--dask local:2` one tiny task takes {start} s: the run's "
        f"fixed cost, {_secs(d.startup_dask - d.startup_local)} s more than the same task on "
        "the local pool, that is the cluster's start-up and tear-down (scheduler, worker "
        f"processes and their imports). Each further task costs {_ms(d.overhead_dask)} "
        f"((wall({TINY_TASKS}) − wall(1)) / {TINY_TASKS - 1}). On the local pool (`-j 2`) one "
        f"task takes {_secs(d.startup_local)} s, the CLI's own start (a single task runs in "
        f"the process itself, so the {TINY_TASKS}-task run also pays for starting the pool), "
        f"and each further task {_ms(d.overhead_local)}.",
        "",
        "**Sharding's cost.** Every shard reads and decodes the whole file and tracks only "
        f"its host pairs: {SHARDS} shards one after the other in one process (`-j 1`) take "
        f"{d.shards_vs_single:.2f}× the time of the single pass ({_secs(single)} s).",
        "",
        head + files + heavy + shard_head + shards,
    ]


def render(ctx: dict[str, Any], summ: dict[str, Summary], d: Derived) -> str:
    m = ctx["machine"]
    cores = _cores(ctx)
    out = [
        BEGIN,
        "## Scale-out", "",
        f"Date: {ctx['date']}", "",
        f"Command: `{ctx['command']}` (runs `{ctx['script']}`)", "",
        f"Machine: nproc {m['nproc']}, {m['cpu_model']}, kernel {m['kernel']}, pcap-analyzer "
        f"commit {ctx['commit']}. The machine has {cores} cores, so {cores} workers is the most "
        "that can help.", "",
        f"Corpus: `{ctx['capture']}` ({ctx['packets']:,} packets, "
        f"{ctx['file_bytes'] / 1e6:.0f} MB); the {SPLIT_FILES}-file rows use it cut by "
        f"`editcap -c {ctx['per_file']}` into {SPLIT_FILES} files (untimed), all given on one "
        f"command line; the tiny capture is `{TINY.relative_to(ROOT)}` "
        f"({TINY.stat().st_size:,} bytes), as 1 task and as {TINY_TASKS} copies.", "",
        f"Every row is `pcap-analyzer <command>` under `/usr/bin/time -f \"%e %M\"`, writing "
        f"Parquet under a temporary directory T (a file locally, a dataset directory with "
        f"`--dask`), {ctx['runs']} run(s) per row interleaved round by round; wall is the "
        "median, packets/s = packets of the corpus / median wall (the 10 files hold the "
        "corpus's packets), peak RSS is the maximum over the runs of GNU time's %M: the "
        "largest single process (the command or a worker it waited for), not a sum.", "",
        *table(summ), "",
        *prose(summ, d, cores), "",
        END,
    ]
    return "\n".join(out) + "\n"


def _cores(ctx: dict[str, Any]) -> int:
    nproc = str(ctx["machine"]["nproc"])
    return int(nproc) if nproc.isdigit() else (os.cpu_count() or 1)


def write_section(path: Path, section: str) -> None:
    """Replace the text between the markers (both included), else append the section."""
    text = path.read_text() if path.is_file() else ""
    begin, end = text.find(BEGIN), text.find(END)
    if begin != -1 and end > begin:
        text = text[:begin] + section.rstrip("\n") + text[end + len(END):]
        text = text.rstrip("\n") + "\n"
    else:
        text = (text.rstrip("\n") + "\n\n" if text.strip() else "") + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", choices=SIZES, default="large",
                   help="the capture bench-data/SIZE.pcap (default large)")
    p.add_argument("--runs", type=int, default=3, help="timed runs of each row (default 3)")
    p.add_argument("--data", type=Path, default=ROOT / "bench-data",
                   help="corpus directory (default bench-data)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results.md",
                   help="the Markdown file to put the section in (default bench/results.md); "
                   "the JSON goes next to it as scale_out.json")
    p.add_argument("--timeout", type=float, default=3600,
                   help="give up on a run after this many seconds (default 3600)")
    p.add_argument("--command", help="the command line to quote in the results "
                   "(make bench passes its own)")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cap = (args.data / f"{args.size}.pcap").resolve()
    stats_path = args.data / f"{args.size}.stats.json"
    if not cap.is_file() or not stats_path.is_file():
        sys.exit(f"missing {cap} or {stats_path} (bench/make_corpus.py --size {args.size})")
    if not Path(GNU_TIME).is_file():
        sys.exit(f"GNU time not found at {GNU_TIME} (make tshark installs it)")
    packets = int(json.loads(stats_path.read_text())["packets"])
    script = shlex.join([os.path.relpath(sys.executable, ROOT),
                         os.path.relpath(__file__, ROOT), *_without_command(sys.argv[1:])])
    ctx: dict[str, Any] = {
        "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": args.command or script, "script": script, "runs": args.runs,
        "size": args.size, "capture": f"{args.size}.pcap", "packets": packets,
        "file_bytes": cap.stat().st_size, "per_file": math.ceil(packets / SPLIT_FILES),
        "machine": machine_info(), "commit": commit_id(),
    }
    with tempfile.TemporaryDirectory(prefix="pcap-scale-out-") as tmpdir:
        tmp = Path(tmpdir)
        log(f"splitting {cap.name} into {SPLIT_FILES} files")
        parts = split_capture(cap, packets, tmp / "split")
        tiny = tiny_copies(tmp / "tiny")
        out_dir = tmp / "out"
        out_dir.mkdir()
        rows = build_rows(cap, packets, parts, tiny)
        log("warming the page cache and the imports")
        warm_up([cap, *parts], tiny[0], out_dir)
        runs: list[Run] = []
        for rnd in range(1, args.runs + 1):
            for row in rows:
                run = measure(row, rnd, out_dir, args.timeout)
                log(f"round {rnd}/{args.runs} {row.name}: {run.wall_s:.2f} s, "
                    f"{run.maxrss_kib / KIB_PER_MIB:.0f} MiB")
                runs.append(run)
    summ = summarize(rows, runs)
    derived = derive(summ)
    section = render(ctx, summ, derived)
    write_section(args.out, section)
    json_out = args.out.parent / "scale_out.json"
    json_out.write_text(json.dumps({
        **ctx,
        "rows": [{**asdict(s), "argv": shlex.join(r.argv(Path("T/out")))}
                 for r, s in zip(rows, summ.values(), strict=True)],
        "runs_raw": [asdict(r) for r in runs],
        "derived": asdict(derived),
    }, indent=2, default=str) + "\n")
    print("\n".join(table(summ)))
    print()
    print("\n\n".join(p for p in prose(summ, derived, _cores(ctx)) if p))
    log(f"wrote {args.out} and {json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
