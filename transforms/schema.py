"""Schemas for DuckDB, Arrow and polars, derived from the pydantic models.

Nothing here is written twice: the read schema comes from `transforms.events`, the table
schemas from `transforms.tables`. Both engines get explicit types, because both silently
drop keys that first appear after their inference sample.
"""

import types
from collections.abc import Iterator
from datetime import date, datetime
from inspect import isclass
from typing import Annotated, Any, Union, get_args, get_origin

import polars as pl
import pyarrow as pa
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from transforms.events import ENVELOPE_BODIES, ArchiveLine, WebhookBody
from transforms.tables import Landing, Provenance, Table
from transforms.wire import Wire

_SQL_TYPES: dict[type, str] = {
    str: "VARCHAR",
    int: "BIGINT",
    float: "DOUBLE",
    bool: "BOOLEAN",
    datetime: "TIMESTAMPTZ",
    date: "DATE",
}
_ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"),
    "DATE": pa.date32(),
}
_POLARS_TYPES: dict[str, pl.DataType] = {
    "VARCHAR": pl.String(),
    "BIGINT": pl.Int64(),
    "DOUBLE": pl.Float64(),
    "BOOLEAN": pl.Boolean(),
    "TIMESTAMPTZ": pl.Datetime("us", "UTC"),
    "DATE": pl.Date(),
}


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        (inner,) = (arg for arg in get_args(annotation) if arg is not type(None))
        return inner
    return annotation


def _unannotated(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any]]:
    annotation = _without_none(annotation)
    if get_origin(annotation) is Annotated:
        base, *extra = get_args(annotation)
        return _unannotated(base, [*metadata, *extra])
    return annotation, metadata


def wire_name(name: str, field: FieldInfo) -> str:
    """The JSON key of a payload field."""
    return field.alias or name


PathTree = dict[str, "PathTree | None"]
PRESENCE = "?"


def _merge(tree: PathTree, key: str, subtree: PathTree | None) -> None:
    """Add `subtree` under `key`: a whole subtree (None) wins over part of one, and part of one
    wins over presence only."""
    if key in tree and tree[key] is None:
        return
    if subtree is None:
        tree[key] = None
        return
    existing = tree.setdefault(key, subtree)
    if existing is subtree:
        return
    assert existing is not None
    if PRESENCE in existing:
        tree[key] = subtree
    elif PRESENCE not in subtree:
        for child, grandchild in subtree.items():
            _merge(existing, child, grandchild)


def path_tree(paths: list[str]) -> PathTree:
    """Dotted paths as a tree; a leaf (None) keeps its whole subtree, and a path ending in
    `?` keeps only whether the value is there (read as opaque JSON, not parsed into types)."""
    tree: PathTree = {}
    for path in paths:
        *parents, leaf = path.split(".")
        subtree: PathTree | None = {PRESENCE: None} if leaf.endswith(PRESENCE) else None
        for part in reversed([*parents, leaf.removesuffix(PRESENCE)][1:]):
            subtree = {part: subtree}
        _merge(tree, parents[0] if parents else leaf.removesuffix(PRESENCE), subtree)
    return tree


def _read_type(annotation: Any, metadata: list[Any], tree: PathTree | None) -> str:
    annotation, metadata = _unannotated(annotation, metadata)
    if tree is not None and PRESENCE in tree:
        return "JSON"
    wire = next((item for item in metadata if isinstance(item, Wire)), None)
    if wire is not None:
        return wire.duckdb_type
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        return f"{_read_type(item, [], tree)}[]"
    if isclass(annotation) and issubclass(annotation, BaseModel):
        return struct_type(read_columns(annotation, tree))
    raise TypeError(f"no DuckDB read type for {annotation!r}")


def _raw_type(annotation: Any, metadata: list[Any], tree: PathTree | None) -> str:
    """The read type of a field on a payload path: its elements as JSON text at the end of
    the path (a list's elements one by one), typed structs on the way there."""
    annotation, metadata = _unannotated(annotation, metadata)
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        return "JSON[]" if tree is None else f"{_raw_type(item, [], tree)}[]"
    if tree is None:
        return "JSON"
    if isclass(annotation) and issubclass(annotation, BaseModel):
        return struct_type(_raw_columns(annotation, tree))
    raise TypeError(f"{annotation!r} has no fields to read a path through")


