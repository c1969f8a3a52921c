"""The self-contained HTML report: one file, inline CSS, inline SVG charts, no network.

Everything that comes from packets (URIs, hosts, subprotocols, close reasons, anomaly
texts) and from the command line (capture paths, check rows) reaches the page only through
jinja2's autoescape. The only markup marked safe is what this module generates itself: the
SVG charts, drawn by matplotlib from numbers and fixed labels only, and the sorting script.

A Content-Security-Policy in the page allows no fetch at all (``default-src 'none'``) and
runs only the one inline script whose SHA-256 it names, so even a string that slipped past
escaping could neither run script nor load anything from the network.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import PurePath
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from analyzer.core.vocab import Handshake
from analyzer.report.endpoints import endpoint
from analyzer.report.explain import MARK_LABELS, Fold, Step, flag_names, fold
from analyzer.report.problems import Conn, by_kind, is_null, percent, triage
from analyzer.report.stats import percentile
from analyzer.report.summary import RETRANS_THRESHOLD
from analyzer.report.writers import health_cell
from analyzer.text import inert_document

MAX_TIMELINE = 200  # connections drawn in the timeline
MAX_ROWS = 10_000  # rows per table (connections, HTTP, WebSocket)
#: A kind with more problems than this is shown on its own, its first rows and the rest
#: folded; rows per kind in the page.
GROUP_ROWS = 20
MAX_PROBLEMS = 1_000
#: The problems that are no connection's: (key, label, badge class, title), in order.
INPUT_PROBLEMS = (
    ("capture-error", "capture error", "error", "captures that could not be read"),
    ("check-failed", "check failed", "error", "failed rules of error severity"),
    ("capture-warning", "capture warning", "warning", "captures read with a warning"),
    ("check-warning", "check warning", "warning", "failed rules of warning severity"),
)
MAX_RETRANS_BARS = 15  # connections drawn in the retransmission chart

ENDS = ("fin", "rst", "half_closed", "open")
TIME_WAIT = ("client", "server", "both", "none")
HANDSHAKES = tuple(h.value for h in Handshake)
CLOSERS = ("client", "server", "both")
END_COLORS = {"fin": "#2e7d32", "rst": "#c62828", "half_closed": "#ef8f00", "open": "#1565c0",
              "udp": "#9e9e9e"}
TW_COLORS = {"client": "#5e35b1", "server": "#00838f", "both": "#6d4c41", "none": "#b0b0b0"}
#: Per-direction series of the TCP health charts: data sent by the client, by the server.
DIRECTION_COLORS = {"c2s": "#3f6fb5", "s2c": "#ef8f00"}
DIRECTION_LABELS = {"c2s": "client → server data", "s2c": "server → client data"}

_env: Environment | None = None


def _environment() -> Environment:
    global _env
    if _env is None:
        _env = Environment(
            loader=PackageLoader("analyzer.report", "templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        _env.filters["wbr"] = _wbr
    return _env


def _wbr(text: object, after: str = "_/.-") -> Markup:
    """Escaped text with line-break opportunities after each character of ``after`` (for
    file names and endpoints)."""
    return Markup("<wbr>").join(re.split(f"(?<=[{re.escape(after)}])", str(text)))


def inert(document: str) -> str:
    """The document with every control character from packet data shown as ``\\xNN``
    (the templates and the charts contain none; tabs and line ends are kept)."""
    return inert_document(document)


def render_html(connections: pd.DataFrame, http: pd.DataFrame, websockets: pd.DataFrame,
                summary: pd.DataFrame, captures: list[tuple[str, str]], *,
                title: str = "pcap-analyzer report", generated: str | None = None,
                checks: list[dict[str, object]] | None = None,
                retrans_threshold: float = RETRANS_THRESHOLD,
                ladders: Mapping[tuple[str, str], Sequence[Step]] | None = None) -> str:
    """One HTML document with every table and chart of the report.

    ``connections`` is ``report.frame.to_frame``'s frame, ``http``/``websockets`` are
    ``report.app``'s frames, ``summary`` is ``report.summary.summarize``'s, ``captures``
    lists every input as (path, status) and ``checks`` the optional rule results
    (capture, rule, passed, measured, severity). A connection whose ``retrans_rate`` is
    above ``retrans_threshold`` is a problem. ``ladders`` maps (capture, uid) to the
    ``report.explain.ladder`` steps of the connections the report draws (the folder's
    ``pick_connections``); each becomes an inline SVG ladder drawn from numbers only, and
    the problem rows of that connection link to it."""
    env = _environment()
    names = [path for path, _ in captures] + [str(c) for c in _col(connections, "capture")]
    labels = _capture_labels(names)
    conns = connections.reset_index(drop=True)
    numbers = {(str(c), str(u)): i + 1
               for i, (c, u) in enumerate(zip(_col(conns, "capture"), _col(conns, "uid"),
                                              strict=True))}
    tcp = conns[conns["proto"].astype("string") == "tcp"] if "proto" in conns else conns
    checks = checks or []
    per_capture = Counter(str(c) for c in _col(conns, "capture"))
    packets = _packets(summary)
    ladder_views = _ladder_views(conns, ladders or {}, numbers, labels)
    drawn = {(v["path"], v["uid"]): v["id"] for v in ladder_views}
    script = env.get_template("sortable.js").render()
    context: dict[str, Any] = {
        "title": title,
        "generated": generated,
        "script": Markup(script),
        "script_hash": base64.b64encode(hashlib.sha256(script.encode()).digest()).decode(),
        "totals": {
            "captures": len(captures),
            "connections": len(conns),
            "tcp": len(tcp),
            "complete": int((tcp["handshake"].astype("string") == "complete").sum())
            if "handshake" in tcp else 0,
            "http": len(http),
            "websockets": len(websockets),
        },
        "captures": [_capture_row(path, status, labels, packets, per_capture)
                     for path, status in captures],
        "problems": _problems(conns, websockets, captures, checks, labels,
                              retrans_threshold, drawn),
        "ladders": ladder_views,
        "summary_rows": _summary_rows(summary, captures, labels),
        "health_rows": _health_rows(summary, captures, labels),
        "retrans_threshold": _percent(retrans_threshold),
        "charts": _charts(tcp, conns),
        "checks": [_check_row(c, labels) for c in checks],
        "connections": _connection_rows(conns, labels),
        "http": _http_rows(http, labels, numbers),
        "websockets": _ws_rows(websockets, labels, numbers),
        "timeline_max": MAX_TIMELINE,
    }
    return inert(env.get_template("report.html.j2").render(context))


# ---------------------------------------------------------------------------------- cells


def _col(df: pd.DataFrame, name: str) -> list[Any]:
    return list(df[name]) if name in df.columns else [None] * len(df)


def _text(value: object) -> str:
    """A cell's text: '' for null (the page shows a dash), yes/no for booleans."""
    if is_null(value):
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    return str(value)


