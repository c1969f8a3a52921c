"""The options every command shares: their typer declarations (with human metavars) and
:class:`RunOptions`, the one object a command builds from them and hands on."""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

from analyzer.loader import LoadOptions
from analyzer.loader.tshark import SESSION_RESET


class Loader(str, enum.Enum):
    tshark = "tshark"
    pyshark = "pyshark"


class EngineChoice(str, enum.Enum):
    native = "native"
    tshark = "tshark"
    auto = "auto"


@dataclasses.dataclass(frozen=True)
class GlobalOptions:
    """The options given before the command (the app callback puts them in ``ctx.obj``)."""

    engine: str = "auto"
    session_reset: int = SESSION_RESET


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How a command reads its captures: built once per command, from the global options
    and the command's shared options."""

    engine: str = "auto"
    session_reset: int = SESSION_RESET
    display_filter: str | None = None
    loader: str = "tshark"
    check_checksums: bool = False
    tshark_path: str | None = None
    decode_as: tuple[str, ...] = ()
    pref: tuple[str, ...] = ()
    strict: bool = False
    jobs: int | None = None
    quiet: bool = False
    #: ``--progress`` (True), ``--no-progress`` (False) or neither (None: on when stderr is a
    #: terminal and $CI is unset); ``quiet`` turns it off (see ``analyzer.progress``).
    progress: bool | None = None
    #: ``--shards N``: each capture as N tasks, split by host pair (``analyzer.cluster``).
    shards: int = 1
    #: ``--dask local:N`` or a scheduler address: run the tasks on a Dask cluster.
    dask: str | None = None

    @property
    def scaled_out(self) -> bool:
        """The run goes through ``analyzer.cluster`` (Dask, or shards of captures)."""
        return self.dask is not None or self.shards > 1

    def load_options(self, *, app_details: bool = True,
                     session_reset: int | None = None) -> LoadOptions:
        return LoadOptions(
            engine=self.engine, display_filter=self.display_filter,
            check_checksums=self.check_checksums, loader=self.loader,
            tshark_path=self.tshark_path, decode_as=self.decode_as, prefs=self.pref,
            session_reset=self.session_reset if session_reset is None else session_reset,
            app_details=app_details)


def run_options(ctx: typer.Context | None, display_filter: str | None = None,
                loader: Loader = Loader.tshark, check_checksums: bool = False,
                tshark_path: str | None = None, decode_as: list[str] | None = None,
                pref: list[str] | None = None, strict: bool = False, jobs: int | None = None,
                quiet: bool = False, progress: bool | None = None, shards: int = 1,
                dask: str | None = None) -> RunOptions:
    """The :class:`RunOptions` of a command (``ctx.obj`` holds the global options)."""
    obj = ctx.obj if ctx is not None else None
    glob = obj if isinstance(obj, GlobalOptions) else GlobalOptions()
    return RunOptions(
        engine=glob.engine, session_reset=glob.session_reset, display_filter=display_filter,
        loader=loader.value, check_checksums=check_checksums, tshark_path=tshark_path,
        decode_as=tuple(decode_as or ()), pref=tuple(pref or ()), strict=strict, jobs=jobs,
        quiet=quiet, progress=progress, shards=shards, dask=dask)


CapturesArg = Annotated[list[Path], typer.Argument(
    metavar="CAPTURE", help="Capture files (pcap, pcapng, .cap, .gz), directories "
    "(searched recursively) or globs.", show_default=False,
    readable=False)]  # an unreadable file is the read's error (exit 3), not a usage error
FilterOpt = Annotated[str | None, typer.Option(
    "--display-filter", "-Y", metavar="FILTER", help="Wireshark display filter: keep the "
    "connections with a packet it matches, each built from all of its packets.")]
LoaderOpt = Annotated[Loader, typer.Option(
    help="tshark: fast field export; pyshark: pyshark packet objects (slow reference).")]
ChecksumOpt = Annotated[bool, typer.Option(
    "--check-checksums/--ignore-checksums",
    help="Drop packets with bad TCP/UDP checksums, as Zeek does without -C. Off by "
    "default: captures taken on the sending host carry unfinished checksums.")]
TsharkOpt = Annotated[str | None, typer.Option(
    envvar="TSHARK_PATH", metavar="PATH", help="The tshark binary to use.")]
DecodeOpt = Annotated[list[str] | None, typer.Option(
    "--decode-as", "-d", metavar="RULE",
    help="tshark decode-as rule, e.g. 'tcp.port==8765,http' (repeatable).")]
