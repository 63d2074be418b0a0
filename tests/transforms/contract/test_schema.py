"""Schemas derived from the pydantic models: DuckDB read types, table DDL, Arrow and polars
types, and the checks the SQL passes make (which must cover every field pydantic checks)."""

import re
from inspect import isclass
from typing import Any, get_args, get_origin

import duckdb
import polars as pl
import pyarrow as pa
from pydantic import BaseModel

from transforms.contract.events import Message, Status, WebhookBody
from transforms.contract.fields import unannotated, wire_name
from transforms.contract.macros import validation_macros, validity_macro_name
from transforms.contract.raw_tables import RAW_TABLES, Errors, Statuses
from transforms.contract.read_schema import line_read_columns, path_tree, read_columns, struct_type
from transforms.contract.schema import (
    arrow_schema,
    create_table_sql,
    landing_columns,
    polars_schema,
    table_columns,
)
from transforms.contract.tables import TABLES, Messages
from transforms.contract.wire import Wire
from transforms.ingest.passes import ELEMENT_MODELS, PASSES
from transforms.sql import declared_reads, run_script, sql_text


def test_read_columns_use_the_json_keys_and_read_every_scalar_as_text() -> None:
    columns = read_columns(Message)
    assert list(columns)[:7] == [
        "id",
        "message_status",
        "from",
        "from_user_id",
        "from_parent_user_id",
        "group_id",
        "timestamp",
    ]
    assert columns["timestamp"] == "VARCHAR"
    assert columns["contacts"] == "JSON"
    assert columns["context"] == (
        'STRUCT("from" VARCHAR, "id" VARCHAR, "forwarded" VARCHAR, "frequently_forwarded" VARCHAR, '
        '"referred_product" JSON)'
    )
    assert read_columns(Status)["errors"].endswith(")[]")


def test_a_projection_reads_only_the_paths_it_names() -> None:
    tree = path_tree(["key", "entry.changes.value.statuses.id", "entry.changes.field", "statuses?"])
    assert tree == {
        "key": None,
        "entry": {"changes": {"value": {"statuses": {"id": None}}, "field": None}},
        "statuses": {"?": None},
    }
    assert read_columns(WebhookBody, tree) == {
        "key": "VARCHAR",
        "entry": 'STRUCT("changes" STRUCT("field" VARCHAR, "value" STRUCT("statuses" STRUCT("id" VARCHAR)[]))[])[]',
        "statuses": "JSON",
    }
    assert path_tree(["entry?", "entry.changes"]) == {"entry": {"changes": None}}
    assert path_tree(["entry.changes", "entry"]) == {"entry": None}


def test_a_line_reads_its_fields_at_the_top_and_inside_the_envelope() -> None:
    columns = line_read_columns(["key"])
    assert columns == {
        "key": "VARCHAR",
        "received_at": "VARCHAR",
        "sender": "VARCHAR",
        "payload": 'STRUCT("key" VARCHAR)',
        "body": 'STRUCT("key" VARCHAR)',
    }


def test_every_read_schema_of_a_pass_is_valid_for_duckdb(tmp_path: Any) -> None:
    line = tmp_path / "line.jsonl"
    line.write_text('{"key": "k"}\n')
    for name in PASSES:
        columns = line_read_columns(declared_reads(name))
        rows = duckdb.execute(
            "select count(*) from read_json($path, columns = $columns)",
            {"path": str(line), "columns": columns},
        ).fetchall()
        assert rows == [(1,)]


def test_tables_are_created_as_their_models_declare() -> None:
    connection = duckdb.connect()
    for name, table in TABLES.items():
        connection.execute(create_table_sql(name, table_columns(table)))
    described = connection.execute(
        "select column_name, data_type from duckdb_columns() where table_name = 'statuses' "
        "order by column_index"
    ).fetchall()
    assert described[:3] == [("key", "VARCHAR"), ("message_id", "VARCHAR"), ("status", "VARCHAR")]
    assert described[-5:] == [
        ("event_time", "TIMESTAMP WITH TIME ZONE"),
        ("event_time_source", "VARCHAR"),
        ("source_file", "VARCHAR"),
        ("line_no", "BIGINT"),
        ("ingested_at", "TIMESTAMP WITH TIME ZONE"),
    ]
    assert dict(described)["billable"] == "BOOLEAN"
    assert set(table_columns(Statuses)) == set(Statuses.model_fields)


def test_landing_rows_lack_the_built_columns_and_carry_the_identity_columns() -> None:
    columns = landing_columns(Errors)
    assert (
        "category" not in columns and "is_rate_limit" not in columns and "retryable" not in columns
    )
    assert list(columns)[-4:] == ["dedupe_key", "seq", "envelope_sender", "path_sender"]
    assert set(landing_columns(Statuses)) - set(table_columns(Statuses)) == {
        "dedupe_key",
        "seq",
        "envelope_sender",
        "path_sender",
    }


