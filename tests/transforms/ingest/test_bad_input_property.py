"""Bad input at scale (contract §1): random mixtures of valid events, mutated events and junk lines
never crash the ingest or the build, and every line is accounted for: it gave rows, or it is
in quarantine or unclassified, or it is blank. A valid event is never quarantined; a line
that is not a JSON object always is.

The suite's profile (tests/conftest.py) runs a fixed set of examples, so that a run of the
suite does not pass or fail by chance; `pytest --hypothesis-profile=explore` searches further.
"""

import gzip
import json
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import FIXTURE_FILES, warehouse_of
from tests.payloads import accepted, api_error, envelope, failure, iso, reply, status, template_send
from transforms.source.read import BOM

VALID: list[dict[str, Any]] = [
    *(orjson.loads(path.read_bytes()) for path in FIXTURE_FILES),
    status(
        "wamid.P1",
        "failed",
        "2026-11-17 10:00",
        "whatsapp-p1",
        errors=[failure(131047, "Re-engagement")],
    ),
    envelope(accepted("whatsapp-p2", "wamid.P2"), iso("2026-11-17 10:00"), "15550100001"),
    envelope(template_send("whatsapp-p2", "2026-11-17 10:00"), 1763373600),
    api_error("whatsapp-p3", 130429, "Rate limit hit"),
    reply("wamid.R1", "2026-11-17 11:00", context="wamid.P2"),
]
STATE_TABLES_WITH_LINES = [
    "landing_accepted",
    "landing_template_sends",
    "landing_statuses",
    "landing_replies",
    "landing_errors",
]
ODD_WORDS = [
    "deleted",
    "warning",
    "pending",
    "",
    "READ",
    "sent ",
    "ünknown",
    "\u0000",
    "🙂",
    "null",
]
odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(ODD_WORDS),
    st.text(min_size=1, max_size=3).map(lambda text: text * 70_000),  # huge strings
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON value."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += nodes(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += nodes(item, (*path, index))
    return found


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replaced(value[head], rest, new)}
    return [
        replaced(item, rest, new) if index == head else item for index, item in enumerate(value)
    ]


def removed(value: Any, path: tuple[Any, ...]) -> Any:
    head, rest = path[0], path[1:]
    if rest:
        return (
            {**value, head: removed(value[head], rest)}
            if isinstance(value, dict)
            else [
                removed(item, rest) if index == head else item for index, item in enumerate(value)
            ]
        )
    if isinstance(value, dict):
        return {key: item for key, item in value.items() if key != head}
    return [item for index, item in enumerate(value) if index != head]


