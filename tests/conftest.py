from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CAPTURES = ROOT / "captures"
sys.path.insert(0, str(Path(__file__).resolve().parent))

HAVE_TSHARK = shutil.which("tshark") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if HAVE_TSHARK:
        return
    skip = pytest.mark.skip(reason="tshark is not installed (make test installs it)")
    for item in items:
        if "tshark" in item.keywords:
            item.add_marker(skip)


def expectation_files() -> list[Path]:
    return sorted((CAPTURES / "real").glob("*.expected.json")) + sorted(
        (CAPTURES / "synthetic").glob("*.expected.json")
    )
