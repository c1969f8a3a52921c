#!/usr/bin/env python3
"""Record real lossy TCP traffic (kernel retransmissions, SACK, zero windows) into small captures.

Every scenario runs in a fresh network namespace of its own: the script re-runs
itself as ``unshare -n python record_lossy.py --inside NAME`` and that inner
process brings up the namespace's own ``lo`` (no other interface exists there,
no real interface is ever touched), installs an nftables table, starts
``dumpcap -i lo``, runs a Python server thread and client on 127.0.0.1 or ::1,
and writes, next to the capture, ``NAME.ss.json``: what the kernel's sockets
saw (``ss -tin`` just before the sockets close), the drop counters of the
nftables rules, and the namespace's TCP counters (/proc/net/snmp, netstat).
None of it is derived from the capture.

Loss is made by nftables on the INPUT hook: dumpcap on lo sees a packet when it
is transmitted, before the receiving stack's input hook, so a dropped segment
is in the capture and the sender really retransmits it (the capture shows the
original and the retransmission; ``tc netem`` is not available in this
kernel).  Rule per direction (drop share 1/N, ``numgen random``, so every run
differs)::

    tcp dport P tcp flags & (syn|rst) == 0 numgen random mod N == 0 jump client_to_server
    (and ``tcp sport P`` ... for server_to_client; those chains count and drop)

Data segments and pure ACKs are dropped alike (counted apart, ``nft_drops`` in
the sidecar), the handshake never (no SYN or RST matches).  The table is
deleted once the ``ss`` snapshot is taken (when both sides have nothing
unacknowledged), before the sockets close: the close is lossless and nothing
is retransmitted after the snapshot, so the kernel's retransmission count
covers the whole capture.

The namespace's lo gets MTU 1500 and ``gso_max_size 1500 gso_max_segs 1``:
with lo's defaults (MTU 65536, GSO) the kernel hands dumpcap and nftables
64 KB super-segments; this way every frame is one segment (MSS 1448 on IPv4),
as on an Ethernet link.

dumpcap writes full frames; :class:`SnapCapture` cuts them to ``SNAPLEN``
bytes with ``editcap -s`` (record_real's Capture has no snaplen option); the
largest TCP/IP header (IPv6 + 60-byte TCP header) still fits.

Scenarios (drop share per direction):

* ``lossy_bulk`` (1/20 each way): the client sends 400 KB, the server reads
  it all and sends 400 KB back.  SACK is on (the kernel's default).
* ``lossy_zero_window`` (no drops): the server's listening socket gets
  SO_RCVBUF 4096 before the client connects (the SYN-ACK's window and scale
  come from it), the server does not read for 1.5 s while the client sends
  200 KB, then reads everything.  The server advertises a zero window and the
  client's persist timer sends window probes.  Linux's probes carry no data
  and have seq = SND.UNA - 1 (tcp_xmit_probe_skb): tshark 4.0 labels them
  ``tcp.analysis.keep_alive``, not ``zero_window_probe`` (which it reserves
  for 1-byte probes), and tcptrace counts neither (its ``zwnd probe pkts``
  only counts segments with data, SYN or FIN sent into a zero window).  The
  kernel counts them as TcpExt TCPWinProbe, recorded in the sidecar.  The
  capture usually has a retransmission or two all the same (a tail loss probe
  into the full window, a spurious fast retransmit after lo reordered two
  segments between the CPUs), which the receiver answers with D-SACK.
* ``lossy_ipv6`` (1/20 each way): like bulk over ::1, 100 KB each way.

The kernel's congestion control is whatever the host uses (recorded per
socket, ``cc``).  A scenario whose socket counters miss what it is for (a
drop scenario with no retransmission on one socket, a zero-window scenario
without a zero window or probe) is re-recorded in a new namespace, up to
``ATTEMPTS`` times.

After recording, each capture is checked with ``tcptrace -n -l`` and tshark:
retransmissions both ways for the drop scenarios, a zero window advertised by
the server and keep-alive-shaped probes from the client for the zero-window
one, the unique bytes per direction, and, per socket, the kernel's
``retrans`` total next to tcptrace's ``rexmt data pkts`` for that sender.  A
failed check makes the script exit non-zero; a difference between the
kernel's and tcptrace's counts is only reported.

Usage (root: unshare, nft and dumpcap need it):

    python captures/record_lossy.py [--out captures/real] [--only NAME ...] [--no-verify]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.dont_write_bytecode = True  # no captures/__pycache__ from importing record_real
sys.path.insert(0, str(Path(__file__).resolve().parent))
from record_real import (  # noqa: E402 (after the sys.path insert)
    IO_TIMEOUT,
    TSHARK,
    V4,
    V6,
    Capture,
    OneShotServer,
    Stats,
    check_port_free,
    endpoints,
    expect,
    recorder_arguments,
    recv_exact,
    recv_until_eof,
)

SNAPLEN = 128
LINK_MTU = 1500
ATTEMPTS = 3
QUIET_TIMEOUT = 5.0  # wait for both sockets' Send-Q to drain before the ss snapshot
NFT_TABLE = "lossy"
TOOLS = {
    "unshare": "util-linux",
    "ip": "iproute2",
    "ss": "iproute2",
    "nft": "nftables",
    "dumpcap": "wireshark-common",
    "editcap": "wireshark-common",
    "tshark": "tshark",
    "tcptrace": "tcptrace",
}

Record = dict[str, Any]


# --------------------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    family: socket.AddressFamily
    port: int
    c2s: int  # payload bytes the client sends
    s2c: int  # payload bytes the server sends back (after reading all of c2s)
    drop_every: int | None = None  # drop 1 in N data segments each way; None: no drops
    rcvbuf: int | None = None  # SO_RCVBUF on the server's listening socket
    stall: float = 0.0  # seconds the server waits before its first recv()

    @property
    def host(self) -> str:
        return V6 if self.family == socket.AF_INET6 else V4

    @property
    def filename(self) -> str:
        return f"{self.name}.pcapng"

    @property
    def sidecar(self) -> str:
        return f"{self.name}.ss.json"

    @property
    def drop_share(self) -> float:
        return 1 / self.drop_every if self.drop_every else 0.0

    @property
    def zero_window(self) -> bool:
        return self.stall > 0


SCENARIOS: list[Scenario] = [
    Scenario(
        "lossy_bulk",
        "IPv4: the client sends 400000 bytes, the server reads them all and sends "
        "400000 bytes back; nftables drops 1 in 20 data segments at random in each "
        "direction on the input hook (SACK on), so the kernel retransmits.",
        socket.AF_INET,
        18110,
        c2s=400_000,
        s2c=400_000,
        drop_every=20,
    ),
    Scenario(
        "lossy_zero_window",
        "IPv4: the server's listening socket has SO_RCVBUF 4096 and the server does "
        "not read for 1.5 s while the client sends 200000 bytes: zero windows and "
        "the client's (Linux, zero-length) window probes; then the server reads "
        "everything. No nftables drops.",
        socket.AF_INET,
        18111,
        c2s=200_000,
        s2c=0,
        rcvbuf=4096,
        stall=1.5,
    ),
    Scenario(
        "lossy_ipv6",
        "IPv6 over [::1]: the client sends 100000 bytes, the server reads them all "
        "and sends 100000 bytes back; nftables drops 1 in 20 data segments at "
        "random in each direction on the input hook.",
        socket.AF_INET6,
        18112,
        c2s=100_000,
        s2c=100_000,
        drop_every=20,
    ),
]
BY_NAME = {s.name: s for s in SCENARIOS}


# --------------------------------------------------------------------------- namespace


def run(cmd: list[str], stdin: str | None = None) -> str:
    """Run a command, return its stdout; fail with its stderr."""
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed rc={p.returncode}: {p.stderr.strip()}")
    return p.stdout


def missing_tools() -> list[str]:
    return [
        f"{tool} (apt-get install -y {pkg})"
        for tool, pkg in TOOLS.items()
        if shutil.which(tool) is None
    ]


def netns() -> str:
    """This process's network namespace, e.g. ``net:[4026531840]``."""
    return os.readlink("/proc/self/ns/net")


