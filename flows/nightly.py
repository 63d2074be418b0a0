"""The nightly flow: under the run lock, discover the archive, read the files that are new
or changed since the last night, merge them into the state, build the warehouse from the
state, publish it with the Parquet export, and report what the night held.

Every step before the publish writes only into this run's own files, the state's merge is
one transaction and the publish swaps files in one rename each: a run that dies at any point
leaves the warehouse and the export as they were, and the next run completes its work. A
file that cannot be read stops the publish (unless `allow_unreadable`): a partial night is
never published as a complete one. Every run, published or not, is recorded in the runs log.
"""

import errno
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from prefect import Flow, flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from prefect.utilities.annotations import quote
from pydantic import BaseModel

from flows import progress, runs
from flows.artifacts import newest_days_reports, publish_artifacts
from flows.errors import DiskFullError, UnreadableFilesError, is_disk_full, one_line
from flows.lock import RunLockedError, run_lock
from flows.night import (
    Night,
    Outcome,
    Prepared,
    build_settings,
    night_of,
    prepare,
    recorded,
    refused,
    run_record,
    summary_of,
    taken,
)
from flows.publishing import publish
from flows.reading import read_all
from flows.runs import RunRecord
from flows.settings import (
    SAMPLE_EXPORT,
    SAMPLE_SOURCE,
    SAMPLE_WAREHOUSE,
    TaskRunnerKind,
    Tuning,
)
from flows.summary import RunSummary
from transforms.build.changes import Changes
from transforms.build.session import BuildSettings
from transforms.build.warehouse import build_warehouse
from transforms.contract.pricing import PricingFiles
from transforms.contract.tables import ARCHIVE_TABLES
from transforms.ingest.accounting import FileReport
from transforms.ingest.personal import PiiMode
from transforms.publish.swap import published_rows
from transforms.source.discover import Listing
from transforms.state.store import (
    ReadPlan,
    ingest_file_rows,
    merge_run,
    open_state,
    run_landing_files,
)

T = TypeVar("T")


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


def unvisited(value: T) -> T:
    """`value`, passed to a task as it is: Prefect would otherwise visit every item of it
    (every file of a listing, every field of every file's report) looking for futures and
    task results, which a night's lists do not hold (0.3 s of the merge of 277 files' reports).
    The task receives `value` itself (`quote` is removed before the call), when it runs in
    the flow's process: a task submitted to Dask would receive the quote's tuple."""
    return cast(T, quote(value))


# No task retries itself: the storage retries each request that may pass
# (transforms.source.storage), a file still unreadable stops the publish, and the scheduled
# deployment tries a night that failed that way again later (flows.deployment); a missing
# source or a wrong setting would not pass by waiting.
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
    connection = open_state(state, limits=tuning.limits)
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


class Built(BaseModel):
    """What the build wrote: the rows of each table; and, when it updated the previous
    warehouse, what changed (the export may keep the rest of the previous export)."""

    rows: dict[str, int]
    changes: Changes | None = None


def _build_step(name: str, total: int) -> None:
    reporter = progress.installed()
    if reporter is None:
        return
    if name in ("tables", "build/update/02_new_files"):
        reporter.start("build", total, "steps")
    reporter.advance(1, name)


@task(cache_policy=NO_CACHE)
def build(
    database: Path,
    state: Path,
    settings: BuildSettings,
    previous: Path | None,
    copied: bool = False,
) -> Built:
    """Build the warehouse from the state, by updating the `previous` warehouse when it can
    be (`copied`: `database` already holds its copy); how many rows each table holds."""
    changes = build_warehouse(
        database, state, settings, previous, copied=copied, on_step=_build_step
    )
    get_run_logger().info(
        "updated the previous warehouse" if changes else "built the warehouse anew"
    )
    return Built(
        rows={name: published_rows(database, name) for name in ARCHIVE_TABLES}, changes=changes
    )


def _copy_of_previous(night: Night, database: Path, copier: Executor) -> Future[Path] | None:
    """The previous warehouse copied to `database` while the night reads its files, for an
    update (a copy of the whole file, off the night's path); none on a first night or a full
    refresh asked for."""
    if night.full_refresh or not night.warehouse.exists():
        return None
    return copier.submit(shutil.copyfile, night.warehouse, database)


