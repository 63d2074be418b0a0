-- Delivery per sender and template on the newest message days, the busiest first: the
-- night's artifact shows where delivery went well or badly. `$days`: the newest days.
with final as (
    select
        day,
        sender,
        template,
        attempted,
        delivered,
        failed,
        delivery_rate
    from delivery_daily
    where day in (select unnest($days::date[]))
    order by day desc, attempted desc, sender, template
    limit $limit
)

select * from final
