"""Read a capture through tshark's dissectors and yield packet records.

pyshark is the interface to tshark: it finds the binary and reads its version. The bulk
path then runs tshark itself with ``-T fields`` and only the fields the core needs, and
parses its tab-separated lines as they stream out, so that memory does not grow with the
capture. ``LoadOptions(loader="pyshark")`` builds the same records from pyshark packet
objects instead (see ``pyshark_loader``); a test checks that both agree on every capture.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from analyzer.core.packets import HttpMessage, PacketRecord, WsFrame, option_bytes
from analyzer.errors import (
    BadDisplayFilter,
    BadOption,
    CaptureError,
    TsharkNotFound,
    TsharkTooOld,
)
from analyzer.loader import watchdog
from analyzer.loader.files import check_file, check_header

MIN_TSHARK = (3, 6, 0)

#: Dissectors and preferences that cost time and change no field we read
#: (../shared/notes/perf-anchors.md: 5x faster with identical facts).
LEAN_ARGS: tuple[str, ...] = (
    "--disable-protocol", "json",
    "--disable-protocol", "xml",
    "--disable-protocol", "data-text-lines",
    "--disable-protocol", "png",
    "--disable-protocol", "media",
    "-o", "http.decompress_body:FALSE",
    "-o", "websocket.decompress:FALSE",
)

#: Teredo on any UDP port, as Zeek (and the native engine) find it, not only on 3544.
TUNNEL_ARGS: tuple[str, ...] = ("--enable-heuristic", "teredo_udp")

#: HTTP preferences the fast and the pyshark loader both apply. Out-of-order segments are
#: reassembled (a retransmission that fills a hole completes the message, as in Zeek and
#: the native engine; tshark's default gives up on such a message). Whether a message is
#: reported once its whole body is reassembled (``http.desegment_body``) is chosen per run,
#: see ``LoadOptions.http_body_reassembly``.
HTTP_ARGS: tuple[str, ...] = ("-o", "tcp.reassemble_out_of_order:TRUE")


def http_args(opts: LoadOptions) -> tuple[str, ...]:
    """With body reassembly a response is reported when its body is complete, so chunked
    body sizes are known; without it, when its head is complete, so a response whose body
    lost a segment in the capture is still seen."""
    value = "TRUE" if opts.http_body_reassembly else "FALSE"
    return (*HTTP_ARGS, "-o", f"http.desegment_body:{value}")


#: The fields the core needs, in column order. Every occurrence is exported (``-E
#: occurrence=a``, joined by ``AGG``): for IP/TCP/UDP the last one is used (the innermost
#: header of a tunnel); HTTP and WebSocket fields keep all of them, one per message/frame.
FIELDS: tuple[str, ...] = (
    "frame.number", "frame.time_epoch", "frame.len", "frame.cap_len", "frame.protocols",
    "ip.src", "ip.dst", "ip.len", "ipv6.src", "ipv6.dst", "ipv6.plen",
    "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw", "tcp.len",
    "tcp.window_size_value", "tcp.checksum.status",
    "udp.srcport", "udp.dstport", "udp.length", "udp.checksum.status",
    # HTTP/1.x messages (columns 23-31)
    "http.request.method", "http.request.uri", "http.request.version",
    "http.response.code", "http.response.version", "http.response.phrase",
    "http.request.line", "http.response.line", "http.chunk_size",
    # WebSocket frames (columns 32-40)
    "websocket.fin", "websocket.rsv", "websocket.opcode", "websocket.mask",
    "websocket.payload_length", "websocket.payload_length_ext_16",
    "websocket.payload_length_ext_64", "websocket.payload.close.status_code",
    "websocket.payload.close.reason",
    # The IPv4 header checksum (column 41)
    "ip.checksum.status",
    # ICMP/ICMPv6 and what their payload length needs (columns 42-49)
    "ip.hdr_len", "icmp.type", "icmp.code", "icmp.checksum.status",
    "icmpv6.type", "icmpv6.code", "icmpv6.checksum.status", "ipv6.hopopts.len",
    # A datagram reassembled from IP fragments: its payload length (columns 50-51)
    "ip.reassembled.length", "ipv6.reassembled.length",
    # The TCP options, raw (column 52)
    "tcp.options",
)
AGG = "\x1f"  # the occurrence separator: a control character no field value contains

#: Packets between tshark session resets by default: tshark keeps about 1.5 KB of state
#: per packet read, so this bounds it near 150 MB above its base (bench/results.md).
SESSION_RESET = 100_000


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """How to run tshark.

    Attributes:
        display_filter: a Wireshark display filter (tshark ``-Y``). It selects connections,
            not packets: ``analyzer.api`` keeps every connection that has a packet in a
            frame the filter matches (``matching_frames``), built from all of its packets.
            The loaders themselves always read every packet.
        engine: ``native`` (the Rust engine reads the file itself), ``tshark`` or ``auto``
            (native unless an option needs tshark's dissection).
        check_checksums: have tshark validate TCP/UDP checksums (Zeek's default; our
            default is off, see ``TrackerConfig.check_checksums``).
        loader: ``"tshark"`` (fast field export) or ``"pyshark"`` (packet objects).
        tshark_path: a tshark binary to use instead of the one on PATH.
        decode_as: tshark ``-d`` rules, e.g. ``"tcp.port==8765,http"``.
        prefs: extra tshark ``-o name:value`` preferences.
        lean: turn off body dissectors that change none of the fields read (default on).
        http_body_reassembly: report HTTP messages once their body is complete (sizes of
            chunked bodies known); off, once their head is complete.
        session_reset: have tshark drop its dissection state every this many packets
            (tshark ``-M``), so that its memory stops growing with the capture; 0 is off,
            and the default is ``SESSION_RESET``.
            Frame numbers are carried on across the resets. HTTP messages and WebSocket
            frames of a connection open across a reset are not all seen in such a read:
            ``analyzer.api`` reads those connections again (see ``spans_reset``). Used
            by the tshark loader only, and not with a display filter.
        app_details: keep each record's HTTP transactions and WebSocket sessions (their
            counts are always kept); off for runs that write connection records only.
        frame_map: when the file read is an extract of another capture
            (``extract.extract_frames``), the original number of each of its frames, so
            that records and messages quote the original capture's frame numbers.
        select_frames: the frames ``display_filter`` matched (original frame numbers,
            ascending), once ``analyzer.api`` has asked tshark for them; None before.
        shard: ``(index, count)``: track only the connections of the host pairs in that
            shard of the capture (the native engine; ``analyzer.cluster``); None: all.
    """

    display_filter: str | None = None
    check_checksums: bool = False
    loader: str = "tshark"
    engine: str = "auto"
    tshark_path: str | None = None
    decode_as: tuple[str, ...] = ()
    prefs: tuple[str, ...] = ()
    lean: bool = True
    http_body_reassembly: bool = True
    session_reset: int = SESSION_RESET
    frame_map: tuple[int, ...] = ()
    app_details: bool = True
    select_frames: Sequence[int] | None = None
    shard: tuple[int, int] | None = None

    @property
    def resets(self) -> int:
        """The session reset interval in force for this read (0: none)."""
        if self.loader != "tshark":
            return 0
        return self.session_reset


def spans_reset(first_frame: int, last_frame: int, every: int) -> bool:
    """Does a connection seen from ``first_frame`` to ``last_frame`` stay open across one of
    tshark's session resets (after every ``every`` frames)?"""
    return every > 0 and (first_frame - 1) // every != (last_frame - 1) // every