def _int(value: object) -> int | None:
    return None if is_null(value) else int(value)  # type: ignore[call-overload]


def _ms(seconds: object) -> str:
    if is_null(seconds):
        return ""
    return f"{float(seconds) * 1000:.3f}"  # type: ignore[arg-type]


def _percent(rate: object) -> str:
    """A rate as a short percentage (0.0213 -> "2.13%"), '' for null."""
    if is_null(rate):
        return ""
    return percent(float(rate))  # type: ignore[arg-type]


def _capture_labels(names: Iterable[str]) -> dict[str, str]:
    """The file name when it is unique among the captures, else the path as given."""
    unique = list(dict.fromkeys(names))
    base = Counter(PurePath(n).name for n in unique)
    return {n: (PurePath(n).name if base[PurePath(n).name] == 1 else n) for n in unique}


def _label(labels: Mapping[str, str], capture: object) -> str:
    name = _text(capture)
    return labels.get(name, name)


def _status_class(status: str) -> str:
    if status.startswith("error"):
        return "error"
    if status.startswith("warning"):
        return "warning"
    return "ok"


# --------------------------------------------------------------------------------- tables


def _capture_row(path: str, status: str, labels: Mapping[str, str],
                 packets: Mapping[str, int], per_capture: Mapping[str, int]) -> dict[str, Any]:
    cls = _status_class(status)
    return {"path": path, "label": _label(labels, path), "status": status, "cls": cls,
            "packets": "" if cls == "error" else packets.get(path, ""),
            "connections": "" if cls == "error" else per_capture.get(path, 0)}


def _summary_rows(summary: pd.DataFrame, captures: Sequence[tuple[str, str]],
                  labels: Mapping[str, str]) -> list[dict[str, Any]]:
    counts, values, failed = _summary_index(summary)
    failed |= {p for p, s in captures if s.startswith("error")}
    order = [p for p, _ in captures] + [c for c in counts if ("connections", "tcp") in counts[c]]
    rows = []
    for cap in dict.fromkeys(order):
        if cap in failed:
            continue
        c = counts.get(cap, {})
        v = values.get(cap, {})
        rows.append({
            "path": cap,
            "label": _label(labels, cap),
            "tcp": c.get(("connections", "tcp"), 0),
            "udp": c.get(("connections", "udp"), 0),
            "handshake": [c.get(("handshake", h), 0) for h in HANDSHAKES],
            "end": [c.get(("end", e), 0) for e in ENDS],
            "closer": [c.get(("closer", k), 0) for k in CLOSERS],
            "time_wait": [c.get(("time_wait", k), 0) for k in TIME_WAIT],
            "rtt_p50": "" if "p50" not in v else f"{v['p50']:.3f}",
            "rtt_p95": "" if "p95" not in v else f"{v['p95']:.3f}",
        })
    return rows


