"""What `wa-etl run`, `wa-etl status` and `wa-etl sql` do. A run is checked, locked, listed
and planned before Prefect is even imported: bad usage and a refused lock answer at once, and
a night with nothing new ends without starting a server. Otherwise a temporary Prefect server
starts (`flows.server`) while Prefect is imported, and the flow runs on it."""

import os
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from flows import runs
from flows.errors import ExitCode, UsageError
from flows.lock import RunLockedError, run_lock
from flows.night import (
    Night,
    Outcome,
    Prepared,
    hand_over,
    night_of,
    prepare,
    recorded,
    refused,
    run_record,
    summary_of,
)
from flows.progress import NightProgress, install
from flows.settings import RunSettings, TaskRunnerKind
from flows.summary import RunSummary
from transforms.contract.pricing import PricingFiles

# Prefect: nothing sent to the internet, time for a cold start, our modules' logs in the
# flow's; on the command line, Prefect's own console lines are not the user's (our progress
# and summary are): only --debug shows them
PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    "PREFECT_LOGGING_EXTRA_LOGGERS": "transforms",
}
QUIET_PREFECT = {"PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "CRITICAL"}


def absolute(path: str) -> str:
    """A path the user typed, made absolute from where they typed it (URLs as they are)."""
    return path if "://" in path else str(Path(path).absolute())


def night_from(settings: RunSettings, started: datetime) -> Night:
    return night_of(
        absolute(settings.source),
        Path(absolute(str(settings.warehouse))),
        absolute(settings.export),
        settings.as_of,
        settings.full_refresh,
        settings.allow_unreadable,
        settings.aws_credentials,
        settings.pii,
        settings.pii_key_secret,
        settings.tuning,
        started,
        pricing=PricingFiles.of(settings.rate_card, settings.markets),
    )


def _quiet_night(night: Night, prepared: Prepared, started: float) -> RunSummary:
    """A night with nothing new, ended without Prefect: recorded, summarised."""
    outcome = Outcome(listing=prepared.listing, plan=prepared.plan)
    summary = summary_of(night, outcome, time.monotonic() - started)
    record = run_record(night, outcome, "nothing_new", finished=True)
    runs.append(night.runs_log, record.model_copy(update={"as_of": summary.as_of}))
    return summary


def _flow_night(
    settings: RunSettings, night: Night, task_runner: TaskRunnerKind, dask_address: str | None
) -> RunSummary:
    """The night as a Prefect flow, on a temporary server this process owns."""
    from flows.server import healthy_api, stop_on_signals, temporary_api

    with stop_on_signals(), temporary_api(wait=False):
        from flows.nightly import nightly_for  # Prefect's imports, while the server starts

        healthy_api()
        flow = nightly_for(settings.tuning, task_runner, dask_address)
        reporter = NightProgress(lambda line: print(line, file=sys.stderr), sys.stderr)
        install(reporter)
        try:
            with reporter.running():
                return flow(
                    source=night.source.url,
                    warehouse=night.warehouse,
                    export=str(night.export),
                    as_of=night.as_of,
                    full_refresh=night.full_refresh,
                    allow_unreadable=night.allow_unreadable,
                    aws_credentials=night.source.aws_credentials,
                    pii=night.pii,
                    pii_key_secret=night.pii_key_secret,
                    tuning=night.tuning,
                    rate_card=night.pricing.rate_card,
                    markets=night.pricing.markets,
                    run_id=night.run_id,
                )
        finally:
            install(None)


def run(
    settings: RunSettings,
    task_runner: TaskRunnerKind,
    dask_address: str | None,
    debug: bool,
    fail_on_alert: bool = False,
) -> ExitCode:
    """`wa-etl run`: the night, and its exit code."""
    started = time.monotonic()
    for name, value in {**PREFECT_DEFAULTS, **({} if debug else QUIET_PREFECT)}.items():
        os.environ.setdefault(name, value)
    needs_prefect = bool(settings.pii_key_secret or settings.aws_credentials)
    night = night_from(settings, datetime.now(UTC)) if not needs_prefect else None
    if night is None:
        # a Prefect block must be looked up (a key, credentials): the server is needed first
        from flows.server import healthy_api, stop_on_signals, temporary_api

        with stop_on_signals(), temporary_api():
            healthy_api()
            night = night_from(settings, datetime.now(UTC))
            summary = _flow_night(settings, night, task_runner, dask_address)
    else:
        try:
            with run_lock(night.paths.lock, night.tuning.lock_wait_seconds), recorded(night):
                prepared = prepare(night)
                if prepared.nothing_new:
                    summary = _quiet_night(night, prepared, started)
                else:
                    hand_over(night.run_id, prepared)
                    summary = _flow_night(settings, night, task_runner, dask_address)
        except RunLockedError as error:
            refused(night, error)
            raise
    print(summary.render())
    if summary.unreadable_files:
        return ExitCode.UNREADABLE
    return ExitCode.ALERTS if fail_on_alert and summary.alerted else ExitCode.PUBLISHED


def status(warehouse: Path, last: int) -> str:
    """`wa-etl status`: the last runs (from the runs log) and what the warehouse holds."""
    from flows.night import build_info, newest_days
    from transforms.state.store import StatePaths

    log = runs.runs(StatePaths.of(warehouse).folder / runs.LOG_NAME)
    lines = [f"warehouse: {warehouse}"]
    if not log:
        lines.append("no run has been recorded for this warehouse")
    for record in log[-last:]:
        took = (
            f"{(record.finished_at - record.started_at).total_seconds():,.1f} s"
            if record.finished_at
            else "still running"
        )
        unreadable = (
            f", {len(record.unreadable_files)} unreadable" if record.unreadable_files else ""
        )
        lines.append(
            f"  {record.started_at:%Y-%m-%d %H:%M:%S} {record.outcome:<11} {took:>10}  "
            f"{record.files_read:,} files, {record.lines:,} lines, "
            f"{record.quarantined:,} quarantined{unreadable}"
            + (f": {record.message}" if record.message else "")
        )
    info = build_info(warehouse)
    if info is None:
        lines.append("the warehouse does not exist yet (or was built by an older version)")
        return "\n".join(lines)
    from transforms.sql import LOOK, connect

    connection = connect(str(warehouse), limits=LOOK, read_only=True)
    try:
        ((first, newest, messages),) = connection.execute(
            "select min(message_day), max(message_day), count(*) from messages"
        ).fetchall()
    finally:
        connection.close()
    complete = [day.day for day in newest_days(warehouse) if day.complete]
    lines += [
        f"published by run {info.run_id}, as of {info.as_of:%Y-%m-%d %H:%M:%S} UTC"
        if info.as_of
        else f"published by run {info.run_id}",
        f"message days {first} to {newest}: {messages:,} messages",
        f"newest complete day: {complete[0] if complete else 'none yet'}",
    ]
    return "\n".join(lines)


def report(warehouse: Path, out: Path, days: int) -> str:
    """`wa-etl report`: the report of the warehouse's newest `days` written to `out`."""
    from transforms.publish.report import write_report

    if not warehouse.is_file():
        raise UsageError(f"there is no warehouse at {warehouse} (--warehouse, WA_ETL_WAREHOUSE)")
    return f"report: {write_report(warehouse, out, days, datetime.now(UTC))}"


def sql_shell(warehouse: Path, command: str | None) -> None:
    """`wa-etl sql`: DuckDB's own shell, read-only, on the warehouse (replaces this process)."""
    if not warehouse.is_file():
        raise UsageError(f"there is no warehouse at {warehouse} (--warehouse, WA_ETL_WAREHOUSE)")
    # the one installed beside this Python first (the project's environment has it)
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    duckdb = shutil.which("duckdb", path=search)
    if duckdb is None:
        raise UsageError("DuckDB's command-line tool is not installed (pip install duckdb-cli)")
    arguments = [duckdb, "-readonly", str(warehouse), *(["-c", command] if command else [])]
    os.execv(duckdb, arguments)
