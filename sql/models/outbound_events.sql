-- Every event about an outbound message, with the message it belongs to: the event's own
-- tracking key, else the key its wamid links to, else its wamid (SPEC 3). Errors count when
-- they are API errors or come with a status; webhook and reply errors are not about an
-- outbound message.
create or replace temp table outbound_events as
with events as (
    select
        'template_send' as kind, key, null as message_id, null as status, null::bigint as code,
        recipient, sender, envelope_sender, path_sender, event_time, source_file, line_no
    from deduplicated_template_sends
    union all by name
    select
        'accepted' as kind, key, message_id, null as status, null::bigint as code,
        recipient, sender, envelope_sender, path_sender, event_time, source_file, line_no
    from deduplicated_accepted
    union all by name
    select
        'status' as kind, key, message_id, status, null::bigint as code,
        recipient, sender, envelope_sender, path_sender, event_time, source_file, line_no
    from deduplicated_statuses
    union all by name
    select
        source as kind, key, message_id, status, code,
        null as recipient, sender, envelope_sender, path_sender, event_time, source_file, line_no
    from deduplicated_errors
    where source in ('api_error', 'status')
),

keyed as (
    select
        events.* exclude (key),
        coalesce(events.key, message_keys.key) as key
    from events
    left join message_keys on message_keys.message_id = events.message_id
),

final as (
    select
        message_ref(key, message_id) as message_ref,
        *
    from keyed
    where message_ref(key, message_id) is not null
)

select * from final
