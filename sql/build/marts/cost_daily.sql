-- inputs: messages, variable rebuild_days
-- outputs: cost_daily
--
-- `cost_daily` (contract §8): per message day, sender, template, market and pricing category,
-- what the messages cost and what that bought: the cost per delivered, read and replied
-- message, and the cost of the billable messages nobody read. Every count is of messages, on
-- their message day (as in `delivery_daily`), though each is priced at the rate of its
-- delivered day. A charged message without a known rate counts in `unpriced`, not in `cost`.
with priced as (
    select
        message_day as day,
        sender,
        template,
        market,
        pricing_category,
        billable,
        delivered_at is not null as is_delivered,
        read_at is not null as is_read,
        replied as is_replied,
        cost
    from messages
    where is_rebuilt_day(message_day)
),

sums as (
    select
        day,
        sender,
        template,
        market,
        pricing_category,
        count(*) as messages,
        count(*) filter (billable) as billable,
        count(*) filter (is_delivered) as delivered,
        count(*) filter (is_read) as read,
        count(*) filter (is_replied) as replied,
        count(*) filter (cost is null) as unpriced,
        coalesce(sum(cost), 0) as cost,
        coalesce(sum(cost) filter (billable and not is_read), 0) as cost_unread
    from priced
    group by day, sender, template, market, pricing_category
),

final as (
    select
        *,
        cost / nullif(delivered, 0) as cost_per_delivered,
        cost / nullif(read, 0) as cost_per_read,
        cost / nullif(replied, 0) as cost_per_reply
    from sums
)

select * from final