@dataclass(slots=True)
class LoadResult:
    """What a load found besides packets: filled in while packets are read."""

    packets: int = 0
    last_frame: int = 0
    warnings: list[str] = field(default_factory=list)
    truncated_at: int | None = None


@lru_cache(maxsize=8)
def tshark_info(tshark_path: str | None = None) -> tuple[str, str]:
    """(path, version) of tshark: found by pyshark (or the file given), its version read here."""
    from pyshark.tshark import tshark as pyshark_tshark

    path = tshark_path or os.environ.get("TSHARK_PATH")
    source = "--tshark-path" if tshark_path else "TSHARK_PATH"
    if path:
        # The file given is the one run: pyshark would quietly fall back to the one on PATH
        # for a name that does not end in "tshark" (even /bin/false).
        _check_binary(path, source)
        binary = path
    else:
        try:
            binary = pyshark_tshark.get_process_path(None)
        except pyshark_tshark.TSharkNotFoundException:
            raise TsharkNotFound() from None
        source = "PATH"
        if not os.path.isfile(binary) or not os.access(binary, os.X_OK):
            raise TsharkNotFound()
    # pyshark finds tshark; the version is read here, under the watchdog (pyshark's own
    # read has no time limit, and a stalled tshark would stall every run).
    version = _version_from_output(binary, source)
    parts = tuple(int(x) for x in re.findall(r"\d+", version)[:3])
    if parts < MIN_TSHARK:
        raise TsharkTooOld(version, ".".join(map(str, MIN_TSHARK)))
    return binary, version


def _check_binary(path: str, source: str) -> None:
    """TsharkNotFound naming ``path`` (given by ``source``) and what is wrong with it."""
    if not os.path.exists(path):
        raise TsharkNotFound(path, "does not exist", source)
    if os.path.isdir(path):
        raise TsharkNotFound(path, "is a directory, not the tshark program", source)
    if not os.access(path, os.X_OK):
        raise TsharkNotFound(path, "is not executable", source)