def _health_rows(summary: pd.DataFrame, captures: Sequence[tuple[str, str]],
                 labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """Each capture's TCP health, from the summary's ``tcp_health`` and ``data_rtt_ms``
    lines (captures without TCP connections have none)."""
    health: dict[str, dict[str, Any]] = {}
    for rec in summary.to_dict("records"):
        section = str(rec["section"])
        if section not in ("tcp_health", "data_rtt_ms"):
            continue
        row = health.setdefault(str(rec["capture"]), {})
        item = str(rec["item"])
        if section == "data_rtt_ms":
            row[f"rtt_{item}"] = f"{float(rec['value']):.3f}"
            continue
        row[item] = _int(rec["count"]) or 0
        if item == "retransmitted":
            row["rate"] = _percent(rec["value"])
    order = [p for p, _ in captures] + list(health)
    rows = []
    for cap in dict.fromkeys(order):
        if cap not in health:
            continue
        h = health[cap]
        rows.append({"path": cap, "label": _label(labels, cap),
                     "segments": h.get("segments", 0),
                     "retransmitted": h.get("retransmitted", 0), "rate": h.get("rate", ""),
                     "with_retransmissions": h.get("with_retransmissions", 0),
                     "with_dup_acks": h.get("with_dup_acks", 0),
                     "with_zero_window": h.get("with_zero_window", 0),
                     **{f"rtt_{q}": h.get(f"rtt_{q}", "") for q in ("p50", "p95", "p99", "max")}})
    return rows


def _summary_index(summary: pd.DataFrame) -> tuple[
        dict[str, dict[tuple[str, str], int]], dict[str, dict[str, float]], set[str]]:
    """(capture -> (section, item) -> count, capture -> RTT percentile -> ms, captures
    whose "capture" row says they could not be read)."""
    counts: dict[str, dict[tuple[str, str], int]] = {}
    values: dict[str, dict[str, float]] = {}
    failed: set[str] = set()
    for rec in summary.to_dict("records"):
        cap = str(rec["capture"])
        section, item = str(rec["section"]), str(rec["item"])
        if section == "handshake_rtt_ms":
            values.setdefault(cap, {})[item] = float(rec["value"])
            continue
        if section == "capture" and item.startswith("error"):
            failed.add(cap)
        counts.setdefault(cap, {})[(section, item)] = _int(rec["count"]) or 0
    return counts, values, failed


def _packets(summary: pd.DataFrame) -> dict[str, int]:
    """Packets read per capture, from the summary's "capture" rows when it has them."""
    if "section" not in summary.columns:
        return {}
    rows = summary[summary["section"] == "capture"]
    out: dict[str, int] = {}
    for capture, count in zip(rows["capture"], rows["count"], strict=True):
        if (packets := _int(count)) is not None:
            out[str(capture)] = packets
    return out


def _connection_rows(conns: pd.DataFrame, labels: Mapping[str, str]) -> dict[str, Any]:
    rows = []
    for i, rec in enumerate(conns.head(MAX_ROWS).to_dict("records")):
        end = _text(rec.get("end"))
        rows.append({
            "n": i + 1,
            "capture": _label(labels, rec.get("capture")),
            "path": _text(rec.get("capture")),
            "uid": _text(rec.get("uid")),
            "proto": _text(rec.get("proto")),
            "client": endpoint(rec.get("client_ip"), rec.get("client_port")),
            "server": endpoint(rec.get("server_ip"), rec.get("server_port")),
            "handshake": _text(rec.get("handshake")),
            "handshake_bad": rec.get("handshake_valid") is False,
            "rtt": _ms(rec.get("handshake_rtt_s")),
            "end": end,
            "end_cls": end if end in ENDS else "",
            "closer": _text(rec.get("closer")),
            "client_state": _text(rec.get("client_state")),
            "server_state": _text(rec.get("server_state")),
            "time_wait": _text(rec.get("time_wait")),
            "conn_state": _text(rec.get("conn_state")),
            "history": _text(rec.get("history")),
            "health": health_cell(rec) if "retrans_rate" in rec else "",
        })
    return {"rows": rows, "total": len(conns), "udp": any(r["proto"] == "udp" for r in rows)}


def _http_rows(http: pd.DataFrame, labels: Mapping[str, str],
               numbers: Mapping[tuple[str, str], int]) -> dict[str, Any]:
    rows = []
    for rec in http.head(MAX_ROWS).to_dict("records"):
        rows.append({
            "capture": _label(labels, rec.get("capture")),
            "path": _text(rec.get("capture")),
            "n": numbers.get((_text(rec.get("capture")), _text(rec.get("uid")))),
            "depth": _text(rec.get("trans_depth")),
            "method": _text(rec.get("method")),
            "target": _text(rec.get("target")),
            "host": _text(rec.get("host")),
            "status": _text(rec.get("status")),
            "reason": _text(rec.get("reason")),
            "version": _text(rec.get("request_version")),
            "request_body": _text(rec.get("request_body_len")),
            "response_body": _text(rec.get("response_body_len")),
        })
    return {"rows": rows, "total": len(http)}


def _messages(value: object) -> str:
    if isinstance(value, Mapping):
        return str(sum(int(v) for v in value.values() if not is_null(v)))
    return _text(value)


def _problem_names(value: object) -> list[str]:
    if is_null(value) or not isinstance(value, (list, tuple, np.ndarray)):
        return []
    out = []
    for p in value:
        if isinstance(p, Mapping):
            out.append(f"{_text(p.get('problem'))} (frame {_text(p.get('frame'))})")
        elif isinstance(p, (list, tuple)) and len(p) == 2:
            out.append(f"{_text(p[0])} (frame {_text(p[1])})")
        else:
            out.append(_text(p))
    return out


def _ws_rows(ws: pd.DataFrame, labels: Mapping[str, str],
             numbers: Mapping[tuple[str, str], int]) -> dict[str, Any]:
    rows = []
    for rec in ws.head(MAX_ROWS).to_dict("records"):
        established = bool(rec.get("established"))
        rows.append({
            "capture": _label(labels, rec.get("capture")),
            "path": _text(rec.get("capture")),
            "n": numbers.get((_text(rec.get("capture")), _text(rec.get("uid")))),
            "target": _text(rec.get("request_target")),
            "host": _text(rec.get("host")),
            "subprotocol": _text(rec.get("subprotocol")),
            "status": _text(rec.get("status")),
            "established": established,
            "messages_c2s": _messages(rec.get("messages_c2s")),
            "messages_s2c": _messages(rec.get("messages_s2c")),
            "close_code": _text(rec.get("close_code")),
            "reply_close_code": _text(rec.get("reply_close_code")),
            "close_by": _text(rec.get("close_by")),
            "close_reason": _text(rec.get("close_reason")),
            "problems": _problem_names(rec.get("problems")),
        })
    return {"rows": rows, "total": len(ws)}


def _check_row(check: Mapping[str, object], labels: Mapping[str, str]) -> dict[str, Any]:
    passed = check.get("passed")
    return {
        "capture": _label(labels, check.get("capture")),
        "path": _text(check.get("capture")),
        "rule": _text(check.get("rule")),
        "passed": None if is_null(passed) else bool(passed),
        "measured": _text(check.get("measured")),
        "severity": _text(check.get("severity")),
    }


# ------------------------------------------------------------------------------- problems


def _problem_row(kind: str, key: str, cls: str, labels: Mapping[str, str], capture: object,
                 detail: str, conn: Conn | None = None,
                 drawn: Mapping[tuple[str, str], str] | None = None) -> dict[str, Any]:
    ladder = None if conn is None else (drawn or {}).get((_text(capture), conn.uid))
    return {"kind": kind, "key": key, "cls": cls, "capture": _label(labels, capture),
            "path": _text(capture), "n": None if conn is None else conn.index + 1,
            "uid": "" if conn is None else conn.uid, "where": "" if conn is None else conn.where,
            "detail": detail, "ladder": ladder}


def _problems(conns: pd.DataFrame, ws: pd.DataFrame, captures: Sequence[tuple[str, str]],
              checks: Sequence[Mapping[str, object]], labels: Mapping[str, str],
              retrans_threshold: float = RETRANS_THRESHOLD,
              drawn: Mapping[tuple[str, str], str] | None = None) -> dict[str, Any]:
    """Everything that went wrong, most serious first: unreadable captures, failed checks
    (error severity), captures read with a warning, failed checks of warning severity, then
    the problem connections in ``report.problems``' triage, each kind a group. With more
    than GROUP_ROWS problems of one kind the page shows each kind on its own: a line with
    its count, its first GROUP_ROWS rows, and the rest (up to MAX_PROBLEMS) folded in a
    ``<details>``; otherwise one table."""
    groups: dict[str, dict[str, Any]] = {}

    def group(key: str, label: str, cls: str, title: str) -> list[dict[str, Any]]:
        g = groups.setdefault(key, {"key": key, "label": label, "cls": cls, "title": title,
                                    "all": []})
        rows: list[dict[str, Any]] = g["all"]
        return rows

    for key, label, cls, title in INPUT_PROBLEMS:
        group(key, label, cls, title)
    for path, status in captures:
        if status.startswith("error"):
            group("capture-error", "", "", "").append(_problem_row(
                "capture error", "capture-error", "error", labels, path, status))
        elif status.startswith("warning"):
            group("capture-warning", "", "", "").append(_problem_row(
                "capture warning", "capture-warning", "warning", labels, path, status))
    for check in checks:
        if check.get("passed") is False:
            row = _check_row(check, labels)
            sev = row["severity"] or "error"
            key = "check-failed" if sev == "error" else "check-warning"
            label = "check failed" if sev == "error" else "check warning"
            group(key, "", "", "").append(_problem_row(
                label, key, "error" if sev == "error" else "warning", labels,
                check.get("capture"),
                f"{row['rule']}: measured {row['measured'] or '-'} ({sev})"))
    sessions: dict[tuple[str, str], list[Mapping[Any, Any]]] = {}
    for rec in ws.to_dict("records"):
        sessions.setdefault((_text(rec.get("capture")), _text(rec.get("uid"))), []).append(rec)
    found = triage((Conn.from_row(i, rec, sessions.get(
        (_text(rec.get("capture")), _text(rec.get("uid"))), ()))
        for i, rec in enumerate(conns.to_dict("records"))), retrans_threshold)
    for kind, problems in by_kind(found).items():
        group(kind.value, kind.label, "warning", kind.title(retrans_threshold)).extend(
            _problem_row(kind.label, kind.value, "warning", labels, p.conn.capture, p.detail,
                         p.conn, drawn) for p in problems)
    present = [g for g in groups.values() if g["all"]]
    grouped = any(len(g["all"]) > GROUP_ROWS for g in present)
    for g in present:
        rows = g.pop("all")
        g["count"] = len(rows)
        g["rows"] = rows if not grouped else rows[:GROUP_ROWS]
        g["more"] = [] if not grouped else rows[GROUP_ROWS:MAX_PROBLEMS]
        g["cut"] = len(rows) - len(g["rows"]) - len(g["more"])
    return {"total": sum(g["count"] for g in present),
            "kinds": [(g["label"], g["count"]) for g in present],
            "grouped": grouped, "groups": present, "group_rows": GROUP_ROWS,
            "linked": bool(drawn),
            "rows": [] if grouped else [r for g in present for r in g["rows"]]}


# --------------------------------------------------------------------------------- charts


def _charts(tcp: pd.DataFrame, conns: pd.DataFrame) -> dict[str, Markup | None]:
    """The SVG charts, or None where there is nothing to draw."""
    ends = Counter(_text(e) for e in _col(tcp, "end"))
    tws = Counter(_text(t) or "none" for t in _col(tcp, "time_wait"))
    rtts = [float(x) * 1000 for x in _col(tcp, "handshake_rtt_s") if not is_null(x)]
    return {
        "ends": _bar_chart("ends", "close type (end)", [(e, ends.get(e, 0)) for e in ENDS],
                           END_COLORS) if len(tcp) else None,
        "time_wait": _bar_chart("time_wait", "side left in TIME_WAIT",
                                [(t, tws.get(t, 0)) for t in TIME_WAIT],
                                TW_COLORS) if len(tcp) else None,
        "rtt": _rtt_chart(rtts) if rtts else None,
        "timeline": _timeline(conns) if len(conns) else None,
        "data_rtt": _data_rtt_chart(tcp),
        "retrans": _retrans_chart(tcp),
    }


def _new_figure(width: float, height: float) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_axisbelow(True)
    return fig, ax


RC: dict[str, Any] = {"font.size": 9.0, "axes.titlesize": 10.0, "axes.titleweight": "bold",
      "svg.fonttype": "path", "axes.edgecolor": "#555555", "axes.labelcolor": "#333333",
      "xtick.color": "#333333", "ytick.color": "#333333"}


def _style(name: str) -> AbstractContextManager[None]:
    """The charts' rcParams; a salt per chart keeps the SVG ids stable and distinct."""
    rc: dict[Any, Any] = {**RC, "svg.hashsalt": f"pcap-analyzer-{name}"}
    return mpl.rc_context(rc)


def _svg(fig: Figure, name: str) -> Markup:
    """The figure as inline SVG markup: no XML prologue, no metadata, no namespace URLs
    (the HTML parser supplies them), and ids prefixed with the chart's name so that
    several charts can share one document."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.DOTALL)
    text = re.sub(r'\s+xmlns(?::\w+)?="[^"]*"', "", text)
    ids = set(re.findall(r'\bid="([^"]+)"', text))
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{name}-{m.group(1)}"', text)
    text = re.sub(r'(href="#|url\(#)([^")]+)',
                  lambda m: m.group(1) + (f"{name}-{m.group(2)}" if m.group(2) in ids
                                          else m.group(2)), text)
    text = text.replace("<svg ", f'<svg class="chart" id="chart-{name}" role="img" ', 1)
    return Markup(text.strip())


def _bar_chart(name: str, xlabel: str, counts: Sequence[tuple[str, int]],
               colors: Mapping[str, str]) -> Markup:
    with _style(name):
        fig, ax = _new_figure(4.0, 2.8)
        keys = [k for k, _ in counts]
        bars = ax.bar(keys, [v for _, v in counts], color=[colors[k] for k in keys],
                      width=0.65)
        ax.bar_label(bars, padding=2)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("TCP connections")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.margins(y=0.15)
        ax.grid(axis="y", color="#e5e5e5")
        return _svg(fig, name)


def _rtt_chart(rtts_ms: Sequence[float]) -> Markup:
    values = np.asarray(rtts_ms, dtype=float)
    lo, hi = float(values.min()), float(values.max())
    log = lo > 0 and hi / lo > 50
    with _style("rtt"):
        fig, ax = _new_figure(4.0, 2.8)
        if log:
            bins: Any = np.geomspace(lo, hi, 31) if hi > lo else 30
            ax.set_xscale("log")
        else:
            bins = 30 if hi > lo else np.array([lo - 0.5 * max(lo, 1e-3), lo + 0.5 * max(
                lo, 1e-3)])
        ax.hist(values, bins=bins, color="#3f6fb5", edgecolor="white", linewidth=0.5)
        p50, p95 = (percentile(values, q) or 0.0 for q in (0.5, 0.95))
        ax.axvline(p50, color="#222222", linestyle="--", linewidth=1,
                   label=f"p50 {p50:.3f} ms")
        ax.axvline(p95, color="#c62828", linestyle=":", linewidth=1.2,
                   label=f"p95 {p95:.3f} ms")
        fig.legend(loc="outside upper center", ncols=2, frameon=False)
        ax.set_xlabel("handshake RTT (ms)" + (", log scale" if log else ""))
        ax.set_ylabel("connections")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="y", color="#e5e5e5")
        return _svg(fig, "rtt")


def _timeline(conns: pd.DataFrame) -> Markup:
    """One bar per connection from its first to its last packet, in seconds since its
    capture's first packet, coloured by how it ended; numbered as the connections table."""
    shown = conns.head(MAX_TIMELINE)
    caps = [_text(c) for c in _col(shown, "capture")]
    firsts = [float(x) for x in _col(shown, "first_ts")]
    lasts = [float(x) for x in _col(shown, "last_ts")]
    origin: dict[str, float] = {}
    for cap, first in zip(caps, firsts, strict=True):
        origin[cap] = min(first, origin.get(cap, math.inf))
    starts = [f - origin[c] for c, f in zip(caps, firsts, strict=True)]
    widths = [max(last - first, 0.0) for first, last in zip(firsts, lasts, strict=True)]
    span = max((s + w for s, w in zip(starts, widths, strict=True)), default=0.0) or 1e-3
    widths = [max(w, span * 0.004) for w in widths]
    kinds = []
    for proto, end in zip(_col(shown, "proto"), _col(shown, "end"), strict=True):
        kind = "udp" if _text(proto) == "udp" else _text(end)
        kinds.append(kind if kind in END_COLORS else "open")
    n = len(shown)
    with _style("timeline"):
        fig, ax = _new_figure(11.6, 1.4 + n * (0.24 if n <= 20 else 0.12))
        ys = list(range(1, n + 1))
        ax.barh(ys, widths, left=starts, height=0.7,
                color=[END_COLORS[k] for k in kinds])
        ax.set_ylim(n + 0.8, 0.2)
        if n <= 30:
            ax.set_yticks(ys)
        else:
            ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=25))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"#{int(v)}"))
        group, top = 0, 1
        for i in range(1, n + 1):  # every other capture on a grey band
            if i == n or caps[i] != caps[i - 1]:
                if group % 2 and len(set(caps)) > 1:
                    ax.axhspan(top - 0.5, i + 0.5, color="#eceff3", zorder=0, linewidth=0)
                group, top = group + 1, i + 1
        ax.set_xlim(0, span * 1.02)
        ax.set_xlabel("seconds since the capture's first packet")
        ax.set_ylabel("connection")
        ax.grid(axis="x", color="#e5e5e5")
        present = [k for k in (*ENDS, "udp") if k in kinds]
        fig.legend(handles=[Patch(color=END_COLORS[k], label=k) for k in present],
                   loc="outside upper center", ncols=len(present), frameon=False)
        return _svg(fig, "timeline")


