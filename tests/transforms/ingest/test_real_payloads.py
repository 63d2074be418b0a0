"""The corpus of real published webhook payloads (tests/fixtures/real: Meta's documentation and
open-source WhatsApp libraries' test fixtures, each with its source in manifest.json): every
payload yields the rows its manifest entry lists, field by field, or is unclassified naming its
webhook fields, or is quarantined; every row keeps its element whole (`payload_json`): no field
of any payload is lost. No call or Flows alert becomes a status or an error (no published
payment status could be found: tests/transforms/build/test_warehouse.py covers them).

Each payload is a file of its own (two libraries reuse ids across files): the rows are
compared per file, as read (the landing rows, before de-duplication across files)."""

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from tests.conftest import FIXTURES, Warehouse, warehouse_of
from transforms.contract.raw_tables import RAW_TABLES

CORPUS = FIXTURES / "real"
MANIFEST: list[dict[str, Any]] = json.loads((CORPUS / "manifest.json").read_text())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Warehouse, Path]]:
    root = tmp_path_factory.mktemp("real")
    archive = root / "archive"
    for entry in MANIFEST:
        payload = orjson.loads((CORPUS / entry["file"]).read_bytes())
        target = archive / (entry["file"].replace("/", "--") + "l")  # .json -> .jsonl
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(orjson.dumps(payload) + b"\n")
    built = warehouse_of(archive, root / "work")
    yield built, root / "work" / "state.duckdb"
    built.close()


def landing_rows(state: Path, table: str, entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows a payload's file gave a table, in their order in the line."""
    name = entry["file"].replace("/", "--") + "l"
    with duckdb.connect(str(state), read_only=True) as connection:
        result = connection.execute(
            f"select * from landing_{table} where source_file like $file order by seq",
            {"file": f"%/{name}"},
        )
        names = [column[0] for column in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def _comparable(column: str, value: Any) -> Any:
    if column == "event_time" and isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


@pytest.mark.parametrize("entry", MANIFEST, ids=[entry["file"] for entry in MANIFEST])
def test_a_real_payload_yields_the_rows_its_manifest_lists(
    corpus: tuple[Warehouse, Path], entry: dict[str, Any]
) -> None:
    warehouse, state = corpus
    expect = entry["expect"]
    for table in RAW_TABLES:
        rows = landing_rows(state, table, entry)
        expected = expect.get(table, [])
        assert len(rows) == len(expected), table
        for row, wanted in zip(rows, expected, strict=True):
            if wanted.get("event_time_source") == "file":
                wanted = {key: value for key, value in wanted.items() if key != "event_time"}
            assert {column: row[column] for column in wanted} == {
                column: _comparable(column, value) for column, value in wanted.items()
            }, table
    name = entry["file"].replace("/", "--") + "l"
    unclassified = warehouse.rows(
        "select reason from unclassified where source_file like $file", {"file": f"%/{name}"}
    )
    quarantined = warehouse.rows(
        "select reason from quarantine where source_file like $file", {"file": f"%/{name}"}
    )
    if "unclassified" in expect:
        (row,) = unclassified
        for field in expect["unclassified"]["fields"]:
            assert field in row["reason"]
    else:
        assert unclassified == []
    assert len(quarantined) == (1 if expect.get("quarantine") else 0)


def _elements(payload: dict[str, Any], table: str) -> list[Any]:
    """The elements of a payload a table's rows keep whole, by the contract's rules."""
    body = payload
    changes = [
        change
        for entry in body.get("entry") or []
        for change in (entry or {}).get("changes") or []
        if change and change.get("field") in (None, "messages")
    ]
    values = [change.get("value") or {} for change in changes]
    if table == "statuses":
        return [s for value in values for s in value.get("statuses") or []] + [
            s for s in body.get("statuses") or []
        ]
    if table == "replies":
        top = [m for m in body.get("messages") or [] if "entry" not in body and "from" in m]
        return [m for value in values for m in value.get("messages") or []] + top
    if table == "accepted":
        messages = [] if "entry" in body else body.get("messages") or []
        contacts = body.get("contacts") or []
        return [
            {
                "message": message,
                "contact": contacts[min(index, len(contacts) - 1)] if contacts else None,
            }
            for index, message in enumerate(messages)
            if "from" not in message
        ]
    if table == "template_sends":
        return [body] if "template" in body else []
    errors = [body["error"]] if body.get("error") else []
    errors += body.get("errors") or []
    for value in values:
        for report in (value.get("statuses") or []) + (value.get("messages") or []):
            errors += report.get("errors") or []
        errors += [error for error in value.get("errors") or [] if "code" in error]
    for report in body.get("statuses") or []:
        errors += report.get("errors") or []
    if "entry" not in body:
        for message in body.get("messages") or []:
            errors += message.get("errors") or [] if "from" in message else []
    return errors


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


@pytest.mark.parametrize(
    "entry",
    [entry for entry in MANIFEST if not entry["expect"].get("quarantine")],
    ids=lambda entry: entry["file"],
)
def test_no_field_of_a_real_payload_is_lost(
    corpus: tuple[Warehouse, Path], entry: dict[str, Any]
) -> None:
    _, state = corpus
    payload = orjson.loads((CORPUS / entry["file"]).read_bytes())
    for table in RAW_TABLES:
        kept = sorted(
            _canonical(orjson.loads(row["payload_json"]))
            for row in landing_rows(state, table, entry)
        )
        assert kept == sorted(_canonical(element) for element in _elements(payload, table)), table


def test_calls_and_alerts_are_no_statuses_and_no_errors(
    corpus: tuple[Warehouse, Path],
) -> None:
    warehouse, _ = corpus
    calls = [entry for entry in MANIFEST if "calls" in json.dumps(entry["expect"])]
    alerts = [entry for entry in MANIFEST if "flows_alert" in entry["file"]]
    assert calls and alerts
    for entry in calls + alerts:
        name = entry["file"].replace("/", "--") + "l"
        for table in ("statuses", "errors", "accepted", "replies"):
            assert not warehouse.value(
                f"select count(*) from {table} where source_file like $file",
                {"file": f"%/{name}"},
            ), (entry["file"], table)
