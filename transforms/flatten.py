"""Flatten archive files into landing rows of the raw tables (contract §2 and §5).

Each batch of lines (`transforms.batch`) is read by the SQL passes in `sql/ingest`: `lines`
first (where each line is, its key, times and envelope), then one pass per raw table, each
reading only the payload fields it declares and checking every element it reads against the
event models. A batch DuckDB cannot read falls back to pydantic line by line: rejected lines
are quarantined with their reason and the others are read again. Every line ends in exactly
one place (classified, unclassified, quarantined or blank), and a file whose count does not
balance fails loudly.
"""

import gc
import hashlib
import logging
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, partial
from pathlib import Path

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel

from transforms.batch import (
    Batch,
    BatchInput,
    BatchLines,
    FileTally,
    LineKey,
    ReadHook,
    batch_input,
    batches,
    joined,
    raw_text,
)
from transforms.discover import ArchiveFile
from transforms.events import Contact, ErrorObject, Message, Status, Template
from transforms.personal import PiiMode, masked_digits, masking_statements, set_key
from transforms.read import Opener
from transforms.reading_memory import LOCK_NAME, with_every_tasks_memory, within_own_memory
from transforms.schema import (
    arrow_schema,
    create_table_sql,
    landing_columns,
    line_raw_columns,
    line_read_columns,
    masking_macros,
    table_columns,
    validation_macros,
)
from transforms.sql import (
    SQL_DIR,
    WHOLE_LINE,
    connect,
    declared_keys,
    declared_payload,
    declared_reads,
    run_model,
    run_script,
    scalar,
    sql_text,
)
from transforms.tables import RAW_TABLES, Quarantine, Unclassified
from transforms.validate import Accepted, Rejected, unclassified_reason
from transforms.wire import INSTANT_WIRE, UNIX_SECONDS_WIRE, TimeWindow

log = logging.getLogger(__name__)

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
MISMATCH = (
    "rejected by the bulk path although the event models accept it "
    "(please report: the models and the SQL checks disagree)"
)


class LineAccountingError(RuntimeError):
    """A file's lines do not add up: a line was lost or counted twice."""


class IngestOptions(BaseModel):
    """How files are read: batch size, line limit and DuckDB's share of the machine."""

    chunk_bytes: int = 32 << 20
    max_line_bytes: int = 256 << 20
    threads: int = 1
    memory_limit: str = "800MB"
    # what a batch that ran out of `memory_limit` reads with, alone (every reading task's)
    alone_memory_limit: str | None = None
    pii: PiiMode = "keep"


class FileReport(BaseModel):
    """What one archive file yielded; its lines = classified + unclassified + quarantined +
    blank."""

    file: ArchiveFile
    lines: int
    classified: int
    unclassified: int
    quarantined: int
    blank: int
    rows: dict[str, int]
    unreadable: str | None = None
    content_sha256: str | None = None


@dataclass
class _LandingOutput:
    """Where a task writes its landing rows: one Parquet file per table,
    `<dir>/<table>/<name>.parquet`, a row group per batch (one file, not one per batch: the
    state keeps the files as they are); and the statements that mask personal data first."""

    landing_dir: Path
    name: str
    masks: list[str]
    writers: dict[str, pq.ParquetWriter] = field(default_factory=dict)

    def write(self, table: str, rows: pa.Table) -> None:
        if table not in self.writers:
            target = self.landing_dir / table / f"{self.name}.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            self.writers[table] = pq.ParquetWriter(target, rows.schema, compression="zstd")
        self.writers[table].write_table(rows)

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


class ReadingOutOfMemoryError(MemoryError):
    """DuckDB ran out of memory reading a batch: an error of the run, never of a line."""


class _BatchReadError(Exception):
    """DuckDB could not read a batch, or read another number of lines than it holds."""


@cache
def _pass_columns(name: str) -> dict[str, str]:
    return line_read_columns(declared_reads(name))


@cache
def _raw_columns(name: str) -> dict[str, str]:
    """What a pass reads again as JSON text: its `-- payload:` elements, or the whole line."""
    paths = declared_payload(name)
    return WHOLE_LINE_COLUMNS if paths == [WHOLE_LINE] else line_raw_columns(paths)


def _reading_macros() -> list[str]:
    """The generated checks and masks of the passes (both from the event models)."""
    return [
        *validation_macros(ELEMENT_MODELS, LINE_SCALARS),
        *masking_macros(PAYLOAD_MODELS),
    ]