def setup_link() -> None:
    """The namespace's own lo: up, Ethernet-sized MTU, one segment per skb."""
    run(["ip", "link", "set", "lo", "up"])
    run(["ip", "link", "set", "lo", "mtu", str(LINK_MTU)])
    run(["ip", "link", "set", "lo", "gso_max_size", str(LINK_MTU), "gso_max_segs", "1"])


DIRECTIONS = {"client_to_server": "dport", "server_to_client": "sport"}


def nft_ruleset(port: int, every: int) -> str:
    """One random draw per segment in `input`; the drop chains count what they drop.

    A pure ACK is at most 100 bytes at the IP layer (IPv6 header + a 60-byte
    TCP header); every data segment of these scenarios is larger.
    """
    text = f"table inet {NFT_TABLE} {{\n"
    text += "    chain input {\n        type filter hook input priority filter; policy accept;\n"
    for d, match in DIRECTIONS.items():
        text += (
            f"        tcp {match} {port} tcp flags & (syn|rst) == 0 "
            f"numgen random mod {every} == 0 jump {d}\n"
        )
    text += "    }\n"
    for d in DIRECTIONS:
        text += (
            f"    chain {d} {{\n"
            f'        meta length > 100 counter drop comment "{d} data"\n'
            f'        counter drop comment "{d} pure_ack"\n'
            "    }\n"
        )
    return text + "}\n"


