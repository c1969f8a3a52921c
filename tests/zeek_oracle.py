"""Read the Zeek oracle (../shared/oracle) and compare it with our records."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ORACLE = Path(__file__).resolve().parents[2] / "shared" / "oracle"


@dataclass(frozen=True)
class OracleCapture:
    name: str
    capture: Path
    conn_log: Path | None
    history_state: Path | None
    ignore_checksums: bool  # Zeek ran with -C


def oracle_captures() -> list[OracleCapture]:
    """Every capture of ``MANIFEST.tsv`` and ``zeek-tunnels/MANIFEST.tsv``."""
    rows = []
    for manifest, prefix in ((ORACLE / "MANIFEST.tsv", ""),
                             (ORACLE / "zeek-tunnels" / "MANIFEST.tsv", "")):
        if manifest.exists():
            rows += [dict(r, file=prefix + r["file"])
                     for r in csv.DictReader(manifest.open(), delimiter="\t")]
    out = []
    for row in rows:
        f = row["file"]
        if not (f.endswith(".pcap") or f.endswith(".pcapng")):
            continue
        path = ORACLE / f
        stem = path.name.rsplit(".", 1)[0]
        conn = path.with_name(stem + ".conn.log")
        hs = path.with_name(stem + ".history_state.txt")
        cmd = row["zeek_command"]
        out.append(
            OracleCapture(
                name=stem,
                capture=path,
                conn_log=conn if conn.exists() else None,
                history_state=hs if hs.exists() else None,
                ignore_checksums=" -C " in f" {cmd} " or cmd.split()[1:2] == ["-C"],
            )
        )
    return out


def parse_conn_log(path: Path) -> list[dict[str, str | None]]:
    """Rows of a Zeek conn.log (full ASCII log or a zeek-cut view); '-' becomes None."""
    cols: list[str] | None = None
    rows = []
    for line in path.read_text().splitlines():
        if line.startswith("###") or not line.strip():
            continue
        if line.startswith("#fields"):
            cols = line.split("\t")[1:]
            continue
        if line.startswith("#"):
            continue
        parts = line.split("\t")
        if cols is None:
            cols = parts
            continue
        rows.append({k: (None if v == "-" else v) for k, v in zip(cols, parts, strict=False)})
    return rows


def parse_history_state(path: Path) -> tuple[str, str]:
    for line in path.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        history, state = (x.strip() for x in line.split(","))
        return history, state
    raise ValueError(path)


COMPARED = ("conn_state", "history", "orig_pkts", "resp_pkts", "orig_ip_bytes",
            "resp_ip_bytes", "orig_bytes", "resp_bytes", "missed_bytes", "duration",
            "tunnel_parents")


def _five_tuple(r: dict[str, str | None]) -> str:
    return "/".join(str(r.get(c)) for c in ("proto", "id.orig_h", "id.orig_p", "id.resp_h",
                                            "id.resp_p"))


def name_parents(rows: list[dict[str, str | None]]) -> list[dict[str, str | None]]:
    """uids differ between Zeek and us: name each tunnel parent by its 5-tuple when it is a
    row of the log (a UDP tunnel's outer flow), else "ip-tunnel" (Zeek's IP tunnels,
    IP-in-IP and GRE, have a uid of their own that no conn.log row carries)."""
    by_uid = {r.get("uid"): _five_tuple(r) for r in rows}
    out = []
    for r in rows:
        parents = r.get("tunnel_parents")
        named = None
        if parents:
            named = ",".join(sorted(by_uid.get(u, "ip-tunnel") for u in parents.split(",")))
        out.append({**r, "tunnel_parents": named})
    return out


def group_rows(rows: list[dict[str, str | None]], columns: tuple[str, ...]
               ) -> dict[tuple[str, ...], list[tuple[str | None, ...]]]:
    """Rows grouped by 5-tuple; each group a sorted list of the compared columns.

    Zeek's timestamps are canonified away in the baselines, so connections that reuse a
    4-tuple are compared as a multiset within their 5-tuple.
    """
    out: dict[tuple[str, ...], list[tuple[str | None, ...]]] = defaultdict(list)
    for r in rows:
        key = (str(r.get("proto")), str(r.get("id.orig_h")), str(r.get("id.orig_p")),
               str(r.get("id.resp_h")), str(r.get("id.resp_p")))
        out[key].append(tuple(r.get(c) for c in columns))
    return {k: sorted(v, key=lambda t: tuple(x or "" for x in t)) for k, v in out.items()}
