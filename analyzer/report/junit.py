"""JUnit XML for ``pcap-analyzer check --junit FILE`` (written with junitparser).

One ``<testsuite>`` per capture, named by the capture; in it one ``<testcase>`` per rule,
``classname="pcap-analyzer.check"`` and ``name="RULE NAME: EXPR"``. A failed error-severity
rule gets a ``<failure>`` whose ``message`` is the one-line headline and whose text is the
full details (the measured value and the offending connections), because some CI systems
show only the message and others only the text. A failed warning-severity rule passes, with
its details in ``<system-out>``.

A capture that could not be read gets one ``<testcase name="read capture">`` with an
``<error>``; so does a truncated capture under ``--strict`` (without it, the testcase passes
and carries the warning in ``<system-out>``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO

from junitparser import Error, Failure, JUnitXml, TestCase, TestSuite

from analyzer.report.rules import CaptureCheck, RuleResult
from analyzer.text import inert

CLASSNAME = "pcap-analyzer.check"
READ_CASE = "read capture"


def _text(text: str) -> str:
    """Untrusted text, safe for XML: control characters made visible, line breaks kept."""
    return "\n".join(inert(line) for line in text.split("\n"))


def _case(result: RuleResult) -> TestCase:
    rule = result.rule
    name = rule.expr if rule.name == rule.expr else f"{rule.name}: {rule.expr}"
    case = TestCase(inert(name), classname=CLASSNAME)
    if result.fails:
        failure = Failure(inert(f"FAIL {result.headline()}"), "rule failed")
        failure.text = _text(result.details())
        case.result = [failure]
    elif not result.passed:
        case.system_out = _text(result.details())
    return case


def _read_case(check: CaptureCheck, strict: bool) -> TestCase | None:
    if check.error is None and not check.warnings:
        return None
    case = TestCase(READ_CASE, classname=CLASSNAME)
    if check.error is not None:
        error = Error(inert(f"{check.capture}: {check.error}"), "unreadable capture")
        error.text = inert(f"error: {check.capture}: {check.error}")
        case.result = [error]
    elif strict and check.truncated:
        text = "; ".join(check.warnings)
        error = Error(inert(f"{check.capture}: {text} (an error under --strict)"),
                      "truncated capture")
        error.text = _text("\n".join(f"error: {check.capture}: {w}" for w in check.warnings))
        case.result = [error]
    else:
        case.system_out = _text("\n".join(f"warning: {check.capture}: {w}"
                                          for w in check.warnings))
    return case


def build(checks: Sequence[CaptureCheck], strict: bool = False) -> JUnitXml:
    """The JUnit document for ``check``'s results."""
    xml = JUnitXml("pcap-analyzer check")
    for check in checks:
        suite = TestSuite(inert(check.capture))
        read = _read_case(check, strict)
        if read is not None:
            suite.add_testcase(read)
        for result in check.results:
            suite.add_testcase(_case(result))
        suite.update_statistics()  # type: ignore[no-untyped-call]
        xml.add_testsuite(suite)
    xml.update_statistics()  # type: ignore[no-untyped-call]
    return xml


def write(checks: Sequence[CaptureCheck], target: str | Path | IO[bytes],
          strict: bool = False) -> None:
    """Write the JUnit XML to a file name or a binary file object."""
    xml = build(checks, strict)
    xml.write(str(target) if isinstance(target, Path) else target, pretty=True)
