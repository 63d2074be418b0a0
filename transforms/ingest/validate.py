"""Explain, line by line, what the bulk path rejected: pydantic is the judge (contract §2).

A rejected line gets a reason that says what is wrong and where, field by field, without
quoting the values (they may be personal data). A line the models accept is re-serialised
in a normal form that the bulk path reads like any other line. A line the bulk path rejects
although the models accept it is quarantined as a `MISMATCH`.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import from_json

from transforms.contract.events import ENVELOPE_BODIES, ArchiveLine, unwrapped_webhook
from transforms.contract.wire import TimeWindow

MAX_FIELD_ERRORS = 5
MISMATCH = (
    "rejected by the bulk path although the event models accept it "
    "(please report: the models and the SQL checks disagree)"
)


@dataclass(frozen=True)
class Accepted:
    """The line is a valid event, as the models read it."""

    line: ArchiveLine

    @property
    def normalized(self) -> bytes:
        """The line as the models read it, as JSON the bulk path reads."""
        return self.line.normalized()


@dataclass(frozen=True)
class Rejected:
    reason: str


Verdict = Accepted | Rejected


JSON_TYPES = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def _location(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a JSON path; fields of the unwrapped webhook body are named
    as in the body."""
    path = ""
    for part in loc[1:] if loc[:1] == ("webhook",) else loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path.lstrip(".") or "line"


def validation_reason(error: ValidationError) -> str:
    """`field.path: message` for the first few field errors, without the input values."""
    problems = [f"{_location(item['loc'])}: {item['msg']}" for item in error.errors()]
    shown = "; ".join(problems[:MAX_FIELD_ERRORS])
    more = len(problems) - MAX_FIELD_ERRORS
    return f"invalid event: {shown}" + (f"; and {more} more" if more > 0 else "")


def parsed_object(raw: bytes, *, unterminated: bool) -> dict[str, Any] | Rejected:
    """The line as a JSON object, or why it is not one. The parser is exact where DuckDB is:
    integers of any size, no NaN, no lone surrogates; a repeated key keeps its last value."""
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        return Rejected(f"not valid UTF-8 (byte {error.start + 1})")
    try:
        value = from_json(text, allow_inf_nan=False)
    except ValueError as error:
        problem = f"not JSON: {error}"
        if unterminated:
            return Rejected(f"truncated: the file ends inside this line ({problem})")
        return Rejected(problem)
    if not isinstance(value, dict):
        return Rejected(f"not a JSON object but a JSON {JSON_TYPES[type(value)]}")
    return value


def verdict(raw: bytes, *, window: TimeWindow | None = None, unterminated: bool = False) -> Verdict:
    """Whether a raw line is a valid event, by the pydantic models, its times in the run's
    `window` (by default, that of a run starting now)."""
    parsed = parsed_object(raw, unterminated=unterminated)
    if isinstance(parsed, Rejected):
        return parsed
    try:
        line = ArchiveLine.model_validate(parsed, context={"window": window})
    except ValidationError as error:
        return Rejected(validation_reason(error))
    return Accepted(line)


def webhook_keys(raw: bytes) -> list[str]:
    """The keys of the webhook body of a line known to be a valid JSON object (unwrapped from
    its envelope, whose own keys are left out)."""
    parsed = parsed_object(raw, unterminated=False)
    if isinstance(parsed, Rejected):
        return []
    envelope = {"received_at", "sender", *ENVELOPE_BODIES}
    return [key for key in unwrapped_webhook(parsed) if key not in envelope]


def _changes(webhook: dict[str, Any]) -> list[dict[str, Any]]:
    entries = webhook.get("entry")
    return [
        change
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict) and isinstance(entry.get("changes"), list)
        for change in entry["changes"]
        if isinstance(change, dict)
    ]


def unclassified_reason(raw: bytes) -> str:
    """Why a valid JSON object yields no rows, in words an analyst can act on: the webhook
    fields that are not message events (`calls`, `flows`, ...), or else its keys."""
    parsed = parsed_object(raw, unterminated=False)
    webhook = unwrapped_webhook(parsed) if isinstance(parsed, dict) else {}
    changes = _changes(webhook)
    fields = sorted({str(change.get("field")) for change in changes if change.get("field")})
    other = [field for field in fields if field != "messages"]
    if other:
        return f"webhook change of field {', '.join(other)}: not a message event"
    if changes:
        return "webhook change of field messages without statuses, messages or errors with a code"
    keys = ", ".join(webhook_keys(raw)) or "none"
    return f"JSON object of no known event kind (keys: {keys})"


@contextmanager
def collector_paused() -> Iterator[None]:
    """Judging many lines creates many objects while the batch holds many more: Python's
    cyclic garbage collector would scan them all again and again (several times slower)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
