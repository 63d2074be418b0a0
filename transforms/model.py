"""Build the warehouse from the state the runs have read into: de-duplicate, resolve
identities, and model the raw tables, `messages` and the metrics (SPEC 3, 4 and 5) with the
SQL in `sql/models`."""

from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from transforms.schema import comment_statements, create_table_sql, table_columns
from transforms.sql import connect, run_model, run_script, set_variables
from transforms.tables import TABLES, ErrorCodes

SEED_DIR = Path(__file__).resolve().parents[1] / "data" / "seeds"
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
    memory_limit: str = "800MB"


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
