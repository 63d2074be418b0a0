"""Load the SQL models from `sql/` and run them; set up DuckDB connections the same way."""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
from pydantic import BaseModel

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"


@cache
def sql_text(name: str) -> str:
    """The text of `sql/<name>.sql`."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


READS = "-- reads:"
PAYLOAD = "-- payload:"
KEYS = "-- keys:"
WHOLE_LINE = "."


def _headers(name: str, header: str) -> list[list[str]]:
    return [
        [item.strip() for item in line.removeprefix(header).split(",")]
        for line in sql_text(name).splitlines()
        if line.startswith(header)
    ]


@cache
def declared_reads(name: str) -> list[str]:
    """The payload paths `sql/<name>.sql` declares it reads (its `-- reads:` header line)."""
    reads = _headers(name, READS)
    if not reads:
        raise ValueError(f"sql/{name}.sql has no '{READS}' line")
    return reads[0]


@cache
def declared_payload(name: str) -> list[str]:
    """The paths of the elements `sql/<name>.sql` keeps whole (its `-- payload:` header line):
    `.` is the whole line."""
    payload = _headers(name, PAYLOAD)
    if not payload:
        raise ValueError(f"sql/{name}.sql has no '{PAYLOAD}' line")
    return payload[0]


@cache
def declared_keys(name: str) -> tuple[tuple[str, ...], ...]:
    """The JSON keys without which a line yields nothing in `sql/<name>.sql`: its `-- keys:`
    header lines, each a choice of keys of which a line must hold one (a line yields rows
    only if it holds a key of every line); empty when the pass reads every line."""
    return tuple(tuple(keys) for keys in _headers(name, KEYS))


# Rows a thread buffers per partition of a partitioned COPY before it writes them out: few
# enough that the days' buffers of the widest rows (statuses with their JSON) stay well under
# the memory limit, or the export spills and slows (docs/performance.md, "What payload_json
# costs").
PARTITION_FLUSH_ROWS = 16_384
# Every DuckDB file the tool creates is written in the storage format of DuckDB 1.2, which
# every DuckDB client from 1.2 on opens (the command-line tool and the notebooks analysts
# have); DuckDB 2's own format opens only in DuckDB 2.
STORAGE_VERSION = "v1.2.0"


class Limits(BaseModel):
    """DuckDB's share of the machine, for one connection: its threads, and the memory beyond
    which it spills to disk (a size with its unit, "800MB")."""

    threads: int
    memory_limit: str


LOOK = Limits(threads=1, memory_limit="256MB")
"""Enough to look at a warehouse: count its rows, read a summary."""


def connect(
    database: str = ":memory:",
    *,
    limits: Limits,
    read_only: bool = False,
    ordered: bool = False,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection in UTC (so a timestamp's date is its UTC date), with bounded
    threads and memory. Unless `ordered`, results and tables keep no particular row order:
    every model orders what it needs, and an insert that must keep its input's order runs
    on one thread (inserting 560,000 statuses took 2.6 s ordered, 1.25 s not)."""
    config: dict[str, str | bool | int | float | list[str]] = (
        {} if read_only else {"storage_compatibility_version": STORAGE_VERSION}
    )
    connection = duckdb.connect(database, read_only=read_only, config=config)
    connection.execute("set TimeZone = 'UTC'")
    connection.execute(f"set threads = {int(limits.threads)}")
    connection.execute("set memory_limit = $limit", {"limit": limits.memory_limit})
    connection.execute(f"set preserve_insertion_order = {str(ordered).lower()}")
    connection.execute(f"set partitioned_write_flush_threshold = {PARTITION_FLUSH_ROWS}")
    return connection


def rendered(name: str, names: dict[str, str]) -> str:
    """The text of `sql/<name>.sql` with each `{{key}}` replaced by the identifier `names`
    gives it: a script written once for each of several tables (named parameters cannot
    name a table to create or write)."""
    text = sql_text(name)
    for key, value in names.items():
        if not value.isidentifier():
            raise ValueError(f"{value!r} is no identifier to put in sql/{name}.sql")
        text = text.replace("{{" + key + "}}", value)
    return text


def run_script(
    connection: duckdb.DuckDBPyConnection,
    name: str,
    parameters: dict[str, Any] | None = None,
    names: dict[str, str] | None = None,
) -> None:
    """Run every statement of `sql/<name>.sql` (rendered with `names`), each with the
    `parameters` it names."""
    given = parameters or {}
    with _naming(name):
        for statement in duckdb.extract_statements(rendered(name, names or {})):
            wanted = {key: given[key] for key in statement.named_parameters}
            connection.execute(statement, wanted)


def run_model(
    connection: duckdb.DuckDBPyConnection, name: str, parameters: dict[str, Any] | None = None
) -> None:
    """Run the single statement of `sql/<name>.sql`."""
    with _naming(name):
        connection.execute(sql_text(name), parameters or {})


def run_query_into(
    connection: duckdb.DuckDBPyConnection, name: str, table: str, *, append: bool
) -> None:
    """Materialise the query `sql/<name>.sql` as the temp table `table`, or append its rows
    to it (a model built in parts)."""
    into = f"insert into {table} by name" if append else f"create or replace temp table {table} as"
    with _naming(name):
        connection.execute(f"{into}\n{sql_text(name)}")


def insert_rows(
    connection: duckdb.DuckDBPyConnection,
    name: str,
    table: str,
    parameters: dict[str, Any] | None = None,
    *,
    kept: str | None = None,
) -> None:
    """Insert the rows of the query `sql/<name>.sql` into `table` (by column name); with
    `kept`, keep a copy of them as the temp table `kept`, of `table`'s columns: what an update
    rebuilt, to compare with what it took out."""
    query = sql_text(name)
    with _naming(name):
        if kept is None:
            connection.execute(f"insert into {table} by name\n{query}", parameters or {})
            return
        connection.execute(f"create or replace temp table {kept} as from {table} limit 0")
        connection.execute(f"insert into {kept} by name\n{query}", parameters or {})
        connection.execute(f"insert into {table} by name from {kept}")


@contextmanager
def _naming(name: str) -> Iterator[None]:
    """A failure names the model it failed in (a note: DuckDB's own message stays as it is)."""
    try:
        yield
    except duckdb.Error as error:
        error.add_note(f"in sql/{name}.sql")
        raise


def scalar(connection: duckdb.DuckDBPyConnection, query: str) -> Any:
    """The single value a query returns (the whole result is read, as DuckDB 2 requires
    before the connection does other work)."""
    ((value,),) = connection.execute(query).fetchall()
    return value


def set_variables(connection: duckdb.DuckDBPyConnection, values: dict[str, Any]) -> None:
    """Set DuckDB variables (`getvariable(name)` in the SQL models)."""
    for name, value in values.items():
        connection.execute(f"set variable {name} = $value", {"value": value})
