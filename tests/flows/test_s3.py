"""The nightly flow with the archive and the export in S3 (a real S3 API server on loopback):
the same tables as a local run of the same files, the export uploaded, the manifest kept by
etag, and credentials from a Prefect block."""

import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from prefect_aws import AwsCredentials
from prefect_aws.client_parameters import AwsClientParameters

from devtools.sample import SampleSpec, write_sample
from flows.nightly import nightly_for
from flows.settings import Tuning
from flows.summary import RunSummary
from tests.conftest import S3Bucket
from transforms.contract.tables import ARCHIVE_TABLES, TABLES
from transforms.source.discover import local_listing

AS_OF = datetime(2026, 11, 24, 2, tzinfo=UTC)
# what differs by design between two runs of the same files: when and by which run they were
# read, and the etag only an object store gives
RUN_COLUMNS = {"ingested_at", "run_id", "etag"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("s3") / "sample"
    write_sample(folder, SampleSpec(messages=300, days=2, seed=5))
    return folder


def in_bucket(s3: S3Bucket, sample: Path, prefix: str) -> None:
    """Upload the sample and give the local files the objects' modification times (an event
    with no time of its own takes its file's)."""
    for path, url in s3.upload(sample, prefix).items():
        key = url.removeprefix(f"s3://{s3.name}/")
        modified = s3.client.head_object(Bucket=s3.name, Key=key)["LastModified"].timestamp()
        os.utime(path, (modified, modified))


def night(source: str, out: Path, export: str | Path, **options: str) -> RunSummary:
    out.mkdir(exist_ok=True)
    return nightly_for(Tuning())(
        source=source,
        warehouse=out / "warehouse.duckdb",
        export=export,
        as_of=AS_OF,
        tuning=Tuning(),
        **options,
    )


def tables(warehouse: Path, root: str) -> dict[str, list[tuple[object, ...]]]:
    """Every table, with the archive's root taken out of file URIs."""
    contents = {}
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        for name in ARCHIVE_TABLES:
            columns = [
                f"replace({column}, $root, '')" if column in ("source_file", "uri") else column
                for (column, *_) in connection.execute(f"describe {name}").fetchall()
                if column not in RUN_COLUMNS
            ]
            query = f"select {', '.join(columns)} from {name}"
            parameters = {"root": root} if "$root" in query else {}
            rows = connection.execute(query, parameters).fetchall()
            contents[name] = sorted(rows, key=repr)
    return contents


def test_an_archive_in_s3_gives_the_tables_of_the_same_files_on_disk(
    prefect_server: None, s3: S3Bucket, sample: Path, tmp_path: Path
) -> None:
    in_bucket(s3, sample, "webhooks/raw")
    source = f"s3://{s3.name}/webhooks/raw"

    from_s3 = night(source, tmp_path / "s3", f"s3://{s3.name}/reports")
    local = night(str(sample), tmp_path / "local", tmp_path / "local" / "export")

    assert from_s3.files == local.files == len(local_listing(sample).files)
    assert from_s3.lines == local.lines > 1000
    assert from_s3.rows == local.rows
    s3_tables = tables(tmp_path / "s3" / "warehouse.duckdb", f"{source}/")
    local_tables = tables(tmp_path / "local" / "warehouse.duckdb", f"{sample.resolve()}/")
    for name in ARCHIVE_TABLES:
        assert s3_tables[name] == local_tables[name], name

    # the export is in the bucket, table by table, as the local export is on disk
    exported = s3.keys("reports/")
    # every table, and the night's report uploaded beside them
    assert {key.split("/")[1] for key in exported} == {*TABLES, "report"}
    assert "reports/report/index.html" in exported
    download = tmp_path / "downloaded"
    for key in exported:
        target = download / key.removeprefix("reports/")
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.client.download_file(s3.name, key, str(target))
    for name in ARCHIVE_TABLES:
        s3_rows = pq.read_table(download / name).num_rows
        assert s3_rows == pq.read_table(tmp_path / "local" / "export" / name).num_rows
        assert s3_rows == local.rows[name], name
    with duckdb.connect() as reader:
        query = (
            "select * exclude (day) from read_parquet($files, hive_partitioning = true) "
            "order by all"
        )
        assert (
            reader.execute(query, {"files": f"{download}/delivery_daily/*/*.parquet"}).fetchall()
            == reader.execute(
                query, {"files": f"{tmp_path}/local/export/delivery_daily/*/*.parquet"}
            ).fetchall()
        )


def test_the_manifest_keeps_objects_by_etag(
    prefect_server: None, s3: S3Bucket, sample: Path, tmp_path: Path
) -> None:
    in_bucket(s3, sample, "raw")
    source = f"s3://{s3.name}/raw"
    first = night(source, tmp_path, tmp_path / "export")
    again = night(source, tmp_path, tmp_path / "export")
    assert (again.files, again.unchanged_files) == (0, first.files)
    assert again.rows == first.rows

    # an object rewritten with one more (duplicate) line is read again, its rows replaced
    key = next(key for key in s3.keys("raw/") if key.endswith(".json"))
    body = s3.client.get_object(Bucket=s3.name, Key=key)["Body"].read()
    assert body.endswith(b"\n")
    first_line = body.split(b"\n", 1)[0]
    s3.client.put_object(Bucket=s3.name, Key=key, Body=body + first_line + b"\n")
    changed = night(source, tmp_path, tmp_path / "export")

    assert (changed.files, changed.unchanged_files) == (1, first.files - 1)
    assert changed.rows == first.rows  # the copy is a duplicate of an event already counted
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        ((lines, etag),) = connection.execute(
            "select lines, etag from ingest_files where uri = $uri",
            {"uri": f"s3://{s3.name}/{key}"},
        ).fetchall()
    assert lines == body.count(b"\n") + 1 > 1
    assert etag == s3.client.head_object(Bucket=s3.name, Key=key)["ETag"].strip('"')


def test_credentials_from_a_prefect_block(
    prefect_server: None,
    s3: S3Bucket,
    sample: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    in_bucket(s3, sample, "raw")
    env = s3.server.env
    AwsCredentials(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_client_parameters=AwsClientParameters(endpoint_url=s3.server.endpoint),
    ).save("wa-etl-test-store", overwrite=True)
    for name in env:
        monkeypatch.delenv(name)

    summary = night(
        f"s3://{s3.name}/raw",
        tmp_path,
        f"s3://{s3.name}/export",
        aws_credentials="wa-etl-test-store",
    )

    assert summary.files == len(local_listing(sample).files)
    assert s3.keys("export/messages/")
