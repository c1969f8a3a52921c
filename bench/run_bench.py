#!/usr/bin/env python3
"""Time pcap-analyzer against tshark and pyshark on the benchmark corpus.

Every method runs on the same capture files in the same run, interleaved by round
(round 1: every method on every size, round 2: again, ...) so that load noise hits all
of them alike. Per run: wall seconds, and the resident memory of the process tree, of
the Python process(es) and of tshark, sampled from /proc every 50 ms (plus each
process's VmHWM and the direct child's ``wait4`` ru_maxrss, which catch peaks between
samples). The slow pyshark methods run once, on a 10,000-packet slice from the middle
of the capture, and their wall time is extrapolated to the whole file.

Methods come in two groups. The fast ones (the native engine, tcptrace, NFStream) run
``--runs`` times; the slow ones (everything that runs tshark: the tshark engine, the
report, tshark alone) only in the first ``--slow-runs`` rounds (default 1), so that
``make bench`` stays at about ten minutes for medium and large. ``--methods`` takes
method names and the group names ``fast``, ``slow`` and ``all``:

    make bench                                  # fast x3, slow x1 (RUNS=3)
    make bench BENCH_ARGS="--slow-runs 3"       # every method 3 times (~30 min)
    make bench BENCH_ARGS="--methods fast --no-profile"   # the native engine and peers only

Writes ``bench/results.md`` (tables, ratios against targets, a cProfile of the analyzer)
and ``bench/results.json`` (every raw figure). The corpus comes from
``bench/make_corpus.py`` (``make bench`` makes it first).

Usage:

    python bench/run_bench.py [--sizes small medium large] [--runs 3] [--slow-runs 1]
                              [--data bench-data] [--out bench/results.md]
                              [--methods NAME|fast|slow|all ...] [--no-profile]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import pstats
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's bin/ when run as .venv/bin/python
VENV_PY = str(BIN / "python")
ANALYZER = str(BIN / "pcap-analyzer")
SIZE_ORDER = ("small", "medium", "large")
SLICE_PACKETS = 10_000
SAMPLE_INTERVAL = 0.05
KIB_PER_MIB = 1024
LEAN = [
    "--disable-protocol", "json", "--disable-protocol", "xml",
    "--disable-protocol", "data-text-lines", "--disable-protocol", "png",
    "--disable-protocol", "media", "-o", "http.decompress_body:FALSE",
    "-o", "http.dechunk_body:FALSE", "-o", "websocket.decompress:FALSE",
]
FIELDS16 = [
    "frame.number", "frame.time_epoch", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
    "tcp.stream", "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.seq", "tcp.ack",
    "tcp.len", "http.request.method", "http.response.code", "websocket.opcode",
]
PYSHARK_NAIVE = """\
import sys

import pyshark

cap = pyshark.FileCapture(sys.argv[1])
n = 0
for pkt in cap:
    n += 1
    if "ip" in pkt:
        _ = pkt.ip.src
    if "tcp" in pkt:
        _ = pkt.tcp.flags
cap.close()
print(n)
"""
TSHARK_ARGS = """\
import json, sys
from analyzer.loader.tshark import LoadOptions, tshark_args
print(json.dumps(tshark_args(sys.argv[1], LoadOptions())))
"""
# NFStream's flow meter over the file, the flows written as CSV (streamed row by row).
NFSTREAM = """\
import sys

from nfstream import NFStreamer

print(NFStreamer(source=sys.argv[1]).to_csv(path=sys.argv[2]))
"""
VERSIONS = """\
import json, platform
from importlib.metadata import version
out = {"python": platform.python_version()}
for name in ("pyshark", "pandas", "pyarrow", "nfstream"):
    try:
        out[name] = version(name)
    except Exception as exc:
        out[name] = f"unavailable ({exc})"
print(json.dumps(out))
"""


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- memory


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def _ppid_map() -> dict[int, list[int]]:
    """Parent pid -> child pids, from every /proc/PID/stat."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _read(f"/proc/{entry}/stat")
        if not stat:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def descendants(root: int) -> list[int]:
    """``root`` and every process below it."""
    children = _ppid_map()
    tree, i = [root], 0
    while i < len(tree):
        tree.extend(children.get(tree[i], ()))
        i += 1
    return tree


def classify(pid: int, comm: str) -> str:
    """python (the analyzer or a pyshark script), tshark, or other."""
    argv0 = (_read(f"/proc/{pid}/cmdline") or "").split("\0")[0]
    names = (comm, os.path.basename(argv0))
    if any(n.startswith(("python", "pcap-analyzer")) for n in names):
        return "python"
    if any(n.startswith("tshark") for n in names):
        return "tshark"
    return "other"


@dataclass
class MemPeaks:
    """Peaks in KiB: sums over the tree / a class of processes, max over time."""

    tree_kib: int = 0
    python_kib: int = 0
    tshark_kib: int = 0
    samples: int = 0
    processes: dict[str, str] = field(default_factory=dict)  # pid -> class:comm


