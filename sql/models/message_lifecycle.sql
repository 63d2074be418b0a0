-- One row per outbound message (SPEC 3 identity) with what its events say: wamid, recipient,
-- sender, template, and the first time of each lifecycle step (SPEC 4: a later status
-- implies the earlier ones, so `read` counts as delivered and sent).
create or replace temp table message_lifecycle as
with events as (
    select * from outbound_events
),

template_of_key as (
    select
        key,
        first(template order by event_time, source_file, line_no) as template,
        first(language order by event_time, source_file, line_no) as language
    from template_sends
    where key is not null
    group by key
),

lifecycle as (
    select
        message_ref,
        any_value(key) as key,
        first(message_id order by event_time, source_file, line_no)
            filter (message_id is not null) as message_id,
        -- a WhatsApp id (accepted, status) before the number the template was sent to
        first(recipient order by kind = 'template_send', event_time, source_file, line_no)
            filter (recipient is not null) as recipient,
        first(envelope_sender order by event_time, source_file, line_no)
            filter (envelope_sender is not null) as envelope_sender,
        first(path_sender order by event_time, source_file, line_no)
            filter (path_sender is not null) as path_sender,
        min(event_time) as first_event_at,
        min(event_time) filter (kind in ('accepted', 'status')) as accepted_at,
        min(event_time) filter (kind = 'status' and status in ('sent', 'delivered', 'read'))
            as sent_at,
        min(event_time) filter (kind = 'status' and status in ('delivered', 'read'))
            as delivered_at,
        min(event_time) filter (kind = 'status' and status = 'read') as read_at,
        min(event_time) filter (kind = 'status' and status = 'failed' or kind = 'api_error')
            as failed_at,
        first(code order by event_time, source_file, line_no)
            filter (code is not null) as first_error_code
    from events
    group by message_ref
),

final as (
    select
        lifecycle.* exclude (envelope_sender, path_sender),
        resolved_sender(
            null, message_senders.sender, lifecycle.envelope_sender, lifecycle.path_sender
        ) as sender,
        template_of_key.template,
        template_of_key.language
    from lifecycle
    left join message_senders using (message_ref)
    left join template_of_key using (key)
)

select * from final
