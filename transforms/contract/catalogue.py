"""The error catalogue (contract §6), kept as data: `data/seeds/error_codes.csv`, read by polars
with the schema of the `error_codes` table's model, every row validated by the model, and
loaded into the warehouse by `sql/build/marts/error_codes.sql`."""

from functools import cache
from pathlib import Path

import polars as pl
from pydantic import TypeAdapter, ValidationError

from transforms.contract.schema import polars_schema, table_columns
from transforms.contract.tables import ErrorCodes

SEED_DIR = Path(__file__).resolve().parents[2] / "data" / "seeds"
ERROR_CODES = SEED_DIR / "error_codes.csv"


class CatalogueError(ValueError):
    """The catalogue file is not what the `error_codes` table holds."""


@cache
def error_catalogue() -> pl.DataFrame:
    """The catalogue's rows. A person edits the file: a row that is not a valid `error_codes`
    row, or a code listed twice, stops the build with the line at fault."""
    try:
        frame = pl.read_csv(
            ERROR_CODES, schema=polars_schema(table_columns(ErrorCodes)), null_values=[""]
        )
    except pl.exceptions.PolarsError as error:
        raise CatalogueError(f"{ERROR_CODES.name}: {error}") from None
    rows = frame.to_dicts()
    for line, row in enumerate(rows, start=2):
        try:
            TypeAdapter(ErrorCodes).validate_python(row, strict=True)
        except ValidationError as error:
            faults = "; ".join(
                f"{'.'.join(map(str, fault['loc']))}: {fault['msg']}" for fault in error.errors()
            )
            raise CatalogueError(f"{ERROR_CODES.name}, line {line}: {faults}") from None
    repeated = frame.filter(pl.col("code").is_duplicated())["code"].unique().sort().to_list()
    if repeated:
        raise CatalogueError(f"{ERROR_CODES.name}: codes listed more than once: {repeated}")
    return frame


@cache
def catalogue_codes() -> frozenset[str]:
    """The catalogue's codes as text: a digit run that is one is not masked as a number."""
    return frozenset(str(code) for code in error_catalogue()["code"])
