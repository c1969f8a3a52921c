"""Scale-out (analyzer.cluster): captures and shards of captures as tasks on a real Dask
LocalCluster of two worker processes (started and stopped here, loopback only), and on
the local process pool. Every distributed or sharded run must give exactly the records of
a local run, in the same order; a killed worker must not lose or duplicate any."""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from zeek_oracle import ORACLE

from analyzer import _engine
from analyzer.api import analyze
from analyzer.batch import expand_inputs
from analyzer.cluster import TaskFailed, plan, run_cluster
from analyzer.cluster.merge import start_order
from analyzer.cluster.tasks import PROGRESS_TOPIC, part_name, partition_dir
from analyzer.core.tracker import TrackerConfig
from analyzer.errors import EXIT_TASK_FAILED, EXIT_USAGE
from analyzer.loader import LoadOptions

ROOT = Path(__file__).resolve().parents[1]
CAPTURES = ROOT / "captures"

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=50)
    with cluster, distributed.Client(cluster) as c:
        yield c


def every_capture() -> list[str]:
    """Every capture in the repository and the oracle."""
    return expand_inputs([str(CAPTURES), str(ORACLE)])


def _same(local: Any, other: Any) -> None:
    assert [c.path for c in other.captures] == [c.path for c in local.captures]
    for a, b in zip(local.captures, other.captures, strict=True):
        assert b.records == a.records, a.path
        assert [r.conn_id for r in b.records] == [r.conn_id for r in b.records]
        assert (b.packets, b.warnings, b.truncated_at, str(b.error)) == (
            a.packets, a.warnings, a.truncated_at, str(a.error)), a.path


# ------------------------------------------------------------- every capture, field by field

@pytest.mark.parametrize("shards", [1, 3])
def test_every_capture_on_the_cluster_gives_the_local_records(client: Any, shards: int
                                                             ) -> None:
    paths = every_capture()
    assert len(paths) > 100
    local = analyze(paths)
    on_cluster = analyze(paths, client=client, shards=shards)
    _same(local, on_cluster)
    assert sum(len(c.records) for c in local.captures) > 200


def test_shards_really_split_captures_and_each_record_comes_from_one_shard() -> None:
    paths = every_capture()
    run = run_cluster(paths, LoadOptions(), TrackerConfig(), shards=3, jobs=2)
    split = 0
    for index, _ in enumerate(paths):
        parts = [t for t in run.tasks if t.task.index == index]
        assert [t.task.shard for t in parts] == [0, 1, 2]
        with_records = [t for t in parts if t.result.records]
        split += len(with_records) > 1
        uids = [r.uid for t in parts for r in t.result.records]
        assert len(uids) == len(set(uids)) == len(run.results[index].records)
    # Zeek's traces come from many hosts: most of those with several pairs split.
    assert split >= 10


def test_a_shard_holds_exactly_the_pairs_that_hash_to_it() -> None:
    paths = [p for p in every_capture() if "oracle" in p][:30]
    run = run_cluster(paths, LoadOptions(), TrackerConfig(), shards=3, jobs=1)
    for index, path in enumerate(paths):
        for task in (t for t in run.tasks if t.task.index == index):
            k = task.task.shard
            assert [r.uid for r in task.result.records] == [
                r.uid for r in run.results[index].records
                if _engine.shard_of(r.client_ip, r.server_ip, 3) == k], path


# ------------------------------------------------------------- fragments, port reuse, tunnels

