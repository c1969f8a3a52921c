"""Sans-IO core: packet records in, connection records out.

Nothing in this package imports pyshark, pandas, typer or touches files.
"""

from __future__ import annotations

from analyzer.core.packets import Flags, PacketRecord
from analyzer.core.records import ConnectionRecord
from analyzer.core.tracker import Tracker, TrackerConfig

__all__ = ["ConnectionRecord", "Flags", "PacketRecord", "Tracker", "TrackerConfig"]
