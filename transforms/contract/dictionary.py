"""The data dictionary of the warehouse, as Markdown, from the table models: the same text
that `COMMENT ON` stores in the warehouse (`docs/data-dictionary.md` is this, committed)."""

from transforms.contract.columns import Provenance, Table
from transforms.contract.schema import column_descriptions, table_columns, table_description
from transforms.contract.tables import TABLES

INTRODUCTION = """\
# Data dictionary

Every table of the warehouse (`data/warehouse.duckdb`) and of the Parquet export
(`<export>/<table>/`), with every column. The same descriptions are stored in the warehouse:
`select table_name, comment from duckdb_tables() where schema_name = 'main'` and `select
table_name, column_name, comment from duckdb_columns()`. (The schema `wa_etl_build` holds
the tool's own record of what built the file, the hashes of the tracking keys and wamids
its rows hold, which the next night's update probes first, and the rows the last update
added on the days it only added to.) Generated from
`transforms/contract/tables.py` by `wa-etl dictionary --out docs/data-dictionary.md`; do not edit by
hand.

All times are UTC (`TIMESTAMP WITH TIME ZONE`). In the export, a table with a day is
partitioned `day=YYYY-MM-DD` (read it with `hive_partitioning`); a day's partition may hold
several files (a night that only adds rows to a day adds a file), read them together.
"""


def _partitioning(table: type[Table]) -> str:
    if table.day_column is None:
        return "one file, `data.parquet`"
    if table.day_column == "day":
        return "partitioned by `day`"
    return f"partitioned `day=` by the UTC date of `{table.day_column}`"


def _table_section(name: str, table: type[Table]) -> str:
    types = table_columns(table)
    rows = "\n".join(
        f"| `{column}` | {types[column]} | {description} |"
        for column, description in column_descriptions(table)
    )
    provenance = (
        "\nThe last five columns say where each row came from.\n"
        if issubclass(table, Provenance)
        else ""
    )
    return (
        f"## `{name}`\n\n{table_description(table)}\n\nExport: {_partitioning(table)}.\n"
        f"{provenance}\n| column | type | description |\n|---|---|---|\n{rows}\n"
    )


def data_dictionary() -> str:
    """Every table and column of the warehouse, as Markdown."""
    sections = "\n".join(_table_section(name, table) for name, table in TABLES.items())
    contents = "\n".join(f"- [`{name}`](#{name})" for name in TABLES)
    return f"{INTRODUCTION}\n{contents}\n\n{sections}"
