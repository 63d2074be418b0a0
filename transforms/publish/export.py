"""The Parquet export of a built warehouse: every table under `<table>/`, the tables with a
day partitioned by it; after an update, only the days that changed are written again."""

import os
import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import duckdb

from transforms.build.changes import Changes
from transforms.build.graph import table_names
from transforms.contract.columns import Table
from transforms.contract.schema import table_columns
from transforms.contract.tables import TABLES
from transforms.sql import Limits, connect, run_script

# A day's partition that would hold more files than this is written again whole, in one file
# (each night that only adds rows to a day adds a file to it).
MAX_FILES_PER_DAY = 8


def export_tables(
    database: Path,
    target: Path,
    *,
    limits: Limits,
    previous: Path | None = None,
    changes: Changes | None = None,
    on_table: Callable[[str], None] | None = None,
) -> None:
    """Every table of the warehouse to Parquet under `target/<table>/`; tables with a day
    are partitioned `day=YYYY-MM-DD`. With the `previous` export and the `changes` of the
    update since, a table's unchanged days are linked from it instead of written again, and
    a day that only gained rows keeps its previous files beside one of the rows added (unless
    it would hold too many). `on_table` is told each table as it is written."""
    reuse = (previous, changes) if previous is not None and changes is not None else None
    target.mkdir(parents=True, exist_ok=True)
    connection = connect(str(database), limits=limits, read_only=True)
    try:
        run_script(connection, "publish/macros")
        for name, table in TABLES.items():
            if on_table is not None:
                on_table(name)
            days, appended = None, []
            if reuse is not None and name in reuse[1].changed_days:
                appended = appendable_days(*reuse, name)
                days = sorted(set(reuse[1].changed_days[name]) - set(appended))
            names = table_names(name)
            folder = target / name
            if table.day_column is None:
                folder.mkdir(parents=True)
                _copy(connection, "publish/export_table", names, folder / "data.parquet")
            elif table.day_column == "day":
                _copy(connection, "publish/export_table_by_its_day", names, folder, days=days)
            else:
                _copy(connection, "publish/export_table_by_day", names, folder, days, table=table)
            if reuse is not None and days is not None:
                link_unchanged_days(reuse[0] / name, folder, set(days))
            if appended:
                _copy(
                    connection, "publish/append_table_by_day", names, folder, appended, table=table
                )
    finally:
        connection.close()


def _copy(
    connection: duckdb.DuckDBPyConnection,
    script: str,
    names: dict[str, str],
    target: Path,
    days: list[date] | None = None,
    *,
    table: type[Table] | None = None,
) -> None:
    """Run the COPY of `sql/<script>.sql` for one table to `target`, only for `days` when
    they are given (their range in the type of the table's day column)."""
    parameters: dict[str, Any] = {"target": str(target), "export_days": days}
    if table is not None:
        parameters |= day_range(table, days)
    run_script(connection, script, parameters, names)


def appendable_days(previous: Path, changes: Changes, table: str) -> list[date]:
    """The days of `table` that only gained rows and whose previous partition has room for one
    more file (a day new to the export has none, and is written from the added rows alone)."""
    appendable = []
    for day in changes.appended_days.get(table, []):
        partition = previous / table / f"day={day.isoformat()}"
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
