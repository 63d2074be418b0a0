"""The SQL passes of `sql/ingest` (contract §2): what they read and check (from the event
models), running them over a batch, and the fingerprint of the reading.

`ingest/line_origins` first (where each line is), then one pass per raw table, each over the
lines that may hold its keys (`transforms.ingest.pass_lines`), reading only the payload fields
it declares and checking every element it reads against the event models.
"""

import hashlib
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa
from pydantic import BaseModel

from transforms.contract.events import Contact, ErrorObject, Message, Status, Template
from transforms.contract.macros import masking_macros, validation_macros
from transforms.contract.raw_tables import RAW_TABLES
from transforms.contract.read_schema import line_raw_columns, line_read_columns
from transforms.contract.wire import INSTANT_WIRE, UNIX_SECONDS_WIRE
from transforms.ingest.batch import BatchInput
from transforms.ingest.countries import library_version
from transforms.ingest.pass_lines import PassLines
from transforms.sql import (
    SQL_DIR,
    WHOLE_LINE,
    declared_keys,
    declared_payload,
    declared_reads,
    run_model,
    scalar,
    sql_text,
)

PASSES = tuple(f"ingest/{table}" for table in RAW_TABLES)
# what the passes check: each reads elements of these models, and of every line these scalars
ELEMENT_MODELS: list[type[BaseModel]] = [Status, Message, ErrorObject, Template]
LINE_SCALARS = [UNIX_SECONDS_WIRE, INSTANT_WIRE]
# what the passes keep of each element under pii=hash|drop: these models' masked fields
PAYLOAD_MODELS: list[type[BaseModel]] = [*ELEMENT_MODELS, Contact]
WHOLE_LINE_COLUMNS = {"json": "JSON"}
MIN_OBJECT_BYTES = 16 << 20
# the batch ordinal of each line of a pass's file, for `batch_lines` (sql/ingest/macros.sql)
SET_PASS_ORDINALS = (
    "set variable pass_ordinals = (select list(ordinal order by position) from pass_lines)"
)


class ReadingOutOfMemoryError(MemoryError):
    """DuckDB ran out of memory reading a batch: an error of the run, never of a line."""


class BatchReadError(Exception):
    """DuckDB could not read a batch, or read another number of lines than it holds."""


@cache
def _pass_columns(name: str) -> dict[str, str]:
    return line_read_columns(declared_reads(name))


@cache
def _raw_columns(name: str) -> dict[str, str]:
    """What a pass reads again as JSON text: its `-- payload:` elements, or the whole line."""
    paths = declared_payload(name)
    return WHOLE_LINE_COLUMNS if paths == [WHOLE_LINE] else line_raw_columns(paths)


def reading_macros() -> list[str]:
    """The generated checks and masks of the passes (both from the event models)."""
    return [
        *validation_macros(ELEMENT_MODELS, LINE_SCALARS),
        *masking_macros(PAYLOAD_MODELS),
    ]


@cache
def reader_fingerprint() -> str:
    """What the landing rows depend on besides the archive: the reading's SQL, the columns the
    passes read and the checks they make (both from the event models), DuckDB's version and
    that of the library that places numbers in countries."""
    digest = hashlib.sha256(duckdb.__version__.encode() + library_version().encode())
    for path in sorted(SQL_DIR.glob("ingest/*.sql")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for name in PASSES:
        digest.update(repr((_pass_columns(name), _raw_columns(name))).encode())
    for statement in reading_macros():
        digest.update(statement.encode())
    return digest.hexdigest()


def run_passes(connection: duckdb.DuckDBPyConnection, batch: BatchInput, scratch: Path) -> None:
    """Read the lines of `batch` through every pass, each pass only the lines it needs (a line
    no pass needs yields no rows: pydantic judges it)."""
    keys = batch.keys
    numbers = pa.table(
        {
            "ordinal": pa.array(range(1, len(keys) + 1), pa.int64()),
            "file_index": pa.array([file_index for file_index, _ in keys], pa.int64()),
            "line_no": pa.array([line_no for _, line_no in keys], pa.int64()),
        }
    )
    connection.register("line_numbers", numbers)
    lines = PassLines(batch)
    object_size = max(MIN_OBJECT_BYTES, len(batch.data) + 1)
    try:
        run_model(connection, "ingest/line_origins")
        for name in PASSES:
            target = scratch / f"{name.removeprefix('ingest/')}.jsonl"
            connection.register("pass_lines", lines.write(declared_keys(name), target))
            connection.execute(SET_PASS_ORDINALS)
            parameters = {
                "batch_path": str(target),
                "maximum_object_size": object_size,
                "read_columns": _pass_columns(name),
                "raw_columns": _raw_columns(name),
            }
            run_model(connection, name, parameters)
        unplaced = scalar(connection, sql_text("ingest/unplaced_rows"))
    except duckdb.OutOfMemoryException:
        # the night's memory is too small for its lines: the run's fault, not the lines'
        ends = [*batch.starts[1:], len(batch.data)]
        longest = max(end - start for start, end in zip(batch.starts, ends, strict=True))
        raise ReadingOutOfMemoryError(
            f"DuckDB ran out of memory reading a batch of lines (its longest of {longest:,} "
            "bytes): raise --tuning.memory-limit, or lower --tuning.chunk-mb or "
            "--tuning.max-line-mb"
        ) from None
    except duckdb.Error as error:
        # DuckDB's message quotes the input; it must not reach logs or the warehouse.
        raise BatchReadError(type(error).__name__) from None
    finally:
        connection.unregister("line_numbers")
        connection.unregister("pass_lines")
    if unplaced:
        raise BatchReadError(f"{unplaced} rows of records beyond the lines of a pass")
