-- inputs: message_lifecycle, attributed_replies, variable as_of, variable report_missing_hours
-- outputs: messages
--
-- contract §5 `messages`: one row per outbound message with its lifecycle and outcomes (contract §4).
-- All of a message's outcomes count on its message day, however late they arrive.
with lifecycle as (
    select * from message_lifecycle
),

reply_outcomes as (
    select
        message_ref,
        min(reply_at) as first_reply_at
    from attributed_replies
    group by message_ref
),

final as (
    select
        lifecycle.* exclude (message_ref, metadata_sender),
        lifecycle.first_event_at::date as message_day,
        case
            when lifecycle.read_at is not null then 'read'
            when lifecycle.delivered_at is not null then 'delivered'
            when lifecycle.failed_at is not null then 'failed'
            when lifecycle.sent_at is not null then 'sent'
            when lifecycle.accepted_at is not null then 'accepted'
            else 'attempted'
        end as final_status,
        reply_outcomes.message_ref is not null as replied,
        reply_outcomes.first_reply_at,
        is_report_missing(lifecycle.sent_at, lifecycle.delivered_at, lifecycle.failed_at)
            as report_missing
    from lifecycle
    left join reply_outcomes using (message_ref)
)

select * from final
