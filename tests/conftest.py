"""Shared test setup: an isolated Prefect home for the session (set before Prefect is first
imported), and helpers that run an archive through the real pipeline into a DuckDB file."""

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_PREFECT_HOME = Path(tempfile.mkdtemp(prefix="wa-etl-prefect-"))
os.environ.update(
    PREFECT_HOME=str(_PREFECT_HOME),
    PREFECT_SERVER_ANALYTICS_ENABLED="false",
    DO_NOT_TRACK="1",
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
    PREFECT_LOGGING_LEVEL="WARNING",
)

import duckdb  # noqa: E402
import orjson  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

from flows.settings import Tuning  # noqa: E402
from tests.servers import FaultProxy, S3Server  # noqa: E402
from tests.servers import fault_proxy as start_fault_proxy  # noqa: E402
from tests.servers import s3_server as start_s3_server  # noqa: E402
from transforms.build.warehouse import build_warehouse  # noqa: E402
from transforms.ingest.accounting import FileReport  # noqa: E402
from transforms.ingest.flatten import IngestOptions, ingest_files  # noqa: E402
from transforms.source.discover import local_listing  # noqa: E402
from transforms.source.storage import s3_client  # noqa: E402
from transforms.source.stored import open_local  # noqa: E402
from transforms.sql import Limits  # noqa: E402
from transforms.state.store import (  # noqa: E402
    ReadPlan,
    ingest_file_rows,
    merge_run,
    open_state,
    run_landing_files,
)

# the suite runs the same examples every time (a run passes or fails by the code, not by
# chance); `pytest --hypothesis-profile=explore` searches new ones
settings.register_profile(
    "suite",
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "explore", max_examples=500, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile("suite")

FIXTURES = Path(__file__).parent / "fixtures"
# payloads one per file: the contract's and the vendor's examples (the corpus of real published
# payloads, tests/fixtures/real, has its own manifest and tests)
FIXTURE_FILES = sorted([*FIXTURES.glob("spec/*.json"), *FIXTURES.glob("vendor/*.json")])
# the tests' runs start now, as a night does: a file written by a test is no younger than its run
INGESTED_AT = datetime.now(UTC).replace(microsecond=0)


def ingest_options(memory_limit: str = "800MB", **overrides: Any) -> IngestOptions:
    """A reading task's options: the night's defaults for one reading task at a time (no
    second read with every task's memory), with `overrides`."""
    options = Tuning(workers=1, memory_limit=memory_limit).ingest()
    return options.model_copy(update=overrides)


AS_OF = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def pytest_sessionfinish() -> None:
    shutil.rmtree(_PREFECT_HOME, ignore_errors=True)


SLOW_FOLDERS = ("flows", "benchmarks")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests of the Prefect flows and of the benchmark are slow (`make test-fast` skips
    them): a flow runs real servers and real nights."""
    for item in items:
        if item.path.parent.name in SLOW_FOLDERS:
            item.add_marker(pytest.mark.slow)


def fixture_line(name: str) -> bytes:
    """A fixture payload (tests/fixtures/<name>.json) as one archive line."""
    return orjson.dumps(orjson.loads((FIXTURES / f"{name}.json").read_bytes()))


def archive_file(
    root: Path, relative: str, lines: list[bytes | str | dict[str, Any]], *, end: bytes = b"\n"
) -> Path:
    """Write an archive file of these lines (dicts as compact JSON), each ended by `end`."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    encoded = [
        orjson.dumps(line)
        if isinstance(line, dict)
        else line.encode()
        if isinstance(line, str)
        else line
        for line in lines
    ]
    path.write_bytes(b"".join(line + end for line in encoded))
    return path


