"""Errors the CLI turns into one clean line on stderr and a documented exit code.

Exit codes (README, "Exit codes"):
    0  success
    1  a check failed (policy rules, later issues)
    2  usage error: bad option or bad display filter
    3  input or environment error: missing/empty/non-capture file, tshark missing or too old
    4  a truncated capture under --strict
    5  a task of a scaled-out run (--dask, --shards) failed: named by capture and shard
    70 an internal error (a bug: one line instead of a traceback)
"""

from __future__ import annotations

from analyzer.text import one_line

__all__ = ["one_line"]  # the stderr form of a message, re-exported for the CLI

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_TRUNCATED_STRICT = 4
EXIT_TASK_FAILED = 5
EXIT_INTERNAL = 70


class AnalyzerError(Exception):
    """Base for everything the CLI reports as one line."""

    exit_code = EXIT_INPUT


class TsharkNotFound(AnalyzerError):
    """No usable tshark. Without ``path`` none was found on PATH; with one (given by
    ``--tshark-path`` or ``TSHARK_PATH``, named by ``source``) ``problem`` says what is
    wrong with that file: it does not exist, is a directory, is not executable or is not
    tshark."""

    def __init__(self, path: str | None = None, problem: str = "",
                 source: str = "--tshark-path") -> None:
        super().__init__(path, problem, source)
        self.path, self.problem, self.source = path, problem, source

    def __str__(self) -> str:
        if self.path is None:
            return (
                "tshark not found on PATH (set --tshark-path or TSHARK_PATH, or install it: "
                "apt-get install tshark)"
            )
        return f"tshark not found: {self.path} (from {self.source}) {self.problem}"


class TsharkTooOld(AnalyzerError):
    def __init__(self, found: str, needed: str) -> None:
        super().__init__(found, needed)
        self.found, self.needed = found, needed

    def __str__(self) -> str:
        return f"tshark {self.found} is too old: pcap-analyzer needs tshark {self.needed} or newer"


class CaptureError(AnalyzerError):
    """A capture that cannot be read: names the file, and the frame where it applies."""

    def __init__(self, path: str, problem: str, frame: int | None = None) -> None:
        super().__init__(path, problem, frame)
        self.path, self.problem, self.frame = path, problem, frame

    def __str__(self) -> str:
        where = f"{self.path}: frame {self.frame}" if self.frame is not None else self.path
        return f"{where}: {self.problem}"


class BadDisplayFilter(AnalyzerError):
    exit_code = EXIT_USAGE

    def __init__(self, expression: str, message: str) -> None:
        super().__init__(expression, message)
        self.expression, self.message = expression, message

    def __str__(self) -> str:
        return f"bad display filter {self.expression!r}: {self.message}"


class BadOption(AnalyzerError):
    """An option's value that tshark rejects (``--pref``, ``--decode-as``)."""

    exit_code = EXIT_USAGE

    def __init__(self, option: str, value: str, message: str) -> None:
        super().__init__(option, value, message)
        self.option, self.value, self.message = option, value, message

    def __str__(self) -> str:
        return f"bad {self.option} {self.value!r}: {self.message}"


class UsageError(AnalyzerError):
    """Options that do not go together."""

    exit_code = EXIT_USAGE