@cache
def reader_fingerprint() -> str:
    """What the landing rows depend on besides the archive: the reading's SQL, the columns the
    passes read and the checks they make (both from the event models), and DuckDB's version."""
    digest = hashlib.sha256(duckdb.__version__.encode())
    for path in sorted(SQL_DIR.glob("ingest/*.sql")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for name in PASSES:
        digest.update(repr((_pass_columns(name), _raw_columns(name))).encode())
    for statement in _reading_macros():
        digest.update(statement.encode())
    return digest.hexdigest()


def ingest_connection(
    options: IngestOptions, key: bytes | None, window: TimeWindow
) -> duckdb.DuckDBPyConnection:
    # a batch's lines are numbered in the order DuckDB reads them
    connection = connect(threads=options.threads, memory_limit=options.memory_limit, ordered=True)
    run_script(connection, "ingest/macros")
    run_script(connection, "ingest/personal")
    for statement in _reading_macros():
        connection.execute(statement)
    set_key(connection, options.pii, key)
    connection.execute(
        "set variable time_earliest = $earliest::timestamptz", {"earliest": window.earliest}
    )
    connection.execute("set variable time_latest = $latest::timestamptz", {"latest": window.latest})
    for table in RAW_TABLES:
        landing = create_table_sql(f"landing_{table}", landing_columns(RAW_TABLES[table]))
        connection.execute(landing.replace("create table", "create temp table", 1))
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


def _key_pattern(keys: tuple[str, ...]) -> str:
    return '"(?:' + "|".join(re.escape(key) for key in keys) + ')"[ \\t\\r\\n]*:'


class _PassLines:
    """The lines of a batch as an Arrow array (no copy of the data), to pick for each pass the
    lines that may hold its keys (one of each choice, `declared_keys`). A key is `"name"`
    before a colon; a line with a `\\u` escape may spell a key otherwise, so it goes to every
    pass."""

    def __init__(self, batch: BatchInput) -> None:
        offsets = pa.array([0, *batch.starts[1:], len(batch.data)], pa.int64())
        self.data = batch.data
        self.lines = pa.LargeBinaryArray.from_buffers(
            pa.large_binary(),
            len(batch.keys),
            [None, offsets.buffers()[1], pa.py_buffer(batch.data)],
        )
        self.escaped = pc.match_substring_regex(self.lines, r"\\u")
        self._found: dict[tuple[str, ...], pa.BooleanArray] = {}

    def _holding(self, choices: tuple[tuple[str, ...], ...]) -> pa.BooleanArray:
        first, *others = choices
        if first not in self._found:
            self._found[first] = pc.match_substring_regex(self.lines, _key_pattern(first))
        found = self._found[first]
        for keys in others:
            # only the lines that hold the keys so far are scanned again
            places = pc.indices_nonzero(found)
            inner = pc.match_substring_regex(self.lines.take(places), _key_pattern(keys))
            holding = np.zeros(len(self.lines), dtype=bool)
            holding[places.filter(inner).to_numpy()] = True
            found = pa.array(holding)
        return pc.or_(found, self.escaped)

    def write(self, choices: tuple[tuple[str, ...], ...], target: Path) -> pa.Table:
        """Write the lines that may hold a key of each of `choices` (all lines when there are
        none) to `target`; their positions in the file and ordinals in the batch."""
        if not choices:
            target.write_bytes(self.data)
            ordinals = pa.array(range(1, len(self.lines) + 1), pa.int64())
        else:
            mask = self._holding(choices)
            picked = pc.filter(self.lines, mask)
            ordinals = pc.add(pc.indices_nonzero(mask), 1).cast(pa.int64())
            with target.open("wb") as out:
                if len(picked):
                    offsets = pa.Array.from_buffers(
                        pa.int64(),
                        len(picked) + 1,
                        [None, picked.buffers()[1]],
                        offset=picked.offset,
                    )
                    values = memoryview(picked.buffers()[2])
                    out.write(values[offsets[0].as_py() : offsets[-1].as_py()])
        positions = pa.array(range(1, len(ordinals) + 1), pa.int64())
        return pa.table({"position": positions, "ordinal": ordinals})


def _run_passes(connection: duckdb.DuckDBPyConnection, batch: BatchInput, scratch: Path) -> None:
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
    lines = _PassLines(batch)
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
        raise _BatchReadError(type(error).__name__) from None
    finally:
        connection.unregister("line_numbers")
        connection.unregister("pass_lines")
    if unplaced:
        raise _BatchReadError(f"{unplaced} rows of records beyond the lines of a pass")


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Judging many lines creates many objects while the batch holds many more: Python's
    cyclic garbage collector would scan them all again and again (several times slower)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _is_json_object(raw: bytes) -> bool:
    """Whether a fast parser reads the line as a JSON object. It refuses a few lines the
    models accept (integers over 64 bits), so its refusals are only suspects."""
    try:
        return isinstance(orjson.loads(raw), dict)
    except orjson.JSONDecodeError:
        return False


def _screened(
    lines: BatchLines, keys: list[LineKey], rejected: dict[LineKey, str]
) -> list[LineKey]:
    """The keys without the lines that are no JSON object at all (pydantic says why): the
    usual reason DuckDB refuses a batch, found here at the cost of a fast parse per line."""
    kept = []
    with _collector_paused():
        for key in keys:
            if not _is_json_object(lines.raw(key)):
                judged = lines.verdict(key)
                if isinstance(judged, Rejected):
                    rejected[key] = judged.reason
                    continue
            kept.append(key)
    return kept


def _read_batch(
    connection: duckdb.DuckDBPyConnection,
    lines: BatchLines,
    batch: BatchInput,
    scratch: Path,
    rejected: dict[LineKey, str],
) -> list[LineKey]:
    """Read a batch through the passes; returns the keys that were read. If DuckDB cannot
    read it, the lines that are no JSON object are set aside and the rest read again; if
    DuckDB still refuses, pydantic judges every line: the valid lines are read again as they
    are, and if DuckDB still refuses, in the models' normal form, and at last one by one."""
    try:
        _run_passes(connection, batch, scratch)
        return batch.keys
    except _BatchReadError as failure:
        log.debug("a batch of %d lines is refused: %s", len(batch.keys), failure)
    keys = _screened(lines, batch.keys, rejected)
    if len(keys) < len(batch.keys):
        try:
            _run_passes(connection, joined([lines.raw(key) for key in keys], keys), scratch)
            log.debug("the batch was read without its %d non-objects", len(batch.keys) - len(keys))
            return keys
        except _BatchReadError:
            pass
    log.debug("a batch of %d lines falls back to pydantic", len(keys))
    # only which lines are valid is kept: a validated line is many objects, a batch many lines
    valid: list[LineKey] = []
    with _collector_paused():
        for key in keys:
            judged = lines.verdict(key)
            if isinstance(judged, Rejected):
                rejected[key] = judged.reason
            else:
                valid.append(key)
    # the models' normal form loses the fields they do not know (from `payload_json`):
    # only when the lines written again as they parse are refused too
    forms: dict[str, Callable[[LineKey], bytes]] = {
        "as they are": lines.raw,
        "as they parse": lines.reparsed,
        "in normal form": lines.normalized,
    }
    for form_name, form in forms.items():
        try:
            _run_passes(connection, joined([form(key) for key in valid], valid), scratch)
            log.debug("the %d valid lines of the batch were read %s", len(valid), form_name)
            return valid
        except _BatchReadError:
            continue
    readable = []
    for key in valid:
        try:
            _run_passes(connection, joined([lines.normalized(key)], [key]), scratch)
            readable.append(key)
        except _BatchReadError:
            rejected[key] = MISMATCH
    normal = [lines.normalized(key) for key in readable]
    _run_passes(connection, joined(normal, readable), scratch)
    return readable


def _explain_invalid(
    connection: duckdb.DuckDBPyConnection,
    lines: BatchLines,
    read_keys: list[LineKey],
    rejected: dict[LineKey, str],
) -> None:
    """The lines the passes found invalid (`invalid_lines`): the passes say why a line the
    models accept is (it has no time), pydantic why the others are."""
    run_model(connection, "ingest/invalid_lines")
    for ordinal, reason in connection.execute(
        "select ordinal, reason from invalid_lines"
    ).fetchall():
        key = read_keys[ordinal - 1]
        if reason is not None:
            rejected[key] = reason
            continue
        judged = lines.verdict(key)
        if isinstance(judged, Accepted):
            log.warning("line %d of file %d: %s", key[1], key[0], MISMATCH)
        rejected[key] = judged.reason if isinstance(judged, Rejected) else MISMATCH


def _record_outcomes(
    connection: duckdb.DuckDBPyConnection,
    lines: BatchLines,
    read_keys: list[LineKey],
    tallies: list[FileTally],
    rejected: dict[LineKey, str],
) -> None:
    """Count the classified lines of each file and keep the unclassified ones. A line without
    rows was read by no pass or yielded nothing in the passes that read it: pydantic judges
    it, and quarantines what is not an event."""
    classified = connection.execute(
        "select file_index, count(*) from line_outcomes group by file_index"
    ).fetchall()
    for file_index, count in classified:
        tallies[file_index].classified += count
    ordinals = connection.execute("select ordinal from line_outcomes").fetchall()
    with_rows = {ordinal for (ordinal,) in ordinals}
    without_rows = [
        key
        for ordinal, key in enumerate(read_keys, start=1)
        if ordinal not in with_rows and key not in rejected
    ]
    with _collector_paused():
        for key in without_rows:
            judged = lines.verdict(key)
            if isinstance(judged, Rejected):
                rejected[key] = judged.reason
                continue
            raw = lines.raw(key)
            tallies[key[0]].unclassified.append(
                {"line_no": key[1], "reason": unclassified_reason(raw), "raw": raw_text(raw)}
            )


def _flatten_batch(
    connection: duckdb.DuckDBPyConnection,
    batch: Batch,
    scratch: Path,
    tallies: list[FileTally],
    output: _LandingOutput,
    window: TimeWindow,
) -> None:
    """Read a batch, keep the rows of its valid lines, and account for each of its lines."""
    lines = BatchLines(batch, window)
    rejected: dict[LineKey, str] = {}
    readable = batch_input(batch, rejected)
    if readable.keys:
        read_keys = _read_batch(connection, lines, readable, scratch, rejected)
        _explain_invalid(connection, lines, read_keys, rejected)
        run_model(connection, "ingest/line_outcomes")
        run_script(connection, "ingest/keep_valid_rows")
        _flush_landing(connection, output, tallies)
        _record_outcomes(connection, lines, read_keys, tallies, rejected)
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
            lock, connection, options.memory_limit, options.alone_memory_limit
        ):
            flatten()