def _version_from_output(binary: str, source: str = "PATH") -> str:
    not_tshark = TsharkNotFound(binary, f"is not tshark ('{binary} -v' prints no TShark "
                                        "version)", source)
    try:
        out = watchdog.run([binary, "-v"], binary).stdout.decode("utf-8", "replace")
    except OSError:
        raise not_tshark from None
    m = re.search(r"TShark \(Wireshark\) (\d+\.\d+\.\d+)", out)
    if not m:
        raise not_tshark
    return m.group(1)


@lru_cache(maxsize=8)
def http_ports(tshark_path: str | None = None) -> frozenset[int]:
    """The TCP ports tshark decodes as HTTP without being told (``tshark -G decodes``)."""
    binary, _ = tshark_info(tshark_path)
    out = watchdog.run([binary, "-G", "decodes"], binary).stdout.decode("utf-8", "replace")
    ports = set()
    for line in out.splitlines():
        table, _, rest = line.partition("\t")
        port, _, proto = rest.partition("\t")
        if table == "tcp.port" and proto.strip() == "http" and port.isdigit():
            ports.add(int(port))
    return frozenset(ports)


_EMPTY_PCAP = bytes.fromhex("d4c3b2a1020004000000000000000000ffff000001000000")


def _on_empty_capture(binary: str, args: list[str]) -> str | None:
    """tshark's complaint about ``args`` on an empty capture (so that an option's error is
    told apart from a file's), or None when tshark accepts them."""
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.pcap"
        empty.write_bytes(_EMPTY_PCAP)
        proc = watchdog.run([binary, "-n", "-r", str(empty), *args], binary)
    if proc.returncode == 0:
        return None
    stderr = proc.stderr.decode("utf-8", "replace")
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("Running as user")]
    message = lines[0] if lines else f"tshark exit code {proc.returncode}"
    return message.removeprefix("tshark: ")


def validate_filter(expression: str, tshark_path: str | None = None) -> None:
    """Raise BadDisplayFilter unless tshark accepts ``expression`` (checked on an empty
    capture, so a bad filter is told apart from a bad file)."""
    binary, _ = tshark_info(tshark_path)
    message = _on_empty_capture(binary, ["-Y", expression])
    if message is not None:
        raise BadDisplayFilter(expression, message)


def validate_dissection(prefs: Sequence[str], decode_as: Sequence[str],
                        tshark_path: str | None = None) -> None:
    """Raise BadOption for the first ``--pref`` or ``--decode-as`` value tshark rejects
    (checked on an empty capture: a usage error, exit 2, not the capture's fault)."""
    if not prefs and not decode_as:
        return
    binary, _ = tshark_info(tshark_path)
    given = [("--pref", "-o", p) for p in prefs] + [("--decode-as", "-d", d) for d in decode_as]
    if _on_empty_capture(binary, [a for _, flag, v in given for a in (flag, v)]) is None:
        return
    for option, flag, value in given:
        message = _on_empty_capture(binary, [flag, value])
        if message is not None:
            raise BadOption(option, value, message)


def dissection_args(opts: LoadOptions) -> list[str]:
    """How tshark dissects for a read: the lean set, tunnels on any port, the HTTP
    reassembly, checksums, preferences and decode-as rules."""
    args: list[str] = []
    if opts.lean:
        args += LEAN_ARGS
    args += TUNNEL_ARGS
    args += http_args(opts)
    if opts.check_checksums:
        args += ["-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
                 "-o", "udp.check_checksum:TRUE"]
    for pref in opts.prefs:
        args += ["-o", pref]
    for rule in opts.decode_as:
        args += ["-d", rule]
    return args


def tshark_args(path: str, opts: LoadOptions) -> list[str]:
    """The field export of a read: every packet (a display filter selects connections
    afterwards, see ``matching_frames``), with session resets if asked for."""
    binary, _ = tshark_info(opts.tshark_path)
    args = [binary, "-n", "-r", path, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a",
            "-E", f"aggregator={AGG}"]
    for f in FIELDS:
        args += ["-e", f]
    args += dissection_args(opts)
    if opts.resets:
        args += ["-M", str(opts.resets)]
    return args


#: Names whose values LEAN_ARGS change: the body dissectors it turns off (a body they
#: would have dissected shows as ``data``, ``media`` or not at all) and the decompressed
#: HTTP and WebSocket payloads.
_LEAN_CHANGES = re.compile(
    r"^(json|xml|png|media|data-text-lines|text|data|image-png)(\.|$)"
    r"|^(http\.file_data|websocket\.payload)")


def lean_is_safe(expression: str) -> bool:
    """Does the filter give the same frames with LEAN_ARGS (3x faster on HTTP bodies)?
    No when it names a protocol or field they change, even inside a string (to be safe)."""
    return not any(_LEAN_CHANGES.match(name)
                   for name in re.findall(r"[A-Za-z_][\w.-]*", expression))


