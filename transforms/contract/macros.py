"""DuckDB macros generated from the event models: the checks the SQL passes make, true exactly
when pydantic accepts what DuckDB read (`validation_macros`), and the masks of `payload_json`
under `pii=hash|drop` (`masking_macros`).
"""

from inspect import isclass
from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from transforms.contract.fields import unannotated, wire_name
from transforms.contract.wire import Wire


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
    annotation, metadata = unannotated(annotation, metadata)
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
    annotation, metadata = unannotated(field.annotation, list(field.metadata))
    wire = next((item for item in metadata if isinstance(item, Wire)), None)
    if wire is not None:
        return None if wire.duckdb_type == "JSON" else sub
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        macro = _masking_macro(unannotated(item, [])[0], macros)
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
    their `personal` kind (`transforms.contract.events`), for `payload_json` under
    `pii=hash|drop`."""
    macros: dict[str, str] = {}
    for model in models:
        _masking_macro(model, macros)
    return [statement for statement in macros.values() if statement]
