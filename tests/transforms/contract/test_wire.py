"""The scalar types of the payloads: pydantic and the bulk path's SQL accept exactly the same
values, and read them as the same values; a time is valid only inside the run's window (from
2009-01-01 to a day after the run's start)."""

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from pydantic import TypeAdapter, ValidationError

from transforms.contract.macros import wire_macro
from transforms.contract.wire import (
    INSTANT_WIRE,
    UNIX_SECONDS_WIRE,
    Decimal,
    Flag,
    Instant,
    IntegerCode,
    Text,
    TimeWindow,
    UnixSeconds,
    Wire,
)
from transforms.sql import LOOK, connect, run_script

RUN_STARTED = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
WINDOW = TimeWindow.of_run(RUN_STARTED)
FIRST = 1230768000  # 2009-01-01T00:00:00Z
LAST = int(WINDOW.latest.timestamp())  # 2026-11-25T02:00:00Z

CASES: dict[str, tuple[Any, str, list[Any], list[Any]]] = {
    # type, cast of the text in SQL, accepted values, rejected values
    "unix_seconds": (
        UnixSeconds,
        "epoch(unix_time(value))::bigint",
        ["1763370000", 1763370000, str(FIRST), LAST],
        [
            "1.5",
            1.5,
            "-1",
            -1,
            True,
            "abc",
            "1e9",
            " 12",
            "1234567890123",
            [1],
            {"a": 1},
            "",
            # out of the window: 1970, 1969's last second has no unix form, the day before
            # 2009, a second after the window, year 33658
            "0",
            str(FIRST - 1),
            LAST + 1,
            "999999999999",
        ],
    ),
    "integer_code": (
        IntegerCode,
        "integer_code(value)",
        [131026, "131026", "-1", 0, "2494100"],
        [1.0, "1.0", True, "x", 10**19, "1_000", [131026]],
    ),
    "flag": (Flag, "true_or_false(value)", [True, False, "true", "false"], [1, "yes", "True", "1"]),
    "decimal": (
        Decimal,
        "decimal_number(value)",
        [41.0082, "28.9784", -3, "1e5", "-0.5"],
        ["north", True, "1,5", "", [1.5]],
    ),
    "instant": (
        Instant,
        "envelope_time(value)",
        [
            "2026-11-17T09:30:00Z",
            "2026-11-17 09:30:00+02:00",
            "2026-11-17",
            1763370000,
            "1763370000.5",
            "2026-11-17T09:30:00.123456Z",
            "2026-11-17T09:30",
            "2009-01-01T00:00:00Z",
            "2026-11-25T02:00:00Z",
        ],
        [
            "soon",
            True,
            "17/11/2026",
            "2026-02-30T00:00:00Z",
            "2026-11-17T25:00:00Z",
            -5,
            "1969-12-31T23:59:59Z",
            "1900-01-01",
            "0001-01-01",
            "2008-12-31T23:59:59Z",
            "2026-11-25T02:00:01Z",
            "9999-12-31T23:59:59Z",
            "0",
        ],
    ),
}


def _wire(kind: Any) -> Wire:
    return next(item for item in kind.__metadata__ if isinstance(item, Wire))


@pytest.fixture(scope="module")
def sql() -> duckdb.DuckDBPyConnection:
    connection = connect(limits=LOOK)
    run_script(connection, "ingest/macros")
    connection.execute("set variable time_earliest = $t::timestamptz", {"t": WINDOW.earliest})
    connection.execute("set variable time_latest = $t::timestamptz", {"t": WINDOW.latest})
    for kind, _, _, _ in CASES.values():
        connection.execute(wire_macro(_wire(kind)))
    return connection


def _read_by_duckdb(
    sql: duckdb.DuckDBPyConnection, tmp_path: Path, name: str, value: Any
) -> tuple[bool, Any]:
    """Read `{"value": <value>}` as the bulk path does (as text), check and cast it."""
    line = tmp_path / "line.jsonl"
    line.write_bytes(orjson.dumps({"value": value}, option=orjson.OPT_PASSTHROUGH_DATETIME) + b"\n")
    check = f"wire_{name}(value)" + (
        " and envelope_time(value) is not null" if name == "instant" else ""
    )
    cast = CASES[name][1]
    ((valid, typed),) = sql.execute(
        f"select {check}, {cast} from read_json($path, columns = {{value: 'VARCHAR'}})",
        {"path": str(line)},
    ).fetchall()
    return bool(valid), typed


def _read_by_pydantic(name: str, value: Any) -> tuple[bool, Any]:
    try:
        typed = TypeAdapter(CASES[name][0]).validate_python(value, context={"window": WINDOW})
    except ValidationError:
        return False, None
    if isinstance(typed, datetime):
        return True, typed.astimezone(UTC)
    return True, typed


@pytest.mark.parametrize(
    ("name", "value", "accepted"),
    [(name, value, True) for name, case in CASES.items() for value in case[2]]
    + [(name, value, False) for name, case in CASES.items() for value in case[3]],
)
def test_pydantic_and_the_sql_checks_agree(
    sql: duckdb.DuckDBPyConnection, tmp_path: Path, name: str, value: Any, accepted: bool
) -> None:
    by_pydantic = _read_by_pydantic(name, value)
    by_duckdb = _read_by_duckdb(sql, tmp_path, name, value)
    assert by_pydantic[0] is by_duckdb[0] is accepted
    if accepted:
        if isinstance(by_pydantic[1], float):
            assert math.isclose(by_pydantic[1], by_duckdb[1])
        else:
            assert by_pydantic[1] == by_duckdb[1]


def test_the_named_wires_are_those_of_the_types() -> None:
    assert _wire(UnixSeconds) == UNIX_SECONDS_WIRE
    assert _wire(Instant) == INSTANT_WIRE
    assert {name: _wire(case[0]).name for name, case in CASES.items()} == {
        name: name for name in CASES
    }


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", "plain"),
        (15551234567, "15551234567"),
        (1.5, "1.5"),
        (True, "true"),
        ({"a": [1, "b"]}, '{"a":[1,"b"]}'),
        ([1, None], "[1,null]"),
        ("ünïcode ✓", "ünïcode ✓"),
    ],
)
def test_text_keeps_any_json_value_as_the_text_duckdb_reads(
    sql: duckdb.DuckDBPyConnection, tmp_path: Path, value: Any, text: str
) -> None:
    assert TypeAdapter(Text).validate_python(value) == text
    line = tmp_path / "line.jsonl"
    line.write_bytes(orjson.dumps({"value": value}) + b"\n")
    ((read,),) = sql.execute(
        "select value from read_json($path, columns = {value: 'VARCHAR'})", {"path": str(line)}
    ).fetchall()
    assert read == text