#: tshark's words for a capture it cannot read (or read to the end): the read that follows
#: the matching pass finds the same problem and reports it in its own words.
_FILE_PROBLEMS = ("cut short in the middle of a packet", "truncated",
                  "isn't a capture file in a format TShark understands",
                  "appears to be damaged or corrupt")


def matching_frames(path: str, opts: LoadOptions) -> array[int]:
    """The frames ``opts.display_filter`` matches, ascending (``tshark -r FILE -Y FILTER -T
    fields -e frame.number``), with the read's dissection (decode-as rules, preferences,
    tunnels, reassembly), so that a message reassembled from several segments or IP
    fragments matches in the frame that completes it, the frame the engines put the
    packet in (a reassembled datagram is in its last fragment's frame).

    A capture cut short or damaged gives the frames before the damage: the read that follows
    reports the damage (or a file that is no capture at all) as it does without a filter.
    Raises BadDisplayFilter for a filter tshark rejects, CaptureError for a file it cannot
    read for another reason, TsharkNotFound/TsharkTooOld.
    """
    expression = opts.display_filter
    if not expression:
        raise ValueError("matching_frames needs a display filter")
    check_file(path)
    binary, _ = tshark_info(opts.tshark_path)
    lean = opts.lean and lean_is_safe(expression)
    args = [binary, "-n", "-r", path, "-Y", expression, "-T", "fields", "-e", "frame.number",
            *dissection_args(replace(opts, lean=lean))]
    proc = watchdog.run(args, path)
    frames = array("Q", sorted(int(x) for x in proc.stdout.split() if x.isdigit()))
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace")
        text = _tshark_words(stderr, path)
        if any(problem in text for problem in _FILE_PROBLEMS):
            return frames
        validate_filter(expression, opts.tshark_path)
        lines = [ln for ln in stderr.splitlines() if ln.strip() and "Running as user" not in ln]
        raise CaptureError(path, lines[0].removeprefix("tshark: ") if lines else
                           f"tshark exit code {proc.returncode}")
    return frames


#: Lines of tshark's export between two progress reports.
PROGRESS_LINES = 2048


def load(path: str, opts: LoadOptions | None = None, result: LoadResult | None = None,
         on_progress: Callable[[str, int, int, int], None] | None = None,
         ) -> Iterator[PacketRecord]:
    """Yield the capture's TCP and UDP packets as records, in capture order: all of them
    (``opts.display_filter`` is not applied here; it selects connections, see
    ``analyzer.api``).

    Raises CaptureError for a file that cannot be read at all. A capture cut short is
    read up to the cut and noted in ``result.warnings`` / ``result.truncated_at``.

    ``on_progress(path, 0, 0, packets)`` is called every ``PROGRESS_LINES`` frames and at
    the end (tshark's export does not say how far into the file it is: no bytes, no
    total; see ``analyzer.progress``). The pyshark loader does not report progress.
    """
    opts = opts or LoadOptions()
    result = result if result is not None else LoadResult()
    if opts.frame_map:
        yield from _renumbered(_load(path, opts, result, on_progress), opts.frame_map, result)
    else:
        yield from _load(path, opts, result, on_progress)


def _renumbered(packets: Iterator[PacketRecord], frame_map: tuple[int, ...],
                result: LoadResult) -> Iterator[PacketRecord]:
    """Frame numbers of an extract -> the original capture's."""
    for rec in packets:
        yield rec._replace(frame=frame_map[rec.frame - 1])
    if result.last_frame:
        result.last_frame = frame_map[min(result.last_frame, len(frame_map)) - 1]
    if result.truncated_at:
        result.truncated_at = frame_map[min(result.truncated_at, len(frame_map)) - 1]


def _load(path: str, opts: LoadOptions, result: LoadResult,
          on_progress: Callable[[str, int, int, int], None] | None = None,
          ) -> Iterator[PacketRecord]:
    check_file(path)
    check_header(path)
    if opts.loader == "pyshark":
        from analyzer.loader.pyshark_loader import iter_packets_pyshark

        yield from _pyshark(path, opts, result, iter_packets_pyshark)
        return
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            tshark_args(path, opts),
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
        assert proc.stdout is not None
        dog = watchdog.Watchdog(proc)
        try:
            cols: list[str] = []
            every, offset, last = opts.resets, 0, 0
            with dog:
                for lines, line in enumerate(proc.stdout, 1):
                    dog.progress()
                    if on_progress is not None and lines % PROGRESS_LINES == 0:
                        on_progress(path, 0, 0, result.packets)
                    cols = line.decode("utf-8", "replace").rstrip("\r\n").split("\t")
                    try:
                        if every:
                            # tshark numbers frames from 1 again after each session reset
                            # (every frame has a line: the read has no display filter)
                            raw = int(cols[0])
                            if raw < last:
                                offset += every
                            last = raw
                        recs = parse_frame(cols, offset)
                    except (ValueError, IndexError):
                        raise CaptureError(path, f"tshark printed a line the loader cannot "
                                                 f"read (line {lines}): {line[:80]!r}"
                                           ) from None
                    for rec in recs:
                        result.packets += 1
                        yield rec
            if cols and cols[0].isdigit():
                result.last_frame = int(cols[0]) + offset
            if on_progress is not None:
                on_progress(path, 0, 0, result.packets)
        finally:
            proc.stdout.close()
            if proc.poll() is None and sys.exc_info()[0] is not None:
                proc.kill()
            rc = proc.wait()
        if dog.fired:
            raise watchdog.TsharkStalled(path, dog.limit)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    if rc != 0:
        _classify_failure(path, stderr, result)


