"""Personal data at ingestion: the keyed hash DuckDB computes is Python's HMAC-SHA256, and
`hash` and `drop` mask every personal column of the raw tables, the quarantine included,
while duplicates and joins still work."""

import hashlib
import hmac
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.conftest import Warehouse, archive_file, ingest_options
from tests.payloads import RECIPIENT, accepted, reply, status, template_send
from transforms.contract.raw_tables import Replies, TemplateSends
from transforms.contract.tables import Quarantine
from transforms.ingest.personal import (
    MissingKeyError,
    PiiMode,
    key_id,
    keyed_digest,
    personal_columns,
    required_key,
    set_key,
)
from transforms.sql import run_script

KEY = b"a key only the tests know"


@pytest.mark.parametrize("key", [b"", b"k", KEY, b"x" * 64, b"long key " * 20])
def test_duckdb_computes_python_hmac_sha256(key: bytes) -> None:
    connection = duckdb.connect()
    run_script(connection, "ingest/personal")
    set_key(connection, "hash", key)
    for text in ["15551234567", "", "ünïcode ☎"]:
        ((digest,),) = connection.execute("select keyed_digest($text)", {"text": text}).fetchall()
        assert digest == hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
        assert digest == keyed_digest(key, text)


def test_the_models_mark_numbers_and_texts() -> None:
    assert personal_columns(TemplateSends) == {
        "recipient": "number",
        "content": "text",
        "components": "text",
        "payload_json": "payload",
    }
    assert personal_columns(Replies)["customer"] == "number"
    assert personal_columns(Replies)["text_body"] == "text"
    assert "context_from" not in personal_columns(Replies)  # the business's own number
    assert personal_columns(Quarantine) == {"raw": "text"}


def test_hash_needs_a_key_and_names_it_without_showing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WA_ETL_PII_KEY", raising=False)
    with pytest.raises(MissingKeyError, match="set WA_ETL_PII_KEY"):
        required_key("hash", None)
    assert required_key("drop", None) is None
    assert required_key("keep", None) is None
    monkeypatch.setenv("WA_ETL_PII_KEY", KEY.decode())
    assert required_key("hash", None) == KEY
    assert key_id("hash", KEY) == "hash:" + keyed_digest(KEY, "wa-etl key id")[:16]
    assert KEY.decode() not in key_id("hash", KEY)
    assert key_id("keep", None) == "keep"


def archive_with_personal_data(root: Path) -> Path:
    archive = root / "archive"
    events = [
        template_send("whatsapp-k1", "2026-11-17 10:00:00"),
        accepted("whatsapp-k1", "wamid.A"),
        status("wamid.A", "sent", "2026-11-17 10:00:05", key="whatsapp-k1"),
        status("wamid.A", "delivered", "2026-11-17 10:00:09", key="whatsapp-k1"),
        reply("wamid.R1", "2026-11-17 10:05:00", context="wamid.A"),
        reply("wamid.R2", "2026-11-17 10:06:00"),  # no context: the 24-hour rule
    ]
    truncated = '{"entry": [{"changes": [{"value": {"statuses": [{"recipient_id": "15550001111"'
    archive_file(archive, "dt=2026-11-17/a.jsonl", [*events, *events, truncated])
    return archive


@pytest.mark.parametrize("mode", ["hash", "drop"])
def test_personal_columns_are_masked_at_ingestion(
    mode: PiiMode, tmp_path: Path, build: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = archive_with_personal_data(tmp_path)
    monkeypatch.setenv("WA_ETL_PII_KEY", KEY.decode())
    kept: Warehouse = build(archive)
    masked: Warehouse = build(
        archive, options=ingest_options(pii=mode), key=required_key(mode, None)
    )
    expected = keyed_digest(KEY, RECIPIENT) if mode == "hash" else None

    for table, column in [
        ("template_sends", "recipient"),
        ("accepted", "recipient"),
        ("statuses", "recipient"),
        ("replies", "customer"),
        ("messages", "recipient"),
    ]:
        assert kept.value(f"select distinct {column} from {table}") == RECIPIENT
        assert masked.value(f"select distinct {column} from {table}") == expected, table
    assert masked.value("select count(*) from replies where text_body is not null") == 0
    # message ids encode the recipient's number: hashed in both modes, so joins still hold
    for table, column in [
        ("accepted", "message_id"),
        ("statuses", "message_id"),
        ("messages", "message_id"),
        ("replies", "context_id"),
    ]:
        assert kept.value(f"select distinct {column} from {table} where {column} is not null") == (
            "wamid.A"
        )
        assert masked.value(
            f"select distinct {column} from {table} where {column} is not null"
        ) == keyed_digest(KEY, "wamid.A"), table
    assert masked.value("select list(reply_id order by reply_id) from replies") == sorted(
        keyed_digest(KEY, wamid) for wamid in ("wamid.R1", "wamid.R2")
    )
    # the elements kept whole keep only what carries no customer's data, ids hashed
    for table in ("template_sends", "accepted", "statuses", "replies"):
        payloads = " ".join(masked.value(f"select list(payload_json) from {table}"))
        assert RECIPIENT not in payloads and "wamid." not in payloads, table
        assert RECIPIENT in " ".join(kept.value(f"select list(payload_json) from {table}"))
    assert "body" not in masked.value("select any_value(payload_json) from replies")
    assert keyed_digest(KEY, "wamid.A") in masked.value(
        "select any_value(payload_json) from statuses"
    )
    assert masked.value("select count(*) from template_sends where content is not null") == 0
    assert kept.value("select raw from quarantine").startswith('{"entry"')
    assert masked.value("select raw from quarantine") is None
    assert masked.value("select reason from quarantine") == kept.value(
        "select reason from quarantine"
    )
    # duplicates still collapse, and the 24-hour rule still finds the recipient when hashed
    for table in ("template_sends", "accepted", "statuses", "replies"):
        assert masked.value(f"select count(*) from {table}") == kept.value(
            f"select count(*) from {table}"
        ), table
    assert kept.value("select replied from messages") is True
    assert masked.value("select replied from messages") is True
    assert kept.value("select count(*) from replies") == 2