class TreeSampler(threading.Thread):
    """Every ``interval`` s, sum VmRSS over a process tree and its python/tshark parts."""

    def __init__(self, root: int, interval: float = SAMPLE_INTERVAL) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.interval = interval
        self.peaks = MemPeaks()
        # (pid, class, comm) -> VmHWM KiB; keyed by comm too, so that a forked child seen
        # before its exec does not lend the parent's high-water mark to the new program.
        self._hwm: dict[tuple[int, str, str], int] = {}
        self._root_class = "other"
        self._stop_event = threading.Event()

    def run(self) -> None:
        while True:
            self.sample()
            if self._stop_event.wait(self.interval):
                return

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def sample(self) -> None:
        sums = {"tree": 0, "python": 0, "tshark": 0}
        for pid in descendants(self.root):
            status = _read(f"/proc/{pid}/status")
            rss = _status_kib(status, "VmRSS") if status else None
            if status is None or rss is None:  # gone, or a zombie
                continue
            comm = _status_field(status, "Name") or "?"
            cls = classify(pid, comm)
            if pid == self.root:
                self._root_class = cls
            self.peaks.processes[str(pid)] = f"{cls}:{comm}"
            sums["tree"] += rss
            if cls in sums:
                sums[cls] += rss
            key = (pid, cls, comm)
            self._hwm[key] = max(self._hwm.get(key, 0), _status_kib(status, "VmHWM") or 0)
        self.peaks.samples += 1
        p = self.peaks
        p.tree_kib = max(p.tree_kib, sums["tree"])
        p.python_kib = max(p.python_kib, sums["python"])
        p.tshark_kib = max(p.tshark_kib, sums["tshark"])

    def finish(self, direct_maxrss_kib: int) -> MemPeaks:
        """Raise the sampled peaks to the per-process high-water marks seen.

        ``wait4``'s ru_maxrss covers the direct child and its reaped descendants alike, so
        it is a floor for the tree; it counts for the child's class only when the child was
        seen alone.
        """
        p = self.peaks
        p.tree_kib = max(p.tree_kib, direct_maxrss_kib)
        hwms = [(cls, kib) for (_, cls, _), kib in self._hwm.items()]
        if {pid for pid, _, _ in self._hwm} <= {self.root}:
            hwms.append((self._root_class, direct_maxrss_kib))
        for cls, kib in hwms:
            p.tree_kib = max(p.tree_kib, kib)
            if cls == "python":
                p.python_kib = max(p.python_kib, kib)
            elif cls == "tshark":
                p.tshark_kib = max(p.tshark_kib, kib)
        return p


def _status_field(status: str, key: str) -> str | None:
    m = re.search(rf"^{re.escape(key)}\s*:\s*(.*)$", status, re.MULTILINE)
    return m.group(1).strip() if m else None


def _status_kib(status: str, key: str) -> int | None:
    value = _status_field(status, key)
    return int(value.split()[0]) if value else None


# --------------------------------------------------------------------------- running


@dataclass
class Run:
    """One timed run of one method on one size."""

    size: str
    method: str
    round: int
    argv: list[str]
    ok: bool
    returncode: int
    wall_s: float
    tree_peak_kib: int
    python_peak_kib: int
    tshark_peak_kib: int
    direct_child_maxrss_kib: int
    samples: int
    processes: dict[str, str]
    error: str | None = None


def first_error_line(stderr: str) -> str:
    """The first telling line of stderr (the last one of a Python traceback)."""
    lines = [ln.strip() for ln in stderr.splitlines()
             if ln.strip() and not ln.startswith('Running as user "root"')]
    if not lines:
        return "no stderr output"
    if lines[0].startswith("Traceback"):
        return lines[-1][:200]
    return lines[0][:200]


