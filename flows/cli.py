"""`wa-etl`: run the nightly job, tell what it did, query its warehouse.

Every option can also be set in the environment (`WA_ETL_<OPTION>`, nested with `__`: the
help names each variable). Errors are one line on stderr (`--debug` for the traceback), and
the exit code tells how a run ended (`flows.errors.ExitCode`)."""

import signal
import sys
import traceback
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import NoReturn

from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    CliApp,
    CliImplicitFlag,
    CliSubCommand,
    SettingsConfigDict,
    SettingsError,
)

from flows.errors import ExitCode, UsageError, exit_code, one_line
from flows.settings import (
    DEFAULT_WAREHOUSE,
    RunSettings,
    TaskRunnerKind,
    with_environment_names,
)

PROGRAM = "wa-etl"
EXIT_CODES = (
    "exit codes: 0 published (or nothing new), 1 failed (nothing published), 2 bad usage, "
    "3 another run holds the warehouse, 4 published with unreadable files (--allow-unreadable), "
    "5 alerts shown (--fail-on-alert), "
    "128+n stopped by signal n (130 Ctrl-C, 143 SIGTERM)"
)

# `wa-etl sample` where its generator (devtools/, in the repository, not in the wheel) is absent
NOT_INSTALLED_SAMPLE = (
    "sample is a development tool, not part of the installed package: run it from the "
    "repository (make sample)"
)


class _Debug:
    """Whether `--debug` was given (the commands ask)."""

    on = False


DEBUG = _Debug()
# the options every command line shares, and what the help shows of them
CLI_CONFIG = SettingsConfigDict(
    cli_prog_name=PROGRAM,
    cli_kebab_case=True,
    cli_implicit_flags=True,
    cli_hide_none_type=True,
    cli_avoid_json=True,
    cli_use_class_docs_for_groups=True,
    cli_exit_on_error=False,
    env_prefix="WA_ETL_",
)


class RunCommand(RunSettings):
    """Read the archive's new and changed files into the DuckDB warehouse and the Parquet
    export, and print what the night held (a bar per stage on a terminal, a line every 10 s
    elsewhere). Exit codes: 0 published or nothing new, 1 failed (nothing published), 2 bad
    usage, 3 another run holds the warehouse, 4 published with unreadable files, 5 alerts
    shown (--fail-on-alert), 130 and 143 stopped by Ctrl-C and SIGTERM."""

    model_config = SettingsConfigDict(env_prefix="WA_ETL_", env_nested_delimiter="__")

    task_runner: TaskRunnerKind = Field(
        "threads",
        description="Where the files are read: threads of this process (--tuning.workers), "
        "or a Dask cluster",
    )
    dask_address: str | None = Field(
        None,
        description="Scheduler of an existing Dask cluster (tcp://host:8786); without it, "
        "--task-runner dask starts a temporary local cluster",
    )

    fail_on_alert: bool = Field(
        False,
        description="Exit 5 when the run shows an alert (on the days it changed, or a stale "
        "archive), after publishing as usual",
    )

    def cli_cmd(self) -> None:
        from flows.command import run

        code = run(
            self.model_copy(), self.task_runner, self.dask_address, DEBUG.on, self.fail_on_alert
        )
        raise SystemExit(int(code))


class StatusCommand(BaseModel):
    """Print the last runs of a warehouse (from its runs log) and what it holds: its message
    days, its messages and its newest complete day."""

    warehouse: Path = Field(DEFAULT_WAREHOUSE, description="The DuckDB warehouse")
    last: int = Field(10, ge=1, description="How many of the last runs to show")

    def cli_cmd(self) -> None:
        from flows.command import status

        print(status(Path(self.warehouse).absolute(), self.last))


class ReportCommand(BaseModel):
    """Write the report of the warehouse's newest message days: one HTML page that opens
    with no network (the night writes the same beside the export, report/index.html)."""

    warehouse: Path = Field(DEFAULT_WAREHOUSE, description="The DuckDB warehouse")
    out: Path = Field(description="The HTML file to write (its folder is made)")
    days: int = Field(14, ge=1, description="The newest message days to show")

    def cli_cmd(self) -> None:
        from flows.command import report

        print(report(Path(self.warehouse).absolute(), Path(self.out).absolute(), self.days))


class SqlCommand(BaseModel):
    """Open DuckDB's SQL shell on the warehouse, read-only (a run may work meanwhile: the
    shell keeps reading the night it opened)."""

    warehouse: Path = Field(DEFAULT_WAREHOUSE, description="The DuckDB warehouse")
    command: str | None = Field(
        None, description="Run this SQL and exit, instead of opening the shell"
    )

    def cli_cmd(self) -> None:
        from flows.command import sql_shell

        sql_shell(Path(self.warehouse).absolute(), self.command)