def nft_drops() -> dict[str, dict[str, int]]:
    """Segments dropped per direction: {"client_to_server": {"data": n, "pure_ack": m}, ...}."""
    doc = json.loads(run(["nft", "-j", "list", "table", "inet", NFT_TABLE]))
    out: dict[str, dict[str, int]] = {d: {} for d in DIRECTIONS}
    for item in doc["nftables"]:
        rule = item.get("rule")
        if rule is None or "comment" not in rule:
            continue
        d, kind = rule["comment"].split()
        for expr in rule["expr"]:
            if "counter" in expr:
                out[d][kind] = int(expr["counter"]["packets"])
    return out


def kernel_counters() -> dict[str, int]:
    """The namespace's non-zero Tcp and TcpExt counters (/proc/net/snmp, /proc/net/netstat)."""
    out: dict[str, int] = {}
    for path in ("/proc/net/snmp", "/proc/net/netstat"):
        lines = Path(path).read_text().splitlines()
        for names, values in zip(lines[::2], lines[1::2], strict=True):
            section, _, keys = names.partition(": ")
            if section not in ("Tcp", "TcpExt"):
                continue
            for k, v in zip(keys.split(), values.partition(": ")[2].split(), strict=True):
                if int(v) != 0 and k not in ("RtoAlgorithm", "RtoMin", "RtoMax", "MaxConn"):
                    out[f"{section}.{k}"] = int(v)
    return out


# --------------------------------------------------------------------------- ss


# Counters ss leaves out when zero; SS_GAUGES are left out when unknown (None).
SS_INTS = (
    "bytes_sent",
    "bytes_retrans",
    "bytes_acked",
    "bytes_received",
    "segs_out",
    "segs_in",
    "data_segs_out",
    "data_segs_in",
    "lost",
    "dsack_dups",
    "reord_seen",
    "rcv_ooopack",
)
SS_GAUGES = ("cwnd", "ssthresh", "mss", "snd_wnd")


def ss_lines(port: int) -> list[str]:
    """``ss -tin`` (one line per socket) for the established sockets on port."""
    flt = ["(", "sport", "=", f":{port}", "or", "dport", "=", f":{port}", ")"]
    return run(["ss", "-HOtin", "state", "established", *flt]).splitlines()


def parse_ss(line: str, server_port: int) -> Record:
    """One ``ss -tinO`` line -> the sidecar's socket record.

    ss leaves out counters that are zero (retrans, bytes_retrans, lost, ...):
    they are 0 here; SS_GAUGES it leaves out (ssthresh while infinite) are
    None.  ``retrans:a/b`` is (in flight, total); ``rtt:x/y`` is (smoothed
    RTT, RTT variance), both in ms.
    """
    recv_q, send_q, local, peer, cc, *_ = line.split()
    rec: Record = {
        "role": "server" if local.endswith(f":{server_port}") else "client",
        "local": local,
        "peer": peer,
        "retrans_total": 0,
        "retrans_in_flight": 0,
    }
    if m := re.search(r"\bretrans:(\d+)/(\d+)", line):
        rec["retrans_in_flight"], rec["retrans_total"] = int(m[1]), int(m[2])
    m = re.search(r"\brtt:([\d.]+)/([\d.]+)", line)
    rec["rtt_ms"] = float(m[1]) if m else None
    rec["rttvar_ms"] = float(m[2]) if m else None
    m = re.search(r"\brto:([\d.]+)", line)
    rec["rto_ms"] = float(m[1]) if m else None
    for key in (*SS_INTS, *SS_GAUGES):
        m = re.search(rf"\b{key}:(\d+)", line)
        rec[key] = int(m[1]) if m else (0 if key in SS_INTS else None)
    rec["cc"] = cc
    rec["recv_q"], rec["send_q"] = int(recv_q), int(send_q)
    rec["ss"] = line.strip()
    return rec