def _edge_capture(path: Path) -> dict[str, str]:
    """Host pairs that split over three shards, a fragmented TCP segment and a fragmented
    UDP datagram, a port reused by a new connection after the first closed, and a TCP
    connection inside VXLAN whose outer pair lands in another shard than its inner pair."""
    from scapy.layers.inet import IP, TCP, UDP, fragment
    from scapy.layers.l2 import Ether
    from scapy.layers.vxlan import VXLAN
    from scapy.utils import wrpcap

    t = [1_700_000_000.0]

    def at(pkt: Any) -> Any:
        t[0] += 0.001
        pkt.time = t[0]
        return pkt

    def conn(c: str, s: str, sport: int, dport: int, payload: bytes = b"",
             frag: bool = False, wrap: Any = None) -> list[Any]:
        def w(p: Any) -> Any:
            return wrap(p) if wrap is not None else Ether() / p
        seq, ack = 1000, 5000
        out = [w(IP(src=c, dst=s) / TCP(sport=sport, dport=dport, flags="S", seq=seq)),
               w(IP(src=s, dst=c) / TCP(sport=dport, dport=sport, flags="SA", seq=ack,
                                        ack=seq + 1)),
               w(IP(src=c, dst=s) / TCP(sport=sport, dport=dport, flags="A", seq=seq + 1,
                                        ack=ack + 1))]
        if payload:
            data = IP(src=c, dst=s, id=77) / TCP(sport=sport, dport=dport, flags="PA",
                                                  seq=seq + 1, ack=ack + 1) / payload
            out += ([w(f) for f in fragment(data, fragsize=24)] if frag else [w(data)])
        n = seq + 1 + len(payload)
        out += [w(IP(src=c, dst=s) / TCP(sport=sport, dport=dport, flags="FA", seq=n,
                                         ack=ack + 1)),
                w(IP(src=s, dst=c) / TCP(sport=dport, dport=sport, flags="FA", seq=ack + 1,
                                         ack=n + 1)),
                w(IP(src=c, dst=s) / TCP(sport=sport, dport=dport, flags="A", seq=n + 1,
                                         ack=ack + 2))]
        return out

    # Outer and inner pairs of the tunnel in different shards (of 3).
    outer = ("192.0.2.1", "192.0.2.2")
    inner = next((f"10.9.0.{i}", "10.9.1.1") for i in range(1, 200)
                 if _engine.shard_of(f"10.9.0.{i}", "10.9.1.1", 3)
                 != _engine.shard_of(*outer, 3))

    def vxlan(p: Any) -> Any:
        return (Ether() / IP(src=outer[0], dst=outer[1]) / UDP(sport=40000, dport=4789)
                / VXLAN(vni=42) / Ether() / p)

    get = b"GET /fragmented HTTP/1.1\r\nHost: example\r\n\r\n"
    packets: list[Any] = []
    for i in range(12):  # many pairs
        packets += conn(f"10.1.0.{i + 1}", "10.2.0.1", 30000 + i, 80)
    packets += conn("10.3.0.1", "10.3.0.2", 31000, 80, get, frag=True)
    packets += conn("10.4.0.1", "10.4.0.2", 32000, 8080)
    packets += conn("10.4.0.1", "10.4.0.2", 32000, 8080)  # the same 4-tuple again
    udp = IP(src="10.5.0.1", dst="10.5.0.2", id=99) / UDP(sport=5353, dport=53) / (b"x" * 60)
    packets += [Ether() / f for f in fragment(udp, fragsize=32)]
    packets += conn(inner[0], inner[1], 33000, 443, b"hello", wrap=vxlan)
    wrpcap(str(path), [at(p) for p in packets])
    return {"inner_client": inner[0], "outer_client": outer[0]}


def test_sharded_runs_of_fragments_port_reuse_and_a_tunnel_give_the_local_records(
        tmp_path: Path, client: Any) -> None:
    path = tmp_path / "edges.pcap"
    names = _edge_capture(path)
    local = analyze(str(path))
    recs = local.records
    reused = [r for r in recs if r.client_port == 32000]
    assert len(reused) == 2 and reused[0].uid != reused[1].uid
    assert [r.http_requests for r in recs if r.client_port == 31000] == [1]
    assert [r.orig_pkts for r in recs if r.proto == "udp" and r.server_port == 53] == [1]
    inner = [r for r in recs if r.client_ip == names["inner_client"]]
    outer = [r for r in recs if r.client_ip == names["outer_client"]]
    assert len(inner) == 1 and len(outer) == 1
    assert inner[0].tunnel_parents == (outer[0].uid,)
    for shards in (2, 3, 5):
        _same(local, analyze(str(path), shards=shards))
        _same(local, analyze(str(path), client=client, shards=shards))
    # The tunnel's two sides were tracked by different tasks, and named each other right.
    run = run_cluster([str(path)], LoadOptions(), TrackerConfig(), dask=client, shards=3)
    where = {r.uid: t.task.shard for t in run.tasks for r in t.result.records}
    assert where[inner[0].uid] != where[outer[0].uid]


def test_merge_puts_a_tunnel_before_the_connections_in_it() -> None:
    local = analyze(str(ORACLE / "zeek-tunnels" / "vxlan.pcap")).records
    shuffled = list(reversed(local))
    assert start_order(shuffled) == local


# ------------------------------------------------------------- the command line