PrefOpt = Annotated[list[str] | None, typer.Option(
    "--pref", metavar="NAME:VALUE", help="tshark preference name:value (tshark -o; "
    "repeatable).")]
OutputOpt = Annotated[Path | None, typer.Option(
    "--output", "-o", metavar="FILE", help="Write here instead of standard output.")]
StrictOpt = Annotated[bool, typer.Option(help="Treat a truncated capture as an error (exit 4).")]
JobsOpt = Annotated[int | None, typer.Option(
    "--jobs", "-j", metavar="N",
    help="Captures to work on in parallel (default: the number of cores).")]
QuietOpt = Annotated[bool, typer.Option(
    "--quiet", "-q", help="No progress bar and no batch tally on stderr.")]
ProgressOpt = Annotated[bool | None, typer.Option(
    "--progress/--no-progress", help="A progress bar on stderr (default: on when stderr is "
    "a terminal and $CI is unset; -q turns it off).", show_default=False)]
ShardsOpt = Annotated[int, typer.Option(
    "--shards", min=1, metavar="N", help="Read each capture as N tasks, each tracking the "
    "connections of the host pairs that hash to it (both directions, IP fragments and port "
    "reuse stay together); the records are those of a run without shards. Native "
    "engine; runs on --dask, else on --jobs processes here.")]
DaskOpt = Annotated[str | None, typer.Option(
    "--dask", metavar="local:N|ADDRESS", envvar="PCAP_ANALYZER_DASK", help="Run the "
    "captures (and shards) as tasks on a Dask cluster: local:N starts N worker processes "
    "here, tcp://HOST:8786 uses a running scheduler (workers must see the captures under "
    "the same paths). connections -f parquet -o DIR then writes a Parquet dataset from the "
    "workers.", show_default=False)]
WideOpt = Annotated[bool, typer.Option(
    "--wide", help="Table: every column, none dropped to fit the terminal (long lines "
    "wrap). Implies -f table.")]
ColumnsOpt = Annotated[str | None, typer.Option(
    "--columns", metavar="A,B,C", help="Table: these columns in this order, by field name "
    "like zeek-cut (any field of -f jsonl; n is the #N id, client and server the "
    "endpoints). Implies -f table.", show_default=False)]
RuleOpt = Annotated[list[str] | None, typer.Option(
    "--rule", "-r", metavar="RULE", help="A rule, e.g. \"count(end == 'rst') / count() <= "
    "0.01\" or 'handshake_rtt_s.p95 < 0.2' (repeatable; severity error). The vocabulary is "
    "in the README, \"CI checks\".")]
PolicyOpt = Annotated[Path | None, typer.Option(
    "--policy", "-p", metavar="FILE", help="A TOML policy: [[rule]] tables with name, expr "
    "and severity (\"error\" fails the check, \"warning\" is only shown).",
    show_default=False)]
JunitOpt = Annotated[Path | None, typer.Option(
    "--junit", metavar="FILE", help="Also write JUnit XML here: a test suite per capture, "
    "a test case per rule.", show_default=False)]

ConnOpt = Annotated[str | None, typer.Option(
    "--conn", metavar="ID", help="The connection: its #N in the `connections` table "
    "(quote it: '#3', or give 3), its uid, or CLIENT:PORT-SERVER:PORT (IPv6 in "
    "brackets); any unique prefix of a uid or endpoints does.")]
ExplainCapturesArg = Annotated[list[Path], typer.Argument(
    metavar="CAPTURE", show_default=False, readable=False,
    help="A capture file (or several: #N then counts as `connections` numbers them).")]
BeforeArg = Annotated[Path, typer.Argument(metavar="BEFORE", show_default=False,
                                           readable=False, help="The capture before the change.")]
AfterArg = Annotated[Path, typer.Argument(metavar="AFTER", show_default=False, readable=False,
                                          help="The capture after the change.")]
ReportOutOpt = Annotated[Path, typer.Option("--out", "-o", metavar="DIR",
                                            help="The report folder (created).")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="Also write the tables as CSV.")]
TitleOpt = Annotated[str, typer.Option(metavar="TEXT", help="The report's title.")]
StepSummaryOpt = Annotated[bool, typer.Option(
    "--step-summary/--no-step-summary",
    help="Append report.md to $GITHUB_STEP_SUMMARY when it is set.")]
ReportRuleOpt = Annotated[list[str] | None, typer.Option(
    "--rule", metavar="RULE", help="A rule to check (see `check`); with rules, "
    "junit.xml is written and the exit code is 1 when one fails.")]
