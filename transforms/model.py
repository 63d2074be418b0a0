"""Build the warehouse from the state the runs have read into: de-duplicate, resolve
identities, and model the raw tables, `messages` and the metrics (SPEC 3, 4 and 5) with the
SQL in `sql/models`."""

from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from transforms.flatten import FileReport
from transforms.schema import (
    arrow_schema,
    comment_statements,
    create_table_sql,
    landing_columns,
    table_columns,
)
from transforms.sql import connect, run_model, run_script, set_variables
from transforms.tables import (
    RAW_TABLES,
    TABLES,
    ErrorCodes,
    IngestFiles,
    Quarantine,
    Unclassified,
)

SEED_DIR = Path(__file__).resolve().parents[1] / "data" / "seeds"
LANDING_LINE_TABLES = {"quarantine": Quarantine, "unclassified": Unclassified}
# Run in this order: each reads the tables the ones before it made.
MODELS = (
    "models/error_codes",
    "models/message_keys",
    "models/outbound_events",
    "models/message_senders",
    "models/accepted",
    "models/template_sends",
    "models/statuses",
    "models/replies",
    "models/errors",
    "models/as_of",
    "models/message_lifecycle",
    "models/attributed_replies",
    "models/messages",
    "models/delivery_daily",
    "models/error_breakdown",
    "models/rate_limit_incidents",
    "models/quarantine",
    "models/unclassified",
    "models/ingest_files",
)


class BuildSettings(BaseModel):
    """What the models need beyond the data: the run's start and as-of time (SPEC 4; by
    default the newest event not after the start) and the SPEC 4 and 5 windows."""

    run_started: datetime
    as_of: datetime | None = None
    reply_window_hours: int = 24
    report_missing_hours: int = 24
    incident_gap_seconds: int = 300
    threads: int = 2
    memory_limit: str = "2GB"


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
    """A run's landing Parquet files per state table (an empty file where a table has none)."""
    tables = {
        **{name: landing_columns(table) for name, table in RAW_TABLES.items()},
        **{name: table_columns(table) for name, table in LANDING_LINE_TABLES.items()},
    }
    return {name: landing_files(landing_dir, name, columns) for name, columns in tables.items()}


def build_warehouse(database: Path, state: Path, settings: BuildSettings) -> None:
    """Write every table of the warehouse into a new DuckDB file at `database`, from the
    state the runs have read into."""
    connection = connect(
        str(database), threads=settings.threads, memory_limit=settings.memory_limit
    )
    try:
        connection.execute("attach $state as state (read_only)", {"state": str(state)})
        run_script(connection, "models/macros")
        for name, table in TABLES.items():
            connection.execute(create_table_sql(name, table_columns(table)))
            for statement in comment_statements(name, table):
                connection.execute(statement)
        set_variables(
            connection,
            {
                "reply_window_hours": settings.reply_window_hours,
                "report_missing_hours": settings.report_missing_hours,
                "incident_gap_seconds": settings.incident_gap_seconds,
            },
        )
        run_script(connection, "models/landing")
        run_script(connection, "models/deduplicated")
        parameters: dict[str, dict[str, Any]] = {
            "models/error_codes": {
                "seed_path": str(SEED_DIR / "error_codes.csv"),
                "columns": table_columns(ErrorCodes),
            },
            "models/as_of": {"as_of": settings.as_of, "run_started": settings.run_started},
        }
        for model in MODELS:
            run_model(connection, model, parameters.get(model))
        connection.execute("detach state")
        connection.execute("checkpoint")
    finally:
        connection.close()