def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "analyzer", *args], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, "CI": "1", **(env or {})},
                          timeout=600)


def test_connections_on_dask_local_gives_the_local_jsonl_byte_for_byte() -> None:
    args = ["connections", "captures", str(ORACLE), "-f", "jsonl"]
    local = _cli(*args)
    # captures/synthetic/bad holds captures that cannot be read: exit 3 both ways.
    assert local.returncode == 3, local.stderr
    for extra in (["--dask", "local:2"], ["--shards", "3", "--dask", "local:2"]):
        run = _cli(*args, *extra)
        assert run.returncode == 3, run.stderr
        assert sorted(line for line in run.stderr.splitlines() if line.startswith(
            ("error:", "warning:", "note:"))) == sorted(
            line for line in local.stderr.splitlines() if line.startswith(
                ("error:", "warning:", "note:")))
        assert run.stdout == local.stdout
        assert "Dask dashboard: http://127.0.0.1:" in run.stderr
        assert run.stderr.splitlines()[-1] == local.stderr.splitlines()[-1]  # the tally
    assert len(local.stdout.splitlines()) > 200


def test_shards_without_dask_run_on_the_local_pool() -> None:
    args = ["connections", "captures/real", "-f", "jsonl", "-q"]
    assert _cli(*args, "--shards", "4", "-j", "2").stdout == _cli(*args).stdout


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_shards_on_the_local_pool_write_parquet_and_csv_without_hanging(
        tmp_path: Path, fmt: str) -> None:
    """The Parquet and CSV writers load pyarrow on a thread while the engine reads; the pool
    forked its workers while that thread held an import lock, and every worker then waited
    for ever (each run of this command hung). A fork now waits for those imports."""
    local, sharded = tmp_path / f"local.{fmt}", tmp_path / f"sharded.{fmt}"
    args = ["connections", "captures/real/mixed.pcap", "captures/real/http10.pcapng", "-f",
            fmt, "-q"]
    assert _cli(*args, "-o", str(local)).returncode == 0
    for _ in range(3):  # it hung every time: three runs, each within the timeout
        run = subprocess.run([sys.executable, "-m", "analyzer", *args, "-o", str(sharded),
                              "--shards", "4", "-j", "2"], capture_output=True, text=True,
                             cwd=ROOT, env={**os.environ, "CI": "1"}, timeout=90)
        assert run.returncode == 0, run.stderr
        if fmt == "csv":
            assert sharded.read_text() == local.read_text()
        else:
            assert pd.read_parquet(sharded).equals(pd.read_parquet(local))
    assert len(pd.read_parquet(local) if fmt == "parquet" else pd.read_csv(local)) == 5


def test_report_over_a_directory_on_dask_gives_the_same_tables_and_parquet(
        tmp_path: Path) -> None:
    local = _cli("report", "captures/real", "--out", str(tmp_path / "local"), "-q")
    assert local.returncode == 0, local.stderr
    far = _cli("report", "captures/real", "--out", str(tmp_path / "far"), "-q",
               "--dask", "local:2", "--shards", "3")
    assert far.returncode == 0, far.stderr
    md = (tmp_path / "local" / "report.md").read_text()
    assert (tmp_path / "far" / "report.md").read_text() == md
    assert "| handshake |" in md or "handshake" in md
    for table in ("connections", "http", "websockets"):
        a = pd.read_parquet(tmp_path / "local" / f"{table}.parquet")
        b = pd.read_parquet(tmp_path / "far" / f"{table}.parquet")
        pd.testing.assert_frame_equal(a, b)
    assert len(pd.read_parquet(tmp_path / "local" / "connections.parquet")) > 10


