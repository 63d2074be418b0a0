"""The publish of a night: the runs log into the new warehouse, the Parquet export, the swaps
that publish both, and a check of the published warehouse as an analyst opens it."""

import shutil
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from flows import progress
from flows.runs import RunRecord
from flows.settings import Tuning
from transforms.build.changes import Changes
from transforms.contract.schema import arrow_schema, table_columns
from transforms.contract.tables import TABLES, Runs
from transforms.publish.alerts import raise_alerts
from transforms.publish.export import export_tables
from transforms.publish.report import REPORT_PATH, write_report
from transforms.publish.swap import (
    new_export_dir,
    published_rows,
    record_publish,
    set_aside_stale_log,
    swap_in_export,
    swap_in_warehouse,
)
from transforms.source.storage import s3_client, upload_folder


def _export_table(name: str) -> None:
    reporter = progress.installed()
    if reporter is not None:
        reporter.advance(1, name)


def runs_table(records: list[RunRecord]) -> pa.Table:
    """The runs log as the rows of the warehouse's `runs` table."""
    schema = arrow_schema(table_columns(Runs))
    return pa.Table.from_pylist([record.model_dump() for record in records], schema=schema)


@task(cache_policy=NO_CACHE)
def publish(
    database: Path,
    warehouse: Path,
    export: str | Path,
    aws_credentials: str | None,
    run_folder: Path,
    run_id: str,
    tuning: Tuning,
    logged_runs: list[RunRecord],
    expected_messages: int,
    changes: Changes | None = None,
) -> list[str]:
    """Copy the runs log into the new warehouse and raise its alerts, export every table to
    Parquet with the report beside the tables (`report/index.html`), then swap in
    the new warehouse and export, and open the published warehouse as an analyst would to
    check it; what to warn of. An export to S3 is written in the run's folder and uploaded
    before the warehouse is swapped in. After an update, a local export keeps the previous
    export's unchanged days (hard links), and of the days that only gained rows their previous
    files beside a file of the rows added, if that export is the one published with the
    previous warehouse."""
    record_publish(database, runs_table(logged_runs), str(export))
    raise_alerts(database, warehouse, tuning.alerts(run_id))
    reporter = progress.installed()
    if reporter is not None:
        reporter.start("publish", len(TABLES), "tables")
    export_to = partial(
        export_tables,
        database,
        limits=tuning.limits,
        on_table=_export_table,
    )
    warnings = []
    report = partial(write_report, database, days=tuning.report_days, published_as=warehouse)
    if isinstance(export, str):
        version = run_folder / "export"
        export_to(version)
        report(version / REPORT_PATH, generated_at=datetime.now(UTC))
        upload_folder(s3_client(aws_credentials, tuning.storage()), version, export)
    else:
        version = new_export_dir(export, run_id)
        published = export.resolve() if export.is_symlink() else None
        # the previous export is of use only if it is the one published with the warehouse
        # that was updated
        if changes is not None and (published is None or published.name != changes.previous_run_id):
            published = None
        try:
            export_to(version, previous=published, changes=changes)
            report(version / REPORT_PATH, generated_at=datetime.now(UTC))
        except BaseException:
            shutil.rmtree(version, ignore_errors=True)
            raise
    stale = set_aside_stale_log(warehouse, run_id)
    if stale is not None:
        warnings.append(
            f"a write-ahead log another program left beside the warehouse was moved to {stale}"
        )
    swap_in_warehouse(warehouse, database)
    if isinstance(export, Path):
        swap_in_export(export, version)
    if published_rows(warehouse, "messages") != expected_messages:
        raise RuntimeError(f"the published warehouse {warehouse} does not hold what was built")
    return warnings
