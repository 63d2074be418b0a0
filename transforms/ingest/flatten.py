"""Flatten archive files into landing rows of the raw tables (contract §2 and §5): the driver
of a reading task.

Each batch of lines (`transforms.ingest.batch`) is read by the SQL passes in `sql/ingest`
(`transforms.ingest.passes`). A batch DuckDB cannot read falls back to pydantic line by line
(`transforms.ingest.fallback`): rejected lines are quarantined with their reason and the others
are read again. The rows of the valid lines are masked and written to landing Parquet files
(`transforms.ingest.landing`), and every line ends in exactly one place (classified,
unclassified, quarantined or blank): a file whose count does not balance fails loudly
(`transforms.ingest.accounting`).
"""

import logging
import shutil
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path

import duckdb
import pyarrow as pa
from pydantic import BaseModel

from transforms.contract.wire import TimeWindow
from transforms.ingest.accounting import FileReport, explain_invalid, file_report, record_outcomes
from transforms.ingest.batch import (
    Batch,
    BatchLines,
    FileTally,
    LineKey,
    ReadHook,
    batch_input,
    batches,
    raw_text,
)
from transforms.ingest.countries import add_country_lookup
from transforms.ingest.fallback import read_batch
from transforms.ingest.landing import LandingOutput, flush_landing, write_line_tables
from transforms.ingest.memory import LOCK_NAME, with_every_tasks_memory, within_own_memory
from transforms.ingest.passes import ReadingOutOfMemoryError, reading_macros
from transforms.ingest.personal import PiiMode, masking_statements, set_key
from transforms.source.discover import ArchiveFile
from transforms.source.stored import Opener
from transforms.sql import Limits, connect, run_model, run_script

log = logging.getLogger(__name__)


class IngestOptions(BaseModel):
    """How files are read: batch size, line limit and DuckDB's share of the machine. Their
    defaults are the night's (`flows.settings.Tuning.ingest`)."""

    chunk_bytes: int
    max_line_bytes: int
    limits: Limits
    # what a batch that ran out of its memory limit reads with, alone (every reading task's)
    alone_memory_limit: str | None
    pii: PiiMode


def ingest_connection(
    options: IngestOptions, key: bytes | None, window: TimeWindow
) -> duckdb.DuckDBPyConnection:
    """A reading task's DuckDB connection: the macros of the passes, the personal-data key
    and the run's time window."""
    # a batch's lines are numbered in the order DuckDB reads them
    connection = connect(limits=options.limits, ordered=True)
    add_country_lookup(connection)
    run_script(connection, "ingest/macros")
    run_script(connection, "ingest/personal")
    for statement in reading_macros():
        connection.execute(statement)
    set_key(connection, options.pii, key)
    connection.execute(
        "set variable time_earliest = $earliest::timestamptz", {"earliest": window.earliest}
    )
    connection.execute("set variable time_latest = $latest::timestamptz", {"latest": window.latest})
    return connection


def _within(moment: datetime | None, window: TimeWindow) -> datetime | None:
    """A path's or a file's time, or none when it is out of the run's window (a file touched
    in 1969 gives its lines no time, rather than a time every later step must survive)."""
    return moment if moment is not None and window.holds(moment.timestamp()) else None


def _file_context(files: list[ArchiveFile], ingested_at: datetime) -> pa.Table:
    window = TimeWindow.of_run(ingested_at)
    return pa.table(
        {
            "file_index": pa.array(range(len(files)), pa.int64()),
            "source_file": pa.array([file.uri for file in files], pa.string()),
            "ingested_at": pa.array([ingested_at] * len(files), pa.timestamp("us", "UTC")),
            "path_time": pa.array(
                [_within(file.hints.arrival_time, window) for file in files],
                pa.timestamp("us", "UTC"),
            ),
            "path_sender": pa.array([file.hints.sender for file in files], pa.string()),
            "file_time": pa.array(
                [_within(file.modified_at, window) for file in files], pa.timestamp("us", "UTC")
            ),
        }
    )


def _flatten_batch(
    connection: duckdb.DuckDBPyConnection,
    batch: Batch,
    scratch: Path,
    tallies: list[FileTally],
    file_indexes: dict[str, int],
    output: LandingOutput,
    window: TimeWindow,
) -> None:
    """Read a batch, keep the rows of its valid lines, and account for each of its lines."""
    lines = BatchLines(batch, window)
    rejected: dict[LineKey, str] = {}
    readable = batch_input(batch, rejected)
    if readable.keys:
        read_keys = read_batch(connection, lines, readable, scratch, rejected)
        explain_invalid(connection, lines, read_keys, rejected)
        run_model(connection, "ingest/line_outcomes")
        flush_landing(connection, output, tallies, file_indexes)
        record_outcomes(connection, lines, read_keys, tallies, rejected)
    for (file_index, line_no), reason in sorted(rejected.items()):
        tallies[file_index].quarantine.append(
            {
                "line_no": line_no,
                "reason": reason,
                "raw": raw_text(lines.raw((file_index, line_no))),
            }
        )


def _within_memory(
    flatten: Callable[[], None],
    connection: duckdb.DuckDBPyConnection,
    lock: Path,
    options: IngestOptions,
) -> None:
    """`flatten` a batch within its task's memory or, if it runs out before it keeps
    anything, again alone with every reading task's (the batches under way end first)."""
    try:
        with within_own_memory(lock):
            flatten()
    except ReadingOutOfMemoryError:
        if options.alone_memory_limit is None:
            raise
        log.debug("a batch ran out of its task's memory: read again alone")
        with with_every_tasks_memory(
            lock, connection, options.limits.memory_limit, options.alone_memory_limit
        ):
            flatten()


def ingest_files(
    files: list[ArchiveFile],
    opener: Opener,
    landing_dir: Path,
    scratch_dir: Path,
    name: str,
    ingested_at: datetime,
    options: IngestOptions,
    key: bytes | None = None,
    on_read: ReadHook | None = None,
) -> list[FileReport]:
    """Read archive files into landing Parquet files named `name` and account for every line
    of every file; personal data is masked by `options.pii` with the `key`; `on_read` is told
    of the stored bytes read."""
    scratch = scratch_dir / name
    scratch.mkdir(parents=True, exist_ok=True)
    tallies = [FileTally() for _ in files]
    file_indexes = {file.uri: index for index, file in enumerate(files)}
    window = TimeWindow.of_run(ingested_at)
    connection = ingest_connection(options, key, window)
    memory_lock = scratch_dir / LOCK_NAME
    try:
        connection.register("batch_files", _file_context(files, ingested_at))
        output = LandingOutput(landing_dir, name, masking_statements(options.pii))
        try:
            for batch in batches(
                files, opener, options.chunk_bytes, options.max_line_bytes, tallies, on_read
            ):
                flatten = partial(
                    _flatten_batch,
                    connection,
                    batch,
                    scratch,
                    tallies,
                    file_indexes,
                    output,
                    window,
                )
                _within_memory(flatten, connection, memory_lock, options)
        finally:
            output.close()
    finally:
        connection.close()
        shutil.rmtree(scratch, ignore_errors=True)
    write_line_tables(files, tallies, landing_dir, name, ingested_at, options.pii)
    return [file_report(file, tally) for file, tally in zip(files, tallies, strict=True)]
