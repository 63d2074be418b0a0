"""What the nightly runs keep between nights: the manifest of the files read (the rows of
`ingest_files`) and the landing rows of every file, in a folder beside the warehouse: a DuckDB
file, and the raw tables' landing rows as Parquet parts it lists (`transforms.state.parts`).

A run reads only the files that are new or changed since the manifest, merges what it read
into the state in one transaction, and builds the warehouse from the state. A run that dies
before the merge leaves the state as it was; one that dies after it leaves a state the next
run builds from, so the next run completes the work.
"""

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from transforms.contract.raw_tables import RAW_TABLES
from transforms.contract.schema import (
    arrow_schema,
    create_table_sql,
    landing_columns,
    table_columns,
)
from transforms.contract.tables import IngestFiles, Quarantine, Unclassified
from transforms.ingest.accounting import FileReport
from transforms.ingest.passes import reader_fingerprint
from transforms.source.discover import ArchiveFile
from transforms.sql import Limits, connect, run_script, set_variables
from transforms.state.parts import (
    collect_garbage,
    compact,
    create_views,
    drop_rows_of,
    move_in,
    part_prefix,
    remove_all,
    state_folder,
)

LANDING: dict[str, dict[str, str]] = {
    **{name: landing_columns(table) for name, table in RAW_TABLES.items()},
    "quarantine": table_columns(Quarantine),
    "unclassified": table_columns(Unclassified),
}
"""What a run lands per table before the merge, and the state keeps of every file."""
STATE_TABLES: dict[str, dict[str, str]] = {
    "quarantine": LANDING["quarantine"],
    "unclassified": LANDING["unclassified"],
    "manifest": table_columns(IngestFiles),
    "settings": {"pii": "VARCHAR", "reader": "VARCHAR"},
    "landing_parts": {"table_name": "VARCHAR", "part": "VARCHAR"},
}
STATE_VIEWS: dict[str, dict[str, str]] = {f"landing_{name}": LANDING[name] for name in RAW_TABLES}
"""The raw tables' landing rows: views over their Parquet parts."""

log = logging.getLogger(__name__)


class StatePaths(BaseModel):
    """Where a warehouse keeps its state: a hidden folder beside it."""

    folder: Path

    @classmethod
    def of(cls, warehouse: Path) -> "StatePaths":
        return cls(folder=warehouse.parent / f".{warehouse.name}.state")

    @property
    def state(self) -> Path:
        return self.folder / "state.duckdb"

    @property
    def lock(self) -> Path:
        return self.folder / "lock"

    @property
    def runs(self) -> Path:
        """Each run's landing and scratch files, removed when the run ends."""
        return self.folder / "runs"


class ReadPlan(BaseModel):
    """What a run reads: the files new or changed since the manifest; and what it leaves."""

    read: list[ArchiveFile]
    unchanged: int
    retouched: list[ArchiveFile] = []
    vanished: list[str]
    newly_vanished: list[str] = []
    full_refresh: bool = False

    @property
    def changes_nothing(self) -> bool:
        """Nothing to read, no file touched or gone since the last night: the state stays."""
        return not (self.full_refresh or self.read or self.retouched or self.newly_vanished)


class _Known(BaseModel):
    size: int
    modified_at: datetime | None
    etag: str | None
    content_sha256: str
    vanished_at: datetime | None


def _expected_columns() -> dict[str, list[str]]:
    return {name: list(columns) for name, columns in {**STATE_TABLES, **STATE_VIEWS}.items()}


def _why_stale(path: Path, pii: str | None) -> str | None:
    """Why the state at `path` must be made anew, or None: written by a version with other
    tables, or read under another personal-data setting or key (`pii`)."""
    with duckdb.connect(str(path), read_only=True) as connection:
        if state_columns(connection) != _expected_columns():
            return "the state was written by another version"
        read_under = connection.execute("select pii from settings").fetchall()
    if pii is not None and read_under and read_under[0][0] != pii:
        return "the personal-data setting (pii) or its key changed"
    return None