def _pyshark(path: str, opts: LoadOptions, result: LoadResult, it: object
             ) -> Iterator[PacketRecord]:
    assert callable(it)
    gen: Callable[..., Iterator[PacketRecord]] = it
    decode_as = dict(rule.split(",", 1) for rule in opts.decode_as) if opts.decode_as else None
    prefs = {"http.desegment_body": "TRUE" if opts.http_body_reassembly else "FALSE"}
    prefs.update(dict(p.split(":", 1) for p in opts.prefs))
    try:
        for rec in gen(
            path,
            display_filter=None,  # every packet: a display filter selects connections
            check_checksums=opts.check_checksums,
            tshark_path=tshark_info(opts.tshark_path)[0],
            decode_as=decode_as,
            override_prefs=prefs,
            lean=opts.lean,
        ):
            result.packets += 1
            result.last_frame = rec.frame
            yield rec
    except Exception:
        # pyshark hides tshark's stderr; ask tshark what is wrong with the file.
        proc = watchdog.run([tshark_info(opts.tshark_path)[0], "-n", "-r", path, "-T",
                             "fields", "-e", "frame.number"], path)
        if proc.returncode == 0:
            raise
        frames = [f for f in proc.stdout.split() if f.isdigit()]
        if frames:
            result.last_frame = int(frames[-1])
        _classify_failure(path, proc.stderr.decode("utf-8", "replace"), result)


def _tshark_words(stderr: str, path: str) -> str:
    """tshark's message on one line, without the file's name that it quotes (a file named
    ``truncated.pcap`` must not read as a truncated capture)."""
    return " ".join(stderr.replace(f'"{path}"', '"FILE"').split())


def _classify_failure(path: str, stderr: str, result: LoadResult) -> None:
    text = _tshark_words(stderr, path)
    if "cut short in the middle of a packet" in text or "truncated" in text.lower():
        result.truncated_at = result.last_frame
        result.warnings.append(f"truncated after frame {result.last_frame} (the rest is cut off)")
        return
    if "isn't a capture file in a format TShark understands" in text:
        raise CaptureError(path, "not a capture file (tshark does not recognise the format)")
    if "appears to be damaged or corrupt" in text:
        if result.last_frame:
            result.truncated_at = result.last_frame
            result.warnings.append(f"damaged after frame {result.last_frame}; read up to there")
            return
        raise CaptureError(path, "damaged or corrupt capture file")
    lines = [ln for ln in stderr.splitlines() if ln.strip() and "Running as user" not in ln]
    raise CaptureError(path, lines[0].removeprefix("tshark: ") if lines else "tshark failed",
                       frame=result.last_frame or None)


def _last(value: str) -> str:
    return value.rpartition(AGG)[2] if AGG in value else value


_NFIELDS = len(FIELDS)


#: frame.protocols names of the tunnels the native engine decodes -> Zeek's tunnel type.
TUNNEL_PROTOCOLS = {"vxlan": "VXLAN", "geneve": "GENEVE", "gtp": "GTPv1", "teredo": "TEREDO",
                    "ayiya": "AYIYA", "gre": "GRE"}
#: A frame whose layers need walking: ICMP (never the header it quotes) or a tunnel. One
#: search per packet instead of a substring test per name.
_LAYERED = re.compile("icmp|" + "|".join(TUNNEL_PROTOCOLS))


def parse_epoch_ns(text: str) -> int:
    """``"1700000000.000001000"`` -> ``1700000000000001000`` (exact, no float on the way),
    saturating at the bounds of a 64-bit count as the native engine's reader does (a damaged
    timestamp can lie centuries ahead). Raises ValueError for text that is no timestamp."""
    text = text.strip()
    negative = text.startswith("-")
    if negative or text.startswith("+"):
        text = text[1:]
    seconds, _, fraction = text.partition(".")
    if not (seconds or fraction) or not (seconds + fraction).isdigit():
        raise ValueError(f"not an epoch timestamp: {text!r}")
    nanos = int(seconds or "0") * 1_000_000_000 + int((fraction[:9]).ljust(9, "0"))
    nanos = -nanos if negative else nanos
    return max(-(2**63), min(nanos, 2**63 - 1))


