-- inputs: messages, variable rebuild_days
-- outputs: delivery_daily
--
-- `delivery_daily` (contract §5): per message day, sender and template, how many messages
-- reached each outcome (contract §4), the rates between them and the time to deliver. A message
-- whose sender or template is unknown counts under NULL (labels are the reports' business).
-- `cost` sums the messages' known costs (contract §8; `cost_daily` counts the unpriced).
with outcomes as (
    select
        message_day as day,
        sender,
        template,
        accepted_at is not null as is_accepted,
        sent_at is not null as is_sent,
        delivered_at is not null as is_delivered,
        read_at is not null as is_read,
        failed_at is not null as is_failed,
        replied as is_replied,
        report_missing as is_report_missing,
        epoch(delivered_at - sent_at) as delivery_s,
        billable as is_billable,
        cost
    from messages
    where is_rebuilt_day(message_day)
),

counts as (
    select
        day,
        sender,
        template,
        count(*) as attempted,
        count(*) filter (is_accepted) as accepted,
        count(*) filter (is_sent) as sent,
        count(*) filter (is_delivered) as delivered,
        count(*) filter (is_read) as read,
        count(*) filter (is_failed) as failed,
        count(*) filter (is_replied) as replied,
        count(*) filter (is_report_missing) as report_missing,
        quantile_cont(delivery_s, 0.5) as p50_delivery_s,
        quantile_cont(delivery_s, 0.95) as p95_delivery_s,
        count(*) filter (is_billable) as billable,
        coalesce(sum(cost), 0) as cost
    from outcomes
    group by day, sender, template
),

final as (
    select
        *,
        delivered / nullif(sent, 0) as delivery_rate,
        read / nullif(delivered, 0) as read_rate,
        failed / nullif(attempted, 0) as failure_rate,
        replied / nullif(delivered, 0) as reply_rate
    from counts
)

select * from final
