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
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast

import duckdb
from prefect import Flow, State, flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from prefect.utilities.annotations import quote
from pydantic import BaseModel

from flows.artifacts import NewestDays, newest_days, publish_artifacts
from flows.lock import run_lock
from flows.settings import (
    DEFAULT_EXPORT,
    DEFAULT_SOURCE,
    DEFAULT_WAREHOUSE,
    TaskRunnerKind,
    Tuning,
)
from flows.summary import DayHeadline, RunSummary
from transforms.discover import ArchiveFile, Listing
from transforms.flatten import FileReport, IngestOptions, ingest_files
from transforms.model import BuildSettings, build_warehouse
from transforms.personal import PiiMode, key_id, required_key
from transforms.publish import (
    Reuse,
    export_tables,
    new_export_dir,
    remove_unpublished,
    swap_in_export,
    swap_in_warehouse,
)
from transforms.read import content_sha256
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
from transforms.storage import ArchiveSource, is_s3, s3_client, upload_folder
from transforms.tables import TABLES

PROGRESS_EVERY_SECONDS = 10.0
T = TypeVar("T")
TASKS_PER_WORKER = 4
MIN_PARTITION_BYTES = 16 << 20
# a night smaller than this per worker is one task: a task's fixed cost (about 0.4 s) would
# outweigh the sharing
MIN_SHARED_BYTES = 4 << 20
COMPRESSION_RATIO = 10
NEWEST_DAYS = 3


class DiskFullError(OSError):
    """The disk filled up during the run."""


def thread_pool(workers: int) -> TaskRunner[Any]:
    return ThreadPoolTaskRunner(max_workers=workers)


def dask_cluster(address: str | None) -> TaskRunner[Any]:
    """The Dask cluster at `address` (`tcp://host:8786`); a temporary local one without."""
    from prefect_dask.task_runners import DaskTaskRunner

    return DaskTaskRunner(address=address) if address else DaskTaskRunner()


def nightly_for(
    tuning: Tuning, task_runner: TaskRunnerKind = "threads", dask_address: str | None = None
) -> "Flow[..., RunSummary]":
    """The nightly flow whose reading tasks run on `tuning.workers` threads, or on a Dask
    cluster (the merge, the build and the publish run once, in the flow's process)."""
    runner = dask_cluster(dask_address) if task_runner == "dask" else thread_pool(tuning.workers)
    return nightly.with_options(task_runner=runner)


def new_run_id(started: datetime) -> str:
    return f"{started:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def ingest_options(tuning: Tuning, pii: PiiMode) -> IngestOptions:
    return IngestOptions(
        chunk_bytes=tuning.chunk_mb << 20,
        max_line_bytes=tuning.max_line_mb << 20,
        threads=1,
        memory_limit=tuning.memory_limit,
        pii=pii,
    )


def json_bytes_estimate(file: ArchiveFile) -> int:
    """About how many bytes of JSON lines a file holds: what reading it costs. Webhook lines
    compress about tenfold (the sample's gzip and zstd files: 12x)."""
    return file.size * (1 if file.compression == "none" else COMPRESSION_RATIO)