def _flush_landing(
    connection: duckdb.DuckDBPyConnection, output: _LandingOutput, tallies: list[FileTally]
) -> None:
    """Write the landing rows of a batch to Parquet, one file per table, and count them per
    file; the temp tables are emptied, so memory does not grow with the files read. Personal
    data is masked before anything is written."""
    for statement in output.masks:
        connection.execute(statement)
    written = set()
    for table, file_index, rows in connection.execute(sql_text("ingest/batch_rows")).fetchall():
        tallies[file_index].rows[table] += rows
        written.add(table)
    for table in sorted(written):
        rows = connection.sql(f'select * from "landing_{table}"').to_arrow_table()
        output.write(table, rows.cast(_landing_schema(table)))
        connection.execute(f"truncate landing_{table}")


@cache
def _landing_schema(table: str) -> pa.Schema:
    return arrow_schema(landing_columns(RAW_TABLES[table]))


def _write_line_table(rows: list[dict[str, object]], table: type, target: Path) -> None:
    if not rows:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    schema = arrow_schema(table_columns(table))
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), target, compression="zstd")


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
    window = TimeWindow.of_run(ingested_at)
    connection = ingest_connection(options, key, window)
    memory_lock = scratch_dir / LOCK_NAME
    try:
        connection.register("batch_files", _file_context(files, ingested_at))
        output = _LandingOutput(landing_dir, name, masking_statements(options.pii))
        try:
            for batch in batches(
                files, opener, options.chunk_bytes, options.max_line_bytes, tallies, on_read
            ):
                flatten = partial(
                    _flatten_batch, connection, batch, scratch, tallies, output, window
                )
                _within_memory(flatten, connection, memory_lock, options)
        finally:
            output.close()
    finally:
        connection.close()
        shutil.rmtree(scratch, ignore_errors=True)
    quarantine = [
        _line_row(row, file, ingested_at, options.pii)
        for file, tally in zip(files, tallies, strict=True)
        for row in tally.quarantine
    ]
    unclassified = [
        _line_row(row, file, ingested_at, options.pii)
        for file, tally in zip(files, tallies, strict=True)
        for row in tally.unclassified
    ]
    _write_line_table(quarantine, Quarantine, landing_dir / "quarantine" / f"{name}.parquet")
    _write_line_table(unclassified, Unclassified, landing_dir / "unclassified" / f"{name}.parquet")
    return [_report(file, tally) for file, tally in zip(files, tallies, strict=True)]


