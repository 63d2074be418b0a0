"""Build the warehouse from the state the runs have read into: de-duplicate, resolve
identities, and model the raw tables, `messages` and the metrics (contract §3, §4 and §5) with the
SQL in `sql/models`.

A night that adds files updates the previous warehouse instead of building anew (`sql/
increment`): it finds every message the new events can change (their tracking keys and
wamids, closed over the links the state's events make), takes those messages' rows out, runs
the same models over just their landing rows, judges again the replies of their customers,
and counts the metrics again on the days that changed. Anything else (another version or
setting, a file read again or forgotten) builds anew; either way the tables are the same
(tests/transforms/test_update.py).
"""

import hashlib
import logging
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
from pydantic import BaseModel, ByteSize, TypeAdapter

from transforms.catalogue import ERROR_CODES
from transforms.parts import create_new_row_views, create_row_views
from transforms.schema import comment_statements, table_columns, table_ddl
from transforms.sql import (
    PARTITION_FLUSH_ROWS,
    SQL_DIR,
    STORAGE_VERSION,
    connect,
    run_insert_kept,
    run_model,
    run_query_into,
    run_script,
    scalar,
    set_variables,
    sql_text,
)
from transforms.tables import TABLES, ErrorCodes

# memory allowed per outbound event in a part of `message_lifecycle` (sql/models/
# outbound_buckets.sql): 1,000,000 events a part under the 800 MB default limit, about 230,000
# messages, whose aggregate takes about 150 MB (300,000 messages ran out of 190 MB)
BUCKET_BYTES_PER_EVENT = 800
BUCKET_FLUSH_ROWS = 16_384
# Run in this order: each reads the tables the ones before it made.
ROW_MODELS = (
    "models/message_keys",
    "models/outbound_events",
    "models/message_lifecycle",
    "models/message_senders",
    "models/accepted",
    "models/template_sends",
    "models/statuses",
    "models/replies",
    "models/errors",
    "models/as_of",
    "models/attributed_replies",
    "models/messages",
)
METRIC_MODELS = (
    "models/delivery_daily",
    "models/error_breakdown",
    "models/rate_limit_incidents",
    "models/quarantine",
    "models/unclassified",
    "models/ingest_files",
)
MODELS = ("models/error_codes", *ROW_MODELS, *METRIC_MODELS)
# the metric models an update runs on the days that changed (the others run whole)
DAY_METRICS = {
    "models/delivery_daily": "delivery_daily",
    "models/error_breakdown": "error_breakdown",
}
# the tables an update writes again day by day (`increment/remove` and `increment/rebuilt`)
UPDATED_BY_DAY = (
    "accepted",
    "template_sends",
    "statuses",
    "replies",
    "errors",
    "messages",
    "delivery_daily",
    "error_breakdown",
)
# of those, the tables whose rows an update may only add to a day: their added rows are kept
# (`wa_etl_build.added_<table>`) for the export to append to the day's partition
APPENDABLE = ("accepted", "template_sends", "statuses", "replies", "errors", "messages")

log = logging.getLogger(__name__)


class BuildSettings(BaseModel):
    """What the models need beyond the data: the run's start and as-of time (contract §4; by
    default the newest event not after the start) and the contract §4 and §5 windows."""

    run_started: datetime
    as_of: datetime | None = None
    reply_window_hours: int = 24
    report_missing_hours: int = 24
    incident_gap_seconds: int = 300
    threads: int = 2
    memory_limit: str = "800MB"
    run_id: str = ""
    # where the build writes its passing files (the system's temporary folder if None)
    scratch_dir: Path | None = None


class Built(BaseModel):
    """How the warehouse was built: anew, or by updating the previous one; and, on an update,
    the days each day-partitioned table changed on (a table not named changed whole), and of
    those the days it only gained rows on, which `wa_etl_build.added_<table>` holds."""

    updated: bool
    changed_days: dict[str, list[date]] = {}
    appended_days: dict[str, list[date]] = {}
    previous_run_id: str | None = None