def _night(night: Night, prepared: Prepared, log: list[RunRecord]) -> Outcome:
    """Read what the night found to read, merge it, build and publish: what it did."""
    listing, plan = prepared.listing, prepared.plan
    if prepared.nothing_new:
        return Outcome(listing=listing, plan=plan)
    tuning, paths = night.tuning, night.paths
    (night.run_folder / "scratch").mkdir(parents=True)
    database = night.warehouse.with_name(f".{night.warehouse.name}.{night.run_id}.building")
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="warehouse-copy") as copier:
            copying = _copy_of_previous(night, database, copier)
            reports = read_all(plan.read, night)
            outcome = Outcome(listing=listing, plan=plan, reports=reports)
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
            if outcome.unreadable and not night.allow_unreadable:
                raise UnreadableFilesError(outcome.unreadable)
            if copying is not None:
                copying.result()  # a copy that failed fails the night here
            # a full refresh (asked for, or for another personal-data setting) builds anew
            previous = None if plan.full_refresh else night.warehouse
            settings = build_settings(night)
            built = build(database, paths.state, settings, previous, copied=copying is not None)
            record = run_record(night, outcome, "published", finished=True)
            others = [logged for logged in log if logged.run_id != night.run_id]
            outcome.warnings = publish(
                database,
                night.warehouse,
                night.export,
                night.source.aws_credentials,
                night.run_folder,
                night.run_id,
                tuning,
                unvisited([*others, record]),
                built.rows["messages"],
                built.changes,
            )
            outcome.rows, outcome.published = built.rows, True
            if built.changes is not None:
                changed = built.changes.changed_days.values()
                outcome.changed_days = sorted({day for days in changed for day in days})
            return outcome
    except BaseException as error:
        if is_disk_full(error):
            raise DiskFullError(
                errno.ENOSPC,
                f"the disk filled up during the run ({one_line(error)}). Nothing was published:"
                " the warehouse and the export are as they were. Free some space and run again.",
            ) from error
        raise
    finally:
        shutil.rmtree(night.run_folder, ignore_errors=True)
        # published, the new warehouse has taken the old one's name; else it is of no use
        database.unlink(missing_ok=True)


def run_night(night: Night) -> RunSummary:
    """The night's story, under the run lock; its summary. What the command line prepared
    for it (the listing and the plan) is taken as it is."""
    started = time.monotonic()
    try:
        with run_lock(night.paths.lock, night.tuning.lock_wait_seconds), recorded(night) as log:
            prepared = taken(night.run_id) or prepare(night)
            outcome = _night(night, prepared, log)
            summary = summary_of(night, outcome, time.monotonic() - started)
            ended: runs.Outcome = "published" if outcome.published else "nothing_new"
            record = run_record(night, outcome, ended, finished=True)
            runs.append(night.runs_log, record.model_copy(update={"as_of": summary.as_of}))
    except RunLockedError as error:
        refused(night, error)
        raise
    reports = newest_days_reports(night.warehouse, [day.day for day in summary.newest_days])
    publish_artifacts(summary, outcome.reports, reports)
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


@contextmanager
def reporting() -> Iterator[None]:
    """The progress the flow reports through: the command line's, when it installed one;
    else lines in the flow's log (a deployment's worker)."""
    if progress.installed() is not None:
        yield
        return
    reporter = progress.NightProgress(get_run_logger().info)
    progress.install(reporter)
    try:
        with reporter.running():
            yield
    finally:
        progress.install(None)


def night_run(
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
    run_id: str | None = None,
    rate_card: Path | None = None,
    markets: Path | None = None,
) -> RunSummary:
    """A night of a flow run, from its parameters (checked before anything starts)."""
    night = night_of(
        source,
        warehouse,
        export,
        as_of,
        full_refresh,
        allow_unreadable,
        aws_credentials,
        pii,
        pii_key_secret,
        tuning,
        datetime.now(UTC),
        run_id,
        pricing=PricingFiles.of(rate_card, markets),
    )
    with reporting():
        return run_night(night)


@flow(name="nightly", task_runner=thread_pool(Tuning().workers))
def nightly(
    source: str = SAMPLE_SOURCE,
    warehouse: Path = SAMPLE_WAREHOUSE,
    export: str | Path = SAMPLE_EXPORT,
    as_of: datetime | None = None,
    full_refresh: bool = False,
    allow_unreadable: bool = False,
    aws_credentials: str | None = None,
    pii: PiiMode = "keep",
    pii_key_secret: str | None = None,
    tuning: Tuning | None = None,
    rate_card: Path | None = None,
    markets: Path | None = None,
    run_id: str | None = None,
) -> RunSummary:
    """Read the new and changed files of the webhook archive at `source` (a folder or
    `s3://bucket/prefix`) into the DuckDB `warehouse` and the Parquet `export` (a folder or
    `s3://bucket/prefix`); relative paths are the working folder's (a deployment's worker
    runs in the project's). `aws_credentials` names a Prefect AwsCredentials block for S3
    (default: the standard AWS settings). `pii` keeps, hashes or drops personal data,
    hashing with the key of the Prefect Secret block `pii_key_secret`, else
    `WA_ETL_PII_KEY`. Files that cannot be read stop the publish, unless `allow_unreadable`.
    `rate_card` and `markets` replace the shipped pricing files. `run_id` names the run (by
    default a new id)."""
    return night_run(
        source,
        warehouse,
        export,
        as_of,
        full_refresh,
        allow_unreadable,
        aws_credentials,
        pii,
        pii_key_secret,
        tuning or Tuning(),
        run_id,
        rate_card,
        markets,
    )