def open_state(path: Path, *, limits: Limits, pii: str | None = None) -> duckdb.DuckDBPyConnection:
    """The state, created empty the first time; and made anew, empty, when it was written by
    a version with other tables, or read under another personal-data setting than `pii` (if
    given), so that the run reads the whole archive. Made anew is a new file, not emptied
    tables: the pages of a DuckDB file keep what was deleted, clear numbers among them."""
    if path.exists() and (why := _why_stale(path, pii)) is not None:
        log.warning("%s: the state is made anew and the whole archive read again", why)
        path.unlink()
        path.with_name(f"{path.name}.wal").unlink(missing_ok=True)
        remove_all(path.parent)
    connection = connect(str(path), limits=limits)
    if not state_columns(connection):
        remove_all(path.parent)
        for name, columns in STATE_TABLES.items():
            connection.execute(create_table_sql(name, columns))
    create_views(connection, path.parent)
    return connection


def state_columns(connection: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The state's tables and their columns, in order."""
    columns: dict[str, list[str]] = {}
    for table, column in connection.execute(
        "select table_name, column_name from duckdb_columns()"
        " where not internal and schema_name = 'main' order by table_name, column_index"
    ).fetchall():
        columns.setdefault(table, []).append(column)
    return columns


def read_plan(
    connection: duckdb.DuckDBPyConnection,
    files: list[ArchiveFile],
    content_sha256: Callable[[ArchiveFile], str],
    *,
    full_refresh: bool,
    pii: str = "keep",
) -> ReadPlan:
    """The files to read: new ones, and those whose size or etag differ from the manifest, or
    whose modification time does and whose bytes do too; every file on a full refresh, and
    when the state was read under another personal-data setting `pii` (`key_id`) or by
    another version of the reading (`reader_fingerprint`): rows read otherwise must not be
    mixed with these (a copy of an event would not be known as one)."""
    read_under = connection.execute("select pii, reader from settings").fetchall()
    if read_under and not full_refresh:
        ((read_pii, reader),) = read_under
        if read_pii != pii:
            log.warning(
                "the personal-data setting (pii) or its key changed since the state was read: "
                "the whole archive is read again"
            )
            full_refresh = True
        elif reader != reader_fingerprint():
            log.warning(
                "the archive was read by another version of the reading: "
                "the whole archive is read again"
            )
            full_refresh = True
    result = connection.execute(
        "select uri, size, modified_at, etag, content_sha256, vanished_at from manifest"
    )
    names = [column[0] for column in result.description]
    known = {
        row[0]: _Known(**dict(zip(names[1:], row[1:], strict=True))) for row in result.fetchall()
    }
    listed = {file.uri for file in files}
    vanished = sorted(uri for uri in known if uri not in listed)
    if full_refresh:
        return ReadPlan(read=files, unchanged=0, vanished=[], full_refresh=True)
    read: list[ArchiveFile] = []
    retouched: list[ArchiveFile] = []
    for file in files:
        change = _change(file, known.get(file.uri), content_sha256)
        if change == "changed":
            read.append(file)
        elif change == "retouched":
            retouched.append(file)
    return ReadPlan(
        read=read,
        unchanged=len(files) - len(read),
        retouched=retouched,
        vanished=vanished,
        newly_vanished=[uri for uri in vanished if known[uri].vanished_at is None],
    )


def _change(
    file: ArchiveFile, known: _Known | None, content_sha256: Callable[[ArchiveFile], str]
) -> str:
    """changed, retouched (another modification time, the same bytes) or unchanged."""
    if known is None or known.size != file.size:
        return "changed"
    if file.etag is not None or known.etag is not None:
        # an object store's etag stands for the bytes; its modification time is the upload's
        return "unchanged" if file.etag == known.etag else "changed"
    if known.modified_at == file.modified_at:
        return "unchanged"
    try:
        same = content_sha256(file) == known.content_sha256
    except OSError:
        return "changed"  # the read reports what is wrong with it
    return "retouched" if same else "changed"


def landing_files(landing_dir: Path, table: str, columns: dict[str, str]) -> list[str]:
    """The landing Parquet files of a table; an empty one is written when there are none, so
    that every landing table can be read."""
    files = sorted(str(path) for path in (landing_dir / table).glob("*.parquet"))
    if files:
        return files
    empty = landing_dir / table / "_empty.parquet"
    empty.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(arrow_schema(columns).empty_table(), empty)
    return [str(empty)]


def ingest_file_rows(reports: list[FileReport], run_id: str, ingested_at: datetime) -> pa.Table:
    """The manifest rows of the files a run read whole."""
    rows = [
        {
            "uri": report.file.uri,
            "size": report.file.size,
            "modified_at": report.file.modified_at,
            "etag": report.file.etag,
            "content_sha256": report.content_sha256,
            "compression": report.file.compression,
            "arrival_day": report.file.hints.arrival_day,
            "arrival_hour": report.file.hints.arrival_hour,
            "path_sender": report.file.hints.sender,
            "lines": report.lines,
            "classified": report.classified,
            "unclassified": report.unclassified,
            "quarantined": report.quarantined,
            "blank": report.blank,
            "accepted_rows": report.rows["accepted"],
            "template_send_rows": report.rows["template_sends"],
            "status_rows": report.rows["statuses"],
            "reply_rows": report.rows["replies"],
            "error_rows": report.rows["errors"],
            "run_id": run_id,
            "ingested_at": ingested_at,
            "vanished_at": None,
        }
        for report in reports
        if report.unreadable is None
    ]
    return pa.Table.from_pylist(rows, schema=arrow_schema(table_columns(IngestFiles)))


def run_landing_files(landing_dir: Path) -> dict[str, list[str]]:
    """A run's landing Parquet files per table (an empty file where a table has none)."""
    return {name: landing_files(landing_dir, name, columns) for name, columns in LANDING.items()}


def merge_run(
    connection: duckdb.DuckDBPyConnection,
    landing_files: dict[str, list[str]],
    file_reports: pa.Table,
    plan: ReadPlan,
    listed: list[str],
    run_started: datetime,
    pii: str = "keep",
) -> None:
    """Put what a run read into the state, in one transaction: the rows of each file read
    (`file_reports`) replace the file's earlier rows. `landing_files` are the run's landing
    Parquet files per table: the raw tables' become the state's parts (`transforms.state.parts`),
    the quarantine's and unclassified lines' are copied in (`sql/state/merge.sql`)."""
    folder, prefix = state_folder(connection), part_prefix(run_started)
    read_uris = file_reports.column("uri").to_pylist()
    connection.register("file_reports", file_reports)
    connection.execute("begin transaction")
    try:
        if plan.full_refresh:
            run_script(connection, "state/forget")
        known = {uri for (uri,) in connection.execute("select uri from manifest").fetchall()}
        drop_rows_of(connection, folder, [uri for uri in read_uris if uri in known], prefix)
        move_in(connection, folder, landing_files, read_uris, prefix)
        compact(connection, folder, prefix)
        set_variables(
            connection,
            {
                "read_uris": read_uris,
                "listed_uris": listed,
                "vanished_uris": plan.vanished,
                "retouched_uris": [file.uri for file in plan.retouched],
                "retouched_times": [file.modified_at for file in plan.retouched],
                "run_started": run_started,
                "pii": pii,
                "reader": reader_fingerprint(),
                "landing_quarantine": landing_files["quarantine"],
                "landing_unclassified": landing_files["unclassified"],
            },
        )
        run_script(connection, "state/merge")
        create_views(connection, folder)
        connection.execute("commit")
    except BaseException:
        connection.execute("rollback")
        # the run's files moved in before the failure are listed nowhere: not left behind
        collect_garbage(connection, folder)
        raise
    finally:
        connection.unregister("file_reports")
    collect_garbage(connection, folder)
