"""The export: every table exported to Parquet as it is in the warehouse; after an update,
only the days that changed written again."""

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from devtools.sample import SampleSpec, write_sample
from flows.publishing import runs_table
from flows.runs import RunRecord
from flows.settings import Tuning
from tests.conftest import warehouse_of
from transforms.build.changes import Changes
from transforms.contract.schema import polars_schema, table_columns
from transforms.contract.tables import TABLES, Messages
from transforms.publish.alerts import raise_alerts
from transforms.publish.export import MAX_FILES_PER_DAY, export_tables
from transforms.publish.swap import record_publish
from transforms.sql import Limits


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("publish")
    write_sample(root / "sample", SampleSpec(messages=200, days=2, seed=5))
    warehouse = warehouse_of(root / "sample", root / "work")
    warehouse.close()
    started = datetime(2026, 11, 24, 2, tzinfo=UTC)
    logged = [
        RunRecord(run_id="a", started_at=started, outcome="failed", message="storage down"),
        RunRecord(
            run_id="b",
            started_at=started,
            outcome="published",
            unreadable_files=["s3://x/y"],
            stale_archive=True,
        ),
    ]
    record_publish(warehouse.path, runs_table(logged), str(root / "export"))
    raise_alerts(warehouse.path, None, Tuning().alerts("b"))
    export_tables(warehouse.path, root / "export", limits=Limits(threads=2, memory_limit="1GB"))
    return warehouse.path, root / "export"


@pytest.mark.parametrize("table", list(TABLES))
def test_every_table_is_exported_row_for_row(exported: tuple[Path, Path], table: str) -> None:
    database, export = exported
    connection = duckdb.connect(str(database), read_only=True)
    connection.execute("set TimeZone = 'UTC'")
    files = str(export / table / "**" / "*.parquet")
    day = TABLES[table].day_column
    # a partition column lives in the folder names; hive partitioning reads it back
    columns = ", ".join(table_columns(TABLES[table]))
    exported_rows = (
        f"select {columns} from read_parquet('{files}', hive_partitioning = {day is not None})"
    )
    assert connection.execute(f"select count(*) from {table}").fetchall()[0][0] > 0
    for left, right in ((f"from {table}", exported_rows), (exported_rows, f"from {table}")):
        assert connection.execute(
            f"select count(*) from ({left} except all {right})"
        ).fetchall() == [(0,)]
    if day:
        folders = sorted(path.name for path in (export / table).iterdir())
        days = connection.execute(
            f"select distinct strftime({day}::date, 'day=%Y-%m-%d') from {table} order by 1"
        ).fetchall()
        assert folders == [day for (day,) in days]


def test_an_update_s_export_writes_the_changed_days_and_links_the_others(
    exported: tuple[Path, Path], tmp_path: Path
) -> None:
    database, previous = exported
    status_days = sorted(path.name for path in (previous / "statuses").iterdir())
    assert len(status_days) >= 3
    changed = date.fromisoformat(status_days[1].removeprefix("day="))
    target = tmp_path / "export"
    changes = Changes(previous_run_id="run-1", changed_days={"statuses": [changed], "messages": []})
    export_tables(
        database,
        target,
        limits=Limits(threads=2, memory_limit="1GB"),
        previous=previous,
        changes=changes,
    )

    def inodes(root: Path, table: str) -> dict[str, int]:
        return {
            str(file.relative_to(root)): file.stat().st_ino
            for file in (root / table).rglob("*.parquet")
        }

    before, after = inodes(previous, "statuses"), inodes(target, "statuses")
    assert sorted({name.split("/")[1] for name in after}) == status_days
    rewritten = {name for name in after if before.get(name) != after[name]}
    assert {name.split("/")[1] for name in rewritten} == {status_days[1]}
    # a table with no changed day is all links; a table not named is written whole
    assert inodes(target, "messages") == inodes(previous, "messages")
    assert not set(inodes(target, "errors").values()) & set(inodes(previous, "errors").values())
    with duckdb.connect() as connection:
        for table in ("statuses", "messages", "errors"):
            rows = [
                connection.execute(
                    f"select count(*), sum(hash(columns(*))) from read_parquet("
                    f"'{root / table}/**/*.parquet', hive_partitioning = true)"
                ).fetchall()
                for root in (previous, target)
            ]
            assert rows[0] == rows[1]