def measure(argv: list[str], timeout: float) -> tuple[float, int, MemPeaks, int, str]:
    """Run ``argv`` (stdout to /dev/null): wall s, exit code, peaks, ru_maxrss, stderr."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, cwd=ROOT, start_new_session=True)
        sampler = TreeSampler(proc.pid)
        sampler.start()
        timer = threading.Timer(timeout, _kill_group, (proc.pid,))
        timer.start()
        _, status, rusage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        timer.cancel()
        sampler.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)
        _kill_group(proc.pid)  # leftovers of a dead child, if any
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    maxrss = int(rusage.ru_maxrss)  # KiB on Linux
    return wall, proc.returncode, sampler.finish(maxrss), maxrss, stderr


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


# --------------------------------------------------------------------------- methods


@dataclass
class Capture:
    """One size of the corpus, plus what the methods need from it."""

    size: str
    path: Path
    stats: dict[str, Any]
    tmp: Path
    slice_path: Path | None = None
    slice_packets: int = 0
    export_argv: list[str] | None = None
    setup_errors: dict[str, str] = field(default_factory=dict)

    @property
    def packets(self) -> int:
        return int(self.stats["packets"])


@dataclass(frozen=True)
class Method:
    name: str
    on_slice: bool
    argv: Callable[[Capture], list[str]]
    cleanup: Callable[[Capture], None] = lambda cap: None
    # Slow methods (tshark underneath) run only in the first --slow-runs rounds.
    slow: bool = True


def tshark() -> str:
    found = shutil.which("tshark")
    if not found:
        raise SystemExit("tshark not found on PATH (make tshark installs it)")
    return found


def tcptrace() -> str:
    found = shutil.which("tcptrace")
    if not found:
        raise RuntimeError("tcptrace not found on PATH (apt-get install tcptrace)")
    return found


def _argv_export(cap: Capture) -> list[str]:
    if cap.export_argv is None:
        raise RuntimeError(cap.setup_errors.get("tshark_export", "no tshark_args"))
    return cap.export_argv


def _without_reset(argv: list[str]) -> list[str]:
    """``argv`` less its ``-M N``."""
    if "-M" not in argv:
        return argv
    i = argv.index("-M")
    return argv[:i] + argv[i + 2:]


def _slice(cap: Capture) -> Path:
    if cap.slice_path is None:
        raise RuntimeError(cap.setup_errors.get("slice", "no slice"))
    return cap.slice_path


def _rm(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


METHODS: list[Method] = [
    # The native engine (Rust) reading the capture itself.
    Method("analyzer_native", False,
           lambda c: [ANALYZER, "--engine", "native", "connections", str(c.path),
                      "--format", "parquet", "-o", str(c.tmp / "native.parquet"), "-q"],
           lambda c: _rm(c.tmp / "native.parquet"), slow=False),
    Method("analyzer_native_jsonl", False,
           lambda c: [ANALYZER, "--engine", "native", "connections", str(c.path),
                      "--format", "jsonl", "-o", str(c.tmp / "native.jsonl"), "-q"],
           lambda c: _rm(c.tmp / "native.jsonl"), slow=False),
    Method("analyzer_native_http", False,
           lambda c: [ANALYZER, "--engine", "native", "http", str(c.path),
                      "--format", "parquet", "-o", str(c.tmp / "http.parquet"), "-q"],
           lambda c: _rm(c.tmp / "http.parquet"), slow=False),
    Method("analyzer_native_websockets", False,
           lambda c: [ANALYZER, "--engine", "native", "websockets", str(c.path),
                      "--format", "parquet", "-o", str(c.tmp / "ws.parquet"), "-q"],
           lambda c: _rm(c.tmp / "ws.parquet"), slow=False),
    # Every table, chart and diagram of the report, with the default (native) engine.
    Method("analyzer_native_report", False,
           lambda c: [ANALYZER, "--engine", "native", "report", str(c.path), "--out",
                      str(c.tmp / "native-report"), "--no-step-summary", "-q"],
           lambda c: _rm(c.tmp / "native-report"), slow=False),
    # Peers that read the file themselves: tcptrace (C) and NFStream (C engine, Python API).
    Method("tcptrace", False, lambda c: [tcptrace(), "-n", "-l", str(c.path)], slow=False),
    Method("nfstream", False,
           lambda c: [VENV_PY, str(c.tmp.parent / "nfstream_flows.py"), str(c.path),
                      str(c.tmp / "nfstream.csv")],
           lambda c: _rm(c.tmp / "nfstream.csv"), slow=False),
    # The tshark engine (tshark's field export into the same Rust tracker).
    Method("analyzer_connections", False,
           lambda c: [ANALYZER, "--engine", "tshark", "connections", str(c.path),
                      "--format", "parquet", "-o", str(c.tmp / "conn.parquet")],
           lambda c: _rm(c.tmp / "conn.parquet")),
    Method("analyzer_report", False,
           lambda c: [ANALYZER, "--engine", "tshark", "report", str(c.path), "--out",
                      str(c.tmp / "report"), "--no-step-summary"],
           lambda c: _rm(c.tmp / "report")),
    Method("tshark_export", False, _argv_export),
    # The same export without tshark's session resets (-M), which the analyzer asks for
    # by default: shows what the resets save in memory and cost in time.
    Method("tshark_export_noreset", False, lambda c: _without_reset(_argv_export(c))),
    Method("tshark_fields16_lean", False,
           lambda c: [tshark(), "-n", "-r", str(c.path), "-T", "fields",
                      *[a for f in FIELDS16 for a in ("-e", f)], *LEAN]),
    Method("tshark_conv_tcp", False,
           lambda c: [tshark(), "-n", "-r", str(c.path), "-q", "-z", "conv,tcp"]),
    Method("pyshark_naive", True,
           lambda c: [VENV_PY, str(c.tmp.parent / "pyshark_naive.py"), str(_slice(c))]),
    Method("analyzer_pyshark_loader", True,
           lambda c: [ANALYZER, "connections", str(_slice(c)), "--loader", "pyshark",
                      "--format", "jsonl", "-o", "/dev/null"]),
]
METHOD_NAMES = [m.name for m in METHODS]
METHOD_GROUPS: dict[str, list[str]] = {
    "all": METHOD_NAMES,
    "fast": [m.name for m in METHODS if not m.slow],
    "slow": [m.name for m in METHODS if m.slow],
}


def run_method(method: Method, cap: Capture, rnd: int, timeout: float) -> Run:
    argv: list[str] = []
    try:
        argv = method.argv(cap)
        wall, rc, peaks, maxrss, stderr = measure(argv, timeout)
    except Exception as exc:  # this method could not run: record it and move on
        return Run(cap.size, method.name, rnd, argv, False, -1, 0.0, 0, 0, 0, 0, 0, {},
                   error=str(exc) or type(exc).__name__)
    finally:
        method.cleanup(cap)
    error = None
    if rc != 0:
        timed_out = rc == -signal.SIGKILL and wall >= timeout
        error = f"killed after {timeout:.0f} s" if timed_out else (
            first_error_line(stderr) + f" (exit {rc})")
    return Run(cap.size, method.name, rnd, argv, rc == 0, rc, wall, peaks.tree_kib,
               peaks.python_kib, peaks.tshark_kib, maxrss, peaks.samples, peaks.processes,
               error)


# --------------------------------------------------------------------------- corpus


def load_stats(path: Path) -> dict[str, Any]:
    """The generator's stats JSON, or the same figures from capinfos / tshark."""
    stats_path = path.with_name(path.stem + ".stats.json")
    stats: dict[str, Any] = {}
    if stats_path.exists():
        stats = json.loads(stats_path.read_text())
    if not all(k in stats for k in ("packets", "file_bytes", "duration_s")):
        stats.update(capinfos(path))
    if "tcp_conversations" not in stats:
        stats["tcp_conversations"] = count_tcp_conversations(path)
    if "mean_packet_bytes" not in stats:
        stats["mean_packet_bytes"] = stats.get("data_bytes", stats["file_bytes"]) / max(
            1, stats["packets"])
    return stats


