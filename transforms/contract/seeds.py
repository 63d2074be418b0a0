"""Data files a person edits (the error catalogue, the rate card, the market map): read by
polars with the schema of their table's model, every row validated by the model, so that a
wrong row stops the run naming its file and line, never a build half-way."""

from pathlib import Path

import polars as pl
from pydantic import TypeAdapter, ValidationError

from transforms.contract.columns import Table
from transforms.contract.schema import polars_schema, table_columns

SEED_DIR = Path(__file__).resolve().parents[2] / "data" / "seeds"


class SeedError(ValueError):
    """A data file is not what its table holds."""


def seed_rows(
    path: Path,
    table: type[Table],
    unique: tuple[str, ...],
    normal: dict[str, pl.Expr] | None = None,
) -> pl.DataFrame:
    """The file's rows, each a valid row of `table`, with the columns of `normal` in their
    normal form, no two alike on the columns `unique`."""
    try:
        frame = pl.read_csv(path, schema=polars_schema(table_columns(table)), null_values=[""])
    except (OSError, pl.exceptions.PolarsError) as error:
        raise SeedError(f"{path.name}: {str(error).splitlines()[0]}") from None
    adapter = TypeAdapter(table)
    for line, row in enumerate(frame.to_dicts(), start=2):
        try:
            adapter.validate_python(row, strict=True)
        except ValidationError as error:
            faults = "; ".join(
                f"{'.'.join(map(str, fault['loc']))}: {fault['msg']}" for fault in error.errors()
            )
            raise SeedError(f"{path.name}, line {line}: {faults}") from None
    frame = frame.with_columns(**(normal or {}))
    repeated = frame.filter(pl.struct(unique).is_duplicated()).select(unique).unique()
    if repeated.height:
        listed = ", ".join(
            "/".join(str(value) for value in row) for row in repeated.sort(unique).rows()
        )
        raise SeedError(f"{path.name}: {', '.join(unique)} listed more than once: {listed}")
    return frame
