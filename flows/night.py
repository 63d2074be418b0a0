"""A night's settings and what can be done about it without Prefect: the checks, the
listing and the plan, whether it has anything to do, the runs log, and what the warehouse
holds. The command line decides "nothing new" here, before a temporary Prefect server would
start; the flow (flows.nightly) does the rest."""

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path

import duckdb
from pydantic import BaseModel

from flows import progress, runs
from flows.errors import UnreadableFilesError, one_line
from flows.preflight import check_run
from flows.runs import RunRecord
from flows.settings import Tuning
from flows.summary import DayHeadline, RunSummary
from transforms.build.session import BuildSettings
from transforms.build.warehouse import build_fingerprint
from transforms.contract.pricing import PricingFiles
from transforms.contract.tables import ARCHIVE_TABLES
from transforms.ingest.accounting import FileReport
from transforms.ingest.personal import PiiMode, key_id, required_key
from transforms.publish.alerts import shown_alerts
from transforms.publish.report import report_location
from transforms.publish.swap import (
    WarehouseHeldError,
    published_rows,
    remove_unpublished,
    writer_of,
)
from transforms.source.discover import Listing
from transforms.source.storage import ArchiveSource, is_s3
from transforms.source.stored import content_sha256
from transforms.sql import LOOK, connect, scalar, sql_text
from transforms.state.store import ReadPlan, StatePaths, open_state, read_plan

NEWEST_DAYS = 3


def new_run_id(started: datetime) -> str:
    return f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


class Night(BaseModel):
    """One run's parameters and where it keeps its files."""

    source: ArchiveSource
    pii: PiiMode
    pii_key_secret: str | None
    pii_key_id: str
    warehouse: Path
    export: str | Path
    as_of: datetime | None
    full_refresh: bool
    allow_unreadable: bool = False
    tuning: Tuning
    pricing: PricingFiles
    run_id: str
    started_at: datetime
    paths: StatePaths

    @property
    def run_folder(self) -> Path:
        return self.paths.runs / self.run_id

    @property
    def runs_log(self) -> Path:
        return self.paths.folder / "runs.jsonl"


class BuildInfo(BaseModel):
    """What the warehouse records of the night that built it (`wa_etl_build.info`), and a
    digest of the files it was built from (`ingest_files`)."""

    fingerprint: str
    run_id: str
    as_of: datetime | None
    newest_event_at: datetime | None
    files_digest: str | None
    export: str | None


def build_info(warehouse: Path) -> BuildInfo | None:
    """What built the published warehouse; None without one (or one of an older version)."""
    if not warehouse.exists():
        return None
    try:
        with duckdb.connect(str(warehouse), read_only=True) as connection:
            result = connection.execute(
                "select fingerprint, run_id, as_of, newest_event_at, "
                f"({sql_text('state/files_digest').format(table='ingest_files')}) as files_digest, "
                "(select any_value(export) from wa_etl_build.published) as export "
                "from wa_etl_build.info"
            )
            names = [column[0] for column in result.description]
            rows = result.fetchall()
    except duckdb.Error:
        return None
    return BuildInfo(**dict(zip(names, rows[0], strict=True))) if rows else None


def nothing_new(
    plan: ReadPlan, info: BuildInfo | None, fingerprint: str, files_digest: str, night: Night
) -> bool:
    """Whether the published warehouse is already what this night would build: no file to
    read or forget, built from the files the state holds (a run killed after its merge
    left the state ahead of the warehouse), exported where this night exports (and that
    export still there), by the same build, as of the same time (the one
    asked for; or, by default, the newest event, which no event past the last run's start
    can move)."""
    if not plan.changes_nothing or info is None or info.fingerprint != fingerprint:
        return False
    if info.files_digest != files_digest or info.export != str(night.export):
        return False
    if isinstance(night.export, Path) and night.export.resolve().name != info.run_id:
        return False  # the export published with the warehouse is gone or replaced
    if night.as_of is not None:
        return info.as_of == night.as_of
    return info.newest_event_at is None or info.newest_event_at == info.as_of


def newest_days(warehouse: Path, days: int = NEWEST_DAYS) -> list[DayHeadline]:
    """The newest complete message day and the days after it, still filling."""
    connection = connect(str(warehouse), limits=LOOK, read_only=True)
    try:
        result = connection.execute(sql_text("reports/newest_days"), {"days": days})
        names = [column[0] for column in result.description]
        return [DayHeadline(**dict(zip(names, row, strict=True))) for row in result.fetchall()]
    finally:
        connection.close()