def test_a_day_that_only_gained_rows_keeps_its_files_beside_one_of_the_rows_added(
    exported: tuple[Path, Path], tmp_path: Path
) -> None:
    database, published = exported
    status_days = sorted(path.name for path in (published / "statuses").iterdir())
    gained, crowded, new = (
        date.fromisoformat(name.removeprefix("day=")) for name in status_days[:3]
    )
    # the previous export: the crowded day already holds as many files as a day may, the new
    # day was not in it
    previous = tmp_path / "previous"
    shutil.copytree(published, previous)
    crowded_folder = previous / "statuses" / f"day={crowded}"
    (only,) = crowded_folder.iterdir()
    for copy in range(1, MAX_FILES_PER_DAY):
        shutil.copy(only, crowded_folder / f"copy_{copy}.parquet")
    shutil.rmtree(previous / "statuses" / f"day={new}")
    # the rows the update added: two of the gained day's, every row of the new day's
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(database, warehouse)
    added = "select * from statuses where event_time::date = $day order by key, line_no"
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("set TimeZone = 'UTC'")
        connection.execute("create schema if not exists wa_etl_build")
        connection.execute(
            f"create table wa_etl_build.added_statuses as {added} limit 2", {"day": gained}
        )
        connection.execute(f"insert into wa_etl_build.added_statuses {added}", {"day": new})
        connection.execute(f"insert into wa_etl_build.added_statuses {added}", {"day": crowded})
        added_rows = {
            day: connection.execute(f"{added} limit 2", {"day": day}).fetchall()
            if day == gained
            else connection.execute(added, {"day": day}).fetchall()
            for day in (gained, new)
        }
    target = tmp_path / "export"
    days = [gained, crowded, new]
    changes = Changes(
        previous_run_id="run-1", changed_days={"statuses": days}, appended_days={"statuses": days}
    )
    export_tables(
        warehouse,
        target,
        limits=Limits(threads=2, memory_limit="1GB"),
        previous=previous,
        changes=changes,
    )

    def files(root: Path, day: date) -> dict[str, int]:
        folder = root / "statuses" / f"day={day}"
        return {file.name: file.stat().st_ino for file in folder.iterdir()}

    def rows(*paths: Path) -> list[tuple[object, ...]]:
        with duckdb.connect() as connection:
            connection.execute("set TimeZone = 'UTC'")
            return connection.execute(
                "select * exclude (day) from read_parquet($files, hive_partitioning = true)"
                " order by key, line_no",
                {"files": [str(path) for path in paths]},
            ).fetchall()

    # the gained day: its previous file, linked, and one file of just the rows added
    before, after = files(previous, gained), files(target, gained)
    assert len(after) == 2 and set(before.items()) < set(after.items())
    (added_file,) = set(after) - set(before)
    assert rows(target / "statuses" / f"day={gained}" / added_file) == added_rows[gained]
    # the crowded day: written again in one file, from the warehouse
    (rewritten,) = files(target, crowded).values()
    assert rewritten not in files(previous, crowded).values()
    with duckdb.connect(str(database), read_only=True) as connection:
        connection.execute("set TimeZone = 'UTC'")
        warehouse_rows = connection.execute(added, {"day": crowded}).fetchall()
    assert rows(*(target / "statuses" / f"day={crowded}").iterdir()) == warehouse_rows
    # the new day: the rows added, alone
    assert rows(*(target / "statuses" / f"day={new}").iterdir()) == added_rows[new]
    # the days not named are linked as they were
    for name in status_days[3:]:
        day = date.fromisoformat(name.removeprefix("day="))
        assert files(target, day) == files(previous, day)


def test_the_export_reads_with_the_schema_the_models_give(exported: tuple[Path, Path]) -> None:
    _, export = exported
    frame = pl.read_parquet(export / "messages" / "**" / "*.parquet", hive_partitioning=False)
    assert frame.schema == polars_schema(table_columns(Messages))