def wait_quiet(port: int) -> None:
    """Wait until both sockets have nothing unacknowledged and nothing unread."""
    deadline = time.monotonic() + QUIET_TIMEOUT
    while True:
        lines = ss_lines(port)
        queues = [tuple(int(x) for x in ln.split()[:2]) for ln in lines]
        if len(lines) == 2 and all(q == (0, 0) for q in queues):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"sockets on port {port} did not drain: {lines}")
        time.sleep(0.02)


# --------------------------------------------------------------------------- exchange


def payload(n: int, salt: int) -> bytes:
    block = bytes((i * 7 + salt) % 256 for i in range(256))
    return (block * (n // 256 + 1))[:n]


def exchange(sc: Scenario, after_snapshot: Callable[[], None]) -> list[Record]:
    """Run the scenario's exchange; return the ss records of both sockets.

    The server reads all of c2s (after `stall` seconds), then sends s2c.  Once
    the client has read s2c and the server all of c2s, and both Send-Qs are
    empty, ss is read and `after_snapshot` runs; then the client closes first
    and the server closes after reading EOF.
    """
    up, down = payload(sc.c2s, 1), payload(sc.s2c, 2)
    got_all = threading.Event()
    snapshot_done = threading.Event()

    def handler(sock: socket.socket, stats: Stats) -> None:
        if sc.stall:
            time.sleep(sc.stall)
        data = recv_exact(sock, sc.c2s)
        with stats.lock:
            stats.received += len(data)
        expect(data == up, "server received the client's bytes unchanged")
        got_all.set()
        stats.send(sock, down)
        expect(snapshot_done.wait(IO_TIMEOUT), "ss snapshot taken")
        expect(recv_until_eof(sock) == b"", "no bytes after the exchange")
        sock.close()

    check_port_free(sc.family, sc.host, sc.port)
    srv = OneShotServer(sc.family, sc.host, sc.port, handler)
    if sc.rcvbuf is not None:
        # Before the client's SYN: the SYN-ACK's window and window scale come from it.
        srv.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, sc.rcvbuf)
    c = socket.create_connection((sc.host, sc.port), timeout=IO_TIMEOUT)
    try:
        cip, cport, _, _ = endpoints(c)
        c.sendall(up)
        expect(recv_exact(c, sc.s2c) == down, "client received the server's bytes unchanged")
        expect(got_all.wait(IO_TIMEOUT), "server read everything")
        wait_quiet(sc.port)
        sockets = [parse_ss(ln, sc.port) for ln in ss_lines(sc.port)]
        after_snapshot()
    finally:
        snapshot_done.set()
        c.close()  # client FIN first; the server closes after reading EOF
    st = srv.join()
    expect(st.peer == (cip, cport), f"server saw peer {st.peer}, client is {cip}:{cport}")
    expect(st.received == sc.c2s and st.sent == sc.s2c, "payload bytes")
    expect(sorted(s["role"] for s in sockets) == ["client", "server"], f"ss sockets {sockets}")
    return sorted(sockets, key=lambda s: s["role"])


# --------------------------------------------------------------------------- capture


class SnapCapture(Capture):
    """record_real's Capture, with every packet cut to `snaplen` bytes on exit.

    dumpcap writes the full frames into `tmpdir`; ``editcap -s`` writes the
    truncated pcapng to `path` once dumpcap has stopped.
    """

    def __init__(self, path: Path, bpf: str, tmpdir: Path, snaplen: int = SNAPLEN) -> None:
        super().__init__(tmpdir / path.name, bpf)
        self.final = path
        self.snaplen = snaplen

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        if exc[0] is None:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            cut = ["editcap", "-F", "pcapng", "-s", str(self.snaplen)]
            run([*cut, str(self.path), str(self.final)])
            self.final.chmod(0o644)


def record_inside(sc: Scenario, out: Path, parent_netns: str | None) -> None:
    """The inner half: in the fresh namespace, record sc and write its sidecar."""
    if parent_netns is None or netns() == parent_netns:
        raise RuntimeError("--inside runs only in the namespace record() makes (unshare -n)")
    setup_link()
    if sc.drop_every:
        run(["nft", "-f", "-"], stdin=nft_ruleset(sc.port, sc.drop_every))
    drops = {d: {"data": 0, "pure_ack": 0} for d in DIRECTIONS}

    def stop_drops() -> None:
        if sc.drop_every:
            drops.update(nft_drops())
            run(["nft", "delete", "table", "inet", NFT_TABLE])

    with tempfile.TemporaryDirectory(prefix="record_lossy.") as tmp:
        cap = SnapCapture(out / sc.filename, f"tcp port {sc.port}", Path(tmp))
        with cap:
            sockets = exchange(sc, stop_drops)
    doc = {
        "capture": sc.filename,
        "description": sc.description,
        "drop_share": sc.drop_share,
        "drop_rule": nft_ruleset(sc.port, sc.drop_every).strip() if sc.drop_every else None,
        "nft_drops": drops,
        "link": {"mtu": LINK_MTU, "gso_max_segs": 1, "snaplen": SNAPLEN},
        "payload": {"client_to_server": sc.c2s, "server_to_client": sc.s2c},
        "server_rcvbuf": sc.rcvbuf,
        "server_stall_s": sc.stall,
        "sockets": sockets,
        "kernel_counters": kernel_counters(),
    }
    (out / sc.sidecar).write_text(json.dumps(doc, indent=2) + "\n")
    (out / sc.sidecar).chmod(0o644)


def acceptable(sc: Scenario, doc: Record) -> list[str]:
    """What a recording lacks for its scenario (empty: keep it)."""
    lacks: list[str] = []
    kc = doc["kernel_counters"]
    if sc.drop_every:
        lacks += [
            f"{s['role']} socket has no retransmission"
            for s in doc["sockets"]
            if s["retrans_total"] == 0
        ]
    if sc.zero_window:
        if kc.get("TcpExt.TCPToZeroWindowAdv", 0) == 0:
            lacks.append("no zero window advertised (TcpExt.TCPToZeroWindowAdv)")
        if kc.get("TcpExt.TCPWinProbe", 0) == 0:
            lacks.append("no window probe sent (TcpExt.TCPWinProbe)")
    return lacks


def record(sc: Scenario, out: Path) -> Record:
    """Record sc in a new namespace (re-recording up to ATTEMPTS times); return the sidecar."""
    for attempt in range(1, ATTEMPTS + 1):
        cmd = ["unshare", "-n", "--", sys.executable, str(Path(__file__).resolve())]
        inner = ["--inside", sc.name, "--parent-netns", netns(), "--out", str(out)]
        subprocess.run([*cmd, *inner], check=True)
        doc: Record = json.loads((out / sc.sidecar).read_text())
        lacks = acceptable(sc, doc)
        if not lacks:
            break
        print(f"[{sc.name}] attempt {attempt}: {'; '.join(lacks)}", file=sys.stderr)
    else:
        raise RuntimeError(f"{sc.name}: {ATTEMPTS} attempts, still {'; '.join(lacks)}")
    size = (out / sc.filename).stat().st_size
    print(f"[{sc.name}] wrote {out / sc.filename} ({size} bytes) and {sc.sidecar}")
    return doc


# --------------------------------------------------------------------------- verification


TCPTRACE_KEYS = (
    "unique bytes sent",
    "actual data pkts",
    "rexmt data pkts",
    "rexmt data bytes",
    "outoforder pkts",
    "duplicate acks",
    "triple dupacks",
    "sack pkts sent",
    "dsack pkts sent",
    "max sack blks/ack",
    "zero win adv",
    "zwnd probe pkts",
    "zwnd probe bytes",
    "RTT samples",
)

TSHARK_FLAGS = (
    "tcp.analysis.retransmission",
    "tcp.analysis.fast_retransmission",
    "tcp.analysis.spurious_retransmission",
    "tcp.analysis.out_of_order",
    "tcp.analysis.lost_segment",
    "tcp.analysis.duplicate_ack",
    "tcp.analysis.zero_window",
    "tcp.analysis.zero_window_probe",
    "tcp.analysis.keep_alive",
    "tcp.analysis.window_full",
    "tcp.options.sack_le",
    "tcp.options.sack.dsack",
)


def tcptrace_stats(path: Path) -> dict[str, dict[str, str]]:
    """``tcptrace -n -l`` of a one-connection capture: {"a", "b": "ip:port"} plus
    the two columns, "a->b" and "b->a", as {label: value}."""
    text = run(["tcptrace", "-n", "-l", "-r", str(path)])
    expect(
        "1 TCP connection traced" in text, f"tcptrace: one connection in {path}: {text[:300]}"
    )
    out: dict[str, dict[str, str]] = {"hosts": {}, "a->b": {}, "b->a": {}}
    for line in text.splitlines():
        if m := re.match(r"\s*host ([ab]):\s+(\S+)", line):
            out["hosts"][m[1]] = m[2]
        elif m := re.match(r"\s*([A-Za-z][^:]*?):\s+(\S+)(?: [a-zA-Z]+)?\s+\1:\s+(\S+)", line):
            out["a->b"][m[1]], out["b->a"][m[1]] = m[2], m[3]
    return out


def tshark_counts(path: Path, ports: dict[str, int]) -> dict[str, dict[str, int]]:
    """Per sender ("client"/"server"), how many frames carry each TSHARK_FLAGS field."""
    cmd = [TSHARK, "-r", str(path), "-n", "-T", "fields", "-E", "separator=\t"]
    cmd += ["-E", "occurrence=f", "-e", "tcp.srcport"]
    for f in TSHARK_FLAGS:
        cmd += ["-e", f]
    counts = {role: dict.fromkeys(TSHARK_FLAGS, 0) for role in ports}
    by_port = {str(p): role for role, p in ports.items()}
    for line in run(cmd).splitlines():
        sport, *flags = line.split("\t")
        for f, v in zip(TSHARK_FLAGS, flags, strict=True):
            if v:
                counts[by_port[sport]][f] += 1
    return counts


def num(v: str | None) -> float:
    return float(v) if v not in (None, "") else 0.0


def verify(sc: Scenario, out: Path, doc: Record) -> list[str]:
    """Check the capture with tcptrace and tshark against the sidecar; return problems."""
    path = out / sc.filename
    problems: list[str] = []
    socks = {s["role"]: s for s in doc["sockets"]}
    ports = {r: int(s["local"].rsplit(":", 1)[1]) for r, s in socks.items()}
    tt = tcptrace_stats(path)
    # Host a is the SYN's sender.  Ports only: tcptrace writes ::1 as ":0001".
    a_port = tt["hosts"].get("a", "").rsplit(":", 1)[-1]
    if a_port != str(ports["client"]):
        problems.append(f"tcptrace host a {tt['hosts']} is not the client {ports['client']}")
    col = {"client": tt["a->b"], "server": tt["b->a"]}
    ts = tshark_counts(path, ports)
    sent = {"client": sc.c2s, "server": sc.s2c}
    nd = doc["nft_drops"]
    drops = {"client": nd["client_to_server"], "server": nd["server_to_client"]}
    # tcptrace's columns are per data sender (its dup acks are the ones that sender
    # received); tshark's and ss's figures are per packet / socket sender.
    print(f"    {'':34} {'client':>15} {'server':>15}")
    for key in TCPTRACE_KEYS:
        a, b = col["client"].get(key, "-"), col["server"].get(key, "-")
        print(f"    tcptrace {key:25} {a:>15} {b:>15}")
    for f in TSHARK_FLAGS:
        name = f.removeprefix("tcp.analysis.").removeprefix("tcp.")
        print(f"    tshark {name:27} {ts['client'][f]:>15} {ts['server'][f]:>15}")
    for key in ("retrans_total", "bytes_retrans", "segs_out", "data_segs_out", "rtt_ms"):
        print(f"    ss {key:31} {socks['client'][key]!s:>15} {socks['server'][key]!s:>15}")
    for kind in ("data", "pure_ack"):
        a, b = drops["client"][kind], drops["server"][kind]
        print(f"    nft drops {kind:24} {a:>15} {b:>15}")
    kc = doc["kernel_counters"]
    interesting = (
        "Tcp.RetransSegs",
        "TcpExt.TCPLossProbes",
        "TcpExt.TCPFastRetrans",
        "TcpExt.TCPTimeouts",
        "TcpExt.TCPSpuriousRTOs",
        "TcpExt.TCPDSACKRecv",
        "TcpExt.TCPDSACKOldSent",
        "TcpExt.TCPDSACKOfoSent",
        "TcpExt.TCPRcvQDrop",
        "TcpExt.TCPToZeroWindowAdv",
        "TcpExt.TCPWantZeroWindowAdv",
        "TcpExt.TCPWinProbe",
    )
    print("    kernel " + ", ".join(f"{k.split('.')[1]}={kc.get(k, 0)}" for k in interesting))

    for role in ("client", "server"):
        c, s = col[role], socks[role]
        if int(num(c.get("unique bytes sent"))) != sent[role]:
            problems.append(
                f"{role}: tcptrace unique bytes {c.get('unique bytes sent')} != sent {sent[role]}"
            )
        rexmt = int(num(c.get("rexmt data pkts")))
        ts_rexmt = sum(ts[role][f"tcp.analysis.{k}"] for k in ("retransmission", "out_of_order"))
        print(
            f"    {role}: kernel retrans_total {s['retrans_total']}, tcptrace rexmt data pkts "
            f"{rexmt}, tshark retransmission + out_of_order {ts_rexmt}"
        )
        if rexmt != s["retrans_total"]:
            print(
                f"    NOTE {role}: kernel retrans_total {s['retrans_total']} "
                f"!= tcptrace rexmt data pkts {rexmt}"
            )
        if s["retrans_total"] < drops[role]["data"]:
            problems.append(
                f"{role}: kernel retrans_total {s['retrans_total']} "
                f"< data segments dropped {drops[role]['data']}"
            )
        if sc.drop_every and (rexmt == 0 or s["retrans_total"] == 0):
            problems.append(
                f"{role}: no retransmission (tcptrace {rexmt}, ss {s['retrans_total']})"
            )
    if sc.zero_window:
        zw = int(num(col["server"].get("zero win adv")))
        probes = ts["client"]["tcp.analysis.keep_alive"]
        if zw == 0:
            problems.append("tcptrace: no zero window advertised by the server")
        if ts["server"]["tcp.analysis.zero_window"] == 0:
            problems.append("tshark: no tcp.analysis.zero_window from the server")
        if probes == 0:
            problems.append("tshark: no (keep-alive-shaped) window probe from the client")
        if probes != kc.get("TcpExt.TCPWinProbe", 0):
            print(
                f"    NOTE tshark keep-alives from the client {probes} "
                f"!= kernel TCPWinProbe {kc.get('TcpExt.TCPWinProbe', 0)}"
            )
        if int(num(col["client"].get("zwnd probe pkts"))) == 0:
            print(
                "    NOTE tcptrace zwnd probe pkts = 0 and tshark zero_window_probe = "
                f"{ts['client']['tcp.analysis.zero_window_probe']}: Linux probes carry no "
                "data (seq = SND.UNA-1), tshark calls them keep-alives"
            )
    return problems


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    names = [s.name for s in SCENARIOS]
    ap = recorder_arguments(__doc__, names, Path(__file__).resolve().parent / "real",
                            "skip the tcptrace / tshark check")
    ap.add_argument("--inside", choices=names, help=argparse.SUPPRESS)
    ap.add_argument("--parent-netns", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    out: Path = args.out.resolve()
    if args.inside:
        record_inside(BY_NAME[args.inside], out, args.parent_netns)
        return 0
    if os.geteuid() != 0:
        print("error: run as root (unshare -n, nft and dumpcap need it)", file=sys.stderr)
        return 2
    if missing := missing_tools():
        print("error: missing tools, install them first:", *missing, sep="\n  ", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for sc in SCENARIOS:
        if args.only and sc.name not in args.only:
            continue
        doc = record(sc, out)
        if not args.no_verify:
            problems += [f"{sc.name}: {p}" for p in verify(sc, out, doc)]
    if problems:
        print(f"{len(problems)} problem(s):", *problems, sep="\n  ", file=sys.stderr)
        return 1
    checked = "" if args.no_verify else " and checked with tcptrace/tshark"
    print(f"all scenarios recorded{checked}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