class Warehouse:
    """A warehouse built from an archive by the real ingest and build, opened read-only."""

    def __init__(self, path: Path, reports: list[FileReport]) -> None:
        self.path = path
        self.reports = reports
        self.connection = duckdb.connect(str(path), read_only=True)

    def rows(self, query: str, parameters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        result = self.connection.execute(query, parameters or {})
        names = [column[0] for column in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]

    def value(self, query: str, parameters: dict[str, Any] | None = None) -> Any:
        ((value,),) = self.connection.execute(query, parameters or {}).fetchall()
        return value

    def close(self) -> None:
        self.connection.close()


def warehouse_of(
    archive: Path,
    work: Path,
    *,
    as_of: datetime | None = AS_OF,
    options: IngestOptions | None = None,
    key: bytes | None = None,
) -> Warehouse:
    """Read `archive` through ingest, the state's merge and the build into
    `work/warehouse.duckdb`, as one nightly run does."""
    landing, scratch = work / "landing", work / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    files = local_listing(archive).files
    reports = ingest_files(
        files, open_local, landing, scratch, "part", INGESTED_AT, options or ingest_options(), key
    )
    state = open_state(work / "state.duckdb", limits=Limits(threads=2, memory_limit="1GB"))
    merge_run(
        state,
        run_landing_files(landing),
        ingest_file_rows(reports, "test-run", INGESTED_AT),
        ReadPlan(read=files, unchanged=0, vanished=[]),
        [file.uri for file in files],
        INGESTED_AT,
    )
    state.close()
    database = work / "warehouse.duckdb"
    build_warehouse(database, work / "state.duckdb", Tuning().build(INGESTED_AT, as_of))
    return Warehouse(database, reports)


@pytest.fixture
def build(tmp_path: Path) -> Iterator[Any]:
    """`build(archive)` returns the warehouse of an archive folder; closed after the test."""
    opened: list[Warehouse] = []

    def _build(archive: Path, **kwargs: Any) -> Warehouse:
        warehouse = warehouse_of(archive, tmp_path / f"work-{len(opened)}", **kwargs)
        opened.append(warehouse)
        return warehouse

    yield _build
    for warehouse in opened:
        warehouse.close()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 API server on a free loopback port, for the whole session."""
    with start_s3_server(tmp_path_factory.mktemp("s3") / "moto.log") as started:
        yield started


def new_bucket(server: S3Server, monkeypatch: pytest.MonkeyPatch) -> "S3Bucket":
    """A new, empty bucket on `server`, reached through the standard AWS settings (set in
    this process's environment for the test)."""
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    client = s3_client()
    bucket = f"wa-etl-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return S3Bucket(client, bucket, server)


@pytest.fixture
def s3(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Iterator["S3Bucket"]:
    """A new, empty bucket on the session's S3 server."""
    yield new_bucket(s3_server, monkeypatch)


@pytest.fixture
def own_s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator["S3Bucket"]:
    """A new bucket on an S3 server of the test's own, which the test may freeze or stop
    (`bucket.server.freeze()`, `.stop()`); the server is stopped after the test."""
    with start_s3_server(tmp_path / "moto.log") as started:
        yield new_bucket(started, monkeypatch)


@pytest.fixture
def proxy(s3: "S3Bucket") -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the S3 server of `s3` (whose own client still
    reaches the server directly), closed after the test."""
    with start_fault_proxy(s3.server.endpoint) as started:
        yield started


class S3Bucket:
    """A bucket of the test's S3 server and a client of it."""

    def __init__(self, client: Any, name: str, server: S3Server) -> None:
        self.client = client
        self.name = name
        self.server = server

    def upload(self, folder: Path, prefix: str) -> dict[str, str]:
        """Every file below `folder` to `prefix/<relative path>`: local path -> URL."""
        uploaded = {}
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                key = f"{prefix}/{path.relative_to(folder).as_posix()}"
                self.client.upload_file(str(path), self.name, key)
                uploaded[str(path)] = f"s3://{self.name}/{key}"
        return uploaded

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.name, Prefix=prefix
        )
        return sorted(entry["Key"] for page in pages for entry in page.get("Contents", []))
