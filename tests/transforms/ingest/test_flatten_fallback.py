"""The bulk path and the pydantic path read the same rows: a batch DuckDB refuses is judged
line by line by pydantic and read again in the models' normal form, with the same result."""

import logging
from pathlib import Path
from typing import Any

import orjson
import pytest

from devtools.sample import SampleSpec, write_sample
from tests.conftest import Warehouse, archive_file
from transforms.source.discover import local_listing
from transforms.source.read import local_blocks

TABLES = (
    "accepted",
    "template_sends",
    "statuses",
    "replies",
    "errors",
    "messages",
    "unclassified",
    "quarantine",
)


def _plain_copy(sample: Path, target: Path, extra: bytes) -> None:
    """The sample's files, decompressed, each with one more line at its end."""
    for file in local_listing(sample).files:
        relative = Path(file.uri).relative_to(sample.resolve())
        data = b"".join(local_blocks(file))
        if data and not data.endswith(b"\n"):
            data += b"\n"
        path = target / relative.parent / (relative.name.removesuffix(".gz").removesuffix(".zst"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data + extra + b"\n")


def _contents(warehouse: Warehouse, root: Path) -> dict[str, list[tuple[Any, ...]]]:
    contents = {}
    for table in TABLES:
        rows = warehouse.rows(f"select * from {table}")
        for row in rows:
            for column in ("source_file",):
                if column in row:
                    row[column] = str(Path(row[column]).relative_to(root.resolve()))
        contents[table] = sorted((tuple(row.items()) for row in rows), key=repr)
    return contents


def test_a_refused_batch_read_by_pydantic_gives_the_rows_of_the_bulk_path(
    tmp_path: Path, build: Any, caplog: pytest.LogCaptureFixture
) -> None:
    sample = tmp_path / "sample"
    write_sample(sample, SampleSpec(messages=300, days=2, seed=3))
    extra = {
        "messaging_product": "whatsapp",
        "contacts": [{"wa_id": "905550000000"}],
        "messages": [{"id": "wamid.EXTRA"}],
        "key": "whatsapp-extra",
    }
    plain_extra = orjson.dumps(extra)
    # DuckDB refuses a repeated key; pydantic keeps the last value
    repeated_key = plain_extra.replace(b'"key":', b'"key":"whatsapp-first","key":')
    _plain_copy(sample, tmp_path / "bulk", plain_extra)
    _plain_copy(sample, tmp_path / "fallback", repeated_key)

    with caplog.at_level(logging.DEBUG, logger="transforms.ingest.fallback"):
        # the sample's few lines that are no JSON object hold no event's key: no pass reads
        # them, no batch is refused, and pydantic judges only them
        bulk: Warehouse = build(tmp_path / "bulk")
        assert "is refused" not in caplog.text
        assert bulk.value("select count(*) from quarantine where reason like 'not%'") == 3
        caplog.clear()
        # with a repeated key in every file, DuckDB refuses them as they are, too
        fallback: Warehouse = build(tmp_path / "fallback")
        assert "valid lines of the batch were read as they parse" in caplog.text
    assert bulk.value("select count(*) from accepted where key = 'whatsapp-extra'") == 1
    assert bulk.value("select count(*) from statuses") > 500
    assert _contents(bulk, tmp_path / "bulk") == _contents(fallback, tmp_path / "fallback")
    # the files differ in their bytes, so in their hashes only
    assert [report.model_dump(exclude={"file", "content_sha256"}) for report in bulk.reports] == [
        report.model_dump(exclude={"file", "content_sha256"}) for report in fallback.reports
    ]


def test_a_line_of_the_wrong_shape_sends_its_batch_to_pydantic(
    tmp_path: Path, build: Any, caplog: pytest.LogCaptureFixture
) -> None:
    archive = tmp_path / "archive"
    accepted = {"contacts": [{"wa_id": "9055"}], "messages": [{"id": "wamid.OK"}], "key": "k-1"}
    archive_file(archive, "a.jsonl", [accepted, '{"statuses": {"id": "x"}}', "not JSON"])

    with caplog.at_level(logging.DEBUG, logger="transforms.ingest.fallback"):
        warehouse: Warehouse = build(archive)
    # the non-object is set aside first; the object of the wrong shape still refuses the batch
    assert "falls back to pydantic" in caplog.text
    assert "valid lines of the batch were read as they are" in caplog.text
    assert warehouse.rows("select line_no, reason from quarantine order by line_no") == [
        {"line_no": 2, "reason": "invalid event: statuses: Input should be a valid list"},
        {"line_no": 3, "reason": "not JSON: expected ident at line 1 column 2"},
    ]
    assert warehouse.value("select count(*) from accepted where message_id = 'wamid.OK'") == 1
