"""Scalar types of the webhook payloads, as the archive delivers them.

Each type is a pydantic annotation that carries a `Wire` marker: how DuckDB's typed
reader takes the value off the wire (always as text or opaque JSON, so that DuckDB never
coerces silently) and which pattern the text must match. The bulk path checks every value
against the same patterns (`transforms.contract.macros.validation_macros`), so it accepts
exactly the lines pydantic accepts. A field is typed only where a column needs its type; the
rest stay text and are kept as they came.
"""

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, ValidationInfo


@dataclass(frozen=True)
class Wire:
    """How a scalar is read by DuckDB and, for a typed scalar, its name and the text it must
    match to be valid; for a time, the SQL that casts the text (`value`), whose result must
    also fall in the run's `TimeWindow`."""

    duckdb_type: str
    name: str | None = None
    pattern: str | None = None
    time_cast: str | None = None


EARLIEST_TIME = datetime(2009, 1, 1, tzinfo=UTC)
LATEST_AFTER_START = timedelta(days=1)


@dataclass(frozen=True)
class TimeWindow:
    """The times a line may carry: none before WhatsApp existed (2009), none more than a day
    after the run that reads it (a clock a little ahead is tolerated, a year 10000 is not).
    A time out of the window makes its line invalid, so that every time the build meets
    fits every later step (the build packs microseconds since 1970 into unsigned keys)."""

    earliest: datetime
    latest: datetime

    @classmethod
    def of_run(cls, started: datetime) -> "TimeWindow":
        return cls(EARLIEST_TIME, started + LATEST_AFTER_START)

    def holds(self, seconds: float) -> bool:
        return self.earliest.timestamp() <= seconds <= self.latest.timestamp()

    def describe(self) -> str:
        return f"between {self.earliest:%Y-%m-%d} and {self.latest:%Y-%m-%d %H:%M:%S} UTC"


def window_of(info: ValidationInfo) -> TimeWindow:
    """The run's window, passed as the validation context (`{"window": ...}`); outside a run,
    the present is the run's start."""
    context = info.context if isinstance(info.context, dict) else {}
    window = context.get("window")
    return window if isinstance(window, TimeWindow) else TimeWindow.of_run(datetime.now(UTC))


def _in_window(seconds: float, info: ValidationInfo) -> None:
    window = window_of(info)
    if not window.holds(seconds):
        raise ValueError(f"expected a time {window.describe()}, got one out of that range")


UNIX_SECONDS = r"[0-9]{1,12}"
INTEGER_CODE = r"-?[0-9]{1,18}"
FLAG = r"true|false"
DECIMAL = r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?"
ISO_INSTANT = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?)?"
    r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?"
)
UNIX_INSTANT = r"[0-9]{1,11}(\.[0-9]{1,9})?"


def json_text(value: object) -> object:
    """Any JSON value as text: DuckDB keeps a non-string read into VARCHAR as its JSON text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _matching_text(value: object, pattern: str, expected: str) -> str:
    text = json_text(value)
    if isinstance(text, str) and re.fullmatch(pattern, text):
        return text
    raise ValueError(f"expected {expected}, got {type(value).__name__}")


def unix_seconds(value: object, info: ValidationInfo) -> int:
    """Unix seconds, sent as a string of digits or as an integer, in the run's window."""
    if isinstance(value, bool):
        raise ValueError("expected unix seconds, got bool")
    seconds = int(_matching_text(value, UNIX_SECONDS, "unix seconds (up to 12 digits)"))
    _in_window(seconds, info)
    return seconds


def integer_code(value: object) -> int:
    """An error code, sent as an integer or as a numeric string."""
    if isinstance(value, bool):
        raise ValueError("expected an integer code, got bool")
    return int(_matching_text(value, INTEGER_CODE, "an integer code"))


def flag(value: object) -> bool:
    """A boolean, sent as JSON true/false or as the strings "true"/"false"."""
    return _matching_text(value, FLAG, "true or false") == "true"


def decimal(value: object) -> float:
    """A number, sent as a JSON number or a numeric string."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got bool")
    return float(_matching_text(value, DECIMAL, "a number"))


def instant(value: object, info: ValidationInfo) -> datetime:
    """An envelope time: ISO-8601 (UTC when no offset is given) or unix seconds (at most 11
    digits: before year 5000), in the run's window."""
    if isinstance(value, bool):
        raise ValueError("expected an ISO-8601 time or unix seconds, got bool")
    text = json_text(value)
    if isinstance(text, str) and re.fullmatch(UNIX_INSTANT, text):
        moment = datetime.fromtimestamp(float(text), tz=UTC)
    elif isinstance(text, str) and re.fullmatch(ISO_INSTANT, text):
        parsed = datetime.fromisoformat(text)
        moment = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    else:
        raise ValueError(f"expected an ISO-8601 time or unix seconds, got {type(value).__name__}")
    _in_window(moment.timestamp(), info)
    return moment


UNIX_SECONDS_WIRE = Wire("VARCHAR", "unix_seconds", UNIX_SECONDS, "unix_time(value)")
INSTANT_WIRE = Wire(
    "VARCHAR", "instant", f"({UNIX_INSTANT})|({ISO_INSTANT})", "envelope_time(value)"
)

Text = Annotated[str, BeforeValidator(json_text), Wire("VARCHAR")]
UnixSeconds = Annotated[int, BeforeValidator(unix_seconds), UNIX_SECONDS_WIRE]
IntegerCode = Annotated[
    int, BeforeValidator(integer_code), Wire("VARCHAR", "integer_code", INTEGER_CODE)
]
Flag = Annotated[bool, BeforeValidator(flag), Wire("VARCHAR", "flag", FLAG)]
Decimal = Annotated[float, BeforeValidator(decimal), Wire("VARCHAR", "decimal", DECIMAL)]
Instant = Annotated[datetime, BeforeValidator(instant), INSTANT_WIRE]
OpaqueJson = Annotated[Any, Wire("JSON")]
