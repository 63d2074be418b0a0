-- One row per outbound message (SPEC 3 identity) with what its events say: wamid, recipient,
-- sender, template, and the first time of each lifecycle step (SPEC 4: a later status
-- implies the earlier ones, so `read` counts as delivered and sent). "First" is by event
-- time, then file and line: `event_order` (outbound_events). `metadata_sender` is the
-- earliest business number of the message's own events' metadata (`message_senders`).
-- Each value is an aggregate over the message's events as a window (partition by message),
-- not a GROUP BY: a hash aggregate keeps every message's texts (wamid, numbers) in memory
-- it cannot spill, and ran out of memory under the limit; the window sorts and spills.
create or replace temp table message_lifecycle as
with events as (
    select * from outbound_events
),

template_of_key as (
    -- the same rows as the table `template_sends` (an update's are just its messages')
    select
        key,
        template,
        language
    from deduplicated_template_sends
    where key is not null
    qualify row_number() over (partition by key order by event_time, source_file, line_no) = 1
),

lifecycle as (
    select
        message_ref,
        any_value(key) over message as key,
        arg_min(message_id, event_order) filter (message_id is not null) over message
            as message_id,
        -- a WhatsApp id (accepted, status) before the number the template was sent to
        arg_min(recipient, event_order + ((kind = 'template_send')::hugeint << 120))
            filter (recipient is not null) over message as recipient,
        arg_min(sender, event_order) filter (sender is not null) over message as metadata_sender,
        -- the first envelope's sender, else the first path's: one aggregate for both
        arg_min(
            coalesce(envelope_sender, path_sender),
            ((envelope_sender is null)::hugeint << 120) + event_order
        ) filter (coalesce(envelope_sender, path_sender) is not null) over message
            as other_sender,
        min(event_time) over message as first_event_at,
        min(event_time) filter (kind in ('accepted', 'status')) over message as accepted_at,
        min(event_time) filter (kind = 'status' and status in ('sent', 'delivered', 'read'))
            over message as sent_at,
        min(event_time) filter (kind = 'status' and status in ('delivered', 'read'))
            over message as delivered_at,
        min(event_time) filter (kind = 'status' and status = 'read') over message as read_at,
        min(event_time) filter (kind = 'status' and status = 'failed' or kind = 'api_error')
            over message as failed_at,
        arg_min(code, event_order) filter (code is not null) over message as first_error_code
    from events
    window message as (partition by message_ref)
    qualify row_number() over message = 1
),

final as (
    select
        lifecycle.* exclude (other_sender),
        resolved_sender(null, lifecycle.metadata_sender, lifecycle.other_sender, null) as sender,
        template_of_key.template,
        template_of_key.language
    from lifecycle
    left join template_of_key using (key)
)

select * from final
