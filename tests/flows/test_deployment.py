"""The scheduled deployment, the whole path an operator takes (`make deploy`, README): a real
`prefect server start` on a free loopback port, the process work pool, `prefect deploy --all`
with the project's own prefect.yaml, a worker, and a run of the deployment that completes
and writes the warehouse, the export and the artifacts."""

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.settings import PREFECT_API_URL, temporary_settings

from devtools.sample import SampleSpec, write_sample
from flows import runs
from flows.deployment import scheduled_nightly
from flows.errors import UsageError
from flows.lock import run_lock
from tests.servers import BIN, free_port, server, stop
from transforms.source.discover import local_listing
from transforms.source.read import local_blocks

PROJECT = Path(__file__).resolve().parents[2]


def line_count(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The project as a worker checks it out: its code and prefect.yaml, with a small sample
    archive of its own in data/ (so the run writes nothing into the real project)."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in ("flows", "transforms", "sql"):
        (checkout / name).symlink_to(PROJECT / name)
    shutil.copy(PROJECT / "prefect.yaml", checkout / "prefect.yaml")
    write_sample(checkout / "data" / "sample", SampleSpec(messages=150, days=2, seed=11))
    return checkout


@pytest.fixture
def prefect_api(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A Prefect server of its own (`prefect server start`), and the environment that reaches
    it."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith("PREFECT_API")
    }
    environment.update(
        PREFECT_HOME=str(tmp_path / "prefect-home"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_WORKER_QUERY_SECONDS="2",
    )
    command = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with server(command, f"{api}/health", tmp_path / "server.log", environment):
        yield api, {**environment, "PREFECT_API_URL": api}


def prefect(environment: dict[str, str], cwd: Path, *arguments: str) -> str:
    done = subprocess.run(
        [str(BIN / "prefect"), *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def test_the_nightly_deployment_runs_on_a_worker(
    project: Path, prefect_api: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    api, environment = prefect_api
    prefect(environment, project, "work-pool", "create", "wa-etl", "--type", "process")
    prefect(environment, project, "--no-prompt", "deploy", "--all")

    with temporary_settings({PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("nightly/nightly")
        assert deployment.work_pool_name == "wa-etl"
        assert deployment.entrypoint == "flows/deployment.py:scheduled_nightly"
        (schedule,) = deployment.schedules
        assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 2 * * *", "UTC")
        assert schedule.active
        assert deployment.parameters == {
            "source": "data/sample",
            "warehouse": "data/warehouse.duckdb",
            "export": "data/export",
            "pii": "keep",
        }
        # nothing of the deploying machine is in the deployment: no absolute path at all
        assert str(PROJECT) not in json.dumps(deployment.parameter_openapi_schema)
        assert str(project) not in json.dumps(deployment.model_dump(mode="json"))
        flow_run = client.create_flow_run_from_deployment(deployment.id)

        worker_log = (tmp_path / "worker.log").open("wb")
        worker = subprocess.Popen(
            [str(BIN / "prefect"), "worker", "start", "--pool", "wa-etl"],
            cwd=tmp_path,
            env={**environment, "WA_ETL_PROJECT_DIR": str(project)},
            stdout=worker_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so SIGTERM reaches it (set -m)
        )
        try:
            deadline = time.monotonic() + 300
            state = client.read_flow_run(flow_run.id).state
            while time.monotonic() < deadline and not (state and state.is_final()):
                time.sleep(1)
                state = client.read_flow_run(flow_run.id).state
        finally:
            stop(worker)  # the worker before the server
            worker_log.close()
        log = (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
        assert state is not None and state.is_completed(), f"{state}\n{log}"
        artifacts = client.read_artifacts(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id]))
        )
        assert {artifact.key for artifact in artifacts} == {"nightly-files", "nightly-summary"}

    files = local_listing(project / "data" / "sample").files
    with duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True) as warehouse:
        ((read, lines),) = warehouse.execute(
            "select count(*), sum(lines) from ingest_files"
        ).fetchall()
        ((messages,),) = warehouse.execute("select count(*) from messages").fetchall()
    assert read == len(files)
    assert lines == sum(line_count(b"".join(local_blocks(file))) for file in files)
    assert messages >= 150
    assert (project / "data" / "export").is_symlink()
    assert sorted(path.name for path in (project / "data" / "export" / "messages").iterdir())


def test_the_deployment_tries_a_night_again_only_when_its_fault_may_pass(
    prefect_server: None, tmp_path: Path
) -> None:
    """A missing source fails at once; a warehouse held by another run is tried again later,
    and the night completes once it is free."""
    write_sample(tmp_path / "archive", SampleSpec(messages=60, days=1, seed=2))
    missing = scheduled_nightly(
        source=str(tmp_path / "nowhere"),
        warehouse=tmp_path / "w.duckdb",
        export=tmp_path / "export",
        retry_delay_seconds=600,
        return_state=True,
    )
    assert missing.is_failed()
    with pytest.raises(UsageError, match="does not exist"):
        missing.result()

    lock = tmp_path / ".w.duckdb.state" / "lock"
    freed = threading.Event()

    def hold_the_lock_a_while() -> None:
        with run_lock(lock, 0):
            freed.wait(timeout=3)

    holder = threading.Thread(target=hold_the_lock_a_while)
    holder.start()
    time.sleep(0.5)
    started = time.monotonic()
    threading.Timer(1.0, freed.set).start()
    summary = scheduled_nightly(
        source=str(tmp_path / "archive"),
        warehouse=tmp_path / "w.duckdb",
        export=tmp_path / "export",
        retry_delay_seconds=2,
    )
    holder.join()
    assert summary.outcome == "published"
    assert time.monotonic() - started >= 2  # tried again after the delay
    outcomes = [record.outcome for record in runs.runs(lock.parent / runs.LOG_NAME)]
    assert outcomes == ["locked", "published"]