def _raw_columns(model: type[BaseModel], tree: PathTree) -> dict[str, str]:
    return {
        wire_name(name, field): _raw_type(field.annotation, list(field.metadata), tree[key])
        for name, field in model.model_fields.items()
        if (key := wire_name(name, field)) in tree
    }


def line_raw_columns(paths: list[str]) -> dict[str, str]:
    """`read_json` columns that read the elements on `paths` (`-- payload:` of a pass) as the
    JSON text DuckDB writes for them, at the top level and inside an envelope's `payload` or
    `body`: what a row keeps of its event whole (`payload_json`)."""
    webhook = _raw_columns(WebhookBody, path_tree(paths))
    return {**webhook, **dict.fromkeys(ENVELOPE_BODIES, struct_type(webhook))}


def struct_type(columns: dict[str, str]) -> str:
    """The DuckDB STRUCT of read columns."""
    return "STRUCT(" + ", ".join(f'"{key}" {kind}' for key, kind in columns.items()) + ")"


def read_columns(model: type[BaseModel], tree: PathTree | None = None) -> dict[str, str]:
    """DuckDB `read_json` columns for a payload model, keyed by JSON key, keeping only the
    fields in `tree` (all of them when it is None): DuckDB's JSON reader builds every field of
    a struct it reads, so each query reads only what it uses."""
    columns = {}
    for name, field in model.model_fields.items():
        key = wire_name(name, field)
        if tree is None or key in tree:
            subtree = None if tree is None else tree[key]
            columns[key] = _read_type(field.annotation, list(field.metadata), subtree)
    return columns


def _sql_type(field: FieldInfo) -> str:
    annotation, _ = _unannotated(field.annotation, list(field.metadata))
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


def _snake(name: str) -> str:
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in name).lstrip("_")


def validity_macro_name(model: type[BaseModel]) -> str:
    return f"valid_{_snake(model.__name__)}"


def wire_macro(wire: Wire) -> str:
    """`create macro wire_<name>(value)`: the text matches the scalar's pattern, and a time
    falls in the run's window (the variables `time_earliest` and `time_latest`)."""
    check = f"regexp_full_match(value, '{wire.pattern}')"
    if wire.time_cast:
        check += (
            f" and coalesce({wire.time_cast} between getvariable('time_earliest')"
            " and getvariable('time_latest'), false)"
        )
    return f"create or replace macro wire_{wire.name}(value) as {check}"


def _field_check(sub: str, annotation: Any, metadata: list[Any], macros: dict[str, str]) -> str:
    """A SQL condition on a non-NULL `sub` that holds when pydantic accepts its value, or ''
    when any value DuckDB reads there is acceptable."""
    annotation, metadata = _unannotated(annotation, metadata)
    wire = next((item for item in metadata if isinstance(item, Wire)), None)
    if wire is not None:
        if wire.pattern is None:
            return ""
        macros.setdefault(f"wire_{wire.name}", wire_macro(wire))
        return f"wire_{wire.name}({sub})"
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        inner = _field_check("item", item, [], macros)
        if not inner:
            return ""
        items_check = f"list_transform({sub}, lambda item: item is null or {inner})"
        return f"coalesce(list_bool_and({items_check}), true)"
    if isclass(annotation) and issubclass(annotation, BaseModel):
        macro = _validity_macro(annotation, macros)
        return f"{macro}({sub})" if macro else ""
    return ""


