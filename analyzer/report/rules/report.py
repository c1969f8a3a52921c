"""What ``check`` found, over every capture: the tally and the text, JSON and Markdown
renderings."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from analyzer.report.rules.evaluate import RuleResult, _show
from analyzer.report.writers import md_escape
from analyzer.text import inert


@dataclass(slots=True)
class CaptureCheck:
    """What ``check`` found for one capture: its rule results, or why it could not be read."""

    capture: str
    results: list[RuleResult] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    truncated: bool = False


def failed(checks: Iterable[CaptureCheck]) -> bool:
    """Whether any error-severity rule does not hold on any capture."""
    return any(r.fails for c in checks for r in c.results)


def counts(checks: Sequence[CaptureCheck]) -> dict[str, int]:
    results = [r for c in checks for r in c.results]
    return {"captures": len(checks), "rules": len({r.rule.name for r in results}),
            "passed": sum(r.passed for r in results),
            "failed": sum(r.status == "FAIL" for r in results),
            "warnings": sum(r.status == "WARN" for r in results),
            "unreadable": sum(c.error is not None for c in checks)}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def tally(checks: Sequence[CaptureCheck]) -> str:
    """``3 passed, 1 failed, 0 warnings (2 rules on 2 captures)``."""
    n = counts(checks)
    unreadable = f", {n['unreadable']} unreadable" if n["unreadable"] else ""
    return (f"{n['passed']} passed, {n['failed']} failed, {_plural(n['warnings'], 'warning')} "
            f"({_plural(n['rules'], 'rule')} on {_plural(n['captures'], 'capture')}"
            f"{unreadable})")


def render_text(checks: Sequence[CaptureCheck]) -> str:
    lines: list[str] = []
    for check in checks:
        if check.error is not None:
            lines.append(f"ERROR {inert(check.capture)}: {inert(check.error)}")
        for result in check.results:
            lines.append(f"{result.status} {inert(result.headline())}")
            lines.extend("    " + inert(line) for line in result.detail_lines())
    lines.append(tally(checks))
    return "\n".join(lines) + "\n"


def render_json(checks: Sequence[CaptureCheck]) -> str:
    doc = {
        "passed": not failed(checks) and not any(c.error for c in checks),
        "counts": counts(checks),
        "captures": [{"capture": c.capture, "error": c.error, "warnings": c.warnings,
                      "truncated": c.truncated,
                      "results": [r.to_dict() for r in c.results]} for c in checks],
    }
    return json.dumps(doc, indent=2) + "\n"


def render_markdown(checks: Sequence[CaptureCheck]) -> str:
    icons = {"PASS": "✅ pass", "FAIL": "❌ fail", "WARN": "⚠️ warn"}
    out: list[str] = []
    for check in checks:
        out.append(f"### {md_escape(check.capture)}\n")
        if check.error is not None:
            out.append(f"**error:** {md_escape(check.error)}\n")
        for warning in check.warnings:
            out.append(f"**warning:** {md_escape(warning)}\n")
        if not check.results:
            continue
        out.append("| status | rule | expression | measured | offending |")
        out.append("|---|---|---|---|---|")
        for r in check.results:
            offending = "<br>".join(md_escape(o.describe()) for o in r.offenders)
            if r.violations and r.violations > len(r.offenders):
                offending += f"<br>… {r.violations - len(r.offenders)} more"
            expr = inert(r.rule.expr).replace("`", "'").replace("|", "\\|")
            out.append(f"| {icons[r.status]} | {md_escape(r.rule.name)} | `{expr}` | "
                       f"{md_escape(_show(r.measured))} | {offending} |")
        out.append("")
    out.append(f"**{tally(checks)}**\n")
    return "\n".join(out)
