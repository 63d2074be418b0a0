-- reads: error, errors, entry.changes.field, entry.changes.value.metadata, entry.changes.value.errors, entry.changes.value.statuses.id, entry.changes.value.statuses.status, entry.changes.value.statuses.type, entry.changes.value.statuses.timestamp, entry.changes.value.statuses.errors, entry.changes.value.messages.id, entry.changes.value.messages.timestamp, entry.changes.value.messages.errors, statuses.id, statuses.status, statuses.type, statuses.timestamp, statuses.errors, messages.id, messages.from, messages.timestamp, messages.errors, key, timestamp
-- payload: error, errors, entry.changes.value.errors, entry.changes.value.statuses.errors, entry.changes.value.messages.errors, statuses.errors, messages.errors
-- keys: error, errors
-- Landing rows of `errors`, from all four sources (contract §2): API errors (a Cloud `error`
-- object or On-Premise `errors[]`), the errors of statuses and of replies, and webhook errors
-- (entry[].changes[].value.errors[]; an element without a code, a Flows alert, is none), of
-- changes of the field `messages` only. API and webhook errors are checked against the
-- ErrorObject model here; status and reply errors with their status or message (statuses.sql,
-- replies.sql, accepted.sql). Each error element is kept whole as JSON. Category, rate-limit
-- and retryable come from the catalogue in the build. Each row is unique on the identity of
-- its event and its place in it.
create or replace temp table chunk_errors as
-- `unwrapped` is read by five sources: materialised once, it is planned in half the time
-- (DuckDB's CTE inlining took more than the query itself on a batch's few error lines).
with unwrapped as materialized (
    select
        ordinal,
        line,
        coalesce(payload.error, body.error, error) as api_error,
        coalesce(raw.payload.error, raw.body.error, raw.error) as raw_api_error,
        coalesce(payload.errors, body.errors, errors) as api_errors,
        coalesce(raw.payload.errors, raw.body.errors, raw.errors) as raw_api_errors,
        coalesce(payload.entry, body.entry, entry) as entries,
        coalesce(raw.payload.entry, raw.body.entry, raw.entry) as raw_entries,
        coalesce(payload.statuses, body.statuses, statuses) as bare_statuses,
        coalesce(raw.payload.statuses, raw.body.statuses, raw.statuses) as raw_bare_statuses,
        coalesce(payload.messages, body.messages, messages) as top_messages,
        coalesce(raw.payload.messages, raw.body.messages, raw.messages) as raw_top_messages
    from batch_lines($batch_path, $read_columns, $raw_columns, true, $maximum_object_size)
),

changes as (
    from message_changes('unwrapped')
),

reports as (
    select
        ordinal,
        line,
        change.value.metadata as metadata,
        (entry_index * 1000 + change_index) * 1000000 as seq_base,
        item as report,
        raw_item as raw_report,
        item_index
    from change_items('changes', 'statuses')
    union all by name
    select
        ordinal,
        line,
        unnest(bare_statuses) as report,
        unnest(raw_bare_statuses) as raw_report,
        generate_subscripts(bare_statuses, 1) as item_index
    from unwrapped
    where bare_statuses is not null
),

messages as (
    select
        ordinal,
        line,
        change.value.metadata as metadata,
        (entry_index * 1000 + change_index) * 1000000 as seq_base,
        item as message,
        raw_item as raw_message,
        item_index
    from change_items('changes', 'messages')
    union all by name
    select
        ordinal,
        line,
        unnest(top_messages) as message,
        unnest(raw_top_messages) as raw_message,
        generate_subscripts(top_messages, 1) as item_index
    from unwrapped
    where top_messages is not null and entries is null
),

cloud_api_errors as (
    select
        ordinal,
        line,
        'api_error' as source,
        api_error as error,
        raw_api_error as raw_error,
        true as checked,
        1 as error_index,
        [md5(to_json(api_error))] as identity
    from unwrapped
    where api_error is not null
),

on_premise_api_errors as (
    select
        ordinal,
        line,
        'api_error' as source,
        unnest(api_errors) as error,
        unnest(raw_api_errors) as raw_error,
        true as checked,
        generate_subscripts(api_errors, 1) as error_index,
        [md5(to_json(api_errors))] as identity
    from unwrapped
    where api_errors is not null
),

status_errors as (
    select
        ordinal,
        line,
        'status' as source,
        metadata,
        report.id as message_id,
        report.status as status,
        report.type as status_type,
        unix_time(report.timestamp) as payload_time,
        unnest(report.errors) as error,
        unnest(raw_report.errors) as raw_error,
        false as checked,
        coalesce(seq_base, 0) + item_index * 1000 as seq_base,
        generate_subscripts(report.errors, 1) as error_index,
        [report.id, report.status, integer_code(report.timestamp)::varchar] as identity
    from reports
    where report.errors is not null
),

reply_errors as (
    select
        ordinal,
        line,
        'reply' as source,
        metadata,
        message.id as message_id,
        unix_time(message.timestamp) as payload_time,
        unnest(message.errors) as error,
        unnest(raw_message.errors) as raw_error,
        false as checked,
        coalesce(seq_base, 0) + item_index * 1000 as seq_base,
        generate_subscripts(message.errors, 1) as error_index,
        [message.id] as identity
    from messages
    where message.errors is not null and (metadata is not null or message."from" is not null)
),

webhook_errors as (
    select
        ordinal,
        line,
        'webhook' as source,
        change.value.metadata as metadata,
        item as error,
        raw_item as raw_error,
        true as checked,
        (entry_index * 1000 + change_index) * 1000000 as seq_base,
        item_index as error_index,
        [
            md5(to_json(change.value.errors)),
            entry_index::varchar,
            change_index::varchar
        ] as identity
    from change_items('changes', 'errors')
),

all_errors as (
    select * from cloud_api_errors
    union all by name select * from on_premise_api_errors
    union all by name select * from status_errors
    union all by name select * from reply_errors
    -- a Flows alert ({error_type, error_count}) has no code: it is no error
    union all by name select * from webhook_errors where error.code is not null
),

flat as (
    select
        ordinal,
        line,
        coalesce(seq_base, 0) + error_index as seq,
        not checked or valid_error_object(error) as is_valid,
        source,
        message_id,
        digits(metadata.display_phone_number) as sender,
        integer_code(error.code) as code,
        coalesce(error.title, without_code_prefix(error.message)) as title,
        error.message as message,
        coalesce(error.error_data.details, error.details) as details,
        error.type as type,
        error.fbtrace_id as fbtrace_id,
        error.href as href,
        integer_code(error.error_subcode) as error_subcode,
        status,
        status_type,
        kept_payload(raw_error, masked_error_object(error)) as payload_json,
        payload_time,
        list_concat([source], identity, [error_index::varchar]) as identity
    from all_errors
    where error is not null
),

final as (
    select
        flat.* exclude (payload_time, identity, is_valid, line),
        flat.line.key,
        resolved_event_time(
            coalesce(flat.payload_time, flat.line.line_time),
            flat.line.received_at,
            origin.path_time,
            origin.file_time
        ) as event,
        flat.is_valid and flat.line.is_valid as is_valid,
        dedupe_text(list_concat([flat.line.key], flat.identity)) as dedupe_key,
        origin.source_file,
        origin.line_no,
        origin.ingested_at,
        flat.line.envelope_sender,
        origin.path_sender
    from flat
    join line_origins as origin using (ordinal)
)

select
    * exclude (event),
    event.time as event_time,
    event.source as event_time_source
from final
