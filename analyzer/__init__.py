"""pcap-analyzer: what happened to every TCP connection in a packet capture."""

from __future__ import annotations

from analyzer.api import Analysis, CaptureResult, analyze, analyze_capture
from analyzer.core.records import ConnectionRecord
from analyzer.errors import AnalyzerError, CaptureError

__version__ = "0.1.0"
__all__ = [
    "Analysis",
    "AnalyzerError",
    "CaptureError",
    "CaptureResult",
    "ConnectionRecord",
    "__version__",
    "analyze",
    "analyze_capture",
]