def _data_rtt_chart(tcp: pd.DataFrame) -> Markup | None:
    """A histogram of each connection's data RTT (``rtt_avg_s``), one value per direction
    with samples, stacked by direction; log scale when the values span more than 50x.
    None when no direction has a sample."""
    series: dict[str, np.ndarray] = {}
    for d in DIRECTION_COLORS:
        col, n = f"rtt_avg_s_{d}", f"rtt_samples_{d}"
        if col not in tcp.columns:
            return None
        has = tcp[n].astype("Int64").fillna(0).to_numpy(dtype="int64") > 0
        values = tcp[col].astype("float64").to_numpy()[has] * 1000
        series[d] = values[~np.isnan(values)]
    every = np.concatenate(list(series.values()))
    if not len(every):
        return None
    lo, hi = float(every.min()), float(every.max())
    log = lo > 0 and hi / lo > 50
    with _style("data_rtt"):
        fig, ax = _new_figure(4.0, 2.8)
        if log:
            bins: Any = np.geomspace(lo, hi, 31)
            ax.set_xscale("log")
        elif hi > lo:
            bins = np.linspace(lo, hi, 31)
        else:
            half = 0.5 * max(lo, 1e-3)
            bins = np.array([lo - half, lo + half])
        present = [d for d in DIRECTION_COLORS if len(series[d])]
        ax.hist([series[d] for d in present], bins=bins, stacked=True,
                color=[DIRECTION_COLORS[d] for d in present],
                label=[DIRECTION_LABELS[d] for d in present], edgecolor="white",
                linewidth=0.5)
        fig.legend(loc="outside upper center", ncols=2, frameon=False)
        ax.set_xlabel("data RTT per connection and direction (ms)"
                      + (", log scale" if log else ""))
        ax.set_ylabel("connection directions")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="y", color="#e5e5e5")
        return _svg(fig, "data_rtt")


