"""The only package that knows about tshark and pyshark.

``load(path, options)`` yields :class:`analyzer.core.PacketRecord` objects; the fast path
streams tshark's field export, ``loader="pyshark"`` builds the same records from pyshark
packet objects (slow; a reference and a drill-down tool).
"""

from __future__ import annotations

from analyzer.loader.tshark import LoadOptions, LoadResult, load, tshark_info, validate_filter

__all__ = ["LoadOptions", "LoadResult", "load", "tshark_info", "validate_filter"]
