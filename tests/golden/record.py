"""Record the golden connection records: ``connections --format jsonl`` and ``--format zeek``
for every capture in captures/ and ../shared/oracle/.

Run on purpose only (``make golden-conn``); a changed golden file is explained in the commit.
Paths are stored relative to the project root (captures/...) or the oracle (oracle/...).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ORACLE = ROOT.parent / "shared" / "oracle"
OUT = Path(__file__).resolve().parent / "conn"
SUFFIXES = (".pcap", ".pcapng", ".gz", ".zst", ".cap")


def golden_captures() -> list[tuple[str, Path]]:
    """(golden name, capture path) for every capture; names are unique and stable."""
    out: list[tuple[str, Path]] = []
    for p in sorted((ROOT / "captures").rglob("*")):
        if p.is_file() and p.name.endswith(SUFFIXES) and "bad" not in p.parts:
            out.append((str(p.relative_to(ROOT / "captures")), p))
    if ORACLE.is_dir():
        for p in sorted(ORACLE.rglob("*")):
            if p.is_file() and p.name.endswith(SUFFIXES):
                out.append(("oracle/" + str(p.relative_to(ORACLE)), p))
    return out


def run(cli: list[str], capture: Path, fmt: str, extra: list[str]) -> str:
    proc = subprocess.run([*cli, "connections", str(capture), "--format", fmt, "-q", *extra],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    if proc.returncode not in (0, 4):
        sys.exit(f"{capture}: exit {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cli", default=str(ROOT / ".venv" / "bin" / "pcap-analyzer"))
    ap.add_argument("extra", nargs="*", help="options passed to connections")
    args = ap.parse_args()
    for name, capture in golden_captures():
        dest = OUT / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        rel = str(capture.relative_to(ROOT)) if capture.is_relative_to(ROOT) else str(capture)
        for fmt, suffix in (("jsonl", ".jsonl"), ("zeek", ".conn.log")):
            text = run([args.cli], Path(rel) if not Path(rel).is_absolute() else capture, fmt,
                       args.extra)
            Path(str(dest) + suffix).write_text(text)
        print(name)


if __name__ == "__main__":
    main()
