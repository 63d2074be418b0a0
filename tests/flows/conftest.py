"""A Prefect server for the flow tests, started once on 127.0.0.1 and stopped after them."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.testing.utilities import prefect_test_harness


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=None):
        yield


def wa_etl_run(
    archive: Path | str, warehouse: Path, export: Path | str, as_of: str, *extra: str
) -> list[str]:
    """The command line of `wa-etl run`, as an operator types it, for a child process."""
    return [
        sys.executable, "-c", "from flows.cli import main; main()", "run",
        "--source", str(archive), "--warehouse", str(warehouse), "--export", str(export),
        "--as-of", as_of, *extra,
    ]  # fmt: skip
