"""Secrets stay secret: after a night that works and a night that fails (an export to a
bucket that does not exist), the S3 credentials and the personal-data key appear nowhere: not
in the output, the Prefect database (logs, states, parameters, artifacts), the warehouse, the
state or the export."""

import os
import subprocess
from pathlib import Path

from devtools.sample import SampleSpec, write_sample
from tests.conftest import S3Bucket
from tests.flows.conftest import wa_etl_run

PII_KEY = "pii-key-that-must-not-leak-4f9a"


def every_byte(folder: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file())


def test_credentials_and_keys_never_reach_logs_artifacts_or_outputs(
    s3: S3Bucket, tmp_path: Path
) -> None:
    write_sample(tmp_path / "sample", SampleSpec(messages=150, days=2, seed=3))
    s3.upload(tmp_path / "sample", "raw")
    home, out = tmp_path / "prefect-home", tmp_path / "out"
    out.mkdir()
    environment = {
        **os.environ,
        **s3.server.env,
        "PREFECT_HOME": str(home),
        "PREFECT_LOGGING_LEVEL": "DEBUG",
        "WA_ETL_PII_KEY": PII_KEY,
    }
    environment.pop("PREFECT_API_URL", None)
    source = f"s3://{s3.name}/raw"

    def run(export: str) -> subprocess.CompletedProcess[bytes]:
        command = wa_etl_run(
            source, out / "warehouse.duckdb", export, "2026-11-24T02:00:00Z", "--pii", "hash"
        )
        return subprocess.run(command, capture_output=True, env=environment, timeout=600)

    worked = run(f"s3://{s3.name}/export")
    failed = run("s3://wa-etl-no-such-bucket/export")

    assert worked.returncode == 0, worked.stderr[-3000:]
    assert failed.returncode != 0
    assert b"NoSuchBucket" in failed.stderr + failed.stdout
    exported = tmp_path / "exported"
    for key in s3.keys("export/"):
        target = exported / key
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.client.download_file(s3.name, key, str(target))
    everything = {
        "output": worked.stdout + worked.stderr + failed.stdout + failed.stderr,
        "prefect": every_byte(home),
        "warehouse and state": every_byte(out),
        "export": every_byte(exported),
    }
    # the search sees what the runs wrote: the summary, and the files read in the artifacts
    assert b"published in" in everything["output"]
    assert f"{source}/".encode() in everything["prefect"]
    assert len(everything["export"]) > 10_000
    secrets = {
        "the secret access key": s3.server.env["AWS_SECRET_ACCESS_KEY"],
        "the access key id": s3.server.env["AWS_ACCESS_KEY_ID"],
        "the personal-data key": PII_KEY,
    }
    for where, content in everything.items():
        for name, secret in secrets.items():
            assert secret.encode() not in content, f"{name} is in the {where}"


def test_an_unknown_pii_mode_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            *wa_etl_run(tmp_path, tmp_path / "w.duckdb", tmp_path / "e", "2026-11-24T00:00:00Z"),
            "--pii",
            "mask",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "pii" in done.stderr and "'keep', 'hash' or 'drop'" in done.stderr


def test_hash_without_a_key_is_a_clear_error(tmp_path: Path) -> None:
    environment = {**os.environ, "PREFECT_HOME": str(tmp_path / "home")}
    environment.pop("WA_ETL_PII_KEY", None)
    environment.pop("PREFECT_API_URL", None)
    (tmp_path / "archive").mkdir()
    done = subprocess.run(
        [
            *wa_etl_run(
                tmp_path / "archive", tmp_path / "w.duckdb", tmp_path / "e", "2026-11-24T00:00:00Z"
            ),
            "--pii",
            "hash",
        ],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    assert done.returncode != 0
    assert "--pii hash needs a key: set WA_ETL_PII_KEY" in done.stderr + done.stdout
    assert not (tmp_path / "w.duckdb").exists()