def build_settings(night: Night) -> BuildSettings:
    return night.tuning.build(
        night.started_at, night.as_of, night.run_id, night.run_folder / "scratch", night.pricing
    )


class Outcome(BaseModel):
    """What a night did: what it listed and read, and what it published."""

    listing: Listing
    plan: ReadPlan
    reports: list[FileReport] = []
    rows: dict[str, int] = {}
    published: bool = False
    warnings: list[str] = []
    # the days the publish changed (None: every day, the warehouse was built anew)
    changed_days: list[date] | None = None

    @property
    def unreadable(self) -> list[str]:
        """The folders that could not be listed and the files that could not be read."""
        return self.listing.unreadable + [
            f"{report.file.uri}: {report.unreadable}"
            for report in self.reports
            if report.unreadable
        ]


def archive_freshness(night: Night, listing: Listing) -> tuple[datetime | None, bool]:
    """The newest modification time of the archive's files, and whether the archive is stale:
    no file modified within the stale-archive hours before the night's --as-of, or its start
    without one (a file modified after that time is fresh too)."""
    times = [file.modified_at for file in listing.files]
    newest = max(times) if times else None
    since = (night.as_of or night.started_at) - timedelta(hours=night.tuning.stale_archive_hours)
    return newest, newest is None or newest < since


def stale_message(night: Night, newest_file_at: datetime | None) -> str:
    """What a stale archive's alert says."""
    hours = night.tuning.stale_archive_hours
    newest = (
        f"the newest was modified {newest_file_at:%Y-%m-%d %H:%M} UTC"
        if newest_file_at is not None
        else "it holds no file"
    )
    before = "the as-of time" if night.as_of else "the run"
    return f"no file of the archive was modified within {hours:g} hours before {before} ({newest})"


def run_record(night: Night, outcome: Outcome, ended: runs.Outcome, *, finished: bool) -> RunRecord:
    """The run's row of the runs log, as `outcome` says."""
    readable = [report for report in outcome.reports if report.unreadable is None]
    newest_file_at, stale = archive_freshness(night, outcome.listing)
    return RunRecord(
        run_id=night.run_id,
        started_at=night.started_at,
        finished_at=datetime.now(UTC) if finished else None,
        as_of=night.as_of,
        outcome=ended,
        files_read=len(readable),
        lines=sum(report.lines for report in readable),
        quarantined=sum(report.quarantined for report in readable),
        unreadable_files=outcome.unreadable,
        complete=not outcome.unreadable,
        message="; ".join(outcome.warnings) or None,
        newest_file_at=newest_file_at,
        stale_archive=stale,
    )


@contextmanager
def recorded(night: Night) -> Iterator[list[RunRecord]]:
    """The run in the runs log (under the run lock): `running` while it works (after
    recording the runs killed before it as failed), then failed with its one-line error if it
    fails; the log. Within the block of the same run (the command line's, around its flow's),
    nothing more is recorded."""
    if night.run_id in _recording:
        yield runs.runs(night.runs_log)
        return
    runs.record_the_killed(night.runs_log)
    started = RunRecord(run_id=night.run_id, started_at=night.started_at, as_of=night.as_of)
    runs.append(night.runs_log, started)
    _recording.add(night.run_id)
    try:
        yield runs.runs(night.runs_log)
    except BaseException as error:
        unreadable = error.unreadable if isinstance(error, UnreadableFilesError) else []
        failed = started.model_copy(
            update={
                "outcome": "failed",
                "finished_at": datetime.now(UTC),
                "unreadable_files": unreadable,
                "message": one_line(error),
            }
        )
        runs.append(night.runs_log, failed)
        raise
    finally:
        _recording.discard(night.run_id)


_recording: set[str] = set()


def night_of(
    source: str,
    warehouse: Path,
    export: str | Path,
    as_of: datetime | None,
    full_refresh: bool,
    allow_unreadable: bool,
    aws_credentials: str | None,
    pii: PiiMode,
    pii_key_secret: str | None,
    tuning: Tuning,
    started_at: datetime,
    run_id: str | None = None,
    *,
    pricing: PricingFiles,
) -> Night:
    """A night's settings, checked (`UsageError` for a bad one), paths made absolute (from
    the working folder: a deployment's worker runs in the project's); its run's id, or one."""
    warehouse = warehouse.absolute()
    export = export if is_s3(str(export)) else Path(export).absolute()
    source = source if "://" in source else str(Path(source).absolute())
    check_run(
        source=source,
        warehouse=warehouse,
        export=str(export),
        pii=pii,
        pii_key_secret=pii_key_secret,
        aws_credentials=aws_credentials,
        as_of=as_of,
        started=started_at,
        pricing=pricing,
    )
    return Night(
        source=ArchiveSource(url=source, aws_credentials=aws_credentials, storage=tuning.storage()),
        pii=pii,
        pii_key_secret=pii_key_secret,
        pii_key_id=key_id(pii, required_key(pii, pii_key_secret)),
        warehouse=warehouse,
        export=export,
        as_of=as_of,
        full_refresh=full_refresh,
        allow_unreadable=allow_unreadable,
        tuning=tuning,
        pricing=pricing,
        run_id=run_id or new_run_id(started_at),
        started_at=started_at,
        paths=StatePaths.of(warehouse),
    )


