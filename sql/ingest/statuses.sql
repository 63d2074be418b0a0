-- reads: entry.changes.field, entry.changes.value.metadata, entry.changes.value.contacts, entry.changes.value.statuses, statuses, key, timestamp
-- payload: entry.changes.value.statuses, statuses
-- keys: statuses
-- Landing rows of `statuses`: one per status report, over every entry x change x status of a
-- Cloud webhook (changes of the field `messages` only) and every status of a bare On-Premise
-- body, each checked against the Status model and kept whole as JSON, with the recipient's
-- business-scoped user id (the status's own, else its contact's); unique on
-- (message_id, status, timestamp).
create or replace temp table chunk_statuses as
with unwrapped as (
    select
        ordinal,
        line,
        coalesce(payload.entry, body.entry, entry) as entries,
        coalesce(raw.payload.entry, raw.body.entry, raw.entry) as raw_entries,
        coalesce(payload.statuses, body.statuses, statuses) as bare_statuses,
        coalesce(raw.payload.statuses, raw.body.statuses, raw.statuses) as raw_bare_statuses
    from batch_lines($batch_path, $read_columns, $raw_columns, true, $maximum_object_size)
),

changes as (
    from message_changes('unwrapped')
),

cloud as (
    select
        ordinal,
        line,
        'cloud' as api,
        change.value.metadata as metadata,
        change.value.contacts as contacts,
        entry_index,
        change_index,
        item as report,
        raw_item as raw_report,
        item_index
    from change_items('changes', 'statuses')
),

on_premise as (
    select
        ordinal,
        line,
        'on_premise' as api,
        0 as entry_index,
        0 as change_index,
        unnest(bare_statuses) as report,
        unnest(raw_bare_statuses) as raw_report,
        generate_subscripts(bare_statuses, 1) as item_index
    from unwrapped
    where bare_statuses is not null
),

reports as (
    select * from cloud
    union all by name
    select * from on_premise
),

flat as (
    select
        ordinal,
        line,
        (entry_index * 1000 + change_index) * 1000000 + item_index as seq,
        valid_status(report) as is_valid,
        report.id as message_id,
        report.status as status,
        report.type as status_type,
        digits(metadata.display_phone_number) as sender,
        metadata.phone_number_id as phone_number_id,
        digits(report.recipient_id) as recipient,
        phone_country(digits(report.recipient_id)) as recipient_country,
        -- the contact at the status's position, else the last one
        coalesce(
            report.recipient_user_id, contacts[least(item_index, len(contacts))].user_id
        ) as recipient_user_id,
        coalesce(
            report.recipient_parent_user_id,
            contacts[least(item_index, len(contacts))].parent_user_id
        ) as parent_user_id,
        report.recipient_type as recipient_type,
        report.conversation.id as conversation_id,
        report.conversation.origin.type as conversation_origin,
        unix_time(report.conversation.expiration_timestamp) as conversation_expires_at,
        true_or_false(report.pricing.billable) as billable,
        report.pricing.pricing_model as pricing_model,
        report.pricing.category as pricing_category,
        report.pricing.type as pricing_type,
        report.biz_opaque_callback_data as biz_opaque_callback_data,
        coalesce(len(list_filter(report.errors, lambda error: error is not null)), 0)
            as error_count,
        api,
        kept_payload(raw_report, masked_status(report)) as payload_json,
        unix_time(report.timestamp) as payload_time,
        dedupe_text([report.id, report.status, integer_code(report.timestamp)::varchar])
            as dedupe_key
    from reports
    where report is not null
),

final as (
    select
        flat.* exclude (payload_time, is_valid, line),
        flat.line.key,
        resolved_event_time(
            flat.payload_time,
            flat.line.received_at,
            origin.path_time,
            origin.file_time
        ) as event,
        flat.is_valid and flat.line.is_valid as is_valid,
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
