"""No line can break a night, nor a later one (contract §2): lines whose typed fields sit at
every edge (times at and beyond 2009-01-01 and a day after the run's start, 1969, year 10000,
numbers negative and huge, strings empty and very long, unknown statuses and types), in files
whose modification time is 1969, mixed into a normal night, go through the whole flow (read,
merge, build, metrics, publish, summary, artifacts) and the next night's update; both
complete, and every line is accounted for: rows, quarantine, unclassified or blank.

The suite's profile runs a fixed set of examples (tests/conftest.py); `pytest
--hypothesis-profile=explore` searches further."""

import json
import os
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.sample import SampleSpec, write_sample
from flows.nightly import nightly_for
from flows.settings import Tuning
from tests.payloads import accepted, api_error, envelope, failure, reply, status, template_send

EARLIEST = 1230768000  # 2009-01-01T00:00:00Z
STARTED = datetime.now(UTC)
LATEST = int((STARTED + timedelta(days=1)).timestamp()) - 600  # inside the window, safely
BASE = [
    status("wamid.E1", "failed", "2026-11-17 10:00", "whatsapp-e1", errors=[failure(131047, "x")]),
    accepted("whatsapp-e2", "wamid.E2"),
    template_send("whatsapp-e2", "2026-11-17 10:00"),
    api_error("whatsapp-e3", 130429, "(#130429) Rate limit hit"),
    reply("wamid.R9", "2026-11-17 11:00", context="wamid.E2"),
    envelope(accepted("whatsapp-e4", "wamid.E4"), "2026-11-17T10:00:00Z", "15550100001"),
]
TIMES = st.sampled_from(
    [
        str(EARLIEST),
        str(EARLIEST - 1),
        str(LATEST),
        str(LATEST + 2 * 86400),
        "0",
        "-1",
        "999999999999",
        "1969-12-31T23:59:59Z",
        "1900-01-01",
        "0001-01-01",
        "9999-12-31T23:59:59Z",
        "2009-01-01T00:00:00Z",
        "",
    ]
)
VALUES = st.one_of(
    TIMES,
    st.sampled_from(
        [
            -1,
            -(2**63),
            2**63,
            10**30,
            "-9223372036854775808",
            "",
            "x" * 70_000,
            "weird",
            "payment",
            "call",
            "PLAYED",
            1e308,
            "1e400",
            -0.0,
            "🙂",
            None,
        ]
    ),
)


def paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a scalar in a JSON value."""
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in paths(item, (*path, key))]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in paths(item, (*path, index))]
    return [path]


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replaced(value[head], rest, new)}
    return [
        replaced(item, rest, new) if index == head else item for index, item in enumerate(value)
    ]


@st.composite
def edge_line(draw: Any) -> bytes:
    event = draw(st.sampled_from(BASE))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        event = replaced(event, draw(st.sampled_from(paths(event))), draw(VALUES))
    if draw(st.booleans()):
        event = envelope(event, draw(TIMES), "15550100001")
    # the standard library writes integers of any size, as senders may
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


edge_file = st.tuples(
    st.lists(edge_line(), min_size=1, max_size=8),
    st.sampled_from(["dt=2026-11-17/hour=10", "undated", "dt=1969-12-31", "2026/11/17"]),
    st.booleans(),  # the file's modification time is 1969
)


def lines_accounted_for(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        ((lines, balance),) = connection.execute(
            "select sum(lines), sum(classified + unclassified + quarantined + blank)"
            " from ingest_files"
        ).fetchall()
        # every raw table answers, and no time a row holds is out of the window
        for table in ("accepted", "template_sends", "statuses", "replies", "errors"):
            ((low, high),) = connection.execute(
                f"select min(event_time), max(event_time) from {table}"
            ).fetchall()
            assert low is None or low >= datetime(2009, 1, 1, tzinfo=UTC), table
            assert high is None or high <= STARTED + timedelta(days=2), table
    assert lines == balance


@settings(max_examples=6, deadline=None)
@given(st.lists(edge_file, min_size=1, max_size=4))
def test_lines_at_every_edge_never_break_a_night_nor_the_next(
    prefect_server: None, files: list[tuple[list[bytes], str, bool]]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        archive = root / "archive"
        write_sample(archive, SampleSpec(messages=60, days=1, seed=5))
        for index, (lines, where, in_1969) in enumerate(files):
            path = archive / where / f"edges-{index}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"\n".join(lines) + b"\n")
            if in_1969:
                os.utime(path, (-1, -1))
        flow = nightly_for(Tuning())
        out = root / "out"
        out.mkdir()
        options = {"warehouse": out / "warehouse.duckdb", "export": out / "export"}
        first = flow(source=str(archive), **options)
        assert first.outcome == "published"
        assert (
            first.lines == first.classified + first.unclassified + first.quarantined + first.blank
        )
        lines_accounted_for(out / "warehouse.duckdb")
        # the next night adds a file of the same edges: an update over them
        shutil.copy(archive / files[0][1] / "edges-0.jsonl", archive / "next-night.jsonl")
        second = flow(source=str(archive), **options)
        assert second.outcome == "published" and second.files == 1
        lines_accounted_for(out / "warehouse.duckdb")
