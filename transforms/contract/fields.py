"""What the schemas read off a pydantic field: its JSON key, and its type without `Optional`
and `Annotated` (with the metadata `Annotated` carried, such as its `Wire` scalar).
"""

import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic.fields import FieldInfo


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        (inner,) = (arg for arg in get_args(annotation) if arg is not type(None))
        return inner
    return annotation


def unannotated(annotation: Any, metadata: list[Any]) -> tuple[Any, list[Any]]:
    """A field's type without `Optional` and `Annotated`, and `metadata` with what `Annotated`
    adds to it."""
    annotation = _without_none(annotation)
    if get_origin(annotation) is Annotated:
        base, *extra = get_args(annotation)
        return unannotated(base, [*metadata, *extra])
    return annotation, metadata


def wire_name(name: str, field: FieldInfo) -> str:
    """The JSON key of a payload field."""
    return field.alias or name