def _task_count(total: int, partition_bytes: int, workers: int) -> int:
    """How many tasks read `total` bytes of JSON: about four per worker, none under
    `MIN_PARTITION_BYTES` nor over `partition_bytes` (but one per worker when each gets
    `MIN_SHARED_BYTES`), and a multiple of the workers when there are more tasks than workers
    (a last round that leaves workers idle sets the pace)."""
    fewest = -(-total // max(partition_bytes, 1))
    count = max(
        1,
        fewest,
        min(workers * TASKS_PER_WORKER, total // MIN_PARTITION_BYTES),
        min(workers, total // MIN_SHARED_BYTES),
    )
    if count > workers and count % workers:
        rounded = count - count % workers
        count = rounded if rounded >= fewest else rounded + workers
    return count


def partitions(
    files: list[ArchiveFile], partition_bytes: int, workers: int
) -> list[list[ArchiveFile]]:
    """Consecutive files in groups of about the same bytes of JSON (estimated), one task
    each: small enough that every worker gets several tasks (a worker left with the last
    big task while the others idle would set the night's pace), not so small that the fixed
    cost of a task shows. A small night is one task per worker."""
    total = sum(map(json_bytes_estimate, files))
    target = -(-total // _task_count(total, partition_bytes, workers))
    groups: list[list[ArchiveFile]] = [[]]
    sizes = [0]
    for file in files:
        if groups[-1] and sizes[-1] + json_bytes_estimate(file) > target:
            groups.append([])
            sizes.append(0)
        groups[-1].append(file)
        sizes[-1] += json_bytes_estimate(file)
    # the few files left over when the groups fill short of the target: not a task of their own
    if len(groups) > 1 and sizes[-2] + sizes[-1] <= min(target + target // 4, partition_bytes):
        groups[-2].extend(groups.pop())
    return [group for group in groups if group]


def _is_disk_full(error: BaseException) -> bool:
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return True
    return isinstance(error, duckdb.Error) and "No space left on device" in str(error)


def unvisited(value: T) -> T:
    """`value`, passed to a task as it is: Prefect would otherwise visit every item of it
    (every file of a listing, every field of every file's report) looking for futures and
    task results, which a night's lists do not hold (0.3 s of the merge of 277 files' reports).
    The task receives `value` itself (`quote` is removed before the call), when it runs in
    the flow's process: a task submitted to Dask would receive the quote's tuple."""
    return cast(T, quote(value))


def _may_pass(task: object, task_run: object, state: State[Any]) -> bool:
    """Whether a failed task is worth trying again: a storage's hiccup may pass; a missing
    source, a wrong argument or a full disk will not, and the operator hears of it at once."""
    error = state.data
    if not isinstance(error, BaseException):
        return True
    lasting = (FileNotFoundError, NotADirectoryError, PermissionError, ValueError)
    return not isinstance(error, lasting) and not _is_disk_full(error)


@task(retries=2, retry_delay_seconds=10, retry_condition_fn=_may_pass, cache_policy=NO_CACHE)
def discover(source: ArchiveSource) -> Listing:
    """List the archive files under the source: a local folder or `s3://bucket/prefix`."""
    return source.listing()


@task(cache_policy=NO_CACHE)
def plan_reads(
    state: Path,
    listing: Listing,
    full_refresh: bool,
    source: ArchiveSource,
    pii: str,
    tuning: Tuning,
) -> ReadPlan:
    """The files new or changed since the state's manifest (all on a full refresh, or when
    the personal-data setting `pii` changed)."""
    connection = open_state(state, threads=tuning.threads, memory_limit=tuning.memory_limit)
    try:
        return read_plan(
            connection,
            listing.files,
            partial(content_sha256, source.opener()),
            full_refresh=full_refresh,
            pii=pii,
        )
    finally:
        connection.close()


@task(retries=2, retry_delay_seconds=10, retry_condition_fn=_may_pass, cache_policy=NO_CACHE)
def read_and_flatten(
    files: list[ArchiveFile],
    source: ArchiveSource,
    landing_dir: Path,
    scratch_dir: Path,
    name: str,
    ingested_at: datetime,
    options: IngestOptions,
    pii_key_secret: str | None,
) -> list[FileReport]:
    """Read a partition of archive files into landing rows, every line accounted for. The
    personal-data key is looked up here, so that it never passes as a parameter."""
    key = required_key(options.pii, pii_key_secret)
    return ingest_files(
        files, source.opener(), landing_dir, scratch_dir, name, ingested_at, options, key
    )


@task(cache_policy=NO_CACHE)
def merge(
    state: Path,
    landing_dir: Path,
    reports: list[FileReport],
    listing: Listing,
    plan: ReadPlan,
    run_id: str,
    started_at: datetime,
    pii: str,
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
            pii,
        )
        connection.execute("checkpoint")
    finally:
        connection.close()


class Update(BaseModel):
    """An update of the previous warehouse: the run that built that one (its export version
    bears the run's id), the days each table changed on since, and of those the days it
    only gained rows on."""

    previous_run_id: str
    changed_days: dict[str, list[date]]
    appended_days: dict[str, list[date]] = {}


class Built(BaseModel):
    """What the build wrote: the rows of each table and the newest days' numbers; and, when
    it updated the previous warehouse, what the export may keep of the previous export."""

    rows: dict[str, int]
    newest_days: list[DayHeadline]
    newest: NewestDays
    update: Update | None = None


@task(cache_policy=NO_CACHE)
def build(
    database: Path,
    state: Path,
    settings: BuildSettings,
    previous: Path | None,
    copied: bool = False,
) -> Built:
    """Build the warehouse from the state, by updating the `previous` warehouse when it can
    be (`copied`: `database` already holds its copy); what it holds."""
    how = build_warehouse(database, state, settings, previous, copied=copied)
    update = (
        Update(
            previous_run_id=how.previous_run_id,
            changed_days=how.changed_days,
            appended_days=how.appended_days,
        )
        if how.updated and how.previous_run_id is not None
        else None
    )
    get_run_logger().info(
        "updated the previous warehouse" if update else "built the warehouse anew"
    )
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = {
            name: connection.execute(f'select count(*) from "{name}"').fetchall()[0][0]
            for name in TABLES
        }
        newest = connection.execute(sql_text("reports/newest_days"), {"days": NEWEST_DAYS})
        names = [column[0] for column in newest.description]
        days = [DayHeadline(**dict(zip(names, row, strict=True))) for row in newest.fetchall()]
        newest_reports = newest_days(connection, [headline.day for headline in days])
        return Built(rows=rows, newest_days=days, newest=newest_reports, update=update)


@task(cache_policy=NO_CACHE)
def publish(
    database: Path,
    warehouse: Path,
    export: str | Path,
    aws_credentials: str | None,
    run_folder: Path,
    run_id: str,
    tuning: Tuning,
    update: Update | None = None,
) -> None:
    """Export every table to Parquet, then swap in the new warehouse and export. An export to
    S3 is written in the run's folder and uploaded before the warehouse is swapped in. After
    an update, a local export keeps the previous export's unchanged days (hard links), and
    of the days that only gained rows their previous files beside a file of the rows added,
    if that export is the one published with the previous warehouse."""
    export_to = partial(
        export_tables, database, threads=tuning.threads, memory_limit=tuning.memory_limit
    )
    if isinstance(export, str):
        version = run_folder / "export"
        export_to(version)
        upload_folder(s3_client(aws_credentials), version, export)
        swap_in_warehouse(warehouse, database)
        return
    version = new_export_dir(export, run_id)
    published = export.resolve() if export.is_symlink() else None
    reuse = (
        Reuse(
            previous=published,
            changed_days=update.changed_days,
            appended_days=update.appended_days,
        )
        if update is not None and published is not None and published.name == update.previous_run_id
        else None
    )
    export_to(version, reuse=reuse)
    swap_in_warehouse(warehouse, database)
    swap_in_export(export, version)


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
    tuning: Tuning
    run_id: str
    started_at: datetime
    paths: StatePaths

    @property
    def run_folder(self) -> Path:
        return self.paths.runs / self.run_id


def _read_all(files: list[ArchiveFile], night: Night) -> list[FileReport]:
    logger = get_run_logger()
    landing_dir, scratch_dir = night.run_folder / "landing", night.run_folder / "scratch"
    options = ingest_options(night.tuning, night.pii)
    groups = partitions(files, night.tuning.partition_mb << 20, night.tuning.workers)
    futures = [
        read_and_flatten.submit(
            group,
            night.source,
            landing_dir,
            scratch_dir,
            f"part-{index:05d}",
            night.started_at,
            options,
            night.pii_key_secret,
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


def _copy_of_previous(night: Night, database: Path, copier: Executor) -> Future[Path] | None:
    """The previous warehouse copied to `database` while the night reads its files, for an
    update (a copy of the whole file: 0.3-3.9 s of the 4 GB archive's 5-11 s next day, off
    its path); none on a first night or a full refresh asked for."""
    if night.full_refresh or not night.warehouse.exists():
        return None
    return copier.submit(shutil.copyfile, night.warehouse, database)


def _night(night: Night) -> tuple[Listing, ReadPlan, list[FileReport], Built]:
    tuning, paths = night.tuning, night.paths
    (night.run_folder / "scratch").mkdir(parents=True)
    database = night.warehouse.with_name(f".{night.warehouse.name}.{night.run_id}.building")
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="warehouse-copy") as copier:
            copying = _copy_of_previous(night, database, copier)
            listing = discover(night.source)
            plan = plan_reads(
                paths.state,
                unvisited(listing),
                night.full_refresh,
                night.source,
                night.pii_key_id,
                tuning,
            )
            reports = _read_all(plan.read, night)
            merge(
                paths.state,
                night.run_folder / "landing",
                unvisited(reports),
                unvisited(listing),
                unvisited(plan),
                night.run_id,
                night.started_at,
                night.pii_key_id,
                tuning,
            )
            settings = BuildSettings(
                run_started=night.started_at,
                as_of=night.as_of,
                reply_window_hours=tuning.reply_window_hours,
                report_missing_hours=tuning.report_missing_hours,
                incident_gap_seconds=tuning.incident_gap_seconds,
                threads=tuning.threads,
                memory_limit=tuning.memory_limit,
                run_id=night.run_id,
                scratch_dir=night.run_folder / "scratch",
            )
            if copying is not None:
                copying.result()  # a copy that failed fails the night here
            # a full refresh (asked for, or for another personal-data setting) builds anew
            previous = None if plan.full_refresh else night.warehouse
            built = build(database, paths.state, settings, previous, copied=copying is not None)
            publish(
                database,
                night.warehouse,
                night.export,
                night.source.aws_credentials,
                night.run_folder,
                night.run_id,
                tuning,
                built.update,
            )
    except BaseException as error:
        if _is_disk_full(error):
            raise DiskFullError(
                errno.ENOSPC,
                f"the disk filled up during the run ({error}). Nothing was published: the "
                "warehouse and the export are as they were. Free some space and run again.",
            ) from error
        raise
    finally:
        shutil.rmtree(night.run_folder, ignore_errors=True)
        # published, the new warehouse has taken the old one's name; else it is of no use
        database.unlink(missing_ok=True)
    return listing, plan, reports, built


@flow(name="nightly", task_runner=thread_pool(Tuning().workers))
def nightly(
    source: str = DEFAULT_SOURCE,
    warehouse: Path = DEFAULT_WAREHOUSE,
    export: str | Path = DEFAULT_EXPORT,
    as_of: datetime | None = None,
    full_refresh: bool = False,
    aws_credentials: str | None = None,
    pii: PiiMode = "keep",
    pii_key_secret: str | None = None,
    tuning: Tuning | None = None,
) -> RunSummary:
    """Read the new and changed files of the webhook archive at `source` (a folder or
    `s3://bucket/prefix`) into the DuckDB `warehouse` and the Parquet `export` (a folder or
    `s3://bucket/prefix`). `aws_credentials` names a Prefect AwsCredentials block for S3
    (default: the standard AWS settings). `pii` keeps, hashes or drops personal data, hashing
    with the key of the Prefect Secret block `pii_key_secret`, else `WA_ETL_PII_KEY`."""
    tuning = tuning or Tuning()
    started_at = datetime.now(UTC)
    started = time.monotonic()
    warehouse = warehouse.absolute()
    export = str(export) if is_s3(str(export)) else Path(export).absolute()
    if not warehouse.parent.is_dir():
        raise FileNotFoundError(f"the warehouse's folder {warehouse.parent} does not exist")
    night = Night(
        source=ArchiveSource(url=source, aws_credentials=aws_credentials),
        pii=pii,
        pii_key_secret=pii_key_secret,
        pii_key_id=key_id(pii, required_key(pii, pii_key_secret)),
        warehouse=warehouse,
        export=export,
        as_of=as_of,
        full_refresh=full_refresh,
        tuning=tuning,
        run_id=new_run_id(started_at),
        started_at=started_at,
        paths=StatePaths.of(warehouse),
    )
    with run_lock(night.paths.lock, tuning.lock_wait_seconds):
        # a run killed earlier may have left its files: nothing else runs now
        shutil.rmtree(night.paths.runs, ignore_errors=True)
        remove_unpublished(warehouse, export if isinstance(export, Path) else None)
        listing, plan, reports, built = _night(night)
    readable = [report for report in reports if report.unreadable is None]
    summary = RunSummary(
        run_id=night.run_id,
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
    publish_artifacts(summary, reports, built.newest)
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
