"""Publish a built warehouse: export every table to Parquet and swap the new warehouse and
export in, each in one atomic step, so readers see the old outputs or the new, never half.

The export folder is a symbolic link to a versioned folder beside it; publishing points the
link at the new version (an atomic rename) and then removes the old version.
"""

import os
import re
import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
from pydantic import BaseModel

from transforms.schema import table_columns
from transforms.sql import connect, run_model, run_script, set_variables
from transforms.tables import TABLES, Table

# A day's partition that would hold more files than this is written again whole, in one file
# (each night that only adds rows to a day adds a file to it).
MAX_FILES_PER_DAY = 8


class Reuse(BaseModel):
    """What an export may keep from the previous one: the previous export's folder, per table
    the days that changed since (a table not named is written whole), and of those the days
    that only gained rows, whose previous files are kept beside a file of the rows added
    (`wa_etl_build.added_<table>`)."""

    previous: Path
    changed_days: dict[str, list[date]]
    appended_days: dict[str, list[date]] = {}


def export_tables(
    database: Path,
    target: Path,
    *,
    threads: int,
    memory_limit: str,
    reuse: Reuse | None = None,
    on_table: Callable[[str], None] | None = None,
) -> None:
    """Every table of the warehouse to Parquet under `target/<table>/`; tables with a day
    are partitioned `day=YYYY-MM-DD`. With `reuse`, a table's unchanged days are linked from
    the previous export instead of written again, and a day that only gained rows keeps its
    previous files beside one of the rows added (unless it would hold too many). `on_table`
    is told each table as it is written."""
    target.mkdir(parents=True, exist_ok=True)
    connection = connect(str(database), threads=threads, memory_limit=memory_limit, read_only=True)
    try:
        run_script(connection, "publish/macros")
        for name, table in TABLES.items():
            if on_table is not None:
                on_table(name)
            days, appended = None, []
            if reuse is not None and name in reuse.changed_days:
                appended = appendable_days(reuse, name)
                days = sorted(set(reuse.changed_days[name]) - set(appended))
            set_variables(
                connection,
                {
                    "export_table": name,
                    "day_column": table.day_column,
                    "export_days": days,
                    **day_range(table, days),
                },
            )
            folder = target / name
            if table.day_column is None:
                folder.mkdir(parents=True)
                run_model(
                    connection, "publish/export_table", {"target": str(folder / "data.parquet")}
                )
            elif table.day_column == "day":
                run_model(connection, "publish/export_table_by_its_day", {"target": str(folder)})
            else:
                run_model(connection, "publish/export_table_by_day", {"target": str(folder)})
            if reuse is not None and days is not None:
                link_unchanged_days(reuse.previous / name, folder, set(days))
            if appended:
                set_variables(
                    connection,
                    {
                        "export_table": f"wa_etl_build.added_{name}",
                        "export_days": appended,
                        **day_range(table, appended),
                    },
                )
                run_model(connection, "publish/append_table_by_day", {"target": str(folder)})
    finally:
        connection.close()


def appendable_days(reuse: Reuse, table: str) -> list[date]:
    """The days of `table` that only gained rows and whose previous partition has room for one
    more file (a day new to the export has none, and is written from the added rows alone)."""
    appendable = []
    for day in reuse.appended_days.get(table, []):
        partition = reuse.previous / table / f"day={day.isoformat()}"
        files = len(list(partition.glob("*.parquet"))) if partition.is_dir() else 0
        if files < MAX_FILES_PER_DAY:
            appendable.append(day)
    return appendable


def day_range(table: type[Table], days: list[date] | None) -> dict[str, date | datetime | None]:
    """The first and the end (exclusive) of `days`, in the type of the table's day column: a
    range the table's zone maps can answer (casting every time to a date took 0.4 s on 10
    million statuses, to export a few thousand)."""
    if not days or table.day_column is None:
        return {"export_from": None, "export_until": None}
    first, end = min(days), max(days) + timedelta(days=1)
    if table_columns(table)[table.day_column] == "DATE":
        return {"export_from": first, "export_until": end}
    return {
        "export_from": datetime.combine(first, time(), UTC),
        "export_until": datetime.combine(end, time(), UTC),
    }


def link_unchanged_days(previous: Path, folder: Path, changed: set[date]) -> None:
    """Hard-link the previous export's partitions of the days not in `changed` into `folder`
    (a copy where the file system cannot link): Parquet files are never written in place, so
    two versions may share them."""
    if not previous.is_dir():
        return
    for partition in sorted(previous.glob("day=*")):
        if date.fromisoformat(partition.name.removeprefix("day=")) in changed:
            continue
        (folder / partition.name).mkdir(parents=True, exist_ok=True)
        for file in partition.iterdir():
            try:
                os.link(file, folder / partition.name / file.name)
            except OSError:
                shutil.copy2(file, folder / partition.name / file.name)


