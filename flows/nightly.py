"""The nightly flow: discover the archive, read and flatten every file, build the warehouse,
publish it with the Parquet export, and report what the night held."""

import shutil
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
from prefect import Flow, flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from pydantic import BaseModel

from flows.settings import DEFAULT_EXPORT, DEFAULT_SOURCE, DEFAULT_WAREHOUSE, Tuning
from transforms.discover import ArchiveFile, Listing, local_listing
from transforms.flatten import FileReport, IngestOptions, ingest_files
from transforms.model import BuildSettings, build_warehouse, ingest_file_rows
from transforms.publish import export_tables, new_export_dir, swap_in_export, swap_in_warehouse
from transforms.read import local_blocks
from transforms.sql import sql_text
from transforms.tables import TABLES

PROGRESS_EVERY_SECONDS = 10.0
NEWEST_DAYS = 3


class DayHeadline(BaseModel):
    """The numbers of one message day an operator looks at first."""

    day: date
    messages: int
    delivery_rate: float | None
    failures: int
    incidents: int


class RunSummary(BaseModel):
    """What a run read and wrote."""

    run_id: str
    files: int
    ignored_files: int
    bytes_read: int
    lines: int
    classified: int
    unclassified: int
    quarantined: int
    blank: int
    rows: dict[str, int]
    newest_days: list[DayHeadline]
    duration_s: float
    warehouse: str
    export: str

    def render(self) -> str:
        rows = "\n".join(f"  {table:<22}{count:>12,}" for table, count in self.rows.items())
        days = "\n".join(
            f"  {day.day}  {day.messages:>10,}  "
            + (f"{day.delivery_rate:>7.1%}" if day.delivery_rate is not None else "      -")
            + f"  {day.failures:>8,}  {day.incidents:>5,}"
            for day in self.newest_days
        )
        return (
            f"run {self.run_id} finished in {self.duration_s:.1f} s\n"
            f"files read {self.files:,} ({self.bytes_read / 1e6:,.1f} MB), "
            f"other files ignored {self.ignored_files:,}\n"
            f"lines {self.lines:,}: classified {self.classified:,}, "
            f"unclassified {self.unclassified:,}, quarantined {self.quarantined:,}, "
            f"blank {self.blank:,}\n"
            f"rows per table:\n{rows}\n"
            f"newest days (message day, messages, delivery rate, failed, rate-limit incidents):\n"
            f"{days}\n"
            f"warehouse: {self.warehouse}\n"
            f"parquet export: {self.export}"
        )


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


@task(retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def discover(source: str) -> Listing:
    """List the archive files under the source."""
    if "://" in source:
        raise ValueError(
            f"{source.split('://')[0]}:// sources are not read yet: give a local folder"
        )
    return local_listing(Path(source))


@task(retries=2, retry_delay_seconds=10, cache_policy=NO_CACHE)
def read_and_flatten(
    files: list[ArchiveFile],
    landing_dir: Path,
    scratch_dir: Path,
    name: str,
    ingested_at: datetime,
    options: IngestOptions,
) -> list[FileReport]:
    """Read a partition of archive files into landing rows, every line accounted for."""
    return ingest_files(files, local_blocks, landing_dir, scratch_dir, name, ingested_at, options)


class Built(BaseModel):
    """What the build wrote: the rows of each table and the newest days' headline."""

    rows: dict[str, int]
    newest_days: list[DayHeadline]


@task(cache_policy=NO_CACHE)
def build(
    database: Path,
    landing_dir: Path,
    reports: list[FileReport],
    run_id: str,
    ingested_at: datetime,
    settings: BuildSettings,
) -> Built:
    """Build the warehouse from the landing rows; what it holds."""
    build_warehouse(database, landing_dir, ingest_file_rows(reports, run_id, ingested_at), settings)
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


@flow(name="nightly", task_runner=thread_pool(Tuning().workers))
def nightly(
    source: str = DEFAULT_SOURCE,
    warehouse: Path = DEFAULT_WAREHOUSE,
    export: Path = DEFAULT_EXPORT,
    as_of: datetime | None = None,
    full_refresh: bool = False,
    tuning: Tuning | None = None,
) -> RunSummary:
    """Read the webhook archive at `source` into the DuckDB `warehouse` and the Parquet
    `export`."""
    tuning = tuning or Tuning()
    started_at = datetime.now(UTC)
    started = time.monotonic()
    run_id = new_run_id(started_at)
    warehouse, export = warehouse.absolute(), export.absolute()
    if not warehouse.parent.is_dir():
        raise FileNotFoundError(f"the warehouse's folder {warehouse.parent} does not exist")
    state = warehouse.parent / f".{warehouse.name}.state" / run_id
    landing_dir, scratch_dir = state / "landing", state / "scratch"
    scratch_dir.mkdir(parents=True)
    try:
        listing = discover(source)
        reports = _read_all(listing.files, landing_dir, scratch_dir, started_at, tuning)
        database = warehouse.with_name(f".{warehouse.name}.{run_id}.building")
        settings = BuildSettings(
            as_of=as_of or started_at,
            reply_window_hours=tuning.reply_window_hours,
            report_missing_hours=tuning.report_missing_hours,
            incident_gap_seconds=tuning.incident_gap_seconds,
            threads=tuning.threads,
            memory_limit=tuning.memory_limit,
        )
        built = build(database, landing_dir, reports, run_id, started_at, settings)
        publish(database, warehouse, export, run_id, tuning)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    summary = RunSummary(
        run_id=run_id,
        files=len(reports),
        ignored_files=listing.ignored,
        bytes_read=sum(report.file.size for report in reports),
        lines=sum(report.lines for report in reports),
        classified=sum(report.classified for report in reports),
        unclassified=sum(report.unclassified for report in reports),
        quarantined=sum(report.quarantined for report in reports),
        blank=sum(report.blank for report in reports),
        rows=built.rows,
        newest_days=built.newest_days,
        duration_s=round(time.monotonic() - started, 3),
        warehouse=str(warehouse),
        export=str(export),
    )
    get_run_logger().info(
        "read %d files, %s lines (%d quarantined) into %s in %.1f s",
        summary.files,
        f"{summary.lines:,}",
        summary.quarantined,
        summary.warehouse,
        summary.duration_s,
    )
    return summary
