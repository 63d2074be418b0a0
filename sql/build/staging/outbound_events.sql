-- inputs: deduplicated_template_sends, deduplicated_accepted, deduplicated_statuses,
-- inputs: deduplicated_errors, state.manifest, message_keys
-- outputs: outbound_events
--
-- Every event about an outbound message, with the message it belongs to: the event's own
-- tracking key, else the key its wamid links to, else its wamid (contract §3). Errors count
-- when they are API errors or come with a status; webhook and reply errors are not about an
-- outbound message, nor are a payment's status and its errors (`is_message_status`). Where the event stands among the message's events ("first" is by event
-- time, then file and line) is one number, `event_order`: microseconds, then the file's rank
-- among the files, then the line, so that each "first" of a message is an `arg_min` that keeps
-- one small value (ordered aggregates kept every event's row, its file's name included, and
-- spilled to disk when memory was tight). `events` is not materialised: `with_key` reads the
-- keyless events' wamids, then every event, without holding the night's events in between.
-- A status with a `pricing` object carries it (`billable` by its flag or its type `regular`).
create or replace temp view outbound_events as
with events as not materialized (
    select
        'template_send' as kind, key, null as message_id, null as status, null::bigint as code,
        recipient, recipient_country, null as recipient_user_id, sender, envelope_sender,
        path_sender, event_time, source_file, line_no,
        {'template': template, 'language': language} as sent_template
    from deduplicated_template_sends
    union all by name
    select
        'accepted' as kind, key, message_id, null as status, null::bigint as code,
        recipient, recipient_country, recipient_user_id, sender, envelope_sender, path_sender,
        event_time, source_file, line_no
    from deduplicated_accepted
    union all by name
    select
        'status' as kind, key, message_id, status, null::bigint as code,
        recipient, recipient_country, recipient_user_id, sender, envelope_sender, path_sender,
        event_time, source_file, line_no,
        case
            when billable is not null or pricing_model is not null
                or pricing_category is not null or pricing_type is not null
                then {
                    'billable': coalesce(billable, false)
                        or coalesce(pricing_type = 'regular', false),
                    'pricing_model': pricing_model,
                    'pricing_category': pricing_category,
                    'conversation_id': conversation_id
                }
        end as pricing
    from deduplicated_statuses
    where is_message_status(status_type)
    union all by name
    select
        source as kind, key, message_id, status, code,
        null as recipient, null as recipient_user_id, sender, envelope_sender, path_sender,
        event_time, source_file, line_no
    from deduplicated_errors
    where source = 'api_error' or source = 'status' and is_message_status(status_type)
),

keyed as (
    from with_key(events)
),

files as (
    select
        uri as source_file,
        row_number() over (order by uri) as file_rank
    from state.manifest
),

final as (
    select
        message_ref(keyed.key, keyed.message_id) as message_ref,
        keyed.* exclude (source_file, line_no),
        -- 64 bits of time, 32 of file rank, 32 of line number
        (epoch_us(keyed.event_time)::hugeint << 64)
            + (files.file_rank::hugeint << 32) + keyed.line_no as event_order,
        -- a status's pricing is the first by time, then sent < delivered < read, then file
        -- and line (contract §8): two bits of the status between the time and the place
        case when keyed.pricing is not null then
            (((epoch_us(keyed.event_time)::hugeint << 2) + status_rank(keyed.status)) << 64)
                + (files.file_rank::hugeint << 32) + keyed.line_no
        end as pricing_order
    from keyed
    join files using (source_file)
    where message_ref(keyed.key, keyed.message_id) is not null
)

select * from final
