"""`message_lifecycle` in parts: the outbound events written to Parquet by message
(`sql/build/staging/outbound_buckets.sql`), each part aggregated alone, so that the build's
memory is bounded by a part's, not by the night's."""

import tempfile
from pathlib import Path

import duckdb
from pydantic import ByteSize, TypeAdapter

from transforms.sql import PARTITION_FLUSH_ROWS, run_model, run_query_into, scalar, sql_text

LIFECYCLE = "build/staging/message_lifecycle"
# memory allowed per outbound event in a part of `message_lifecycle`: 1,000,000 events a part
# under the 800 MB default limit, about 230,000 messages, whose aggregate takes about 150 MB
# (300,000 messages ran out of 190 MB)
BUCKET_BYTES_PER_EVENT = 800
# every part buffers rows per thread until it writes them: fewer than the export's, or the
# parts' buffers beside the de-duplication's hash tables outgrew a 200 MB limit
BUCKET_FLUSH_ROWS = 16_384


def events_per_part(memory_limit: str) -> int:
    """How many outbound events a part of `message_lifecycle` may hold under `memory_limit`."""
    memory = TypeAdapter(ByteSize).validate_python(memory_limit)
    return max(int(memory) // BUCKET_BYTES_PER_EVENT, 1)


def build_message_lifecycle(
    connection: duckdb.DuckDBPyConnection, memory_limit: str, scratch: Path | None
) -> None:
    """`message_lifecycle`, aggregated one part of the messages at a time: about
    `events_per_part` outbound events in each part, each read as the view `lifecycle_bucket`."""
    events = scalar(connection, sql_text("build/staging/outbound_estimate"))
    buckets = max(1, -(-int(events) // events_per_part(memory_limit)))
    with tempfile.TemporaryDirectory(prefix="lifecycle-", dir=scratch) as folder:
        connection.execute(f"set partitioned_write_flush_threshold = {BUCKET_FLUSH_ROWS}")
        run_model(
            connection, "build/staging/outbound_buckets", {"target": folder, "buckets": buckets}
        )
        connection.execute(f"set partitioned_write_flush_threshold = {PARTITION_FLUSH_ROWS}")
        parts = [
            connection.read_parquet(sorted(str(file) for file in bucket.glob("*.parquet")))
            for bucket in sorted(Path(folder).iterdir())
        ]
        # no outbound events at all: the (empty) events themselves
        for index, part in enumerate(parts or [connection.view("outbound_events")]):
            part.create_view("lifecycle_bucket", replace=True)
            run_query_into(connection, LIFECYCLE, "message_lifecycle", append=index > 0)
        connection.execute("drop view lifecycle_bucket")
