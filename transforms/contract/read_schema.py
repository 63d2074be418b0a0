"""The DuckDB read schema of an archive line, derived from the event models
(`transforms.contract.events`).

A pass reads only the payload paths it declares (its `-- reads:` and `-- payload:` lines): as
typed columns, every scalar as text (`read_columns`, `line_read_columns`), or as the JSON text
of the elements a row keeps whole (`line_raw_columns`). DuckDB gets explicit types, because
it silently drops keys that first appear after its inference sample.
"""

from inspect import isclass
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from transforms.contract.events import ENVELOPE_BODIES, ArchiveLine, WebhookBody
from transforms.contract.fields import unannotated, wire_name
from transforms.contract.wire import Wire

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
    annotation, metadata = unannotated(annotation, metadata)
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
    annotation, metadata = unannotated(annotation, metadata)
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