def capinfos(path: Path) -> dict[str, Any]:
    out = subprocess.run(["capinfos", "-M", str(path)], capture_output=True, text=True,
                         check=True).stdout
    info = dict(ln.split(":", 1) for ln in out.splitlines() if ":" in ln)
    info = {k.strip(): v.strip() for k, v in info.items()}

    def num(key: str) -> float:
        return float(info[key].split()[0])

    return {"packets": int(num("Number of packets")), "file_bytes": int(num("File size")),
            "data_bytes": int(num("Data size")), "duration_s": num("Capture duration")}


def count_tcp_conversations(path: Path) -> int:
    out = subprocess.run([tshark(), "-n", "-r", str(path), "-q", "-z", "conv,tcp"],
                         capture_output=True, text=True, check=True).stdout
    return sum(1 for ln in out.splitlines() if "<->" in ln)


def prepare(size: str, data: Path, tmp: Path, methods: list[Method]) -> Capture:
    path = (data / f"{size}.pcap").resolve()
    if not path.exists():
        raise SystemExit(f"{path} is missing: run bench/make_corpus.py --size {size}")
    work = tmp / size
    work.mkdir()
    cap = Capture(size, path, load_stats(path), work)
    names = {m.name for m in methods}
    if {"tshark_export", "tshark_export_noreset"} & set(names):
        _prepare_export(cap)
    if any(m.on_slice for m in methods):
        _prepare_slice(cap)
    warm_page_cache(path)
    return cap


def _prepare_export(cap: Capture) -> None:
    proc = subprocess.run([VENV_PY, "-c", TSHARK_ARGS, str(cap.path)], capture_output=True,
                          text=True, cwd=ROOT)
    if proc.returncode == 0:
        cap.export_argv = json.loads(proc.stdout)
    else:
        cap.setup_errors["tshark_export"] = first_error_line(proc.stderr)


