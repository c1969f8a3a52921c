"""One capture's result from its tasks' results: the records of every shard in the order a
run over the whole capture gives them, the packets of every shard counted once, and a
failed task named by its capture and shard."""

from __future__ import annotations

from collections.abc import Sequence

from analyzer.api import CaptureResult
from analyzer.cluster.tasks import TaskResult
from analyzer.core.records import ConnectionRecord


def start_order(records: Sequence[ConnectionRecord]) -> list[ConnectionRecord]:
    """Records in start order (first packet's time, then its frame), as a local run sorts
    them. Connections that start in the same frame are an outer tunnel flow and the ones
    inside it (a run over the whole capture makes the outer one first); here a record comes
    after the record its ``tunnel_parents`` names, whichever shard each came from."""
    ordered = sorted(records, key=lambda r: (r.first_ts_ns, r.first_frame))
    out: list[ConnectionRecord] = []
    i = 0
    while i < len(ordered):
        j = i + 1
        key = (ordered[i].first_ts_ns, ordered[i].first_frame)
        while j < len(ordered) and (ordered[j].first_ts_ns, ordered[j].first_frame) == key:
            j += 1
        out.extend(_parents_first(ordered[i:j]) if j - i > 1 else ordered[i:j])
        i = j
    return out


def _parents_first(group: list[ConnectionRecord]) -> list[ConnectionRecord]:
    """A frame's records, each after the one in the group it names as tunnel parent
    (stable otherwise)."""
    uids = {r.uid: r for r in group}

    def depth(r: ConnectionRecord, seen: frozenset[str] = frozenset()) -> int:
        parents = [uids[p] for p in r.tunnel_parents if p in uids and p not in seen]
        return 1 + max((depth(p, seen | {r.uid}) for p in parents), default=-1)

    return sorted(group, key=depth)


def merge(parts: Sequence[TaskResult]) -> CaptureResult:
    """The capture's result from the results of its tasks (one per shard, any order).

    The first task error (by shard) is the capture's error, naming the shard when there are
    several; warnings and notes, which every shard finds alike, are kept once.
    """
    parts = sorted(parts, key=lambda p: p.task.shard)
    first = parts[0]
    merged = CaptureResult(first.task.name, engine=first.result.engine)
    for part in parts:
        result = part.result
        if result.error is not None and merged.error is None:
            merged.error = result.error
        merged.packets += result.packets
        for note in result.notes:
            if note not in merged.notes:
                merged.notes.append(note)
        for warning in result.warnings:
            if warning not in merged.warnings:
                merged.warnings.append(warning)
        if result.truncated_at is not None:
            merged.truncated_at = max(merged.truncated_at or 0, result.truncated_at)
        if result.engine == "native":
            merged.engine = "native"
    if merged.error is not None:
        return merged
    records = [r for part in parts for r in part.result.records]
    merged.records = records if len(parts) == 1 else start_order(records)
    return merged
