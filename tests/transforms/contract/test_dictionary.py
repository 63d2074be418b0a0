"""The data dictionary: generated from the table models, committed as docs/data-dictionary.md,
and stored in the warehouse as comments."""

from pathlib import Path

from tests.conftest import Warehouse, archive_file, fixture_line
from transforms.contract.dictionary import data_dictionary
from transforms.contract.schema import column_descriptions, table_description
from transforms.contract.tables import TABLES

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_the_committed_dictionary_is_the_generated_one() -> None:
    assert (DOCS / "data-dictionary.md").read_text(encoding="utf-8") == data_dictionary(), (
        "docs/data-dictionary.md is stale: run `make docs`"
    )


def test_every_table_and_column_is_described_in_the_dictionary() -> None:
    text = data_dictionary()
    for name, table in TABLES.items():
        assert f"## `{name}`" in text
        for column, description in column_descriptions(table):
            assert f"| `{column}` |" in text and description in text


def test_the_warehouse_stores_the_same_descriptions(tmp_path: Path, build: object) -> None:
    archive_file(tmp_path / "a", "a.jsonl", [fixture_line("vendor/status_delivered")])
    warehouse: Warehouse = build(tmp_path / "a")  # type: ignore[operator]
    tables = {
        row["table_name"]: row["comment"]
        for row in warehouse.rows(
            "select table_name, comment from duckdb_tables() where schema_name = 'main'"
        )
    }
    assert tables == {name: table_description(table) for name, table in TABLES.items()}
    columns = {
        (row["table_name"], row["column_name"]): row["comment"]
        for row in warehouse.rows(
            "select table_name, column_name, comment from duckdb_columns() where not internal and schema_name = 'main'"
        )
    }
    assert columns == {
        (name, column): description
        for name, table in TABLES.items()
        for column, description in column_descriptions(table)
    }
