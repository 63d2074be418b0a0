-- within: build/staging/message_lifecycle
-- inputs: outbound_events
-- outputs:
--
-- `outbound_events` written to Parquet under $target in $buckets parts by message (a hash of
-- its `message_ref`, one folder `bucket=N` each), so that `message_lifecycle` aggregates one
-- part at a time: one hash aggregate over every message keeps all their texts in memory,
-- which DuckDB cannot spill (it ran out of memory on a 4 GB night), and a window over them
-- all sorts every event (51 s there; by parts, 14 s).
copy (
    select
        *,
        hash(message_ref) % $buckets as bucket
    from outbound_events
) to $target (format parquet, compression snappy, partition_by (bucket))
