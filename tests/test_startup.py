"""What a streamed run loads: ``connections -f parquet|jsonl`` writes from the engine's
batches, so pandas (about 0.3 s to import) and rich (the progress bars, when none is shown)
must stay unloaded; a stray import in a shared path (the table's column list, the progress
display) once cost 20% of the bench's end-to-end time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CAPTURE = ROOT / "captures" / "real" / "mixed.pcap"
HEAVY = ("pandas", "rich", "matplotlib", "jinja2", "dask", "distributed")

PROBE = """
import json, sys
from analyzer.cli import main
sys.argv = ["pcap-analyzer", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"exit": code, "loaded": sorted({m.split(".")[0] for m in sys.modules})}),
      file=sys.stderr)
"""


def loaded(args: list[str]) -> tuple[int, set[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["exit"], set(report["loaded"])


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_a_streamed_connections_run_loads_neither_pandas_nor_rich(tmp_path: Path,
                                                                   fmt: str) -> None:
    out = tmp_path / f"conn.{fmt}"
    code, modules = loaded(["connections", str(CAPTURE), "-f", fmt, "-o", str(out), "-q"])
    assert code == 0 and out.stat().st_size > 0
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))
    assert ("pyarrow" in modules) == (fmt == "parquet")


def test_the_probe_sees_what_a_table_run_loads(tmp_path: Path) -> None:
    code, modules = loaded(["connections", str(CAPTURE), "-f", "table", "-o",
                            str(tmp_path / "t.txt"), "-q"])
    assert code == 0 and {"pandas", "rich"} <= modules
