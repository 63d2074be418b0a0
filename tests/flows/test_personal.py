"""A night on the sample with `pii=hash`: no customer's phone number (in clear, or in base64
inside a message id, as Meta's wamids hold it) and no reply text left anywhere: the warehouse,
the state, the runs log, the export, the Prefect database (logs, artifacts) and what the run
printed, searched byte by byte and in every table's text; and every metric as with
`pii=keep`. A change of the setting reads the archive again and rewrites the state."""

import base64
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import orjson
import pytest
from prefect.blocks.system import Secret

from devtools.sample import SampleSpec, write_sample
from flows.nightly import nightly_for
from flows.settings import Tuning
from flows.summary import RunSummary
from tests.flows.conftest import wa_etl_run
from transforms.contract.schema import table_columns
from transforms.contract.tables import ARCHIVE_TABLES
from transforms.ingest.personal import PiiMode, keyed_digest

AS_OF = datetime(2026, 11, 24, 2, tzinfo=UTC)
KEY = "the sample's hashing key"
METRICS = ("delivery_daily", "error_breakdown", "rate_limit_incidents", "cost_daily")
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
    # the country was taken before the number was hashed: every message keeps its market
    # and its cost
    priced = "select key, recipient_country, market, cost from messages order by all"
    assert rows(hash_db, priced) == rows(keep_db, priced)
    assert {country for _, country, _, _ in rows(hash_db, priced)} == {"TR", "IN", "BR", "DE", None}
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
    for name, table in ARCHIVE_TABLES.items():
        # when and by which run a file was read differ by design
        columns = [
            column for column in table_columns(table) if column not in ("ingested_at", "run_id")
        ]
        query = f"select {', '.join(columns)} from {name} order by all"
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


def base64_forms(number: str) -> set[str]:
    """The base64 texts a number takes inside a longer base64 string (a wamid), at each of
    the three byte alignments: only the characters the number's bytes alone decide."""
    forms = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + number.encode() + b"\0\0").decode()
        first = -(-offset * 4 // 3)
        last = (offset + len(number)) * 4 // 3
        forms.add(encoded[first:last])
    return forms


def test_base64_forms_find_a_number_in_a_meta_wamid() -> None:
    wamid = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    assert any(form in wamid for form in base64_forms("16503879439"))
    assert not any(form in wamid for form in base64_forms("16513879439"))


def run_cli(
    archive: Path, out: Path, home: Path, pii: PiiMode
) -> subprocess.CompletedProcess[bytes]:
    environment = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_LOGGING_LEVEL": "DEBUG",
        "WA_ETL_PII_KEY": KEY,
    }
    environment.pop("PREFECT_API_URL", None)
    command = [
        *wa_etl_run(archive, out / "warehouse.duckdb", out / "export", "2026-11-24T02:00:00Z"),
        "--pii",
        pii,
        "--debug",
    ]
    done = subprocess.run(command, capture_output=True, env=environment, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def every_byte(folder: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file())


NUMBERED = "905557770011"  # a customer's number in free texts and as a key, as senders write them


def with_numbers_in_texts(sample: Path, archive: Path) -> None:
    """The sample with lines that hide a customer's number in an error's title and details,
    in an unclassified object's key and in a quarantined line."""
    shutil.copytree(sample, archive)
    error = {
        "error": {
            "message": f"(#131026) Message undeliverable to {NUMBERED}",
            "code": 131026,
            "error_data": {"details": f"recipient +{NUMBERED} is not on WhatsApp"},
        },
        "key": "whatsapp-numbered",
    }
    lines = [
        orjson.dumps(error),
        orjson.dumps({NUMBERED: {"opted_out": True}}),
        f'{{"statuses": [{{"recipient_id": "{NUMBERED}"'.encode(),
    ]
    (archive / "dt=2026-11-17").mkdir(exist_ok=True)
    (archive / "dt=2026-11-17" / "numbered.jsonl").write_bytes(b"\n".join(lines) + b"\n")


def test_hash_leaves_no_customer_number_anywhere_in_clear_or_in_base64(
    sample: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    with_numbers_in_texts(sample, archive)
    keep, hashed = tmp_path / "keep", tmp_path / "hash"
    keep.mkdir()
    kept_run = run_cli(archive, keep, tmp_path / "home-keep", "keep")
    numbers = {
        number
        for (number,) in rows(
            keep / "warehouse.duckdb",
            "select recipient from messages union select customer from replies "
            "union select recipient from statuses union select recipient from accepted",
        )
        if number
    } | {NUMBERED}
    assert len(numbers) > 50

    # the same warehouse switched to hash: the state is rewritten in the same run
    shutil.copytree(keep, hashed, symlinks=True)
    hash_run = run_cli(archive, hashed, tmp_path / "home-hash", "hash")
    # what the run printed and logged (Prefect's logs and artifacts are in its home), the
    # warehouse, the state, the runs log and the export, byte by byte, and as text
    outputs = {
        "output": hash_run.stdout + hash_run.stderr,
        "prefect": every_byte(tmp_path / "home-hash"),
        "warehouse, state and export": every_byte(hashed),
        "tables": every_text(hashed).encode(),
    }
    for where, content in outputs.items():
        text = content.decode("utf-8", errors="replace")
        for number in numbers:
            assert number not in text, f"a customer's number in clear in the {where}"
            found = [form for form in base64_forms(number) if form in text]
            assert not found, f"a customer's number in base64 in the {where}"
    # the search finds them where they were kept: in clear and in the wamids' base64
    kept_text = every_text(keep) + (kept_run.stdout + kept_run.stderr).decode()
    assert NUMBERED in kept_text
    assert sum(any(form in kept_text for form in base64_forms(number)) for number in numbers) > 50
    masked = rows(
        hashed / "warehouse.duckdb",
        "select title, details from errors where key = 'whatsapp-numbered'",
    )
    assert masked == [
        ("Message undeliverable to [number]", "recipient +[number] is not on WhatsApp")
    ]
