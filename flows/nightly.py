"""The nightly flow: under the run lock, discover the archive, read the files that are new
or changed since the last night, merge them into the state, build the warehouse from the
state, publish it with the Parquet export, and report what the night held.

Every step before the publish writes only into this run's own files, the state's merge is
one transaction and the publish swaps files in one rename each: a run that dies at any point
leaves the warehouse and the export as they were, and the next run completes its work.
"""

import errno
import shutil
import time
import uuid
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
from prefect import Flow, State, flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from pydantic import BaseModel

from flows.lock import run_lock
from flows.settings import DEFAULT_EXPORT, DEFAULT_SOURCE, DEFAULT_WAREHOUSE, Tuning
from flows.summary import DayHeadline, RunSummary
from transforms.discover import ArchiveFile, Listing, local_listing
from transforms.flatten import FileReport, IngestOptions, ingest_files
from transforms.model import BuildSettings, build_warehouse
from transforms.publish import (
    export_tables,
    new_export_dir,
    remove_unpublished,
    swap_in_export,
    swap_in_warehouse,
)
from transforms.read import content_sha256, open_local
from transforms.sql import sql_text
from transforms.state import (
    ReadPlan,
    StatePaths,
    ingest_file_rows,
    merge_run,
    open_state,
    read_plan,
    run_landing_files,
)
from transforms.tables import TABLES

PROGRESS_EVERY_SECONDS = 10.0
NEWEST_DAYS = 3


class DiskFullError(OSError):
    """The disk filled up during the run."""


def thread_pool(workers: int) -> TaskRunner[Any]:
    return ThreadPoolTaskRunner(max_workers=workers)


def nightly_for(tuning: Tuning) -> "Flow[..., RunSummary]":
    """The nightly flow with a task runner of `tuning.workers` threads."""
    return nightly.with_options(task_runner=thread_pool(tuning.workers))


def new_run_id(started: datetime) -> str:
    return f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def ingest_options(tuning: Tuning) -> IngestOptions:
    return IngestOptions(
        chunk_bytes=tuning.chunk_mb << 20,
        max_line_bytes=tuning.max_line_mb << 20,
        threads=1,
        memory_limit=tuning.memory_limit,
    )


def partitions(files: list[ArchiveFile], partition_bytes: int) -> list[list[ArchiveFile]]:
    """Consecutive files in groups of about `partition_bytes` on disk: one task each."""
    groups: list[list[ArchiveFile]] = [[]]
    size = 0
    for file in files:
        if size >= partition_bytes:
            groups.append([])
            size = 0
        groups[-1].append(file)
        size += file.size
    return [group for group in groups if group]


