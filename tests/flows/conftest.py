"""A Prefect server for the flow tests, started once on 127.0.0.1 and stopped after them."""

from collections.abc import Iterator

import pytest
from prefect.testing.utilities import prefect_test_harness


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    with prefect_test_harness(server_startup_timeout=None):
        yield
