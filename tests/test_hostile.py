"""Packet-derived strings are untrusted: in every output format a hostile request target,
Origin, subprotocol and close reason (captures/hostile/hostile.pcap: script tags, Markdown
pipes and backticks, Mermaid syntax, CSV formula prefixes, ANSI escapes) come out inert."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analyzer.cli import app

pytestmark = pytest.mark.tshark
ROOT = Path(__file__).resolve().parents[1]
HOSTILE = str(ROOT / "captures" / "hostile" / "hostile.pcap")
runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, [*args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def assert_no_escape_sequences(text: str) -> None:
    assert "\x1b" not in text


def test_json_formats_keep_the_strings_exactly_and_escaped() -> None:
    (row,) = [json.loads(x) for x in run("websockets", HOSTILE, "-f", "jsonl").splitlines()]
    assert row["request_target"].startswith("/x?q=<script>alert(1)</script>|")
    assert row["request_target"].endswith("\x1b[2J")  # the value is exact...
    raw = run("websockets", HOSTILE, "-f", "jsonl")
    assert_no_escape_sequences(raw)  # ...and the JSON text escapes it (\u001b)
    assert "\\u001b[2J" in raw


@pytest.mark.parametrize("command", ["websockets", "http", "connections"])
def test_tables_are_inert(command: str) -> None:
    assert_no_escape_sequences(run(command, HOSTILE, "-f", "table"))


@pytest.mark.parametrize("command", ["websockets", "http"])
def test_csv_neutralises_formulas_and_escapes(command: str) -> None:
    text = run(command, HOSTILE, "-f", "csv")
    assert_no_escape_sequences(text)
    rows = list(csv.DictReader(io.StringIO(text)))
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "@")), value
    if command == "websockets":
        assert rows[0]["subprotocol"] == "'=HYPERLINK(1)|`x`"


def _markdown_rows_are_intact(text: str) -> None:
    unescaped_pipe = re.compile(r"(?<!\\)\|")
    table: list[int] = []
    for line in text.splitlines():
        if line.startswith("|"):
            table.append(len(unescaped_pipe.findall(line)))
        elif table:
            assert len(set(table)) == 1, f"a row has extra cells: {table}"
            table = []


@pytest.mark.parametrize("command", ["websockets", "http", "connections"])
def test_markdown_cells_cannot_break_the_table(command: str) -> None:
    text = run(command, HOSTILE, "-f", "markdown")
    assert_no_escape_sequences(text)
    assert "<script>" not in text and "<img" not in text
    _markdown_rows_are_intact(text)


def test_report_folder_is_inert(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", HOSTILE, "--out", str(tmp_path), "--csv",
                                 "--no-step-summary", "-q"])
    assert result.exit_code == 0, result.output
    md = (tmp_path / "report.md").read_text()
    assert_no_escape_sequences(md)
    assert "<script>" not in md and "<img" not in md
    _markdown_rows_are_intact(md)
    for block in re.findall(r"```mermaid\n(.*?)```", md, flags=re.S):
        body = "\n".join(block.splitlines()[3:])  # after the participants
        assert "%%" not in body and ";" not in body and "<" not in body
    html = (tmp_path / "report.html").read_text()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert_no_escape_sequences((tmp_path / "websockets.csv").read_text())


def test_explain_is_inert() -> None:
    text = run("explain", HOSTILE)
    assert_no_escape_sequences(text)
    mermaid = run("explain", HOSTILE, "-f", "markdown")
    (block,) = re.findall(r"```mermaid\n(.*?)```", mermaid, flags=re.S)
    assert "%%" not in block and "<script" not in block and ";" not in block
    assert "<script" not in mermaid.split("```")[-1]  # the verdict below is escaped too
