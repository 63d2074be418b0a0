"""The building blocks of the warehouse's table models (contract §5): columns, plain,
personal or built; the base every table model derives from, with what the pipeline needs to
know of a table (the column it is partitioned on by day, how an update treats it); and the
columns every event row and every landing row carries.

The class docstring is a table's description and each field's description is the column's;
`transforms.contract.schema` derives the DuckDB DDL, the Arrow and polars schemas, the
`COMMENT ON` statements and the data dictionary from the models, so a column is declared only
in its model.
"""

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field


def col(description: str) -> Any:
    return Field(default=None, description=description)


def personal_col(description: str, kind: str, json_text: bool = False) -> Any:
    """A column of personal data (`transforms.ingest.personal`): a customer's phone number or
    business-scoped user id (`number`: kept, hashed or dropped), a message id, which encodes
    the recipient's number (`message_id`: kept or hashed), a text a customer wrote or was sent
    (`text`: kept or dropped), a free text that may quote a number (`free_text`: kept, or
    its long digit runs masked), an element's JSON (`payload`: masked as it is read), or an
    identity digest that may hold any of them (`digest`: kept or keyed-hashed). A `json_text`
    column holds a JSON document per row: stored compressed with zstd (see `JSON_TEXT`)."""
    extra: dict[str, Any] = {"personal": kind}
    if json_text:
        extra["compression"] = JSON_TEXT
    return Field(default=None, description=description, json_schema_extra=extra)


# How DuckDB stores a column of JSON documents: its default string compression (FSST) took
# twice the time for a third of the ratio (docs/performance.md, "What payload_json costs").
JSON_TEXT = "zstd"


def built_col(description: str) -> Any:
    """A column the build derives from other tables; landing rows do not have it."""
    return Field(default=None, description=description, json_schema_extra={"built": True})


OnUpdate = Literal["by_message", "by_day", "whole", "kept", "published"]
"""How a night that updates the previous warehouse treats a table: `by_message`, the rows of
the messages the new events touch are taken out and built again (the days they change are
written again in the export, or appended to when they only gained rows); `by_day`, counted
again on the days its inputs changed; `whole`, built again whole; `kept`, left as it was (what
it depends on is in the build's fingerprint); `published`, written by the publish, not built."""


class Table(BaseModel):
    """Base of the warehouse tables: `day_column` names the column the export partitions on;
    `on_update` says how an update treats the table. A table the build writes is the query of
    `sql/build/marts/<table>.sql`."""

    day_column: ClassVar[str | None] = None
    on_update: ClassVar[OnUpdate] = "whole"


class Provenance(Table):
    event_time: datetime = col(
        "When the event happened (UTC): the payload's timestamp, else the envelope's "
        "received_at, else (API errors and accepted events) the time of the message's first "
        "template send, else the hour or day in the file path, else the file's modification time"
    )
    event_time_source: str = col(
        "Where event_time came from: payload, envelope, message, path or file"
    )
    source_file: str = col("URI of the archive file the event was read from (its first copy)")
    line_no: int = col("1-based line number of the event in source_file")
    ingested_at: datetime = col("When the nightly run first read source_file (UTC)")
    day_column: ClassVar[str | None] = "event_time"
    on_update: ClassVar[OnUpdate] = "by_message"


class Landing(Table):
    """Columns every landing row carries until the build resolves identities: landing rows are
    the raw tables' rows of one archive file, before de-duplication."""

    dedupe_key: str = personal_col(
        "What the row is unique on (contract §3 duplicates), as JSON", "digest"
    )
    seq: int = col("Position of the row among the rows of its line")
    envelope_sender: str | None = col("Business number from the line's envelope, digits")
    path_sender: str | None = col("Business number from the file path (sender=), digits")