class Prepared(BaseModel):
    """What a night found before reading: the listing, the plan, and whether the published
    warehouse is already what the night would build."""

    listing: Listing
    plan: ReadPlan
    nothing_new: bool


def prepare(night: Night) -> Prepared:
    """Under the run lock: clear what a killed run left, refuse a warehouse another program
    writes to, list the archive and plan what to read."""
    # a run killed earlier may have left its files: nothing else runs now
    shutil.rmtree(night.paths.runs, ignore_errors=True)
    remove_unpublished(night.warehouse, night.export if isinstance(night.export, Path) else None)
    holder = writer_of(night.warehouse)
    if holder is not None:
        raise WarehouseHeldError(
            f"another program ({holder}) has the warehouse {night.warehouse} open for writing: "
            "close it and run again"
        )
    listing = night.source.listing()
    connection = open_state(
        night.paths.state,
        limits=night.tuning.limits,
        pii=night.pii_key_id,
    )
    try:
        plan = read_plan(
            connection,
            listing.files,
            partial(content_sha256, night.source.opener()),
            full_refresh=night.full_refresh,
            pii=night.pii_key_id,
        )
        files_digest = scalar(connection, sql_text("state/files_digest").format(table="manifest"))
    finally:
        connection.close()
    fingerprint = build_fingerprint(build_settings(night))
    idle = not listing.unreadable and nothing_new(
        plan, build_info(night.warehouse), fingerprint, files_digest, night
    )
    return Prepared(listing=listing, plan=plan, nothing_new=idle)


_handed_over: dict[str, Prepared] = {}


def hand_over(run_id: str, prepared: Prepared) -> None:
    """What the command line prepared for the flow it then runs in this process (a listing
    is not listed twice)."""
    _handed_over[run_id] = prepared


def taken(run_id: str) -> Prepared | None:
    return _handed_over.pop(run_id, None)


def summary_of(night: Night, outcome: Outcome, duration_s: float) -> RunSummary:
    """What the command line prints and the artifact shows of a night."""
    readable = [report for report in outcome.reports if report.unreadable is None]
    info = build_info(night.warehouse)
    newest_file_at, stale = archive_freshness(night, outcome.listing)
    return RunSummary(
        run_id=night.run_id,
        outcome="published" if outcome.published else "nothing_new",
        files=len(readable),
        unchanged_files=outcome.plan.unchanged,
        retouched_files=len(outcome.plan.retouched),
        vanished_files=len(outcome.plan.vanished),
        unreadable_files=outcome.unreadable,
        ignored_files=outcome.listing.ignored,
        skipped_files=dict(outcome.listing.skipped),
        bytes_read=sum(report.file.size for report in readable),
        lines=sum(report.lines for report in readable),
        classified=sum(report.classified for report in readable),
        unclassified=sum(report.unclassified for report in readable),
        quarantined=sum(report.quarantined for report in readable),
        blank=sum(report.blank for report in readable),
        rows=outcome.rows
        or {name: published_rows(night.warehouse, name) for name in ARCHIVE_TABLES},
        newest_days=newest_days(night.warehouse),
        as_of=info.as_of if info else None,
        alerts=shown_alerts(night.warehouse, outcome.changed_days) if outcome.published else [],
        stale_archive=stale_message(night, newest_file_at) if stale else None,
        warnings=outcome.warnings,
        duration_s=round(duration_s, 3),
        stage_seconds=progress.stage_seconds(),
        warehouse=str(night.warehouse),
        export=str(night.export),
        report=report_location(night.export),
    )


def refused(night: Night, error: BaseException) -> None:
    """Record a run the run lock refused."""
    runs.append(
        night.runs_log,
        RunRecord(
            run_id=night.run_id,
            started_at=night.started_at,
            finished_at=datetime.now(UTC),
            outcome="locked",
            message=one_line(error),
        ),
    )