def _validity_macro(model: type[BaseModel], macros: dict[str, str]) -> str:
    """Adds the validity macro of `model` to `macros`, after the macros it calls, and returns
    its name; '' when nothing in the model can be invalid."""
    name = validity_macro_name(model)
    if name not in macros:
        checks = []
        for field_name, field in model.model_fields.items():
            sub = f'value."{wire_name(field_name, field)}"'
            check = _field_check(sub, field.annotation, list(field.metadata), macros)
            if field.is_required():
                checks.append(f"{sub} is not null" + (f" and {check}" if check else ""))
            elif check:
                checks.append(f"({sub} is null or {check})")
        body = "\n    and ".join(checks)
        macros[name] = f"create or replace macro {name}(value) as\n    {body}" if checks else ""
    return name if macros[name] else ""


def validation_macros(models: list[type[BaseModel]], scalars: list[Wire]) -> list[str]:
    """`create macro` statements, callees first: `valid_<model>(value)` is true exactly when
    pydantic accepts the value DuckDB read for the model (required fields present, every
    patterned scalar matching its pattern); `wire_<name>(value)` checks one scalar's text."""
    macros: dict[str, str] = {}
    for wire in scalars:
        macros.setdefault(f"wire_{wire.name}", wire_macro(wire))
    for model in models:
        _validity_macro(model, macros)
    return [statement for statement in macros.values() if statement]


def masking_macro_name(model: type[BaseModel]) -> str:
    return f"masked_{_snake(model.__name__)}"


_FIELD_MASKS = {
    "identity": "personal_number({sub})",
    "message_id": "keyed_digest({sub})",
    "free_text": "masked_digits({sub})",
}


def _masked_field(sub: str, field: FieldInfo, macros: dict[str, str]) -> str | None:
    """The SQL of a field's value as `pii=hash|drop` keep it: masked by its personal kind,
    or None when the field is left out (a text, opaque JSON, an object of such fields)."""
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    kind = extra.get("personal")
    if kind is not None:
        mask = _FIELD_MASKS.get(str(kind))
        return mask.format(sub=sub) if mask else None
    annotation, metadata = _unannotated(field.annotation, list(field.metadata))
    wire = next((item for item in metadata if isinstance(item, Wire)), None)
    if wire is not None:
        return None if wire.duckdb_type == "JSON" else sub
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        macro = _masking_macro(_unannotated(item, [])[0], macros)
        return f"list_transform({sub}, lambda item: {macro}(item))" if macro else None
    macro = _masking_macro(annotation, macros)
    return f"{macro}({sub})" if macro else None


def _masking_macro(model: type[BaseModel], macros: dict[str, str]) -> str | None:
    """Adds the masking macro of `model` to `macros`, after the macros it calls; its name, or
    None when nothing of the model is kept."""
    name = masking_macro_name(model)
    if name not in macros:
        fields = []
        for field_name, field in model.model_fields.items():
            key = wire_name(field_name, field)
            value = _masked_field(f'value."{key}"', field, macros)
            if value is not None:
                fields.append(f"'{key}': {value}")
        macros[name] = (
            f"create or replace macro {name}(value) as\n"
            f"    case when value is not null then {{{', '.join(fields)}}} end"
            if fields
            else ""
        )
    return name if macros[name] else None


def masking_macros(models: list[type[BaseModel]]) -> list[str]:
    """`create macro masked_<model>(value)` statements, callees first: the value DuckDB read
    for the model, rebuilt from the fields that carry no customer's data and those masked by
    their `personal` kind (`transforms.events`), for `payload_json` under `pii=hash|drop`."""
    macros: dict[str, str] = {}
    for model in models:
        _masking_macro(model, macros)
    return [statement for statement in macros.values() if statement]


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


def line_read_columns(paths: list[str]) -> dict[str, str]:
    """`read_json` columns of an archive line that read the webhook fields on `paths`, at the
    top level and inside an envelope's `payload` or `body`, plus the envelope's scalars."""
    webhook = read_columns(WebhookBody, path_tree(paths))
    body = struct_type(webhook)
    envelope = {
        wire_name(name, field): _read_type(field.annotation, list(field.metadata), None)
        for name, field in ArchiveLine.model_fields.items()
        if name not in ("webhook", *ENVELOPE_BODIES)
    }
    return {**webhook, **envelope, **dict.fromkeys(ENVELOPE_BODIES, body)}
