"""Terminal tables fit the terminal: at 80, 120 and 200 columns and in a pipe no line is
wider than the width, a row is one line (no endpoint or state is ever broken), the least
important columns drop out and the footer names exactly those; ``--wide`` and
``--columns`` bring them back; ``#N`` numbers connections as the HTML report does."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from analyzer.api import analyze
from analyzer.cli import app
from analyzer.core.records import ConnectionRecord
from analyzer.report import app as app_rows
from analyzer.report import writers
from analyzer.report.endpoints import connection, endpoint

ROOT = Path(__file__).resolve().parents[1]
REAL = sorted(p for p in (ROOT / "captures" / "real").glob("*.pcap*")
              if not p.name.endswith(".json"))
IPV6 = ROOT / "captures" / "real" / "ipv6_keepalive.pcapng"
WS = sorted((ROOT / "captures" / "ws_synthetic").glob("*.pcap"))
WIDTHS = (80, 120, 200)
runner = CliRunner()

#: (label, captures) of every table under test: each real capture alone, all together.
SETS = [(p.name, [p]) for p in REAL] + [("all real", REAL),
                                         ("ipv6 and synthetic", [IPV6, ROOT / "captures"
                                                                 / "synthetic" / "ipv6.pcap"])]


def table_text(paths: Sequence[Path], width: int, **kw: object) -> str:
    analysis = analyze([str(p) for p in paths])
    out = io.StringIO()
    writers.write_table(analysis.connections, out, title="connections",
                        several=len(paths) > 1, width=width, **kw)  # type: ignore[arg-type]
    return out.getvalue()


def shown_columns(header: str, columns: Sequence[writers.TableColumn]) -> list[str]:
    """The names of the columns whose headers are in the header line (longest headers
    first, so that ``client`` is not found inside ``client state``)."""
    found = []
    line = f" {header} "
    for column in sorted(columns, key=lambda c: -len(c.header)):
        m = re.search(rf"(?<=\s){re.escape(column.header)}(?=\s)", line)
        if m:
            found.append((m.start(), column.name))
            line = line[:m.start()] + " " * len(column.header) + line[m.end():]
    return [name for _, name in sorted(found)]


def footer_names(text: str) -> list[str] | None:
    """The columns the footer names, or None without a footer."""
    flat = " ".join(text.split())
    m = re.search(r"hidden to fit (\d+) columns: (.*?) \(--wide shows every column, "
                  r"--columns A,B,C picks them\)", flat)
    return None if m is None else [n.strip() for n in m.group(2).split(",")]


def check_table(text: str, width: int | None, records: Sequence[ConnectionRecord],
                columns: Sequence[writers.TableColumn]) -> list[str]:
    """Every line fits, every row is one line that holds its #N and both endpoints whole,
    and the footer names exactly the columns that are not shown. The shown names."""
    lines = text.splitlines()
    if width is not None:
        assert max(len(line) for line in lines) <= width, text
    header = next(line for line in lines if re.match(r"\s*#\s", line))
    shown = shown_columns(header, columns)
    rows = [line for line in lines if re.match(r"\s*#\d+ ", line)]
    assert len(rows) == len(records), text
    for n, (row, rec) in enumerate(zip(rows, records, strict=True), start=1):
        assert row.split()[0] == f"#{n}"
        for name in ("client", "server"):
            assert endpoint(getattr(rec, f"{name}_ip"), getattr(rec, f"{name}_port")) in row
        for name in ("handshake", "end", "closer", "client_state", "server_state",
                     "conn_state", "history", "time_wait"):
            value = getattr(rec, name)
            if name in shown and value:
                assert re.search(rf"(?<!\S){re.escape(value)}(?!\S)", row), (name, row)
    dropped = [c.name for c in columns if c.name not in shown]
    assert footer_names(text) == (dropped or None), text
    return shown


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("label, paths", SETS, ids=[label for label, _ in SETS])
def test_connections_table_fits(label: str, paths: list[Path], width: int) -> None:
    records = analyze([str(p) for p in paths]).records
    columns = [c for c in writers.TABLE_COLUMNS if len(paths) > 1 or c.name != "capture"]
    shown = check_table(table_text(paths, width), width, records, columns)
    assert shown[:1] == ["n"] and {"client", "server"} <= set(shown)
    assert ("capture" in shown) == (len(paths) > 1) or width == 80


def test_wider_terminals_show_more_and_the_priorities_hold() -> None:
    records = analyze([str(p) for p in REAL]).records
    shown = {w: check_table(table_text(REAL, w), w, records, writers.TABLE_COLUMNS)
             for w in WIDTHS}
    assert set(shown[80]) <= set(shown[120]) <= set(shown[200])
    assert {"n", "client", "server", "handshake", "end", "closer", "time_wait"} <= set(
        shown[80])
    assert {"client_state", "server_state", "capture"} <= set(shown[120])


def test_an_ipv6_table_keeps_its_brackets_and_long_addresses_whole() -> None:
    analysis = analyze([str(IPV6)])
    df = analysis.connections.copy()
    long_ip = "2001:db8:85a3:1234:5678:8a2e:370:7334"
    df["client_ip"] = long_ip
    rec = analysis.records[0]
    for width in WIDTHS:
        out = io.StringIO()
        writers.write_table(df, out, width=width)
        text = out.getvalue()
        assert max(map(len, text.splitlines())) <= width
        assert f"[{long_ip}]:{rec.client_port}" in text
        assert f"[::1]:{rec.server_port}" in text


@pytest.mark.parametrize("env, width", [({}, writers.PIPE_WIDTH), ({"COLUMNS": "100"}, 100)])
def test_a_pipe_uses_columns_or_200(env: dict[str, str], width: int) -> None:
    paths = [str(p) for p in REAL]
    result = runner.invoke(app, ["connections", *paths, "-f", "table", "-q"], env=env)
    assert result.exit_code == 0, result.output
    records = analyze(paths).records
    check_table(result.stdout, width, records, writers.TABLE_COLUMNS)


def test_wide_shows_every_column_and_no_footer() -> None:
    paths = [str(p) for p in REAL]
    result = runner.invoke(app, ["connections", *paths, "--wide", "-q"],
                           env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    shown = check_table(result.stdout, None, analyze(paths).records, writers.TABLE_COLUMNS)
    assert shown and set(shown) == {c.name for c in writers.TABLE_COLUMNS}
    assert max(map(len, result.stdout.splitlines())) > 80  # the terminal wraps them


def test_columns_picks_fields_in_order() -> None:
    result = runner.invoke(app, ["connections", str(IPV6), "--columns",
                                 "uid,n,client_ip,client_port,server,end,retrans_rate"],
                           env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = next(line for line in lines if "uid" in line)
    assert header.split() == ["uid", "#", "client_ip", "client_port", "server", "end",
                              "retrans_rate"]
    (rec,) = analyze([str(IPV6)]).records
    (row,) = [line for line in lines if rec.uid in line]
    assert row.split()[:6] == [rec.uid, "#1", "::1", str(rec.client_port), "[::1]:18088",
                               "fin"]
    assert footer_names(result.stdout) is None


def test_unknown_column_is_one_line_exit_2_with_close_matches() -> None:
    result = runner.invoke(app, ["connections", str(IPV6), "--columns", "uid,clinet_ip"])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert "unknown column 'clinet_ip'" in line and "client_ip" in line
    result = runner.invoke(app, ["http", str(IPV6), "--columns", "methd"])
    assert result.exit_code == 2 and "method" in result.stderr
    result = runner.invoke(app, ["connections", str(IPV6), "--wide", "-f", "csv"])
    assert result.exit_code == 2 and "-f csv" in result.stderr


def test_number_agrees_with_the_html_report(tmp_path: Path) -> None:
    paths = [str(p) for p in REAL]
    result = runner.invoke(app, ["connections", *paths, "--columns", "n,uid", "-q"])
    assert result.exit_code == 0, result.output
    table = dict(re.findall(r"^\s*#(\d+) (C\w+)", result.stdout, re.M))
    assert len(table) == len(analyze(paths).records)
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", *paths, "--out", str(out), "--no-step-summary",
                                 "-q"])
    assert result.exit_code in (0, 1), result.output
    html = (out / "report.html").read_text()
    report = dict(re.findall(r'<tr id="c(\d+)"><td class="num">\1</td>.*?'
                             r'<td class="mono">(C\w+)</td>', html))
    assert report == table


# --------------------------------------------------------------- http and websockets


def app_table(kind: str, paths: Sequence[Path], env: dict[str, str]) -> str:
    result = runner.invoke(app, [kind, *map(str, paths), "-f", "table", "-q"], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("width", [*WIDTHS, None])
@pytest.mark.parametrize("kind", ["http", "websockets"])
def test_app_tables_fit_and_say_where_a_row_comes_from(kind: str, width: int | None) -> None:
    paths = [*REAL, *WS]
    env = {} if width is None else {"COLUMNS": str(width)}
    text = app_table(kind, paths, env)
    lines = text.splitlines()
    assert max(map(len, lines)) <= (width or writers.PIPE_WIDTH)
    records = analyze([str(p) for p in paths]).records
    rows = app_rows.numbered_rows(kind, records)
    assert rows
    table = app_rows.HTTP_TABLE if kind == "http" else app_rows.WS_TABLE
    header = next(line for line in lines if re.match(r"\s*#\s", line))
    shown = shown_columns(header, table)
    assert {"n", "client", "server"} <= set(shown)
    if width != 80:
        assert "capture" in shown
    assert "client_port" not in header and "_" not in header  # human headers
    row_lines = [line for line in lines if re.match(r"\s*#\d+ ", line)]
    assert len(row_lines) == len(rows)
    for line, row in zip(row_lines, rows, strict=True):
        assert line.split()[0] == f"#{row['n']}"
        assert endpoint(row["client_ip"], row["client_port"]) in line
        assert endpoint(row["server_ip"], row["server_port"]) in line
    dropped = [c.name for c in table if c.name not in shown]
    assert footer_names(text) == (dropped or None)


def test_app_rows_are_numbered_as_their_connections() -> None:
    paths = [str(p) for p in REAL]
    records = analyze(paths).records
    number = {r.uid: n for n, r in enumerate(records, start=1)}
    for kind in ("http", "websockets"):
        for row in app_rows.numbered_rows(kind, records):
            assert row["n"] == number[row["uid"]]


def test_one_capture_has_no_capture_column() -> None:
    text = app_table("http", [IPV6], {"COLUMNS": "200"})
    header = next(line for line in text.splitlines() if re.match(r"\s*#\s", line))
    assert "capture" not in header
    assert "[::1]:39504" in text


# ----------------------------------------------------------------------- the pieces


def test_endpoint_brackets_ipv6_only() -> None:
    assert endpoint("10.0.0.1", 80) == "10.0.0.1:80"
    assert endpoint("::1", 35047) == "[::1]:35047"
    assert endpoint("fe80::1", None) == "[fe80::1]"
    assert endpoint(None, 80) == ""
    assert endpoint("::1", pd.NA) == "[::1]"
    assert connection("::1", 1, "::2", 2) == "[::1]:1-[::2]:2"


def test_layout_drops_whole_priorities_least_important_first() -> None:
    cols = [writers.TableColumn("a", "a", 0, lambda r: ""),
            writers.TableColumn("b", "b", 1, lambda r: ""),
            writers.TableColumn("c", "c", 1, lambda r: ""),
            writers.TableColumn("d", "d", 2, lambda r: "")]
    cells = [["x" * 10], ["y" * 10], ["z" * 10], ["w" * 3]]
    fit = writers.layout(cols, cells, 25)
    assert [c.name for c in fit.columns] == ["a", "d"]  # b and c go together; d still fits
    assert [c.name for c in fit.dropped] == ["b", "c"]
    assert writers.layout(cols, cells, None).widths == [10, 10, 10, 3]
    assert not writers.layout(cols, cells, 36).dropped


def test_shortened_names_keep_their_start_and_end() -> None:
    assert writers._middle("simultaneous_close.pcap", 14) == "simultane…pcap"
    assert writers._middle("short.pcap", 14) == "short.pcap"
