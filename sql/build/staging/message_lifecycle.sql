-- inputs: outbound_events, lifecycle_bucket, landing_accepted, landing_template_sends,
-- inputs: landing_statuses, landing_errors
-- outputs: message_lifecycle
--
-- One row per outbound message (contract §3 identity) with what its events say: wamid, recipient,
-- sender, template (of its first template send: a message with a key is that key's
-- message), and the first time of each lifecycle step (contract §4: a later status
-- implies the earlier ones, so `read` counts as delivered and sent), and its pricing: that of
-- its first status with a pricing object (contract §8, `pricing_order`). "First" is by event
-- time, then file and line: `event_order` (outbound_events). `metadata_sender` is the
-- earliest business number of the message's own events' metadata (`message_senders`).
-- A query over `lifecycle_bucket`, the outbound events of one part of the messages
-- (`outbound_buckets`): the build materialises it part by part (transforms/build/warehouse.py), each
-- part's hash aggregate small enough to stay in memory.
with events as (
    select * from lifecycle_bucket
),

lifecycle as (
    select
        message_ref,
        any_value(key) as key,
        arg_min(message_id, event_order) filter (message_id is not null) as message_id,
        -- a WhatsApp id (accepted, status) before the number the template was sent to, with
        -- its country (taken before masking: under pii=drop the country alone is left)
        arg_min(recipient, event_order + ((kind = 'template_send')::hugeint << 120))
            filter (recipient is not null) as recipient,
        arg_min(recipient_country, event_order + ((kind = 'template_send')::hugeint << 120))
            filter (coalesce(recipient, recipient_country) is not null) as recipient_country,
        arg_min(recipient_user_id, event_order) filter (recipient_user_id is not null)
            as recipient_user_id,
        arg_min(sender, event_order) filter (sender is not null) as metadata_sender,
        -- the first envelope's sender, else the first path's: one aggregate for both
        arg_min(
            coalesce(envelope_sender, path_sender),
            ((envelope_sender is null)::hugeint << 120) + event_order
        ) filter (coalesce(envelope_sender, path_sender) is not null) as other_sender,
        min(event_time) as first_event_at,
        min(event_time) filter (kind in ('accepted', 'status')) as accepted_at,
        min(event_time) filter (kind = 'status' and status in ('sent', 'delivered', 'read'))
            as sent_at,
        min(event_time) filter (kind = 'status' and status in ('delivered', 'read'))
            as delivered_at,
        min(event_time) filter (kind = 'status' and status = 'read') as read_at,
        min(event_time) filter (kind = 'status' and status = 'failed' or kind = 'api_error')
            as failed_at,
        arg_min(code, event_order) filter (code is not null) as first_error_code,
        arg_min(sent_template, event_order) filter (kind = 'template_send') as sent_template,
        arg_min(pricing, pricing_order) filter (pricing is not null) as pricing
    from events
    group by message_ref
),

final as (
    select
        lifecycle.* exclude (other_sender, sent_template, pricing),
        resolved_sender(null, lifecycle.metadata_sender, lifecycle.other_sender, null) as sender,
        lifecycle.sent_template.template,
        lifecycle.sent_template.language,
        lifecycle.pricing.pricing_model,
        lifecycle.pricing.pricing_category,
        lifecycle.pricing.conversation_id,
        coalesce(lifecycle.pricing.billable, false) as billable
    from lifecycle
)

select * from final
