-- Delivery per sender and template on the newest message days, the busiest first: the
-- night's artifact shows where delivery went well or badly.
with newest_days as (
    select distinct day from delivery_daily order by day desc limit $days
),

final as (
    select
        day,
        sender,
        template,
        attempted,
        delivered,
        failed,
        delivery_rate
    from delivery_daily
    where day in (select day from newest_days)
    order by day desc, attempted desc, sender, template
    limit $limit
)

select * from final