def build_fingerprint(settings: BuildSettings) -> str:
    """What a warehouse's tables depend on besides the state: the models, the catalogue, the
    tables' columns, the windows and DuckDB's version. A warehouse built under another
    fingerprint is built anew, never updated."""
    digest = hashlib.sha256()
    for path in sorted([*SQL_DIR.glob("models/*.sql"), *SQL_DIR.glob("increment/*.sql")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(ERROR_CODES.read_bytes())
    for name, table in TABLES.items():
        digest.update(table_ddl(name, table).encode())
    windows = settings.model_dump(include={"reply_window_hours", "report_missing_hours"})
    windows["incident_gap_seconds"] = settings.incident_gap_seconds
    digest.update(repr(sorted(windows.items())).encode() + duckdb.__version__.encode())
    digest.update(STORAGE_VERSION.encode())
    return digest.hexdigest()


StepHook = Callable[[str, int], None]
"""Told each step of the build as it begins: its name and how many steps the build has."""


class _Steps:
    """The steps of a build, told one by one to its hook (the night's progress)."""

    def __init__(self, hook: StepHook | None, total: int) -> None:
        self._hook = hook
        self._total = total

    def __call__(self, name: str) -> None:
        if self._hook is not None:
            self._hook(name, self._total)


# the steps of a full build, and those of an update besides its row and metric models
ANEW_STEPS = 4 + len(("models/error_codes", *ROW_MODELS, *METRIC_MODELS))
UPDATE_STEPS = 13 + len(ROW_MODELS) + len(METRIC_MODELS)


def build_warehouse(
    database: Path,
    state: Path,
    settings: BuildSettings,
    previous: Path | None = None,
    *,
    copied: bool = False,
    on_step: StepHook | None = None,
) -> Built:
    """Write every table of the warehouse into a new DuckDB file at `database`, from the
    state the runs have read into: by updating a copy of the `previous` warehouse when it
    can be, else anew. With `copied`, `database` already holds that copy (the flow makes it
    while the night reads its files); it is replaced when the warehouse is built anew.
    `on_step` is told each step as it begins."""
    fingerprint = build_fingerprint(settings)
    if previous is not None and previous.exists():
        if not copied:
            shutil.copyfile(previous, database)
            copied = True
        update = _update(database, state, settings, fingerprint, _Steps(on_step, UPDATE_STEPS))
        if update is not None:
            return update
    if copied:
        database.unlink()  # a copy that cannot be updated
    _build_anew(database, state, settings, fingerprint, _Steps(on_step, ANEW_STEPS))
    return Built(updated=False)


def _connect(database: Path, state: Path, settings: BuildSettings) -> duckdb.DuckDBPyConnection:
    connection = connect(
        str(database), threads=settings.threads, memory_limit=settings.memory_limit
    )
    connection.execute("attach $state as state (read_only)", {"state": str(state)})
    run_script(connection, "models/macros")
    set_variables(
        connection,
        {
            "reply_window_hours": settings.reply_window_hours,
            "report_missing_hours": settings.report_missing_hours,
            "incident_gap_seconds": settings.incident_gap_seconds,
            "rebuild_days": None,
        },
    )
    return connection


def _parameters(settings: BuildSettings) -> dict[str, dict[str, Any]]:
    return {
        "models/error_codes": {
            "seed_path": str(ERROR_CODES),
            "columns": table_columns(ErrorCodes),
        },
        "models/as_of": {"as_of": settings.as_of, "run_started": settings.run_started},
    }


def _finish(
    connection: duckdb.DuckDBPyConnection, settings: BuildSettings, fingerprint: str, updated: bool
) -> None:
    run_model(
        connection,
        "increment/record",
        {
            "fingerprint": fingerprint,
            "run_id": settings.run_id,
            "built_at": datetime.now(UTC),
            "updated": updated,
        },
    )
    connection.execute("detach state")
    connection.execute("checkpoint")


def _build_anew(
    database: Path, state: Path, settings: BuildSettings, fingerprint: str, step: _Steps
) -> None:
    connection = _connect(database, state, settings)
    try:
        step("tables")
        for name, table in TABLES.items():
            connection.execute(table_ddl(name, table))
            for statement in comment_statements(name, table):
                connection.execute(statement)
        run_script(connection, "models/landing")
        step("models/deduplicated")
        run_script(connection, "models/deduplicated")
        parameters = _parameters(settings)
        for model in MODELS:
            step(model)
            _run_model(connection, model, parameters.get(model), settings)
        step("link hashes")
        _add_link_hashes(connection, "")
        step("checkpoint")
        _finish(connection, settings, fingerprint, updated=False)
    finally:
        connection.close()


def _run_model(
    connection: duckdb.DuckDBPyConnection,
    model: str,
    parameters: dict[str, Any] | None,
    settings: BuildSettings,
) -> None:
    if model == "models/message_lifecycle":
        memory = TypeAdapter(ByteSize).validate_python(settings.memory_limit)
        _message_lifecycle(connection, memory // BUCKET_BYTES_PER_EVENT, settings.scratch_dir)
    else:
        run_script(connection, model, parameters)


def _message_lifecycle(
    connection: duckdb.DuckDBPyConnection, events_per_bucket: int, scratch: Path | None
) -> None:
    """`message_lifecycle`, aggregated one part of the messages at a time: the outbound events
    are written to Parquet by message (`sql/models/outbound_buckets.sql`), about
    `events_per_bucket` in each part, each part read as `lifecycle_bucket`."""
    events = scalar(connection, sql_text("models/outbound_estimate"))
    buckets = max(1, -(-int(events) // max(events_per_bucket, 1)))
    with tempfile.TemporaryDirectory(prefix="lifecycle-", dir=scratch) as folder:
        # every part buffers rows per thread until it writes them: fewer than the export's, or
        # the parts' buffers beside the de-duplication's hash tables outgrew a 200 MB limit
        connection.execute(f"set partitioned_write_flush_threshold = {BUCKET_FLUSH_ROWS}")
        run_model(connection, "models/outbound_buckets", {"target": folder, "buckets": buckets})
        connection.execute(f"set partitioned_write_flush_threshold = {PARTITION_FLUSH_ROWS}")
        parts = [
            connection.read_parquet(sorted(str(file) for file in bucket.glob("*.parquet")))
            for bucket in sorted(Path(folder).iterdir())
        ]
        # no outbound events at all: the (empty) events themselves
        for index, part in enumerate(parts or [connection.view("outbound_events")]):
            part.create_view("lifecycle_bucket", replace=True)
            run_query_into(
                connection, "models/message_lifecycle", "message_lifecycle", append=index > 0
            )
        connection.execute("drop view lifecycle_bucket")


def _add_link_hashes(connection: duckdb.DuckDBPyConnection, rows_prefix: str) -> None:
    """Add the hashes of the keys and wamids of the tables named `<rows_prefix><table>` (the
    warehouse's own, or the rows an update put back) to `wa_etl_build.link_hashes`."""
    set_variables(connection, {"link_rows_prefix": rows_prefix})
    run_script(connection, "increment/link_hashes")


def _keep_added_rows(connection: duckdb.DuckDBPyConnection) -> dict[str, list[date]]:
    """Keep, per appendable table, the rows the update added on the days it only added to
    (`increment/appended_days`, `increment/added`) as `wa_etl_build.added_<table>`, replacing
    the previous update's; those days, by table."""
    run_script(connection, "increment/appended_days")
    for name in APPENDABLE:
        kept = f"wa_etl_build.added_{name}"
        connection.execute(f"create or replace table {kept} as from {name} limit 0")
        set_variables(connection, {"added_table": name, "day_column": TABLES[name].day_column})
        run_query_into(connection, "increment/added", kept, append=True)
    days = dict(
        connection.execute(
            "select table_name, list(day order by day) from appended_days group by table_name"
        ).fetchall()
    )
    return {name: list(days.get(name, [])) for name in APPENDABLE}


def _affected(connection: duckdb.DuckDBPyConnection) -> int:
    return int(
        scalar(
            connection,
            "select (select count(*) from affected_keys) + (select count(*) from affected_wamids)",
        )
    )


def _update(
    database: Path, state: Path, settings: BuildSettings, fingerprint: str, step: _Steps
) -> Built | None:
    """Update the copy of the previous warehouse at `database` to the state; the days each
    table changed on, and the run that built the previous one. None, untouched, when the
    copy cannot be updated."""
    connection = _connect(database, state, settings)
    try:
        recorded = scalar(
            connection,
            "select count(*) from duckdb_tables() where database_name = current_database()"
            " and schema_name = 'wa_etl_build' and table_name = 'info'",
        )
        if not recorded:
            log.info("the previous warehouse does not say what built it: building anew")
            return None
        ((same_build, lost_files),) = connection.execute(
            sql_text("increment/applicable"), {"fingerprint": fingerprint}
        ).fetchall()
        if not same_build or lost_files:
            log.info(
                "building anew: %s",
                "another version or setting built the previous warehouse"
                if not same_build
                else f"{lost_files} of its files were read again or forgotten",
            )
            return None
        previous_run_id = str(scalar(connection, "select run_id from wa_etl_build.info"))
        step("increment/new_files")
        create_row_views(connection, state.parent, "state")
        run_model(connection, "increment/new_files")
        create_new_row_views(connection, state.parent)
        step("increment/seeds")
        run_script(connection, "increment/seeds")
        step("increment/found")
        run_script(connection, "increment/found")
        step("increment/hits")
        while True:
            before = _affected(connection)
            run_model(connection, "increment/hits")
            run_script(connection, "increment/grow")
            if _affected(connection) == before:
                break
        step("increment/landing")
        run_script(connection, "increment/landing")
        step("increment/remove")
        run_script(connection, "increment/remove")
        step("models/deduplicated")
        run_script(connection, "models/deduplicated")
        parameters = _parameters(settings)
        for model in ROW_MODELS:
            step(model)
            table = model.removeprefix("models/")
            if table in UPDATED_BY_DAY:
                # what is rebuilt, beside what was taken out, tells the days that changed
                run_insert_kept(connection, model, f"inserted_{table}")
            else:
                _run_model(connection, model, parameters.get(model), settings)
        step("link hashes")
        _add_link_hashes(connection, "inserted_")
        step("increment/rebuilt")
        run_script(connection, "increment/rebuilt")
        step("increment/reply_scope")
        run_script(connection, "increment/reply_scope")
        run_model(connection, "models/attributed_replies")
        step("increment/reattributed")
        run_script(connection, "increment/reattributed")
        for model in METRIC_MODELS:
            step(model)
            if model in DAY_METRICS:
                connection.execute(
                    "set variable rebuild_days = (select coalesce(list(distinct day), []::date[])"
                    " from changed_days where table_name = $table)",
                    {"table": DAY_METRICS[model]},
                )
            run_model(connection, model, parameters.get(model))
        step("increment/added")
        appended = _keep_added_rows(connection)
        changed = connection.execute(
            "select table_name, list(distinct day order by day) from changed_days"
            " where day is not null group by table_name"
        ).fetchall()
        step("checkpoint")
        _finish(connection, settings, fingerprint, updated=True)
        days = dict(changed)
        return Built(
            updated=True,
            changed_days={name: list(days.get(name, [])) for name in UPDATED_BY_DAY},
            appended_days=appended,
            previous_run_id=previous_run_id,
        )
    finally:
        connection.close()
