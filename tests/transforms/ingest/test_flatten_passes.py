"""Each SQL pass reads only the lines that may hold its keys (`-- keys:`): the choice is
conservative (a key spelled with a `\\u` escape or followed by blanks is still found), and the
rows are exactly those of reading every line in every pass."""

from pathlib import Path
from typing import Any

import orjson
import pytest

import transforms.ingest.passes
from devtools.sample import SampleSpec, write_sample
from tests.conftest import FIXTURE_FILES, Warehouse, archive_file, fixture_line
from tests.transforms.ingest.test_flatten_fallback import _contents
from transforms.ingest.batch import LineKey, joined
from transforms.ingest.pass_lines import PassLines
from transforms.ingest.passes import PASSES
from transforms.sql import declared_keys

STATUS = {"id": "wamid.SEL", "status": "sent", "timestamp": "1794800000", "recipient_id": "9055"}
# raw lines, as an archive may hold them
TRICKY = [
    # the key spelled with an escape: only a JSON parser sees "statuses"
    b'{"\\u0073tatuses":' + orjson.dumps([STATUS]) + b',"key":"k-escaped"}',
    # blanks between the key and its colon
    b'{"statuses" \t : ' + orjson.dumps([{**STATUS, "status": "delivered"}]) + b',"key":"k-blank"}',
    # "messages" as a value only (a Cloud change's field), then as a key in an envelope
    b'{"entry":[{"changes":[{"field":"messages","value":{}}]}],"key":"k-field"}',
    b'{"body":{"messages" :[{"id":"wamid.ACC"}],"contacts":[{"wa_id":"9056"}]},"key":"k-acc"}',
    # an invalid status the statuses pass must see to quarantine its line
    b'{"statuses":[{"id":"wamid.BAD","status":"sent","timestamp":"soon"}],"key":"k-bad"}',
]
# an On-Premise inbound reply: "messages" without "entry", its "from" after blanks
REPLY = (
    b'{"contacts":[{"wa_id":"9057"}],"messages":[{"id":"wamid.IN","from" : "9057",'
    b'"timestamp":"1794800001","type":"text","text":{"body":"hi"}}],"key":"k-reply"}'
)


def _picked(
    lines: list[bytes], choices: tuple[tuple[str, ...], ...], target: Path
) -> tuple[list[int], bytes]:
    keyed: list[LineKey] = [(0, number) for number in range(1, len(lines) + 1)]
    table = PassLines(joined(lines, keyed)).write(choices, target)
    assert table.column("position").to_pylist() == list(range(1, table.num_rows + 1))
    return table.column("ordinal").to_pylist(), target.read_bytes()


def test_a_pass_gets_the_lines_that_may_hold_its_keys(tmp_path: Path) -> None:
    lines = [*TRICKY, b'{"errors":[{"code":131056}]}', b"{}", REPLY]
    target = tmp_path / "pass.jsonl"

    assert _picked(lines, (("statuses",),), target) == (
        [1, 2, 5],
        TRICKY[0] + b"\n" + TRICKY[1] + b"\n" + TRICKY[4] + b"\n",
    )
    # the escaped line goes to every pass: it may spell any key
    assert _picked(lines, (("messages",),), target)[0] == [1, 4, 8]
    assert _picked(lines, (("error", "errors"),), target)[0] == [1, 6]
    assert _picked(lines, (("template",),), target) == ([1], TRICKY[0] + b"\n")
    # a key of each choice: "messages", then "entry" or "from" (line 3 has no "messages" key,
    # line 4 neither "entry" nor "from")
    assert _picked(lines, (("messages",), ("entry", "from")), target) == (
        [1, 8],
        TRICKY[0] + b"\n" + REPLY + b"\n",
    )
    assert _picked(lines, (("statuses",), ("entry", "from")), target)[0] == [1]
    # a pass without keys reads every line
    assert _picked(lines, (), target) == (
        list(range(1, 9)),
        b"".join(f"{line.decode()}\n".encode() for line in lines),
    )


def test_every_pass_declares_its_keys() -> None:
    """A line that holds none of them is read by no pass (pydantic judges it)."""
    assert {name: declared_keys(name) for name in PASSES} == {
        "ingest/accepted": (("messages",),),
        "ingest/template_sends": (("template",),),
        "ingest/statuses": (("statuses",),),
        "ingest/replies": (("messages",), ("entry", "from")),
        "ingest/errors": (("error", "errors"),),
    }


def test_reading_only_the_chosen_lines_gives_the_rows_of_reading_every_line(
    tmp_path: Path, build: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "archive"
    write_sample(archive / "sample", SampleSpec(messages=200, days=2, seed=5))
    fixtures = [f"{path.parent.name}/{path.stem}" for path in FIXTURE_FILES]
    archive_file(archive, "fixtures/events.jsonl", [fixture_line(name) for name in fixtures])
    archive_file(archive, "tricky/events.jsonl", [*TRICKY, REPLY])

    chosen: Warehouse = build(archive)
    monkeypatch.setattr(transforms.ingest.passes, "declared_keys", lambda name: ())
    every: Warehouse = build(archive)

    assert _contents(chosen, archive) == _contents(every, archive)
    assert [report.model_dump() for report in chosen.reports] == [
        report.model_dump() for report in every.reports
    ]
    statuses = chosen.rows("select key, status from statuses where key like 'k-%' order by key", {})
    assert statuses == [
        {"key": "k-blank", "status": "delivered"},
        {"key": "k-escaped", "status": "sent"},
    ]
    assert chosen.value("select count(*) from accepted where key = 'k-acc'") == 1
    assert chosen.rows("select reply_id, customer from replies where key = 'k-reply'", {}) == [
        {"reply_id": "wamid.IN", "customer": "9057"}
    ]
    assert chosen.value("select count(*) from quarantine where raw like '%k-bad%'") == 1
    assert chosen.value("select sum(lines) from ingest_files") > len(fixtures) + 1000