def test_the_workers_write_a_parquet_dataset_partitioned_by_capture(tmp_path: Path) -> None:
    import pyarrow.dataset as ds

    local_file = tmp_path / "local.parquet"
    assert _cli("connections", "captures", "-f", "parquet", "-o", str(local_file),
                "-q").returncode == 3  # captures/synthetic/bad
    out = tmp_path / "dataset"
    run = _cli("connections", "captures", "-f", "parquet", "-o", str(out), "--dask",
               "local:2", "--shards", "2")
    assert run.returncode == 3, run.stderr
    local = pd.read_parquet(local_file)
    # Every capture that could be read has its partition (one with no connection too).
    bad = {"captures/synthetic/bad/empty.pcap", "captures/synthetic/bad/not_a_capture.pcap"}
    every = [os.path.relpath(p, ROOT) for p in expand_inputs([str(CAPTURES)])]
    rel = [r for r in every if r not in bad]
    assert set(local["capture"].astype(str)) <= set(rel)
    assert not any(partition_dir(out, b).exists() for b in bad)
    # A hive partition per capture, a file per task (empty shards included).
    for task in (t for t in plan(every, 2) if t.name not in bad):
        assert (partition_dir(out, task.name) / part_name(task)).is_file(), task
    assert sum(len(list(partition_dir(out, name).iterdir())) for name in rel) == 2 * len(rel)
    assert f"wrote {out}: {2 * len(rel)} Parquet files" in run.stderr
    for frame in (pd.read_parquet(out), ds.dataset(out, partitioning="hive").to_table()
                  .to_pandas()):
        assert set(frame["capture"].astype(str)) == set(local["capture"].astype(str))
        frame = frame[list(local.columns)].astype({"capture": str})
        key = ["capture", "first_time", "first_frame", "uid"]
        got = frame.sort_values(key).reset_index(drop=True)
        want = local.astype({"capture": str}).sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want, check_dtype=False,
                                      check_categorical=False)
    # Nothing hidden is left behind.
    assert not list(out.rglob(".*"))


# ------------------------------------------------------------- failures

def test_a_bad_dask_value_is_a_usage_error() -> None:
    run = _cli("connections", "captures/real", "--dask", "local:0")
    assert run.returncode == EXIT_USAGE
    assert run.stderr.startswith("error: --dask 'local:0': give local:N with N >= 1")
    assert run.stdout == ""


def test_an_unreachable_scheduler_is_one_line_and_exit_3() -> None:
    run = _cli("summary", "captures/real", "--dask", "tcp://127.0.0.1:9",
               env={"PCAP_ANALYZER_DASK_TIMEOUT": "2"})
    assert run.returncode == 3
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: cannot reach the Dask scheduler at tcp://127.0.0.1:9:"), run.stderr


def test_a_failed_task_names_its_capture_and_shard_and_leaves_no_output(
        tmp_path: Path, client: Any) -> None:
    """A task that raises (here: its worker cannot import pyarrow's Parquet writer for the
    dataset) stops the run with exit 5; neither the dataset nor a file is left."""
    # The dataset folder is one that exists as a file for the workers: every task fails.
    blocker = tmp_path / "stage"
    blocker.write_text("not a folder")
    tasks = plan([str(CAPTURES / "real" / "http10.pcapng")], 2)
    with pytest.raises(TaskFailed) as info:
        run_cluster([tasks[0].name], LoadOptions(), TrackerConfig(), dask=client, shards=2,
                    dataset=str(blocker))
    assert str(info.value).startswith(
        f"{tasks[0].name} (shard 1 of 2): task failed: ") or str(info.value).startswith(
        f"{tasks[0].name} (shard 2 of 2): task failed: ")
    assert info.value.exit_code == EXIT_TASK_FAILED


