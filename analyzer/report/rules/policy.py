"""Policy files: rules from the ``[[rule]]`` tables of a TOML file (README, "Policy files")."""

from __future__ import annotations

import tomllib

from analyzer.report.rules.bind import Rule, parse
from analyzer.report.rules.vocabulary import SEVERITIES, PolicyError, RuleError


def load_policy(text: str, source: str = "policy") -> list[Rule]:
    """Rules from a policy file's TOML text::

        [[rule]]
        name = "no resets"
        expr = "count(end == 'rst') / count() <= 0.05"
        severity = "error"      # or "warning": shown, never fails the check
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from None
    extra = sorted(set(data) - {"rule"})
    if extra:
        raise PolicyError(f"{source}: unknown key {extra[0]!r}; rules go in [[rule]] tables")
    tables = data.get("rule", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise PolicyError(f"{source}: 'rule' must be an array of tables ([[rule]])")
    if not tables:
        raise PolicyError(f"{source}: no [[rule]] tables")
    rules: list[Rule] = []
    names: set[str] = set()
    for index, table in enumerate(tables, 1):
        where = f"{source}: rule {index}"
        unknown = sorted(set(table) - {"name", "expr", "severity", "description"})
        if unknown:
            raise PolicyError(f"{where}: unknown key {unknown[0]!r} (the keys are name, "
                              "expr, severity, description)")
        expr = table.get("expr")
        if not isinstance(expr, str):
            raise PolicyError(f"{where}: 'expr' must be a string")
        name = table.get("name", expr)
        severity = table.get("severity", "error")
        description = table.get("description", "")
        if not isinstance(description, str):
            raise PolicyError(f"{where}: 'description' must be a string")
        if not isinstance(name, str) or not name.strip():
            raise PolicyError(f"{where}: 'name' must be a non-empty string")
        if severity not in SEVERITIES:
            raise PolicyError(f"{where} ({name}): severity must be \"error\" or \"warning\", "
                              f"not {severity!r}")
        if name in names:
            raise PolicyError(f"{where}: the name {name!r} is used twice")
        names.add(name)
        try:
            rules.append(parse(expr, name, severity, description))
        except RuleError as exc:
            raise PolicyError(f"{source}: {exc}") from None
    return rules