def _line_row(
    row: dict[str, object], file: ArchiveFile, ingested_at: datetime, pii: PiiMode
) -> dict[str, object]:
    """A quarantined or unclassified line's row. Under pii=hash|drop a line that is no event
    cannot be masked field by field: its text is withheld, and its reason (which may name a
    key that is a number) has its long digit runs masked."""
    if pii != "keep":
        row = {**row, "raw": None, "reason": masked_digits(str(row["reason"]))}
    return {**row, "source_file": file.uri, "ingested_at": ingested_at}


def _report(file: ArchiveFile, tally: FileTally) -> FileReport:
    report = FileReport(
        file=file,
        lines=tally.lines,
        classified=tally.classified,
        unclassified=len(tally.unclassified),
        quarantined=len(tally.quarantine),
        blank=tally.blank,
        rows=tally.rows,
        unreadable=tally.unreadable,
        content_sha256=tally.content_sha256,
    )
    balance = report.classified + report.unclassified + report.quarantined + report.blank
    if report.unreadable is None and balance != report.lines:
        raise LineAccountingError(
            f"{file.uri}: {report.lines} lines but {report.classified} classified + "
            f"{report.unclassified} unclassified + {report.quarantined} quarantined + "
            f"{report.blank} blank = {balance}"
        )
    return report
