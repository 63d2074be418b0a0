-- Delivery per sender and template on the newest message days, the busiest first: the
-- night's artifact shows where delivery went well or badly. `$days`: the newest days. The
-- labels of an unknown sender and a missing template are the reports' own.
with final as (
    select
        day,
        coalesce(sender, 'unknown') as sender,
        coalesce(template, '(none)') as template,
        attempted,
        delivered,
        failed,
        delivery_rate
    from delivery_daily
    where day in (select unnest($days::date[]))
    order by day desc, attempted desc, sender nulls last, template nulls last
    limit $limit
)

select * from final
