#!/usr/bin/env python3
"""What a change costs: this tree against an earlier commit, in paired runs.

Both sides are built the same way, from source, with ``maturin build --release`` (the earlier
commit in a ``git worktree``; this tree as it is on disk, uncommitted edits included), each
wheel unpacked into its own folder under ``bench-data/paired/`` (kept, so a second call with
the same commit builds only this tree). Then the same command runs ``--runs`` times for each
side, alternately (this tree, then the base, then this tree...), so that a machine whose speed
drifts during the call moves both alike, and the ratio this/base is taken pair by pair:

- ``cli`` (default): ``python -m analyzer connections CAPTURE -f parquet -o OUT -q``, the
  bench's ``analyzer_native`` row, with ``PYTHONPATH`` set to the side's unpacked wheel;
- ``engine``: the engine alone, ``cargo build --release --example read_capture`` of each side,
  run on the capture (no Python, no output).

Each run's wall time (a monotonic clock around the child), user and system seconds and peak
memory (``wait4``'s ``ru_maxrss``) are the operating system's accounting of the child. The
report gives the medians of each side and the median and spread of the pairwise ratios; quote
the median ratio. The TCP health figures (issue 10) were measured with::

    .venv/bin/python bench/paired.py --base 5c75dac --what cli --runs 21
    .venv/bin/python bench/paired.py --base 5c75dac --what engine --runs 21

(5c75dac is the last commit before them.) Needs git, cargo and maturin; the capture defaults
to ``bench-data/large.pcap`` (``make bench`` records it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench-data" / "paired"
KIB_PER_MIB = 1024


@dataclass
class Run:
    wall: float
    user: float
    sys: float
    peak_mib: float

    @property
    def cpu(self) -> float:
        return self.user + self.sys


def _env() -> dict[str, str]:
    env = dict(os.environ)
    cargo_bin = str(Path.home() / ".cargo" / "bin")
    env["PATH"] = f"{cargo_bin}:{env.get('PATH', '')}"
    return env


def _check(argv: list[str], cwd: Path, extra: dict[str, str] | None = None) -> None:
    done = subprocess.run(argv, cwd=cwd, env={**_env(), **(extra or {})},
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"error: {' '.join(argv)} (in {cwd}) failed:\n{done.stderr[-2000:]}")


def build(tree: Path, where: Path, what: str) -> Path:
    """Build ``tree`` into ``where``: the unpacked wheel (``cli``) or the example binary
    (``engine``). Returns the PYTHONPATH folder or the binary."""
    target = where / "target"
    if what == "engine":
        _check(["cargo", "build", "--release", "--quiet", "--example", "read_capture"],
               tree / "engine", {"CARGO_TARGET_DIR": str(target)})
        return target / "release" / "examples" / "read_capture"
    wheels = where / "wheel"
    shutil.rmtree(wheels, ignore_errors=True)
    _check(["maturin", "build", "--release", "--quiet", "-o", str(wheels)], tree,
           {"CARGO_TARGET_DIR": str(target)})
    (wheel,) = wheels.glob("*.whl")
    pkg = where / "pkg"
    shutil.rmtree(pkg, ignore_errors=True)
    with zipfile.ZipFile(wheel) as z:
        z.extractall(pkg)
    return pkg


def base_tree(rev: str) -> tuple[Path, str]:
    """A worktree of ``rev`` under the cache (created once) and its full commit id."""
    commit = subprocess.run(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=ROOT,
                            capture_output=True, text=True)
    if commit.returncode != 0:
        sys.exit(f"error: {rev}: not a commit of this repository")
    full = commit.stdout.strip()
    tree = CACHE / full[:12] / "tree"
    if not tree.exists():
        tree.parent.mkdir(parents=True, exist_ok=True)
        _check(["git", "worktree", "add", "--detach", "--force", str(tree), full], ROOT)
    return tree, full


def run_once(argv: list[str], env: dict[str, str]) -> Run:
    start = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"error: {' '.join(argv)} exited {os.waitstatus_to_exitcode(status)}")
    return Run(wall, usage.ru_utime, usage.ru_stime, usage.ru_maxrss / KIB_PER_MIB)


def _spread(xs: list[float]) -> str:
    return f"{statistics.median(xs):.3f} ({min(xs):.3f}-{max(xs):.3f})"


def report(head: list[Run], base: list[Run]) -> str:
    lines = ["| figure | this tree | base | ratio this/base, median of pairs (min-max) |",
             "|---|---:|---:|---:|"]
    for name in ("wall", "user", "cpu", "peak_mib"):
        a = [getattr(r, name) for r in head]
        b = [getattr(r, name) for r in base]
        ratios = [x / y for x, y in zip(a, b, strict=True) if y > 0]
        unit = " MiB" if name == "peak_mib" else " s"
        lines.append(f"| {name.replace('_mib', '')} | {statistics.median(a):.3f}{unit} | "
                     f"{statistics.median(b):.3f}{unit} | {_spread(ratios)} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="the earlier commit (any git revision)")
    ap.add_argument("--what", choices=("cli", "engine"), default="cli")
    ap.add_argument("--capture", type=Path, default=ROOT / "bench-data" / "large.pcap")
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    if not args.capture.is_file():
        sys.exit(f"error: {args.capture}: no such capture (make bench records it)")
    tree, full = base_tree(args.base)
    print(f"building {full[:12]} and this tree ({args.what}) ...", file=sys.stderr)
    base_built = build(tree, CACHE / full[:12], args.what)
    head_built = build(ROOT, CACHE / "this-tree", args.what)
    with tempfile.TemporaryDirectory() as tmp:
        def command(built: Path) -> tuple[list[str], dict[str, str]]:
            if args.what == "engine":
                return [str(built), str(args.capture)], dict(os.environ)
            out = str(Path(tmp) / "out.parquet")
            return ([sys.executable, "-m", "analyzer", "connections", str(args.capture),
                     "-f", "parquet", "-o", out, "-q"],
                    {**os.environ, "PYTHONPATH": str(built)})
        sides = [command(head_built), command(base_built)]
        for argv, env in sides:  # one warm-up each: page cache, .pyc files
            run_once(argv, env)
        head: list[Run] = []
        base: list[Run] = []
        for _ in range(args.runs):
            head.append(run_once(*sides[0]))
            base.append(run_once(*sides[1]))
    print(f"{args.what}: this tree against {full[:12]}, {args.capture.name}, "
          f"{args.runs} pairs\n")
    print(report(head, base))


if __name__ == "__main__":
    main()
