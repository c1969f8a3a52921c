"""Naming a connection: ``explain --conn`` takes a uid, the ``#N`` of the table, or the
endpoints ``CLIENT:PORT-SERVER:PORT``, or any unique prefix of a uid or endpoints; an
ambiguous name lists its candidates and exits 2 (``report.select.find_connection``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analyzer.api import analyze
from analyzer.cli import app
from analyzer.core.records import ConnectionRecord
from analyzer.report.select import (
    MAX_CANDIDATES,
    AmbiguousConnection,
    NoConnection,
    find_connection,
    numbers,
)

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "captures" / "real"
MIXED = str(REAL / "mixed.pcap")
IPV6 = str(REAL / "ipv6_keepalive.pcapng")
UDP = str(REAL / "udp_exchange.pcapng")
ALL = [str(p) for p in sorted(REAL.glob("*.pcap*")) if not p.name.endswith(".json")]
runner = CliRunner()


def explain(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["explain", *args])
    return result.exit_code, result.stdout, result.stderr


def head(text: str) -> str:
    return text.splitlines()[0]


@pytest.fixture(scope="module")
def mixed() -> list[ConnectionRecord]:
    return list(analyze([MIXED]).records)


def test_by_uid_by_number_and_by_endpoints_alike(mixed: list[ConnectionRecord]) -> None:
    rec = mixed[1]
    pair = f"{rec.client_ip}:{rec.client_port}-{rec.server_ip}:{rec.server_port}"
    outputs = set()
    for name in (rec.uid, "#2", "2", pair, rec.uid[:6],
                 f"{rec.client_ip}:{rec.client_port}-", pair[:-2]):
        code, out, err = explain(MIXED, "--conn", name)
        assert code == 0, (name, err)
        assert head(out).startswith(f"#2  {rec.uid}  tcp  client ")
        outputs.add(out)
    assert len(outputs) == 1


def test_an_ambiguous_prefix_lists_the_candidates_and_exits_2(
        mixed: list[ConnectionRecord]) -> None:
    code, out, err = explain(MIXED, "--conn", "127.0.0.1:5")
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[0].startswith(f"error: {MIXED}: 127.0.0.1:5 matches 2 TCP connections")
    candidates = [line.split() for line in lines[1:]]
    by_n = {f"#{n}": r for n, r in enumerate(mixed, start=1)}
    assert [c[1] for c in candidates] == ["#2", "#3"]
    for uid, n, ends, proto in candidates:
        r = by_n[n]
        assert uid == r.uid and proto == "tcp"
        assert ends == f"{r.client_ip}:{r.client_port}-{r.server_ip}:{r.server_port}"
    code, _, err = explain(MIXED, "--conn", "C")  # every uid starts so
    assert code == 2 and len(err.splitlines()) == 1 + len(mixed)


def test_no_match_says_where_the_ids_are() -> None:
    for name, what in (("Cnope", "no TCP connection with uid Cnope"),
                       ("#9", "no TCP connection #9: the connections are #1 to #4"),
                       ("10.9.9.9:1-", "no TCP connection with endpoints 10.9.9.9:1-")):
        code, _, err = explain(MIXED, "--conn", name)
        assert code == 2
        (line,) = err.splitlines()
        assert what in line and f"pcap-analyzer connections {MIXED} -f table" in line
    code, _, err = explain(IPV6, "--conn", "::1:39504-")
    assert code == 2 and "in brackets" in err
    code, _, err = explain(UDP, "--conn", "#1")
    assert code == 2 and "is not a TCP connection" in err


def test_ipv6_endpoints_go_in_brackets() -> None:
    code, out, err = explain(IPV6, "--conn", "[::1]:39504-[::1]:18088")
    assert code == 0, err
    assert "client [::1]:39504  ->  server [::1]:18088" in head(out)
    assert "The server ([::1]:18088) closed first" in out
    code, md, _ = explain(IPV6, "--conn", "[::1]:39504", "-f", "markdown")
    assert code == 0
    assert "participant C as client [#58;#58;1].39504" in md  # Mermaid's entity for ":"


def test_number_means_the_same_in_the_table_and_in_explain() -> None:
    result = runner.invoke(app, ["connections", *ALL, "--columns", "n,uid", "-q"])
    assert result.exit_code == 0, result.output
    table = dict(re.findall(r"^\s*#(\d+) (C\w+)", result.stdout, re.M))
    for n in ("1", "7", str(len(table))):
        code, out, err = explain(*ALL, "--conn", f"#{n}", "-q")
        if code == 2:  # a UDP flow: explain draws TCP only
            assert "is not a TCP connection" in err
            continue
        assert code == 0, err
        assert head(out).startswith(f"#{n}  {table[n]}  ")
        # and by uid, the same connection and number
        code, again, _ = explain(*ALL, "--conn", table[n], "-q")
        assert code == 0 and again == out


def test_find_connection_rules() -> None:
    records = analyze([MIXED, MIXED]).records  # a file named twice: uids repeat
    assert find_connection(records, "#5").number == 5
    with pytest.raises(AmbiguousConnection) as exc:
        find_connection(records, records[0].uid)
    assert [c.number for c in exc.value.candidates] == [1, 5]
    assert exc.value.lines()[0].split()[:2] == [records[0].uid, "#1"]
    with pytest.raises(NoConnection):
        find_connection(records, "#0")
    with pytest.raises(NoConnection):
        find_connection(records, "  ")
    assert find_connection(records[:4], " 127.0.0.1:44966 -> 127.0.0.1:18090 ").number == 1
    many = [records[0]] * (MAX_CANDIDATES + 3)
    with pytest.raises(AmbiguousConnection) as exc:
        find_connection(many, "C")
    assert len(exc.value.candidates) == MAX_CANDIDATES and exc.value.total == len(many)
    assert exc.value.lines()[-1] == "  ... and 3 more"
    assert numbers(records[:4]) == {(r.capture, r.uid): i for i, r in
                                    enumerate(records[:4], start=1)}