def _prepare_slice(cap: Capture) -> None:
    """The middle SLICE_PACKETS packets (all of them for a smaller file)."""
    first = max(1, (cap.packets - SLICE_PACKETS) // 2 + 1)
    last = min(cap.packets, first + SLICE_PACKETS - 1)
    out = cap.tmp / "slice.pcap"
    proc = subprocess.run(["editcap", "-F", "pcap", "-r", str(cap.path), str(out),
                           f"{first}-{last}"], capture_output=True, text=True)
    if proc.returncode == 0:
        cap.slice_path, cap.slice_packets = out, last - first + 1
        warm_page_cache(out)
    else:
        cap.setup_errors["slice"] = "editcap: " + first_error_line(proc.stderr)


def warm_page_cache(path: Path) -> None:
    with open(path, "rb") as fh:
        while fh.read(1 << 22):
            pass


# --------------------------------------------------------------------------- environment


def sh(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, cwd=ROOT,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"unavailable ({exc})"


def machine_info() -> dict[str, Any]:
    cpuinfo = _read("/proc/cpuinfo") or ""
    model = (_status_field(cpuinfo, "model name") or _status_field(cpuinfo, "Hardware")
             or platform.processor() or "unknown")
    meminfo = _read("/proc/meminfo") or ""
    mem_kib = _status_kib(meminfo, "MemTotal") or 0
    return {"nproc": sh(["nproc"]), "cpu_count": os.cpu_count(), "cpu_model": model,
            "mem_total_gib": round(mem_kib / KIB_PER_MIB ** 2, 1),
            "kernel": platform.release()}


def versions() -> dict[str, str]:
    out: dict[str, str] = {"tshark": sh([tshark(), "--version"]).splitlines()[0]}
    out["tcptrace"] = tcptrace_version()
    try:
        out.update(json.loads(sh([VENV_PY, "-c", VERSIONS])))
    except json.JSONDecodeError:
        out["python"] = platform.python_version()
    out["commit"] = commit_id()
    return out


def commit_id() -> str:
    """The short commit, ``+dirty`` when the tree has changes."""
    head = sh(["git", "rev-parse", "--short", "HEAD"])
    dirty = sh(["git", "status", "--porcelain"])
    return head + ("+dirty" if dirty and not dirty.startswith("unavailable") else "")


def tcptrace_version() -> str:
    found = shutil.which("tcptrace")
    if not found:
        return "not installed"
    proc = subprocess.run([found, "-v"], capture_output=True, text=True)
    text = proc.stdout + proc.stderr
    m = re.search(r"version\s+([0-9][0-9.]*)", text, re.IGNORECASE)
    return m.group(1) if m else (text.strip().splitlines() or ["unknown"])[0]


def warm_imports() -> None:
    """Load the analyzer's libraries once, untimed, so the first timed run is not cold."""
    for modules in ("analyzer.cli, analyzer._engine, pandas, pyarrow, pyshark", "nfstream"):
        subprocess.run([VENV_PY, "-c", f"import {modules}"], capture_output=True, cwd=ROOT)


# --------------------------------------------------------------------------- profile


@dataclass
class Profile:
    size: str
    wall_s: float
    total_tt: float
    top: str
    error: str | None = None


def profile(cap: Capture, timeout: float) -> Profile:
    prof = cap.tmp / "prof.out"
    argv = [VENV_PY, "-m", "cProfile", "-o", str(prof), "-m", "analyzer", "--engine", "tshark",
            "connections", str(cap.path), "--format", "parquet", "-o", str(cap.tmp / "x.parquet")]
    log(f"profile: {cap.size} analyzer connections under cProfile")
    try:
        wall, rc, _, _, stderr = measure(argv, timeout)
    except OSError as exc:
        return Profile(cap.size, 0.0, 0.0, "", str(exc))
    if rc != 0 or not prof.exists():
        return Profile(cap.size, wall, 0.0, "", first_error_line(stderr) + f" (exit {rc})")
    buf = io.StringIO()
    stats = pstats.Stats(str(prof), stream=buf)
    stats.strip_dirs().sort_stats("tottime").print_stats(20)
    lines = [ln.rstrip() for ln in buf.getvalue().strip().splitlines()]
    start = next((i for i, ln in enumerate(lines) if "function calls" in ln), 0)
    top = "\n".join(ln.strip() if i == start else ln for i, ln in enumerate(lines[start:], start))
    total = float(getattr(stats, "total_tt", 0.0))
    _rm(prof)
    _rm(cap.tmp / "x.parquet")
    return Profile(cap.size, wall, total, top)


# --------------------------------------------------------------------------- summary


@dataclass
class Summary:
    """One method on one size, over its runs."""

    size: str
    method: str
    runs: int
    ok: bool
    wall_s: float | None  # median of measured runs (slice methods: on the slice)
    full_wall_s: float | None  # extrapolated to the whole file for slice methods
    packets_per_s: float | None
    mb_per_s: float | None  # capture file MB (10^6 bytes) / wall (slice methods: est.)
    tree_peak_mib: float | None
    python_peak_mib: float | None
    tshark_peak_mib: float | None
    on_slice: bool
    error: str | None


def summarize(cap: Capture, method: Method, runs: list[Run]) -> Summary:
    good = [r for r in runs if r.ok]
    if not good:
        error = next((r.error for r in runs if r.error), "not run")
        return Summary(cap.size, method.name, len(runs), False, None, None, None, None, None,
                       None, None, method.on_slice, error)
    wall = statistics.median(r.wall_s for r in good)
    measured_packets = cap.slice_packets if method.on_slice else cap.packets
    full = wall * cap.packets / measured_packets
    return Summary(
        cap.size, method.name, len(good), True, wall, full, measured_packets / wall,
        float(cap.stats["file_bytes"]) / 1e6 / full,
        max(r.tree_peak_kib for r in good) / KIB_PER_MIB,
        max(r.python_peak_kib for r in good) / KIB_PER_MIB,
        max(r.tshark_peak_kib for r in good) / KIB_PER_MIB,
        method.on_slice, None)


@dataclass
class Check:
    name: str
    measured: str
    target: str
    result: str  # PASS, FAIL or n/a


def _ratio_check(name: str, num: Summary | None, den: Summary | None, target: str,
                 ok: Callable[[float], bool]) -> Check:
    if not (num and den):
        return Check(name, "n/a (method not run)", target, "n/a")
    if not (num.ok and den.ok and num.full_wall_s and den.full_wall_s):
        return Check(name, "n/a (method failed)", target, "n/a")
    value = num.full_wall_s / den.full_wall_s
    return Check(name, f"{value:.3g}", target, "PASS" if ok(value) else "FAIL")


def checks(summ: dict[tuple[str, str], Summary], sizes: list[str]) -> list[Check]:
    def get(size: str, method: str) -> Summary | None:
        return summ.get((size, method))

    out = _native_checks(summ, sizes) + _app_checks(summ, sizes)
    for s in sizes:
        conn = get(s, "analyzer_connections")
        out.append(_ratio_check(f"{s}: analyzer_connections / tshark_export", conn,
                                get(s, "tshark_export"), "≤ 1.2", lambda v: v <= 1.2))
        out.append(_ratio_check(f"{s}: analyzer_connections / tshark_fields16_lean", conn,
                                get(s, "tshark_fields16_lean"), "≤ 0.9", lambda v: v <= 0.9))
        out.append(_ratio_check(f"{s}: pyshark_naive (est.) / analyzer_connections",
                                get(s, "pyshark_naive"), conn, "≥ 250", lambda v: v >= 250))
    out += _scaling_checks(get("medium", "analyzer_connections"),
                           get("large", "analyzer_connections"))
    largest = sizes[-1]
    conn = get(largest, "analyzer_connections")
    out.append(_mem_check(f"{largest}: analyzer_connections python peak", conn,
                          "python_peak_mib", 300))
    large = get("large", "analyzer_connections")
    if large:
        out.append(_mem_check("large: analyzer_connections tree peak", large,
                              "tree_peak_mib", 600))
    else:
        out.append(Check("large: analyzer_connections tree peak", "n/a (large not run)",
                         "< 600 MiB", "n/a"))
    return out


NATIVE_VS_TCPTRACE = 0.5  # native wall / tcptrace wall, at most
TSHARK_VS_NATIVE = 20.0  # tshark engine wall / native wall, at least
NATIVE_PEAK_MIB = 200.0  # the native run's process tree, at most
NATIVE_PEAK_GROWTH = 1.20  # large / medium tree peak of the native run, at most


def _native_checks(summ: dict[tuple[str, str], Summary], sizes: list[str]) -> list[Check]:
    """The native engine's targets: against tcptrace and the tshark engine, and memory."""
    def get(size: str, method: str) -> Summary | None:
        return summ.get((size, method))

    out: list[Check] = []
    for s in sizes:
        native = get(s, "analyzer_native")
        out.append(_ratio_check(f"{s}: analyzer_native / tcptrace", native,
                                get(s, "tcptrace"), f"≤ {NATIVE_VS_TCPTRACE:g}",
                                lambda v: v <= NATIVE_VS_TCPTRACE))
        out.append(_ratio_check(f"{s}: analyzer_connections (tshark engine) / analyzer_native",
                                get(s, "analyzer_connections"), native,
                                f"≥ {TSHARK_VS_NATIVE:g}", lambda v: v >= TSHARK_VS_NATIVE))
        out.append(_mem_check(f"{s}: analyzer_native tree peak", native, "tree_peak_mib",
                              NATIVE_PEAK_MIB, inclusive=True))
    name = "analyzer_native tree peak, large / medium"
    target = f"≤ {NATIVE_PEAK_GROWTH:.2f}"
    medium, large = get("medium", "analyzer_native"), get("large", "analyzer_native")
    if not (medium and large):
        out.append(Check(name, "n/a (needs medium and large)", target, "n/a"))
    elif not (medium.ok and large.ok and medium.tree_peak_mib and large.tree_peak_mib):
        out.append(Check(name, "n/a (method failed)", target, "n/a"))
    else:
        growth = large.tree_peak_mib / medium.tree_peak_mib
        out.append(Check(name, f"{growth:.3f} ({medium.tree_peak_mib:.0f} → "
                         f"{large.tree_peak_mib:.0f} MiB)", target,
                         "PASS" if growth <= NATIVE_PEAK_GROWTH else "FAIL"))
    if medium and large and medium.ok and large.ok and medium.packets_per_s \
            and large.packets_per_s:
        per_packet = medium.packets_per_s / large.packets_per_s
        out.append(Check("analyzer_native s/packet, large / medium (time linear)",
                         f"{per_packet:.3f}", "≤ 1.15",
                         "PASS" if per_packet <= 1.15 else "FAIL"))
    return out


#: The HTTP/WebSocket targets: every native command against tcptrace on the large corpus
#: (wall time ratio at most), and the whole process's peak at most NATIVE_APP_PEAK_MIB.
NATIVE_APP_VS_TCPTRACE = {"analyzer_native_http": 0.5, "analyzer_native_websockets": 0.5,
                          "analyzer_native_report": 1.0}
NATIVE_APP_PEAK_MIB = 250.0


def _app_checks(summ: dict[tuple[str, str], Summary], sizes: list[str]) -> list[Check]:
    """The targets of the engine's HTTP/WebSocket analysis (large corpus)."""
    out: list[Check] = []
    if "large" not in sizes:
        return out
    tcptrace = summ.get(("large", "tcptrace"))
    for method, limit in NATIVE_APP_VS_TCPTRACE.items():
        summary = summ.get(("large", method))
        out.append(_ratio_check(f"large: {method} / tcptrace", summary, tcptrace,
                                f"≤ {limit:g}", lambda v, lim=limit: v <= lim))
    for method in ("analyzer_native", *NATIVE_APP_VS_TCPTRACE):
        out.append(_mem_check(f"large: {method} tree peak", summ.get(("large", method)),
                              "tree_peak_mib", NATIVE_APP_PEAK_MIB, inclusive=True))
    return out


def _scaling_checks(medium: Summary | None, large: Summary | None) -> list[Check]:
    time_name = "analyzer_connections s/packet, large / medium (time linear)"
    mem_name = "analyzer_connections tree peak, large / medium"
    if not (medium and large):
        why = "n/a (needs medium and large)"
        return [Check(time_name, why, "1 ± 0.15", "n/a"), Check(mem_name, why, "1 ± 0.20", "n/a")]
    if not (medium.ok and large.ok and medium.packets_per_s and large.packets_per_s
            and medium.tree_peak_mib and large.tree_peak_mib):
        why = "n/a (method failed)"
        return [Check(time_name, why, "1 ± 0.15", "n/a"), Check(mem_name, why, "1 ± 0.20", "n/a")]
    per_packet = medium.packets_per_s / large.packets_per_s
    mem = large.tree_peak_mib / medium.tree_peak_mib
    return [
        Check(time_name, f"{per_packet:.3f}", "1 ± 0.15",
              "PASS" if abs(per_packet - 1) <= 0.15 else "FAIL"),
        Check(mem_name, f"{mem:.3f} ({medium.tree_peak_mib:.0f} → {large.tree_peak_mib:.0f} MiB)",
              "1 ± 0.20", "PASS" if abs(mem - 1) <= 0.20 else "FAIL"),
    ]


def _mem_check(name: str, summ: Summary | None, attr: str, limit: float,
               inclusive: bool = False) -> Check:
    target = f"{'≤' if inclusive else '<'} {limit:.0f} MiB"
    value = getattr(summ, attr, None) if summ and summ.ok else None
    if value is None:
        return Check(name, "n/a (method missing or failed)", target, "n/a")
    ok = value <= limit if inclusive else value < limit
    return Check(name, f"{value:.1f} MiB", target, "PASS" if ok else "FAIL")


# --------------------------------------------------------------------------- markdown


def _f(value: float | None, fmt: str) -> str:
    """``value`` formatted; a dash for none (or a zero peak: no such process ran)."""
    return "–" if not value else format(value, fmt)


def _secs(value: float) -> str:
    return f"{value:.2f}" if value >= 10 else f"{value:.3f}"


def corpus_table(caps: list[Capture]) -> list[str]:
    lines = ["| size | packets | file MB | capture duration s | TCP conversations "
             "| mean packet bytes |", "|---|---:|---:|---:|---:|---:|"]
    for c in caps:
        s = c.stats
        lines.append(f"| {c.size} | {c.packets:,} | {s['file_bytes'] / 1e6:.1f} "
                     f"| {float(s['duration_s']):.1f} | {int(s['tcp_conversations']):,} "
                     f"| {float(s['mean_packet_bytes']):.0f} |")
    return lines


def results_table(cap: Capture, summaries: list[Summary]) -> list[str]:
    lines = ["| method | runs | wall s (median) | packets/s | MB/s | tree peak MiB "
             "| python peak MiB | tshark peak MiB | notes |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for s in summaries:
        if not s.ok or s.full_wall_s is None or s.wall_s is None:
            lines.append(f"| {s.method} | {s.runs} | failed: {_md(s.error or '?')} "
                         "| | | | | | |")
            continue
        wall = _secs(s.full_wall_s) + (" est." if s.on_slice else "")
        notes = ""
        if s.on_slice:
            notes = (f"est.: {_secs(s.wall_s)} s measured on a {cap.slice_packets:,}-packet "
                     f"slice (1 run), × {cap.packets / cap.slice_packets:.2f}; "
                     "memory measured on the slice")
        lines.append(f"| {s.method} | {s.runs} | {wall} | {_f(s.packets_per_s, ',.0f')} "
                     f"| {_f(s.mb_per_s, ',.1f')} "
                     f"| {_f(s.tree_peak_mib, '.1f')} | {_f(s.python_peak_mib, '.1f')} "
                     f"| {_f(s.tshark_peak_mib, '.1f')} | {notes} |")
    return lines


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(ctx: dict[str, Any], caps: list[Capture], summ: dict[tuple[str, str], Summary],
           check_list: list[Check], prof: Profile | None, methods: list[Method]) -> str:
    m, v = ctx["machine"], ctx["versions"]
    out = [
        "# pcap-analyzer benchmark", "",
        f"Date: {ctx['date']}", "",
        f"Command: `{ctx['command']}` (runs `{ctx['script']}`)", "",
        "## Machine", "",
        f"- nproc: {m['nproc']}", f"- CPU: {m['cpu_model']}",
        f"- memory: {m['mem_total_gib']} GiB", f"- kernel: {m['kernel']}", "",
        "## Versions", "",
        f"- tshark: {v['tshark']}", f"- Python: {v.get('python')}",
        f"- pyshark: {v.get('pyshark')}", f"- pandas: {v.get('pandas')}",
        f"- pyarrow: {v.get('pyarrow')}", f"- nfstream: {v.get('nfstream')}",
        f"- tcptrace: {v.get('tcptrace')}", f"- pcap-analyzer commit: {v['commit']}", "",
        "## Corpus", "",
        "Recorded on loopback by `bench/make_corpus.py` (figures from its stats JSON).", "",
        *corpus_table(caps), "",
        "## Results", "",
        f"Wall time is the median of the runs (methods interleaved round by round; "
        f"{ctx['runs']} runs of the fast methods, {ctx['slow_runs']} of the slow ones, "
        "those that run tshark); packets/s = packets in the file / median wall, MB/s = "
        "capture file size (10^6 bytes) / median wall. Memory is the maximum over the runs "
        "of: the sum of VmRSS over the process tree (tree), over the Python processes "
        "(python: the analyzer or the pyshark script) and over tshark, sampled from /proc "
        "every 50 ms, raised to any single process's VmHWM (the tree also to the direct "
        "child's `wait4` ru_maxrss, which covers its reaped children too). Slice methods "
        "run once on a slice from the middle of the capture; their wall time is "
        "extrapolated by the packet ratio (est.).", "",
        "Methods: `analyzer_native` and `analyzer_native_jsonl` are `pcap-analyzer --engine "
        "native connections FILE --format parquet|jsonl -o OUT -q` (the Rust engine reads "
        "the capture, HTTP and WebSocket included); `analyzer_native_http` and "
        "`analyzer_native_websockets` are `http` and `websockets` with `--format parquet`; "
        "`analyzer_native_report` is `report` (every table, chart and diagram) with the "
        "native engine; `analyzer_connections` and `analyzer_report` are `connections` and "
        "`report` with `--engine tshark` (tshark's field export into the same tracker); "
        "`tcptrace` is `tcptrace -n -l FILE > /dev/null`; "
        "`nfstream` is NFStream's `NFStreamer(source=FILE).to_csv(...)` (flows, not "
        "connections; its meters use both cores); the `tshark_*` rows are tshark alone "
        "writing to /dev/null.", "",
    ]
    for cap in caps:
        rows = [summ[(cap.size, meth.name)] for meth in methods]
        out += [f"### {cap.size} ({cap.packets:,} packets)", "",
                *results_table(cap, rows), ""]
    out += ["## Ratios and targets", "",
            "Ratios are of wall times (slice methods: extrapolated).", "",
            "| check | measured | target | result |", "|---|---:|---|---|"]
    out += [f"| {c.name} | {c.measured} | {c.target} | {c.result} |" for c in check_list]
    out += ["", *profile_section(prof)]
    return "\n".join(out) + "\n"


def profile_section(prof: Profile | None) -> list[str]:
    if prof is None:
        return ["## Profile", "", "Not run (`--no-profile`)."]
    head = ["## Profile", "",
            f"`python -m cProfile -m analyzer --engine tshark connections {prof.size}.pcap "
            "--format parquet` "
            "(only the Python process: the tshark child is not in the profile)."]
    if prof.error:
        return [*head, "", f"failed: {_md(prof.error)}"]
    return [*head, "",
            f"Total under cProfile: {prof.total_tt:.2f} s of profiled time, "
            f"{prof.wall_s:.2f} s wall. Top 20 functions by tottime:", "",
            "```", prof.top, "```"]


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", nargs="+", choices=SIZE_ORDER, default=["medium", "large"])
    p.add_argument("--runs", type=int, default=3,
                   help="timed runs of each fast method (default 3)")
    p.add_argument("--slow-runs", type=int, default=1,
                   help="timed runs of each slow method, those that run tshark (default 1; "
                   "at most --runs)")
    p.add_argument("--data", type=Path, default=ROOT / "bench-data",
                   help="corpus directory (default bench-data)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results.md")
    p.add_argument("--methods", nargs="+", choices=[*METHOD_NAMES, *METHOD_GROUPS],
                   default=["all"], metavar="METHOD",
                   help="methods to run, by name or group: fast ("
                   + ", ".join(METHOD_GROUPS["fast"]) + "), slow (the rest), all (default)")
    p.add_argument("--no-profile", action="store_true", help="skip the cProfile run")
    p.add_argument("--timeout", type=float, default=3600,
                   help="kill a run after this many seconds (default 3600)")
    p.add_argument("--command", help="the command line to quote in the results "
                   "(make bench passes its own)")
    args = p.parse_args(argv)
    args.sizes = sorted(set(args.sizes), key=SIZE_ORDER.index)
    if args.runs < 1:
        p.error("--runs must be at least 1")
    if args.slow_runs < 1:
        p.error("--slow-runs must be at least 1")
    args.slow_runs = min(args.slow_runs, args.runs)
    chosen = {n for name in args.methods for n in METHOD_GROUPS.get(name, [name])}
    args.methods = [n for n in METHOD_NAMES if n in chosen]
    return args


def run_rounds(caps: list[Capture], methods: list[Method], runs: int, slow_runs: int,
               timeout: float) -> Iterator[Run]:
    for rnd in range(1, runs + 1):
        for cap in caps:
            for method in methods:
                if (method.on_slice and rnd > 1) or (method.slow and rnd > slow_runs):
                    continue
                log(f"round {rnd}/{runs} {cap.size} {method.name} ...")
                run = run_method(method, cap, rnd, timeout)
                status = (f"{run.wall_s:.3f} s, tree {run.tree_peak_kib / KIB_PER_MIB:.0f} MiB"
                          if run.ok else f"FAILED: {run.error}")
                log(f"round {rnd}/{runs} {cap.size} {method.name}: {status}")
                yield run


def _without_command(argv: list[str]) -> list[str]:
    """``argv`` without ``--command VALUE`` (quoted separately in the results)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--command":
            skip = True
        elif not arg.startswith("--command="):
            out.append(arg)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    methods = [m for m in METHODS if m.name in args.methods]
    script = shlex.join([os.path.relpath(sys.executable, ROOT),
                         os.path.relpath(__file__, ROOT), *_without_command(sys.argv[1:])])
    ctx: dict[str, Any] = {
        "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": args.command or script, "script": script, "runs": args.runs,
        "slow_runs": args.slow_runs,
        "sizes": args.sizes, "methods": [m.name for m in methods],
    }
    log("collecting machine and version information")
    ctx["machine"], ctx["versions"] = machine_info(), versions()
    warm_imports()
    with tempfile.TemporaryDirectory(prefix="pcap-bench-") as tmpdir:
        tmp = Path(tmpdir)
        (tmp / "pyshark_naive.py").write_text(PYSHARK_NAIVE)
        (tmp / "nfstream_flows.py").write_text(NFSTREAM)
        caps = [prepare(size, args.data, tmp, methods) for size in args.sizes]
        all_runs = list(run_rounds(caps, methods, args.runs, args.slow_runs, args.timeout))
        prof = None if args.no_profile else profile(caps[-1], args.timeout)
    summ = {(c.size, m.name): summarize(c, m, [r for r in all_runs
                                              if r.size == c.size and r.method == m.name])
            for c in caps for m in methods}
    check_list = checks(summ, args.sizes)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = render(ctx, caps, summ, check_list, prof, methods)
    analysis = ROOT / "bench" / "analysis.md"  # hand-written reading of the figures
    if analysis.is_file():
        text = text.rstrip("\n") + "\n\n" + analysis.read_text()
    args.out.write_text(text)
    json_out = args.out.with_suffix(".json")
    json_out.write_text(json.dumps({
        **ctx,
        "corpus": {c.size: {"path": str(c.path), "slice_packets": c.slice_packets,
                            "setup_errors": c.setup_errors, "stats": c.stats} for c in caps},
        "runs_raw": [asdict(r) for r in all_runs],
        "summary": [asdict(s) for s in summ.values()],
        "checks": [asdict(c) for c in check_list],
        "profile": asdict(prof) if prof else None,
    }, indent=2, default=str) + "\n")
    log(f"wrote {args.out} and {json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