def parse_frame(c: list[str], frame_offset: int = 0) -> list[PacketRecord]:
    """One ``-T fields`` line -> the packets it holds, as the native engine sees them: a
    plain TCP/UDP packet; an ICMP message (never the header it quotes); or, for a tunnel,
    the outer UDP datagram and then the inner packet with its ``tunnels``."""
    if len(c) < _NFIELDS:
        return []
    protos = c[4]
    if AGG not in c[5] and AGG not in c[8] and not _LAYERED.search(protos):
        rec = parse_fields(c, frame_offset)
        return [rec] if rec is not None else []
    return _layers(c, frame_offset)


def _layers(c: list[str], frame_offset: int) -> list[PacketRecord]:
    """Walk frame.protocols, dealing each layer its own occurrence of the IP, TCP, UDP and
    ICMP fields (tshark lists every occurrence, outermost first)."""
    occ = {i: _split(c[i]) for i in (5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
                                     20, 21, 22, 41, 42, 43, 44, 45, 46, 47, 48, 49, 52)}
    count = {"ip": 0, "ipv6": 0, "tcp": 0, "udp": 0, "icmp": 0, "icmpv6": 0}
    levels: list[dict[str, Any]] = []  # one per network layer: net, transport, tunnel kind
    for tok in protos_tokens(c[4]):
        if tok in ("ip", "ipv6"):
            levels.append({"net": (tok, count[tok]), "trans": None, "kind": None})
            count[tok] += 1
        elif not levels:
            continue
        elif tok in ("tcp", "udp"):
            if levels[-1]["trans"] is None:
                levels[-1]["trans"] = (tok, count[tok])
            count[tok] += 1
        elif tok in ("icmp", "icmpv6"):
            levels[-1]["trans"] = (tok, count[tok])
            break  # what follows is the header an ICMP error quotes
        elif tok in TUNNEL_PROTOCOLS:
            levels[-1]["kind"] = TUNNEL_PROTOCOLS[tok]
    ts = parse_epoch_ns(c[1])
    frame = int(c[0]) + frame_offset
    captured = int(c[3]) >= int(c[2])
    out: list[PacketRecord] = []
    chain: list[tuple[str, str, str, int, int]] = []
    for n, level in enumerate(levels):
        net = _net(occ, level["net"])
        if net is None:
            return out
        inner = n + 1 < len(levels)
        trans = level["trans"]
        if inner and trans is not None and trans[0] == "udp":
            rec = _transport(occ, frame, ts, net, trans, captured, tuple(chain))
            if rec is not None:
                out.append(rec)
        if inner:
            kind = level["kind"] or "IP"
            sport = dport = 0
            if trans is not None and trans[0] == "udp":
                sport, dport = _int(occ[19], trans[1]), _int(occ[20], trans[1])
            chain.append((kind, net[1], net[2], sport, dport))
            continue
        if trans is not None:
            rec = _transport(occ, frame, ts, net, trans, captured, tuple(chain))
            if rec is not None and rec.proto == "tcp" and (c[23] or c[26] or c[34]):
                # HTTP and WebSocket ride on the innermost TCP segment, as in parse_fields.
                rec = rec._replace(
                    http=parse_http(c[23:32]) if (c[23] or c[26]) else (),
                    ws=parse_ws(c[32:41]) if c[34] else ())
            if rec is not None:
                out.append(rec)
    return out


def protos_tokens(protos: str) -> list[str]:
    return protos.split(":")


def _at_str(values: list[str], i: int) -> str:
    return values[i] if i < len(values) else ""


def _int(values: list[str], i: int, default: int = 0) -> int:
    v = _at_str(values, i)
    try:
        return int(v, 0) if v else default
    except ValueError:
        return default


def _net(occ: dict[int, list[str]], net: tuple[str, int]
         ) -> tuple[int, str, str, int, bool, int] | None:
    """(version, src, dst, ip_len, header checksum bad, IP header + options length)."""
    kind, i = net
    if kind == "ip":
        src, dst = _at_str(occ[5], i), _at_str(occ[6], i)
        if not src or not dst:
            return None
        return 4, src, dst, _int(occ[7], i), _at_str(occ[41], i) == "0", _int(occ[42], i, 20)
    src, dst = _at_str(occ[8], i), _at_str(occ[9], i)
    if not src or not dst:
        return None
    hop = _at_str(occ[49], i)
    ext = (int(hop) + 1) * 8 if hop.isdigit() else 0
    return 6, src, dst, _int(occ[10], i) + 40, False, 40 + ext


