"""The landing rows a reading task writes: the raw tables' rows of each batch, masked and
counted per file (`flush_landing`), and the quarantined and unclassified lines of its files
(`write_line_tables`), as Parquet files named after the task.
"""

from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from transforms.contract.raw_tables import RAW_TABLES
from transforms.contract.schema import arrow_schema, landing_columns, table_columns
from transforms.contract.tables import Quarantine, Unclassified
from transforms.ingest.batch import FileTally
from transforms.ingest.personal import PiiMode, masked_digits
from transforms.source.discover import ArchiveFile
from transforms.sql import rendered


@dataclass
class LandingOutput:
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


def flush_landing(
    connection: duckdb.DuckDBPyConnection,
    output: LandingOutput,
    tallies: list[FileTally],
    file_indexes: dict[str, int],
) -> None:
    """Write the landing rows of a batch to Parquet, one file per table, and count them per
    file (`file_indexes` gives each file's place by its name). Personal data is masked before
    anything is written."""
    for statement in output.masks:
        connection.execute(statement)
    for table in RAW_TABLES:
        query = rendered("ingest/landing_rows", {"table": table})
        rows = connection.sql(query).to_arrow_table()
        if not rows.num_rows:
            continue
        for per_file in rows.group_by("source_file").aggregate([([], "count_all")]).to_pylist():
            tallies[file_indexes[per_file["source_file"]]].rows[table] += per_file["count_all"]
        schema = _landing_schema(table)
        output.write(table, rows.select(schema.names).cast(schema))


@cache
def _landing_schema(table: str) -> pa.Schema:
    return arrow_schema(landing_columns(RAW_TABLES[table]))


def _write_line_table(rows: list[dict[str, object]], table: type, target: Path) -> None:
    if not rows:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    schema = arrow_schema(table_columns(table))
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), target, compression="zstd")


def _line_row(
    row: dict[str, object], file: ArchiveFile, ingested_at: datetime, pii: PiiMode
) -> dict[str, object]:
    """A quarantined or unclassified line's row. Under pii=hash|drop a line that is no event
    cannot be masked field by field: its text is withheld, and its reason (which may name a
    key that is a number) has its long digit runs masked."""
    if pii != "keep":
        row = {**row, "raw": None, "reason": masked_digits(str(row["reason"]))}
    return {**row, "source_file": file.uri, "ingested_at": ingested_at}


def write_line_tables(
    files: list[ArchiveFile],
    tallies: list[FileTally],
    landing_dir: Path,
    name: str,
    ingested_at: datetime,
    pii: PiiMode,
) -> None:
    """Write the quarantined and the unclassified lines of a task's files (their `tallies`)
    to `<landing_dir>/quarantine/<name>.parquet` and `<landing_dir>/unclassified/<name>.parquet`
    (none when there are none)."""
    quarantine = [
        _line_row(row, file, ingested_at, pii)
        for file, tally in zip(files, tallies, strict=True)
        for row in tally.quarantine
    ]
    unclassified = [
        _line_row(row, file, ingested_at, pii)
        for file, tally in zip(files, tallies, strict=True)
        for row in tally.unclassified
    ]
    _write_line_table(quarantine, Quarantine, landing_dir / "quarantine" / f"{name}.parquet")
    _write_line_table(unclassified, Unclassified, landing_dir / "unclassified" / f"{name}.parquet")
