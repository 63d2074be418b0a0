"""A night on the sample with `pii=hash`: no recipient's phone number and no reply text left
anywhere in the warehouse, the export or the state (searched byte by byte in every table's
text), and every metric as with `pii=keep`. A change of the setting reads the archive again."""

import re
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from prefect.blocks.system import Secret

from flows.nightly import nightly_for
from flows.sample import SampleSpec, write_sample
from flows.settings import Tuning
from flows.summary import RunSummary
from transforms.personal import PiiMode, keyed_digest
from transforms.tables import TABLES

AS_OF = datetime(2026, 11, 24, 2, tzinfo=UTC)
KEY = "the sample's hashing key"
METRICS = ("delivery_daily", "error_breakdown", "rate_limit_incidents")
TEXT_COLUMNS = {
    "replies": [
        "text_body",
        "media_caption",
        "media_filename",
        "button_text",
        "interactive_title",
        "location_name",
        "location_address",
    ],
    "template_sends": ["content"],
}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pii") / "sample"
    write_sample(folder, SampleSpec(messages=300, days=2, seed=13))
    return folder


def night(sample: Path, out: Path, pii: PiiMode, full_refresh: bool = False) -> RunSummary:
    out.mkdir(exist_ok=True)
    return nightly_for(Tuning())(
        source=str(sample),
        warehouse=out / "warehouse.duckdb",
        export=out / "export",
        as_of=AS_OF,
        full_refresh=full_refresh,
        pii=pii,
        tuning=Tuning(),
    )


def rows(database: Path, query: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(query).fetchall()


def every_text(out: Path) -> str:
    """Every value of every table of the warehouse, the state and the export, as CSV text
    (DuckDB and Parquet compress their files, so a search of their bytes alone could miss)."""
    dumps = []
    with duckdb.connect() as connection:
        for database in [
            out / "warehouse.duckdb",
            out / ".warehouse.duckdb.state" / "state.duckdb",
        ]:
            connection.execute(f"attach '{database}' as db (read_only)")
            for schema, table in connection.execute(
                "select schema_name, table_name from duckdb_tables() where database_name = 'db'"
            ).fetchall():
                target = out / f"dump-{database.stem}-{schema}-{table}.csv"
                connection.execute(f"copy db.{schema}.{table} to '{target}' (header false)")
                dumps.append(target)
            connection.execute("detach db")
        for parquet in sorted((out / "export").rglob("*.parquet")):
            target = out / f"dump-export-{len(dumps)}.csv"
            connection.execute(f"copy (select * from read_parquet('{parquet}')) to '{target}'")
            dumps.append(target)
    text = "\n".join(dump.read_text(encoding="utf-8") for dump in dumps)
    # and the raw bytes of every file (the Parquet and DuckDB files themselves)
    for path in out.rglob("*"):
        if path.is_file() and not path.name.startswith("dump-"):
            text += path.read_bytes().decode("utf-8", errors="replace")
    return text


def test_hashing_leaves_no_number_or_text_and_every_metric_unchanged(
    prefect_server: None, sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WA_ETL_PII_KEY", KEY)
    kept = night(sample, tmp_path / "keep", "keep")
    hashed = night(sample, tmp_path / "hash", "hash")

    keep_db, hash_db = (
        tmp_path / "keep" / "warehouse.duckdb",
        tmp_path / "hash" / "warehouse.duckdb",
    )
    numbers = {
        number
        for (number,) in rows(
            keep_db,
            "select recipient from messages union select customer from replies "
            "union select recipient from statuses union select recipient from accepted",
        )
        if number
    }
    texts = {
        text
        for table, columns in TEXT_COLUMNS.items()
        for column in columns
        for (text,) in rows(keep_db, f"select distinct {column} from {table}")
        if text and len(text) >= 5
    }
    assert len(numbers) > 50
    assert {"When will it arrive?", "photo of the parcel", "Istanbul"} <= texts

    found = every_text(tmp_path / "hash")
    digit_runs = set(re.findall(r"\d{8,}", found))
    assert not numbers & digit_runs
    assert [text for text in texts if text in found] == []
    # the same search finds them where they were kept (the search itself works)
    kept_text = every_text(tmp_path / "keep")
    assert numbers <= set(re.findall(r"\d{8,}", kept_text))
    assert all(text in kept_text for text in texts)

    # every number became its keyed hash, so counts and joins are as before
    hashed_recipients = {
        number for (number,) in rows(hash_db, "select recipient from messages") if number
    }
    recipients = {number for (number,) in rows(keep_db, "select recipient from messages") if number}
    assert hashed_recipients == {keyed_digest(KEY.encode(), number) for number in recipients}
    for table in METRICS:
        query = f"select * from {table} order by all"
        assert rows(hash_db, query) == rows(keep_db, query), table
    assert hashed.rows == kept.rows
    replied = "select count(*) filter (where replied) from messages"
    assert rows(hash_db, replied) == rows(keep_db, replied) != [(0,)]


def test_a_new_setting_reads_the_archive_again(
    prefect_server: None, sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WA_ETL_PII_KEY", KEY)
    night(sample, tmp_path / "a", "keep")
    changed = night(sample, tmp_path / "a", "hash")
    night(sample, tmp_path / "b", "hash")

    assert changed.files == changed.rows["ingest_files"]  # every file read again
    for name in TABLES:
        query = (
            f"select * exclude (ingested_at) from {name} order by all"
            if name not in ("ingest_files", "error_codes", *METRICS, "messages")
            else f"select * exclude (run_id, ingested_at) from {name} order by all"
            if name == "ingest_files"
            else f"select * from {name} order by all"
        )
        assert rows(tmp_path / "a" / "warehouse.duckdb", query) == rows(
            tmp_path / "b" / "warehouse.duckdb", query
        ), name

    monkeypatch.setenv("WA_ETL_PII_KEY", "another key")
    rotated = night(sample, tmp_path / "a", "hash")
    assert rotated.files == changed.files
    again = night(sample, tmp_path / "a", "hash")
    assert again.files == 0


def test_the_key_from_a_prefect_secret_block(
    prefect_server: None, sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WA_ETL_PII_KEY", raising=False)
    Secret(value=KEY).save("wa-etl-test-pii-key", overwrite=True)
    (tmp_path / "out").mkdir()
    nightly_for(Tuning())(
        source=str(sample),
        warehouse=tmp_path / "out" / "warehouse.duckdb",
        export=tmp_path / "out" / "export",
        as_of=AS_OF,
        pii="hash",
        pii_key_secret="wa-etl-test-pii-key",
        tuning=Tuning(),
    )
    warehouse = tmp_path / "out" / "warehouse.duckdb"
    recipients = {number for (number,) in rows(warehouse, "select recipient from template_sends")}
    # the numbers template sends went to, read off the plain files of the archive
    sent_to = {
        number
        for path in sample.rglob("*.json")
        for number in re.findall(r'"to": ?"\+?(\d+)"', path.read_text(encoding="utf-8"))
    }
    assert len(sent_to) > 10
    assert {keyed_digest(KEY.encode(), number) for number in sent_to} <= recipients
    assert not sent_to & recipients
