"""transforms/sql.py: running the models of `sql/` on a real DuckDB connection. The models
here are small ones written to a temporary `sql/` folder, so that each test knows every row."""

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

import transforms.sql as sql
from transforms.sql import Limits, connect, declared_keys, declared_reads, insert_rows, run_model


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A `sql/` folder of the test's own; the cached texts of the real one are set aside."""
    monkeypatch.setattr(sql, "SQL_DIR", tmp_path)
    cached = (sql.sql_text, declared_reads, declared_keys)
    for texts in cached:
        texts.cache_clear()
    yield tmp_path
    for texts in cached:
        texts.cache_clear()


@pytest.fixture
def connection() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = connect(limits=Limits(threads=1, memory_limit="200MB"), ordered=True)
    connection.execute("create table numbers (n integer)")
    connection.execute("insert into numbers values (1), (2)")
    connection.execute("create table source as select unnest([10, 20, 30]) as n")
    yield connection
    connection.close()


def _write(models: Path, name: str, text: str) -> None:
    (models / f"{name}.sql").write_text(text, encoding="utf-8")


def test_an_insert_kept_adds_its_rows_and_keeps_exactly_them(
    models: Path, connection: duckdb.DuckDBPyConnection
) -> None:
    _write(
        models,
        "doubled",
        "-- the source's numbers, doubled\nselect n * 2 as n from source where n > 10\n",
    )
    insert_rows(connection, "doubled", "numbers", kept="kept_numbers")
    rows = connection.execute("select n from numbers order by n").fetchall()
    kept = connection.execute("select n from kept_numbers order by n").fetchall()
    assert rows == [(1,), (2,), (40,), (60,)]
    assert kept == [(40,), (60,)]


def test_an_insert_takes_the_table_s_columns_by_name(
    models: Path, connection: duckdb.DuckDBPyConnection
) -> None:
    _write(models, "renamed", "select 'x' as label, n + 100 as n from source where n = 1\n")
    with pytest.raises(duckdb.BinderException, match="label") as failure:
        insert_rows(connection, "renamed", "numbers")
    assert failure.value.__notes__ == ["in sql/renamed.sql"]
    assert connection.execute("select count(*) from numbers").fetchall() == [(2,)]


def test_a_failing_model_names_its_file_and_keeps_duckdbs_message(
    models: Path, connection: duckdb.DuckDBPyConnection
) -> None:
    _write(models, "broken", "insert into numbers by name select n from no_such_table\n")
    with pytest.raises(duckdb.CatalogException, match="no_such_table") as failure:
        run_model(connection, "broken")
    assert failure.value.__notes__ == ["in sql/broken.sql"]
    assert connection.execute("select count(*) from numbers").fetchall() == [(2,)]


def test_a_pass_declares_its_reads_and_its_choices_of_keys(models: Path) -> None:
    _write(
        models,
        "a_pass",
        "-- reads: entry.changes, statuses, key\n-- keys: statuses\n-- keys: entry, from\n"
        "select 1\n",
    )
    _write(models, "no_header", "select 1\n")
    assert declared_reads("a_pass") == ["entry.changes", "statuses", "key"]
    assert declared_keys("a_pass") == (("statuses",), ("entry", "from"))
    assert declared_keys("no_header") == ()
    with pytest.raises(ValueError, match=r"sql/no_header\.sql has no '-- reads:' line"):
        declared_reads("no_header")


def test_a_connection_is_in_utc_with_the_threads_and_memory_it_was_given() -> None:
    connection = connect(limits=Limits(threads=1, memory_limit="200MB"))
    try:
        settings = connection.execute(
            "select current_setting('TimeZone'), current_setting('threads'), "
            "current_setting('preserve_insertion_order'), "
            "current_setting('partitioned_write_flush_threshold'), current_setting('memory_limit'), "
            "timestamptz '2026-12-01 23:30:00-02'::date"
        ).fetchall()
    finally:
        connection.close()
    # 23:30 at UTC-2 is 01:30 UTC the next day: a timestamp's date is its UTC date
    assert settings == [("UTC", 1, False, sql.PARTITION_FLUSH_ROWS, "190.7 MiB", date(2026, 12, 2))]
