"""Table schemas for DuckDB, Arrow and polars, derived from the table models
(`transforms.contract.tables`): the DDL with its columns' compression, the `comment on`
statements of their descriptions, and the Arrow and polars schemas of their rows.

Nothing here is written twice: the read schema of the archive's lines comes from the event
models (`transforms.contract.read_schema`). Arrow and polars get explicit types, because
both silently drop keys that first appear after their inference sample.
"""

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import get_args, get_origin

import polars as pl
import pyarrow as pa
from pydantic.fields import FieldInfo

from transforms.contract.columns import Landing, Provenance, Table
from transforms.contract.fields import unannotated

_SQL_TYPES: dict[type, str] = {
    str: "VARCHAR",
    int: "BIGINT",
    float: "DOUBLE",
    bool: "BOOLEAN",
    datetime: "TIMESTAMPTZ",
    date: "DATE",
    # money: USD to the millionth of a cent's hundredth, summed exactly
    Decimal: "DECIMAL(18,6)",
}
_ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
    "DATE": pa.date32(),
    "DECIMAL(18,6)": pa.decimal128(18, 6),
}
_POLARS_TYPES: dict[str, pl.DataType] = {
    "VARCHAR": pl.String(),
    "BIGINT": pl.Int64(),
    "DOUBLE": pl.Float64(),
    "BOOLEAN": pl.Boolean(),
    "TIMESTAMPTZ": pl.Datetime("us", "UTC"),
    "DATE": pl.Date(),
    "DECIMAL(18,6)": pl.Decimal(18, 6),
}


def _sql_type(field: FieldInfo) -> str:
    annotation, _ = unannotated(field.annotation, list(field.metadata))
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        return f"{_SQL_TYPES[item]}[]"
    return _SQL_TYPES[annotation]


def _columns_in_order(table: type[Table]) -> list[tuple[str, FieldInfo]]:
    """The table's own columns first, then the provenance columns it inherits."""
    fields = list(table.model_fields.items())
    if not issubclass(table, Provenance):
        return fields
    return sorted(fields, key=lambda item: item[0] in Provenance.model_fields)


def table_columns(table: type[Table]) -> dict[str, str]:
    """Column name to DuckDB type: own columns first, provenance columns last."""
    return {name: _sql_type(field) for name, field in _columns_in_order(table)}


def landing_columns(table: type[Table]) -> dict[str, str]:
    """Columns of a raw table's landing rows: those not built later, then `Landing`'s."""
    built = {
        name
        for name, field in table.model_fields.items()
        if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("built")
    }
    own = {name: kind for name, kind in table_columns(table).items() if name not in built}
    return own | table_columns(Landing)


def column_descriptions(table: type[Table]) -> Iterator[tuple[str, str]]:
    for name, field in _columns_in_order(table):
        yield name, field.description or ""


def table_description(table: type[Table]) -> str:
    return " ".join((table.__doc__ or "").split())


def column_compression(table: type[Table]) -> dict[str, str]:
    """The columns DuckDB stores with a compression of the table's choosing (`compression`
    in a field's extras), by name; the others take DuckDB's own."""
    return {
        name: str(field.json_schema_extra["compression"])
        for name, field in table.model_fields.items()
        if isinstance(field.json_schema_extra, dict) and "compression" in field.json_schema_extra
    }


def create_table_sql(
    name: str, columns: dict[str, str], compression: dict[str, str] | None = None
) -> str:
    chosen = compression or {}
    listed = ",\n    ".join(
        f"{column} {kind}" + (f" using compression {chosen[column]}" if column in chosen else "")
        for column, kind in columns.items()
    )
    return f"create table {name} (\n    {listed}\n)"


def table_ddl(name: str, table: type[Table]) -> str:
    """`create table` of a warehouse table, with its columns' compression."""
    return create_table_sql(name, table_columns(table), column_compression(table))


def _arrow_type(kind: str) -> pa.DataType:
    if kind.endswith("[]"):
        return pa.list_(_arrow_type(kind[:-2]))
    return _ARROW_TYPES[kind]


def _polars_type(kind: str) -> pl.DataType:
    if kind.endswith("[]"):
        return pl.List(_polars_type(kind[:-2]))
    return _POLARS_TYPES[kind]


def arrow_schema(columns: dict[str, str]) -> pa.Schema:
    return pa.schema([(column, _arrow_type(kind)) for column, kind in columns.items()])


def polars_schema(columns: dict[str, str]) -> pl.Schema:
    return pl.Schema({column: _polars_type(kind) for column, kind in columns.items()})


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def comment_statements(name: str, table: type[Table]) -> list[str]:
    """`comment on` statements that store the table's and its columns' descriptions."""
    statements = [f"comment on table {name} is {_sql_literal(table_description(table))}"]
    statements += [
        f"comment on column {name}.{column} is {_sql_literal(description)}"
        for column, description in column_descriptions(table)
    ]
    return statements
