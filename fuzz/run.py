#!/usr/bin/env python3
"""The long robustness run (issue 12; ``make fuzz``): seeded mutants of every bundled
capture (and of the hand-built hostile ones: a 100 KB header line, NUL and invalid UTF-8
in headers, WebSocket lengths of 2^63 and 2^64-1) through the CLI with both engines and
several commands, for a time budget, each outcome held to the error contract of
tests/robustness.py (documented exit codes only; one ``error:`` line naming the file;
nothing on stderr but errors, warnings, notes and the tally; no traceback, no panic, no
``Aborted!``, no hang). Optionally (``--sweep``) the truncation sweep too: every offset of
a pcap, a pcapng and a gzip'd capture, with both engines.

Usage:
    python fuzz/run.py --minutes 10 --seed 1
    python fuzz/run.py --minutes 30 --seed 7 --jobs 2 --tshark-share 0.2
    python fuzz/run.py --sweep --minutes 0          # the sweeps only

The mutants run in worker processes (the CLI in process, through typer's CliRunner, so
that a run costs milliseconds, not a Python start-up); a worker that dies (an abort) or
stops answering (a hang: ``--timeout``) is replaced, and its input recorded. Every mutant
that breaks the contract is run once more in a fresh subprocess (what a user would see)
and written to ``fuzz/findings/`` (the input, and a .json with the command line, both
outcomes and the problems). The same seed gives the same mutants in the same order; how
many run depends on the budget and the machine.

Exit status: 0 when nothing broke the contract, 1 otherwise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import multiprocessing.connection
import os
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from robustness import (  # type: ignore[import-not-found,unused-ignore]  # noqa: E402
    COMMANDS,
    Mutator,
    Outcome,
    bundled_captures,
    check_cut,
    command_line,
    contract_problems,
    generated_captures,
    load_sweep,
    run_subprocess,
    sweep_report,
    write_mutant,
)

FINDINGS = ROOT / "fuzz" / "findings"


# ---------------------------------------------------------------------------------------
# Workers
# ---------------------------------------------------------------------------------------

def _worker(conn: Connection, rss_limit_mb: int) -> None:
    """Run tasks (argument lists) in process until the pipe closes."""
    if rss_limit_mb:
        import resource

        limit = rss_limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.environ["CI"] = "true"
    from robustness import run_inprocess

    import analyzer.cli  # noqa: F401 - imported once, before the first task

    while True:
        try:
            args = conn.recv()
        except EOFError:
            return
        out = run_inprocess(args)
        conn.send((out.code, out.stdout[-4000:], out.stderr[-20000:], out.seconds,
                   out.exception))


class Worker:
    def __init__(self, ctx: Any, rss_limit_mb: int) -> None:
        self.ctx, self.rss_limit_mb = ctx, rss_limit_mb
        self.start()

    def start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, self.rss_limit_mb),
                                     daemon=True)
        self.proc.start()
        child.close()

    def restart(self) -> None:
        self.proc.kill()
        self.proc.join(5)
        self.conn.close()
        self.start()

    def stop(self) -> None:
        self.conn.close()
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()


@dataclass
class Task:
    n: int
    path: Path
    kind: str
    detail: str
    engine: str
    command: tuple[str, ...]
    args: list[str]
    started: float = 0.0


@dataclass
class Tally:
    runs: int = 0
    seconds: float = 0.0
    by_engine: Counter[str] = field(default_factory=Counter)
    by_exit: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    bad_by_kind: Counter[str] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)
    findings: dict[str, dict[str, Any]] = field(default_factory=dict)
    sweeps: list[str] = field(default_factory=list)


def _signature(problems: list[str], out: Outcome, task: Task) -> str:
    """What makes two findings the same: the kinds of problem, the engine and command,
    and the last stderr line without the file name."""
    kinds = sorted({p.split(" ")[0] if not p.startswith("undocumented") else p
                    for p in problems})
    last = out.lines[-1] if out.lines else ""
    last = last.replace(str(task.path), "FILE")
    for ch in "0123456789":
        last = last.replace(ch, "#")
    return f"{task.engine} {task.command[0]} {kinds} {last[:160]}"


def _record(task: Task, out: Outcome, problems: list[str], tally: Tally,
            findings: Path) -> None:
    tally.bad_by_kind[task.kind.split('+')[0]] += 1
    for p in problems:
        tally.problems[p.split(" [")[0].split(":")[0][:60]] += 1
    sig = _signature(problems, out, task)
    seen = tally.findings.get(sig)
    if seen is not None:
        seen["count"] += 1
        return
    # Once more in a fresh subprocess: what a user sees (stderr, exit status, a real hang).
    again = run_subprocess(task.args, timeout=120)
    findings.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(task.path.read_bytes()).hexdigest()[:12]
    kept = findings / f"{digest}-{task.kind.replace('+', '-')}{''.join(task.path.suffixes)}"
    kept.write_bytes(task.path.read_bytes())
    args = [str(kept) if a == str(task.path) else a for a in task.args]
    entry = {
        "signature": sig, "count": 1, "input": str(kept),
        "mutation": task.kind, "detail": task.detail,
        "command": "pcap-analyzer " + " ".join(args),
        "problems": problems, "in_process": _outcome_json(out, task),
        "subprocess": _outcome_json(again, task),
        "subprocess_problems": contract_problems(again, task.path, task.command),
    }
    kept.with_name(kept.name + ".json").write_text(json.dumps(entry, indent=2) + "\n")
    tally.findings[sig] = entry
    print(f"  finding #{len(tally.findings)}: {sig}\n    {entry['command']}", flush=True)


def _outcome_json(out: Outcome, task: Task) -> dict[str, Any]:
    return {"exit": out.code, "stderr": out.stderr[-3000:].replace(str(task.path), "FILE"),
            "exception": out.exception, "seconds": round(out.seconds, 3)}


# ---------------------------------------------------------------------------------------
# The mutation run
# ---------------------------------------------------------------------------------------

def mutation_run(args: argparse.Namespace, tally: Tally) -> None:
    work = Path(tempfile.mkdtemp(prefix="pcap-fuzz-"))
    sources = bundled_captures() + generated_captures(work / "generated")
    blobs = {p: p.read_bytes() for p in sources}
    mutator = Mutator(args.seed)
    pick = random.Random(args.seed ^ 0x5EED)
    ctx = mp.get_context("spawn")
    workers = [Worker(ctx, args.rss_limit_mb) for _ in range(args.jobs)]
    busy: dict[int, Task] = {}
    deadline = time.monotonic() + args.minutes * 60 if args.minutes > 0 else float("inf")
    n = 0
    print(f"mutation run: seed {args.seed}, {len(sources)} source captures, "
          f"{args.jobs} workers, {args.minutes} min, tshark share {args.tshark_share}",
          flush=True)
    last_report = time.monotonic()
    try:
        while True:
            now = time.monotonic()
            # Hand out work.
            for i, w in enumerate(workers):
                if i in busy or now >= deadline or (args.max_runs and n >= args.max_runs):
                    continue
                source = pick.choice(sources)
                m = mutator.mutate(blobs[source], source=source.name,
                                   gz=source.name.endswith(".gz"))
                engine = "tshark" if pick.random() < args.tshark_share else "native"
                command = pick.choice(COMMANDS[:3] if engine == "tshark" else COMMANDS)
                path = write_mutant(work / "m", f"w{i}", m)
                task = Task(n, path, m.kind, f"{source.name}: {m.detail}", engine, command,
                            command_line(engine, command, path), time.monotonic())
                w.conn.send(task.args)
                busy[i] = task
                n += 1
            if not busy:
                break
            # Collect.
            ready = multiprocessing.connection.wait([workers[i].conn for i in busy], timeout=0.5)
            now = time.monotonic()
            for i, task in list(busy.items()):
                w = workers[i]
                out = None
                if w.conn in ready:
                    try:
                        code, stdout, stderr, secs, exc = w.conn.recv()
                        out = Outcome(task.args, code, stdout, stderr, secs, exc)
                    except (EOFError, OSError):
                        w.proc.join(5)
                        out = Outcome(task.args, 128 + 6, "", f"worker died: exit "
                                      f"{w.proc.exitcode} (an abort?)",
                                      now - task.started)
                        w.restart()
                elif now - task.started > args.timeout:
                    out = Outcome(task.args, None, "", "", now - task.started)
                    w.restart()
                if out is None:
                    continue
                del busy[i]
                _judge(task, out, tally, args.findings)
            if time.monotonic() - last_report > 60:
                last_report = time.monotonic()
                print(f"  {tally.runs} runs, {len(tally.findings)} distinct findings",
                      flush=True)
    finally:
        for w in workers:
            w.stop()


def _judge(task: Task, out: Outcome, tally: Tally, findings: Path) -> None:
    tally.runs += 1
    tally.seconds += out.seconds
    tally.by_engine[task.engine] += 1
    tally.by_kind[task.kind.split('+')[0]] += 1
    tally.by_exit["hang" if out.code is None else str(out.code)] += 1
    problems = contract_problems(out, task.path, task.command)
    if out.stderr.startswith("worker died"):
        problems = [f"worker died (abort): {out.stderr}"]
    if problems:
        _record(task, out, problems, tally, findings)


# ---------------------------------------------------------------------------------------
# Truncation sweeps
# ---------------------------------------------------------------------------------------

SWEEPS = {
    "pcap": ROOT / "captures" / "real" / "mixed.pcap",
    "pcapng": ROOT / "captures" / "real" / "http11_keepalive.pcapng",
    "gzip": ROOT / "captures" / "synthetic" / "gzip.pcap.gz",
}


def sweep_run(engines: list[str], tally: Tally) -> None:
    from analyzer.api import analyze_capture
    from analyzer.loader import LoadOptions

    for engine in engines:
        def read(p: Path, engine: str = engine) -> Any:
            return analyze_capture(p, LoadOptions(engine=engine))

        for kind, path in SWEEPS.items():
            start = time.monotonic()
            sweep = load_sweep(path, kind, Path(tempfile.mkdtemp(prefix="pcap-sweep-")))
            failures = {}
            for offset in range(len(sweep.raw)):
                problems = check_cut(sweep, offset, read)
                if problems:
                    failures[offset] = problems
            took = time.monotonic() - start
            verdict = sweep_report(failures, len(sweep.raw)) if failures else \
                f"all {len(sweep.raw)} cuts keep the contract"
            line = f"sweep {engine} {path.relative_to(ROOT)} ({took:.0f} s): {verdict}"
            tally.sweeps.append(line)
            print(line, flush=True)


# ---------------------------------------------------------------------------------------

def summary(tally: Tally, args: argparse.Namespace, took: float) -> str:
    hangs = tally.by_exit.get("hang", 0)
    undocumented = sum(v for k, v in tally.by_exit.items()
                       if k != "hang" and int(k) not in (0, 1, 2, 3, 4))
    rows = [
        ("seed", args.seed), ("wall time", f"{took / 60:.1f} min"),
        ("runs", tally.runs),
        ("runs by engine", ", ".join(f"{k} {v}" for k, v in sorted(tally.by_engine.items()))),
        ("runs by exit code", ", ".join(f"{k}: {v}" for k, v in
                                        sorted(tally.by_exit.items()))),
        ("tracebacks", tally.problems.get("traceback", 0)),
        ("panics", tally.problems.get("panic", 0)),
        ("Aborted!", tally.problems.get("aborted", 0)),
        ("worker deaths (aborts)", tally.problems.get("worker died (abort)", 0)),
        ("undocumented exit codes", undocumented),
        ("hangs", hangs),
        ("other contract breaks", sum(v for k, v in tally.problems.items() if k not in
                                      ("traceback", "panic", "aborted", "hang (timed out)",
                                       "worker died (abort)")
                                      and not k.startswith("undocumented"))),
        ("distinct findings", len(tally.findings)),
    ]
    width = max(len(str(k)) for k, _ in rows)
    lines = ["", "| what | count |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    lines.append("")
    if tally.by_kind:
        lines.append("mutants by (first) kind, and how many broke the contract:")
        for k, v in sorted(tally.by_kind.items()):
            lines.append(f"  {k:<{width + 10}} {v:6d} ({tally.bad_by_kind.get(k, 0)})")
    if tally.problems:
        lines.append("problems:")
        for k, v in tally.problems.most_common():
            lines.append(f"  {v:6d} x {k}")
    for f in tally.findings.values():
        lines.append(f"finding x{f['count']}: {f['signature']}\n  {f['command']}\n"
                     f"  {f['problems']}")
    lines += tally.sweeps
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0,
                    help="time budget of the mutation run (default 10; 0: none)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--tshark-share", type=float, default=0.15,
                    help="share of the mutants run with --engine tshark (default 0.15)")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="seconds before a run counts as a hang (default 60)")
    ap.add_argument("--rss-limit-mb", type=int, default=4096,
                    help="address-space limit of a worker (0: none); past it, a run fails")
    ap.add_argument("--max-runs", type=int, default=0, help="stop after this many mutants")
    ap.add_argument("--findings", type=Path, default=FINDINGS)
    ap.add_argument("--sweep", action="store_true",
                    help="also cut a pcap, a pcapng and a gzip'd capture at every offset")
    ap.add_argument("--sweep-engines", default="native,tshark")
    args = ap.parse_args(argv)
    start = time.monotonic()
    tally = Tally()
    if args.minutes > 0 or args.max_runs:
        mutation_run(args, tally)
    if args.sweep:
        sweep_run(args.sweep_engines.split(","), tally)
    print(summary(tally, args, time.monotonic() - start), flush=True)
    broken = bool(tally.findings) or any("break" in s for s in tally.sweeps)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
