-- reads: key, timestamp
-- One row per non-blank line of the batch: where it is (file and line), its tracking key and
-- timestamp (for events with no timestamp of their own), its envelope's time and sender, and
-- whether these line-level fields are valid. Every other pass joins this table.
create or replace temp table lines as
with typed as (
    select * from batch_lines($batch_path, $read_columns, $maximum_object_size)
),

unwrapped as (
    select
        ordinal,
        coalesce(payload.key, body.key, key) as key,
        coalesce(payload.timestamp, body.timestamp, timestamp) as timestamp,
        received_at,
        sender
    from typed
),

located as (
    select
        unwrapped.*,
        line_numbers.file_index,
        line_numbers.line_no,
        batch_files.* exclude (file_index)
    from unwrapped
    join line_numbers using (ordinal)
    join batch_files using (file_index)
),

final as (
    select
        ordinal,
        file_index,
        line_no,
        source_file,
        ingested_at,
        path_time,
        path_sender,
        file_time,
        nullif(key, '') as key,
        unix_time(timestamp) as line_time,
        envelope_time(received_at) as received_at,
        digits(sender) as envelope_sender,
        (timestamp is null or wire_unix_seconds(timestamp))
            and (
                received_at is null
                or wire_instant(received_at) and envelope_time(received_at) is not null
            ) as is_valid
    from located
)

select * from final
