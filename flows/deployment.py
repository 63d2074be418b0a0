"""The nightly flow as the scheduled deployment runs it (`prefect.yaml`): a night that fails
(a storage outage, a run still holding the lock) is tried again later. A night can be run any
number of times: it reads only what is new and publishes in one step."""

from flows.nightly import nightly

RETRIES = 2
RETRY_DELAY_SECONDS = 15 * 60

scheduled_nightly = nightly.with_options(retries=RETRIES, retry_delay_seconds=RETRY_DELAY_SECONDS)