def test_a_task_whose_worker_dies_too_often_is_exit_5_and_no_output(tmp_path: Path) -> None:
    """With ``allowed-failures`` 0 the scheduler gives a task up the first time its worker
    dies: the run stops with exit 5, names the capture and shard, and leaves no file."""
    import psutil

    path = tmp_path / "many.pcap"
    _many_pairs_capture(path, 200_000)
    out = tmp_path / "conn.jsonl"
    env = {**os.environ, "CI": "1", "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "analyzer", "connections", str(path),
                             "-f", "jsonl", "-o", str(out), "--dask", "local:1",
                             "--shards", "6"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # printed once the cluster is up, before any task
        assert first.startswith("Dask dashboard: "), first
        me = psutil.Process(proc.pid)
        worker = None
        for _ in range(600):  # the worker process, once it works on a task
            kids = [k for k in me.children(recursive=True)  # not multiprocessing's helper
                    if "spawn_main" in " ".join(k.cmdline())]
            busy = [k for k in kids if k.cpu_percent(interval=0.05) > 20]
            if busy:
                worker = busy[0]
                break
            time.sleep(0.05)
        assert worker is not None, "no worker was seen working"
        worker.kill()
        _, stderr = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == EXIT_TASK_FAILED, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {path} (shard "), last
    assert "task failed: the workers running it died too often (KilledWorker" in last
    assert not out.exists()


# ------------------------------------------------------------- a worker killed mid-task

def _many_pairs_capture(path: Path, connections: int) -> None:
    """A raw-IPv4 pcap of ``connections`` short TCP connections over 256 host pairs
    (handshake, a request, a reply, the four-way close), written directly."""
    def ip(src: int, dst: int, body: bytes) -> bytes:
        return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 0, 0x4000, 64, 6, 0,
                           src.to_bytes(4, "big"), dst.to_bytes(4, "big")) + body

    def tcp(sport: int, dport: int, seq: int, ack: int, flags: int, data: bytes = b""
            ) -> bytes:
        return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 0x50, flags, 65535, 0,
                           0) + data

    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 228))
    t = 1_700_000_000 * 1_000_000
    for n in range(connections):
        c, s = 0x0A000000 + (n % 256), 0x0A640001
        sport = 1024 + n % 60000
        steps = [(c, s, 1, 0, 0x02, b""), (s, c, 1000, 2, 0x12, b""),
                 (c, s, 2, 1001, 0x10, b""), (c, s, 2, 1001, 0x18, b"GET / HTTP/1.0\r\n\r\n"),
                 (s, c, 1001, 20, 0x18, b"HTTP/1.0 200 OK\r\n\r\n"),
                 (c, s, 20, 1020, 0x11, b""), (s, c, 1020, 21, 0x11, b""),
                 (c, s, 21, 1021, 0x10, b"")]
        for src, dst, seq, ack, flags, data in steps:
            a, b = (sport, 80) if src == c else (80, sport)
            pkt = ip(src, dst, tcp(a, b, seq, ack, flags, data))
            t += 7
            out += struct.pack("<IIII", t // 1_000_000, t % 1_000_000, len(pkt), len(pkt))
            out += pkt
    path.write_bytes(bytes(out))


def test_a_worker_killed_mid_task_loses_and_duplicates_nothing(tmp_path: Path,
                                                               client: Any) -> None:
    path = tmp_path / "many.pcap"
    _many_pairs_capture(path, 120_000)
    local = analyze(str(path))
    assert len(local.records) == 120_000

    pids = client.run(os.getpid)
    killed: dict[str, str] = {}

    def on_progress(event: Any) -> None:
        msg = event[1]
        if not killed and msg.get("worker") in pids:
            killed.update(worker=msg["worker"], task=msg["task"])
            os.kill(pids[msg["worker"]], signal.SIGKILL)

    client.subscribe_topic(PROGRESS_TOPIC, on_progress)
    try:
        run = run_cluster([str(path)] * 2, LoadOptions(), TrackerConfig(), dask=client,
                          shards=4)
    finally:
        client.unsubscribe_topic(PROGRESS_TOPIC)
    assert killed, "no task was seen reading"
    rerun = [t for t in run.tasks if t.task.key == killed["task"]]
    assert len(rerun) == 1 and rerun[0].worker != killed["worker"]
    for result in run.results:
        assert result.records == local.records
        assert result.packets == local.captures[0].packets
    client.wait_for_workers(2, timeout=60)


def test_a_worker_killed_while_writing_the_dataset_leaves_each_record_once(
        tmp_path: Path, client: Any) -> None:
    path = tmp_path / "many.pcap"
    _many_pairs_capture(path, 120_000)
    pids = client.run(os.getpid)
    killed: list[str] = []
    lock = threading.Lock()

    def on_progress(event: Any) -> None:
        with lock:
            if not killed and event[1].get("worker") in pids:
                killed.append(event[1]["worker"])
                os.kill(pids[event[1]["worker"]], signal.SIGKILL)

    out = tmp_path / "ds"
    out.mkdir()
    client.subscribe_topic(PROGRESS_TOPIC, on_progress)
    try:
        run = run_cluster([str(path)], LoadOptions(app_details=False), TrackerConfig(),
                          dask=client, shards=4, dataset=str(out))
    finally:
        client.unsubscribe_topic(PROGRESS_TOPIC)
    assert killed
    from analyzer.cluster.tasks import drop_leftovers

    drop_leftovers(out)
    frame = pd.read_parquet(out)
    assert len(frame) == 120_000 == frame["uid"].nunique()
    assert sum(t.rows for t in run.tasks) == 120_000
    assert not list(out.rglob(".*"))
    client.wait_for_workers(2, timeout=60)


def test_progress_events_reach_the_client(tmp_path: Path, client: Any) -> None:
    events: list[dict[str, Any]] = []
    path = str(CAPTURES / "real" / "mixed.pcap")
    run_cluster([path], LoadOptions(), TrackerConfig(), dask=client, shards=2,
                on_task=events.append)
    done = [e for e in events if e.get("done")]
    assert sorted(e["task"] for e in done) == ["0-0-of-2", "0-1-of-2"]
    size = os.path.getsize(path)
    assert all(e["bytes"] == size for e in done)
    assert sum(e["packets"] for e in done) == analyze(path).captures[0].packets
    json.dumps(events)  # plain data, as a display or a log takes it


# ------------------------------------------------------------- the other commands and engines

@pytest.mark.tshark
def test_the_tshark_engine_and_a_display_filter_give_the_local_records_when_sharded(
        client: Any) -> None:
    paths = [str(p) for p in sorted((CAPTURES / "real").glob("*.pcap*"))]
    _same(analyze(paths, engine="tshark"), analyze(paths, engine="tshark", client=client,
                                                     shards=3))
    filtered = analyze(paths, display_filter="tcp.flags.reset == 1")
    assert 0 < len(filtered.records) < len(analyze(paths).records)
    _same(filtered, analyze(paths, display_filter="tcp.flags.reset == 1", client=client,
                            shards=3))


def test_summary_and_check_on_dask_say_what_they_say_locally(tmp_path: Path) -> None:
    summary = ["summary", "captures/real", "captures/ws", "-f", "json", "-q"]
    local = _cli(*summary)
    assert local.returncode == 0, local.stderr
    far = _cli(*summary, "--dask", "local:2", "--shards", "2")
    assert far.returncode == 0, far.stderr
    assert json.loads(far.stdout) == json.loads(local.stdout)
    check = ["check", "captures/real", "-q", "-f", "json",
             "--rule", "count(end == 'rst') == 0", "--rule", "count() > 0"]
    local = _cli(*check, "--junit", str(tmp_path / "a.xml"))
    far = _cli(*check, "--junit", str(tmp_path / "b.xml"), "--dask", "local:2",
               "--shards", "2")
    assert local.returncode == far.returncode == 1  # the captures with a reset fail
    assert json.loads(far.stdout) == json.loads(local.stdout)
    assert (tmp_path / "a.xml").read_text().count("<failure") == (
        tmp_path / "b.xml").read_text().count("<failure") > 0


def test_the_task_display_counts_tasks_bytes_and_packets() -> None:
    from io import StringIO

    from rich.console import Console

    from analyzer.progress.bars import TaskProgress

    buf = StringIO()
    console = Console(file=buf, force_terminal=True, width=120)
    with TaskProgress(2, 2000, console=console, transient=False) as shown:
        shown.on_task({"task": "0-0-of-2", "bytes": 500, "total": 1000, "packets": 40})
        shown.on_task({"task": "0-0-of-2", "bytes": 1000, "total": 1000, "packets": 80,
                       "done": True})
        shown.on_task({"task": "0-0-of-2", "bytes": 10, "total": 1000, "packets": 1})
        shown.on_task({"task": "0-1-of-2", "bytes": 1000, "total": 1000, "packets": 20,
                       "done": True})
    text = buf.getvalue()
    assert "2/2 tasks" in text and "100%" in text and "100 packets" in text


@pytest.mark.parametrize("command", ["http", "websockets"])
def test_http_and_websockets_on_dask_give_the_local_rows(command: str) -> None:
    args = [command, "captures/real", "captures/ws", "-f", "jsonl", "-q"]
    local = _cli(*args)
    assert local.returncode == 0, local.stderr
    assert len(local.stdout.splitlines()) > 5
    assert _cli(*args, "--dask", "local:2", "--shards", "3").stdout == local.stdout


def test_a_failed_capture_result_travels_between_processes_once_dask_is_loaded() -> None:
    """dask.distributed makes pickle carry an exception's __context__ (through tblib): the
    engine's exception a CaptureError was raised from must be importable by its module."""
    import pickle

    from analyzer.api import analyze_capture

    assert _engine.CaptureFormatError.__module__ == "analyzer._engine"
    result = analyze_capture(str(CAPTURES / "synthetic" / "bad" / "not_a_capture.pcap"))
    assert result.error is not None
    assert isinstance(result.error.__context__, _engine.CaptureFormatError)
    again = pickle.loads(pickle.dumps(result))
    assert str(again.error) == str(result.error)
    assert str(again.error).endswith("not a capture file (neither pcap nor pcapng)")
