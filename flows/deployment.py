"""The nightly flow as the scheduled deployment runs it (`prefect.yaml`): a night that fails for
a reason that may pass (the storage down, files unreadable, another run or program holding the
warehouse) is tried again later, twice; one that fails for a lasting reason (a wrong path or
setting, a refused credential, a full disk) fails at once, for the operator to see. A night
can be run any number of times: it reads only what is new and publishes in one step."""

import time
from datetime import datetime
from pathlib import Path

from prefect import flow, get_run_logger

from flows.errors import is_transient, one_line
from flows.nightly import night_run, thread_pool
from flows.settings import SAMPLE_EXPORT, SAMPLE_SOURCE, SAMPLE_WAREHOUSE, Tuning
from flows.summary import RunSummary
from transforms.ingest.personal import PiiMode

RETRIES = 2
RETRY_DELAY_SECONDS = 15 * 60


@flow(name="nightly", task_runner=thread_pool(Tuning().workers))
def scheduled_nightly(
    source: str = SAMPLE_SOURCE,
    warehouse: Path = SAMPLE_WAREHOUSE,
    export: str | Path = SAMPLE_EXPORT,
    as_of: datetime | None = None,
    full_refresh: bool = False,
    allow_unreadable: bool = False,
    aws_credentials: str | None = None,
    pii: PiiMode = "keep",
    pii_key_secret: str | None = None,
    tuning: Tuning | None = None,
    rate_card: Path | None = None,
    markets: Path | None = None,
    retry_delay_seconds: float = RETRY_DELAY_SECONDS,
) -> RunSummary:
    """The nightly flow (see `flows.nightly.nightly`), tried again `RETRIES` times,
    `retry_delay_seconds` apart, when it fails for a reason that may pass."""
    for attempt in range(RETRIES + 1):
        try:
            return night_run(
                source,
                warehouse,
                export,
                as_of,
                full_refresh,
                allow_unreadable,
                aws_credentials,
                pii,
                pii_key_secret,
                tuning or Tuning(),
                rate_card=rate_card,
                markets=markets,
            )
        except Exception as error:
            if attempt == RETRIES or not is_transient(error):
                raise
            get_run_logger().warning(
                "the night failed (%s); it is tried again in %.0f s",
                one_line(error),
                retry_delay_seconds,
            )
            time.sleep(retry_delay_seconds)
    raise AssertionError("unreachable: the last attempt returns or raises")
