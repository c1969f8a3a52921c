"""The ``summary`` table: how handshakes went and how connections ended, per capture."""

from __future__ import annotations

import pandas as pd

SECTIONS = ("handshake", "end", "closer", "time_wait", "conn_state")
PERCENTILES = (("p50", 0.50), ("p90", 0.90), ("p95", 0.95), ("p99", 0.99), ("max", 1.0))


def summarize(df: pd.DataFrame, top_servers: int = 5) -> pd.DataFrame:
    """A tidy frame: capture, section, item, count, percent (of the capture's TCP
    connections), and for ``handshake_rtt_ms`` the percentile in ``value``."""
    rows: list[dict[str, object]] = []
    for capture, group in df.groupby("capture", sort=False, observed=True):
        tcp = group[group["proto"] == "tcp"]
        total = len(tcp)
        rows.append(_row(capture, "connections", "tcp", total, total))
        rows.append(_row(capture, "connections", "udp", int((group["proto"] == "udp").sum()),
                         None))
        for section in SECTIONS:
            counts = tcp[section].astype("string").fillna("none").value_counts(sort=True)
            for item, n in counts.items():
                rows.append(_row(capture, section, str(item), int(n), total))
        rtt = tcp["handshake_rtt_s"].dropna()
        if len(rtt):
            for name, q in PERCENTILES:
                rows.append({"capture": capture, "section": "handshake_rtt_ms", "item": name,
                             "count": len(rtt), "percent": None,
                             "value": round(float(rtt.quantile(q)) * 1000, 3)})
        servers = (group.assign(endpoint=group["server_ip"].astype(str) + ":"
                                + group["server_port"].astype(str) + "/"
                                + group["proto"].astype(str))
                   .groupby("endpoint").size().sort_values(ascending=False).head(top_servers))
        for endpoint, n in servers.items():
            rows.append(_row(capture, "top_servers", str(endpoint), int(n), len(group)))
    out = pd.DataFrame(rows, columns=["capture", "section", "item", "count", "percent", "value"])
    out["count"] = out["count"].astype("int64")
    out["percent"] = out["percent"].astype("float64")
    out["value"] = out["value"].astype("float64")
    return out


def _row(capture: object, section: str, item: str, n: int, total: int | None
         ) -> dict[str, object]:
    pct = round(100.0 * n / total, 1) if total else None
    return {"capture": capture, "section": section, "item": item, "count": n, "percent": pct,
            "value": None}