def _tcp_options(occ: dict[int, list[str]], i: int) -> str:
    """The options of the i-th TCP header: tshark lists ``tcp.options`` only for headers
    that have options, so when some lack them, only the innermost header's are known."""
    opts, headers = occ[52], len(occ[11])
    if len(opts) == headers:
        return _at_str(opts, i)
    return opts[-1] if opts and i == headers - 1 else ""


def _transport(occ: dict[int, list[str]], frame: int, ts: int,
               net: tuple[int, str, str, int, bool, int], trans: tuple[str, int],
               captured: bool, chain: tuple[tuple[str, str, str, int, int], ...]
               ) -> PacketRecord | None:
    ver, src, dst, ip_len, ip_bad, hdr = net
    kind, i = trans
    if kind == "tcp":
        sport, dport, flags = _at_str(occ[11], i), _at_str(occ[12], i), _at_str(occ[13], i)
        if not (sport and dport and flags):
            return None
        return PacketRecord(
            frame, ts, "tcp", ver, src, int(sport), dst, int(dport), ip_len,
            int(flags, 16) & 0xFF, _int(occ[14], i), _int(occ[15], i), _int(occ[16], i),
            _int(occ[17], i), captured, ip_bad or _at_str(occ[18], i) == "0", tunnels=chain,
            options=option_bytes(_tcp_options(occ, i)))
    if kind == "udp":
        sport, dport = _at_str(occ[19], i), _at_str(occ[20], i)
        if not (sport and dport):
            return None
        return PacketRecord(
            frame, ts, "udp", ver, src, int(sport), dst, int(dport), ip_len, 0, 0, 0,
            max(_int(occ[21], i, 8) - 8, 0), 0, captured,
            ip_bad or _at_str(occ[22], i) == "0", tunnels=chain)
    t, code, chk = (43, 44, 45) if kind == "icmp" else (46, 47, 48)
    icmp_type = _at_str(occ[t], i)
    if not icmp_type:
        return None
    return PacketRecord(
        frame, ts, "icmp", ver, src, int(icmp_type), dst, _int(occ[code], i), ip_len, 0, 0, 0,
        max(ip_len - hdr - 8, 0), 0, captured, ip_bad or _at_str(occ[chk], i) == "0",
        tunnels=chain)


def parse_fields(c: list[str], frame_offset: int = 0) -> PacketRecord | None:
    """One ``-T fields`` line (columns in FIELDS order) -> record; None if not TCP/UDP.
    ``frame_offset`` is added to tshark's frame number (the frames before its last reset).

    This runs once per packet, so it indexes columns directly and builds the record
    positionally. Only a packet with two IP/TCP/UDP headers (a tunnel, or an ICMP error
    quoting a header) has aggregated values there; the innermost header counts.
    """
    if len(c) < _NFIELDS:
        return None
    protos = c[4]
    if "icmp" in protos:  # icmp and icmpv6: a quoted header is not a packet of the flow
        return None
    if AGG in c[11] or AGG in c[19] or AGG in c[5] or AGG in c[8]:
        c = c[:5] + [_last(x) for x in c[5:23]] + c[23:]
    sport = c[11]
    is_tcp = bool(sport)
    if not is_tcp and not c[19]:
        return None
    # A header cut short by the snap length lacks what the core needs: not a usable packet.
    if (is_tcp and not (c[12] and c[13])) or (not is_tcp and not c[20]):
        return None
    # The innermost network layer decides the IP version.
    v4, v6 = protos.rfind(":ip:"), protos.rfind(":ipv6:")
    if v4 < 0 and v6 < 0:
        if protos.startswith("ip:"):
            v4 = 0
        elif protos.startswith("ipv6:"):
            v6 = 0
        else:
            return None
    if v6 > v4:
        ver, src, dst, ip_len = 6, c[8], c[9], int(c[10] or 0) + 40
        if c[51]:  # reassembled: Zeek counts the whole datagram (payload + header)
            hop = _last(c[49])
            ip_len = int(_last(c[51])) + 40 + ((int(hop) + 1) * 8 if hop.isdigit() else 0)
    else:
        ver, src, dst, ip_len = 4, c[5], c[6], int(c[7] or 0)
        if c[50]:
            ip_len = int(_last(c[50])) + int(_last(c[42]) or 20)
    ts = parse_epoch_ns(c[1])
    captured = int(c[3]) >= int(c[2])
    ip_bad = ver == 4 and _last(c[41]) == "0"
    if is_tcp:
        return PacketRecord(
            int(c[0]) + frame_offset, ts, "tcp", ver, src, int(sport), dst, int(c[12]), ip_len,
            int(c[13], 16) & 0xFF, int(c[14] or 0), int(c[15] or 0), int(c[16] or 0),
            int(c[17] or 0), captured, ip_bad or c[18] == "0",
            parse_http(c[23:32]) if (c[23] or c[26]) else (),
            parse_ws(c[32:41]) if c[34] else (),
            (), option_bytes(_last(c[52])) if c[52] else b"",
        )
    return PacketRecord(
        int(c[0]) + frame_offset, ts, "udp", ver, src, int(c[19]), dst, int(c[20]), ip_len,
        0, 0, 0,
        max(int(c[21] or 8) - 8, 0), 0, captured, ip_bad or c[22] == "0",
    )