def retrans_bars(tcp: pd.DataFrame) -> list[tuple[int, int, int, float | None]]:
    """The retransmission chart's bars: (connection number as in the connections table,
    retransmitted segments client to server, server to client, retrans_rate) of the
    connections with the most retransmitted segments, most first (ties in table order),
    at most MAX_RETRANS_BARS. ``tcp`` keeps the connections frame's row positions as its
    index."""
    if "retrans_packets_c2s" not in tcp.columns:
        return []
    c2s = tcp["retrans_packets_c2s"].astype("Int64").fillna(0).to_numpy(dtype="int64")
    s2c = tcp["retrans_packets_s2c"].astype("Int64").fillna(0).to_numpy(dtype="int64")
    rates = tcp["retrans_rate"].astype("float64").to_numpy()
    total = c2s + s2c
    order = [int(i) for i in np.argsort(-total, kind="stable") if total[i] > 0]
    return [(int(tcp.index[i]) + 1, int(c2s[i]), int(s2c[i]),
             None if math.isnan(rates[i]) else float(rates[i]))
            for i in order[:MAX_RETRANS_BARS]]


def _retrans_chart(tcp: pd.DataFrame) -> Markup | None:
    """The connections with the most retransmitted segments (``retrans_bars``), one bar
    each, split by direction, labelled by their retransmission rate and numbered as in the
    connections table. None when nothing was retransmitted."""
    bars_data = retrans_bars(tcp)
    if not bars_data:
        return None
    n = len(bars_data)
    c2s = [b[1] for b in bars_data]
    s2c = [b[2] for b in bars_data]
    with _style("retrans"):
        fig, ax = _new_figure(4.0, max(2.8, 1.2 + 0.22 * n))
        ys = list(range(n))
        ax.barh(ys, c2s, height=0.7, color=DIRECTION_COLORS["c2s"],
                label=DIRECTION_LABELS["c2s"])
        bars = ax.barh(ys, s2c, left=c2s, height=0.7, color=DIRECTION_COLORS["s2c"],
                       label=DIRECTION_LABELS["s2c"])
        ax.bar_label(bars, labels=[_percent(b[3]) for b in bars_data], padding=3)
        ax.set_yticks(ys, [f"#{b[0]}" for b in bars_data])
        ax.set_ylim(n - 0.4, -0.6)
        ax.margins(x=0.2)
        ax.set_xlabel("retransmitted segments (label: retransmission rate)")
        ax.set_ylabel("connection")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="x", color="#e5e5e5")
        fig.legend(loc="outside upper center", ncols=2, frameon=False)
        return _svg(fig, "retrans")