ReportPolicyOpt = Annotated[Path | None, typer.Option(
    "--policy", metavar="FILE", help="A TOML policy file of named rules (see `check`).")]
RetransThresholdOpt = Annotated[float, typer.Option(
    "--retrans-threshold", min=0.0, max=1.0, metavar="RATE",
    help="List a connection in the problems when its retrans_rate (retransmitted over "
    "all segments carrying sequence space) is above this.")]


#: The shared options, in ``--help``'s order.
SHARED: dict[str, tuple[Any, Any]] = {
    "display_filter": (FilterOpt, None), "loader": (LoaderOpt, Loader.tshark),
    "check_checksums": (ChecksumOpt, False), "tshark_path": (TsharkOpt, None),
    "decode_as": (DecodeOpt, None), "pref": (PrefOpt, None), "strict": (StrictOpt, False),
    "jobs": (JobsOpt, None), "quiet": (QuietOpt, False), "progress": (ProgressOpt, None),
    "shards": (ShardsOpt, 1), "dask": (DaskOpt, None),
}
#: The options of the commands that read captures, and of those that read one or two.
ALL = tuple(SHARED)
READ = ALL[:6]


def shared(names: tuple[str, ...] = ALL
           ) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the shared options ``names``: they come after its own (before
    ``--wide`` and ``--columns``), and the command gets them as one :class:`RunOptions`,
    built once, in its ``opts`` parameter."""
    def decorate(func: Callable[..., None]) -> Callable[..., None]:
        own = [p for p in inspect.signature(func, eval_str=True).parameters.values()
               if p.name != "opts"]
        tail = [p for p in own if p.name in ("wide", "columns")]
        added = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY,
                                   annotation=SHARED[n][0], default=SHARED[n][1])
                 for n in names]
        ctx = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY,
                                annotation=typer.Context)
        params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
                  for p in own if p not in tail]

        @functools.wraps(func)
        def command(*, ctx: typer.Context, **kwargs: Any) -> None:
            opts = run_options(ctx, **{n: kwargs.pop(n) for n in names})
            func(**kwargs, opts=opts)

        command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [ctx, *params, *added, *(p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
                                     for p in tail)])
        return command
    return decorate


class _Argument(TyperArgument):
    """An argument whose ``--help`` shows its metavar alone (not ``<list[Path]>``)."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None if self.metavar else super().display_type_rich(ctx)


class Command(TyperCommand):
    """A command whose arguments read as their metavars in ``--help``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if type(param) is TyperArgument:
                param.__class__ = _Argument


class Group(TyperGroup):
    """The application: a usage error is one line on stderr and exit 2 (click's own is four
    lines: usage, a hint, a blank and the error), with the command's ``--help`` named."""

    def main(self, args: Any = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             windows_expand_args: bool = True, **extra: Any) -> Any:
        import sys

        from typer import _click

        from analyzer.errors import EXIT_USAGE, one_line

        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False,
                                windows_expand_args=windows_expand_args, **extra)
        except _click.exceptions.NoArgsIsHelpError as exc:
            exc.show()
            code = EXIT_USAGE
        except _click.exceptions.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "pcap-analyzer"
            typer.echo(one_line(f"error: {exc.format_message()} (see '{where} --help')"),
                       err=True)
            code = EXIT_USAGE
        except _click.exceptions.ClickException as exc:
            typer.echo(one_line(f"error: {exc.format_message()}"), err=True)
            code = exc.exit_code
        except typer.Abort as exc:
            if isinstance(exc.__cause__, EOFError):  # typer's name for a stray EOFError
                code = _internal_error(exc.__cause__)
            else:
                typer.echo("error: interrupted", err=True)
                code = 130
        except Exception as exc:
            code = _internal_error(exc)
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


def _internal_error(exc: BaseException) -> int:
    """A bug: one line and exit 70 (BSD's EX_SOFTWARE) instead of a traceback, unless
    ``PCAP_ANALYZER_DEBUG`` is set (then the traceback too)."""
    import os
    import traceback

    from analyzer.errors import EXIT_INTERNAL, one_line

    if os.environ.get("PCAP_ANALYZER_DEBUG"):
        traceback.print_exception(exc)
    typer.echo(one_line(f"error: internal error ({type(exc).__name__}: {exc}); please report "
                        "it with the capture (PCAP_ANALYZER_DEBUG=1 shows where)"), err=True)
    return EXIT_INTERNAL