def _split(value: str) -> list[str]:
    return value.split(AGG) if value else []


def parse_http(c: list[str]) -> tuple[HttpMessage, ...]:
    """HTTP columns (method, uri, req version, code, resp version, phrase, request lines,
    response lines, chunk sizes) -> messages, one per request/response in the packet."""
    methods, uris, rversions = _split(c[0]), _split(c[1]), _split(c[2])
    codes, sversions, phrases = _split(c[3]), _split(c[4]), _split(c[5])
    chunks = tuple(int(x) for x in _split(c[8]) if x.isdigit())
    out: list[HttpMessage] = []
    if methods:
        blocks = split_header_blocks(_split(c[6]), len(methods))
        for i, method in enumerate(methods):
            out.append(HttpMessage(
                is_request=True, method=method, target=_at(uris, i),
                version=_request_version(_at(rversions, i)), headers=blocks[i],
                chunk_sizes=chunks if len(methods) == 1 else ()))
    if codes:
        blocks = split_header_blocks(_split(c[7]), len(codes))
        for i, code in enumerate(codes):
            out.append(HttpMessage(
                is_request=False, status=int(code) if code.isdigit() else None,
                version=_version(_at(sversions, i)), reason=_at(phrases, i),
                headers=blocks[i], chunk_sizes=chunks if len(codes) == 1 else ()))
    return tuple(out)


def _at(values: list[str], i: int) -> str | None:
    return values[i] if i < len(values) else None


def _version(text: str | None) -> str | None:
    return text.removeprefix("HTTP/") if text else None


def _request_version(text: str | None) -> str:
    """A request line without a version is HTTP/0.9 (RFC 1945 §4.1, Simple-Request)."""
    return _version(text) or "0.9"


def split_header_blocks(lines: list[str], n: int) -> list[tuple[tuple[str, str], ...]]:
    """Header lines of ``n`` messages (tshark lists them all in one field) -> n blocks.

    With one message every line is its own. With several, a new block starts where a
    header name repeats within the current block (each message sends Host, Content-Length
    and the like once); blocks beyond what can be told apart are left empty.
    """
    parsed: list[tuple[str, str]] = []
    for line in lines:
        text = line.replace("\\r\\n", "").replace("\r\n", "").rstrip("\r\n")
        name, sep, value = text.partition(":")
        if sep:
            parsed.append((name.strip().lower(), value.strip()))
    if n <= 1:
        return [tuple(parsed)]
    blocks: list[list[tuple[str, str]]] = [[]]
    for name, value in parsed:
        if any(k == name for k, _ in blocks[-1]) and len(blocks) < n:
            blocks.append([])
        blocks[-1].append((name, value))
    blocks += [[] for _ in range(n - len(blocks))]
    return [tuple(b) for b in blocks]


def parse_ws(c: list[str]) -> tuple[WsFrame, ...]:
    """WebSocket columns -> frames. Optional fields (extended lengths, close code and
    reason) appear only for the frames that carry them, so they are dealt out in order."""
    fins, rsvs, opcodes, masks = _split(c[0]), _split(c[1]), _split(c[2]), _split(c[3])
    lens, ext16, ext64 = _split(c[4]), iter(_split(c[5])), iter(_split(c[6]))
    codes, reasons = iter(_split(c[7])), iter(_split(c[8]))
    frames = []
    for i, op in enumerate(opcodes):
        length = int(_at(lens, i) or 0)
        if length == 126:
            length = int(next(ext16, "126"))
        elif length == 127:
            length = int(next(ext64, "127"))
        opcode = int(op, 0)
        code: int | None = None
        reason: str | None = None
        if opcode == 8 and length >= 2:
            raw = next(codes, None)
            code = int(raw) if raw and raw.isdigit() else None
            reason = next(reasons, "") if length > 2 else ""
        frames.append(WsFrame(
            fin=_flag(_at(fins, i)), rsv=int(_at(rsvs, i) or "0", 0), opcode=opcode,
            masked=_flag(_at(masks, i)), payload_len=length, close_code=code,
            close_reason=reason))
    return tuple(frames)


def _flag(text: str | None) -> bool:
    return text in ("1", "True", "true")
