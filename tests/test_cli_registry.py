"""Every (command, format) pair that ``--help`` offers is registered in
``analyzer.outputs.WRITERS``, and writes something that parses as that format."""

from __future__ import annotations

import ast
import csv
import io
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from analyzer import outputs
from analyzer.cli import app

pytestmark = pytest.mark.tshark
ROOT = Path(__file__).resolve().parents[1]
CAPTURE = ROOT / "captures" / "ws" / "ws_text_binary.pcapng"  # TCP, HTTP and WebSocket
COMMANDS = ("connections", "summary", "http", "websockets", "diff", "explain", "check")
runner = CliRunner()


def help_formats(command: str) -> list[str]:
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    match = re.search(r"--format <([a-z|]+)>", result.stdout)
    assert match, result.stdout
    return match.group(1).split("|")


def test_the_registry_has_exactly_the_pairs_help_shows() -> None:
    shown = {(command, fmt) for command in COMMANDS for fmt in help_formats(command)}
    assert shown == set(outputs.WRITERS)
    for command in COMMANDS:  # the same order too
        assert help_formats(command) == outputs.formats(command)


def test_connections_streams_the_formats_the_sinks_stream() -> None:
    from analyzer.report.sinks import STREAMING_FORMATS

    assert set(outputs.STREAMED) == set(STREAMING_FORMATS)


def test_commands_without_formats_have_no_writers() -> None:
    result = runner.invoke(app, ["report", "--help"], env={"COLUMNS": "200"})
    assert "--format" not in result.stdout
    assert not [pair for pair in outputs.WRITERS if pair[0] == "report"]


def _args(command: str) -> list[str]:
    capture = str(CAPTURE)
    return {"diff": [command, capture, capture],
            "check": [command, capture, "--rule", "count() > 0"]}.get(command,
                                                                      [command, capture])


def _parses(command: str, fmt: str, text: str, path: Path) -> None:
    lines = [line for line in text.splitlines() if line.strip()]
    if fmt == "parquet":
        assert pq.read_table(path).num_rows > 0
        return
    assert lines, f"{command} -f {fmt} wrote nothing"
    if fmt == "jsonl":
        assert all(isinstance(json.loads(line), dict) for line in lines)
    elif fmt == "json":
        json.loads(text)
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        assert len(rows) >= 2 and all(rows[0])
        assert all(len(row) == len(rows[0]) for row in rows)
    elif fmt == "zeek":
        assert any(line.startswith("#fields\t") for line in lines)
    elif fmt == "markdown":
        table = any(re.match(r"^\|( *:?-+:? *\|)+$", line) for line in lines)
        heading = any(re.match(r"^#{1,6} ", line) for line in lines)
        mermaid = lines[0] == "```mermaid"  # explain: a Mermaid sequence diagram
        assert table or heading or mermaid, text
    elif fmt == "table":
        header = {"connections": ("client", "server"), "http": ("client", "method"),
                  "websockets": ("client", "status"), "summary": ("section", "item"),
                  "diff": ("diff:", "Server endpoints")}[command]
        assert any(all(word in line for word in header) for line in lines) or all(
            word in text for word in header), text
    else:
        assert fmt == "text"
        first = {"explain": "#1 ", "check": "PASS "}[command]
        assert lines[0].startswith(first), text


@pytest.mark.parametrize(("command", "fmt"), sorted(outputs.WRITERS))
def test_every_pair_writes_something_parseable(command: str, fmt: str,
                                               tmp_path: Path) -> None:
    out = tmp_path / f"out.{fmt}"
    args = [*_args(command), "--format", fmt]
    if fmt == "parquet":
        args += ["-o", str(out)]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, (result.output, result.stderr)
    _parses(command, fmt, result.stdout, out)


def test_cli_is_the_thin_typer_layer() -> None:
    """The command line stays a thin layer (issue 11): at most 300 lines, and no module state
    beyond the typer app, its epilog and the --format aliases."""
    source = (Path(__file__).resolve().parents[1] / "analyzer" / "cli.py").read_text()
    assert len(source.splitlines()) <= 300
    tree = ast.parse(source)
    assigned = {t.id for node in tree.body if isinstance(node, ast.Assign)
                for t in node.targets if isinstance(t, ast.Name)}
    assert assigned == {"EPILOG", "app"}
