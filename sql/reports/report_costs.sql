-- What the report's days (from $since) cost per sender, template, market and pricing
-- category (contract §8: list rates), and what that bought; the costliest first.
with summed as (
    select
        coalesce(sender, 'unknown') as sender,
        coalesce(template, '(none)') as template,
        coalesce(market, '(no country)') as market,
        coalesce(pricing_category, '(no pricing)') as pricing_category,
        sum(messages)::bigint as messages,
        sum(billable)::bigint as billable,
        sum(delivered)::bigint as delivered,
        sum(read)::bigint as read,
        sum(replied)::bigint as replied,
        sum(unpriced)::bigint as unpriced,
        sum(cost) as cost,
        sum(cost_unread) as cost_unread
    from cost_daily
    where day >= $since
    group by all
),

final as (
    select
        *,
        cost / nullif(delivered, 0) as cost_per_delivered,
        cost / nullif(read, 0) as cost_per_read,
        cost / nullif(replied, 0) as cost_per_reply
    from summed
)

select * from final
order by cost desc, messages desc, sender, template, market, pricing_category