# -------------------------------------------------------------------------------- ladders

MAX_LADDER_ROWS = 300  # rows (arrows and folded runs) drawn per ladder
#: The RFC 9293 states a ladder may name; anything else is drawn as "?".
TCP_STATES = frozenset({"CLOSED", "LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED",
                        "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK",
                        "TIME_WAIT"})
_ROW = 26  # px per ladder row
_TOP = 34  # px above the first row (the column heads)
_CLIENT_X, _SERVER_X, _STATE_X, _LADDER_W = 190, 590, 606, 800
_ARROW_COLORS = {"rst": "#c62828", "syn": "#1565c0", "fin": "#5e35b1", "data": "#555555"}


def _ladder_views(conns: pd.DataFrame, ladders: Mapping[tuple[str, str], Sequence[Step]],
                  numbers: Mapping[tuple[str, str], int], labels: Mapping[str, str]
                  ) -> list[dict[str, Any]]:
    """One view per drawn connection, in the connections table's order: its ``#N``, its
    heading's text (escaped by the template) and its SVG."""
    rows = {(_text(r.get("capture")), _text(r.get("uid"))): r
            for r in conns.to_dict("records")}
    views = []
    for key in sorted(ladders, key=lambda k: numbers.get(k, 1 << 62)):
        number = numbers.get(key)
        if number is None:
            continue
        rec = rows[key]
        steps = list(ladders[key])
        items = fold(steps)
        shown = items[:MAX_LADDER_ROWS]
        views.append({
            "id": f"ladder-{number}", "n": number, "uid": key[1], "path": key[0],
            "capture": _label(labels, key[0]),
            "where": f"{endpoint(_text(rec.get('client_ip')), _int(rec.get('client_port')))}"
                     f" → {endpoint(_text(rec.get('server_ip')), _int(rec.get('server_port')))}",
            "steps": len(steps), "rows": len(items), "shown": len(shown),
            "arrows": sum(isinstance(i, Step) for i in shown),
            "svg": ladder_svg(number, shown),
        })
    return views