class SampleCommand(BaseModel):
    """Write a realistic sample archive (a development tool, run from the repository: the
    bundled sample is one)."""

    out: Path = Field(description="Folder to write the archive into (must be empty or new)")
    messages: int = Field(2000, ge=1, description="Outbound messages to simulate")
    days: int = Field(3, ge=1, description="Days the messages spread over")
    seed: int = Field(7, description="Seed: the same seed gives the same archive")
    start: date | None = Field(
        None, description="First day of the messages, YYYY-MM-DD (default 2026-11-16)"
    )

    def cli_cmd(self) -> None:
        try:
            from devtools.sample import SampleSpec, write_sample
        except ModuleNotFoundError as error:
            if error.name not in ("devtools", "devtools.sample"):
                raise
            raise UsageError(NOT_INSTALLED_SAMPLE) from None

        spec = SampleSpec(messages=self.messages, days=self.days, seed=self.seed)
        written = write_sample(
            self.out, spec.model_copy(update={"start": self.start or spec.start})
        )
        print(written.render())


class DictionaryCommand(BaseModel):
    """Write the data dictionary of the warehouse (Markdown) from the table models."""

    out: Path = Field(description="File to write, e.g. docs/data-dictionary.md")

    def cli_cmd(self) -> None:
        from transforms.contract.dictionary import data_dictionary

        self.out.write_text(data_dictionary(), encoding="utf-8")
        print(f"wrote {self.out}")


class WaEtl(BaseSettings):
    """Nightly ETL from archived WhatsApp Business webhook events to a DuckDB warehouse and a
    Parquet export."""

    model_config = CLI_CONFIG

    run: CliSubCommand[RunCommand] = Field(
        description="Read the archive's new files into the warehouse and the Parquet export"
    )
    status: CliSubCommand[StatusCommand] = Field(
        description="Show the last runs and what the warehouse holds"
    )
    sql: CliSubCommand[SqlCommand] = Field(
        description="Open DuckDB's SQL shell on the warehouse, read-only"
    )
    report: CliSubCommand[ReportCommand] = Field(
        description="Write the HTML report of the warehouse's newest days"
    )
    sample: CliSubCommand[SampleCommand] = Field(description="Write a realistic sample archive")
    dictionary: CliSubCommand[DictionaryCommand] = Field(
        description="Write the warehouse's data dictionary (Markdown)"
    )
    version: CliImplicitFlag[bool] = Field(False, description="Print the version and exit")
    debug: CliImplicitFlag[bool] = Field(
        False, description="Show Prefect's logs, and a traceback when something fails"
    )

    def cli_cmd(self) -> None:
        if self.version:
            print(f"{PROGRAM} {version('wa-etl')}")
            return
        DEBUG.on = self.debug
        CliApp.run_subcommand(self)


with_environment_names(RunCommand)


INTERRUPTED = 128 + signal.SIGINT


def _failed(error: BaseException, debug: bool) -> NoReturn:
    if debug:
        traceback.print_exception(error)
    print(f"{PROGRAM}: {one_line(error)}", file=sys.stderr)
    raise SystemExit(int(exit_code(error)))


def _debug_first(arguments: list[str]) -> list[str]:
    """`--debug` where the parser takes it (before the command), wherever it was typed."""
    rest = [argument for argument in arguments if argument != "--debug"]
    return ["--debug", *rest] if len(rest) < len(arguments) else rest


def main(arguments: list[str] | None = None) -> None:
    given = sys.argv[1:] if arguments is None else arguments
    debug = "--debug" in given
    try:
        CliApp.run(WaEtl, cli_args=_debug_first(given))
    except (ValidationError, SettingsError, UsageError) as error:
        if debug:
            traceback.print_exception(error)
        print(f"{PROGRAM}: {_usage(error)}", file=sys.stderr)
        raise SystemExit(int(ExitCode.USAGE)) from None
    except SystemExit:
        raise
    except KeyboardInterrupt:
        # a shell's status for a command ended by Ctrl-C (128 + SIGINT)
        print(f"{PROGRAM}: interrupted; nothing more was published", file=sys.stderr)
        raise SystemExit(INTERRUPTED) from None
    except BaseException as error:
        _failed(error, debug)


def _option(location: tuple[int | str, ...]) -> str:
    """The option a validation error's location names (without its command's name)."""
    parts = [str(part) for part in location]
    if parts and parts[0] in WaEtl.model_fields:
        parts = parts[1:]
    return ".".join(parts).replace("_", "-")


def _usage(error: BaseException) -> str:
    """A bad argument in one line: which option, and what is wrong with it."""
    if isinstance(error, ValidationError):
        problems = [f"--{_option(item['loc'])}: {item['msg']}" for item in error.errors()]
        return "; ".join(problems) + f" (see {PROGRAM} --help)"
    return one_line(error)