def _is_disk_full(error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return True
    return isinstance(error, duckdb.Error) and "No space left on device" in str(error)


def _may_pass(task: object, task_run: object, state: State[Any]) -> bool:
    """Whether a failed task is worth trying again: a storage's hiccup may pass; a missing
    source, a wrong argument or a full disk will not, and the operator hears of it at once."""
    error = state.data
    if not isinstance(error, BaseException):
        return True
    lasting = (FileNotFoundError, NotADirectoryError, PermissionError, ValueError)
    return not isinstance(error, lasting) and not _is_disk_full(error)


@task(retries=2, retry_delay_seconds=10, retry_condition_fn=_may_pass, cache_policy=NO_CACHE)
def discover(source: str) -> Listing:
    """List the archive files under the source."""
    if "://" in source:
        raise ValueError(
            f"{source.split('://')[0]}:// sources are not read yet: give a local folder"
        )
    return local_listing(Path(source))


@task(cache_policy=NO_CACHE)
def plan_reads(state: Path, listing: Listing, full_refresh: bool, tuning: Tuning) -> ReadPlan:
    """The files new or changed since the state's manifest (all on a full refresh)."""
    connection = open_state(state, threads=tuning.threads, memory_limit=tuning.memory_limit)
    try:
        return read_plan(
            connection,
            listing.files,
            partial(content_sha256, open_local),
            full_refresh=full_refresh,
        )
    finally:
        connection.close()


@task(retries=2, retry_delay_seconds=10, retry_condition_fn=_may_pass, cache_policy=NO_CACHE)
def read_and_flatten(
    files: list[ArchiveFile],
    landing_dir: Path,
    scratch_dir: Path,
    name: str,
    ingested_at: datetime,
    options: IngestOptions,
) -> list[FileReport]:
    """Read a partition of archive files into landing rows, every line accounted for."""
    return ingest_files(files, open_local, landing_dir, scratch_dir, name, ingested_at, options)


@task(cache_policy=NO_CACHE)
def merge(
    state: Path,
    landing_dir: Path,
    reports: list[FileReport],
    listing: Listing,
    plan: ReadPlan,
    run_id: str,
    started_at: datetime,
    tuning: Tuning,
) -> None:
    """Put the files read into the state, in one transaction."""
    connection = open_state(state, threads=tuning.threads, memory_limit=tuning.memory_limit)
    try:
        merge_run(
            connection,
            run_landing_files(landing_dir),
            ingest_file_rows(reports, run_id, started_at),
            plan,
            [file.uri for file in listing.files],
            started_at,
        )
        connection.execute("checkpoint")
    finally:
        connection.close()


class Built(BaseModel):
    """What the build wrote: the rows of each table and the newest days' headline."""

    rows: dict[str, int]
    newest_days: list[DayHeadline]


@task(cache_policy=NO_CACHE)
def build(database: Path, state: Path, settings: BuildSettings) -> Built:
    """Build the warehouse from the state; what it holds."""
    build_warehouse(database, state, settings)
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = {
            name: connection.execute(f'select count(*) from "{name}"').fetchall()[0][0]
            for name in TABLES
        }
        newest = connection.execute(sql_text("reports/newest_days"), {"days": NEWEST_DAYS})
        names = [column[0] for column in newest.description]
        days = [DayHeadline(**dict(zip(names, row, strict=True))) for row in newest.fetchall()]
    return Built(rows=rows, newest_days=days)


@task(cache_policy=NO_CACHE)
def publish(database: Path, warehouse: Path, export: Path, run_id: str, tuning: Tuning) -> None:
    """Export every table to Parquet, then swap in the new warehouse and export."""
    version = new_export_dir(export, run_id)
    export_tables(database, version, threads=tuning.threads, memory_limit=tuning.memory_limit)
    swap_in_warehouse(warehouse, database)
    swap_in_export(export, version)


def _read_all(
    files: list[ArchiveFile],
    landing_dir: Path,
    scratch_dir: Path,
    ingested_at: datetime,
    tuning: Tuning,
) -> list[FileReport]:
    logger = get_run_logger()
    options = ingest_options(tuning)
    groups = partitions(files, tuning.partition_mb << 20)
    futures = [
        read_and_flatten.submit(
            group, landing_dir, scratch_dir, f"part-{index:05d}", ingested_at, options
        )
        for index, group in enumerate(groups)
    ]
    total_bytes = sum(file.size for file in files) or 1
    reports: list[FileReport] = []
    started = last_report = time.monotonic()
    for future in as_completed(futures):
        reports.extend(future.result())
        now = time.monotonic()
        if now - last_report >= PROGRESS_EVERY_SECONDS or len(reports) == len(files):
            done = sum(report.file.size for report in reports)
            logger.info(
                "read %d/%d files, %.0f%% of %.1f MB on disk, %s lines, %.1f MB/s",
                len(reports),
                len(files),
                100 * done / total_bytes,
                total_bytes / 1e6,
                f"{sum(report.lines for report in reports):,}",
                done / 1e6 / max(now - started, 1e-9),
            )
            last_report = now
    return sorted(reports, key=lambda report: report.file.uri)


def _night(
    source: str,
    warehouse: Path,
    export: Path,
    as_of: datetime | None,
    full_refresh: bool,
    tuning: Tuning,
    run_id: str,
    started_at: datetime,
    paths: StatePaths,
) -> tuple[Listing, ReadPlan, list[FileReport], Built]:
    run_folder = paths.runs / run_id
    landing_dir, scratch_dir = run_folder / "landing", run_folder / "scratch"
    scratch_dir.mkdir(parents=True)
    try:
        listing = discover(source)
        plan = plan_reads(paths.state, listing, full_refresh, tuning)
        reports = _read_all(plan.read, landing_dir, scratch_dir, started_at, tuning)
        merge(
            paths.state,
            landing_dir,
            reports,
            listing,
            plan,
            run_id,
            started_at,
            tuning,
        )
        database = warehouse.with_name(f".{warehouse.name}.{run_id}.building")
        settings = BuildSettings(
            run_started=started_at,
            as_of=as_of,
            reply_window_hours=tuning.reply_window_hours,
            report_missing_hours=tuning.report_missing_hours,
            incident_gap_seconds=tuning.incident_gap_seconds,
            threads=tuning.threads,
            memory_limit=tuning.memory_limit,
        )
        built = build(database, paths.state, settings)
        publish(database, warehouse, export, run_id, tuning)
    except BaseException as error:
        if _is_disk_full(error):
            raise DiskFullError(
                errno.ENOSPC,
                f"the disk filled up during the run ({error}). Nothing was published: the "
                "warehouse and the export are as they were. Free some space and run again.",
            ) from error
        raise
    finally:
        shutil.rmtree(run_folder, ignore_errors=True)
    return listing, plan, reports, built


@flow(name="nightly", task_runner=thread_pool(Tuning().workers))
def nightly(
    source: str = DEFAULT_SOURCE,
    warehouse: Path = DEFAULT_WAREHOUSE,
    export: Path = DEFAULT_EXPORT,
    as_of: datetime | None = None,
    full_refresh: bool = False,
    tuning: Tuning | None = None,
) -> RunSummary:
    """Read the new and changed files of the webhook archive at `source` into the DuckDB
    `warehouse` and the Parquet `export`."""
    tuning = tuning or Tuning()
    started_at = datetime.now(UTC)
    started = time.monotonic()
    run_id = new_run_id(started_at)
    warehouse, export = warehouse.absolute(), export.absolute()
    if not warehouse.parent.is_dir():
        raise FileNotFoundError(f"the warehouse's folder {warehouse.parent} does not exist")
    paths = StatePaths.of(warehouse)
    with run_lock(paths.lock, tuning.lock_wait_seconds):
        # a run killed earlier may have left its files: nothing else runs now
        shutil.rmtree(paths.runs, ignore_errors=True)
        remove_unpublished(warehouse, export)
        listing, plan, reports, built = _night(
            source, warehouse, export, as_of, full_refresh, tuning, run_id, started_at, paths
        )
    readable = [report for report in reports if report.unreadable is None]
    summary = RunSummary(
        run_id=run_id,
        files=len(readable),
        unchanged_files=plan.unchanged,
        retouched_files=len(plan.retouched),
        vanished_files=len(plan.vanished),
        unreadable_files=[
            f"{report.file.uri}: {report.unreadable}" for report in reports if report.unreadable
        ],
        ignored_files=listing.ignored,
        bytes_read=sum(report.file.size for report in readable),
        lines=sum(report.lines for report in readable),
        classified=sum(report.classified for report in readable),
        unclassified=sum(report.unclassified for report in readable),
        quarantined=sum(report.quarantined for report in readable),
        blank=sum(report.blank for report in readable),
        rows=built.rows,
        newest_days=built.newest_days,
        duration_s=round(time.monotonic() - started, 3),
        warehouse=str(warehouse),
        export=str(export),
    )
    get_run_logger().info(
        "read %d files (%d unchanged), %s lines (%d quarantined) into %s in %.1f s",
        summary.files,
        summary.unchanged_files,
        f"{summary.lines:,}",
        summary.quarantined,
        summary.warehouse,
        summary.duration_s,
    )
    return summary