def _state(name: str) -> str:
    return name if name in TCP_STATES else "?"


def _arrow_kind(flags: int) -> str:
    names = flag_names(flags)
    if "RST" in names:
        return "rst"
    if "SYN" in names:
        return "syn"
    return "fin" if "FIN" in names else "data"


def _step_text(step: Step) -> str:
    """An arrow's label from numbers and fixed names only: flags, relative seq/ack, length,
    the health marks."""
    parts = [",".join(flag_names(step.flags)) or "none", f"seq={step.seq}"]
    if step.ack is not None:
        parts.append(f"ack={step.ack}")
    if step.length:
        parts.append(f"len={step.length}")
    marks = [MARK_LABELS[m] for m in step.marks if m in MARK_LABELS]
    if marks:
        parts.append(f"[{' '.join(marks)}]")
    return " ".join(parts)


def ladder_svg(number: int, items: Sequence[Step | Fold]) -> Markup:
    """The ladder as inline SVG: one ``<g class="arrow">`` per segment (frame, ms since the
    first packet, flags, relative seq/ack, length, both sides' RFC 9293 states after it)
    and one line per folded run. Every text is a number or a fixed name (``Step.label``,
    which can quote HTTP targets, is not used), so nothing from a packet reaches the SVG."""
    height = _TOP + _ROW * len(items) + 8
    mid = (_CLIENT_X + _SERVER_X) // 2
    out = [f'<svg class="ladder" id="ladder-{number}" role="img" viewBox="0 0 {_LADDER_W} '
           f'{height}" width="{_LADDER_W}" height="{height}" font-family="monospace" '
           'font-size="11">',
           f"<title>ladder of connection #{number}</title>",
           '<g class="heads" font-weight="bold" fill="#333333">'
           '<text x="52" y="14" text-anchor="end">frame</text>'
           '<text x="150" y="14" text-anchor="end">ms</text>'
           f'<text x="{_CLIENT_X}" y="14" text-anchor="middle">client</text>'
           f'<text x="{_SERVER_X}" y="14" text-anchor="middle">server</text>'
           f'<text x="{_STATE_X}" y="14">client / server state</text></g>',
           f'<line class="lifeline" x1="{_CLIENT_X}" y1="20" x2="{_CLIENT_X}" '
           f'y2="{height - 4}" stroke="#999999" stroke-width="1.5"/>',
           f'<line class="lifeline" x1="{_SERVER_X}" y1="20" x2="{_SERVER_X}" '
           f'y2="{height - 4}" stroke="#999999" stroke-width="1.5"/>']
    for row, item in enumerate(items):
        y = _TOP + _ROW * row + 12
        if isinstance(item, Fold):
            out.append(f'<text class="fold" x="{mid}" y="{y + 4}" text-anchor="middle" '
                       f'fill="#666666" font-style="italic">… {item.segments:,} data segments '
                       f"(frames {item.first_frame}–{item.last_frame}): "
                       f"{item.bytes_c2s:,} B →, {item.bytes_s2c:,} B ← …</text>")
            continue
        x1, x2 = (_CLIENT_X, _SERVER_X) if item.from_client else (_SERVER_X, _CLIENT_X)
        tip = -8 if item.from_client else 8
        color = _ARROW_COLORS[_arrow_kind(item.flags)]
        way = "c2s" if item.from_client else "s2c"
        y2 = y + 8
        out.append(
            f'<g class="arrow {way}" data-frame="{item.frame}">'
            f'<text x="52" y="{y + 8}" text-anchor="end">{item.frame}</text>'
            f'<text x="150" y="{y + 8}" text-anchor="end">{item.ms:.3f}</text>'
            f'<line x1="{x1}" y1="{y}" x2="{x2 + tip}" y2="{y2}" stroke="{color}" '
            'stroke-width="1.5"/>'
            f'<polygon points="{x2},{y2} {x2 + tip},{y2 - 4} {x2 + tip},{y2 + 4}" '
            f'fill="{color}"/>'
            f'<text x="{mid}" y="{y - 2}" text-anchor="middle" fill="{color}">'
            f"{_step_text(item)}</text>"
            f'<text x="{_STATE_X}" y="{y + 8}">{_state(item.client_state)} / '
            f"{_state(item.server_state)}</text></g>")
    out.append("</svg>")
    return Markup("".join(out))