def test_arrow_and_polars_types_follow_the_table_types() -> None:
    schema = arrow_schema(table_columns(Messages))
    assert schema.field("message_day").type == pa.date32()
    assert schema.field("first_event_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("first_error_code").type == pa.int64()
    assert schema.field("replied").type == pa.bool_()
    polars = polars_schema(table_columns(Messages))
    assert polars["first_event_at"] == pl.Datetime("us", "UTC")
    assert polars["message_day"] == pl.Date()


def test_every_table_and_column_is_described() -> None:
    for table in TABLES.values():
        assert (table.__doc__ or "").strip(), table
        for name, field in table.model_fields.items():
            assert (field.description or "").strip(), (table, name)


def _element_occurrences(
    model: type[BaseModel], path: str = ""
) -> list[tuple[str, type[BaseModel]]]:
    """Where the element models checked by the passes appear in a payload model."""
    found = []
    for name, field in model.model_fields.items():
        annotation, _ = unannotated(field.annotation, list(field.metadata))
        if get_origin(annotation) is list:
            annotation, _ = unannotated(get_args(annotation)[0], [])
        if not (isclass(annotation) and issubclass(annotation, BaseModel)):
            continue
        here = f"{path}.{wire_name(name, field)}".lstrip(".")
        if annotation in ELEMENT_MODELS:
            found.append((here, annotation))
        else:
            found += _element_occurrences(annotation, here)
    return found


def _constrained_outside_elements(model: type[BaseModel], path: str = "") -> list[str]:
    """Patterned or required fields of a payload model that no element model covers."""
    found = []
    for name, field in model.model_fields.items():
        annotation, metadata = unannotated(field.annotation, list(field.metadata))
        here = f"{path}.{wire_name(name, field)}".lstrip(".")
        wire = next((item for item in metadata if isinstance(item, Wire)), None)
        if field.is_required() or (wire is not None and wire.pattern):
            found.append(here)
        if get_origin(annotation) is list:
            annotation, _ = unannotated(get_args(annotation)[0], [])
        if (
            isclass(annotation)
            and issubclass(annotation, BaseModel)
            and annotation not in ELEMENT_MODELS
        ):
            found += _constrained_outside_elements(annotation, here)
    return found


def test_the_passes_check_every_field_pydantic_checks() -> None:
    """A line the bulk path accepts must be one pydantic accepts: every required or patterned
    field of a webhook body lies in an element a pass reads and checks with its model's
    macro, or is a line scalar that the `lines` pass checks."""
    occurrences = _element_occurrences(WebhookBody)
    assert sorted(occurrences, key=str) == sorted(
        [
            ("entry.changes.value.statuses", Status),
            ("entry.changes.value.messages", Message),
            ("entry.changes.value.errors", ELEMENT_MODELS[2]),
            ("messages", Message),
            ("statuses", Status),
            ("template", ELEMENT_MODELS[3]),
            ("error", ELEMENT_MODELS[2]),
            ("errors", ELEMENT_MODELS[2]),
        ],
        key=str,
    )
    for path, model in occurrences:
        checking = [
            name
            for name in PASSES
            if f"{validity_macro_name(model)}(" in sql_text(name)
            and any(path == read or path.startswith(f"{read}.") for read in declared_reads(name))
        ]
        assert checking, f"no pass reads {path} and checks it with {validity_macro_name(model)}"
    assert _constrained_outside_elements(WebhookBody) == ["timestamp"]
    # the line's own fields are checked by every pass that reads the line
    macros = sql_text("ingest/macros")
    assert "wire_unix_seconds(timestamp)" in macros and "wire_instant(received_at)" in macros
    # every pass reads its lines with `batch_lines`, whose `line` holds those checks
    batch_lines = macros[macros.index("macro batch_lines(") :].split(";")[0]
    assert "line_envelope(" in batch_lines
    for name in PASSES:
        assert {"key", "timestamp"} <= set(declared_reads(name)), name
        assert "batch_lines(" in sql_text(name) and "line.is_valid" in sql_text(name), name


def test_validity_macros_are_valid_sql_and_call_their_callees_first(tmp_path: Any) -> None:
    statements = validation_macros(ELEMENT_MODELS, [])
    names = [re.search(r"macro (\w+)\(", statement).group(1) for statement in statements]  # type: ignore[union-attr]
    assert names.index("valid_error_object") < names.index("valid_status")
    assert names.index("wire_unix_seconds") < names.index("valid_status")
    connection = duckdb.connect()
    run_script(connection, "ingest/macros")
    connection.execute("set variable time_earliest = '2009-01-01'::timestamptz")
    connection.execute("set variable time_latest = '2026-11-25'::timestamptz")
    for statement in statements:
        connection.execute(statement)
    lines = tmp_path / "statuses.jsonl"
    lines.write_text(
        '{"s": {"id": "w", "status": "sent", "timestamp": "1763370000"}}\n'
        '{"s": {"id": "w", "status": "sent", "timestamp": "12"}}\n'
        '{"s": {"id": "w", "status": "sent", "errors": [null, {"code": "x"}]}}\n'
        '{"s": {"status": "sent"}}\n'
    )
    valid = connection.execute(
        "select valid_status(s) from read_json($path, columns = {s: $status})",
        {"path": str(lines), "status": struct_type(read_columns(Status))},
    ).fetchall()
    # a time of 1970 is out of the run's window
    assert valid == [(True,), (False,), (False,), (False,)]


def test_raw_tables_are_the_five_event_tables() -> None:
    assert list(RAW_TABLES) == ["accepted", "template_sends", "statuses", "replies", "errors"]