def versions_dir(export: Path) -> Path:
    return export.parent / f".{export.name}.versions"


def new_export_dir(export: Path, run_id: str) -> Path:
    """An empty folder for this run's export, beside the published ones."""
    folder = versions_dir(export) / run_id
    folder.mkdir(parents=True)
    return folder


def swap_in_export(export: Path, version: Path) -> None:
    """Point `export` at `version` atomically and remove the version it pointed at before."""
    previous = export.resolve() if export.is_symlink() else None
    if export.exists() and not export.is_symlink():
        raise FileExistsError(
            f"{export} is a folder this tool did not create; move it away or choose another "
            "--export (the export is published as a link to a versioned folder)"
        )
    link = export.with_name(f".{export.name}.{version.name}.link")
    link.unlink(missing_ok=True)
    link.symlink_to(version.relative_to(export.parent))
    link.replace(export)
    if previous is not None and previous != version.resolve():
        shutil.rmtree(previous, ignore_errors=True)


def swap_in_warehouse(warehouse: Path, built: Path) -> None:
    """Replace the warehouse file by the newly built one in one rename. An analyst who holds
    the old file open keeps reading it; new connections open the new one."""
    built.replace(warehouse)


class WarehouseHeldError(RuntimeError):
    """Another program has the warehouse open for writing."""


_LOCK_HOLDER = re.compile(r"\(PID (\d+)\)")


def writer_of(warehouse: Path) -> str | None:
    """Who has the warehouse open for writing (`pid N`), if anyone: DuckDB locks the file of
    a connection that may write, which a read-only open cannot share."""
    if not warehouse.exists():
        return None
    try:
        duckdb.connect(str(warehouse), read_only=True).close()
    except duckdb.IOException as error:
        if "lock" not in str(error).lower():
            return None
        holder = _LOCK_HOLDER.search(str(error))
        return f"pid {holder.group(1)}" if holder else "another program"
    except duckdb.Error:
        return None  # a warehouse that cannot be opened holds no lock either
    return None


def write_log_of(warehouse: Path) -> Path:
    return warehouse.with_name(f"{warehouse.name}.wal")


def set_aside_stale_log(warehouse: Path, run_id: str) -> Path | None:
    """Before the swap: a write-ahead log beside the warehouse is another connection's that
    died with writes pending (this tool never writes the warehouse in place). It belongs to
    the old file: beside the new one it would make every open fail. Refused while a writer
    holds the warehouse; else moved aside and kept (its writes were not ours). Where it went."""
    log = write_log_of(warehouse)
    if not log.exists():
        return None
    holder = writer_of(warehouse)
    if holder is not None:
        raise WarehouseHeldError(
            f"another program ({holder}) has the warehouse {warehouse} open for writing: "
            "close it and run again; nothing was published"
        )
    aside = log.with_name(f"{log.name}.stale-{run_id}")
    log.replace(aside)
    return aside


def published_rows(warehouse: Path, table: str) -> int:
    """The rows of a table of the published warehouse, opened as an analyst would."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        ((rows,),) = connection.execute(f'select count(*) from "{table}"').fetchall()
        return int(rows)


def record_publish(database: Path, runs: pa.Table, export: str) -> None:
    """The runs log as the warehouse's `runs` table (every row replaced), and where the
    export published with the warehouse is (`wa_etl_build.published`): a night with nothing
    new to read still exports to another destination."""
    connection = connect(str(database), threads=1, memory_limit="256MB")
    try:
        connection.register("logged_runs", runs)
        connection.execute("begin transaction")
        connection.execute("delete from runs")
        connection.execute("insert into runs by name select * from logged_runs")
        connection.execute("create schema if not exists wa_etl_build")
        connection.execute(
            "create or replace table wa_etl_build.published as select $export as export",
            {"export": export},
        )
        connection.execute("commit")
        connection.execute("checkpoint")
    finally:
        connection.close()


def remove_unpublished(warehouse: Path, export: Path | None) -> None:
    """Remove what a run that died left behind: a warehouse being built, and export versions
    no link points to (of a local `export`). Only while no run works (under the run lock)."""
    for building in warehouse.parent.glob(f".{warehouse.name}.*.building*"):
        building.unlink(missing_ok=True)
    if export is None:
        return
    published = export.resolve() if export.is_symlink() else None
    versions = versions_dir(export)
    if versions.is_dir():
        for version in versions.iterdir():
            if version.resolve() != published:
                shutil.rmtree(version, ignore_errors=True)
    for link in export.parent.glob(f".{export.name}.*.link"):
        link.unlink(missing_ok=True)
