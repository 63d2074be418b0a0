-- The most frequent error codes of the newest days, over all senders and templates.
with newest_days as (
    select distinct day from delivery_daily order by day desc limit $days
),

final as (
    select
        code,
        arg_max(title, events) as title,
        any_value(category) as category,
        sum(events) as events,
        sum(messages) as messages
    from error_breakdown
    where day in (select day from newest_days)
    group by code
    order by events desc, code
    limit $limit
)

select * from final