def at(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def as_other_type(value: Any) -> Any:
    """Numbers as strings and numeric strings as numbers, as careless senders write them."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return [value]


def odd_length(value: Any, draw: Any) -> Any:
    """A list emptied, repeated, nested or given odd elements."""
    items = value if isinstance(value, list) else [value]
    return draw(
        st.sampled_from(
            [[], items * 3, [items], [*items, None, 1, "x"], [items[0], []] if items else [[]]]
        )
    )


@st.composite
def mutated_event(draw: Any) -> dict[str, Any] | list[Any] | Any:
    event: Any = draw(st.sampled_from(VALID))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = nodes(event)
        path = draw(st.sampled_from(paths))
        kind = draw(st.sampled_from(["drop", "odd", "retype", "word", "array"]))
        if kind == "drop" and path:
            event = removed(event, path)
        elif kind == "odd":
            event = replaced(event, path, draw(odd_values))
        elif kind == "retype":
            event = replaced(event, path, as_other_type(at(event, path)))
        elif kind == "word":
            event = replaced(event, path, draw(st.sampled_from(ODD_WORDS)))
        else:
            event = replaced(event, path, odd_length(at(event, path), draw))
    return event


def _refuse(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def surely_not_an_object(line: bytes) -> bool:
    """Whether a line is certainly not a JSON object (RFC 8259: no NaN), a byte order mark
    aside; a nesting too deep for Python to tell is not certain."""
    try:
        text = line.decode().removeprefix("\ufeff")
        return not isinstance(json.loads(text, parse_constant=_refuse), dict)
    except (ValueError, UnicodeDecodeError):
        return True
    except RecursionError:
        return False


junk_line = st.one_of(
    st.binary(max_size=200).map(lambda raw: raw.replace(b"\n", b" ")),
    st.text(max_size=100).map(lambda text: text.replace("\n", " ").encode()),
    st.sampled_from(VALID).flatmap(
        lambda event: st.integers(min_value=1, max_value=len(orjson.dumps(event)) - 1).map(
            lambda cut: orjson.dumps(event)[:cut]
        )
    ),
    st.sampled_from(
        [b"[]", b"1", b'"text"', b"null", b"true", b'{"a": NaN}', b'{"a": Infinity}', b"{}{}"]
    ),
    st.integers(min_value=1, max_value=3000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(min_value=1, max_value=3000).map(
        lambda depth: b'{"a":' * depth + b"1" + b"}" * depth
    ),
)
line = st.one_of(
    st.sampled_from(VALID).map(lambda event: ("valid", orjson.dumps(event))),
    mutated_event().map(lambda event: ("mutated", orjson.dumps(event))),
    junk_line.map(lambda raw: ("junk", raw)),
    st.sampled_from([b"", b"  ", b"\t"]).map(lambda raw: ("blank", raw)),
)
archive_file = st.tuples(
    st.lists(line, min_size=1, max_size=25),
    st.sampled_from(["jsonl", "jsonl.gz"]),
    st.sampled_from([b"\n", b"\r\n"]),
)


def written(root: Path, index: int, lines: list[tuple[str, bytes]], kind: str, end: bytes) -> Path:
    path = root / f"dt=2026-11-17/events-{index}.{kind}"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join(raw + end for _, raw in lines)
    path.write_bytes(gzip.compress(data) if kind.endswith(".gz") else data)
    return path


def lines_with_rows(state: duckdb.DuckDBPyConnection, table: str) -> set[tuple[str, int]]:
    return {
        (uri, line_no)
        for uri, line_no in state.execute(
            f"select distinct source_file, line_no from {table}"
        ).fetchall()
    }


@pytest.mark.slow
@given(st.lists(archive_file, min_size=1, max_size=3))
def test_every_line_of_any_mixture_is_accounted_for(
    files: list[tuple[list[tuple[str, bytes]], str, bytes]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        archive = root / "archive"
        kinds: dict[tuple[str, int], str] = {}
        for index, (lines, kind, end) in enumerate(files):
            path = str(written(archive, index, lines, kind, end).resolve())
            for line_no, (what, raw) in enumerate(lines, start=1):
                # the reader drops a byte order mark that opens a line (files joined by cat)
                blank = not raw.removeprefix(BOM).strip(b" \t\r")
                if blank:
                    what = "blank"
                elif what == "junk" and not surely_not_an_object(raw):
                    what = "mutated"  # junk that happens to be an object may give rows
                kinds[path, line_no] = what
        warehouse = warehouse_of(archive, root / "work")
        try:
            assert sum(report.lines for report in warehouse.reports) == len(kinds)
            with duckdb.connect(str(root / "work" / "state.duckdb"), read_only=True) as state:
                rows = set().union(
                    *(lines_with_rows(state, table) for table in STATE_TABLES_WITH_LINES)
                )
                quarantined = lines_with_rows(state, "quarantine")
                unclassified = lines_with_rows(state, "unclassified")
            blank = {line for line, kind in kinds.items() if kind == "blank"}
            assert (
                not (rows & quarantined)
                and not (rows & unclassified)
                and not (quarantined & unclassified)
            )
            assert rows | quarantined | unclassified | blank == set(kinds)
            assert not blank & (rows | quarantined | unclassified)
            assert {line for line, kind in kinds.items() if kind == "valid"} <= rows | unclassified
            assert {line for line, kind in kinds.items() if kind == "junk"} <= quarantined
            assert warehouse.value("select count(*) from quarantine") == len(quarantined)
            assert warehouse.value("select sum(lines) from ingest_files") == len(kinds)
        finally:
            warehouse.close()
